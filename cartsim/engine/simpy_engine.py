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
  declares them when their time comes. An age-specific hazard is sampled at
  state entry from the patient's age then.
* **Guards.** A chance node with a guard sends a patient who fails it (too old,
  or too long since an origin was first set) to the guard's node at once,
  drawing nothing and recording nothing.
* **Recurring events** are counted after the run (see ``recurring.py``); they
  do not change the state.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Mapping

import simpy

from cartsim.cohort import Cohort
from cartsim.engine.events import EventLog, LogBuilder, check_span, concatenate_logs
from cartsim.engine.mortality import PatientMortality
from cartsim.engine.plan import (
    DEATH_EVENT,
    DEATH_PURPOSE,
    Plan,
    make_plan,
    shared_names,
)
from cartsim.engine.recurring import count_recurring
from cartsim.errors import SimulationError
from cartsim.params.life_table import LifeTable
from cartsim.pathway.model import (
    STATE_CLOCK,
    Mortality,
    Pathway,
    State,
    Transition,
)
from cartsim.rng import ChunkUniforms, PatientUniforms, Streams
from cartsim.vocabulary import DEAD


def _patient(
    env: simpy.Environment,
    pid: int,
    plan: Plan,
    uni: PatientUniforms,
    mort: PatientMortality,
    horizon: float,
    log: LogBuilder,
) -> Generator[simpy.events.Event, None, None]:
    pathway = plan.pathway
    chances, states, compiled = pathway.chances, pathway.states, plan.compiled
    compiled_chances = plan.compiled_chances
    draw = uni.next  # a bound method looked up once: it runs ~20 times per patient
    events, sojourns = log.events.append, log.sojourns.append
    event_code, state_code = log.event_index, log.state_index
    seq = 0
    budget = -math.log(draw(DEATH_PURPOSE))
    # The death time only changes when the mortality changes: while consecutive
    # states share one, the time found at the first of them stands.
    m_now: Mortality | None = None
    m_since = 0.0
    t_death = math.inf
    origin_times: dict[str, float] = {}
    first_set: dict[str, float] = {}  # when each origin was first set (guards' clocks)
    node: str = pathway.start
    t = 0.0
    if horizon <= 0.0:
        log.end(pid, 0.0, None)
        return
    events((pid, event_code["start"], 0.0, seq))
    seq += 1

    def set_origin(name: str) -> None:
        first_set.setdefault(name, t)
        for tr in plan.origin_transitions.get(name, ()):
            origin_times[tr.name] = t + tr.time.time_from_uniform(draw(tr.name))

    while True:
        cause = None
        while node in chances:
            chance = chances[node]
            guard = chance.guard
            if guard is not None and guard.fails(mort.age0, t, first_set):
                node = guard.otherwise
                continue
            if chance.origin:
                set_origin(chance.origin)
            cum, outcomes, certain = compiled_chances[node]
            chosen = None
            if certain is None:
                pick = 1.0 - draw(chance.name)
                for k, bound in enumerate(cum):
                    if pick < bound:
                        chosen = outcomes[k]
                        break
            elif certain >= 0:
                chosen = outcomes[certain]
            nxt = chance.then
            if chosen is not None:
                if chosen.event:
                    events((pid, event_code[chosen.event], t, seq))
                    seq += 1
                    cause = chosen.event
                if chosen.to is not None:
                    nxt = chosen.to
            node = nxt  # type: ignore[assignment]
        if node == DEAD:
            log.end(pid, t, cause or DEATH_EVENT)
            return
        state: State = states[node]
        if state.origin:
            set_origin(state.origin)
        best_time, best = horizon, None
        m = state.mortality
        # Identity first: dataclass equality is slow, and states usually share one.
        if m is not m_now and m != m_now:
            if m_now is not None:
                budget -= mort.integral(m_now, m_since, t)
            m_now, m_since = m, t
            t_death = mort.time_of_death(m, t, budget) if budget > 0 else t
        if t_death < best_time:
            best_time, best = t_death, DEATH_EVENT
        for tr, on_state_clock, rate, sampler, fixed, aged in compiled[node]:
            if on_state_clock:
                if rate is not None:
                    when = t + (0.0 - math.log(draw(tr.name))) / rate
                elif sampler is None:
                    when = t + fixed
                elif aged:
                    when = t + sampler(draw(tr.name), mort.age0 + t, mort.sex)
                else:
                    when = t + sampler(draw(tr.name))
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
        sojourns((pid, state_code[node], t, best_time, seq))
        seq += 1
        if best is None:
            log.end(pid, horizon, None)
            return
        if best is DEATH_EVENT:  # a Transition otherwise (no slow dataclass ==)
            events((pid, event_code[DEATH_EVENT], best_time, seq))
            log.end(pid, best_time, mort.cause(m, best_time, draw(DEATH_PURPOSE)))
            return
        t = best_time
        assert isinstance(best, Transition)
        if best.clock != STATE_CLOCK:
            origin_times[best.name] = math.inf
        events((pid, event_code[best.label], t, seq))
        seq += 1
        node = best.to
        if node == DEAD:
            log.end(pid, t, best.label)
            return


def simulate_simpy(
    pathways: Mapping[str, Pathway],
    patients: Cohort,
    *,
    life_table: LifeTable | None,
    horizon: float,
    streams: Streams,
    chunk_size: int = 4096,
    span: range | None = None,
) -> EventLog:
    """Simulate every patient under one strategy (one pathway per patient group).

    ``span``, a contiguous range of patient indices, simulates only those
    patients (their log keeps the cohort's patient indices); None means all.
    """
    strategy = next(iter(pathways.values())).strategy
    plans = {group: make_plan(pw) for group, pw in pathways.items()}
    state_names, event_names = shared_names(pathways)
    logs: list[EventLog] = []
    span = check_span(span, patients.n)
    for start in range(span.start, span.stop, chunk_size):
        stop = min(start + chunk_size, span.stop)
        uniforms = ChunkUniforms(streams, start, stop)
        builder = LogBuilder(strategy, start, stop, state_names, event_names)
        env = simpy.Environment()
        for pid in range(start, stop):
            plan = plans[patients.group[pid]]
            mort = PatientMortality(
                life_table, float(patients.age[pid]),
                "female" if patients.female[pid] else "male",
            )
            uni = uniforms.patient(pid)
            env.process(_patient(env, pid, plan, uni, mort, horizon, builder))
        env.run()
        log = builder.build()
        count_recurring(log, pathways, patients.group, streams, start)
        logs.append(log)
    if not logs:
        return LogBuilder(strategy, span.start, span.start, state_names, event_names).build()
    return concatenate_logs(logs)
