"""The tables of `cartsim psa`: draws, summary, CEAC/CEAF, EVPI, EVPPI, variance split."""

from __future__ import annotations

import numpy as np

from cartsim.analysis.psa import ceac, ceaf, evpi, summarise_psa, variance_split
from cartsim.analysis.voi import evppi_by_parameter
from cartsim.psa import PsaResult
from cartsim.report.run_tables import ICER_NOTE, wtp_key
from cartsim.report.tables import Table

QUANTILE_NOTE = ("low/high: 2.5% and 97.5% empirical quantiles of the draws (numpy 'linear', "
                 "Hyndman-Fan type 7).")


def wtp_grid(wtp: tuple[float, ...]) -> np.ndarray:
    """The scenario's WTP values plus 41 evenly spaced points from 0 to twice the largest."""
    top = 2.0 * max(wtp) if wtp else 200_000.0
    return np.unique(np.r_[np.linspace(0.0, top, 41), np.asarray(wtp, dtype=float)])


def draws_table(res: PsaResult) -> Table:
    names = [n for n, p in res.scenario.parameters.items() if p.distribution is not None]
    outcome_cols = [f"{m}_{s}" for s in res.strategies for m in ("cost", "qaly", "ly")]
    columns = ("draw", *outcome_cols, *names)
    mats = {m: res.matrix(m) for m in ("cost", "qaly", "ly")}
    rows = []
    for j, r in enumerate(res.results):
        row: list[object] = [r.draw]
        row += [float(mats[m][j, i]) for i in range(len(res.strategies))
                for m in ("cost", "qaly", "ly")]
        row += [float(res.draws.values[n][j]) for n in names]
        rows.append(tuple(row))
    return Table("psa", "PSA draws: per-draw mean outcomes and parameter values", columns,
                 tuple(rows), ("One row per draw; parameters in model units (per year, "
                               "years, currency). Only parameters with a distribution vary.",))


def summary_table(res: PsaResult) -> Table:
    run = res.scenario.run
    comp = res.strategies.index(run.comparator)
    summ = summarise_psa(res.matrix("cost"), res.matrix("qaly"), res.strategies, comp, run.wtp)
    wtp_cols = [c for lam in run.wtp for c in (f"inmb_{wtp_key(lam)}", f"p_ce_{wtp_key(lam)}")]
    columns = ("strategy", "draws", "cost", "cost_low", "cost_high", "qaly", "qaly_low",
               "qaly_high", "inc_cost", "inc_cost_low", "inc_cost_high", "inc_qaly",
               "inc_qaly_low", "inc_qaly_high", "icer", "icer_status", *wtp_cols)
    rows = []
    for i, s in enumerate(res.strategies):
        row: list[object] = [s, summ.n_draws, float(summ.cost.mean[i]),
                             *map(float, summ.cost.interval[i]), float(summ.effect.mean[i]),
                             *map(float, summ.effect.interval[i])]
        if i == comp:
            row += [None] * 6 + [None, "comparator"]
        else:
            icer = summ.icer[i]
            row += [float(summ.delta_cost.mean[i]), *map(float, summ.delta_cost.interval[i]),
                    float(summ.delta_effect.mean[i]), *map(float, summ.delta_effect.interval[i]),
                    icer.value if icer else None, icer.status if icer else "undefined"]
        for w in range(len(run.wtp)):
            row += [None if i == comp else float(summ.inmb[w, i]), float(summ.prob_ce[w, i])]
        rows.append(tuple(row))
    formats = {c: "money" for c in columns if c.startswith(("cost", "inc_cost", "icer", "inmb"))}
    formats.update({c: "qaly" for c in columns if "qaly" in c})
    formats.update({c: "prob" for c in columns if c.startswith("p_ce")})
    formats.update({"icer_status": "text", "draws": "int"})
    return Table("psa_summary", "PSA summary (means over draws)", columns, tuple(rows),
                 (QUANTILE_NOTE, ICER_NOTE, "The ICER is the ratio of mean differences; "
                  "p_ce_<wtp>: share of draws in which the strategy has the highest net benefit."),
                 formats)


def ceac_table(res: PsaResult, grid: np.ndarray) -> Table:
    costs, qalys = res.matrix("cost"), res.matrix("qaly")
    probs = ceac(costs, qalys, grid)
    best, _ = ceaf(costs, qalys, grid)
    rows = [(float(lam), s, float(probs[w, i]), bool(best[w] == i))
            for w, lam in enumerate(grid) for i, s in enumerate(res.strategies)]
    return Table("ceac", "Cost-effectiveness acceptability curves and frontier", (
        "wtp", "strategy", "probability_cost_effective", "on_frontier"), tuple(rows),
        ("on_frontier: the strategy with the highest expected net benefit at that WTP (the "
         "CEAF). Ties in a draw go to the strategy listed first.",),
        {"wtp": "money", "probability_cost_effective": "prob", "on_frontier": "text"})


def evpi_table(res: PsaResult, grid: np.ndarray) -> Table:
    values = evpi(res.matrix("cost"), res.matrix("qaly"), grid)
    rows = [(float(lam), float(v)) for lam, v in zip(grid, values, strict=True)]
    return Table("evpi", "Expected value of perfect information per patient", (
        "wtp", "evpi_per_patient"), tuple(rows),
        ("EVPI = E[max over strategies of net benefit] - max over strategies of E[net benefit],"
         " from the PSA draws; per patient, in the reported currency.",),
        {"wtp": "money", "evpi_per_patient": "money"})


def evppi_table(res: PsaResult) -> Table:
    run = res.scenario.run
    draws = {n: res.draws.values[n] for n, p in res.scenario.parameters.items()
             if p.distribution is not None and np.ptp(res.draws.values[n]) > 0}
    columns = ("parameter", *[f"evppi_{wtp_key(lam)}" for lam in run.wtp])
    rows: list[tuple[object, ...]] = []
    if len(res.results) >= 20 and draws:
        values = evppi_by_parameter(res.matrix("cost"), res.matrix("qaly"), run.wtp, draws)
        ranked = sorted(values.items(), key=lambda kv: -float(kv[1][-1]))
        rows = [(name, *map(float, v)) for name, v in ranked]
    return Table("evppi", "Expected value of partial perfect information per patient", columns,
                 tuple(rows), ("Regression-based EVPPI (penalised spline on each parameter's "
                               "draws, Strong et al. 2014), per patient, sorted by the last WTP;"
                               " needs at least 20 draws.",),
                 dict.fromkeys(columns[1:], "money"))


def variance_table(res: PsaResult) -> Table:
    qalys, within = res.matrix("qaly"), res.within_variance()
    rows = []
    if len(res.results) >= 2:
        for i, s in enumerate(res.strategies):
            v = variance_split(qalys[:, i], within[:, i], res.patients)
            rows.append((s, v["total"], v["first_order"], v["second_order"], v["share_first"],
                         bool(v["warn"])))
    return Table("variance", "Variance of mean QALYs: patient (first-order) vs parameter "
                 "(second-order) uncertainty", ("strategy", "total", "first_order",
                                                "second_order", "share_first", "warning"),
                 tuple(rows), ("O'Hagan, Stevenson & Madan (2007): first_order = mean "
                               "within-draw variance / patients per draw. warning = true when "
                               "more than 10% of the variance is patient noise: raise --patients.",),
                 {"share_first": "prob", "warning": "text"})


def psa_tables(res: PsaResult) -> list[Table]:
    grid = wtp_grid(res.scenario.run.wtp)
    return [summary_table(res), draws_table(res), ceac_table(res, grid), evpi_table(res, grid),
            evppi_table(res), variance_table(res)]
