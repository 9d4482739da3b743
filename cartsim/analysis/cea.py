"""Cost-effectiveness summaries: ICERs, net monetary benefit, Monte Carlo
error, the efficiency frontier, break-even time and numbers needed to treat.

Every function is pure: numbers or arrays in, numbers or arrays out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

ICER_STATUSES = (
    "more costly, more effective",
    "less costly, less effective",
    "dominant",
    "dominated",
    "undefined",
)


@dataclass(frozen=True)
class IcerResult:
    """An ICER and the quadrant it comes from; ``value`` is None if not meaningful."""

    value: float | None
    status: str


def _finite(name: str, x: float) -> float:
    x = float(x)
    if not math.isfinite(x):
        raise ValueError(f"{name} must be finite; got {x!r}")
    return x


def compute_icer(delta_cost: float, delta_qaly: float) -> IcerResult:
    """Incremental cost-effectiveness ratio of a new strategy versus a reference.

    Rules, with dC = ``delta_cost`` and dQ = ``delta_qaly`` (new minus reference):

    - dQ > 0, dC > 0: value dC/dQ, "more costly, more effective".
    - dQ > 0, dC <= 0: None, "dominant" (equal cost with a QALY gain dominates).
    - dQ < 0, dC >= 0: None, "dominated".
    - dQ < 0, dC < 0: value dC/dQ (positive: savings per QALY lost),
      "less costly, less effective".
    - dQ == 0 exactly (either sign of zero): None, "undefined", whatever dC is.
    - If dC/dQ overflows the float range (dQ tiny next to dC) the ratio is not
      representable, so the result is None, "undefined": never inf or nan.

    Raises
    ------
    ValueError
        If either input is not finite.

    Examples
    --------
    >>> compute_icer(30_000.0, 1.5)
    IcerResult(value=20000.0, status='more costly, more effective')
    >>> compute_icer(-10.0, 2.0).status
    'dominant'
    """
    dc = _finite("delta_cost", delta_cost)
    dq = _finite("delta_qaly", delta_qaly)
    if dq == 0.0:
        return IcerResult(None, "undefined")
    if dq > 0.0 and dc <= 0.0:
        return IcerResult(None, "dominant")
    if dq < 0.0 and dc >= 0.0:
        return IcerResult(None, "dominated")
    ratio = dc / dq
    if not math.isfinite(ratio):
        return IcerResult(None, "undefined")
    status = (
        "more costly, more effective" if dq > 0.0 else "less costly, less effective"
    )
    return IcerResult(ratio, status)


def _benefit(effect: ArrayLike, cost: ArrayLike, wtp: ArrayLike) -> np.ndarray:
    e = np.asarray(effect, dtype=float)
    c = np.asarray(cost, dtype=float)
    w = np.asarray(wtp, dtype=float)
    if w.ndim == 1:
        # A 1-D wtp is a list of thresholds: give it its own trailing axis so a
        # per-patient array and a threshold grid never broadcast against each other.
        return np.asarray(e[..., np.newaxis] * w - c[..., np.newaxis])
    return np.asarray(w * e - c)


def net_monetary_benefit(
    qaly: ArrayLike, cost: ArrayLike, wtp: ArrayLike
) -> np.ndarray:
    """Net monetary benefit ``wtp * qaly - cost``.

    Shape rule: when ``wtp`` is 1-D the output shape is
    ``np.broadcast_shapes(np.shape(qaly), np.shape(cost)) + (len(wtp),)``
    (one trailing column per threshold); otherwise plain numpy broadcasting of
    the three inputs. Scalar inputs give a 0-d array.

    Examples
    --------
    >>> net_monetary_benefit([1.0, 2.0], [10.0, 20.0], [0.0, 100.0]).tolist()
    [[-10.0, 90.0], [-20.0, 180.0]]
    """
    return _benefit(qaly, cost, wtp)


def incremental_nmb(
    delta_qaly: ArrayLike, delta_cost: ArrayLike, wtp: ArrayLike
) -> np.ndarray:
    """Incremental net monetary benefit ``wtp * dQ - dC``; same shape rule as
    :func:`net_monetary_benefit`. Positive means the new strategy is cost-effective
    at that threshold.

    Examples
    --------
    >>> incremental_nmb(3.0, 274_444.44, 100_000.0).round(2)
    np.float64(25555.56)
    """
    return _benefit(delta_qaly, delta_cost, wtp)


def _vector(name: str, values: ArrayLike) -> np.ndarray:
    x = np.asarray(values, dtype=float)
    if x.ndim != 1:
        raise ValueError(f"{name} must be 1-D; got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} must be finite")
    return x


_FSUM_KEEPS_NEGATIVE_ZERO = math.copysign(1.0, math.fsum([-0.0])) < 0.0
"""Whether this Python's fsum of -0.0 values is -0.0 (it was 0.0 before 3.12)."""
def _fmean(x: np.ndarray) -> float:
    # The sum is exactly rounded (as math.fsum's), so the mean does not depend on
    # element order: the same bits however a run was chunked or its patients ordered.
    return _exact_sum(x) / x.size


def _exact_sum(x: np.ndarray) -> float:
    """``math.fsum(x)``, the exactly rounded sum of finite values, in numpy passes.

    Rump, Ogita and Oishi's extraction (SIAM J Sci Comput 31, 2008): with sigma a
    power of two at least 2n max|x|, ``q = (sigma + x) - sigma`` and ``x - q`` are
    exact, every q is a multiple of ulp(sigma)/2 and every partial sum of the q's stays
    below sigma, so numpy adds them exactly in any order. Repeating on the remainders
    (about 53 - log2(2n) bits a pass) splits the sum into a few exact float sums,
    which fsum adds with one rounding.
    """
    n = x.size
    extra = n.bit_length() + 1  # 2**extra >= 2n
    levels: list[float] = []
    rest = x
    while True:
        biggest = float(np.max(np.abs(rest), initial=0.0))
        if biggest == 0.0:
            break
        exponent = math.frexp(biggest)[1] + extra  # biggest < 2**(exponent - extra)
        if exponent > 1000:  # sigma would overflow: rare enough to add slowly
            levels.append(math.fsum(rest.tolist()))
            break
        sigma = math.ldexp(1.0, exponent)
        q = (sigma + rest) - sigma
        levels.append(float(np.sum(q)))
        rest = rest - q
    total = math.fsum(levels)
    if total == 0.0:  # fsum's zero: -0.0 at most when every value is -0.0
        negative = _FSUM_KEEPS_NEGATIVE_ZERO and n > 0 and bool(np.all(np.signbit(x)))
        return -0.0 if negative else 0.0
    return total


def mcse(values: ArrayLike) -> float | None:
    """Monte Carlo standard error of the mean: sample sd (ddof=1) / sqrt(n).

    Returns None when n < 2: the error is then not estimable, and reporting 0
    would claim a precision the run does not have.

    Examples
    --------
    >>> mcse([1.0, 2.0, 3.0, 4.0])  # sd = sqrt(5/3), n = 4
    0.6454972243679028
    >>> mcse([5.0]) is None
    True
    """
    return _mcse(_vector("values", values))


def _mcse(x: np.ndarray) -> float | None:
    n = x.size
    if n < 2:
        return None
    # Neither the centring mean nor the squared deviations need exact rounding:
    # the SE is reported to a few digits, and numpy's pairwise sums over a fixed
    # array are themselves reproducible (np.dot would call a threaded BLAS, slow
    # and machine-dependent here). Reported means use the exactly rounded _fmean.
    d = x - float(np.mean(x))
    return math.sqrt(float(np.sum(d * d)) / (n - 1) / n)


@dataclass(frozen=True)
class MeanEstimate:
    """A sample mean, its Monte Carlo standard error (None if n < 2) and n."""

    mean: float
    se: float | None
    n: int


def estimate_mean(values: ArrayLike) -> MeanEstimate:
    """Mean and MCSE of a 1-D sample; the mean is exactly rounded, so independent
    of element order to the last bit.

    Examples
    --------
    >>> estimate_mean([1.0, 2.0, 3.0, 4.0]).mean
    2.5
    """
    x = _vector("values", values)
    if x.size == 0:
        raise ValueError("values must not be empty")
    return MeanEstimate(_fmean(x), _mcse(x), int(x.size))


def exact_mean(values: ArrayLike) -> float:
    """The exactly rounded mean (independent of element order), without its SE."""
    x = _vector("values", values)
    if x.size == 0:
        raise ValueError("values must not be empty")
    return _fmean(x)


def paired_difference(new: ArrayLike, ref: ArrayLike) -> MeanEstimate:
    """Mean and MCSE of per-patient differences ``new - ref``.

    With common random numbers each patient is simulated under both arms, so
    the arms are correlated and the paired SE (of the differences) is the right
    one; it is usually far smaller than the independent-samples SE.

    Examples
    --------
    >>> paired_difference([3.0, 5.0], [1.0, 2.0])
    MeanEstimate(mean=2.5, se=0.5, n=2)
    """
    a = _vector("new", new)
    b = _vector("ref", ref)
    if a.shape != b.shape:
        raise ValueError(f"new and ref differ in length: {a.size} != {b.size}")
    return estimate_mean(a - b)


@dataclass(frozen=True)
class FrontierRow:
    """One strategy in a full incremental analysis.

    ``status`` is "ND" (on the frontier), "D" (strongly dominated) or "ED"
    (extendedly dominated). ``inc_cost``, ``inc_effect`` and ``icer`` compare
    with the previous ND strategy and are None for the first ND and for D/ED.
    """

    strategy: str
    cost: float
    effect: float
    inc_cost: float | None
    inc_effect: float | None
    icer: float | None
    status: str


def incremental_analysis(
    names: Sequence[str], costs: Sequence[float], effects: Sequence[float]
) -> list[FrontierRow]:
    """Efficiency frontier with strong and extended dominance (as dampack's
    ``calculate_icers``).

    Rows come sorted by cost ascending; equal costs put the higher effect
    first, and full ties keep input order.

    1. Strong dominance: a strategy is "D" if another costs no more and is at
       least as effective, one of them strictly. Of exact (cost, effect)
       duplicates the first in input order stays and the others are "D", so
       the frontier has strictly increasing cost and effect.
    2. Extended dominance: along the remaining strategies, whenever an ICER
       exceeds the next one the strategy is "ED" and is removed; ICERs are
       recomputed and this repeats until they strictly increase or are equal
       (collinear strategies stay "ND").

    Examples
    --------
    >>> rows = incremental_analysis(["A", "B", "C"], [0.0, 10.0, 30.0], [0.0, 1.0, 1.5])
    >>> [(r.strategy, r.icer, r.status) for r in rows]
    [('A', None, 'ND'), ('B', 10.0, 'ND'), ('C', 40.0, 'ND')]
    """
    names = [str(s) for s in names]
    # Python floats: plain IEEE arithmetic without numpy scalar warnings.
    c = _vector("costs", costs).tolist()
    e = _vector("effects", effects).tolist()
    if not (len(names) == len(c) == len(e)) or not names:
        raise ValueError(
            "names, costs and effects must be non-empty and of equal length"
        )
    if len(set(names)) != len(names):
        raise ValueError("strategy names must be unique")
    order = sorted(range(len(names)), key=lambda i: (c[i], -e[i], i))
    status = dict.fromkeys(order, "ND")
    best_effect = -math.inf
    for i in order:
        # In this order every earlier strategy costs no more, and an equal-cost
        # one is at least as effective; so "not more effective than all earlier
        # ones" is exactly strong (or duplicate) dominance.
        if e[i] <= best_effect:
            status[i] = "D"
        best_effect = max(best_effect, e[i])
    frontier = [i for i in order if status[i] == "ND"]

    def icer(k: int) -> float:
        a, b = frontier[k - 1], frontier[k]
        return (c[b] - c[a]) / (e[b] - e[a])

    while True:
        bad = next(
            (k for k in range(1, len(frontier) - 1) if icer(k) > icer(k + 1)), None
        )
        if bad is None:
            break
        status[frontier.pop(bad)] = "ED"

    rows = []
    prev = None
    for i in order:
        inc_c = inc_e = ratio = None
        if status[i] == "ND":
            if prev is not None:
                inc_c, inc_e = c[i] - c[prev], e[i] - e[prev]
                ratio = inc_c / inc_e
            prev = i
        rows.append(FrontierRow(names[i], c[i], e[i], inc_c, inc_e, ratio, status[i]))
    return rows


def break_even_time(
    times: ArrayLike, cumulative_cost_new: ArrayLike, cumulative_cost_ref: ArrayLike
) -> float | None:
    """Cost-offset time: earliest time from which the new strategy's cumulative
    cost stays at or below the reference's through the last time point.

    Costs are linearly interpolated between grid points, so the crossing can
    fall between them. If the new strategy goes above again later, the later
    crossing counts. Returns None if the new strategy is still costlier at the
    last time point, and 0.0 if it is never costlier on the grid.

    Raises
    ------
    ValueError
        If the arrays are not 1-D, finite and of equal non-zero length, or
        ``times`` is negative or not strictly increasing.

    Examples
    --------
    >>> break_even_time([0.0, 1.0, 2.0], [100.0, 110.0, 120.0], [0.0, 80.0, 150.0])
    1.5
    """
    t = _vector("times", times)
    new = _vector("cumulative_cost_new", cumulative_cost_new)
    ref = _vector("cumulative_cost_ref", cumulative_cost_ref)
    if t.size == 0 or not t.shape == new.shape == ref.shape:
        raise ValueError("times and both cost curves must be non-empty, equal length")
    d = new - ref
    if t[0] < 0.0 or np.any(np.diff(t) <= 0.0):
        raise ValueError("times must be non-negative and strictly increasing")
    above = np.flatnonzero(d > 0.0)
    if above.size == 0:
        return 0.0
    k = int(above[-1])
    if k == t.size - 1:
        return None
    if d[k + 1] == 0.0:
        return float(t[k + 1])
    # d is linear on [t_k, t_k+1] with d_k > 0 >= d_k+1: solve for its zero.
    frac = d[k] / (d[k] - d[k + 1])
    return float(min(max(t[k] + frac * (t[k + 1] - t[k]), t[k]), t[k + 1]))


def _probability(name: str, p: float) -> float:
    p = _finite(name, p)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name} must be in [0, 1]; got {p!r}")
    return p


def number_needed(p_new: float, p_ref: float) -> float | None:
    """Number needed ``1 / |p_new - p_ref|``, direction-free; None if equal.

    Examples
    --------
    >>> number_needed(0.4, 0.9)
    2.0
    """
    diff = abs(_probability("p_new", p_new) - _probability("p_ref", p_ref))
    return 1.0 / diff if diff > 0.0 else None


def number_needed_to_treat(p_benefit_new: float, p_benefit_ref: float) -> float | None:
    """NNT ``1 / (new - ref)`` for a beneficial outcome; None unless new > ref.

    Examples
    --------
    >>> number_needed_to_treat(0.9, 0.4)
    2.0
    """
    diff = _probability("p_benefit_new", p_benefit_new) - _probability(
        "p_benefit_ref", p_benefit_ref
    )
    return 1.0 / diff if diff > 0.0 else None


def number_needed_to_harm(p_harm_new: float, p_harm_ref: float) -> float | None:
    """NNH ``1 / (new - ref)`` for a harmful outcome; None unless new > ref.

    Examples
    --------
    >>> number_needed_to_harm(0.5, 0.25)
    4.0
    """
    diff = _probability("p_harm_new", p_harm_new) - _probability(
        "p_harm_ref", p_harm_ref
    )
    return 1.0 / diff if diff > 0.0 else None
