"""The PSA tables behind the value-of-information and convergence plots: expected
incremental net benefit against WTP with its interval (``inmb_curve``), EVPPI as a
share of EVPI (``info_rank``) and the running mean of INMB by draw with its Monte
Carlo standard error (``psa_convergence``).

Every number a plot shows is here, so the report only draws: it computes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from cartsim.analysis.psa import evpi
from cartsim.table import Table

if TYPE_CHECKING:
    from cartsim.study.psa import PsaResult

Z95 = 1.959963984540054
"""The 97.5% point of the standard normal: mean +/- Z95 x MCSE is a 95% interval."""


def _increments(res: PsaResult) -> tuple[int, list[tuple[str, np.ndarray, np.ndarray]]]:
    """The comparator's index and, per other strategy, its per-draw incremental cost and
    QALYs against the comparator."""
    costs, qalys = res.matrix("cost"), res.matrix("qaly")
    comp = res.strategies.index(res.scenario.run.comparator)
    return comp, [(s, costs[:, i] - costs[:, comp], qalys[:, i] - qalys[:, comp])
                  for i, s in enumerate(res.strategies) if i != comp]


def inmb_curve_table(res: PsaResult, grid: np.ndarray) -> Table:
    """Expected INMB per patient at each WTP of the grid, with the 2.5%/97.5% quantiles
    of the draws' INMB (parameter uncertainty)."""
    _, pairs = _increments(res)
    comparator = res.scenario.run.comparator
    rows = []
    for s, dc, dq in pairs:
        for lam in grid:
            inmb = float(lam) * dq - dc
            low, high = np.quantile(inmb, [0.025, 0.975]) if inmb.size else (np.nan, np.nan)
            rows.append((s, comparator, float(lam), float(np.mean(inmb)), float(low),
                         float(high), float(np.mean(inmb > 0.0))))
    columns = ("strategy", "comparator", "wtp", "expected_inmb", "inmb_low", "inmb_high",
               "share_positive")
    return Table("inmb_curve", "Expected incremental net monetary benefit against WTP",
                 columns, tuple(rows),
                 ("expected_inmb: mean over the draws of wtp x inc_qaly - inc_cost per "
                  "patient (discounted); inmb_low/inmb_high: its 2.5% and 97.5% quantiles "
                  "over the draws (numpy 'linear'); share_positive: the share of draws with "
                  "INMB > 0.",),
                 {"wtp": "money", "expected_inmb": "money", "inmb_low": "money",
                  "inmb_high": "money", "share_positive": "prob"})


def info_rank_table(res: PsaResult, evppi: Table) -> Table:
    """Each parameter's EVPPI as a share of the EVPI at each of the scenario's WTPs, in
    the EVPPI table's order (largest first)."""
    wtp = res.scenario.run.wtp
    values = evpi(res.matrix("cost"), res.matrix("qaly"), wtp)
    rows = []
    for row in evppi.rows:
        for j, (lam, total) in enumerate(zip(wtp, values, strict=True)):
            part = float(row[1 + j])  # type: ignore[arg-type]
            share = part / float(total) if total > 0 else None
            rows.append((row[0], float(lam), part, float(total), share))
    return Table("info_rank", "EVPPI as a share of EVPI (information-rank)",
                 ("parameter", "wtp", "evppi", "evpi", "share_of_evpi"), tuple(rows),
                 ("share_of_evpi = evppi / evpi at that WTP (per patient); NA where the EVPI "
                  "is 0 (no uncertainty about the decision). Parameters in the order of "
                  "evppi.csv.",),
                 {"wtp": "money", "evppi": "money", "evpi": "money", "share_of_evpi": "prob"})


def convergence_table(res: PsaResult) -> Table:
    """The running mean of INMB over the first k draws, k = 1..draws, at each of the
    scenario's WTPs, with its Monte Carlo standard error and 95% band."""
    _, pairs = _increments(res)
    rows: list[tuple[object, ...]] = []
    for s, dc, dq in pairs:
        k = np.arange(1, dc.size + 1, dtype=float)
        for lam in res.scenario.run.wtp:
            inmb = lam * dq - dc
            mean = np.cumsum(inmb) / k
            # Running sums about the overall mean, so that s2 - s1^2/k does not cancel.
            shifted = inmb - inmb.mean() if inmb.size else inmb
            s1, s2 = np.cumsum(shifted), np.cumsum(shifted * shifted)
            var = np.where(k > 1, (s2 - s1 * s1 / k) / np.maximum(k - 1, 1), np.nan)
            mcse = np.sqrt(np.maximum(var, 0.0) / k)
            for j in range(dc.size):
                se = None if j == 0 else float(mcse[j])
                rows.append((s, float(lam), j + 1, float(mean[j]), se,
                             None if se is None else float(mean[j]) - Z95 * se,
                             None if se is None else float(mean[j]) + Z95 * se))
    return Table("psa_convergence", "Convergence of the PSA: running mean of INMB by draw",
                 ("strategy", "wtp", "draws", "mean_inmb", "mcse", "band_low", "band_high"),
                 tuple(rows),
                 ("mean_inmb: mean INMB per patient over the first `draws` draws; mcse: its "
                  "Monte Carlo standard error, sd (ddof = 1) / sqrt(draws), NA for one draw; "
                  "band: mean_inmb +/- 1.96 x mcse. The curve should flatten inside a band "
                  "narrow enough for the decision.",),
                 {"wtp": "money", "draws": "int", "mean_inmb": "money", "mcse": "money",
                  "band_low": "money", "band_high": "money"}, markdown=False)


def curve_tables(res: PsaResult, grid: np.ndarray, evppi: Table) -> list[Table]:
    """The three tables, for :func:`cartsim.study.psa_tables.psa_tables`."""
    if not res.results:
        return []
    return [inmb_curve_table(res, grid), info_rank_table(res, evppi), convergence_table(res)]
