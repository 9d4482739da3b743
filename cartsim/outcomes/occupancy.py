"""Where the cohort is over time: the share of patients in each state, dead, alive
and in drug-free remission at each time of a grid (state-occupancy curves).

A patient occupies a state at time t when one of their sojourns there has
``start <= t < end``; a patient is dead at t when they died at or before t.
A patient still alive at the horizon stays in their last state *at* the horizon
(their last sojourn is censored there, not ended), so the state shares and the
dead share partition the cohort at every grid time up to the horizon.

Like every outcome, this reads only the event log: the engine knows no costs,
and this module knows no costs either.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

import numpy as np

from cartsim.engine.events import ALIVE, EventLog
from cartsim.pathway.model import Pathway


@dataclass(frozen=True)
class Occupancy:
    """Shares of one strategy's cohort over time.

    ``state_share[k, s]`` is the share of patients in ``states[s]`` at ``time[k]``;
    ``dead``, ``alive`` and ``remission`` are shares at the same times, with
    ``alive = 1 - dead = state_share.sum(axis=1)`` and ``remission`` the sum over
    the states that are drug-free remission. ``n`` is the cohort size (for
    binomial standard errors).
    """

    strategy: str
    time: np.ndarray
    states: tuple[str, ...]
    state_share: np.ndarray
    dead: np.ndarray
    alive: np.ndarray
    remission: np.ndarray
    n: int

    def standard_error(self, share: np.ndarray) -> np.ndarray:
        """Binomial standard error sqrt(p(1-p)/n) of a share of this cohort."""
        p = np.clip(np.asarray(share, dtype=float), 0.0, 1.0)
        return np.sqrt(p * (1.0 - p) / max(self.n, 1))


def remission_states(pathways: Mapping[str, Pathway]) -> frozenset[str]:
    """States flagged as drug-free remission in any group's pathway."""
    return frozenset(name for pathway in pathways.values()
                     for name, state in pathway.states.items() if state.remission)


def _count_by(times: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """How many of ``times`` are <= each grid time, in O(n log G) (nothing of size n sorted)."""
    first = np.searchsorted(grid, times, side="left")   # times <= grid[k] for k >= first
    return np.cumsum(np.bincount(first, minlength=grid.size + 1))[:grid.size].astype(np.float64)


def occupancy_counts(log: EventLog, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """How many of ``log``'s patients are in each state (``[time, state]``) and dead
    (``[time]``) at each grid time: counts, which add up across chunks of a cohort."""
    grid = np.asarray(grid, dtype=np.float64)
    start, end = log.sojourn_start, log.sojourn_end.copy()
    patient = log.sojourn_patient
    keep = end > start
    # The last stay of a patient alive at the horizon is censored there, not ended.
    censored = keep & (log.cause[patient] == ALIVE) & (end == log.end_time[patient])
    end[censored] = np.inf
    counts = np.zeros((len(grid), len(log.state_names)))
    for s in range(len(log.state_names)):
        mask = keep & (log.sojourn_state == s)
        counts[:, s] = _count_by(start[mask], grid) - _count_by(end[mask], grid)
    return counts, _count_by(log.end_time[log.cause != ALIVE], grid)


def occupancy_from_counts(strategy: str, grid: np.ndarray, states: tuple[str, ...],
                          counts: np.ndarray, dead: np.ndarray, n: int,
                          remission: Collection[str] = ()) -> Occupancy:
    """Shares from the counts of :func:`occupancy_counts` for a cohort of ``n``."""
    denominator = float(max(n, 1))
    shares, dead = counts / denominator, dead / denominator
    flagged = [i for i, name in enumerate(states) if name in set(remission)]
    return Occupancy(
        strategy=strategy, time=np.asarray(grid, dtype=np.float64), states=tuple(states),
        state_share=shares, dead=dead, alive=shares.sum(axis=1),
        remission=shares[:, flagged].sum(axis=1), n=n,
    )


def state_occupancy(log: EventLog, grid: np.ndarray,
                    remission: Collection[str] = ()) -> Occupancy:
    """Share of ``log``'s patients in each state, dead, alive and in remission.

    Parameters
    ----------
    log : EventLog
        One strategy's simulated patients.
    grid : array of float
        Times (years from the start), non-decreasing; times after the horizon
        are not meaningful (patients alive there are censored).
    remission : collection of str
        Names of the states that count as drug-free remission (see
        :func:`remission_states`); names absent from the log are ignored.

    Returns
    -------
    Occupancy
    """
    counts, dead = occupancy_counts(log, grid)
    return occupancy_from_counts(log.strategy, grid, log.state_names, counts, dead,
                                 log.n_patients, remission)
