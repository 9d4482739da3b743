"""Penalised regression splines with the smoothing parameter chosen by GCV, for
regression-based EVPPI (``voi.py``).

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

One smoothing parameter is shared by all terms. Every margin is written as
its constant and linear term (the spline's Greville coefficients reproduce z
exactly) plus a basis of the penalised rest, so the columns the penalty does
not see (constants, linear terms, their products, few-level polynomials) are
known exactly and projected out; the penalised rest, whitened by its penalty,
is diagonalised by one SVD (the Demmler-Reinsch basis; Wood 2017, Generalized
Additive Models), after which GCV costs O(columns) per smoothing parameter.
The smoothing parameter minimises GCV exactly: sign changes of its derivative
are bracketed on a grid of log(lambda) a tenth of a decade apart and bisected
to the last bit, and the lowest local minimum wins (within 1e-9 relative, the
smoother). So the estimate is a continuous function of the PSA sample: a
last-bit change in the draws (another CPU's vector maths) moves it in the last
bits, never by a grid step or by a rounding-noise direction of the penalty
flipping in or out. Cost is O(K m^2) with m columns (24 for one parameter,
25/125/256 for 2/3/4).
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import combinations
from pathlib import Path

import numpy as np

KNOTS_SINGLE = 20
KNOTS_GROUP = 8
# Up to this many distinct values an input is coded exactly (group means).
FEW_LEVELS = 4
# Interaction columns allowed beyond four parameters (all orders up to P = 8).
MAX_PRODUCTS = 256
# Smoothing parameters searched, relative to the range of the penalised directions'
# eigenvalues; the grid (a tenth of a decade) only brackets GCV's minima.
_GRID_MARGIN = 1e4
_GRID_STEP = 0.1
# Local GCV minima this close (relative) count as a tie, won by the smoother fit, so
# that rounding never picks between two equally good smoothing parameters.
GCV_TIE = 1e-9
_EPS = np.finfo(float).eps


def _spline_block(z: np.ndarray, n_knots: int) -> tuple[np.ndarray, np.ndarray]:
    """Cubic B-spline basis of ``z`` as [1, z, penalised rest], and its roughness
    penalty ``integral f''(z)^2 dz / (hi - lo)``, exactly 0 on the first two columns.

    f'' of f = sum c_i B_i is the linear spline through c'' = D c (divided second
    differences, zero for f = 1 and f = z), so the roughness is (c'')^T G c'' with G
    the Gram matrix of the hat functions. The rest is parametrised by c'' itself
    (c = P c'' with c_0 = c_1 = 0, D P = I) and penalised by G: banded and well
    conditioned. (Forming D^T G D and splitting off its null space leaves rounding
    noise of its largest entries, 1/spacing^3, in its smallest eigenvalues: the fit
    then moved by 1e-8 when a draw moved by an ulp.)
    """
    # Quarter-second imports that only EVPPI needs.
    from scipy.interpolate import BSpline
    from scipy.linalg import solve_triangular

    lo, hi = float(z.min()), float(z.max())
    inner = np.quantile(z, np.linspace(0.0, 1.0, n_knots + 2)[1:-1])
    inner = np.unique(inner[(inner > lo) & (inner < hi)])
    t = np.r_[[lo] * 4, inner, [hi] * 4]
    basis = BSpline.design_matrix(z, t, 3).toarray()
    q = basis.shape[1]
    i = np.arange(1, q)  # f' = sum c'_i B_i (quadratic), c'_i = 3 (c_i - c_i-1) / span
    first = np.zeros((q - 1, q))
    first[i - 1, i] = 3.0 / (t[i + 3] - t[i])
    first[i - 1, i - 1] = -first[i - 1, i]
    i = np.arange(2, q)  # f'' = sum c''_i B_i (hats peaking at t_3 .. t_q)
    second = np.zeros((q - 2, q - 1))
    second[i - 2, i - 1] = 2.0 / (t[i + 2] - t[i])
    second[i - 2, i - 2] = -second[i - 2, i - 1]
    lift = solve_triangular((second @ first)[:, 2:], np.eye(q - 2), lower=True)
    h = np.diff(t[3 : q + 1])
    gram = (np.diag((np.r_[0.0, h] + np.r_[h, 0.0]) / 3.0) + np.diag(h / 6.0, 1)
            + np.diag(h / 6.0, -1))
    penalty = np.zeros((q, q))
    penalty[2:, 2:] = gram / (hi - lo)
    return np.column_stack([np.ones_like(z), z, basis[:, 2:] @ lift]), penalty


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


def _margin(z: np.ndarray, n_basis: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Basis (the constant first), roughness penalty and the columns it leaves
    unpenalised, of one input."""
    levels = np.unique(z).size
    if levels <= FEW_LEVELS:
        basis = np.column_stack([z**p for p in range(levels)])
        return basis, np.zeros((levels, levels)), np.ones(levels, dtype=bool)
    basis, penalty = _spline_block(z, min(n_basis, levels) - 4)
    return basis, penalty, np.arange(basis.shape[1]) < 2


def _block_diag(blocks: list[np.ndarray]) -> np.ndarray:
    size = sum(b.shape[0] for b in blocks)
    out = np.zeros((size, size))
    at = 0
    for b in blocks:
        out[at : at + b.shape[0], at : at + b.shape[0]] = b
        at += b.shape[0]
    return out


def _design(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Design matrix, penalty matrix and unpenalised columns for inputs (K, P).
    The penalty's rows of unpenalised columns are exactly 0."""
    n = x.shape[0]
    zs = [z for z in map(_standardise, x.T) if z is not None]
    if len(zs) in (2, 3, 4):
        margins = [_margin(z, 5 if len(zs) < 4 else 4) for z in zs]
        design, free = np.ones((n, 1)), np.ones(1, dtype=bool)
        for basis, _, margin_free in margins:
            design = np.einsum("ka,kb->kab", design, basis).reshape(n, -1)
            free = np.logical_and.outer(free, margin_free).ravel()
        sizes = [b.shape[1] for b, _, _ in margins]
        penalty = np.zeros((design.shape[1],) * 2)
        for j, (_, pen, _) in enumerate(margins):
            term = np.ones((1, 1))
            for i, size in enumerate(sizes):
                term = np.kron(term, pen if i == j else np.eye(size))
            penalty += term
        return design, penalty, free
    n_basis = KNOTS_SINGLE + 4 if len(zs) == 1 else KNOTS_GROUP + 4
    margins = [_margin(z, n_basis) for z in zs]
    # One intercept: each margin's own constant column is dropped.
    columns = [np.ones((n, 1))] + [b[:, 1:] for b, _, _ in margins]
    penalties = [np.zeros((1, 1))] + [p[1:, 1:] for _, p, _ in margins]
    free_blocks = [np.ones(1, dtype=bool)] + [f[1:] for _, _, f in margins]
    # Multilinear products, lowest order first, while they fit in the budget.
    products: list[np.ndarray] = []
    weights: list[int] = []
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
        free_blocks.append(np.zeros(len(products), dtype=bool))
    return np.hstack(columns), _block_diag(penalties), np.concatenate(free_blocks)


def _orthonormal(columns: np.ndarray) -> np.ndarray:
    """Orthonormal basis of the span of ``columns`` (numerical rank)."""
    if columns.shape[1] == 0:
        return columns
    u, d, _ = np.linalg.svd(columns, full_matrices=False)
    return u[:, d > d[0] * max(columns.shape) * _EPS] if d[0] > 0.0 else u[:, :0]


@functools.cache
def _openblas_threads() -> tuple[tuple[Callable[[int], None], Callable[[], int]], ...]:
    """(set, get) of the thread count of each OpenBLAS loaded in this process (numpy's
    and scipy's wheels each bring one), found as threadpoolctl finds them; none where
    there is no /proc/self/maps or no OpenBLAS."""
    import scipy.linalg  # noqa: F401  # loads scipy's OpenBLAS, if it has its own

    try:
        with Path("/proc/self/maps").open(encoding="utf-8") as fh:
            paths = sorted({line.split()[-1] for line in fh if "openblas" in line.lower()
                            and line.split()[-1].startswith("/")})
    except OSError:
        return ()
    found = []
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in ("scipy_openblas_", "openblas_"):
            for suffix in ("64_", ""):
                setter = getattr(lib, f"{prefix}set_num_threads{suffix}", None)
                getter = getattr(lib, f"{prefix}get_num_threads{suffix}", None)
                if setter is not None and getter is not None:
                    getter.restype = ctypes.c_int
                    found.append((setter, getter))
    return tuple(found)


@contextmanager
def _serial_blas() -> Iterator[None]:
    """OpenBLAS on one thread meanwhile. Every matrix here is K x (at most 256): too
    small to share out, and a threaded SVD of one took 15 ms instead of 0.9 ms (and up
    to 135 ms when the cores were busy), most of an EVPPI's time."""
    controls = _openblas_threads()
    before = [get() for _, get in controls]
    for set_threads, _ in controls:
        set_threads(1)
    try:
        yield
    finally:
        for (set_threads, _), count in zip(controls, before, strict=True):
            set_threads(count)


class Smoother:
    """Penalised least squares on a fixed design, smoothing chosen by GCV.

    Minimises ``|y - X b|^2 + lam b' S b``. The unpenalised columns span an
    orthonormal ``free`` basis, fitted as they are. The penalised columns, with
    the free part projected out and whitened by S (b = V E^-1/2 a), leave a ridge
    problem whose SVD U D W' gives the fit ``U diag(d^2 / (d^2 + lam)) U' y``
    (Demmler-Reinsch), so every lam is cheap. Unlike an SVD of X alone this stays
    exact when K is below the number of columns: linear trends keep zero penalty
    however few the draws.
    """

    def __init__(self, x: np.ndarray) -> None:
        with _serial_blas():
            self._factor(x)

    def _factor(self, x: np.ndarray) -> None:
        design, penalty, free = _design(x)
        self.n = design.shape[0]
        self.free = _orthonormal(design[:, free])
        rest = design[:, ~free]
        self.basis, self.d2 = np.zeros((self.n, 0)), np.zeros(0)
        if rest.shape[1]:
            evals, evecs = np.linalg.eigh(penalty[np.ix_(~free, ~free)])
            # Positive definite on these columns; the floor (continuous) only keeps
            # rounding from making an eigenvalue 0 or negative.
            evals = np.maximum(evals, evals[-1] * evals.size * _EPS)
            white = (rest @ evecs) / np.sqrt(evals)
            white -= self.free @ (self.free.T @ white)
            u, d, _ = np.linalg.svd(white, full_matrices=False)
            keep = d > d[0] * max(white.shape) * _EPS if d[0] > 0.0 else d < 0.0
            self.basis, self.d2 = u[:, keep], d[keep] ** 2
        if self.d2.size:
            lo = np.log(self.d2.min() / _GRID_MARGIN)
            hi = np.log(_GRID_MARGIN * self.d2.max())
            count = int(np.ceil((hi - lo) / (_GRID_STEP * np.log(10.0)))) + 1
            self.grid = np.linspace(lo, hi, max(count, 2))

    def _gcv_terms(self, rho: np.ndarray, b2: np.ndarray, outside: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
        """GCV score and the sign of its slope in log(lam), at each rho (one per
        row of ``b2``, the squared coefficients of its response)."""
        lam = np.exp(rho)[:, None]
        t = lam / (self.d2 + lam)  # share of each direction removed by smoothing
        rss = outside + np.sum(t * t * b2, axis=1)
        drss = 2.0 * np.sum(t * t * (1.0 - t) * b2, axis=1)
        room = self.n - self.free.shape[1] - np.sum(1.0 - t, axis=1)
        droom = np.sum(t * (1.0 - t), axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            gcv = np.where(room > 0.0, self.n * rss / room**2, np.inf)
        # No residual degrees of freedom: GCV is infinite, falling as lam grows.
        slope = np.where(room > 0.0, drss * room - 2.0 * droom * rss, -1.0)
        return gcv, slope

    def _choose(self, b2: np.ndarray, outside: np.ndarray) -> np.ndarray:
        """log(lam) minimising GCV for each response (columns of ``b2``)."""
        r = b2.shape[1]
        # The slope's sign at every grid point and response at once (it only brackets
        # the minima: their place comes from the bisection below).
        lam = np.exp(self.grid)[:, None]
        t = lam / (self.d2 + lam)
        rss = outside + (t * t) @ b2
        room = (self.n - self.free.shape[1] - np.sum(1.0 - t, axis=1))[:, None]
        droom = np.sum(t * (1.0 - t), axis=1)[:, None]
        slope = np.where(room > 0.0, 2.0 * ((t * t * (1.0 - t)) @ b2) * room
                         - 2.0 * droom * rss, -1.0)
        # Local minima: the slope turns from negative to non-negative within a grid
        # cell, or stays non-negative at the low end or negative at the high end.
        cell, who = np.nonzero((slope[:-1] < 0.0) & (slope[1:] >= 0.0))
        left, right = self.grid[cell], self.grid[cell + 1]
        for _ in range(64):  # bisect to adjacent doubles
            mid = 0.5 * (left + right)
            _, s = self._gcv_terms(mid, b2[:, who].T, outside[who])
            new_left, new_right = np.where(s < 0.0, mid, left), np.where(s < 0.0, right, mid)
            if np.array_equal(new_left, left) and np.array_equal(new_right, right):
                break  # a fixed point: the remaining steps would change nothing
            left, right = new_left, new_right
        ends_lo, ends_hi = np.nonzero(slope[0] >= 0.0)[0], np.nonzero(slope[-1] < 0.0)[0]
        who = np.r_[who, ends_lo, ends_hi]
        at = np.r_[right, np.full(ends_lo.size, self.grid[0]), np.full(ends_hi.size,
                                                                      self.grid[-1])]
        gcv, _ = self._gcv_terms(at, b2[:, who].T, outside[who])
        best = np.empty(r)
        for j in range(r):  # every response has a candidate: an end or a bracket
            score, place = gcv[who == j], at[who == j]
            low = score.min()  # infinite when no fit leaves residual degrees of freedom
            best[j] = place[score <= low + GCV_TIE * abs(low)].max()
        return best

    def fit(self, y: np.ndarray) -> np.ndarray:
        """Fitted values of each column of ``y`` (K, R), each with its own lam."""
        with _serial_blas():
            return self._fit(y)

    def _fit(self, y: np.ndarray) -> np.ndarray:
        a = self.free.T @ y
        fitted = self.free @ a
        if not self.d2.size:
            return fitted
        b = self.basis.T @ y
        outside = np.sum((y - fitted - self.basis @ b) ** 2, axis=0)
        lam = np.exp(self._choose(b * b, outside))
        return fitted + self.basis @ (self.d2[:, None] / (self.d2[:, None] + lam) * b)
