"""The tables of `cartsim psa`: draws, summary, CEAC/CEAF, EVPI, EVPPI, variance split."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from cartsim.analysis.base_vs_psa import compare_base_with_psa
from cartsim.analysis.psa import (
    ceac,
    ceaf,
    evpi,
    population_evpi,
    summarise_psa,
    variance_split,
)
from cartsim.analysis.voi import NEGLIGIBLE, JobMap, evppi_by_parameter
from cartsim.study.parallel import local_map
from cartsim.study.psa_curve_tables import curve_tables
from cartsim.study.psa_options import options_table, structural_evppi, structural_inputs_table
from cartsim.study.run_tables import ICER_NOTE
from cartsim.table import Table, wtp_key

if TYPE_CHECKING:
    from cartsim.study.psa import Population, PsaResult

QUANTILE_NOTE = ("low/high: 2.5% and 97.5% empirical quantiles of the draws (numpy 'linear', "
                 "Hyndman-Fan type 7).")


def wtp_grid(wtp: tuple[float, ...]) -> np.ndarray:
    """The scenario's WTP values plus 41 evenly spaced points from 0 to twice the largest."""
    top = 2.0 * max(wtp) if wtp else 200_000.0
    return np.unique(np.r_[np.linspace(0.0, top, 41), np.asarray(wtp, dtype=float)])


def varied_names(res: PsaResult) -> list[str]:
    """Parameters with a distribution or drawn jointly, in scenario order."""
    drawn = set(res.draws.random)
    return [n for n, p in res.scenario.parameters.items()
            if p.distribution is not None or n in drawn]


def option_column(key: str, res: PsaResult) -> str:
    """psa.csv's column of a structural choice: its dotted key, or ``<key>.option`` when
    the key is a parameter (whose column holds the drawn value)."""
    return f"{key}.option" if key in res.scenario.parameters else key


MARKDOWN_DRAWS = 10
"""Draws psa.md shows (psa.csv has them all)."""


def draws_table(res: PsaResult) -> Table:
    names = varied_names(res)
    keys = [c.key for c in res.scenario.structural]
    option_cols = [option_column(c.key, res) for c in res.scenario.structural]
    outcome_cols = [f"{m}_{s}" for s in res.strategies for m in ("cost", "qaly", "ly")]
    var_cols = [f"qaly_var_{s}" for s in res.strategies]
    columns = ("draw", *outcome_cols, *var_cols, *names, *option_cols)
    mats = {m: res.matrix(m) for m in ("cost", "qaly", "ly")}
    within = res.within_variance()
    rows = []
    for j, r in enumerate(res.results):
        row: list[object] = [r.draw]
        row += [float(mats[m][j, i]) for i in range(len(res.strategies))
                for m in ("cost", "qaly", "ly")]
        row += [float(v) for v in within[j]]
        row += [float(res.draws.values[n][j]) for n in names]
        row += [res.draws.options[key][j] for key in keys]
        rows.append(tuple(row))
    structural = (("The last columns, one per [[structural]] choice and named by its dotted "
                   "key, hold the option the draw took (<key>.option when the key is a "
                   "parameter, whose own column holds its value); a parameter an option "
                   "sets holds that option's value in the draws that took it.",)
                  if keys else ())
    # The Markdown shows the first draws only: a thousand rows of a hundred columns are
    # read in the CSV, not as text (and formatting them was a fifth of a PSA's time).
    shown = tuple(range(min(MARKDOWN_DRAWS, len(rows))))
    more = (f"The Markdown shows the first {len(shown)} of {len(rows):,} draws; psa.csv has "
            "every draw.",) if len(shown) < len(rows) else ()
    return Table("psa", "PSA draws: per-draw mean outcomes and parameter values", columns,
                 tuple(rows), (*more, *structural,
                               "One row per draw; parameters in model units (per year, "
                               "years, currency). Only parameters with a distribution vary.",
                               "qaly_var_<strategy>: the variance (ddof = 1) of discounted "
                               "QALYs between the draw's patients, the first-order part of "
                               "the variance table (divided by patients per draw).",),
                 markdown_rows=shown)


def summary_table(res: PsaResult) -> Table:
    run = res.scenario.run
    comp = res.strategies.index(run.comparator)
    summ = summarise_psa(res.matrix("cost"), res.matrix("qaly"), res.strategies, comp, run.wtp)
    wtp_cols = [c for lam in run.wtp for c in (f"inmb_{wtp_key(lam)}", f"p_ce_{wtp_key(lam)}")]
    columns = ("strategy", "draws", "cost", "cost_low", "cost_high", "qaly", "qaly_low",
               "qaly_high", "inc_cost", "inc_cost_low", "inc_cost_high", "inc_qaly",
               "inc_qaly_low", "inc_qaly_high", "icer", "icer_status", *wtp_cols,
               *[f"nhb_{wtp_key(lam)}" for lam in run.wtp])
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
        row += [None if i == comp or lam <= 0.0 else float(summ.inmb[w, i]) / lam
                for w, lam in enumerate(run.wtp)]
        rows.append(tuple(row))
    columns, rows, notes = _with_base_case(res, comp, columns, rows)
    formats = {c: "money" for c in columns
               if c.startswith(("cost", "inc_cost", "icer", "inmb", "base_cost", "base_inc_cost"))}
    formats.update({c: "qaly" for c in columns if "qaly" in c or c.startswith("nhb_")})
    formats.update({"base_vs_psa": "text"})
    formats.update({c: "prob" for c in columns if c.startswith("p_ce")})
    formats.update({"icer_status": "text", "draws": "int"})
    return Table("psa_summary", "PSA summary (means over draws)", columns, tuple(rows),
                 (QUANTILE_NOTE, ICER_NOTE, "The ICER is the ratio of mean differences; "
                  "p_ce_<wtp>: share of draws in which the strategy has the highest net benefit. "
                  "nhb_<wtp>: net health benefit inmb_<wtp> / wtp (QALYs).",
                  *notes), formats)


def _with_base_case(res: PsaResult, comp: int, columns: tuple[str, ...],
                    rows: list[tuple[object, ...]]
                    ) -> tuple[tuple[str, ...], list[tuple[object, ...]], tuple[str, ...]]:
    """Add the deterministic base case beside the probabilistic means (when run)."""
    if res.base is None:
        return columns, rows, ()
    base_cost = [res.base.means[s]["cost"] for s in res.strategies]
    base_qaly = [res.base.means[s]["qaly"] for s in res.strategies]
    words = {c.strategy: c for c in compare_base_with_psa(
        base_cost, base_qaly, res.matrix("cost"), res.matrix("qaly"), res.strategies, comp,
        res.scenario.run.wtp)}
    out = []
    for i, (s, row) in enumerate(zip(res.strategies, rows, strict=True)):
        c = words.get(s)
        out.append((*row, base_cost[i], base_qaly[i], c.base_inc_cost if c else None,
                    c.base_inc_qaly if c else None, c.verdict if c else "comparator"))
    note = ("base_*: the deterministic base case (every parameter at its point value, the "
            "random numbers of draw 0, the same patients per draw); base_vs_psa says in words "
            "whether it and the PSA means disagree in the sign of an increment or in the "
            "decision (INMB > 0) at a willingness to pay.",)
    return (*columns, "base_cost", "base_qaly", "base_inc_cost", "base_inc_qaly",
            "base_vs_psa"), out, note


def ceac_table(res: PsaResult, grid: np.ndarray) -> Table:
    costs, qalys = res.matrix("cost"), res.matrix("qaly")
    comparator = res.strategies.index(res.scenario.run.comparator)
    probs = ceac(costs, qalys, grid, prefer=comparator)
    best, _ = ceaf(costs, qalys, grid, prefer=comparator)
    rows = [(float(lam), s, float(probs[w, i]), bool(best[w] == i))
            for w, lam in enumerate(grid) for i, s in enumerate(res.strategies)]
    return Table("ceac", "Cost-effectiveness acceptability curves and frontier", (
        "wtp", "strategy", "probability_cost_effective", "on_frontier"), tuple(rows),
        ("on_frontier: the strategy with the highest expected net benefit at that WTP (the "
         "CEAF). Ties (equal net benefit) go to the comparator: a strategy must do strictly "
         "better to count as cost-effective.",),
        {"wtp": "money", "probability_cost_effective": "prob", "on_frontier": "text"})


def evpi_table(res: PsaResult, grid: np.ndarray, population: Population | None = None
               ) -> Table:
    values = evpi(res.matrix("cost"), res.matrix("qaly"), grid)
    columns: tuple[str, ...] = ("wtp", "evpi_per_patient")
    notes: tuple[str, ...]
    notes = ("EVPI = E[max over strategies of net benefit] - max over strategies of E[net "
             "benefit], from the PSA draws; per patient, in the reported currency.",)
    rows: list[tuple[float, ...]] = [(float(lam), float(v))
                                     for lam, v in zip(grid, values, strict=True)]
    if population is not None:
        scaled = population_evpi(values, population.patients, population.years or 1.0,
                                 population.discount if population.years else 0.0)
        rows = [(*row, float(v)) for row, v in zip(rows, scaled, strict=True)]
        columns += ("evpi_population",)
        notes += (population.describe(),)
    title = "Expected value of perfect information per patient" + (
        " and in the population" if population is not None else "")
    return Table("evpi", title, columns, tuple(rows), notes, dict.fromkeys(columns, "money"))


def evppi_table(res: PsaResult, map_jobs: JobMap | None = None) -> Table:
    run = res.scenario.run
    draws = {n: res.draws.values[n] for n in varied_names(res)
             if np.ptp(res.draws.values[n]) > 0}
    columns = ("parameter", *[f"evppi_{wtp_key(lam)}" for lam in run.wtp], "negligible")
    rows: list[tuple[object, ...]] = []
    if len(res.results) >= 20 and (draws or res.scenario.structural):
        values = evppi_by_parameter(res.matrix("cost"), res.matrix("qaly"), run.wtp, draws,
                                    map_jobs=map_jobs) if draws else {}
        values.update({option_column(k, res): v for k, v in structural_evppi(res).items()})
        # Largest value at any WTP first; equal rows (zeros, mostly) by name, so the
        # order never rests on rounding.
        ranked = sorted(values.items(), key=lambda kv: (-float(np.max(kv[1])), kv[0]))
        rows = [(name, *map(float, v), bool(np.all(v == 0.0))) for name, v in ranked]
    return Table("evppi", "Expected value of partial perfect information per patient", columns,
                 tuple(rows), ("Regression-based EVPPI (penalised spline on each parameter's "
                               "draws, Strong et al. 2014), per patient, largest value at any "
                               "WTP first (ties by name); needs at least 20 draws. A "
                               "structural choice (a row named by its dotted key) is a "
                               "discrete input: its EVPPI is the conditional-mean estimate "
                               "E_c[max_d E(NB_d | c)] - max_d E(NB_d) over the draws of "
                               "each option, exact up to Monte Carlo error.",
                               f"0 = below {NEGLIGIBLE:g} x the EVPI at that WTP: the "
                               "parameter never changes the decision in the regression, and "
                               "what remains is floating-point noise. negligible = true when "
                               "that holds at every WTP."),
                 {**dict.fromkeys(columns[1:-1], "money"), "negligible": "text"})


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
                               "more than 10% of the variance is patient noise: raise "
                               "--patients.",),
                 {"share_first": "prob", "warning": "text"})


def correlation_check_table(res: PsaResult) -> Table:
    """Declared vs achieved rank correlations of correlated parameters in these draws."""
    rows = []
    for c in res.scenario.joint.correlations:
        a, b = res.draws.values[c.first], res.draws.values[c.second]
        achieved = spearman(a, b) if a.size >= 3 else None
        rows.append((c.first, c.second, c.rho, 6.0 / np.pi * np.arcsin(c.rho / 2.0),
                     achieved, a.size))
    return Table("psa_correlations", "Correlated parameters: declared and achieved",
                 ("parameter_a", "parameter_b", "rho", "spearman_expected",
                  "spearman_in_draws", "draws"), tuple(rows),
                 ("rho: declared correlation of the normal scores (Gaussian copula); "
                  "spearman_expected = (6/pi) asin(rho/2); spearman_in_draws: the rank "
                  "correlation of the drawn values (NA below 3 draws), which scatters around "
                  "the expected one by about 1/sqrt(draws).",),
                 {"rho": "float", "spearman_expected": "float", "spearman_in_draws": "float",
                  "draws": "int"})


def spearman(a: np.ndarray, b: np.ndarray) -> float | None:
    """Spearman's rank correlation (average ranks for ties); None if either is constant."""
    from scipy import stats  # slow to import; only joint draws need it

    ra, rb = (stats.rankdata(x) for x in (a, b))
    if np.ptp(ra) == 0 or np.ptp(rb) == 0:
        return None
    return float(np.corrcoef(ra, rb)[0, 1])


def psa_tables(res: PsaResult, population: Population | None = None, workers: int = 1
               ) -> list[Table]:
    """Every table of a PSA; ``workers`` local processes share the EVPPI fits (the same
    tables for any number)."""
    grid = wtp_grid(res.scenario.run.wtp)
    joint = [correlation_check_table(res)] if res.scenario.joint.correlations else []
    evppi = evppi_table(res, local_map(workers) if workers > 1 else None)
    options = [options_table(res)] if res.scenario.structural else []
    inputs = [structural_inputs_table(res)] if res.scenario.structural else []
    return [summary_table(res), *options, draws_table(res), ceac_table(res, grid),
            evpi_table(res, grid, population), evppi, variance_table(res), *joint,
            *inputs, *curve_tables(res, grid, evppi)]
