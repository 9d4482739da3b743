"""The vocabulary of a treatment pathway: the model as data.

A :class:`Pathway` is what an engine interprets for one strategy and one patient
group. It has two kinds of node:

* a :class:`State` is occupied for a while; the patient leaves it through a
  competing :class:`Transition` (a parametric time to event on a clock) or by
  death, whose hazard is the state's :class:`Mortality`;
* a :class:`Chance` node is passed through instantly: one categorical draw picks
  an :class:`Outcome`, which may record an event and send the patient on.

Events are labels (``"relapse"``, ``"crs_grade_2"``) written to the event log.
Nothing here knows what anything costs: a :class:`Valuation` beside the pathway
says what each state costs per year and what each event costs once, and the
outcomes layer applies it after simulation.

Random numbers are keyed by *purpose* names (transition, chance and recurring
event names, plus ``"death"``), never by position, so two strategies that share
a name share the random numbers behind it (common random numbers).

Four additions let a pathway depend on time and age without new states: a
mortality ratio that changes on the model clock (``Mortality.ratio_schedule``),
a transition hazard by age (``AgeSpecificHazard``, in
:mod:`cartsim.params.survival_age`), utilities adjusted to the general
population's decline with age (``Valuation.utility_age_norm``) and a chance
node that is skipped past an age or a time since an origin (``Chance.guard``).
Their defaults leave a pathway exactly as it was.

The scenario's own objects (a custom model as written, with parameter names for
numbers) are in :mod:`cartsim.scenario.model`; this is the model the engines interpret.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from cartsim.errors import ParameterError
from cartsim.params.survival import SurvivalModel
from cartsim.params.survival_age import AgeSpecificHazard
from cartsim.vocabulary import DEAD

STATE_CLOCK = "state"
"""Clock name for transitions timed from entry into their state."""


SEXES = ("female", "male")


@dataclass(frozen=True)
class Mortality:
    """Death hazard while in a state.

    hazard(t) = ratio(t) x background(age, sex) + ``excess_rate``. The
    background part uses the scenario's life table; ``excess_rate`` is a
    constant hazard per year whose deaths are recorded with ``excess_cause``.

    ``ratio_schedule`` makes the ratio change on the model clock (t, years since
    the patient entered the model): (from_time, ratio) pairs with from_time > 0
    and strictly increasing. On [0, first from_time) the ratio is
    ``life_table_ratio``; from each from_time on, that pair's ratio. Engines
    integrate and invert the hazard exactly across the breaks, and the cause of
    a death uses the ratio in force at its time.
    """

    life_table_ratio: float = 0.0
    excess_rate: float = 0.0
    excess_cause: str = "disease"
    ratio_schedule: tuple[tuple[float, float], ...] = ()

    def __post_init__(self) -> None:
        schedule = tuple((float(a), float(r)) for a, r in self.ratio_schedule)
        starts = [a for a, _ in schedule]
        if any(not (math.isfinite(a) and a > 0.0) for a in starts) or any(
                a >= b for a, b in itertools.pairwise(starts)):
            msg = ("Mortality.ratio_schedule: each from_time must be finite and > 0, and "
                   f"they must be strictly increasing; got {self.ratio_schedule!r}")
            raise ParameterError(msg)
        if any(not (math.isfinite(r) and r >= 0.0) for _, r in schedule):
            msg = f"Mortality.ratio_schedule: ratios must be finite and >= 0; got {schedule!r}"
            raise ParameterError(msg)
        object.__setattr__(self, "ratio_schedule", schedule)

    def ratio_at(self, t: float) -> float:
        """The life-table ratio in force at model time ``t`` (a break belongs to its new ratio).

        >>> Mortality(2.0, ratio_schedule=((5.0, 1.5),)).ratio_at(5.0)
        1.5
        """
        ratio = self.life_table_ratio
        for start, value in self.ratio_schedule:
            if t < start:
                break
            ratio = value
        return ratio

    @property
    def final_ratio(self) -> float:
        """The ratio that holds for ever after the last break."""
        return self.ratio_schedule[-1][1] if self.ratio_schedule else self.life_table_ratio


@dataclass(frozen=True)
class Transition:
    """A competing way out of a state.

    ``clock`` is ``"state"`` (time since entering the state, sampled afresh at
    each entry) or the name of an origin set earlier on the path (sampled once
    when the origin is set, e.g. a malignancy window after infusion).
    """

    name: str
    to: str
    time: SurvivalModel
    clock: str = STATE_CLOCK
    event: str | None = None

    @property
    def label(self) -> str:
        return self.event if self.event is not None else self.name


@dataclass(frozen=True)
class Outcome:
    """One branch of a chance node."""

    probability: float
    event: str | None = None
    to: str | None = None


@dataclass(frozen=True, kw_only=True)
class Guard:
    """A condition a patient must meet for a chance node to be drawn at all.

    A patient reaching the node at model time t with age0 + t > ``max_age``, or
    (``clock`` set) with t minus the time the origin ``clock`` was *first* set
    > ``within``, goes to node ``otherwise`` at once: no number is drawn, no
    event recorded, the node's origin not set. An origin never set fails no
    window (its first time counts as +inf).
    """

    otherwise: str
    max_age: float = math.inf
    clock: str | None = None
    within: float = math.inf

    def __post_init__(self) -> None:
        if math.isnan(self.max_age) or math.isnan(self.within) or self.within < 0.0:
            msg = (f"Guard: max_age must be a number and within >= 0; got max_age="
                   f"{self.max_age!r}, within={self.within!r}")
            raise ParameterError(msg)

    def fails(self, age0: float, t: float, first_set: Mapping[str, float]) -> bool:
        """True when a patient of entry age ``age0`` at time ``t`` is turned away."""
        if age0 + t > self.max_age:
            return True
        return self.clock is not None and t - first_set.get(self.clock, math.inf) > self.within


@dataclass(frozen=True)
class Chance:
    """An instantaneous categorical draw. Outcomes without ``to`` continue at ``then``.

    With a ``guard``, patients who do not meet it go to ``guard.otherwise`` instead.
    """

    name: str
    outcomes: tuple[Outcome, ...]
    then: str | None = None
    origin: str | None = None
    guard: Guard | None = None


@dataclass(frozen=True)
class Recurring:
    """Events that recur while in a state without changing it (flares, infections)."""

    event: str
    rate: float


@dataclass(frozen=True)
class State:
    """A state of the pathway. ``remission`` marks drug-free remission time."""

    name: str
    mortality: Mortality = field(default_factory=Mortality)
    transitions: tuple[Transition, ...] = ()
    recurring: tuple[Recurring, ...] = ()
    origin: str | None = None
    remission: bool = False


@dataclass(frozen=True)
class Pathway:
    """A strategy's pathway for one patient group: nodes and where to start."""

    strategy: str
    start: str
    states: Mapping[str, State]
    chances: Mapping[str, Chance] = field(default_factory=dict)

    def node_names(self) -> tuple[str, ...]:
        return (*self.states, *self.chances)

    def event_labels(self) -> tuple[str, ...]:
        """Every event label the pathway can record, in a stable order."""
        labels: list[str] = ["start"]
        for state in self.states.values():
            labels += [t.label for t in state.transitions]
            labels += [r.event for r in state.recurring]
        for chance in self.chances.values():
            labels += [o.event for o in chance.outcomes if o.event]
        return tuple(dict.fromkeys(labels))


@dataclass(frozen=True)
class Valuation:
    """What a pathway's states and events are worth: costs and QALYs.

    ``state_costs[state][category]`` is a cost per year; ``event_costs[event]
    [category]`` a one-off cost each time the event is recorded (recurring events
    included); ``event_qaly_loss[event]`` a one-off QALY loss.

    ``utility_age_norm`` ("female"/"male": general-population utility at each
    whole age 0..A, the last value beyond A, all > 0) adjusts utilities for age:
    at model time t a state of utility u accrues
    u x norm[sex][floor(age0 + t)] / norm[sex][floor(age0)] per year, a factor
    that is exactly 1 at entry and steps at each birthday. One-off QALY losses
    are not adjusted. None leaves utilities constant.
    """

    state_costs: Mapping[str, Mapping[str, float]]
    state_utility: Mapping[str, float]
    event_costs: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    event_qaly_loss: Mapping[str, float] = field(default_factory=dict)
    utility_age_norm: Mapping[str, tuple[float, ...]] | None = None
    societal: Mapping[str, float] | None = None
    """Under a societal perspective, the ``societal.*`` inputs by key (earnings,
    employment, retirement_age, work losses, caregiver hours and wage) and ``horizon``;
    None for a payer's perspective (no productivity or caregiver costs)."""

    def __post_init__(self) -> None:
        norm = self.utility_age_norm
        if norm is None:
            return
        checked = {sex: _clean_norm(norm.get(sex, ())) for sex in SEXES}
        if set(norm) != set(SEXES) or any(values is None for values in checked.values()):
            msg = ("Valuation.utility_age_norm needs 'female' and 'male', each a non-empty "
                   f"sequence of finite utilities > 0; got {norm!r}")
            raise ParameterError(msg)
        object.__setattr__(self, "utility_age_norm",
                           {sex: v for sex, v in checked.items() if v is not None})


def _clean_norm(values: Sequence[float]) -> tuple[float, ...] | None:
    """The norm's values as floats, or None unless non-empty, finite and > 0. A PSA
    values every draw under the same table: it is checked once (cached)."""
    try:
        return _clean_norm_tuple(tuple(values))
    except TypeError:  # unhashable values: checked without the cache
        return _clean_norm_tuple.__wrapped__(tuple(values))


@lru_cache(maxsize=16)
def _clean_norm_tuple(values: tuple[float, ...]) -> tuple[float, ...] | None:
    clean = tuple(float(x) for x in values)
    if not clean or not all(math.isfinite(x) and x > 0.0 for x in clean):
        return None
    return clean


def reachable_nodes(pathway: Pathway) -> set[str]:
    """Every node a patient can reach from the start (transitions and chance branches)."""
    seen: set[str] = set()
    todo = [pathway.start]
    while todo:
        node = todo.pop()
        if node in seen or node == DEAD:
            continue
        seen.add(node)
        if node in pathway.states:
            todo += [tr.to for tr in pathway.states[node].transitions]
        elif node in pathway.chances:
            chance = pathway.chances[node]
            todo += [o.to for o in chance.outcomes if o.to is not None]
            todo += [chance.then] if chance.then is not None else []
            todo += [chance.guard.otherwise] if chance.guard is not None else []
    return seen


def check_pathway(pathway: Pathway, *, lifetime: bool = False,
                  background: bool = True) -> list[tuple[str, str]]:
    """Structural problems of a pathway, as (node, message) pairs; empty when sound.

    Checks targets, clocks, probabilities and reachability; with ``lifetime``,
    also that no state keeps patients forever (no death hazard and no way out).
    ``background`` says whether a life table is in use. Builders call this so a
    modeller's mistake is reported before anything runs.
    """
    problems: list[tuple[str, str]] = []
    nodes = set(pathway.node_names())
    for node in sorted(set(pathway.states) & set(pathway.chances)):
        problems.append((node, f"node name '{node}' is used by a state and a chance node"))
    if pathway.start not in nodes:
        problems.append((pathway.start, f"start node '{pathway.start}' is not a state or "
                         "chance node"))
        return problems
    origins = {s.origin for s in pathway.states.values() if s.origin}
    origins |= {c.origin for c in pathway.chances.values() if c.origin}
    for state in pathway.states.values():
        for tr in state.transitions:
            if tr.to != DEAD and tr.to not in nodes:
                problems.append((state.name, f"transition '{tr.name}' goes to unknown node "
                                 f"'{tr.to}'"))
            if tr.clock != STATE_CLOCK and tr.clock not in origins:
                problems.append((state.name, f"transition '{tr.name}' uses clock '{tr.clock}', "
                                 "which no node sets as an origin"))
            if tr.clock != STATE_CLOCK and isinstance(tr.time, AgeSpecificHazard):
                problems.append((state.name, f"transition '{tr.name}' has an age-specific "
                                 "hazard, which runs on the state clock only (time since "
                                 f"entering the state), not on clock '{tr.clock}'"))
        m = state.mortality
        mortal = m.excess_rate > 0 or (background and m.final_ratio > 0)
        if lifetime and not mortal and not state.transitions:
            problems.append((state.name, f"state '{state.name}' has no death hazard and no way "
                             "out: with a lifetime horizon its patients would live forever "
                             "(give it a death rate or life_table ratio, or set run.horizon)"))
    for chance in pathway.chances.values():
        total = sum(o.probability for o in chance.outcomes)
        if total > 1.0 + 1e-9:
            problems.append((chance.name, f"chance '{chance.name}': probabilities sum to "
                             f"{total:g} > 1"))
        targets = [o.to for o in chance.outcomes] + [chance.then]
        for target in targets:
            if target is not None and target != DEAD and target not in nodes:
                problems.append((chance.name, f"chance '{chance.name}' goes to unknown node "
                                 f"'{target}'"))
        if chance.then is None and (
            total < 1.0 - 1e-12 or any(o.to is None for o in chance.outcomes)
        ):
            problems.append((chance.name, f"chance '{chance.name}' needs 'then' for its "
                             "remainder"))
        guard = chance.guard
        if guard is not None:
            if guard.otherwise != DEAD and guard.otherwise not in nodes:
                problems.append((chance.name, f"chance '{chance.name}': guard goes to unknown "
                                 f"node '{guard.otherwise}'"))
            if guard.clock is not None and guard.clock not in origins:
                problems.append((chance.name, f"chance '{chance.name}': guard uses clock "
                                 f"'{guard.clock}', which no node sets as an origin"))
    reached = reachable_nodes(pathway)
    for node in sorted(nodes - reached):
        problems.append((node, f"'{node}' can never be reached from the start "
                         f"('{pathway.start}'): a typo in a node name?"))
    return problems


def same_events(pathways: Iterable[Pathway]) -> dict[str, str]:
    """{b: a} for two labels of one happening: a chance node whose only outcome is
    certain (event b) and which is reached only through outcomes or transitions that
    record event a (the car_t pathway's retreatment, then its reinfusion)."""
    found: dict[str, str] = {}
    for p in pathways:
        into: dict[str, list[str | None]] = {p.start: [None]}
        for c in p.chances.values():
            for o in c.outcomes:
                if o.to is not None:
                    into.setdefault(o.to, []).append(o.event)
            for node in (c.then, c.guard.otherwise if c.guard else None):
                if node is not None:
                    into.setdefault(node, []).append(None)
        for t in (t for st in p.states.values() for t in st.transitions):
            into.setdefault(t.to, []).append(t.label)
        for name, c in p.chances.items():
            came = into.get(name, [None])
            if (len(c.outcomes) == 1 and c.outcomes[0].probability == 1.0 and c.guard is None
                    and c.outcomes[0].event is not None and came[0] is not None
                    and len(set(came)) == 1):
                found[c.outcomes[0].event] = came[0]
    return found
