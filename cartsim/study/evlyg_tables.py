"""The summary table's evLYG and net-health-benefit cells of a run.

The arithmetic is :mod:`cartsim.analysis.evlyg`; here the run's cohort curves (sums
over patients) become means per patient and each strategy is set against the
comparator.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from cartsim.analysis.cea import compute_icer, estimate_mean
from cartsim.analysis.deterministic import Increment
from cartsim.analysis.evlyg import EVLYG_UTILITY, equal_value_life_years, net_health_benefit
from cartsim.study.result import RunResult
from cartsim.table import wtp_key

EVLYG_COLUMNS = ("evly", "inc_evlyg", "icer_evlyg")
EVLYG_NOTE = (
    f"evly: equal-value life-years per patient (ICER 2023 Value Assessment Framework): QALYs, "
    f"with every discounted life-year the strategy adds over the comparator weighted "
    f"{EVLYG_UTILITY} (US general-population utility) instead of the utility lived in it, "
    "computed on the cohort curves (quarterly, then yearly). inc_evlyg: evly minus the "
    "comparator's QALYs; icer_evlyg: inc_cost / inc_evlyg (ICER's cost per evLYG). "
    "nhb_<wtp>: net health benefit inc_qaly - inc_cost / wtp, in QALYs (inmb / wtp), with its "
    "MCSE.")


def nhb_columns(wtp: Sequence[float]) -> list[str]:
    return [c for lam in wtp for c in (f"nhb_{wtp_key(lam)}", f"nhb_{wtp_key(lam)}_mcse")]


def equal_value(result: RunResult) -> dict[str, float]:
    """Each strategy's equal-value life-years per patient ({} without curves); the
    comparator's are its QALYs."""
    if result.curves is None:
        return {}
    comparator = result.scenario.run.comparator
    n = max(result.cohort.n, 1)
    ref = result.curves[comparator]
    out = {}
    for s, c in result.curves.items():
        qaly = estimate_mean(result.outcomes[s].columns["qaly"]).mean
        if c.ly is None or c.qaly_state is None or ref.ly is None:
            continue
        out[s] = qaly if s == comparator else equal_value_life_years(
            qaly, c.ly / n, c.qaly_state / n, ref.ly / n)
    return out


def evlyg_cells(evly: Mapping[str, float], strategy: str, comparator: str,
                inc_cost: float) -> list[object]:
    """``inc_evlyg`` and ``icer_evlyg`` of one strategy (None without curves)."""
    if strategy not in evly or comparator not in evly:
        return [None, None, None]
    gained = evly[strategy] - evly[comparator]
    icer = compute_icer(inc_cost, gained)
    return [evly[strategy], gained, icer.value]


def nhb_cells(inc: Increment, wtp: Sequence[float]) -> list[object]:
    out: list[object] = []
    for lam in wtp:
        if lam > 0.0:
            se = inc.inmb[lam].se
            out += [net_health_benefit(inc.measures["qaly"].mean, inc.measures["cost"].mean,
                                       lam), se / lam if se is not None else None]
        else:
            out += [None, None]
    return out
