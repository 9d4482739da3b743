"""Expected value of partial perfect information (EVPPI) by non-parametric
regression on the PSA sample (Strong, Oakley & Brennan 2014, Med Decis Making
34:311-326), as the voi R package's ``evppi(method="gam")`` does.

For each threshold, the incremental net benefit of every strategy against the
first one, ``INB_s = NB_s - NB_0``, is regressed on the draws of the
parameter(s) of interest; the fitted values estimate ``E[INB_s | inputs]`` and

    EVPPI = mean_k max_s fitted[k, s] - max_s mean_k fitted[k, s]

with the first strategy's fitted INB fixed at 0. No new model runs are needed.

The regression (the "gam" method, ``gam.py``) is a penalised regression
spline whose smoothing parameter minimises generalised cross-validation (GCV);
the estimate is a continuous function of the PSA sample, so a last-bit change
in the draws (another CPU's vector maths) moves it in the last bits only.

Estimates are clipped into [0, EVPI], a known small-sample bias correction.
Regression noise biases the raw estimate upwards, the more so the more columns
the group needs: at K = 5,000 an unrelated group of 4 measured 3% of the EVPI
on average, against under 1% for one parameter. At small K the raw estimate
can then exceed the EVPI. Partial information is never worth more than
perfect information, and never less than none. (When the decision is on a
knife edge, mean INB near 0, the ``max_s mean_k`` term biases the estimate
down instead, by about 0.6 SE in the tests.) EVPPI is computed, like the EVPI,
as the smallest expected loss ``min_s mean_k (max fitted - fitted_s)``, a mean
of non-negative terms: exactly 0 when the parameter never changes the fitted
decision. A value below ``NEGLIGIBLE`` (1e-6) times the EVPI at that threshold
is floating-point noise, far below the regression's own sampling error, and is
reported as 0.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from cartsim.analysis import psa
from cartsim.analysis.gam import Smoother

NEGLIGIBLE = 1e-6
"""EVPPI below this share of the EVPI at its threshold is reported as 0."""


def _inputs(inputs: ArrayLike, n_draws: int, name: str = "inputs") -> np.ndarray:
    x = np.asarray(inputs, dtype=float)
    if x.ndim == 1:
        x = x[:, np.newaxis]
    if x.ndim != 2 or x.shape[0] != n_draws or x.shape[1] < 1:
        msg = f"{name} must be shaped (K,) or (K, P) with K = {n_draws}; got {x.shape}"
        raise ValueError(msg)
    if not np.all(np.isfinite(x)):
        msg = f"{name} must be finite"
        raise ValueError(msg)
    return x


def _evppi(nb: np.ndarray, perfect: np.ndarray, x: np.ndarray) -> np.ndarray:
    n_wtp, n_draws, n_strategies = nb.shape
    out = np.zeros(n_wtp)
    if n_strategies == 1:
        return out
    inb = (nb[:, :, 1:] - nb[:, :, :1]).transpose(1, 0, 2).reshape(n_draws, -1)
    fitted = Smoother(x).fit(inb).reshape(n_draws, n_wtp, n_strategies - 1)
    for w in range(n_wtp):
        f = np.column_stack([np.zeros(n_draws), fitted[:, w, :]])
        # The smallest expected loss: a mean of terms >= 0, exactly 0 when one
        # strategy's fitted net benefit is the highest in every draw.
        raw = float((f.max(axis=1, keepdims=True) - f).mean(axis=0).min())
        out[w] = min(raw, perfect[w]) if raw >= NEGLIGIBLE * perfect[w] else 0.0
    return out


def _prepare(
    costs: ArrayLike, effects: ArrayLike, wtp: ArrayLike, method: str
) -> tuple[np.ndarray, np.ndarray]:
    if method != "gam":
        msg = f"method must be 'gam'; got {method!r}"
        raise ValueError(msg)
    return psa.net_benefit(costs, effects, wtp), psa.evpi(costs, effects, wtp)


def evppi(
    costs: ArrayLike,
    effects: ArrayLike,
    wtp: ArrayLike,
    inputs: ArrayLike,
    *,
    method: str = "gam",
) -> np.ndarray:
    """Per-patient EVPPI of one parameter or a group, at each threshold.

    Parameters
    ----------
    costs, effects : array_like, shape (K, S)
        PSA mean cost and QALYs per draw and strategy.
    wtp : array_like, shape (W,)
        Willingness-to-pay thresholds.
    inputs : array_like, shape (K,) or (K, P)
        The draws of the parameter (P = 1) or group (P > 1) of interest, row k
        being the values that produced row k of ``costs`` and ``effects``.
    method : {"gam"}
        Penalised spline regression with GCV (see the module notes).

    Returns
    -------
    numpy.ndarray, shape (W,)
        EVPPI, clipped into [0, EVPI] at each threshold; 0 where it is below
        ``NEGLIGIBLE`` times the EVPI.

    Raises
    ------
    ValueError
        On invalid PSA arrays (see :func:`psa.net_benefit`), inputs not shaped
        (K,) or (K, P) or not finite, or an unknown method.

    Examples
    --------
    >>> x = [-2.0, -1.0, 0.0, 1.0, 2.0, 3.0]  # INB = x exactly, so EVPPI = EVPI
    >>> costs = [[0.0, -v] for v in x]
    >>> effects = [[0.0, 0.0]] * 6
    >>> evppi(costs, effects, [0.0], x).round(9).tolist()
    [0.5]
    """
    nb, perfect = _prepare(costs, effects, wtp, method)
    return _evppi(nb, perfect, _inputs(inputs, nb.shape[1]))


JobMap = Callable[[Callable[[Any], Any], Sequence[Any]], Iterable[Any]]
"""Runs a function over jobs, results in any order (e.g. a process pool's map)."""


def evppi_by_parameter(
    costs: ArrayLike,
    effects: ArrayLike,
    wtp: ArrayLike,
    draws: Mapping[str, ArrayLike],
    *,
    method: str = "gam",
    map_jobs: JobMap | None = None,
) -> dict[str, np.ndarray]:
    """EVPPI of each parameter on its own: ``{name: EVPPI shaped (W,)}``.

    ``draws`` maps each parameter name to its K draws (1-D). ``map_jobs`` spreads
    the parameters' fits (independent of each other) over workers; each fit is
    the same computation wherever it runs, and the result keeps ``draws``' order.

    Examples
    --------
    >>> x, noise = [-2.0, -1.0, 0.0, 1.0, 2.0, 3.0], [0.0] * 6
    >>> res = evppi_by_parameter([[0.0, -v] for v in x], [[0.0, 0.0]] * 6, [0.0],
    ...                          {"x": x, "fixed": noise})
    >>> {k: v.round(9).tolist() for k, v in res.items()}
    {'x': [0.5], 'fixed': [0.0]}
    """
    nb, perfect = _prepare(costs, effects, wtp, method)
    jobs = []
    for name, values in draws.items():
        v = np.asarray(values, dtype=float)
        if v.ndim != 1:
            msg = (
                f"draws[{name!r}] must be 1-D (one value per draw); got shape {v.shape}"
            )
            raise ValueError(msg)
        jobs.append((name, nb, perfect, _inputs(v, nb.shape[1], f"draws[{name!r}]")))
    done = dict(map(_evppi_job, jobs) if map_jobs is None else map_jobs(_evppi_job, jobs))
    return {name: done[name] for name in draws}


def _evppi_job(job: tuple[str, np.ndarray, np.ndarray, np.ndarray]) -> tuple[str, np.ndarray]:
    name, nb, perfect, x = job
    return name, _evppi(nb, perfect, x)


def evppi_groups(
    costs: ArrayLike,
    effects: ArrayLike,
    wtp: ArrayLike,
    draws: Mapping[str, ArrayLike],
    groups: Mapping[str, Sequence[str]],
    *,
    method: str = "gam",
) -> dict[str, np.ndarray]:
    """EVPPI of each group of parameters learnt together: ``{group: (W,)}``.

    ``groups`` maps a group name to the parameter names (keys of ``draws``)
    it contains.

    Raises
    ------
    ValueError
        If a group is empty or names a parameter missing from ``draws``.

    Examples
    --------
    >>> x, y = [-2.0, -1.0, 0.0, 1.0, 2.0, 3.0], [1.0, -1.0, 0.5, 0.0, -0.5, 2.0]
    >>> costs = [[0.0, -a - b] for a, b in zip(x, y)]  # INB = x + y
    >>> res = evppi_groups(costs, [[0.0, 0.0]] * 6, [0.0], {"x": x, "y": y},
    ...                    {"both": ["x", "y"]})
    >>> res["both"].round(9).tolist()
    [0.5]
    """
    nb, perfect = _prepare(costs, effects, wtp, method)
    result = {}
    for group, names in groups.items():
        if isinstance(names, str) or len(names) == 0:
            msg = f"groups[{group!r}] must be a non-empty list of names; got {names!r}"
            raise ValueError(msg)
        missing = [n for n in names if n not in draws]
        if missing:
            msg = (
                f"groups[{group!r}] names parameters not in draws: {missing!r}; "
                f"known: {sorted(draws)!r}"
            )
            raise ValueError(msg)
        cols = [_inputs(draws[n], nb.shape[1], f"draws[{n!r}]") for n in names]
        result[group] = _evppi(nb, perfect, np.hstack(cols))
    return result


def evppi_discrete(
    costs: ArrayLike,
    effects: ArrayLike,
    wtp: ArrayLike,
    labels: Sequence[str],
) -> np.ndarray:
    """Per-patient EVPPI of a discrete input (a structural choice), at each threshold.

    The conditional-mean estimator: with p_c the share of draws whose input is c and
    m_c,d the mean net benefit of strategy d over those draws,

        EVPPI = sum_c p_c max_d m_c,d - max_d sum_c p_c m_c,d,

    which is ``E_c[max_d E(NB_d | c)] - max_d E(NB_d)`` exactly, up to Monte Carlo
    error in the conditional means (no regression, no smoothing: a categorical input
    needs none). Computed, like :func:`evppi`, as the smallest expected loss of the
    conditional means, clipped into [0, EVPI] and 0 below ``NEGLIGIBLE`` x the EVPI.

    Examples
    --------
    >>> labels = ["a", "a", "b", "b"]  # INB +1 under a, -3 under b: learn c, switch
    >>> costs = [[0.0, -1.0], [0.0, -1.0], [0.0, 3.0], [0.0, 3.0]]
    >>> evppi_discrete(costs, [[0.0, 0.0]] * 4, [0.0], labels).tolist()
    [0.5]
    """
    nb, perfect = psa.net_benefit(costs, effects, wtp), psa.evpi(costs, effects, wtp)
    n_wtp, n_draws, _ = nb.shape
    tags = [str(x) for x in labels]
    if len(tags) != n_draws:
        msg = f"labels must give one option per draw (K = {n_draws}); got {len(tags)}"
        raise ValueError(msg)
    fitted = np.empty_like(nb)
    for tag in dict.fromkeys(tags):
        rows = np.array([t == tag for t in tags])
        fitted[:, rows, :] = nb[:, rows, :].mean(axis=1, keepdims=True)
    out = np.zeros(n_wtp)
    for w in range(n_wtp):
        f = fitted[w]
        raw = float((f.max(axis=1, keepdims=True) - f).mean(axis=0).min())
        out[w] = min(raw, perfect[w]) if raw >= NEGLIGIBLE * perfect[w] else 0.0
    return out
