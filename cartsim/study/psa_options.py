"""The PSA's results per structural option (``psa_options.csv``) and each choice's EVPPI.

A scenario's ``[[structural]]`` choices put one option in each draw; the overall PSA
(``psa_summary``) is then the model-averaged result, every option in the share of
draws its weight gives it. This table sets beside it the same summary over the draws
of each option alone: what the answer would be if that option were known to be right.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from cartsim.analysis.psa import summarise_psa
from cartsim.analysis.voi import evppi_discrete
from cartsim.study.run_tables import ICER_NOTE
from cartsim.table import Table, wtp_key

if TYPE_CHECKING:
    from cartsim.study.psa import PsaResult

AVERAGED = "model-averaged"
"""The option column of the rows over all draws (the overall PSA)."""


def options_table(res: PsaResult) -> Table:
    """Per structural choice and option (and model-averaged): increments of each strategy
    over the comparator, ICER, INMB and P(cost-effective) at each WTP, and the draws."""
    run = res.scenario.run
    comp = res.strategies.index(run.comparator)
    costs, qalys = res.matrix("cost"), res.matrix("qaly")
    wtp_cols = [c for lam in run.wtp for c in (f"inmb_{wtp_key(lam)}", f"p_ce_{wtp_key(lam)}")]
    columns = ("choice", "option", "weight", "draws", "share", "strategy", "inc_cost",
               "inc_qaly", "icer", "icer_status", *wtp_cols)
    rows: list[tuple[object, ...]] = []
    for choice in res.scenario.structural:
        taken = np.array(res.draws.options.get(choice.key, ()), dtype=object)
        groups = [(o.name, o.weight, taken == o.name) for o in choice.options]
        groups.append((AVERAGED, 1.0, np.ones(len(res.results), dtype=bool)))
        for option, weight, rows_of in groups:
            n = int(rows_of.sum())
            for i, s in enumerate(res.strategies):
                if i == comp:
                    continue
                head = (choice.key, option, weight, n, n / max(len(res.results), 1), s)
                if n == 0:
                    rows.append((*head, None, None, None, "no draws", *[None] * len(wtp_cols)))
                    continue
                summ = summarise_psa(costs[rows_of], qalys[rows_of], res.strategies, comp,
                                     run.wtp)
                icer = summ.icer[i]
                cells: list[object] = [float(summ.delta_cost.mean[i]),
                                       float(summ.delta_effect.mean[i]),
                                       icer.value if icer else None,
                                       icer.status if icer else "undefined"]
                for w in range(len(run.wtp)):
                    cells += [float(summ.inmb[w, i]), float(summ.prob_ce[w, i])]
                rows.append((*head, *cells))
    formats = {c: "money" for c in columns if c.startswith(("inc_cost", "icer", "inmb"))}
    formats.update({"inc_qaly": "qaly", "weight": "prob", "share": "prob", "draws": "int",
                    "icer_status": "text", "choice": "text", "option": "text"})
    formats.update({c: "prob" for c in columns if c.startswith("p_ce")})
    return Table("psa_options", "PSA results per structural option and model-averaged",
                 columns, tuple(rows),
                 ("One block per [[structural]] choice of the scenario: each option's rows "
                  "summarise the draws that took it (as if that option were known to be "
                  "right); the model-averaged rows summarise every draw, each option in "
                  "proportion to its weight, and equal psa_summary.",
                  "weight: the option's declared probability; share: the share of draws "
                  "that took it (within about 2 x sqrt(w(1 - w)/draws) of the weight).",
                  ICER_NOTE, "The ICER is the ratio of mean differences; p_ce_<wtp>: share "
                  "of the option's draws in which the strategy has the highest net benefit."),
                 formats)


def structural_inputs_table(res: PsaResult) -> Table:
    """Every structural choice as declared: rationale, options, weights and the parameters
    each option sets (value, distribution, source)."""
    rows: list[tuple[object, ...]] = []
    for c in res.scenario.structural:
        for o in c.options:
            own = o.parameters.items() or [(None, None)]
            for name, p in own:
                rows.append((c.key, o.name, o.weight, name,
                             None if p is None else p.value,
                             None if p is None or p.distribution is None
                             else p.distribution.describe(),
                             "the scenario's own value" if p is None else p.source,
                             c.rationale))
    return Table("structural", "Structural choices drawn in the PSA",
                 ("choice", "option", "weight", "parameter", "value", "distribution", "source",
                  "rationale"), tuple(rows),
                 ("Each PSA draw takes one option of each choice with probability = its "
                  "weight; the option's parameters replace the scenario's in that draw (value "
                  "in model units; an option without parameters keeps the scenario's own). The "
                  "deterministic base case uses the scenario's own values.",),
                 {"weight": "prob", "parameter": "text", "value": "float",
                  "distribution": "text", "source": "text", "rationale": "text"})


def structural_evppi(res: PsaResult) -> dict[str, np.ndarray]:
    """EVPPI of each structural choice (the conditional-mean estimator for a discrete
    input, :func:`cartsim.analysis.voi.evppi_discrete`), by its dotted key."""
    out = {}
    for choice in res.scenario.structural:
        taken = res.draws.options.get(choice.key, ())
        if len(taken) == len(res.results) and len(set(taken)) > 1:
            out[choice.key] = evppi_discrete(res.matrix("cost"), res.matrix("qaly"),
                                             res.scenario.run.wtp, taken)
        elif len(taken) == len(res.results):
            out[choice.key] = np.zeros(len(res.scenario.run.wtp))
    return out
