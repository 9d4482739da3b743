"""Parameter values for probabilistic sensitivity analysis, made up front.

Draw ``k`` (k = 1, 2, ...) of parameter ``name`` is the distribution's
quantile at one uniform from the stream keyed by (k, "param:" + name), so a
draw's values depend only on the seed, ``k`` and the parameter: the same for
any number of draws, any worker count and after any interruption. Draw 0 is
the base case (the point values).

Two guards keep every draw inside the model's domain:

* a value outside its kind's range (a Normal utility above 1, say) is clipped
  to the range, and clipping is counted so the report can say so;
* probabilities that form one categorical branch (CRS grades, the outcomes of
  a chance node) are scaled down together when a draw makes them sum above 1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from cartsim.params.parameter import KINDS, Parameter
from cartsim.rng import Streams


@dataclass(frozen=True)
class ParameterDraws:
    """``values[name]`` has one value per draw (model units); draw ids in ``draws``."""

    draws: np.ndarray
    values: Mapping[str, np.ndarray]
    clipped: Mapping[str, int]
    rescaled_sets: int

    def at(self, j: int) -> dict[str, float]:
        """The j-th draw's values as a plain dict (for building a model)."""
        return {name: float(v[j]) for name, v in self.values.items()}


def _uniform(seed: int, draw: int, name: str) -> float:
    return float(Streams(seed, draw).column(f"param:{name}", 0, 0, 1)[0])


def draw_parameters(parameters: Mapping[str, Parameter], draws: Sequence[int], seed: int,
                    probability_sets: Sequence[Sequence[str]] = ()) -> ParameterDraws:
    """Values of every parameter for the given draw ids (0 = point values)."""
    ids = np.asarray(list(draws), dtype=np.int64)
    values: dict[str, np.ndarray] = {}
    clipped: dict[str, int] = {}
    for name, p in parameters.items():
        column = np.full(ids.size, p.value)
        dist = p.distribution
        if dist is not None and dist.name not in ("fixed", "dirichlet"):
            random = ids > 0
            u = np.array([_uniform(seed, int(k), name) for k in ids[random]])
            # The quantile of 1 - u: u is in (0, 1], and 1 - u in [0, 1) avoids
            # the infinite upper end of unbounded distributions.
            column[random] = np.asarray(dist.ppf(1.0 - u), dtype=float) * p.factor
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
        names = [n for n in group if n in values]
        if not names:
            continue
        total = np.sum([values[n] for n in names], axis=0)
        over = total > 1.0
        if over.any():
            rescaled += int(over.sum())
            for n in names:
                values[n] = np.where(over, values[n] / np.where(over, total, 1.0), values[n])
    return ParameterDraws(ids, values, clipped, rescaled)
