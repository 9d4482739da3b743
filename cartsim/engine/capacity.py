"""A CAR-T programme with limited capacity: referrals queue for shared resources (simpy).

Here the discrete-event engine earns its keep. Patients are referred over
calendar time and compete, first come first served, for

1. a **manufacturing slot**: ``slots_per_month`` are released at the start of
   each calendar month, and a slot nobody takes that month lapses;
2. an **apheresis chair**, held for the collection time; the vein-to-vein time
   (``car_t.manufacturing.time``) runs from the start of apheresis;
3. if the product was made, a **treatment-centre bed**, held for the stay from
   infusion (for the whole stay, whatever happens to the patient).

While they queue they stay in the CAR-T pathway's bridging state
(``manufacturing``: conventional therapy of active disease, with its flares,
infections, cancer risk and mortality). The queue only changes how long each
patient bridges, so a run has three steps, all keyed by patient index:

* **bridging exits**: the CAR-T pathway with a bridging time that never ends
  gives the time each patient would leave bridging on their own (death,
  cancer or the horizon), from the same random numbers the full run uses;
* **queue**: one simpy process per referral. A patient still queueing at that
  time leaves the queue; the others end bridging at ``w`` = their waits plus
  the vein-to-vein time (a patient leaves if ``w`` is not before it);
* **pathway**: the CAR-T pathway with bridging time ``w`` for that patient
  (``inf`` for one who left), run by the reference simpy engine.

Every draw is the patient's own, whatever the queue order (common random
numbers). Run with unlimited capacity, the same patients give the outcomes
without waiting: ``w`` is then exactly the vein-to-vein time and the run
equals a plain one. Re-infusions after relapse use stored cells and do not
queue. The engine knows nothing of costs (valued by :mod:`cartsim.study.capacity`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy

from cartsim.cohort import Cohort, sample_cohort
from cartsim.engine.events import ALIVE, EventLog
from cartsim.engine.plan import compile_chance
from cartsim.engine.simpy_engine import simulate_simpy
from cartsim.errors import SimulationError
from cartsim.params.life_table import LifeTable
from cartsim.params.survival import Fixed
from cartsim.pathway.build import StrategyModel
from cartsim.pathway.model import Pathway
from cartsim.rng import Streams
from cartsim.scenario.capacity import Arrivals, CapacitySpec
from cartsim.scenario.model import Scenario

BRIDGING = "manufacturing"
"""The CAR-T pathway's bridging state, and its transition to the manufacturing result."""
RESULT = "manufacturing_result"
ARRIVAL_PURPOSE = "capacity.arrival"
SERVICE_PURPOSES = {"apheresis": "capacity.apheresis_time", "stay": "capacity.stay"}
QUEUES = ("slot", "apheresis", "bed")
ENDS = ("treated", "manufacturing_failure", "left_waiting_slot", "left_waiting_apheresis",
        "left_in_production", "left_waiting_bed")
"""How a referral's time in the programme ended (codes index this tuple)."""
TREATED, FAILED, LEFT_SLOT, LEFT_APHERESIS, LEFT_PRODUCTION, LEFT_BED = range(len(ENDS))
REASONS = ("death", "cancer", "horizon")
"""Why a patient would leave bridging on their own (codes index this tuple)."""
DEATH, CANCER, HORIZON = range(len(REASONS))
PROGRESS_STEPS = 6  # stages of simulate_programme, each reported to its progress callback


@dataclass(frozen=True)
class QueueOutcome:
    """What the queue did to each referral (index order). Times in years.

    ``enter`` and ``wait`` are (3, n): calendar time each queue (slot,
    apheresis, bed) was joined (nan: never) and time spent in it until served
    or leaving. ``bridging`` is the patient time at which bridging ended by
    service (inf: the patient left the programme first). ``slot``,
    ``apheresis`` and ``infusion`` are calendar times (nan: did not happen).
    """

    end: np.ndarray
    bridging: np.ndarray
    enter: np.ndarray
    wait: np.ndarray
    slot: np.ndarray
    apheresis: np.ndarray
    infusion: np.ndarray


@dataclass(frozen=True)
class ProgrammeRun:
    """One capacity run: referrals, queues and event logs (no costs).

    ``logs`` has ``car_t`` (capacity as given), ``car_t_unconstrained`` (same
    patients, unlimited capacity) and ``immunosuppression``.
    """

    capacity: CapacitySpec
    cohort: Cohort
    replication: np.ndarray
    arrival: np.ndarray
    leave_by: np.ndarray
    leave_reason: np.ndarray
    apheresis_time: np.ndarray
    stay: np.ndarray
    constrained: QueueOutcome
    unconstrained: QueueOutcome
    logs: Mapping[str, EventLog]
    seed: int


def referral_times(arrivals: Arrivals, replication: int, streams: Streams) -> np.ndarray:
    """Calendar referral times of one programme (years from its start, ascending).

    Poisson referrals use exponential gaps from the stream
    ``(capacity.arrival, use = replication)``, so each replication is an
    independent programme and a longer period keeps the earlier referrals.
    """
    if arrivals.rate is None:
        return np.concatenate([k + (np.arange(c) + 0.5) / c
                               for k, c in enumerate(arrivals.per_year) if c > 0])
    rate, years = arrivals.rate, arrivals.years
    n = int(rate * years + 6.0 * math.sqrt(rate * years) + 16)
    while True:
        times = np.cumsum(-np.log(streams.column(ARRIVAL_PURPOSE, replication, 0, n)) / rate)
        if times[-1] >= years:
            return times[times < years]
        n *= 2


def with_bridging_time(pathway: Pathway, time: float) -> Pathway:
    """The pathway with its bridging state left by service after ``time`` years."""
    state = pathway.states.get(BRIDGING)
    if state is None or not any(tr.name == BRIDGING for tr in state.transitions):
        msg = (f"a capacity run needs the CAR-T pathway's '{BRIDGING}' state and transition; "
               f"strategy '{pathway.strategy}' has none")
        raise SimulationError(msg)
    transitions = tuple(dataclasses.replace(tr, time=Fixed(time)) if tr.name == BRIDGING else tr
                        for tr in state.transitions)
    states = {**pathway.states, BRIDGING: dataclasses.replace(state, transitions=transitions)}
    return dataclasses.replace(pathway, states=states)


def vein_to_vein(pathway: Pathway) -> float:
    """The pathway's fixed bridging time: apheresis to infusion without queues."""
    for tr in pathway.states[BRIDGING].transitions:
        if tr.name == BRIDGING and isinstance(tr.time, Fixed):
            return tr.time.time
    msg = f"the '{BRIDGING}' transition of strategy '{pathway.strategy}' must be a fixed time"
    raise SimulationError(msg)


def bridging_exits(pathways: Mapping[str, Pathway], cohort: Cohort, life_table: LifeTable | None,
                   horizon: float, streams: Streams) -> tuple[np.ndarray, np.ndarray]:
    """(patient time, reason code) at which each patient would leave bridging unserved."""
    never = {g: with_bridging_time(pw, math.inf) for g, pw in pathways.items()}
    log = simulate_simpy(never, cohort, life_table=life_table, horizon=horizon, streams=streams)
    leave_by = np.zeros(cohort.n)  # a patient with no sojourn had a horizon of 0
    rows = log.sojourn_patient
    first = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]]) if rows.size else rows
    leave_by[rows[first]] = log.sojourn_end[first]
    ended = log.end_time == leave_by
    reason = np.where(ended, np.where(log.cause == ALIVE, HORIZON, DEATH), CANCER)
    return leave_by, reason


def needs_bed(pathways: Mapping[str, Pathway], cohort: Cohort, streams: Streams) -> np.ndarray:
    """Whether each patient's product is made (the manufacturing result leads on to
    infusion), drawn as the engine draws the chance: from the patient's first
    number for that purpose, so the queue and the pathway agree."""
    u = streams.column(RESULT, 0, 0, cohort.n)
    out = np.ones(cohort.n, dtype=bool)
    groups = np.array(cohort.group)
    for g, pw in pathways.items():
        mask = groups == g
        chance = pw.chances[RESULT]
        cum, outcomes, certain = compile_chance(chance)
        if certain is not None:
            chosen = outcomes[certain] if certain >= 0 else None
            out[mask] = chosen is None or chosen.to is None
            continue
        k = np.searchsorted(np.array(cum), 1.0 - u[mask], side="right")
        leads_on = np.array([o.to is None for o in outcomes] + [True])
        out[mask] = leads_on[k]
    return out


def service_times(mean: float, distribution: str, purpose: str, n: int,
                  streams: Streams) -> np.ndarray:
    """Per-patient service times: fixed, or exponential keyed by (purpose, patient)."""
    if distribution == "fixed":
        return np.full(n, mean)
    return -np.log(streams.column(purpose, 0, 0, n)) * mean


class _Programme:
    """One replication's simpy model: resources and one process per referral."""

    def __init__(self, arrival: np.ndarray, leave_by: np.ndarray, bed: np.ndarray,
                 v2v: np.ndarray, apheresis_time: np.ndarray, stay: np.ndarray,
                 spec: CapacitySpec) -> None:
        self.env = simpy.Environment()
        env, n = self.env, arrival.size
        self.arrival, self.leave_by, self.bed, self.v2v = arrival, leave_by, bed, v2v
        self.apheresis_time, self.stay = apheresis_time, stay
        self.per_month = spec.slots_per_month
        self.slots = None if math.isinf(self.per_month) else \
            simpy.Container(env, capacity=self.per_month, init=self.per_month)
        self.chairs = None if math.isinf(spec.apheresis_chairs) else \
            simpy.Resource(env, capacity=int(spec.apheresis_chairs))
        self.beds = None if math.isinf(spec.beds) else simpy.Resource(env, capacity=int(spec.beds))
        nan = np.full(n, np.nan)
        self.end = np.zeros(n, dtype=np.int64)
        self.bridging = np.full(n, np.inf)
        self.enter, self.wait = np.full((3, n), np.nan), np.zeros((3, n))
        self.slot, self.apheresis, self.infusion = nan.copy(), nan.copy(), nan.copy()
        self.left = n
        self.done = env.event()

    def run(self) -> QueueOutcome:
        if self.arrival.size:
            for i in range(self.arrival.size):
                self.env.process(self._referral(i))
            if self.slots is not None:
                self.env.process(self._release_slots())
            self.env.run(until=self.done)
        return QueueOutcome(self.end, self.bridging, self.enter, self.wait, self.slot,
                            self.apheresis, self.infusion)

    def _release_slots(self) -> Generator[simpy.Event, Any, None]:
        slots, month = self.slots, 0
        assert slots is not None
        while True:
            month += 1
            yield self.env.timeout(month / 12.0 - self.env.now)
            if slots.level > 0:  # unused slots lapse at the end of their month
                yield slots.get(slots.level)
            yield slots.put(self.per_month)

    def _hold(self, resource: simpy.Resource, request: Any,
              duration: float) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(duration)
        resource.release(request)

    def _queue(self, q: int, i: int, request: Any,
               elapsed: float) -> Generator[simpy.Event, Any, bool]:
        """Wait in queue ``q`` until served (True) or until the patient leaves bridging."""
        env = self.env
        start = env.now
        self.enter[q, i] = start
        remaining = self.leave_by[i] - elapsed
        if not request.triggered and remaining > 0:
            if math.isinf(remaining):
                yield request
            else:
                yield request | env.timeout(remaining)
        waited = env.now - start
        self.wait[q, i] = waited
        if request.triggered and elapsed + waited < self.leave_by[i]:
            return True
        if isinstance(request, simpy.resources.resource.Request) and request.triggered:
            request.resource.release(request)
        else:
            request.cancel()  # a slot granted at the very moment of leaving lapses
        return False

    def _finish(self, i: int, end: int, bridging: float = math.inf) -> None:
        self.end[i], self.bridging[i] = end, bridging
        self.left -= 1
        if self.left == 0:
            self.done.succeed()

    def _referral(self, i: int) -> Generator[simpy.Event, Any, None]:
        env = self.env
        yield env.timeout(self.arrival[i])
        elapsed = 0.0  # patient time since referral, summed so unlimited stages add exactly 0
        if self.slots is not None:
            got = yield from self._queue(0, i, self.slots.get(1), elapsed)
            elapsed += self.wait[0, i]
            if not got:
                self._finish(i, LEFT_SLOT)
                return
            self.slot[i] = env.now
        if self.chairs is not None:
            request = self.chairs.request()
            got = yield from self._queue(1, i, request, elapsed)
            elapsed += self.wait[1, i]
            if not got:
                self._finish(i, LEFT_APHERESIS)
                return
            env.process(self._hold(self.chairs, request, self.apheresis_time[i]))
        self.apheresis[i] = env.now
        ready = elapsed + self.v2v[i]
        if not ready < self.leave_by[i]:
            self._finish(i, LEFT_PRODUCTION)
            return
        yield env.timeout(self.v2v[i])
        elapsed = ready
        if not self.bed[i]:
            self._finish(i, FAILED, elapsed)
            return
        if self.beds is not None:
            request = self.beds.request()
            got = yield from self._queue(2, i, request, elapsed)
            elapsed += self.wait[2, i]
            if not got:
                self._finish(i, LEFT_BED)
                return
            env.process(self._hold(self.beds, request, self.stay[i]))
        self.infusion[i] = env.now
        self._finish(i, TREATED, elapsed)


def simulate_queue(arrival: np.ndarray, leave_by: np.ndarray, bed: np.ndarray, v2v: np.ndarray,
                   apheresis_time: np.ndarray, stay: np.ndarray,
                   spec: CapacitySpec) -> QueueOutcome:
    """Queue one programme's referrals (calendar ``arrival``) for ``spec``'s resources.

    Per referral: ``leave_by`` (patient time they leave bridging unserved),
    ``bed`` (the product is made and needs a bed), ``v2v`` (vein-to-vein time)
    and the service times. Pure: no random numbers.
    """
    return _Programme(arrival, leave_by, bed, v2v, apheresis_time, stay, spec).run()


def _queue_all(run: dict[str, np.ndarray], spec: CapacitySpec) -> QueueOutcome:
    parts = []
    for r in range(spec.replications):
        idx = np.flatnonzero(run["replication"] == r)
        got = {k: v[idx] for k, v in run.items()}  # this programme's referrals
        parts.append(simulate_queue(got["arrival"], got["leave_by"], got["bed"], got["v2v"],
                                    got["apheresis_time"], got["stay"], spec))
    return QueueOutcome(*(np.concatenate([getattr(p, f.name) for p in parts], axis=-1)
                          for f in dataclasses.fields(QueueOutcome)))


def simulate_bridged(pathways: Mapping[str, Pathway], cohort: Cohort, bridging: np.ndarray,
                     life_table: LifeTable | None, horizon: float, streams: Streams) -> EventLog:
    """The CAR-T pathway with each patient's own bridging time (patients sharing a
    group and a time share a pathway)."""
    variants: dict[str, Pathway] = {}
    keys = []
    for group, w in zip(cohort.group, bridging.tolist(), strict=True):
        key = f"{group}@{w!r}"
        if key not in variants:
            variants[key] = with_bridging_time(pathways[group], w)
        keys.append(key)
    grouped = dataclasses.replace(cohort, group=tuple(keys))
    return simulate_simpy(variants, grouped, life_table=life_table, horizon=horizon,
                          streams=streams)


def simulate_programme(scenario: Scenario, models: Mapping[str, StrategyModel],
                       life_table: LifeTable | None, *, seed: int,
                       progress: Callable[[int], None] | None = None) -> ProgrammeRun:
    """Referrals, queues and event logs of a capacity scenario (with ``[capacity]``);
    ``progress(1)`` after each of its ``PROGRESS_STEPS`` stages."""

    def done(stage: Any) -> Any:
        if progress is not None:
            progress(1)
        return stage

    spec = scenario.capacity
    if spec is None:
        msg = f"{scenario.source} has no [capacity] table"
        raise SimulationError(msg)
    streams = Streams(seed)
    times = [referral_times(spec.arrivals, r, streams) for r in range(spec.replications)]
    run = {"replication": np.repeat(np.arange(spec.replications), [t.size for t in times]),
           "arrival": np.concatenate(times)}
    n = run["arrival"].size
    cohort = sample_cohort(scenario.cohort, n, streams=streams)
    car_t = models["car_t"].pathways
    horizon = scenario.run.horizon
    run["leave_by"], reason = done(bridging_exits(car_t, cohort, life_table, horizon, streams))
    run["bed"] = needs_bed(car_t, cohort, streams)
    v2v = {g: vein_to_vein(pw) for g, pw in car_t.items()}
    run["v2v"] = np.array([v2v[g] for g in cohort.group], dtype=float)
    run["apheresis_time"] = service_times(spec.apheresis_time, spec.apheresis_distribution,
                                          SERVICE_PURPOSES["apheresis"], n, streams)
    run["stay"] = service_times(spec.stay, spec.stay_distribution, SERVICE_PURPOSES["stay"], n,
                                streams)
    constrained = done(_queue_all(run, spec))
    unconstrained = done(_queue_all(run, spec.unlimited()))
    logs = {  # built in this order, so progress follows the stages
        "car_t": done(simulate_bridged(car_t, cohort, constrained.bridging, life_table,
                                       horizon, streams)),
        "car_t_unconstrained": done(simulate_bridged(car_t, cohort, unconstrained.bridging,
                                                     life_table, horizon, streams)),
        "immunosuppression": done(simulate_simpy(models["immunosuppression"].pathways, cohort,
                                                 life_table=life_table, horizon=horizon,
                                                 streams=streams)),
    }
    return ProgrammeRun(spec, cohort, run["replication"], run["arrival"], run["leave_by"], reason,
                        run["apheresis_time"], run["stay"], constrained, unconstrained, logs,
                        seed)
