"""Budget impact arithmetic (ISPOR 2014 good practice; Sullivan SD et al., Value Health
2014;17:5-14): eligible patients, patients newly treated each year, and the yearly spend
of those patients under the current and the new mix of strategies. Pure: arrays in,
arrays out.

Patients newly treated in year y (1-based) number ``T_y = eligible x uptake_y``. A
patient treated in year y costs, in calendar year Y >= y, the strategy's mean
undiscounted cost per patient who started it in year ``Y - y`` since the start (the
simulation's yearly cost curve, the dead costing nothing). So the spend in year Y is
the convolution ``B_Y = sum_{y <= Y} T_y c_{Y - y}``. The *current* world gives those
patients the comparator; the *new* world splits them between the new strategies by the
mix; the budget impact is new minus current. Budgets are undiscounted (ISPOR).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def eligible_patients(population: float, prevalence_per_100k: float, refractory_share: float,
                      eligible_share: float) -> float:
    """Population x prevalence x refractory share x eligible share.

    >>> eligible_patients(1_000_000, 72.8, 0.1, 0.5)
    36.4
    """
    return population * prevalence_per_100k / 100_000.0 * refractory_share * eligible_share


def newly_treated(eligible: float, uptake: ArrayLike) -> np.ndarray:
    """Patients newly treated in each year: ``eligible x uptake_y``.

    >>> newly_treated(200.0, [0.1, 0.2]).tolist()
    [20.0, 40.0]
    """
    return eligible * np.asarray(uptake, dtype=float)


def yearly_spend(treated: ArrayLike, curve: ArrayLike) -> np.ndarray:
    """Spend in each calendar year of patients treated as ``treated`` (years 1..Y), each
    costing ``curve[k]`` in year k since treatment (rows; further axes, such as cost
    categories, are kept). Years beyond the curve cost nothing.

    >>> yearly_spend([10.0, 20.0], [100.0, 5.0]).tolist()
    [1000.0, 2050.0]
    """
    t = np.asarray(treated, dtype=float)
    c = np.asarray(curve, dtype=float)
    years = t.size
    padded = np.zeros((years, *c.shape[1:]))
    k = min(years, c.shape[0])
    padded[:k] = c[:k]
    out = np.zeros((years, *c.shape[1:]))
    for y in range(years):           # patients treated in year y + 1
        out[y:] += t[y] * padded[:years - y]
    return out


def per_member_per_month(amount: ArrayLike, members: float) -> np.ndarray:
    """A yearly amount spread over a plan's members and 12 months.

    >>> per_member_per_month([1_200_000.0], 100_000).tolist()
    [1.0]
    """
    if not members > 0:
        msg = f"members must be > 0; got {members}"
        raise ValueError(msg)
    return np.asarray(amount, dtype=float) / (members * 12.0)
