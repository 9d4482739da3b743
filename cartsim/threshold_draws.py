"""Threshold analysis over PSA draws: the distribution of a break-even value.

For PSA draw k (the values ``draw_parameters`` gives draw k, and draw k's
random-number streams, exactly as in ``cartsim psa``) the threshold parameter
is varied over the search bracket with every other parameter held at its
draw-k value, and Brent's method finds where INMB = 0, for every
non-comparator strategy and willingness to pay. Within a draw every run uses
the same patients and random numbers (common random numbers), so INMB is a
deterministic function of the value and the root is stable; each draw's
result is a pure function of (scenario, seed, k, patients), whatever the
number of workers.

A draw whose INMB has the same sign at both ends of the bracket has no root
there. Its threshold lies beyond one end: which one follows from the sign of
INMB and the direction in which INMB moves across the bracket (e.g. a price at
which CAR-T is cost-effective at both ends has its threshold above the upper
end). Such draws are counted, never dropped silently, and the summary's
quantiles treat them as lying beyond that end (a quantile that falls among
them is reported as missing). A draw with equal INMB at both ends cannot be
placed and is counted as undetermined.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass, replace

import numpy as np

from cartsim.deferred import brentq
from cartsim.errors import UsageError
from cartsim.parallel import chunk_size, parallel_map
from cartsim.params.draws import draw_parameters
from cartsim.psa import MAX_DRAWS
from cartsim.scenario.model import Scenario
from cartsim.sensitivity import (
    Progress,
    RunInfo,
    Runner,
    threshold_inputs,
)

ROOT = "root"
ABOVE = "above upper"
BELOW = "below lower"
UNDETERMINED = "undetermined"


@dataclass(frozen=True)
class DrawThreshold:
    """One draw's threshold for one strategy and WTP (given unit), or why there is none."""

    draw: int
    strategy: str
    wtp: float
    value: float | None
    status: str
    inmb_lower: float
    inmb_upper: float
    drawn_value: float


@dataclass(frozen=True)
class ThresholdDrawsResult:
    info: RunInfo
    parameter: str
    unit: str
    base: float
    lower: float
    upper: float
    rows: tuple[DrawThreshold, ...]


@dataclass(frozen=True)
class _Job:
    scenario: Scenario
    name: str
    draws: tuple[int, ...]
    values: tuple[dict[str, float], ...]
    wtp: tuple[float, ...]
    bracket: tuple[float, float]
    patients: int | None
    seed: int
    engine: str
    tol: float


def _side(fa: float, fb: float) -> str:
    """Where the root of a one-signed INMB lies: beyond the end it is moving towards."""
    if fa == fb:
        return UNDETERMINED
    rising = fb > fa
    return ABOVE if (fb < 0) == rising else BELOW


def _solve(job: _Job) -> tuple[list[DrawThreshold], int]:
    """The job's rows, and the number of patients simulated (a cohort file fixes it)."""
    a, b = job.bracket
    p = job.scenario.parameters[job.name]
    out, patients = [], 0
    for k, values in zip(job.draws, job.values, strict=True):
        runner = Runner(job.scenario, job.patients, job.seed, job.engine, None, draw=k,
                        base=values)

        def inmb(x: float, s: str, w: float, runner: Runner = runner) -> float:
            return runner({job.name: x}, job.wtp).comparison(s).inmb[w].mean

        for s in (c for c in job.scenario.strategies if c != job.scenario.run.comparator):
            for w in job.wtp:
                fa, fb = inmb(a, s, w), inmb(b, s, w)
                root, status = None, ROOT
                if fa * fb > 0 or fa == fb == 0.0:
                    status = _side(fa, fb)
                else:
                    root = float(brentq(lambda x, s=s, w=w: inmb(x, s, w), a, b,
                                        xtol=job.tol * (b - a), maxiter=200))
                out.append(DrawThreshold(k, s, w, root, status, fa, fb,
                                         values[job.name] / p.factor))
        patients = runner.n
    return out, patients


def threshold_draws(scenario: Scenario, name: str, *, wtp: Sequence[float], draws: int,
                    lower: float | None = None, upper: float | None = None,
                    patients: int | None = None, seed: int | None = None,
                    engine: str = "compiled", workers: int = 1, tol: float = 1e-10,
                    progress: Progress = None) -> ThresholdDrawsResult:
    """The threshold of ``name`` in each of PSA draws 1..``draws``.

    Parameters
    ----------
    name, wtp, lower, upper, patients, seed, engine, tol
        As for :func:`cartsim.sensitivity.threshold` (bracket in the given unit).
    draws : int
        PSA draws; draw k's values and random numbers are those of ``cartsim psa``.
    workers : int
        Processes to spread the draws over (results identical for any number).
    progress : callable, optional
        Called with the number of draws finished, batch by batch.

    Returns
    -------
    ThresholdDrawsResult
        Rows by draw, then strategy, then WTP.
    """
    if not 1 <= draws <= MAX_DRAWS:
        msg = f"--psa-draws must be between 1 and {MAX_DRAWS:,}; got {draws}"
        raise UsageError(msg)
    p, lams, a, b = threshold_inputs(scenario, name, wtp, lower, upper)
    info = Runner(scenario, patients, seed, engine, None).info()
    ks = list(range(1, draws + 1))
    table = draw_parameters(scenario.parameters, ks, info.seed, scenario.probability_sets,
                            scenario.joint)
    found: dict[int, list[DrawThreshold]] = {}
    with parallel_map(workers) as (slots, mapper):
        size = chunk_size(len(ks), slots)
        jobs = [_Job(scenario, name, tuple(ks[i:i + size]),
                     tuple(table.at(j) for j in range(i, min(i + size, len(ks)))), lams,
                     (a, b), patients, info.seed, engine, tol)
                for i in range(0, len(ks), size)]
        with closing(mapper(_solve, jobs)) as batches:
            for batch, simulated in batches:
                info = replace(info, patients=simulated)
                for row in batch:
                    found.setdefault(row.draw, []).append(row)
                if progress is not None:
                    progress(len({r.draw for r in batch}))
    rows = tuple(r for k in ks for r in found[k])  # draw order, whatever the workers
    return ThresholdDrawsResult(info, name, p.given_unit, p.given_value, a, b, rows)


def censored_quantile(values: Sequence[float], q: float) -> float | None:
    """Type-7 (numpy 'linear') quantile of values that may be ±inf (roots beyond the
    bracket); None when it depends on an infinite value.

    >>> censored_quantile([1.0, 2.0, 3.0, math.inf], 0.5)
    2.5
    >>> censored_quantile([1.0, math.inf, math.inf], 0.5) is None
    True
    """
    x = np.sort(np.asarray(values, dtype=float))
    if x.size == 0:
        return None
    h = (x.size - 1) * q
    lo, hi = math.floor(h), math.ceil(h)
    if not (math.isfinite(x[lo]) and math.isfinite(x[hi])):
        return None
    return float(x[lo] + (h - lo) * (x[hi] - x[lo]))


@dataclass(frozen=True)
class ThresholdSummary:
    strategy: str
    wtp: float
    draws: int
    with_root: int
    above_upper: int
    below_lower: int
    undetermined: int
    mean_given_root: float | None
    median: float | None
    low: float | None
    high: float | None


def summarise_threshold_draws(result: ThresholdDrawsResult) -> list[ThresholdSummary]:
    """Per strategy and WTP: counts by status and the distribution of the threshold."""
    out = []
    keys = dict.fromkeys((r.strategy, r.wtp) for r in result.rows)
    for s, w in keys:
        rows = [r for r in result.rows if (r.strategy, r.wtp) == (s, w)]
        count = {st: sum(r.status == st for r in rows) for st in (ROOT, ABOVE, BELOW,
                                                                   UNDETERMINED)}
        placed = [r.value if r.value is not None else math.inf if r.status == ABOVE
                  else -math.inf for r in rows if r.status != UNDETERMINED]
        roots = [r.value for r in rows if r.value is not None]
        mean = math.fsum(roots) / len(roots) if roots else None
        out.append(ThresholdSummary(s, w, len(rows), count[ROOT], count[ABOVE], count[BELOW],
                                    count[UNDETERMINED], mean,
                                    *(censored_quantile(placed, q) for q in (0.5, 0.025,
                                                                            0.975))))
    return out
