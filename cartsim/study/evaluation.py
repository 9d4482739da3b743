"""Deterministic evaluations at given parameter settings: what one-way sensitivity
analysis, sweeps and thresholds share.

Every evaluation of one analysis uses the same seed and patients, so with common
random numbers a parameter value moves no random draw: the difference between two
evaluations is the effect of the value, not Monte Carlo noise, and results are
smooth (for chances, finely stepped) functions of the value, so a root finder can
work on INMB. Settings are in each parameter's *given* unit (as in the scenario and
on the command line), converted with ``Parameter.factor``. As for PSA draws
(``params.draws``), a value outside its kind's range is clipped, and a categorical
set of probabilities summing above 1 is scaled down to 1; ``Evaluation.adjusted``
records either.

The :class:`Evaluator` hands value sets to the runner, which simulates each
distinct pathway value set once: settings that change only costs, utilities or
QALY losses re-value a kept simulation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from cartsim.analysis.deterministic import Increment, increment
from cartsim.checks import did_you_mean
from cartsim.errors import UsageError
from cartsim.params.parameter import KINDS, Parameter
from cartsim.scenario.model import Scenario
from cartsim.study.result import RunResult
from cartsim.study.runner import Runner

Progress = Callable[[int], None] | None
Settings = Mapping[str, float]
"""Parameter name -> value in its given unit."""


@dataclass(frozen=True)
class StrategyMeans:
    """Mean discounted cost, QALYs and life-years per patient of one strategy."""

    strategy: str
    cost: float
    qaly: float
    ly: float


@dataclass(frozen=True)
class Evaluation:
    """One evaluation of every strategy. ``settings``: (name, value in the given unit
    as evaluated) of each parameter set (and any rescaled with it), in scenario
    order. A comparison is a strategy minus the comparator: ``measures`` cost, qaly,
    ly (differences of means, paired MCSE), ``icer`` and ``inmb[wtp]``
    (analysis.deterministic)."""

    settings: tuple[tuple[str, float], ...]
    means: tuple[StrategyMeans, ...]
    comparisons: tuple[Increment, ...]
    adjusted: str = ""

    def comparison(self, strategy: str | None = None) -> Increment:
        """The comparison of ``strategy`` (default: the first non-comparator)."""
        return next(c for c in self.comparisons if strategy in (None, c.strategy))


@dataclass(frozen=True)
class RunInfo:
    """What every evaluation of one analysis shares (``wtp``: the scenario's)."""

    scenario: str
    strategies: tuple[str, ...]
    comparator: str
    wtp: tuple[float, ...]
    currency: str
    price_year: int
    patients: int
    seed: int
    engine: str


def find_parameter(scenario: Scenario, name: str) -> Parameter:
    """The parameter called ``name``; UsageError with a suggestion if there is none."""
    if name not in scenario.parameters:
        hint = did_you_mean(name, scenario.parameters) or "list them with `cartsim params FILE`"
        msg = f"unknown parameter {name!r}; {hint}"
        raise UsageError(msg)
    return scenario.parameters[name]


def checked_value(p: Parameter, value: float, what: str = "value") -> float:
    """``value`` (given unit) as a float; UsageError if its kind cannot take it."""
    low, high, low_open, _, describe = KINDS[p.kind]
    x = float(value)
    if not (math.isfinite(x) and (low is None or x > low or (x == low and not low_open))
            and (high is None or x <= high)):
        msg = f"{p.name}: {what} {value!r} ({p.given_unit}) is out of range: must be {describe}"
        raise UsageError(msg)
    return x


def clip_value(p: Parameter, x: float) -> float:
    """``x`` (model units) clipped to the range of the parameter's kind."""
    low, high = KINDS[p.kind][0], KINDS[p.kind][1]
    return min(max(x, -math.inf if low is None else low), math.inf if high is None else high)


class Evaluator:
    """Evaluates the model at given-unit settings on one seed and cohort.

    Evaluations are cached by the model values they change (a repeated value, such
    as a bracket end, costs nothing), and the runner keeps the simulations that
    later settings may value again (``retain``).
    """

    def __init__(self, scenario: Scenario, patients: int | None, seed: int | None,
                 engine: str, progress: Progress, draw: int = 0,
                 base: Mapping[str, float] | None = None, runner: Runner | None = None
                 ) -> None:
        self.scenario = scenario
        # A shared runner (one per job of draws) loads the life table and cohort once.
        self.runner = runner if runner is not None else Runner(
            scenario, patients=patients, seed=seed, engine=engine, retain=True)
        self.progress, self.draw = progress, draw  # draw: its streams
        self.base = dict(base) if base is not None else scenario.point_values()
        self.cache: dict[tuple[object, ...], tuple[tuple[StrategyMeans, ...],
                                                   tuple[Increment, ...]]] = {}

    @property
    def simulations(self) -> int:
        return self.runner.simulations

    @property
    def evaluations(self) -> int:
        return self.runner.evaluations

    def info(self) -> RunInfo:
        run = self.scenario.run
        return RunInfo(self.scenario.name, self.scenario.strategies, run.comparator,
                       tuple(run.wtp), run.reported_currency, run.reported_price_year,
                       self.runner.cohort.n, self.runner.seed, self.runner.engine)

    def __call__(self, given: Settings, wtp: Sequence[float] | None = None) -> Evaluation:
        return self.many([given], wtp)[0]

    def many(self, settings: Sequence[Settings], wtp: Sequence[float] | None = None
             ) -> list[Evaluation]:
        """The evaluation of each of ``settings``, in order, the runner simulating each
        distinct pathway value set once; ``progress(1)`` after each."""
        lams = tuple(float(w) for w in (self.scenario.run.wtp if wtp is None else wtp))
        prepared = [self._values(given) for given in settings]
        keys = [(key, lams) for _, _, key in prepared]
        new = list(dict.fromkeys(k for k in keys if k not in self.cache))
        values = {k: v for (v, _, _), k in zip(prepared, keys, strict=True)}
        results = self.runner.evaluate([values[k] for k in new], draw=self.draw)
        for k, result in zip(new, results, strict=True):
            self.cache[k] = self._summarise(result, lams)
        out = []
        for given, (values_k, notes, _), k in zip(settings, prepared, keys, strict=True):
            shown = {n for n, _ in k[0]} | set(given)
            evaluated = tuple((n, values_k[n] / p.factor)
                              for n, p in self.scenario.parameters.items() if n in shown)
            out.append(Evaluation(evaluated, *self.cache[k], "; ".join(notes)))
            if self.progress is not None:
                self.progress(1)
        return out

    def _values(self, given: Settings) -> tuple[dict[str, float], list[str],
                                                 tuple[tuple[str, float], ...]]:
        """Model values of ``given`` (clipped, rescaled), notes, and the cache key."""
        values, notes = dict(self.base), []
        for name, x in given.items():
            p = self.scenario.parameters[name]
            values[name] = clip_value(p, p.converted(float(x)))
            if values[name] != p.converted(float(x)):
                notes.append(f"{name} clipped to {values[name] / p.factor:g}")
        for group in self.scenario.probability_sets:
            total = math.fsum(values[n] for n in group)
            if total > 1.0 and any(n in given for n in group):
                for n in group:  # the whole branch scaled down together, as PSA draws are
                    values[n] /= total
                notes.append(f"{', '.join(group)} rescaled to sum to 1 (sum was {total:g})")
        key = tuple(sorted((n, v) for n, v in values.items() if v != self.base[n]))
        return values, notes, key

    def _summarise(self, result: RunResult, lams: tuple[float, ...]
                   ) -> tuple[tuple[StrategyMeans, ...], tuple[Increment, ...]]:
        ref_name = self.scenario.run.comparator
        ref = result.outcomes[ref_name].columns
        means, comparisons = [], []
        for s, o in result.outcomes.items():
            means.append(StrategyMeans(s, *(math.fsum(o.columns[m].tolist()) / o.n
                                            for m in ("cost", "qaly", "ly"))))
            if s != ref_name:
                comparisons.append(increment(o.columns, ref, s, ref_name,
                                             ("cost", "qaly", "ly"), lams))
        return tuple(means), tuple(comparisons)
