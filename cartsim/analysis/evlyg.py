"""ICER's equal-value life-years gained (evLYG) and the net health benefit.

The **evLYG** (ICER, 2023 Value Assessment Framework; the same measure since the
2020-2023 framework, "Cost-effectiveness, the QALY, and the evLYG") counts every
year of life a treatment adds at the same value, whatever the patient's health in
it: a life-year gained over the comparator is weighted 0.851, the average utility
of the US general population, while quality-of-life gains in the years both arms
live are counted as in the QALY. ICER's price benchmarks are set per QALY *and*
per evLYG at $100,000-$150,000 (shared evidence, UPDATE-2026.md section 2.3,
"Thresholds"). Computed on cohort curves, as ICER does in its cohort models: in
each interval k of the curve grid, the strategy's discounted person-years ``L_k``
above the comparator's ``L°_k`` are re-valued from the strategy's mean utility of
the living ``Q_k / L_k`` to 0.851::

    evLY = QALY + sum_k max(L_k - L°_k, 0) (0.851 - Q_k / L_k)
    evLYG = evLY - QALY°

A strategy that shortens life, or gains none, has evLYG = its QALY increment.

The **net health benefit** at willingness to pay λ is ΔQALY − Δcost / λ (in QALYs;
INMB / λ). All functions are pure: arrays in, numbers out.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

EVLYG_UTILITY = 0.851
"""The weight of a life-year gained: the US general population's average utility
(ICER Value Assessment Framework 2023; ICER's evLYG methods)."""


def _intervals(cumulative: ArrayLike) -> np.ndarray:
    c = np.asarray(cumulative, dtype=float)
    return np.diff(c, prepend=0.0)


def equal_value_life_years(qaly: float, ly: ArrayLike, qaly_state: ArrayLike,
                           ly_comparator: ArrayLike,
                           utility: float = EVLYG_UTILITY) -> float:
    """A strategy's equal-value life-years per patient.

    ``ly``, ``qaly_state`` and ``ly_comparator`` are cumulative discounted life-years
    (and state-utility QALYs) per patient at the same grid times; ``qaly`` is the
    strategy's discounted QALYs per patient (every loss included).

    >>> equal_value_life_years(7.0, [10.0], [7.0], [8.0])   # 2 LY gained at 0.7
    7.302
    >>> equal_value_life_years(5.0, [6.0], [5.0], [8.0])    # shorter life: unchanged
    5.0
    """
    dl, dq = _intervals(ly), _intervals(qaly_state)
    dl_ref = _intervals(ly_comparator)
    if not dl.shape == dq.shape == dl_ref.shape:
        msg = f"curves differ in length: {dl.size}, {dq.size}, {dl_ref.size}"
        raise ValueError(msg)
    gained = np.maximum(dl - dl_ref, 0.0)
    mean_utility = np.divide(dq, dl, out=np.zeros_like(dq), where=dl > 0.0)
    return qaly + math.fsum((gained * (utility - mean_utility)).tolist())


def net_health_benefit(inc_qaly: float, inc_cost: float, wtp: float) -> float:
    """ΔQALY − Δcost / λ: QALYs gained net of the QALYs the spending would buy elsewhere.

    >>> net_health_benefit(1.5, 100_000.0, 100_000.0)
    0.5
    """
    if not wtp > 0.0:
        msg = f"willingness to pay must be > 0 for a net health benefit; got {wtp}"
        raise ValueError(msg)
    return inc_qaly - inc_cost / wtp
