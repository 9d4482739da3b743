"""What both engines need before they run: a compiled pathway.

The patients are a :class:`cartsim.cohort.Cohort`. A :class:`Plan` turns a pathway into
lookups the event loops can use directly:
the origin-clocked transitions of each origin, and per state the transitions in
the order that breaks ties, with exponential rates and fixed times picked out
(they need no sampler call, and a time that needs no randomness draws no
number). Sharing one plan is what keeps the two engines' random-number use
identical.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cartsim.errors import SimulationError
from cartsim.params.survival import Exponential, Fixed, Never
from cartsim.params.survival_age import AgeSpecificHazard
from cartsim.pathway.model import STATE_CLOCK, Chance, Pathway, State, Transition

DEATH_PURPOSE = "death"
DEATH_EVENT = "death"


@dataclass(frozen=True)
class Plan:
    """Per-pathway facts computed once: origin-clocked and compiled transitions."""

    pathway: Pathway
    origin_transitions: Mapping[str, tuple[Transition, ...]]
    compiled: Mapping[str, tuple[tuple[Any, ...], ...]]
    compiled_chances: Mapping[str, tuple[Any, ...]]


def make_plan(pathway: Pathway) -> Plan:
    by_origin: dict[str, dict[str, Transition]] = {}
    for state in pathway.states.values():
        for tr in state.transitions:
            if tr.clock != STATE_CLOCK:
                if isinstance(tr.time, AgeSpecificHazard):
                    msg = (f"transition '{tr.name}' has an age-specific hazard on clock "
                           f"'{tr.clock}'; it runs on the state clock only")
                    raise SimulationError(msg)
                seen = by_origin.setdefault(tr.clock, {}).setdefault(tr.name, tr)
                if seen.time != tr.time:
                    msg = (
                        f"transition '{tr.name}' on clock '{tr.clock}' has different "
                        "timing in different states; give each its own name"
                    )
                    raise SimulationError(msg)
    return Plan(
        pathway=pathway,
        origin_transitions={k: tuple(v.values()) for k, v in by_origin.items()},
        compiled={name: compile_transitions(state) for name, state in pathway.states.items()},
        compiled_chances={name: compile_chance(c) for name, c in pathway.chances.items()},
    )


def shared_names(pathways: Mapping[str, Pathway]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """State and event names of a strategy, in a stable order across its groups."""
    states: list[str] = []
    events: list[str] = []
    for pw in pathways.values():
        states += list(pw.states)
        events += list(pw.event_labels())
    events.append(DEATH_EVENT)
    return tuple(dict.fromkeys(states)), tuple(dict.fromkeys(events))


def compile_transitions(state: State) -> tuple[tuple[Any, ...], ...]:
    """(transition, on state clock?, exponential rate or None, sampler, fixed time,
    sampler needs age?) per transition.

    Exponential times are computed inline (-ln u / rate, the same arithmetic as
    ``Exponential.time_from_uniform``) because they dominate the event loop.
    Times that need no random number (a zero rate, a fixed duration, never, an
    age-specific hazard that is zero at every age) get the sampler ``None`` and
    draw nothing; each purpose has its own stream, so this shifts no other draw.
    An age-specific hazard's sampler takes (uniform, age at entry, sex).
    """
    out: list[tuple[Any, ...]] = []
    for tr in state.transitions:
        time = tr.time
        clock = tr.clock == STATE_CLOCK
        rate = time.rate if isinstance(time, Exponential) else None
        if rate == 0.0 or isinstance(time, Never) or (
                isinstance(time, AgeSpecificHazard) and time.never):
            out.append((tr, clock, None, None, math.inf, False))
        elif isinstance(time, Fixed):
            out.append((tr, clock, None, None, time.time, False))
        elif isinstance(time, AgeSpecificHazard):
            out.append((tr, clock, None, time.time_from_uniform_at, 0.0, True))
        else:
            out.append((tr, clock, rate, time.time_from_uniform, 0.0, False))
    return tuple(out)


def compile_chance(chance: Chance) -> tuple[Any, ...]:
    """(cumulative probabilities, outcomes, the certain outcome's index or None).

    A draw is made only when the outcome is uncertain: with one outcome of
    probability 1 (or none possible) the branch is taken without a number.
    """
    cum, acc = [], 0.0
    for outcome in chance.outcomes:
        acc += outcome.probability
        cum.append(acc)
    certain = None
    if acc == 0.0:
        certain = -1
    else:
        for k, outcome in enumerate(chance.outcomes):
            if outcome.probability == 1.0:
                certain = k
                break
    return tuple(cum), chance.outcomes, certain
