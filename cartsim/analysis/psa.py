"""PSA analyses: net benefit, CEAC, CEAF, expected loss, EVPI, a summary and the
first/second-order variance split. They take arrays, never a model [voi, hesim]:
``costs`` and ``effects`` shaped (K draws, S strategies) and a 1-D ``wtp`` grid
of W thresholds (a scalar counts as W = 1), which comes first in results. All
are pure, return finite numbers and raise ValueError saying what was expected.

The study that simulates the draws is :mod:`cartsim.study.psa` (this module is its
analysis layer); the command is :mod:`cartsim.cli.psa`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import ArrayLike

from cartsim.analysis.cea import (
    IcerResult,
    MeanEstimate,
    compute_icer,
    estimate_mean,
    incremental_nmb,
    net_monetary_benefit,
)

# Patient noise should be a small part of the PSA variance (O'Hagan et al. 2007).
FIRST_ORDER_SHARE_LIMIT = 0.1
# Hyndman & Fan type 7: numpy's default and R's, so intervals match dampack.
QUANTILE_METHOD: Final = "linear"


def _psa_arrays(costs: ArrayLike, effects: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    c = np.asarray(costs, dtype=float)
    e = np.asarray(effects, dtype=float)
    for name, x in (("costs", c), ("effects", e)):
        if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
            msg = f"{name} must be 2-D (K >= 1 draws, S >= 1 strategies); got {x.shape}"
            raise ValueError(msg)
        bad = np.argwhere(~np.isfinite(x))
        if bad.size:
            k, s = bad[0]
            msg = f"{name} must be finite; got {x[k, s]!r} at draw {k}, strategy {s}"
            raise ValueError(msg)
    if c.shape != e.shape:
        msg = f"costs and effects must have the same shape; got {c.shape} and {e.shape}"
        raise ValueError(msg)
    return c, e


def _wtp_grid(wtp: ArrayLike) -> np.ndarray:
    w = np.atleast_1d(np.asarray(wtp, dtype=float))
    if w.ndim != 1 or w.size == 0 or not np.all(np.isfinite(w)) or np.any(w < 0.0):
        msg = f"wtp must be 1-D, non-empty, finite and >= 0; got {w.tolist()!r}"
        raise ValueError(msg)
    return w


def _integer(name: str, value: object, low: int, high: float) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        msg = f"{name} must be an integer; got {value!r}"
        raise TypeError(msg)
    if not low <= value <= high:
        msg = f"{name} must be in [{low}, {high}]; got {value!r}"
        raise ValueError(msg)
    return int(value)


def _no_overflow(x: np.ndarray) -> np.ndarray:
    if not np.all(np.isfinite(x)):
        msg = "net benefit overflows the float range; rescale costs, effects or wtp"
        raise ValueError(msg)
    return np.moveaxis(x, -1, 0)  # cea puts the threshold grid last; put it first


def net_benefit(costs: ArrayLike, effects: ArrayLike, wtp: ArrayLike) -> np.ndarray:
    """Net monetary benefit of every strategy in every draw at every threshold.

    Parameters
    ----------
    costs, effects : array_like, shape (K, S)
        Mean cost and mean QALYs per draw (rows) and strategy (columns).
    wtp : array_like, shape (W,)
        Willingness-to-pay thresholds (money per QALY), finite and >= 0.

    Returns
    -------
    numpy.ndarray, shape (W, K, S)
        ``NB[w, k, s] = wtp[w] * effects[k, s] - costs[k, s]``.

    Raises
    ------
    ValueError
        Unless costs and effects are finite, both (K, S) with K, S >= 1, and
        ``wtp`` is 1-D, finite and >= 0; or if the products overflow.

    Examples
    --------
    >>> net_benefit([[10.0, 30.0]], [[1.0, 2.0]], [0.0, 100.0]).tolist()
    [[[-10.0, -30.0]], [[90.0, 170.0]]]
    """
    c, e = _psa_arrays(costs, effects)
    with np.errstate(over="ignore", invalid="ignore"):  # reported as ValueError
        return _no_overflow(net_monetary_benefit(e, c, _wtp_grid(wtp)))


def incremental_net_benefit(
    costs: ArrayLike, effects: ArrayLike, wtp: ArrayLike, comparator: int
) -> np.ndarray:
    """Per-draw INMB versus a comparator, ``wtp * dE_k - dC_k``, shape (W, K, S);
    0 for the comparator. Its mean over draws is :attr:`PsaSummary.inmb`.

    Examples
    --------
    >>> incremental_net_benefit([[10.0, 30.0]], [[1.0, 2.0]], [100.0], 0).tolist()
    [[[0.0, 80.0]]]
    """
    c, e = _psa_arrays(costs, effects)
    ref = _integer("comparator", comparator, 0, c.shape[1] - 1)
    with np.errstate(over="ignore", invalid="ignore"):
        d_cost, d_effect = c - c[:, [ref]], e - e[:, [ref]]
        return _no_overflow(incremental_nmb(d_effect, d_cost, _wtp_grid(wtp)))


def ceac(
    costs: ArrayLike, effects: ArrayLike, wtp: ArrayLike, *, tie: str = "first",
    prefer: int = 0,
) -> np.ndarray:
    """Cost-effectiveness acceptability curves, shape (W, S): the share of draws
    in which each strategy has the highest NB, in [0, 1].

    Parameters
    ----------
    costs, effects, wtp
        As for :func:`net_benefit`.
    tie : {"first", "split"}
        How a draw in which several strategies share the highest NB counts.
        "first": strategy ``prefer`` wins the draw if it is among the tied,
        else the one listed first (pass the comparator: a new strategy must
        do strictly better to count as cost-effective);
        "split": the tied strategies share it equally. Either way the counts
        behind a row add up to K exactly, so it sums to 1 up to the rounding
        of count / K (a few ulp: a float sum of k_i / K need not be 1.0).

    Examples
    --------
    >>> costs, effects = [[0.0, 5.0], [0.0, -5.0]], [[0.0, 0.1], [0.0, 0.1]]
    >>> ceac(costs, effects, [0.0, 100.0]).tolist()
    [[0.5, 0.5], [0.0, 1.0]]
    """
    nb = net_benefit(costs, effects, wtp)
    if tie == "first":
        best = _best(nb, prefer)[..., np.newaxis] == np.arange(nb.shape[2])
        return best.sum(axis=1) / nb.shape[1]
    if tie == "split":
        tied = nb == nb.max(axis=2, keepdims=True)
        return (tied / tied.sum(axis=2, keepdims=True)).mean(axis=1)
    msg = f"tie must be 'first' or 'split'; got {tie!r}"
    raise ValueError(msg)


def _best(nb: np.ndarray, prefer: int) -> np.ndarray:
    """Index of the highest NB along the last axis; ties go to ``prefer``, then to
    the first listed (argmax returns the first of several maxima)."""
    order = [prefer, *(i for i in range(nb.shape[-1]) if i != prefer)]
    return np.asarray(order)[np.argmax(nb[..., order], axis=-1)]


def ceaf(
    costs: ArrayLike, effects: ArrayLike, wtp: ArrayLike, *, prefer: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Cost-effectiveness acceptability frontier.

    Returns ``(strategy, prob_ce)``, both (W,): at each threshold the index of
    the strategy with the highest *expected* NB (ties: ``prefer``, then the first
    listed) and its CEAC value. When NB is skewed it need not be the one most
    often optimal.

    Examples
    --------
    >>> costs, effects = [[0.0, 5.0], [0.0, -5.0]], [[0.0, 0.1], [0.0, 0.1]]
    >>> best, p = ceaf(costs, effects, [0.0, 100.0])
    >>> best.tolist(), p.tolist()
    ([0, 1], [0.5, 1.0])
    """
    best = _best(net_benefit(costs, effects, wtp).mean(axis=1), prefer)
    return best, ceac(costs, effects, wtp, prefer=prefer)[np.arange(best.size), best]


def expected_loss(costs: ArrayLike, effects: ArrayLike, wtp: ArrayLike) -> np.ndarray:
    """Expected loss ``E_k[max_s NB - NB_s]``, shape (W, S), as dampack's
    ``calc_exp_loss``. Entries are >= 0; their minimum is the EVPI.

    Examples
    --------
    >>> expected_loss([[0.0, 5.0], [0.0, -1.0]], [[0.0, 0.0]] * 2, [0.0]).tolist()
    [[0.5, 2.5]]
    """
    nb = net_benefit(costs, effects, wtp)
    return (nb.max(axis=2, keepdims=True) - nb).mean(axis=1)


def evpi(costs: ArrayLike, effects: ArrayLike, wtp: ArrayLike) -> np.ndarray:
    """Per-patient expected value of perfect information, shape (W,).

    ``EVPI = E_k[max_s NB] - max_s E_k[NB]``. It is computed as the smallest
    expected loss, ``min_s E_k[max NB - NB_s]``: the same quantity, but a mean
    of non-negative terms, so it is never negative and is exactly 0.0 when one
    strategy has the highest NB in every draw (its loss is then 0 in each).

    Examples
    --------
    >>> evpi([[0.0, 5.0], [0.0, -5.0]], [[0.0, 0.0]] * 2, [0.0]).tolist()
    [2.5]
    >>> evpi([[0.0, 5.0], [0.0, 6.0]], [[1.0, 0.0]] * 2, [0.0, 1e4]).tolist()
    [0.0, 0.0]
    """
    return expected_loss(costs, effects, wtp).min(axis=1)


def population_evpi(
    evpi_per_patient: ArrayLike, population: float, years: float, discount: float
) -> np.ndarray:
    """Population EVPI, ``evpi * population * A``, with the annuity factor
    ``A = sum_{t=1..T} (1 + d)^-t = (1 - (1 + d)^-T) / d`` (``A = T`` if d = 0):
    ``population`` patients a year for T = ``years`` years, each year's cohort
    discounted by a full year at the annual ``discount`` d; the closed form also
    serves fractional T. (voi's ``pop_voi`` uses the continuous
    ``(1 - exp(-d T)) / d``.)

    Raises
    ------
    ValueError
        If any argument is negative or not finite.

    Examples
    --------
    >>> population_evpi([100.0], population=1000.0, years=2.0, discount=0.0).tolist()
    [200000.0]
    >>> population_evpi([1.0], 1.0, years=2.0, discount=0.5).round(6).tolist()
    [1.111111]
    """
    v = np.asarray(evpi_per_patient, dtype=float)
    scalars = {"population": population, "years": years, "discount": discount}
    checked: dict[str, ArrayLike] = {"evpi_per_patient": v, **scalars}
    for name, x in checked.items():
        if not np.all(np.isfinite(x)) or np.any(np.less(x, 0.0)):
            msg = f"{name} must be finite and >= 0; got {np.asarray(x).tolist()!r}"
            raise ValueError(msg)
    d, t = float(discount), float(years)
    # -expm1(-T log1p d) / d avoids the cancellation of 1 - (1+d)^-T at small d.
    annuity = t if d == 0.0 else -math.expm1(-t * math.log1p(d)) / d
    return np.asarray(v * float(population) * annuity)


def _frozen(x: ArrayLike) -> np.ndarray:
    out = np.array(x, dtype=float)
    out.flags.writeable = False
    return out


@dataclass(frozen=True, eq=False)
class ColumnSummary:
    """Per-strategy means with MCSE (:func:`cea.estimate_mean`; se None if K = 1)
    and 95 % intervals, shape (S, 2): the 2.5 % and 97.5 % quantiles of the
    draws by numpy ``method="linear"`` (Hyndman & Fan type 7, R's default)."""

    estimates: tuple[MeanEstimate, ...]
    interval: np.ndarray

    @property
    def mean(self) -> np.ndarray:
        """The means as an array, shape (S,)."""
        return np.array([m.mean for m in self.estimates])


def _column_summary(x: np.ndarray) -> ColumnSummary:
    interval = np.quantile(x, [0.025, 0.975], axis=0, method=QUANTILE_METHOD)
    return ColumnSummary(tuple(estimate_mean(col) for col in x.T), _frozen(interval.T))


@dataclass(frozen=True, eq=False)
class PsaSummary:
    """Summary of a PSA versus a comparator; arrays are read-only.

    ``delta_*`` summarise per-draw differences, strategy minus comparator;
    ``icer[s]`` is the ratio of their means by :func:`cea.compute_icer` (never
    a mean of ratios), None for the comparator; ``inmb[w, s]`` is exactly
    ``wtp[w] * delta_effect.mean[s] - delta_cost.mean[s]``. ``prob_ce`` is the
    CEAC (ties to the comparator), ``prob_inmb_positive`` P(INMB > 0), both (W, S).
    """

    names: tuple[str, ...]
    comparator: int
    wtp: np.ndarray
    n_draws: int
    cost: ColumnSummary
    effect: ColumnSummary
    delta_cost: ColumnSummary
    delta_effect: ColumnSummary
    icer: tuple[IcerResult | None, ...]
    inmb: np.ndarray
    prob_ce: np.ndarray
    prob_inmb_positive: np.ndarray


def summarise_psa(
    costs: ArrayLike,
    effects: ArrayLike,
    names: Sequence[str],
    comparator: int,
    wtp: ArrayLike,
) -> PsaSummary:
    """Per-strategy and incremental summary of a PSA; see :class:`PsaSummary`.

    Raises
    ------
    ValueError
        On invalid arrays (as :func:`net_benefit`), if ``names`` is not one
        unique name per strategy, or ``comparator`` is out of range.
    TypeError
        If ``comparator`` is not an integer.

    Examples
    --------
    >>> s = summarise_psa([[0.0, 10.0], [0.0, 30.0]], [[0.0, 1.0], [0.0, 1.0]],
    ...                   ["is", "car_t"], 0, [25.0])
    >>> s.icer[1].value, s.inmb.tolist(), s.prob_ce.tolist()
    (20.0, [[0.0, 5.0]], [[0.5, 0.5]])
    """
    c, e = _psa_arrays(costs, effects)
    w = _wtp_grid(wtp)
    labels = tuple(str(n) for n in names)
    if len(labels) != c.shape[1] or len(set(labels)) != len(labels):
        msg = f"names must be {c.shape[1]} unique strategy names; got {list(labels)!r}"
        raise ValueError(msg)
    ref = _integer("comparator", comparator, 0, c.shape[1] - 1)
    d_cost = _column_summary(c - c[:, [ref]])
    positive = (incremental_net_benefit(c, e, w, ref) > 0.0).mean(axis=1)
    d_effect = _column_summary(e - e[:, [ref]])
    dc, de = d_cost.mean, d_effect.mean
    icer = tuple(
        None if s == ref else compute_icer(dc[s], de[s]) for s in range(dc.size)
    )
    return PsaSummary(
        names=labels,
        comparator=ref,
        wtp=_frozen(w),
        n_draws=int(c.shape[0]),
        cost=_column_summary(c),
        effect=_column_summary(e),
        delta_cost=d_cost,
        delta_effect=d_effect,
        icer=icer,
        inmb=_frozen(incremental_nmb(de, dc, w).T),
        prob_ce=_frozen(ceac(c, e, w, prefer=ref)),
        prob_inmb_positive=_frozen(positive),
    )


def variance_split(
    per_draw_means: ArrayLike, per_draw_within_var: ArrayLike, n_patients: int
) -> dict[str, float | bool]:
    """Split the variance of per-draw means into patient-level and parameter parts.

    Each draw's mean carries first-order (patient) noise on top of the
    second-order (parameter) spread. Returns the one-way ANOVA split of
    O'Hagan, Stevenson & Madan (2007, Health Econ 16:1009-1023) as a dict:

    - ``total = var(per_draw_means, ddof=1)``;
    - ``first_order = mean(per_draw_within_var) / n_patients``;
    - ``second_order = max(total - first_order, 0)``;
    - ``share_first = first_order / total``, capped at 1 (above 1 it only
      says all the spread is noise, as ``second_order = 0`` does), 0 if both 0;
    - ``warn = share_first > FIRST_ORDER_SHARE_LIMIT`` (0.1): over a tenth of
      the variance is patient noise; simulate more patients per draw.

    Parameters
    ----------
    per_draw_means, per_draw_within_var : array_like, shape (K,)
        Each draw's mean outcome and between-patient sample variance, K >= 2.
    n_patients : int
        Patients simulated per draw.

    Examples
    --------
    >>> split = variance_split([1.0, 2.0, 3.0], [0.5, 0.5, 0.5], 10)
    >>> split["first_order"], split["second_order"], split["share_first"], split["warn"]
    (0.05, 0.95, 0.05, False)
    """
    m = np.asarray(per_draw_means, dtype=float)
    v = np.asarray(per_draw_within_var, dtype=float)
    if m.ndim != 1 or m.size < 2 or v.shape != m.shape or np.any(~(v >= 0.0)):
        msg = (
            "per_draw_means and per_draw_within_var must be 1-D, of one length "
            f"K >= 2, with variances >= 0; got shapes {m.shape} and {v.shape}"
        )
        raise ValueError(msg)
    if not np.all(np.isfinite(m)) or not np.all(np.isfinite(v)):
        msg = "per_draw_means and per_draw_within_var must be finite"
        raise ValueError(msg)
    n = _integer("n_patients", n_patients, 1, math.inf)
    total = float(np.var(m, ddof=1))
    first = float(np.mean(v)) / n
    share = min(first / total, 1.0) if total > 0.0 else float(first > 0.0)
    return {
        "total": total,
        "first_order": first,
        "second_order": max(total - first, 0.0),
        "share_first": share,
        "warn": share > FIRST_ORDER_SHARE_LIMIT,
    }
