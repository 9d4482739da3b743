"""The reference engine: one SimPy process per patient interprets a Pathway.

Rules the engine follows (documented for users in the README):

* **Clock and horizon.** Time is in years from the start of the strategy.
  Nothing happens at or after the horizon H: the interval is [0, H), an event
  scheduled at exactly H is not counted, and a patient alive at H is censored.
* **Ties.** When two candidate events fall at the same time the horizon wins,
  then death, then transitions in the order the state declares them.
* **Death** is a cumulative-hazard budget: each patient draws one Exp(1)
  amount E ("death" purpose) and dies when the integrated hazard of the states
  they pass through reaches E. This is exact for hazards that change with age
  (life table) and state (mortality ratio), and it keeps a patient's death
  synchronised across strategies (common random numbers). The cause of a death
  is drawn in proportion to the hazard components at that instant.
* **Transitions** timed on the state clock are sampled by inverse CDF at each
  entry into the state; those on an origin clock (e.g. "infusion") are sampled
  once when the origin is set and fire if the patient is in a state that
  declares them when their time comes.
* **Recurring events** are counted after the run (see ``recurring.py``); they
  do not change the state.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Mapping
from dataclasses import dataclass

import numpy as np
import simpy

from cartsim.engine.events import EventLog, LogBuilder, concatenate_logs
from cartsim.engine.recurring import count_recurring
from cartsim.rng import ChunkUniforms, PatientUniforms, Streams
from cartsim.errors import SimulationError
from cartsim.params.life_table import LifeTable
from cartsim.pathway.model import DEAD, STATE_CLOCK, Mortality, Pathway, State, Transition

DEATH_PURPOSE = "death"
DEATH_EVENT = "death"


@dataclass(frozen=True)
class PatientInputs:
    """What the engine needs to know about the patients (struct of arrays)."""

    group: tuple[str, ...]
    age: np.ndarray
    female: np.ndarray

    @property
    def n(self) -> int:
        return len(self.group)


@dataclass(frozen=True)
class Plan:
    """Per-pathway facts computed once: purposes used and origin-clocked transitions."""

    pathway: Pathway
    purposes: tuple[str, ...]
    origin_transitions: Mapping[str, tuple[Transition, ...]]


def make_plan(pathway: Pathway) -> Plan:
    purposes: list[str] = [DEATH_PURPOSE]
    by_origin: dict[str, dict[str, Transition]] = {}
    for state in pathway.states.values():
        for tr in state.transitions:
            purposes.append(tr.name)
            if tr.clock != STATE_CLOCK:
                seen = by_origin.setdefault(tr.clock, {}).setdefault(tr.name, tr)
                if seen.time != tr.time:
                    msg = (
                        f"transition '{tr.name}' on clock '{tr.clock}' has different "
                        "timing in different states; give each its own name"
                    )
                    raise SimulationError(msg)
    purposes += list(pathway.chances)
    return Plan(
        pathway=pathway,
        purposes=tuple(dict.fromkeys(purposes)),
        origin_transitions={k: tuple(v.values()) for k, v in by_origin.items()},
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


class _Mortality:
    """Death-time arithmetic for one patient (age and sex fixed)."""

    __slots__ = ("age0", "sex", "table")

    def __init__(self, table: LifeTable | None, age0: float, sex: str) -> None:
        self.table = table
        self.age0 = age0
        self.sex = sex

    def integral(self, m: Mortality, t0: float, t1: float) -> float:
        """Integrated hazard of state mortality ``m`` over [t0, t1]."""
        h = m.excess_rate * (t1 - t0)
        if m.life_table_ratio and self.table is not None:
            lt, a0 = self.table, self.age0
            h += m.life_table_ratio * (
                lt.cumulative_hazard(self.sex, a0 + t1) - lt.cumulative_hazard(self.sex, a0 + t0)
            )
        return h

    def time_of_death(self, m: Mortality, t: float, budget: float) -> float:
        """Time at which the hazard integrated from ``t`` reaches ``budget``."""
        ratio, excess = m.life_table_ratio, m.excess_rate
        lt = self.table
        if not ratio or lt is None:
            return t + budget / excess if excess > 0 else math.inf
        age = self.age0 + t
        if age >= lt.max_age:
            return t
        if excess == 0:
            target = lt.cumulative_hazard(self.sex, age) + budget / ratio
            return lt.age_at_cumulative(self.sex, target) - self.age0
        hazard = lt.hazard[self.sex]
        remaining = budget
        while age < lt.max_age:
            k = int(age)
            rate = ratio * hazard[k] + excess
            need = rate * (k + 1 - age)
            if need >= remaining:
                return age + remaining / rate - self.age0
            remaining -= need
            age = float(k + 1)
        return lt.max_age - self.age0

    def cause(self, m: Mortality, t: float, u: float) -> str:
        """Cause of a death at ``t``: pick a hazard component with probability ∝ size."""
        lt = self.table
        if lt is None or not m.life_table_ratio:
            return m.excess_cause
        mu = lt.hazard_at(self.sex, self.age0 + t)
        if math.isinf(mu):
            return "background"
        parts = (
            ("background", min(m.life_table_ratio, 1.0) * mu),
            ("disease", max(m.life_table_ratio - 1.0, 0.0) * mu),
            (m.excess_cause, m.excess_rate),
        )
        total = sum(p for _, p in parts)
        pick = (1.0 - u) * total
        acc = 0.0
        for name, p in parts:
            acc += p
            if pick < acc:
                return name
        return parts[0][0]


def _patient(
    env: simpy.Environment,
    pid: int,
    plan: Plan,
    uni: PatientUniforms,
    mort: _Mortality,
    horizon: float,
    log: LogBuilder,
) -> Generator[simpy.events.Event, None, None]:
    pathway = plan.pathway
    budget = -math.log(uni.next(DEATH_PURPOSE))
    origin_times: dict[str, float] = {}
    node: str = pathway.start
    t = 0.0
    if horizon <= 0.0:
        log.end(pid, 0.0, None)
        return
    log.event(pid, "start", 0.0)

    def set_origin(name: str) -> None:
        for tr in plan.origin_transitions.get(name, ()):
            origin_times[tr.name] = t + tr.time.time_from_uniform(uni.next(tr.name))

    while True:
        cause = None
        while node in pathway.chances:
            chance = pathway.chances[node]
            if chance.origin:
                set_origin(chance.origin)
            pick = 1.0 - uni.next(chance.name)
            acc = 0.0
            nxt = chance.then
            for outcome in chance.outcomes:
                acc += outcome.probability
                if pick < acc:
                    if outcome.event:
                        log.event(pid, outcome.event, t)
                        cause = outcome.event
                    if outcome.to is not None:
                        nxt = outcome.to
                    break
            node = nxt  # type: ignore[assignment]
        if node == DEAD:
            log.end(pid, t, cause or DEATH_EVENT)
            return
        state: State = pathway.states[node]
        if state.origin:
            set_origin(state.origin)
        best_time, best = horizon, None
        m = state.mortality
        t_death = mort.time_of_death(m, t, budget) if budget > 0 else t
        if t_death < best_time:
            best_time, best = t_death, DEATH_EVENT
        for tr in state.transitions:
            if tr.clock == STATE_CLOCK:
                when = t + tr.time.time_from_uniform(uni.next(tr.name))
            else:
                when = origin_times.get(tr.name, math.inf)
                if when < t:
                    when = math.inf
            if when < best_time:
                best_time, best = when, tr
        if math.isinf(best_time):
            msg = (
                f"patient {pid} in strategy '{pathway.strategy}' would stay in state "
                f"'{node}' forever: give it a mortality or set a finite horizon"
            )
            raise SimulationError(msg)
        if best_time > t:
            yield env.timeout(best_time - t)
        log.sojourn(pid, node, t, best_time)
        if best is None:
            log.end(pid, horizon, None)
            return
        if best == DEATH_EVENT:
            log.event(pid, DEATH_EVENT, best_time)
            log.end(pid, best_time, mort.cause(m, best_time, uni.next(DEATH_PURPOSE)))
            return
        budget -= mort.integral(m, t, best_time)
        t = best_time
        assert isinstance(best, Transition)
        if best.clock != STATE_CLOCK:
            origin_times[best.name] = math.inf
        log.event(pid, best.label, t)
        node = best.to
        if node == DEAD:
            log.end(pid, t, best.label)
            return


def simulate_simpy(
    pathways: Mapping[str, Pathway],
    patients: PatientInputs,
    *,
    life_table: LifeTable | None,
    horizon: float,
    streams: Streams,
    chunk_size: int = 4096,
) -> EventLog:
    """Simulate every patient under one strategy (one pathway per patient group)."""
    strategy = next(iter(pathways.values())).strategy
    plans = {group: make_plan(pw) for group, pw in pathways.items()}
    state_names, event_names = shared_names(pathways)
    logs: list[EventLog] = []
    for start in range(0, patients.n, chunk_size):
        stop = min(start + chunk_size, patients.n)
        uniforms = ChunkUniforms(streams, start, stop)
        builder = LogBuilder(strategy, start, stop, state_names, event_names)
        env = simpy.Environment()
        for pid in range(start, stop):
            plan = plans[patients.group[pid]]
            mort = _Mortality(
                life_table, float(patients.age[pid]),
                "female" if patients.female[pid] else "male",
            )
            uni = uniforms.patient(pid, plan.purposes)
            env.process(_patient(env, pid, plan, uni, mort, horizon, builder))
        env.run()
        log = builder.build()
        count_recurring(log, pathways, patients.group, streams, start)
        logs.append(log)
    if not logs:
        empty = LogBuilder(strategy, 0, 0, state_names, event_names).build()
        return empty
    return concatenate_logs(logs)
