"""The event log: what happened to each simulated patient, as flat arrays.

Three tables, all keyed by ``patient`` (the patient's index in the cohort):

* sojourns - one row per stay in a state: ``state``, ``start``, ``end``;
* events - one row per recorded event: ``event``, ``time``;
* recurring - counts of recurring in-state events per sojourn (``sojourn``
  indexes the sojourn table), filled in by :mod:`cartsim.engine.recurring`.

plus per-patient ``end_time`` and ``cause`` of death (``ALIVE`` when the
patient reached the horizon). Names are stored once as tuples and rows carry
integer codes, so a million-patient log stays compact. Rows of one patient
appear in the order they happened.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

ALIVE = -1
"""Cause code of a patient alive at the end of the horizon."""


@dataclass
class EventLog:
    strategy: str
    n_patients: int
    state_names: tuple[str, ...]
    event_names: tuple[str, ...]
    cause_names: tuple[str, ...]
    sojourn_patient: np.ndarray
    sojourn_state: np.ndarray
    sojourn_start: np.ndarray
    sojourn_end: np.ndarray
    event_patient: np.ndarray
    event_code: np.ndarray
    event_time: np.ndarray
    end_time: np.ndarray
    cause: np.ndarray
    sojourn_seq: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    event_seq: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    recurring_sojourn: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    recurring_event: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    recurring_count: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    def rebased(self, first_patient: int) -> EventLog:
        """The same log with patient indices counted from ``first_patient`` (a chunk
        of a cohort valued on its own)."""
        return replace(self, sojourn_patient=self.sojourn_patient - first_patient,
                       event_patient=self.event_patient - first_patient)

    def state_code(self, name: str) -> int:
        return self.state_names.index(name)

    def event_code_of(self, name: str) -> int:
        return self.event_names.index(name)


def check_span(span: range | None, n_patients: int) -> range:
    """The contiguous patient range an engine simulates (all patients if None)."""
    if span is None:
        return range(n_patients)
    if span.step != 1 or not 0 <= span.start <= span.stop <= n_patients:
        msg = f"span must be a contiguous range within 0..{n_patients}; got {span}"
        raise ValueError(msg)
    return span


class LogBuilder:
    """Collects rows during simulation; :meth:`build` returns an :class:`EventLog`."""

    def __init__(
        self,
        strategy: str,
        start: int,
        stop: int,
        state_names: tuple[str, ...],
        event_names: tuple[str, ...],
    ) -> None:
        self.strategy = strategy
        self.offset = start
        self.n_patients = stop - start
        self.state_names = state_names
        self.event_names = event_names
        self.state_index = {name: i for i, name in enumerate(state_names)}
        self.event_index = {name: i for i, name in enumerate(event_names)}
        self.cause_index: dict[str, int] = {}
        self.sojourns: list[tuple[int, int, float, float, int]] = []
        self.events: list[tuple[int, int, float, int]] = []
        self.end_time = np.zeros(self.n_patients)
        self.cause = np.full(self.n_patients, ALIVE, dtype=np.int64)

    def sojourn(self, patient: int, state: str, start: float, end: float, seq: int) -> None:
        """A stay in ``state``; ``seq`` orders a patient's rows (sojourns and events)."""
        self.sojourns.append((patient, self.state_index[state], start, end, seq))

    def event(self, patient: int, label: str, time: float, seq: int) -> None:
        self.events.append((patient, self.event_index[label], time, seq))

    def end(self, patient: int, time: float, cause: str | None) -> None:
        self.end_time[patient - self.offset] = time
        if cause is not None:
            code = self.cause_index.setdefault(cause, len(self.cause_index))
            self.cause[patient - self.offset] = code

    def build(self) -> EventLog:
        soj = np.array(self.sojourns, dtype=np.float64).reshape(-1, 5)
        ev = np.array(self.events, dtype=np.float64).reshape(-1, 4)
        # Patients were interleaved by the scheduler; a stable sort by patient
        # keeps each patient's rows in the order they happened.
        s_order = np.argsort(soj[:, 0], kind="stable")
        e_order = np.argsort(ev[:, 0], kind="stable")
        soj, ev = soj[s_order], ev[e_order]
        # Causes are renumbered alphabetically so codes do not depend on which
        # patient happened to die first.
        names = tuple(sorted(self.cause_index))
        remap = np.array([names.index(c) for c in self.cause_index] or [0], dtype=np.int64)
        cause = np.where(self.cause == ALIVE, ALIVE, remap[np.maximum(self.cause, 0)])
        return EventLog(
            strategy=self.strategy,
            n_patients=self.n_patients,
            state_names=self.state_names,
            event_names=self.event_names,
            cause_names=names,
            sojourn_patient=soj[:, 0].astype(np.int64),
            sojourn_state=soj[:, 1].astype(np.int64),
            sojourn_start=soj[:, 2].copy(),
            sojourn_end=soj[:, 3].copy(),
            event_patient=ev[:, 0].astype(np.int64),
            event_code=ev[:, 1].astype(np.int64),
            event_time=ev[:, 2].copy(),
            end_time=self.end_time,
            cause=cause,
            sojourn_seq=soj[:, 4].astype(np.int64),
            event_seq=ev[:, 3].astype(np.int64),
        )


def concatenate_logs(logs: list[EventLog]) -> EventLog:
    """Join logs of consecutive patient chunks (patient indices already global)."""
    first = logs[0]
    causes = tuple(sorted({c for log in logs for c in log.cause_names}))

    def recode(log: EventLog) -> np.ndarray:
        table = np.array([causes.index(c) for c in log.cause_names] or [0], dtype=np.int64)
        return np.where(log.cause == ALIVE, ALIVE, table[np.maximum(log.cause, 0)])

    offsets = np.cumsum([0] + [len(log.sojourn_patient) for log in logs[:-1]])
    return EventLog(
        strategy=first.strategy,
        n_patients=sum(log.n_patients for log in logs),
        state_names=first.state_names,
        event_names=first.event_names,
        cause_names=causes,
        sojourn_patient=np.concatenate([g.sojourn_patient for g in logs]),
        sojourn_state=np.concatenate([g.sojourn_state for g in logs]),
        sojourn_start=np.concatenate([g.sojourn_start for g in logs]),
        sojourn_end=np.concatenate([g.sojourn_end for g in logs]),
        event_patient=np.concatenate([g.event_patient for g in logs]),
        event_code=np.concatenate([g.event_code for g in logs]),
        event_time=np.concatenate([g.event_time for g in logs]),
        end_time=np.concatenate([g.end_time for g in logs]),
        cause=np.concatenate([recode(g) for g in logs]),
        sojourn_seq=np.concatenate([g.sojourn_seq for g in logs]),
        event_seq=np.concatenate([g.event_seq for g in logs]),
        recurring_sojourn=np.concatenate(
            [g.recurring_sojourn + off for g, off in zip(logs, offsets, strict=True)]
        ),
        recurring_event=np.concatenate([g.recurring_event for g in logs]),
        recurring_count=np.concatenate([g.recurring_count for g in logs]),
    )
