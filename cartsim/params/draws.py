"""Parameter values for probabilistic sensitivity analysis, made up front.

Draw ``k`` (k = 1, 2, ...) of parameter ``name`` is the distribution's
quantile at one uniform keyed by (k, "param:" + name) (``rng.draw_uniforms``), so a
draw's values depend only on the seed, ``k`` and the parameter: the same for
any number of draws, any worker count and after any interruption. Draw 0 is
the base case (the point values).

Parameters may be drawn jointly (a scenario's ``[[correlations]]`` and
``[[dirichlet]]`` tables, see ``scenario/correlations.py``), still from the
same per-parameter uniforms, so a parameter outside every joint block draws
exactly the values it would draw without them:

* **correlated** parameters (a Gaussian copula): the block's uniforms v go to
  normal scores z = Φ⁻¹(v), are mixed as z' = L z with L the Cholesky factor of
  the declared correlation matrix R, and come back as v' = Φ(z') before each
  marginal's quantile function. R is the correlation of the normal scores (and
  so fixes the rank correlations, Spearman's ρ_s = (6/π) arcsin(ρ/2)); the
  Pearson correlation of the drawn values differs slightly when a marginal is
  skewed;
* a draw's values are a pure function of (scenario, seed, k), bit for bit,
  whichever other draws are made with it (a batch, a worker's chunk, a resumed
  run, a Dask task): every step is elementwise over draws, and the few sums
  (z' = L z, a Dirichlet row, a probability set) add their terms one at a time
  in a fixed order. (BLAS matrix products and numpy's pairwise sums round
  differently with the shape of the batch; IEEE + and * do not.)
* a **Dirichlet set**: the members' uniforms (plus one for the remainder
  category, if declared) become Gamma(α_j) variates by their quantile
  functions, normalised to sum to 1 (``Dirichlet.ppf_rows``).

Two guards keep every draw inside the model's domain:

* a value outside its kind's range (a Normal utility above 1, say) is clipped
  to the range, and clipping is counted so the report can say so;
* probabilities that form one categorical branch (CRS grades, the outcomes of
  a chance node) are scaled down together when a draw makes them sum above 1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from cartsim.deferred import special
from cartsim.params.distributions import Dirichlet
from cartsim.params.parameter import KINDS, Parameter
from cartsim.rng import draw_uniforms

RESCALE_TOLERANCE = 1e-9
"""A categorical set summing to at most 1 + this counts as summing to 1 (rounding)."""


@dataclass(frozen=True)
class Correlation:
    """Normal-scores correlation ``rho`` between two parameters (``first`` < ``second``)."""

    first: str
    second: str
    rho: float
    source: str = ""


@dataclass(frozen=True)
class DirichletSet:
    """Probabilities drawn jointly; ``remainder``: the last alpha is an unnamed category."""

    names: tuple[str, ...]
    distribution: Dirichlet
    remainder: bool
    source: str = ""


@dataclass(frozen=True)
class JointSpec:
    """How parameters are drawn jointly; ``notes`` say what was dropped and why."""

    correlations: tuple[Correlation, ...] = ()
    dirichlet: tuple[DirichletSet, ...] = ()
    notes: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.correlations or self.dirichlet or self.notes)

    def members(self) -> set[str]:
        """Every parameter drawn jointly with another."""
        return ({n for c in self.correlations for n in (c.first, c.second)}
                | {n for d in self.dirichlet for n in d.names})


@dataclass(frozen=True)
class ParameterDraws:
    """``values[name]`` has one value per draw (model units); draw ids in ``draws``.
    ``random``: the parameters drawn at random (in scenario order). ``options``: for
    each structural choice (by its dotted key) the option each draw took, "" for draw 0
    (the scenario's own value; :mod:`cartsim.params.structural`)."""

    draws: np.ndarray
    values: Mapping[str, np.ndarray]
    clipped: Mapping[str, int]
    rescaled_sets: int
    random: tuple[str, ...] = ()
    options: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def at(self, j: int) -> dict[str, float]:
        """The j-th draw's values as a plain dict (for building a model)."""
        return {name: float(v[j]) for name, v in self.values.items()}


def merge_draws(parts: Sequence[ParameterDraws], ids: Sequence[int]) -> ParameterDraws:
    """The draws ``ids`` (in that order) gathered from parts drawn separately (each draw
    in exactly one part); counts of clipped values and rescaled sets add up."""
    where = {int(k): (i, j) for i, part in enumerate(parts) for j, k in enumerate(part.draws)}
    pick = [where[int(k)] for k in ids]
    names = parts[0].values.keys() if parts else ()
    values = {n: np.array([parts[i].values[n][j] for i, j in pick], dtype=float)
              for n in names}
    clipped: dict[str, int] = {}
    for part in parts:
        for name, count in part.clipped.items():
            clipped[name] = clipped.get(name, 0) + count
    ordered = {n: clipped[n] for n in names if n in clipped}  # scenario order, as one call
    keys = parts[0].options.keys() if parts else ()
    options = {key: tuple(parts[i].options[key][j] for i, j in pick) for key in keys}
    return ParameterDraws(np.asarray(list(ids), dtype=np.int64), values, ordered,
                          sum(p.rescaled_sets for p in parts),
                          parts[0].random if parts else (), options)


def correlation_blocks(correlations: Sequence[Correlation]
                       ) -> list[tuple[tuple[str, ...], np.ndarray]]:
    """Connected groups of correlated parameters, each with its correlation matrix.

    Names are sorted within a block (and blocks by their first name), so the
    order in which correlations are written never changes a draw.

    >>> blocks = correlation_blocks([Correlation("b", "c", 0.5), Correlation("a", "b", 0.2)])
    >>> blocks[0][0], blocks[0][1].tolist()
    (('a', 'b', 'c'), [[1.0, 0.2, 0.0], [0.2, 1.0, 0.5], [0.0, 0.5, 1.0]])
    """
    group: dict[str, set[str]] = {}
    for c in correlations:
        merged = group.get(c.first, {c.first}) | group.get(c.second, {c.second})
        for name in merged:
            group[name] = merged
    blocks = sorted({tuple(sorted(g)) for g in group.values()})
    out = []
    for names in blocks:
        index = {n: i for i, n in enumerate(names)}
        matrix = np.eye(len(names))
        for c in correlations:
            if c.first in index:
                i, j = index[c.first], index[c.second]
                matrix[i, j] = matrix[j, i] = c.rho
        out.append((names, matrix))
    return out


def _uniforms(seed: int, ids: np.ndarray, name: str) -> np.ndarray:
    # One vectorised call for every draw of a parameter (counter = patient 0, use 0,
    # draw k). The quantile is taken at 1 - u: u is in (0, 1], and 1 - u in [0, 1)
    # avoids the infinite upper end of unbounded distributions.
    return 1.0 - draw_uniforms(seed, f"param:{name}", np.asarray(ids, dtype=np.int64))


def cholesky(matrix: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor L (L L' = ``matrix``), computed column by column with
    IEEE operations in a fixed order, so it is the same bits on every machine (LAPACK's
    kernels differ by CPU). Raises ValueError if ``matrix`` is not positive definite.

    >>> cholesky(np.array([[4.0, 2.0], [2.0, 5.0]])).tolist()
    [[2.0, 0.0], [1.0, 2.0]]
    """
    a = np.array(matrix, dtype=float)
    n = a.shape[0]
    low = np.zeros_like(a)
    for j in range(n):
        pivot = float(a[j, j])
        for k in range(j):
            pivot -= float(low[j, k]) * float(low[j, k])
        if not pivot > 0.0:
            msg = f"correlation matrix is not positive definite (pivot {j}: {pivot:g})"
            raise ValueError(msg)
        low[j, j] = root = math.sqrt(pivot)
        below = a[j + 1:, j].copy()
        for k in range(j):
            below -= low[j + 1:, k] * low[j, k]
        low[j + 1:, j] = below / root
    return low


def _copula(v: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Rows of uniforms (one row per parameter) with normal-scores correlation ``matrix``.

    z' = L z is summed term by term (not a BLAS product, whose rounding depends on
    how many draws are mixed at once), so each draw's values depend on that draw only.
    """
    z = special.ndtri(np.maximum(v, np.finfo(float).tiny))  # finite even at v = 0
    low = cholesky(matrix)
    mixed = np.empty_like(z)
    for i in range(z.shape[0]):
        total = low[i, 0] * z[0]
        for j in range(1, i + 1):
            total = total + low[i, j] * z[j]
        mixed[i] = total
    return np.minimum(special.ndtr(mixed), np.nextafter(1.0, 0.0))  # in [0, 1) like v


def add_in_order(terms: Sequence[np.ndarray]) -> np.ndarray:
    """Elementwise sum of equally shaped arrays, first to last (``np.sum`` over a stacked
    axis may sum pairwise, in an order that depends on the shape)."""
    total = np.array(terms[0], dtype=float)
    for term in terms[1:]:
        total = total + term
    return total


def draw_parameters(parameters: Mapping[str, Parameter], draws: Sequence[int], seed: int,
                    probability_sets: Sequence[Sequence[str]] = (),
                    joint: JointSpec | None = None) -> ParameterDraws:
    """Values of every parameter for the given draw ids (0 = point values)."""
    ids = np.asarray(list(draws), dtype=np.int64)
    random = ids > 0
    joint = joint or JointSpec()
    in_sets = {n for d in joint.dirichlet for n in d.names}
    uniforms: dict[str, np.ndarray] = {}
    for name, p in parameters.items():
        dist = p.distribution
        if name not in in_sets and dist is not None and dist.name not in ("fixed",
                                                                            "dirichlet"):
            uniforms[name] = _uniforms(seed, ids[random], name)
    for names, matrix in correlation_blocks(joint.correlations):
        if random.any():
            mixed = _copula(np.array([uniforms[n] for n in names]), matrix)
            uniforms.update(zip(names, mixed, strict=True))
    columns = {name: np.full(ids.size, p.value) for name, p in parameters.items()}
    for name, v in uniforms.items():
        p = parameters[name]
        dist = p.distribution
        assert dist is not None  # uniforms are made only for parameters with a distribution
        columns[name][random] = np.asarray(dist.ppf(v), dtype=float) * p.factor
    for d in joint.dirichlet:
        names = d.names + (("dirichlet-remainder:" + "|".join(d.names),) if d.remainder else ())
        v = np.array([_uniforms(seed, ids[random], n) for n in names]).T
        rows = d.distribution.ppf_rows(v.reshape(-1, len(names)))
        for i, name in enumerate(d.names):
            columns[name][random] = rows[:, i]
    values: dict[str, np.ndarray] = {}
    clipped: dict[str, int] = {}
    for name, p in parameters.items():
        column = columns[name]
        low, high = KINDS[p.kind][0], KINDS[p.kind][1]
        lo = -np.inf if low is None else low
        hi = np.inf if high is None else high
        outside = (column < lo) | (column > hi)
        if outside.any():
            clipped[name] = int(outside.sum())
            column = np.clip(column, lo, hi)
        values[name] = column
    rescaled = 0
    for group in probability_sets:
        members = [n for n in group if n in values]
        if not members:
            continue
        total = add_in_order([values[n] for n in members])
        over = total > 1.0
        if over.any():
            rescaled += int((total > 1.0 + RESCALE_TOLERANCE).sum())
            for n in members:
                values[n] = np.where(over, values[n] / np.where(over, total, 1.0), values[n])
    drawn = tuple(n for n in parameters if n in uniforms or n in in_sets)
    return ParameterDraws(ids, values, clipped, rescaled, drawn)
