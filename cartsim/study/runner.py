"""The one runner: every study simulates and values the model through it.

Simulate once, value many (hesim's ``sim_stateprobs`` once, ``sim_costs`` many). A
set of parameter values is split, per strategy, into the values the strategy's
pathway reads (they change what is simulated) and the rest (costs, utilities and
QALY losses: they only value what was simulated). Which is which is not a
hand-kept list: the runner builds each pathway through a mapping that records the
names read (:class:`RecordedValues`), so a custom model splits correctly too. Two
value sets whose recorded reads agree give the same pathway, so one simulation of
that strategy (an *engine pass* over the cohort, counted in ``simulations``) is
valued under every value set that shares it (counted in ``evaluations``).

Discount rates and the price conversion are run settings, fixed per runner; like
costs they only value what was simulated.

:func:`cartsim.study.simulate.engine_pass` is the runner's one call into an engine:
one strategy on one chunk of patients, for a batch of draws (a PSA's, through
:meth:`Runner.evaluate_draws`), each valued under its valuation sets. An engine that
values as it simulates (columns of rates and amounts handed over as arrays) or
simulates many PSA draws in one pass replaces that function alone.

Patients are simulated and valued a chunk (``RUN_CHUNK``) at a time and only the
per-patient totals and curve sums are kept, unless a later value set of the same
batch (or, with ``retain``, of a later call) needs the simulation again: then its
event logs are kept until they are not. Each patient's results depend neither on
the chunking nor on the worker, and chunks are reduced in patient order, so files
are identical for any number of workers.
"""

from __future__ import annotations

import functools
import operator
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass

from cartsim.cohort import Cohort, sample_cohort
from cartsim.engine import ENGINES
from cartsim.engine.events import EventLog, concatenate_logs
from cartsim.errors import UsageError
from cartsim.outcomes.accounting import (
    OutcomesBuilder,
    PatientOutcomes,
)
from cartsim.outcomes.curves import CurveSums
from cartsim.pathway.build import (
    StrategyModel,
    build_valuations,
    check_pathways,
    model_order,
    strategy_pathways,
)
from cartsim.pathway.model import Pathway, Valuation
from cartsim.rng import Streams
from cartsim.scenario.model import Scenario
from cartsim.study.parallel import parallel_map
from cartsim.study.prepare import discount_rates, prepare
from cartsim.study.result import RunResult
from cartsim.study.simulate import Context, DrawPass, PassResult, engine_pass, value_chunk

RUN_CHUNK = 1 << 16
"""Patients simulated and valued together; bounds a run's memory."""
KEPT = 4
"""Simulations whose event logs a ``retain`` runner keeps between calls (most recent)."""
Key = tuple[tuple[str, float], ...]
"""The (name, value) pairs a strategy's pathway read, in the order it read them."""


class RecordedValues(Mapping[str, float]):
    """Parameter values that remember which names were read, and with what value.

    A builder that asks for every name (iterating, comparing) records them all, so
    the split errs towards simulating again, never towards reusing a simulation
    that a value changes.

    >>> values = RecordedValues({"a": 1.0, "b": 2.0})
    >>> values["b"] + values.get("a", 0.0)
    3.0
    >>> values.key()
    (('b', 2.0), ('a', 1.0))
    """

    def __init__(self, values: Mapping[str, float]) -> None:
        self._values = values
        self._read: dict[str, float] = {}

    def __getitem__(self, name: str) -> float:
        value = self._values[name]
        self._read.setdefault(name, value)
        return value

    def __iter__(self) -> Iterator[str]:
        for name in self._values:
            self._read.setdefault(name, self._values[name])  # iterating reads every value
            yield name

    def __len__(self) -> int:
        return len(self._values)

    def key(self) -> Key:
        return tuple(self._read.items())


@dataclass(frozen=True)
class Plan:
    """One value set, built: each strategy's pathways and valuations, and the key of
    the simulation each strategy needs."""

    values: Mapping[str, float]
    pathways: Mapping[str, Mapping[str, Pathway]]
    valuations: Mapping[str, Mapping[str, Valuation]]
    keys: Mapping[str, Key]


_CONTEXT: Context | None = None


def _pass_job(job: tuple[str, int, tuple[DrawPass, ...], bool, bool]
              ) -> tuple[str, int, PassResult]:
    """One job of a process pool: an engine pass under the runner's shared context."""
    strategy, start, draws, curves, keep_log = job
    ctx = _CONTEXT
    assert ctx is not None
    span = range(start, min(start + RUN_CHUNK, ctx.cohort.n))
    return strategy, start, engine_pass(ctx, strategy, span, draws, curves=curves,
                                        keep_log=keep_log)


class DrawError(Exception):
    """Draws that could not be evaluated (the cause is chained)."""

    def __init__(self, draws: tuple[int, ...]) -> None:
        self.draws = draws
        super().__init__(f"draw {draws[0]}" if len(draws) == 1
                         else f"draws {draws[0]}-{draws[-1]}")


@dataclass
class _Kept:
    """A simulation's event logs by chunk start, kept for valuing again."""

    logs: dict[int, EventLog]
    pathways: Mapping[str, Pathway]


class Runner:
    """Simulates the strategies of one scenario on one cohort and values them.

    Parameters
    ----------
    scenario : Scenario
        Validated; :func:`~cartsim.study.prepare.prepare` is applied to it, so the
        runner refuses what ``cartsim check`` refuses.
    patients, seed
        Patients per strategy and root seed (default: the scenario's). A cohort file
        fixes the patients: giving ``patients`` too is a UsageError.
    engine : str
        One of :data:`ENGINES`.
    common_random_numbers : bool
        False gives each strategy private streams (only to measure what CRN buys).
    workers : int
        Processes the chunks of one evaluation run on (results identical for any number).
    retain : bool
        Keep the last :data:`KEPT` simulations' event logs between calls, for
        studies that ask for one value set at a time (a root search).

    ``simulations`` counts engine passes over the whole cohort (one strategy, one
    pathway value set, one draw); ``evaluations`` counts value sets valued.
    """

    def __init__(self, scenario: Scenario, *, patients: int | None = None,
                 seed: int | None = None, engine: str = "compiled",
                 common_random_numbers: bool = True, workers: int = 1,
                 retain: bool = False) -> None:
        if engine not in ENGINES:
            msg = f"engine must be one of {', '.join(ENGINES)}; got {engine!r}"
            raise UsageError(msg)
        if patients is not None and scenario.cohort.file is not None:
            msg = (f"the cohort is read from {scenario.cohort.file.name} (cohort.file), so "
                   "the number of patients is the number of rows; drop --patients")
            raise UsageError(msg)
        self.scenario = scenario
        self.engine = engine
        self.seed = seed if seed is not None else scenario.run.seed
        self.common_random_numbers = common_random_numbers
        self.workers = workers
        self.retain = retain
        _, life_table = prepare(scenario)  # what `cartsim check` checks, refused alike
        self.rates = discount_rates(scenario)
        n = patients if patients is not None else scenario.run.patients
        # Patients are the same people in every draw (cohort.py), so sample once.
        cohort = sample_cohort(scenario.cohort, n, streams=Streams(self.seed))
        self.context = Context(cohort, life_table, scenario.run.horizon, engine, self.seed,
                               common_random_numbers, self.rates, scenario.run.cost_factor,
                               event_times=bool(scenario.payment))
        self.simulations = 0
        self.evaluations = 0
        self._kept: OrderedDict[tuple[str, int, Key], _Kept] = OrderedDict()

    @property
    def cohort(self) -> Cohort:
        return self.context.cohort

    @property
    def kept(self) -> int:
        """Simulations whose event logs are held for valuing again (memory in use)."""
        return len(self._kept)

    def plan(self, values: Mapping[str, float] | None = None,
             choices: Mapping[str, str] | None = None) -> Plan:
        """Build one value set (default: the point values): pathways with the names each
        strategy read, then valuations. ``choices`` replace text choices of the scenario
        (a PSA draw's structural options, e.g. ``car_t.relapse.model``). ScenarioError on
        a structural problem."""
        scenario = self.scenario.with_choices(choices)
        values = values if values is not None else scenario.point_values()
        pathways, keys = {}, {}
        for name in model_order(scenario):
            recorded = RecordedValues(values)
            pathways[name] = strategy_pathways(scenario, name, recorded)
            keys[name] = recorded.key()
        valuations = build_valuations(scenario, values, pathways)
        check_pathways(scenario, pathways)
        return Plan(values, pathways, valuations, keys)

    def evaluate(self, value_sets: Sequence[Mapping[str, float] | None], *, draw: int = 0,
                 curves: bool = False, keep_logs: bool = False,
                 progress: Callable[[int], None] | None = None) -> Iterator[RunResult]:
        """Each value set's results, in order, simulating each distinct pathway value
        set of each strategy once in the batch (and, with ``retain``, across calls).

        ``curves`` adds the curves over time; ``keep_logs`` the event logs (a trace).
        ``progress(k)`` as each strategy finishes a chunk of k patients it simulated.
        Results are yielded one at a time so a caller can reduce and drop each.
        """
        plans = [self.plan(v) for v in value_sets]
        uses: dict[tuple[str, int, Key], int] = {}
        for p in plans:
            for s, key in p.keys.items():
                uses[s, draw, key] = uses.get((s, draw, key), 0) + 1
        for plan in plans:
            yield self._evaluate(plan, draw, uses, curves, keep_logs, progress)

    def evaluate_draws(self, draws: Sequence[tuple[int, Mapping[str, float] | None]],
                       choices: Sequence[Mapping[str, str]] | None = None
                       ) -> Iterator[RunResult]:
        """Each draw's results at its own values and on its own random numbers (a PSA's
        draws), in order, without curves or logs. ``choices[j]``: the text choices of
        draw j (its structural options), if any.

        Draws share no simulation (a draw moves every pathway), so a batch of draws is
        simulated together: one engine pass per strategy and chunk of patients for the
        whole batch, batches bounded to ``RUN_CHUNK`` patient-draws. A batch holds draws
        of one pathway structure only (equal text choices): a batch of consecutive draws
        is cut where the choices change, so a caller that orders its draws by structure
        gets full batches. A draw whose values cannot be built, or a batch that fails,
        raises :class:`DrawError` naming it.
        """
        n, order = self.cohort.n, self.scenario.strategies
        starts = range(0, max(n, 1), RUN_CHUNK)
        per_pass = max(1, RUN_CHUNK // max(n, 1))
        chosen = list(choices) if choices is not None else [{}] * len(draws)
        for lo, hi in structure_batches(chosen, per_pass):
            batch = []
            for (k, values), picked in zip(draws[lo:hi], chosen[lo:hi], strict=True):
                try:
                    batch.append((k, self.plan(values, picked)))
                except Exception as err:
                    raise DrawError((k,)) from err
            builders = [{s: OutcomesBuilder(n) for s in order} for _ in batch]
            jobs = [(s, start, tuple(DrawPass(k, plan.pathways[s], (plan.valuations[s],))
                                     for k, plan in batch), False, False)
                    for start in starts for s in order]

            def take(s: str, start: int, result: PassResult,
                     builders: list[dict[str, OutcomesBuilder]] = builders) -> None:
                for built, valued in zip(builders, result.outcomes, strict=True):
                    built[s].add(start, valued[0])

            try:
                self._run_passes(jobs, take)
            except Exception as err:
                raise DrawError(tuple(k for k, _ in batch)) from err
            self.simulations += len(order) * len(batch)
            self.evaluations += len(batch)
            for (_, plan), built in zip(batch, builders, strict=True):
                yield self._result(plan, {s: built[s].build() for s in order}, None, {})

    def _evaluate(self, plan: Plan, draw: int, uses: dict[tuple[str, int, Key], int],
                  curves: bool, keep_logs: bool, progress: Callable[[int], None] | None
                  ) -> RunResult:
        n, order = self.cohort.n, self.scenario.strategies
        starts = range(0, max(n, 1), RUN_CHUNK)
        builders = {s: OutcomesBuilder(n) for s in order}
        sums: dict[str, dict[int, CurveSums]] = {s: {} for s in order}
        logs: dict[str, dict[int, EventLog]] = {s: {} for s in order}
        todo = []
        for s in order:
            key = plan.keys[s]
            kept = self._kept.get((s, draw, key))
            if kept is None:
                todo.append(s)
                continue
            self._kept.move_to_end((s, draw, key))
            for start, log in kept.logs.items():
                span = range(start, min(start + RUN_CHUNK, n))
                parts, curve = value_chunk(self.context, log, span, kept.pathways,
                                           (plan.valuations[s],), curves=curves)
                builders[s].add(start, parts[0])
                if curve is not None:
                    sums[s][start] = curve[0]
                if keep_logs:
                    logs[s][start] = log
        keep = {s for s in todo if keep_logs or uses[s, draw, plan.keys[s]] > 1 or self.retain}
        jobs = [(s, start, (DrawPass(draw, plan.pathways[s], (plan.valuations[s],)),),
                 curves, s in keep) for start in starts for s in order if s in todo]
        new_logs: dict[str, dict[int, EventLog]] = {s: {} for s in keep}

        def take(s: str, start: int, result: PassResult) -> None:
            part = result.outcomes[0][0]
            builders[s].add(start, part)
            if result.curves is not None:
                sums[s][start] = result.curves[0][0]
            if result.logs is not None:
                new_logs[s][start] = result.logs[0]
                if keep_logs:
                    logs[s][start] = result.logs[0]
            if progress is not None:
                progress(part.n)

        self._run_passes(jobs, take)
        self.simulations += len(todo)
        self.evaluations += 1
        for s, by_start in new_logs.items():
            self._kept[s, draw, plan.keys[s]] = _Kept(by_start, plan.pathways[s])
        self._forget(plan, draw, uses)
        return self._result(plan, {s: builders[s].build() for s in order},
                            {s: functools.reduce(operator.add, [by[k] for k in sorted(by)])
                             for s, by in sums.items()} if curves else None,
                            {s: concatenate_logs([by[k] for k in sorted(by)])
                             for s, by in logs.items() if by})

    def _run_passes(self, jobs: Sequence[tuple[str, int, tuple[DrawPass, ...], bool, bool]],
                    take: Callable[[str, int, PassResult], None]) -> None:
        """Run engine passes on the runner's workers; ``take`` each result as it comes
        (results are put in their place by chunk start, so order does not matter)."""
        global _CONTEXT
        _CONTEXT = self.context
        if self.engine == "compiled" and self.workers > 1:
            from cartsim.engine.compiled import warm_up

            warm_up()  # compile (or load) the kernel once, before the workers fork
        try:
            with parallel_map(self.workers) as (_, mapper), \
                    closing(mapper(_pass_job, jobs)) as done:
                for s, start, result in done:
                    take(s, start, result)
        finally:
            _CONTEXT = None

    def _result(self, plan: Plan, outcomes: Mapping[str, PatientOutcomes],
                curves: Mapping[str, CurveSums] | None, logs: Mapping[str, EventLog]
                ) -> RunResult:
        models = {s: StrategyModel(s, self.scenario.strategy_labels[s], plan.pathways[s],
                                   plan.valuations[s]) for s in plan.pathways}
        return RunResult(self.scenario, self.cohort, models, logs, outcomes, self.rates,
                         self.engine, self.seed, self.common_random_numbers, curves)

    def _forget(self, plan: Plan, draw: int, uses: dict[tuple[str, int, Key], int]) -> None:
        """Drop the logs of simulations no later value set of the batch needs (beyond
        the few a retaining runner keeps)."""
        for s, key in plan.keys.items():
            uses[s, draw, key] -= 1
        pending = {k for k, count in uses.items() if count > 0}
        limit = KEPT if self.retain else 0
        for k in [k for k in self._kept if k not in pending]:
            if sum(1 for j in self._kept if j not in pending) <= limit:
                break
            del self._kept[k]


def structure_batches(choices: Sequence[Mapping[str, str]], size: int
                      ) -> Iterator[tuple[int, int]]:
    """(start, stop) of consecutive runs of at most ``size`` items with equal choices.

    >>> list(structure_batches([{}, {}, {"m": "a"}, {"m": "a"}, {"m": "a"}], 2))
    [(0, 2), (2, 4), (4, 5)]
    """
    lo = 0
    for j in range(1, len(choices) + 1):
        if j == len(choices) or j - lo == size or choices[j] != choices[lo]:
            yield lo, j
            lo = j


def run_scenario(scenario: Scenario, *, patients: int | None = None, seed: int | None = None,
                 draw: int = 0, values: Mapping[str, float] | None = None,
                 engine: str = "compiled", common_random_numbers: bool = True,
                 keep_logs: bool = True, curves: bool = True, workers: int = 1,
                 progress: Callable[[int], None] | None = None) -> RunResult:
    """Simulate every strategy of ``scenario`` on one cohort and value the logs.

    ``values`` replaces the point values (a PSA draw or a sensitivity value);
    ``draw`` selects that draw's random-number streams. ``keep_logs`` = False drops
    each chunk's event log once it is valued (``result.logs`` is then empty);
    ``curves`` = False skips the curves over time. ``progress(k)`` is called as each
    strategy finishes a chunk of k patients. ``workers`` > 1 simulates the chunks
    (``RUN_CHUNK`` patients x one strategy each) on that many processes; the results
    are identical for any number. The result holds per-patient arrays and no tables
    (``cartsim.run`` makes a run's tables).

    >>> from cartsim.scenario.load import example_scenario
    >>> result = run_scenario(example_scenario(), patients=200, seed=1)
    >>> result.strategies, result.outcomes["cart"]["qaly"].shape
    (('cart', 'immunosuppression'), (200,))
    """
    runner = Runner(scenario, patients=patients, seed=seed, engine=engine,
                    common_random_numbers=common_random_numbers, workers=workers)
    return next(runner.evaluate([values], draw=draw, curves=curves, keep_logs=keep_logs,
                                progress=progress))
