"""Expected value of partial perfect information (EVPPI) by non-parametric
regression on the PSA sample (Strong, Oakley & Brennan 2014, Med Decis Making
34:311-326), as the voi R package's ``evppi(method="gam")`` does.

For each threshold, the incremental net benefit of every strategy against the
first one, ``INB_s = NB_s - NB_0``, is regressed on the draws of the
parameter(s) of interest; the fitted values estimate ``E[INB_s | inputs]`` and

    EVPPI = mean_k max_s fitted[k, s] - max_s mean_k fitted[k, s]

with the first strategy's fitted INB fixed at 0. No new model runs are needed.

The regression (the "gam" method) is a penalised regression spline whose
smoothing parameter is chosen by generalised cross-validation (GCV). It is
written with numpy/scipy: ``scipy.interpolate.make_smoothing_spline`` (a knot
at every draw) took 0.39 s per fit at K = 1,000 and failed as "ill-posed" at
K = 20,000. Inputs are standardised; one with at most 4 distinct values gets
unpenalised polynomial columns that reproduce its group means exactly. Others:

- one parameter: a cubic B-spline with 20 interior knots at its quantiles,
  penalised by its roughness ``integral f''(z)^2 dz``, so linear trends are
  never shrunk;
- 2-4 parameters: a tensor product of cubic B-splines, 5 per margin (4 when
  P = 4), as the voi and SAVI default ``te(..., bs="cr")``. The penalty sums
  the margins' roughness; its null space holds every multilinear term, so
  products of parameters (probability x QALY gain x duration, the shape of a
  decision tree) are fitted without shrinkage. An additive model would miss
  them and undervalue the group;
- 5 or more parameters (the tensor would need too many columns): an additive
  model of 8-knot smooths plus multilinear products, lowest order first, up to
  256 columns. Each product is penalised by its thin-plate roughness q(q - 1)
  over standardised draws.

One smoothing parameter is shared by all terms. The fit is one SVD and one
eigen-decomposition (the Demmler-Reinsch basis; Wood 2017, Generalized
Additive Models), after which GCV costs O(columns) per smoothing parameter, so
a grid of them is searched for every response. Cost is O(K m^2) with m
columns (25 for one parameter, 25/125/256 for 2/3/4).

Estimates are clipped into [0, EVPI], a known small-sample bias correction.
Regression noise biases the raw estimate upwards, the more so the more columns
the group needs: at K = 5,000 an unrelated group of 4 measured 3% of the EVPI
on average, against under 1% for one parameter. At small K the raw estimate
can then exceed the EVPI. Partial information is never worth more than
perfect information, and never less than none. (When the decision is on a
knife edge, mean INB near 0, the ``max_s mean_k`` term biases the estimate
down instead, by about 0.6 SE in the tests.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations

import numpy as np
from numpy.typing import ArrayLike

from cartsim.analysis import psa

KNOTS_SINGLE = 20
KNOTS_GROUP = 8
# Up to this many distinct values an input is coded exactly (group means).
FEW_LEVELS = 4
# Interaction columns allowed beyond four parameters (all orders up to P = 8).
MAX_PRODUCTS = 256
# Smoothing parameters searched, relative to the penalty's eigenvalue range,
# one tenth of a decade apart (a 26% step; finer does not change the answer).
_GRID_MARGIN = 1e4
_GRID_STEP = 0.1


def _spline_block(z: np.ndarray, n_knots: int) -> tuple[np.ndarray, np.ndarray]:
    # A quarter-second import that only EVPPI needs.
    from scipy.interpolate import BSpline

    lo, hi = float(z.min()), float(z.max())
    inner = np.quantile(z, np.linspace(0.0, 1.0, n_knots + 2)[1:-1])
    inner = np.unique(inner[(inner > lo) & (inner < hi)])
    knots = np.r_[[lo] * 4, inner, [hi] * 4]
    basis = BSpline.design_matrix(z, knots, 3).toarray()
    # f'' is linear between knots, so two Gauss-Legendre points per interval
    # integrate f''^2 exactly.
    edges = np.r_[lo, inner, hi]
    node, weight = np.polynomial.legendre.leggauss(2)
    mid, half = (edges[1:] + edges[:-1]) / 2, (edges[1:] - edges[:-1]) / 2
    xq = (mid[:, None] + half[:, None] * node).ravel()
    wq = (half[:, None] * weight).ravel()
    d2 = BSpline(knots, np.eye(basis.shape[1]), 3).derivative(2)(xq)
    return basis, d2.T @ (wq[:, None] * d2) / (hi - lo)


def _standardise(x: np.ndarray) -> np.ndarray | None:
    """Mean 0, sd 1; None for an input that does not vary (it carries no
    information). Dividing by the largest magnitude first keeps the mean and
    sd from overflowing."""
    big = np.max(np.abs(x))
    if big == 0.0:
        return None
    v = x / big
    sd = v.std()
    return (v - v.mean()) / sd if sd > 0.0 else None


def _margin(z: np.ndarray, n_basis: int) -> tuple[np.ndarray, np.ndarray]:
    """Basis (constant included) and roughness penalty of one input."""
    levels = np.unique(z).size
    if levels <= FEW_LEVELS:
        basis = np.column_stack([z**p for p in range(levels)])
        return basis, np.zeros((levels, levels))
    return _spline_block(z, min(n_basis, levels) - 4)


def _block_diag(blocks: list[np.ndarray]) -> np.ndarray:
    size = sum(b.shape[0] for b in blocks)
    out = np.zeros((size, size))
    at = 0
    for b in blocks:
        out[at : at + b.shape[0], at : at + b.shape[0]] = b
        at += b.shape[0]
    return out


def _design(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Design matrix and penalty matrix for inputs ``x`` shaped (K, P)."""
    n = x.shape[0]
    zs = [z for z in map(_standardise, x.T) if z is not None]
    if len(zs) in (2, 3, 4):
        margins = [_margin(z, 5 if len(zs) < 4 else 4) for z in zs]
        design = np.ones((n, 1))
        for basis, _ in margins:
            design = np.einsum("ka,kb->kab", design, basis).reshape(n, -1)
        sizes = [b.shape[1] for b, _ in margins]
        penalty = np.zeros((design.shape[1],) * 2)
        for j, (_, pen) in enumerate(margins):
            term = np.ones((1, 1))
            for i, size in enumerate(sizes):
                term = np.kron(term, pen if i == j else np.eye(size))
            penalty += term
        return design, penalty
    n_basis = KNOTS_SINGLE + 4 if len(zs) == 1 else KNOTS_GROUP + 4
    margins = [_margin(z, n_basis) for z in zs]
    columns = [np.ones((n, 1))] + [b for b, _ in margins]
    penalties = [np.zeros((1, 1))] + [p for _, p in margins]
    # Multilinear products, lowest order first, while they fit in the budget.
    products, weights = [], []
    for order in range(2, len(zs) + 1):
        subsets = list(combinations(range(len(zs)), order))
        if len(products) + len(subsets) > MAX_PRODUCTS:
            break
        products += [np.prod([zs[i] for i in c], axis=0) for c in subsets]
        # Thin-plate roughness of g * prod(z_i) averaged over standardised
        # independent draws: q(q - 1) mixed second derivatives, each g^2.
        weights += [order * (order - 1)] * len(subsets)
    if products:
        columns.append(np.column_stack(products))
        penalties.append(np.diag(np.asarray(weights, dtype=float)))
    return np.hstack(columns), _block_diag(penalties)


class _Smoother:
    """Penalised least squares on a fixed design, smoothing chosen by GCV.

    Minimises ``|y - X b|^2 + lam b' S b``. The SVD of the stacked matrix
    [X; (tau S)^1/2] = U D V' gives X V D^-1 = U_top, and the eigenvectors of
    U_top' U_top (eigenvalues c in [0, 1]) diagonalise fit and penalty at once
    (Demmler-Reinsch): the fit is sum_i a_i a_i' y / (1 + lam (1 - c_i) / c_i)
    over orthonormal a_i, so every lam is cheap. Unlike an SVD of X alone this
    stays exact when K is below the number of columns: linear trends keep
    zero penalty however few the draws.
    """

    def __init__(self, x: np.ndarray) -> None:
        design, penalty = _design(x)
        n = design.shape[0]
        evals, evecs = np.linalg.eigh(penalty)
        root = np.sqrt(np.clip(evals, 0.0, None))[:, None] * evecs.T
        # tau puts the penalty on the design's scale so the SVD is well conditioned.
        trace = float(np.trace(penalty))
        tau = np.sum(design**2) / trace if trace > 0.0 else 0.0
        u, d, _ = np.linalg.svd(
            np.vstack([design, np.sqrt(tau) * root]), full_matrices=False
        )
        # Directions neither the data nor the penalty see (each B-spline block
        # repeats the intercept) change no fitted value: drop them.
        top = u[:n, d > d[0] * max(design.shape) * np.finfo(float).eps]
        c, w = np.linalg.eigh(top.T @ top)
        seen = c > 1e-12
        c = np.minimum(c[seen], 1.0)
        self.basis = (top @ w[:, seen]) / np.sqrt(c)
        # Penalty share below 1e-9: an unpenalised direction, kept exactly unshrunk.
        self.eig = np.where(1.0 - c < 1e-9, 0.0, (1.0 - c) / c)
        positive = self.eig[self.eig > 0.0]
        if positive.size:
            lo = np.log10(1.0 / (_GRID_MARGIN * positive.max()))
            hi = np.log10(_GRID_MARGIN / positive.min())
            self.grid = 10.0 ** np.arange(lo, hi + _GRID_STEP, _GRID_STEP)
        else:
            self.grid = np.zeros(1)

    def fit(self, y: np.ndarray) -> np.ndarray:
        b = self.basis.T @ y
        outside = float(np.sum((y - self.basis @ b) ** 2))
        shrink = 1.0 / (1.0 + self.grid[:, None] * self.eig[None, :])
        rss = outside + np.sum(((1.0 - shrink) * b) ** 2, axis=1)
        room = y.size - shrink.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            gcv = np.where(room > 1e-9, y.size * rss / room**2, np.inf)
        # If every fit interpolates (K no larger than the unpenalised basis),
        # GCV is undefined: take the smoothest.
        best = int(np.argmin(gcv)) if np.isfinite(gcv).any() else self.grid.size - 1
        return self.basis @ (shrink[best] * b)


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
    n_wtp, _, n_strategies = nb.shape
    out = np.zeros(n_wtp)
    if n_strategies == 1:
        return out
    smoother = _Smoother(x)
    for w in range(n_wtp):
        fitted = np.zeros(nb.shape[1:])
        for s in range(1, n_strategies):
            fitted[:, s] = smoother.fit(nb[w, :, s] - nb[w, :, 0])
        raw = fitted.max(axis=1).mean() - fitted.mean(axis=0).max()
        out[w] = min(max(raw, 0.0), perfect[w])
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
        EVPPI, clipped into [0, EVPI] at each threshold.

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


def evppi_by_parameter(
    costs: ArrayLike,
    effects: ArrayLike,
    wtp: ArrayLike,
    draws: Mapping[str, ArrayLike],
    *,
    method: str = "gam",
) -> dict[str, np.ndarray]:
    """EVPPI of each parameter on its own: ``{name: EVPPI shaped (W,)}``.

    ``draws`` maps each parameter name to its K draws (1-D).

    Examples
    --------
    >>> x, noise = [-2.0, -1.0, 0.0, 1.0, 2.0, 3.0], [0.0] * 6
    >>> res = evppi_by_parameter([[0.0, -v] for v in x], [[0.0, 0.0]] * 6, [0.0],
    ...                          {"x": x, "fixed": noise})
    >>> {k: v.round(9).tolist() for k, v in res.items()}
    {'x': [0.5], 'fixed': [0.0]}
    """
    nb, perfect = _prepare(costs, effects, wtp, method)
    result = {}
    for name, values in draws.items():
        v = np.asarray(values, dtype=float)
        if v.ndim != 1:
            msg = (
                f"draws[{name!r}] must be 1-D (one value per draw); got shape {v.shape}"
            )
            raise ValueError(msg)
        result[name] = _evppi(nb, perfect, _inputs(v, nb.shape[1], f"draws[{name!r}]"))
    return result


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
