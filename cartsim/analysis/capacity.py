"""Capacity analysis: waiting times, throughput, utilisation and what waiting costs.

Pure functions over per-patient arrays. Patients of one programme share its
queues, so they are not independent: every standard error here treats each
simulated programme (a *replication*, labelled by ``cluster``) as the unit,
from the spread between replications. With one replication no standard error
can be estimated and None is returned.

Layer views of capacity: the arrays come from :mod:`cartsim.engine.capacity`'s
programme, run and valued by the study :mod:`cartsim.study.capacity`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from cartsim.analysis.cea import MeanEstimate, estimate_mean

MONTH = 1.0 / 12.0


def clustered_mean(values: ArrayLike, cluster: ArrayLike, n_clusters: int) -> MeanEstimate:
    """Mean per patient over all replications, with a between-replication SE.

    The mean is total / patients. Its SE is the ratio estimator's,
    ``sqrt(R/(R-1) * sum_r (T_r - mean * N_r)^2) / N`` with ``T_r`` and ``N_r``
    the total and patients of replication r (valid however patients within a
    replication depend on each other).

    >>> est = clustered_mean([1.0, 3.0, 2.0, 6.0], [0, 0, 1, 1], 2)
    >>> est.mean, est.se, est.n
    (3.0, 1.0, 4)
    """
    x = np.asarray(values, dtype=float)
    c = np.asarray(cluster, dtype=np.int64)
    if x.size == 0:
        raise ValueError("values must not be empty")
    totals = np.bincount(c, weights=x, minlength=n_clusters)
    counts = np.bincount(c, minlength=n_clusters).astype(float)
    mean = math.fsum(totals) / x.size
    se = None
    if n_clusters > 1:
        resid = totals - mean * counts
        se = math.sqrt(n_clusters / (n_clusters - 1) * float(resid @ resid)) / x.size
    return MeanEstimate(mean, se, int(x.size))


def per_programme(values: ArrayLike, cluster: ArrayLike, n_clusters: int) -> MeanEstimate:
    """Mean over replications of each programme's total, SE = sd / sqrt(R).

    >>> per_programme([1.0, 3.0, 2.0, 6.0], [0, 0, 1, 1], 2).mean
    6.0
    """
    totals = np.bincount(np.asarray(cluster, dtype=np.int64),
                         weights=np.asarray(values, dtype=float), minlength=n_clusters)
    return estimate_mean(totals)


@dataclass(frozen=True)
class WaitSummary:
    """Distribution of waiting times (years) over the patients who waited."""

    n: int
    mean: MeanEstimate | None
    quantiles: tuple[float | None, ...]
    maximum: float | None
    share_over: tuple[float | None, ...]


def summarise_waits(waits: ArrayLike, cluster: ArrayLike, n_clusters: int,
                    quantiles: Sequence[float] = (0.5, 0.9, 0.95),
                    over: Sequence[float] = (MONTH, 3 * MONTH, 6 * MONTH)) -> WaitSummary:
    """Mean (between-replication SE), quantiles, maximum and share waiting > each ``over``.

    >>> s = summarise_waits([0.0, 0.1, 0.3, 0.6], [0, 0, 0, 0], 1, (0.5,), (0.25,))
    >>> round(s.mean.mean, 3), s.quantiles, s.share_over
    (0.25, (0.2,), (0.5,))
    """
    w = np.asarray(waits, dtype=float)
    if w.size == 0:
        return WaitSummary(0, None, (None,) * len(quantiles), None, (None,) * len(over))
    return WaitSummary(
        n=int(w.size), mean=clustered_mean(w, cluster, n_clusters),
        quantiles=tuple(float(q) for q in np.quantile(w, quantiles)),
        maximum=float(w.max()),
        share_over=tuple(float(np.mean(w > t)) for t in over),
    )


def counts_per_year(times: ArrayLike, cluster: ArrayLike, n_clusters: int,
                    n_years: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Mean events per programme in each calendar year [k, k+1), and its SE.

    ``times`` are calendar times; nan (the event did not happen) is skipped.

    >>> mean, se = counts_per_year([0.5, 1.5, np.nan, 0.2], [0, 0, 1, 1], 2, 2)
    >>> mean.tolist(), se.tolist()
    ([1.0, 0.5], [0.0, 0.5])
    """
    t = np.asarray(times, dtype=float)
    c = np.asarray(cluster, dtype=np.int64)
    ok = np.isfinite(t) & (t >= 0) & (t < n_years)
    table = np.zeros((n_clusters, n_years))
    np.add.at(table, (c[ok], t[ok].astype(np.int64)), 1.0)
    se = table.std(axis=0, ddof=1) / math.sqrt(n_clusters) if n_clusters > 1 else None
    return table.mean(axis=0), se


def _overlap(start: np.ndarray, length: np.ndarray, window: float) -> np.ndarray:
    """Length of each [start, start + length) inside [0, window); nan starts count 0."""
    s = np.nan_to_num(start, nan=window)
    return np.clip(np.minimum(s + length, window) - np.minimum(s, window), 0.0, None)


def busy_fraction(start: ArrayLike, length: ArrayLike, cluster: ArrayLike, n_clusters: int,
                  servers: float, window: float) -> MeanEstimate:
    """Utilisation: share of ``servers`` x ``window`` occupied by the intervals, per
    programme, averaged over programmes (SE between them).

    >>> busy_fraction([0.0, 0.5], [0.5, 1.0], [0, 0], 1, 1, 1.0).mean
    1.0
    """
    used = _overlap(np.asarray(start, float), np.asarray(length, float), window)
    per = np.bincount(np.asarray(cluster, dtype=np.int64), weights=used, minlength=n_clusters)
    return estimate_mean(per / (servers * window))


def mean_in_queue(enter: ArrayLike, wait: ArrayLike, cluster: ArrayLike, n_clusters: int,
                  window: float) -> MeanEstimate:
    """Time-average number of patients waiting during [0, window), per programme.

    >>> mean_in_queue([0.0, 0.0], [1.0, 0.5], [0, 0], 1, 1.0).mean
    1.5
    """
    inside = _overlap(np.asarray(enter, float), np.asarray(wait, float), window)
    per = np.bincount(np.asarray(cluster, dtype=np.int64), weights=inside, minlength=n_clusters)
    return estimate_mean(per / window)


def max_in_queue(enter: ArrayLike, wait: ArrayLike, cluster: ArrayLike) -> int:
    """Largest number of patients waiting at once in any programme.

    >>> max_in_queue([0.0, 0.1, 0.5], [0.4, 0.2, 0.1], [0, 0, 0])
    2
    """
    e = np.asarray(enter, float)
    w = np.asarray(wait, float)
    c = np.asarray(cluster, dtype=np.int64)
    best = 0
    for r in np.unique(c):
        mask = (c == r) & np.isfinite(e) & (w > 0)
        starts, ends = e[mask], e[mask] + w[mask]
        # +1 at each start, -1 at each end; at a tie the end comes first (half-open).
        times = np.concatenate([starts, ends])
        steps = np.concatenate([np.ones(starts.size), -np.ones(ends.size)])
        order = np.lexsort((steps, times))
        if order.size:
            best = max(best, int(np.cumsum(steps[order]).max()))
    return best


def waiting_at(times: Sequence[float], enter: ArrayLike, wait: ArrayLike, cluster: ArrayLike,
               n_clusters: int) -> np.ndarray:
    """Mean number waiting per programme at each calendar time (e.g. each year's end).

    >>> waiting_at([0.5, 2.0], [0.0, 0.4], [1.0, 0.05], [0, 0], 1).tolist()
    [1.0, 0.0]
    """
    e = np.asarray(enter, float)
    w = np.asarray(wait, float)
    c = np.asarray(cluster, dtype=np.int64)
    out = []
    for t in times:
        inside = np.isfinite(e) & (e <= t) & (t < e + w)
        out.append(np.bincount(c[inside], minlength=n_clusters).mean())
    return np.array(out, dtype=float)
