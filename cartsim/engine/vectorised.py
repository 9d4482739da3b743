"""The vectorised engine: the same Pathway, for a whole batch of patients at once.

It interprets exactly the rules of the simpy engine (see ``simpy_engine.py``):
the same purposes and columns of random numbers per patient, the same
inverse-CDF draws, the same tie order and the same death-budget arithmetic,
so that on the same seed both engines give the same patients the same
histories (tests check per-patient equality on every shipped scenario). Where
the simpy engine advances one patient at a time, this one advances every
patient by one step per loop: first through any chance nodes, then one stay in
a state, with numpy operations over the patients at each node.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from cartsim.cohort import Cohort
from cartsim.engine.events import ALIVE, EventLog, check_span, concatenate_logs
from cartsim.engine.plan import (
    DEATH_EVENT,
    DEATH_PURPOSE,
    Plan,
    make_plan,
    shared_names,
)
from cartsim.engine.recurring import count_recurring
from cartsim.engine.vector_mortality import MortalityArrays
from cartsim.errors import SimulationError
from cartsim.params.life_table import LifeTable
from cartsim.pathway.model import Mortality, Pathway
from cartsim.rng import ChunkUniforms, Streams
from cartsim.vocabulary import DEAD

HORIZON, DEATH = -1, -2


class BatchUniforms:
    """Uniforms for a batch of patients: each purpose used in turn, column by column."""

    def __init__(self, chunk: ChunkUniforms, patients: np.ndarray) -> None:
        self.chunk = chunk
        self.patients = patients
        self.rows = patients - chunk.start
        self.used: dict[str, np.ndarray] = {}

    def draw(self, purpose: str, sel: np.ndarray) -> np.ndarray:
        """The next number of ``purpose`` for batch members ``sel`` (each advances by one)."""
        used = self.used.setdefault(purpose, np.zeros(self.patients.size, dtype=np.int64))
        uses = used[sel]
        used[sel] += 1
        if uses.size and uses.min() == uses.max():  # the usual case: all at the same use
            return self.chunk.column(purpose, int(uses[0]))[self.rows[sel]]
        out = np.empty(sel.size)
        for use in np.unique(uses):
            at = uses == use
            out[at] = self.chunk.column(purpose, int(use))[self.rows[sel[at]]]
        return out


@dataclass
class _Rows:
    """Event-log rows collected during the run, as lists of arrays."""

    soj: list[tuple[np.ndarray, ...]] = field(default_factory=list)
    ev: list[tuple[np.ndarray, ...]] = field(default_factory=list)

    def event(self, pid: np.ndarray, code: int, time: np.ndarray, seq: np.ndarray) -> None:
        self.ev.append((pid, np.full(pid.size, code), time, seq.copy()))

    def sojourn(self, pid: np.ndarray, code: int, start: np.ndarray, end: np.ndarray,
                seq: np.ndarray) -> None:
        self.soj.append((pid, np.full(pid.size, code), start, end, seq.copy()))


class _Batch:
    """All patients of one group in one chunk, stepping through one pathway."""

    def __init__(self, plan: Plan, patients: np.ndarray, age: np.ndarray, female: np.ndarray,
                 uniforms: BatchUniforms, life_table: LifeTable | None, horizon: float,
                 state_index: Mapping[str, int], event_index: Mapping[str, int],
                 rows: _Rows) -> None:
        self.plan, self.pathway = plan, plan.pathway
        self.pid, self.uni, self.horizon = patients, uniforms, horizon
        self.mort = MortalityArrays(life_table, age, female)
        self.state_index, self.event_index, self.out = state_index, event_index, rows
        self.event_names = list(event_index)
        n = patients.size
        nodes = [*self.pathway.states, *self.pathway.chances, DEAD]
        self.node_names = nodes
        self.code = {name: i for i, name in enumerate(nodes)}
        self.node = np.full(n, self.code[self.pathway.start])
        self.t = np.zeros(n)
        self.seq = np.zeros(n, dtype=np.int64)
        self.active = np.ones(n, dtype=bool)
        self.end_time = np.zeros(n)
        self.cause = np.full(n, -1)  # index into self.cause_names; -1 alive
        self.cause_names: list[str] = []
        self.origin_time: dict[str, np.ndarray] = {}
        self.first_set: dict[str, np.ndarray] = {}  # when each origin was first set
        self.mortalities: list[Mortality] = []
        self.m_id = np.full(n, -1)
        self.m_since = np.zeros(n)
        self.t_death = np.full(n, math.inf)
        self.budget = np.zeros(n)

    # -- helpers -------------------------------------------------------------
    def _event(self, sel: np.ndarray, label: str, time: np.ndarray) -> None:
        self.out.event(self.pid[sel], self.event_index[label], time, self.seq[sel])
        self.seq[sel] += 1

    def _cause_code(self, name: str) -> int:
        if name not in self.cause_names:
            self.cause_names.append(name)
        return self.cause_names.index(name)

    def _end(self, sel: np.ndarray, time: np.ndarray, cause: str | None) -> None:
        self.active[sel] = False
        self.end_time[sel] = time
        if cause is not None:
            self.cause[sel] = self._cause_code(cause)

    def _set_origin(self, name: str, sel: np.ndarray) -> None:
        first = self.first_set.setdefault(name, np.full(self.pid.size, math.inf))
        first[sel] = np.where(np.isinf(first[sel]), self.t[sel], first[sel])
        for tr in self.plan.origin_transitions.get(name, ()):
            times = self.origin_time.setdefault(tr.name, np.full(self.pid.size, math.inf))
            u = self.uni.draw(tr.name, sel)
            model = tr.time
            # The simpy engine draws these one at a time; match its arithmetic.
            t = (model.times_from_uniforms(u) if model.vector_equals_scalar
                 else np.array([model.time_from_uniform(x) for x in u]))
            times[sel] = self.t[sel] + t

    def _mortality_id(self, m: Mortality) -> int:
        for k, known in enumerate(self.mortalities):
            if known == m:
                return k
        self.mortalities.append(m)
        return len(self.mortalities) - 1

    # -- the run -------------------------------------------------------------
    def run(self) -> None:
        everyone = np.arange(self.pid.size)
        self.budget = -np.log(self.uni.draw(DEATH_PURPOSE, everyone))
        if self.horizon <= 0.0:
            self._end(everyone, np.zeros(everyone.size), None)
            return
        self._event(everyone, "start", np.zeros(everyone.size))
        while self.active.any():
            last_cause = np.full(self.pid.size, -1)  # event code of a deadly chance outcome
            self._resolve_chances(last_cause)
            dead = np.flatnonzero(self.active & (self.node == self.code[DEAD]))
            for label in np.unique(last_cause[dead]):
                who = dead[last_cause[dead] == label]
                self._end(who, self.t[who], self.event_names[label] if label >= 0 else DEATH_EVENT)
            for code, name in enumerate(self.node_names):
                if name in self.pathway.states:
                    sel = np.flatnonzero(self.active & (self.node == code))
                    if sel.size:
                        self._stay(name, sel)

    def _resolve_chances(self, last_cause: np.ndarray) -> None:
        chances = self.pathway.chances
        while True:
            moved = False
            for name, chance in chances.items():
                sel = np.flatnonzero(self.active & (self.node == self.code[name]))
                if sel.size == 0:
                    continue
                moved = True
                guard = chance.guard
                if guard is not None:
                    fails = self.mort.age0[sel] + self.t[sel] > guard.max_age
                    if guard.clock is not None:
                        first = self.first_set.get(guard.clock)
                        if first is not None:
                            fails |= self.t[sel] - first[sel] > guard.within
                    self.node[sel[fails]] = self.code[guard.otherwise]
                    sel = sel[~fails]
                    if sel.size == 0:
                        continue
                if chance.origin:
                    self._set_origin(chance.origin, sel)
                cum, outcomes, certain = self.plan.compiled_chances[name]
                if certain is None:
                    pick = 1.0 - self.uni.draw(chance.name, sel)
                    chosen = np.searchsorted(np.asarray(cum), pick, side="right")
                    chosen[chosen >= len(outcomes)] = -1
                else:
                    chosen = np.full(sel.size, certain)
                nxt = np.full(sel.size, self.code[chance.then] if chance.then else -1)
                for k, outcome in enumerate(outcomes):
                    hit = sel[chosen == k]
                    if hit.size == 0:
                        continue
                    if outcome.event:
                        self._event(hit, outcome.event, self.t[hit])
                        last_cause[hit] = self.event_index[outcome.event]
                    if outcome.to is not None:
                        nxt[chosen == k] = self.code[outcome.to]
                self.node[sel] = nxt
            if not moved:
                return

    def _stay(self, name: str, sel: np.ndarray) -> None:
        state = self.pathway.states[name]
        t = self.t[sel]
        if state.origin:
            self._set_origin(state.origin, sel)
        m = state.mortality
        mid = self._mortality_id(m)
        changed = self.m_id[sel] != mid
        for prev in np.unique(self.m_id[sel][changed]):
            if prev < 0:
                continue
            who = sel[changed & (self.m_id[sel] == prev)]
            self.budget[who] -= self.mort.integral(self.mortalities[prev], who, self.m_since[who],
                                                   self.t[who])
        fresh = sel[changed]
        self.m_id[fresh] = mid
        self.m_since[fresh] = self.t[fresh]
        positive = self.budget[fresh] > 0
        td = np.where(positive, 0.0, self.t[fresh])
        if positive.any():
            f = fresh[positive]
            td[positive] = self.mort.time_of_death(m, f, self.t[f], self.budget[f])
        self.t_death[fresh] = td
        best_time = np.full(sel.size, self.horizon)
        best = np.full(sel.size, HORIZON)
        t_death = self.t_death[sel]
        upd = t_death < best_time
        best_time[upd], best[upd] = t_death[upd], DEATH
        for k, (tr, on_state_clock, rate, sampler, fixed, aged) in enumerate(
                self.plan.compiled[name]):
            if on_state_clock:
                if rate is not None:
                    when = t + (0.0 - np.log(self.uni.draw(tr.name, sel))) / rate
                elif sampler is None:
                    when = t + fixed
                elif aged:
                    u = self.uni.draw(tr.name, sel)
                    ages = self.mort.age0[sel] + t
                    sexes = self.mort.sex_names(sel)
                    when = t + np.array([sampler(x, a, s) for x, a, s in zip(
                        u.tolist(), ages.tolist(), sexes, strict=True)])
                else:
                    u = self.uni.draw(tr.name, sel)
                    when = t + np.array([sampler(x) for x in u])
            else:
                when = self.origin_time.get(tr.name, np.full(self.pid.size, math.inf))[sel].copy()
                when[when < t] = math.inf
            upd = when < best_time
            best_time[upd], best[upd] = when[upd], k
        if np.isinf(best_time).any():
            first = int(self.pid[sel][np.isinf(best_time)].min())
            msg = (f"patient {first} in strategy '{self.pathway.strategy}' would stay in state "
                   f"'{name}' forever: give it a mortality or set a finite horizon")
            raise SimulationError(msg)
        self.out.sojourn(self.pid[sel], self.state_index[name], t, best_time, self.seq[sel])
        self.seq[sel] += 1
        censored = sel[best == HORIZON]
        self._end(censored, np.full(censored.size, self.horizon), None)
        died = best == DEATH
        if died.any():
            d = sel[died]
            self.out.event(self.pid[d], self.event_index[DEATH_EVENT], best_time[died],
                           self.seq[d])
            u = self.uni.draw(DEATH_PURPOSE, d)
            which, names = self.mort.cause(m, d, best_time[died], u)
            self.active[d] = False
            self.end_time[d] = best_time[died]
            for j in np.unique(which):  # register only causes that occurred
                self.cause[d[which == j]] = self._cause_code(names[j])
        compiled = self.plan.compiled[name]
        for k, (tr, on_state_clock, *_rest) in enumerate(compiled):
            go = best == k
            if not go.any():
                continue
            g = sel[go]
            self.t[g] = best_time[go]
            if not on_state_clock:
                self.origin_time[tr.name][g] = math.inf
            self._event(g, tr.label, self.t[g])
            if tr.to == DEAD:
                self._end(g, self.t[g], tr.label)
            else:
                self.node[g] = self.code[tr.to]


def _build_log(strategy: str, start: int, stop: int, state_names: tuple[str, ...],
               event_names: tuple[str, ...], rows: _Rows, end_time: np.ndarray,
               cause: np.ndarray, cause_names: list[str]) -> EventLog:
    """Rows sorted by (patient, sequence) as the simpy engine leaves them; causes
    renumbered alphabetically, as the simpy engine's log does."""
    def stack(parts: list[tuple[np.ndarray, ...]], k: int) -> list[np.ndarray]:
        if not parts:
            return [np.zeros(0) for _ in range(k)]
        return [np.concatenate([p[j] for p in parts]) for j in range(k)]

    sp, ss, sa, sb, sq = stack(rows.soj, 5)
    ep, ec, et, eq = stack(rows.ev, 4)
    so = np.lexsort((sq, sp))
    eo = np.lexsort((eq, ep))
    names = tuple(sorted(cause_names))
    recode = np.array([names.index(c) for c in cause_names] or [0], dtype=np.int64)
    codes = np.where(cause < 0, ALIVE, recode[np.maximum(cause, 0)])
    return EventLog(
        strategy=strategy, n_patients=stop - start, state_names=state_names,
        event_names=event_names, cause_names=names,
        sojourn_patient=sp[so].astype(np.int64), sojourn_state=ss[so].astype(np.int64),
        sojourn_start=sa[so].astype(float), sojourn_end=sb[so].astype(float),
        event_patient=ep[eo].astype(np.int64), event_code=ec[eo].astype(np.int64),
        event_time=et[eo].astype(float), end_time=end_time, cause=codes,
        sojourn_seq=sq[so].astype(np.int64), event_seq=eq[eo].astype(np.int64),
    )


def simulate_vectorised(
    pathways: Mapping[str, Pathway],
    patients: Cohort,
    *,
    life_table: LifeTable | None,
    horizon: float,
    streams: Streams,
    chunk_size: int = 1 << 17,
    span: range | None = None,
) -> EventLog:
    """Simulate every patient (or those in ``span``) under one strategy; same
    contract as ``simulate_simpy``."""
    strategy = next(iter(pathways.values())).strategy
    plans = {group: make_plan(pw) for group, pw in pathways.items()}
    state_names, event_names = shared_names(pathways)
    state_index = {n: i for i, n in enumerate(state_names)}
    event_index = {n: i for i, n in enumerate(event_names)}
    groups = np.array(patients.group)
    logs: list[EventLog] = []
    span = check_span(span, patients.n)
    for start in range(span.start, max(span.stop, span.start + 1), chunk_size):
        stop = min(start + chunk_size, span.stop)
        chunk = ChunkUniforms(streams, start, stop)
        rows = _Rows()
        end_time = np.zeros(stop - start)
        cause = np.full(stop - start, -1)
        cause_names: list[str] = []
        for group, plan in plans.items():
            ids = start + np.flatnonzero(groups[start:stop] == group)
            if ids.size == 0:
                continue
            batch = _Batch(plan, ids, np.asarray(patients.age, dtype=float)[ids],
                           np.asarray(patients.female, dtype=bool)[ids],
                           BatchUniforms(chunk, ids), life_table, horizon, state_index,
                           event_index, rows)
            batch.run()
            end_time[ids - start] = batch.end_time
            merged = [*dict.fromkeys([*cause_names, *batch.cause_names])]
            to_chunk = np.array([merged.index(c) for c in batch.cause_names] or [0])
            cause[ids - start] = np.where(batch.cause < 0, -1,
                                          to_chunk[np.maximum(batch.cause, 0)])
            cause_names = merged
        log = _build_log(strategy, start, stop, state_names, event_names, rows, end_time,
                         cause, cause_names)
        count_recurring(log, pathways, patients.group, streams, start)
        logs.append(log)
    return concatenate_logs(logs)
