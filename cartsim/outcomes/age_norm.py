"""QALYs of sojourns with utilities adjusted for age (``Valuation.utility_age_norm``).

At model time t a state of utility u accrues u x m(t) per year, with
m(t) = norm[sex][floor(age0 + t)] / norm[sex][floor(age0)] (ages beyond the
table use its last value): a step function of age that is exactly 1 at entry.
Consecutive ages with the same norm form one band, so a sojourn is split only
where the multiplier really changes; on model time a band starts at
``first_age - age0``. Each piece of a sojourn is integrated exactly with
continuous discounting, like any sojourn (``discounted_duration``), so a norm
that never changes gives exactly the unadjusted QALYs.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from cartsim.outcomes.discounting import discounted_duration


def norm_bands(values: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(first age, norm) of each run of equal norms.

    >>> [a.tolist() for a in norm_bands((0.9, 0.9, 0.8))]
    [[0.0, 2.0], [0.9, 0.8]]
    """
    starts = [0] + [k for k in range(1, len(values)) if values[k] != values[k - 1]]
    return np.array(starts, dtype=np.float64), np.array([values[k] for k in starts])


def adjusted_sojourns(norm: Mapping[str, tuple[float, ...]], age0: np.ndarray,
                      female: np.ndarray, start: np.ndarray, end: np.ndarray,
                      utility: np.ndarray, rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Discounted (at ``rate``) and undiscounted QALYs of each sojourn [start, end).

    ``age0`` and ``female`` are the sojourn's patient's entry age and sex,
    ``utility`` its state's utility.
    """
    disc = np.zeros(start.size)
    undisc = np.zeros(start.size)
    for sex, is_female in (("female", True), ("male", False)):
        rows = np.flatnonzero(female == is_female)
        if rows.size == 0:
            continue
        first_age, value = norm_bands(norm[sex])
        a0, s0, s1 = age0[rows], start[rows], end[rows]
        # Band j covers [first_age[j] - a0, first_age[j+1] - a0) on the model clock;
        # count the band starts at or before each time (one pass per band: no
        # sojourns x bands matrix).
        base = np.full(rows.size, -1)
        lo_band = np.full(rows.size, -1)
        hi_band = np.full(rows.size, -1)
        for edge in first_age:
            at = edge - a0
            base += at <= 0.0
            lo_band += at <= s0
            hi_band += at < s1
        hi_band = np.maximum(hi_band, lo_band)
        count = hi_band - lo_band + 1
        piece_row = np.repeat(np.arange(rows.size), count)
        offset = np.arange(piece_row.size) - np.repeat(np.cumsum(count) - count, count)
        band = lo_band[piece_row] + offset
        pa0 = a0[piece_row]
        upper = np.append(first_age, np.inf)
        a = np.where(offset == 0, s0[piece_row], first_age[band] - pa0)
        b = np.where(band == hi_band[piece_row], s1[piece_row], upper[band + 1] - pa0)
        per_year = utility[rows][piece_row] * (value[band] / value[base[piece_row]])
        disc[rows] = np.bincount(piece_row, weights=per_year * discounted_duration(a, b, rate),
                                 minlength=rows.size)
        undisc[rows] = np.bincount(piece_row, weights=per_year * (b - a), minlength=rows.size)
    return disc, undisc
