"""Structural choices drawn in a PSA: one option of a finite set per draw.

A scenario's ``[[structural]]`` tables (validated in :mod:`cartsim.scenario.structural`)
name a dotted key with a finite set of values (the relapse shape
``car_t.relapse.model``, or a parameter such as ``car_t.retreatment.probability``)
and weighted options, each with its own parameter values. The deterministic run uses
the scenario's own value; PSA draw ``k`` (k >= 1) takes option ``i`` when the
uniform u of the stream keyed by (seed, k, "structural:" + key) falls in
``(W_{i-1}, W_i]``, W the cumulative weights, so P(option i) = its weight and a draw's
option depends only on the seed, k and the key: the same for any number of draws or
workers, after a resume and on a cluster.

The chosen option's parameters replace the scenario's values in that draw. Each is
drawn from the uniform its name keys ("param:" + name), as the scenario's own would
be: an option whose weight is 1 reproduces, draw for draw, a scenario that fixes
that option (common random numbers across options, too). Options never set a
parameter that is drawn jointly or belongs to a set of exclusive probabilities (the
scenario layer refuses it), so replacing one value never breaks a joint draw.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from cartsim.params.draws import ParameterDraws, draw_parameters
from cartsim.params.parameter import Parameter
from cartsim.rng import draw_uniforms

PURPOSE = "structural:"
"""Prefix of the stream purpose a structural choice's uniform is keyed by."""
WEIGHT_TOLERANCE = 1e-9
"""Weights must sum to 1 within this."""


@dataclass(frozen=True)
class StructuralOption:
    """One option: its name (the key's value for a text choice, else a label), weight
    and the parameter values it sets (full dotted names)."""

    name: str
    weight: float
    parameters: Mapping[str, Parameter] = field(default_factory=dict)
    source: str = ""


@dataclass(frozen=True)
class StructuralChoice:
    """A discrete structural uncertainty: ``key`` takes one of ``options`` per PSA draw.
    ``text``: the key is a text choice (the option's name is its value), not a number."""

    key: str
    rationale: str
    options: tuple[StructuralOption, ...]
    text: bool = False

    def cumulative(self) -> np.ndarray:
        """Cumulative weights, summed in order, the last set to exactly 1."""
        out, total = [], 0.0
        for o in self.options:
            total += o.weight
            out.append(total)
        out[-1] = 1.0  # the weights sum to 1 within WEIGHT_TOLERANCE: u = 1 is always taken
        return np.asarray(out)

    def names(self) -> tuple[str, ...]:
        return tuple(o.name for o in self.options)


def option_index(choice: StructuralChoice, u: np.ndarray) -> np.ndarray:
    """The option taken at each uniform u in (0, 1]: i with W_{i-1} < u <= W_i.

    >>> c = StructuralChoice("k", "", (StructuralOption("a", 0.25), StructuralOption("b", 0.75)))
    >>> option_index(c, np.array([0.1, 0.25, 0.2500001, 1.0])).tolist()
    [0, 0, 1, 1]
    """
    index = np.searchsorted(choice.cumulative(), np.asarray(u, dtype=float), side="left")
    return np.minimum(index, len(choice.options) - 1).astype(np.int64)


def choice_uniforms(seed: int, ids: np.ndarray, key: str) -> np.ndarray:
    """The uniform in (0, 1] that picks the option of ``key`` in each draw of ``ids``."""
    # Patient 0's first number of the purpose in each draw: what Streams(seed, k).column
    # gives draw by draw, computed for every draw at once.
    return draw_uniforms(seed, PURPOSE + key, np.asarray(ids, dtype=np.uint64))


def draw_structural(draws: ParameterDraws, choices: Sequence[StructuralChoice], seed: int
                    ) -> ParameterDraws:
    """``draws`` with each choice's option picked per draw (draw 0 keeps the scenario's
    own values, option "") and the picked option's parameter values put in."""
    if not choices:
        return draws
    ids = np.asarray(draws.draws, dtype=np.int64)
    values = {n: np.array(v, dtype=float) for n, v in draws.values.items()}
    clipped = dict(draws.clipped)
    random = list(draws.random)
    options: dict[str, tuple[str, ...]] = dict(draws.options)
    drawn = ids > 0
    for choice in choices:
        index = np.full(ids.size, -1, dtype=np.int64)
        index[drawn] = option_index(choice, choice_uniforms(seed, ids[drawn], choice.key))
        for i, option in enumerate(choice.options):
            # Drawn at random whether or not these draws took the option, so the list
            # (psa.csv's columns) does not depend on which draws a batch holds.
            random += [n for n, p in option.parameters.items() if n not in random
                       and p.distribution is not None and p.distribution.name != "fixed"]
            taken = index == i
            if not option.parameters or not taken.any():
                continue
            own = draw_parameters(option.parameters, ids[taken], seed)
            for name, column in own.values.items():
                values[name][taken] = column
            for name, count in own.clipped.items():
                clipped[name] = clipped.get(name, 0) + count
        options[choice.key] = tuple(choice.options[i].name if i >= 0 else "" for i in index)
    return ParameterDraws(ids, values, clipped, draws.rescaled_sets, tuple(random), options)


def text_choices(draws: ParameterDraws, choices: Sequence[StructuralChoice], j: int
                 ) -> dict[str, str]:
    """The text choices (``car_t.relapse.model``...) the j-th draw takes ({} in draw 0)."""
    return {c.key: draws.options[c.key][j] for c in choices
            if c.text and draws.options.get(c.key) and draws.options[c.key][j]}

