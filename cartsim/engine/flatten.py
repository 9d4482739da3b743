"""A strategy's pathways as arrays for the compiled kernel: one structure, numbers per row.

Rows are pathways with the same *structure* (nodes, transitions and their
targets and clocks, chance outcomes, recurring labels, guards): one per
patient group, or per (PSA draw, group). ``flatten`` turns them into

* integer arrays describing the structure, shared by every row (``Plan.ints``);
* a float matrix with one row of numbers per pathway (``Plan.numbers``): each
  transition's time model as a family code and its parameters (so the family
  may differ between rows, e.g. a relapse shape drawn per PSA draw), each
  state's mortality (ratio, excess rate, cause, ratio schedule), each chance
  node's cumulative probabilities, the state that is certain, and its guard's
  numbers, and each recurring event's rate.

Random-number purposes are the names the simpy engine uses (``"death"``,
transition, chance and recurring-event names), keyed by ``cartsim.rng``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cartsim.engine.plan import DEATH_EVENT, DEATH_PURPOSE
from cartsim.errors import SimulationError
from cartsim.params.survival import (
    Exponential,
    Fixed,
    Gompertz,
    LogLogistic,
    LogNormal,
    Never,
    SurvivalModel,
    Weibull,
)
from cartsim.params.survival_age import SEXES, AgeSpecificHazard
from cartsim.params.survival_shapes import (
    CureMixture,
    LinearRamp,
    PiecewiseExponential,
    Window,
)
from cartsim.pathway.model import STATE_CLOCK, Pathway
from cartsim.vocabulary import DEAD

# Time-model family codes (first number of an encoded time model).
EXPONENTIAL, WEIBULL, GOMPERTZ, LOGLOGISTIC, LOGNORMAL, PIECEWISE = 1, 2, 3, 4, 5, 6
FIXED, NEVER, CURE, RAMP, WINDOW, AGE = 7, 8, 9, 10, 11, 12
DEAD_NODE = -1
"""Target code of death."""
NO_NODE = -2
"""Target code of "none": an outcome without ``to`` continues at the chance's ``then``."""
CERTAIN_NONE, CERTAIN_DRAW = -1.0, -2.0
"""A chance node's "certain" number: no outcome possible, or a number must be drawn
(otherwise the index of the outcome that is certain)."""
BACKGROUND, DISEASE = 0, 1
"""Cause codes of the two life-table causes of death."""
STATE_TIMER, NO_TIMER = -1, -2
"""A transition's timer code: on the state clock, or on a clock that is never set."""

# Columns of Plan.ints["states"], ["transitions"], ["chances"], ["outcomes"], ["recurring"].
ST_TR_LO, ST_TR_HI, ST_ORIGIN, ST_REC_LO, ST_REC_HI, ST_MORT, ST_LOG = range(7)
TR_TO, TR_EVENT, TR_PURPOSE, TR_TIMER, TR_TIME, TR_CAUSE = range(6)
CH_OUT_LO, CH_OUT_HI, CH_THEN, CH_ORIGIN, CH_PURPOSE, CH_NUM, CH_GUARD, CH_CLOCK, \
    CH_ELSE = range(9)
OUT_EVENT, OUT_TO, OUT_CAUSE = range(3)
REC_EVENT, REC_PURPOSE, REC_RATE = range(3)
OT_TIMER, OT_PURPOSE, OT_TIME = range(3)


def encode_time(model: SurvivalModel) -> list[float]:
    """A time model as [family code, parameters...] (see the kernel's ``sample_time``)."""
    kind = type(model)  # the usual families by exact type: a PSA encodes thousands
    if kind is Exponential:
        return [EXPONENTIAL, model.rate]  # type: ignore[attr-defined]
    if kind is Fixed:
        return [FIXED, model.time]  # type: ignore[attr-defined]
    if kind is Window:
        return [WINDOW, model.probability, model.window]  # type: ignore[attr-defined]
    if kind is Never:
        return [NEVER]
    if kind is AgeSpecificHazard:  # before a chain of isinstance checks against an ABC
        return _encode_age(model)  # type: ignore[arg-type]
    if kind is CureMixture:
        return [CURE, model.cure_fraction, *encode_time(model.base)]  # type: ignore[attr-defined]
    if isinstance(model, Exponential):
        return [EXPONENTIAL, model.rate]
    if isinstance(model, Weibull):
        return [WEIBULL, model.shape, model.scale]
    if isinstance(model, Gompertz):
        return [GOMPERTZ, model.shape, model.rate]
    if isinstance(model, LogLogistic):
        return [LOGLOGISTIC, model.shape, model.scale]
    if isinstance(model, LogNormal):
        return [LOGNORMAL, model.meanlog, model.sdlog]
    if isinstance(model, PiecewiseExponential):
        n = len(model.rates)
        return [PIECEWISE, n, *model.breaks, *model.rates, *model._cum]
    if isinstance(model, Fixed):
        return [FIXED, model.time]
    if isinstance(model, Never):
        return [NEVER]
    if isinstance(model, CureMixture):
        return [CURE, model.cure_fraction, *encode_time(model.base)]
    if isinstance(model, LinearRamp):
        return [RAMP, model.rate, model.ramp]
    if isinstance(model, Window):
        return [WINDOW, model.probability, model.window]
    if isinstance(model, AgeSpecificHazard):
        return _encode_age(model)
    msg = (f"the compiled engine cannot simulate the time model {type(model).__name__}; "
           "use --engine simpy")
    raise SimulationError(msg)


def _encode_age(model: AgeSpecificHazard) -> list[float]:
    out: list[float] = [AGE, float(model.never)]
    for sex in SEXES:
        starts, hazards = model.bands(sex)
        out += [len(starts), *starts, *hazards]
    return out


@dataclass(frozen=True)
class Plan:
    """Flattened pathways of one strategy (see the module docstring)."""

    strategy: str
    state_names: tuple[str, ...]
    event_names: tuple[str, ...]
    cause_names: tuple[str, ...]
    purposes: tuple[str, ...]
    recurring_purposes: tuple[str, ...]
    ints: dict[str, np.ndarray]
    numbers: np.ndarray
    n_origins: int
    n_timers: int


class _Layout:
    """Offsets of each numbered slot in a row, widths = the longest encoding of any row."""

    def __init__(self) -> None:
        self.rows: list[list[list[float]]] = []

    def add(self, row: list[list[float]]) -> None:
        self.rows.append(row)

    def matrix(self) -> tuple[np.ndarray, np.ndarray]:
        lengths = [[len(slot) for slot in row] for row in self.rows]
        widths = np.max(lengths, axis=0).tolist()
        offsets = np.concatenate([[0], np.cumsum(widths)]).astype(np.int64)
        padded = [list(itertools.chain.from_iterable(row)) or [0.0]
                  if sizes == widths else  # rows of one family per slot need no padding
                  list(itertools.chain.from_iterable(
                      slot if len(slot) == w else [*slot, *([0.0] * (w - len(slot)))]
                      for slot, w in zip(row, widths, strict=True))) or [0.0]
                  for row, sizes in zip(self.rows, lengths, strict=True)]
        return offsets[:-1], np.array(padded, dtype=np.float64)


def structure_key(pathway: Pathway) -> tuple[object, ...]:
    """What must be identical for two pathways to share one plan (numbers may differ)."""
    states = tuple(
        (s.name, s.origin, tuple((t.name, t.to, t.clock, t.label) for t in s.transitions),
         tuple(dict.fromkeys(r.event for r in s.recurring)), s.mortality.excess_cause)
        for s in pathway.states.values())
    chances = tuple(
        (c.name, c.origin, c.then, tuple((o.event, o.to) for o in c.outcomes),
         None if c.guard is None else (c.guard.clock, c.guard.otherwise))
        for c in pathway.chances.values())
    return (pathway.start, states, chances)


def flatten(rows: Sequence[Pathway], state_names: Sequence[str],
            event_names: Sequence[str], *, grouped: bool = False) -> Plan:
    """Flatten pathways that share one structure; ``state_names`` and ``event_names``
    are the strategy's log names (``plan.shared_names``), which the codes index.
    ``grouped``: the caller grouped ``rows`` by :func:`structure_key` already, so it
    is not computed again for each row (a PSA batch has thousands)."""
    first = rows[0]
    key = structure_key(first) if not grouped else None
    for pw in rows[1:] if not grouped else ():
        if structure_key(pw) != key:
            msg = (f"strategy '{first.strategy}': pathways of one plan must share their "
                   "structure (states, transitions, chance nodes)")
            raise SimulationError(msg)
    states, chances = list(first.states.values()), list(first.chances.values())
    node = {name: i for i, name in enumerate([s.name for s in states]
                                            + [c.name for c in chances])}
    node[DEAD] = DEAD_NODE
    event = {name: i for i, name in enumerate(event_names)}
    log_state = {name: i for i, name in enumerate(state_names)}
    purposes: dict[str, int] = {DEATH_PURPOSE: 0}
    rec_purposes: dict[str, int] = {}
    causes: dict[str, int] = {"background": BACKGROUND, "disease": DISEASE}
    origins: dict[str, int] = {}
    for s in states:
        if s.origin:
            origins.setdefault(s.origin, len(origins))
    for c in chances:
        if c.origin:
            origins.setdefault(c.origin, len(origins))

    def code(table: dict[str, int], name: str) -> int:
        return table.setdefault(name, len(table))

    # Origin-clocked transitions are timers keyed by transition name (as in the
    # simpy engine), sampled when their origin is set.
    timers: dict[str, int] = {}
    clocks: dict[str, str] = {}
    origin_trs: list[list[int]] = [[] for _ in origins]
    timer_models: list[tuple[int, int, str]] = []  # (timer, purpose, state/transition)
    for s in states:
        for t in s.transitions:
            if t.clock == STATE_CLOCK:
                continue
            if clocks.setdefault(t.name, t.clock) != t.clock:
                msg = (f"transition '{t.name}' runs on clocks '{clocks[t.name]}' and "
                       f"'{t.clock}' in different states; give each its own name")
                raise SimulationError(msg)
            if isinstance(t.time, AgeSpecificHazard):
                msg = (f"transition '{t.name}' has an age-specific hazard on clock "
                       f"'{t.clock}'; it runs on the state clock only")
                raise SimulationError(msg)
            if t.name not in timers and t.clock in origins:
                timers[t.name] = len(timers)
                origin_trs[origins[t.clock]].append(len(timer_models))
                timer_models.append((timers[t.name], code(purposes, t.name), f"{s.name}/{t.name}"))

    st_rows: list[list[int]] = []
    tr_rows: list[list[int]] = []
    ch_rows: list[list[int]] = []
    out_rows: list[list[int]] = []
    rec_rows: list[list[int]] = []
    for s in states:
        rec_labels = list(dict.fromkeys(r.event for r in s.recurring))
        lo = len(tr_rows)
        for t in s.transitions:
            # -1: the state clock; -2: a clock no node sets (the event never happens)
            timer = timers.get(t.name, NO_TIMER) if t.clock != STATE_CLOCK else STATE_TIMER
            to = node[t.to]
            cause = code(causes, t.label) if to == DEAD_NODE else -1
            tr_rows.append([to, event[t.label], code(purposes, t.name), timer, -1, cause])
        rec_lo = len(rec_rows)
        for label in sorted(rec_labels, key=event.__getitem__):  # the log's row order
            rec_rows.append([event[label], code(rec_purposes, label), -1])
        st_rows.append([lo, len(tr_rows), origins.get(s.origin, -1) if s.origin else -1,
                        rec_lo, len(rec_rows), -1, log_state[s.name]])
        code(causes, s.mortality.excess_cause)
    for c in chances:
        lo = len(out_rows)
        for o in c.outcomes:
            to = node[o.to] if o.to is not None else NO_NODE
            cause = code(causes, o.event) if o.event else -1
            out_rows.append([event[o.event] if o.event else -1, to, cause])
        guard = c.guard
        ch_rows.append([lo, len(out_rows), node[c.then] if c.then is not None else NO_NODE,
                        origins.get(c.origin, -1) if c.origin else -1, code(purposes, c.name),
                        -1, int(guard is not None),
                        origins.get(guard.clock, -1) if guard and guard.clock else -1,
                        node[guard.otherwise] if guard else NO_NODE])
    code(causes, DEATH_EVENT)

    layout = _Layout()
    for pw in rows:
        layout.add(_encode_row(pw, timer_models, causes, event))
    offsets, numbers = layout.matrix()
    # Assign offsets in the order _encode_row wrote the slots.
    it = iter(offsets.tolist())
    for r in st_rows:
        r[ST_MORT] = next(it)
    for r in tr_rows:
        r[TR_TIME] = next(it)
    for r in ch_rows:
        r[CH_NUM] = next(it)
    for r in rec_rows:
        r[REC_RATE] = next(it)
    ot_rows = [[timer, purpose, next(it)] for timer, purpose, _ in timer_models]
    or_lo = np.cumsum([0] + [len(x) for x in origin_trs])
    order = [i for x in origin_trs for i in x]
    ints = {
        "states": _table(st_rows, 7), "transitions": _table(tr_rows, 6),
        "chances": _table(ch_rows, 9), "outcomes": _table(out_rows, 3),
        "recurring": _table(rec_rows, 3),
        "origin_timers": _table([ot_rows[i] for i in order], 3),
        "origin_range": np.array(or_lo, dtype=np.int64),
        "misc": np.array([node[first.start], event["start"], event[DEATH_EVENT],
                          causes[DEATH_EVENT]], dtype=np.int64),
    }
    return Plan(first.strategy, tuple(state_names), tuple(event_names), tuple(causes),
                tuple(purposes), tuple(rec_purposes), ints, numbers, len(origins), len(timers))


def _table(rows: list[list[int]], width: int) -> np.ndarray:
    return np.array(rows, dtype=np.int64).reshape(-1, width)


def _encode_row(pw: Pathway, timer_models: list[tuple[int, int, str]],
                causes: dict[str, int], event: dict[str, int]) -> list[list[float]]:
    """One pathway's numbers, slot by slot: mortalities, transition times, chances,
    recurring rates, origin timers (the order ``flatten`` assigns offsets in)."""
    slots: list[list[float]] = []
    states = list(pw.states.values())
    for s in states:
        m = s.mortality
        sched = m.ratio_schedule
        slots.append([m.life_table_ratio, m.excess_rate, causes[m.excess_cause], len(sched),
                      *(a for a, _ in sched), *(r for _, r in sched)])
    for s in states:
        for t in s.transitions:
            slots.append(encode_time(t.time))
    for c in pw.chances.values():
        cum, acc = [], 0.0
        for o in c.outcomes:
            acc += o.probability
            cum.append(acc)
        certain = CERTAIN_DRAW
        if acc == 0.0:
            certain = CERTAIN_NONE
        else:
            for k, o in enumerate(c.outcomes):
                if o.probability == 1.0:
                    certain = float(k)
                    break
        guard = c.guard
        slots.append([certain, guard.max_age if guard else 0.0, guard.within if guard else 0.0,
                      *cum])
    for s in states:
        rates: dict[str, float] = {}
        for r in s.recurring:  # as count_recurring: the last positive rate of a label
            rates.setdefault(r.event, 0.0)
            if r.rate > 0:
                rates[r.event] = r.rate
        for label in sorted(rates, key=event.__getitem__):
            slots.append([rates[label]])
    by_name = {f"{s.name}/{t.name}": t for s in states for t in s.transitions}
    for _, _, where in timer_models:
        slots.append(encode_time(by_name[where].time))
    return slots
