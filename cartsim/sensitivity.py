"""Deterministic sensitivity analysis: one-way (tornado), sweeps and thresholds.

Every run of an analysis uses the same seed and patients, so with common random
numbers a parameter value moves no random draw: the difference between two runs
is the effect of the value, not Monte Carlo noise, and outputs are smooth (for
chances, finely stepped) functions of the value, so a root finder can work on INMB.

Values are in each parameter's *given* unit (as in the scenario and on the command
line), converted with ``Parameter.factor``. As for PSA draws (``params.draws``), a
value outside its kind's range is clipped, and a categorical set of probabilities
summing above 1 is scaled down to 1; ``Evaluation.adjusted`` records either.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from cartsim.analysis.cea import MeanEstimate
from cartsim.analysis.deterministic import Increment, increment
from cartsim.api import run_scenario
from cartsim.checks import did_you_mean
from cartsim.deferred import brentq
from cartsim.errors import UsageError
from cartsim.params.parameter import KINDS, Parameter
from cartsim.scenario.model import Scenario

MAX_COMBINATIONS = 10_000
"""Cap on the runs of one sweep (each run simulates every strategy)."""
Progress = Callable[[int], None] | None
DsaRange = tuple[str, float, float, str]  # name, low, high (given unit), range source


@dataclass(frozen=True)
class StrategyMeans:
    """Mean discounted cost, QALYs and life-years per patient of one strategy."""

    strategy: str
    cost: float
    qaly: float
    ly: float


@dataclass(frozen=True)
class Evaluation:
    """One model run. ``settings``: (name, value in the given unit as simulated) of
    each parameter set (and any rescaled with it), in scenario order. A comparison
    is a strategy minus the comparator: ``measures`` cost, qaly, ly (differences of
    means, paired MCSE), ``icer`` and ``inmb[wtp]`` (analysis.deterministic)."""

    settings: tuple[tuple[str, float], ...]
    means: tuple[StrategyMeans, ...]
    comparisons: tuple[Increment, ...]
    adjusted: str = ""

    def comparison(self, strategy: str | None = None) -> Increment:
        """The comparison of ``strategy`` (default: the first non-comparator)."""
        return next(c for c in self.comparisons if strategy in (None, c.strategy))


@dataclass(frozen=True)
class RunInfo:
    """What every run of one analysis shares (``wtp``: the scenario's)."""

    scenario: str
    strategies: tuple[str, ...]
    comparator: str
    wtp: tuple[float, ...]
    currency: str
    price_year: int
    patients: int
    seed: int
    engine: str


@dataclass(frozen=True)
class OneWayRow:
    """A parameter at its low and high value (given unit, as simulated)."""

    name: str
    unit: str
    base: float
    low: float
    high: float
    source: str
    low_run: Evaluation
    high_run: Evaluation
    swing: float


@dataclass(frozen=True)
class OneWayResult:
    info: RunInfo
    base: Evaluation
    rows: tuple[OneWayRow, ...]
    skipped: tuple[str, ...]


@dataclass(frozen=True)
class SweepResult:
    info: RunInfo
    names: tuple[str, ...]
    units: tuple[str, ...]
    rows: tuple[Evaluation, ...]


@dataclass(frozen=True)
class ThresholdRow:
    """INMB = 0 for one strategy and WTP; ``value`` and interval None if no root."""

    strategy: str
    wtp: float
    value: float | None
    interval_low: float | None
    interval_high: float | None
    status: str
    inmb_lower: float
    inmb_upper: float
    inmb_se: float | None
    slope: float | None


@dataclass(frozen=True)
class ThresholdResult:
    info: RunInfo
    parameter: str
    unit: str
    base: float
    lower: float
    upper: float
    rows: tuple[ThresholdRow, ...]


def find_parameter(scenario: Scenario, name: str) -> Parameter:
    if name not in scenario.parameters:
        hint = did_you_mean(name, scenario.parameters) or "list them with `cartsim params FILE`"
        msg = f"unknown parameter {name!r}; {hint}"
        raise UsageError(msg)
    return scenario.parameters[name]


def checked_value(p: Parameter, value: float, what: str = "value") -> float:
    low, high, low_open, _, describe = KINDS[p.kind]
    x = float(value)
    if not (math.isfinite(x) and (low is None or x > low or (x == low and not low_open))
            and (high is None or x <= high)):
        msg = f"{p.name}: {what} {value!r} ({p.given_unit}) is out of range: must be {describe}"
        raise UsageError(msg)
    return x


def clip_value(p: Parameter, x: float) -> float:
    low, high = KINDS[p.kind][0], KINDS[p.kind][1]
    return min(max(x, -math.inf if low is None else low), math.inf if high is None else high)


class Runner:
    """Runs the model at given-unit settings on one seed and cohort, cached by the
    changed model values so a repeated value (a bracket end) costs no second run."""

    def __init__(self, scenario: Scenario, patients: int | None, seed: int | None,
                 engine: str, progress: Progress, draw: int = 0,
                 base: Mapping[str, float] | None = None) -> None:
        self.scenario, self.patients, self.engine = scenario, patients, engine
        self.seed = seed if seed is not None else scenario.run.seed
        self.n = patients if patients is not None else scenario.run.patients
        self.progress, self.cache, self.draw = progress, {}, draw  # draw: its streams
        self.base = dict(base) if base is not None else scenario.point_values()

    def info(self) -> RunInfo:
        run = self.scenario.run
        return RunInfo(self.scenario.name, self.scenario.strategies, run.comparator,
                       tuple(run.wtp), run.reported_currency, run.reported_price_year, self.n,
                       self.seed, self.engine)

    def __call__(self, given: Mapping[str, float], wtp: Sequence[float] | None = None
                 ) -> Evaluation:
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
        lams = tuple(float(w) for w in (self.scenario.run.wtp if wtp is None else wtp))
        key = tuple(sorted((n, v) for n, v in values.items() if v != self.base[n]))
        if (key, lams) not in self.cache:
            self.cache[key, lams] = self._evaluate(values, lams)
        if self.progress is not None:
            self.progress(1)
        shown = {n for n, _ in key} | set(given)
        settings = tuple((n, values[n] / p.factor)
                         for n, p in self.scenario.parameters.items() if n in shown)
        return Evaluation(settings, *self.cache[key, lams], "; ".join(notes))

    def _evaluate(self, values: dict[str, float], lams: tuple[float, ...]) -> tuple:
        result = run_scenario(self.scenario, patients=self.patients, seed=self.seed,
                              draw=self.draw, values=values, engine=self.engine,
                              keep_logs=False, curves=False)
        ref_name = self.scenario.run.comparator
        ref = result.outcomes[ref_name].columns
        means, comparisons = [], []
        for s, o in result.outcomes.items():
            self.n = o.n  # a cohort file fixes the number of patients
            means.append(StrategyMeans(s, *(math.fsum(o.columns[m].tolist()) / o.n
                                            for m in ("cost", "qaly", "ly"))))
            if s != ref_name:
                comparisons.append(increment(o.columns, ref, s, ref_name,
                                             ("cost", "qaly", "ly"), lams))
        return tuple(means), tuple(comparisons)


def dsa_ranges(scenario: Scenario, names: Sequence[str] | None = None
               ) -> tuple[DsaRange, ...]:
    """The one-way range (given unit) of each parameter (or of ``names``) that has one:
    the scenario's ``low``/``high`` (a missing end is the point value), or else the
    2.5% and 97.5% points of a non-fixed distribution; parameters with neither (and
    Dirichlet vectors) are left out. UsageError for an unknown name (with a suggestion).
    """
    out = []
    for name in (names if names is not None else scenario.parameters):
        p, dist = find_parameter(scenario, name), scenario.parameters[name].distribution
        if p.low is not None or p.high is not None:
            lo, hi = (p.given_value if v is None else v for v in (p.low, p.high))
            out.append((name, lo, hi, "scenario low/high"))
        elif dist is not None and dist.name not in ("fixed", "dirichlet"):
            lo, hi = dist.interval(0.95)
            out.append((name, float(lo), float(hi), f"95% interval of {dist.describe()}"))
    return tuple(out)


def one_way(scenario: Scenario, *, patients: int | None = None, seed: int | None = None,
            engine: str = "compiled", names: Sequence[str] | None = None,
            progress: Progress = None) -> OneWayResult:
    """One-way sensitivity analysis: each parameter at its low and high value.

    Parameters
    ----------
    patients, seed, engine
        As for ``run_scenario``; shared by every run. ``names``: see :func:`dsa_ranges`.
        ``progress(1)`` after each of the ``1 + 2 × len(dsa_ranges(...))`` runs.

    Returns
    -------
    OneWayResult
        The base run and a row per parameter (others at their point values),
        sorted by the tornado's swing ``|INMB(high) - INMB(low)|`` at the *last*
        WTP of the scenario (the largest over strategies if several); ties keep
        the scenario's order. ``skipped``: parameters asked for without a range.
    """
    runner = Runner(scenario, patients, seed, engine, progress)
    plan = dsa_ranges(scenario, names)
    base, rows, last = runner({}), [], float(scenario.run.wtp[-1])
    for name, lo_value, hi_value, source in plan:
        low, high = runner({name: lo_value}), runner({name: hi_value})
        swing = max((abs(h.inmb[last].mean - lo.inmb[last].mean)
                     for lo, h in zip(low.comparisons, high.comparisons, strict=True)),
                    default=0.0)
        p = scenario.parameters[name]
        rows.append(OneWayRow(name, p.given_unit, p.given_value, dict(low.settings)[name],
                              dict(high.settings)[name], source, low, high, swing))
    rows.sort(key=lambda row: -row.swing)  # a stable sort: ties keep the scenario's order
    skipped = tuple(n for n in (names or scenario.parameters) if n not in {r[0] for r in plan})
    return OneWayResult(runner.info(), base, tuple(rows), skipped)


def sweep(scenario: Scenario, grid: Mapping[str, Sequence[float]], *,
          patients: int | None = None, seed: int | None = None, engine: str = "compiled",
          progress: Progress = None) -> SweepResult:
    """Run every combination of ``grid``'s values; other parameters at their point values.

    Parameters
    ----------
    grid : Mapping[str, Sequence[float]]
        Name -> values in its given unit (as on the command line). The others as
        for :func:`one_way`.

    Returns
    -------
    SweepResult
        An Evaluation per combination in ``itertools.product`` order (the last
        name varies fastest); its ``settings`` list every swept value.

    Raises
    ------
    UsageError
        Unknown name (with a suggestion), a value outside its kind's range, an
        empty grid, or more than ``MAX_COMBINATIONS`` combinations.
    """
    params = [find_parameter(scenario, n) for n in grid]
    values = [[checked_value(p, x) for x in grid[p.name]] for p in params]
    if not grid or not 0 < (count := math.prod(len(v) for v in values)) <= MAX_COMBINATIONS:
        msg = (f"a sweep needs 1 to {MAX_COMBINATIONS:,} combinations of the values of at "
               f"least one parameter; got {count if grid else 0:,}")
        raise UsageError(msg)
    runner = Runner(scenario, patients, seed, engine, progress)
    rows = tuple(runner(dict(zip(grid, combo, strict=True)))
                 for combo in itertools.product(*values))
    return SweepResult(runner.info(), tuple(grid), tuple(p.given_unit for p in params), rows)


def default_bracket(scenario: Scenario, name: str) -> tuple[float, float]:
    """Threshold search range (given unit) when none is given: probabilities [0, 1];
    utilities [-1, 1]; costs, rates, durations, ratios and QALY losses [0, max(3 x
    point value, DSA high)]; ``positive`` (shapes) the same from min(point value,
    DSA low) / 3; ``real`` point value ± 3 |point value| widened to the DSA range."""
    p = find_parameter(scenario, name)
    dsa, base = dsa_ranges(scenario, [name]), p.given_value
    lo_dsa, hi_dsa = dsa[0][1:3] if dsa else (base, base)
    if p.kind in ("probability", "utility"):
        lower, upper = (float(v or 0.0) for v in KINDS[p.kind][:2])
    elif p.kind == "positive":
        lower, upper = min(base, lo_dsa) / 3.0, max(3.0 * base, hi_dsa)
    elif p.kind == "real":
        lower, upper = min(base - 3 * abs(base), lo_dsa), max(base + 3 * abs(base), hi_dsa)
    else:
        lower, upper = 0.0, max(3.0 * base, hi_dsa)
    if not upper > lower:
        msg = f"{name}: no default search range at point value {base:g}; give lower and upper"
        raise UsageError(msg)
    return lower, upper



def threshold_inputs(scenario: Scenario, name: str, wtp: Sequence[float],
                     lower: float | None, upper: float | None
                     ) -> tuple[Parameter, tuple[float, ...], float, float]:
    """The parameter, WTP values and search bracket of a threshold analysis, checked
    (UsageError naming what is wrong); the bracket defaults to ``default_bracket``."""
    p = find_parameter(scenario, name)
    lams = tuple(float(w) for w in wtp)
    if not lams or any(not (math.isfinite(w) and w >= 0) for w in lams):
        msg = f"threshold: willingness to pay must be finite and >= 0; got {list(wtp)}"
        raise UsageError(msg)
    if lower is None or upper is None:
        lo_d, hi_d = default_bracket(scenario, name)
        lower, upper = lo_d if lower is None else lower, hi_d if upper is None else upper
    a, b = checked_value(p, lower, "lower"), checked_value(p, upper, "upper")
    if not a < b:
        msg = f"{name}: lower {a:g} must be below upper {b:g}"
        raise UsageError(msg)
    return p, lams, a, b

def threshold(scenario: Scenario, name: str, *, wtp: Sequence[float],
              lower: float | None = None, upper: float | None = None,
              patients: int | None = None, seed: int | None = None,
              engine: str = "compiled", tol: float = 1e-10,
              progress: Progress = None) -> ThresholdResult:
    """Value of parameter ``name`` at which INMB = 0, for each strategy and WTP.

    Parameters
    ----------
    name : str
        The parameter; every value (bracket, root, interval) is in its given unit.
    wtp : sequence of float
        Willingness-to-pay values (>= 0).
    lower, upper : float, optional
        Search bracket (default :func:`default_bracket`).
    tol : float
        Brent's ``xtol`` as a fraction of ``upper - lower``. The others as for
        :func:`one_way` (``progress(1)`` per model run).

    Returns
    -------
    ThresholdResult
        A row per non-comparator strategy and WTP: the root of value -> INMB by
        ``scipy.optimize.brentq`` (deterministic in the value under common random
        numbers), or, if INMB has one sign at both ends, no value and the status
        "no threshold in [a, b] ..." (two roots between such ends would be
        missed). Monte Carlo interval: root ± 1.96 SE(INMB at root) / |slope|
        (delta method; slope a difference quotient over root ± 1% of the bracket,
        same random numbers), clipped to the kind's range; None if the slope is 0.
    """
    p, lams, a, b = threshold_inputs(scenario, name, wtp, lower, upper)
    runner = Runner(scenario, patients, seed, engine, progress)

    def inmb(x: float, s: str, w: float) -> MeanEstimate:
        return runner({name: x}, lams).comparison(s).inmb[w]

    rows = []
    for s in (c for c in scenario.strategies if c != scenario.run.comparator):
        for w in lams:
            fa, fb = inmb(a, s, w).mean, inmb(b, s, w).mean
            if fa * fb > 0 or fa == fb == 0.0:
                where = ("cost-effective throughout" if fa > 0 else "not cost-effective "
                         "throughout" if fa < 0 else "INMB is 0 throughout")
                rows.append(ThresholdRow(s, w, None, None, None, f"no threshold in [{a:g}, "
                                         f"{b:g}] {p.given_unit}: {where}", fa, fb, None, None))
                continue
            root = float(brentq(lambda x, s=s, w=w: inmb(x, s, w).mean, a, b,
                                xtol=tol * (b - a), maxiter=200))
            x1, x2 = max(a, root - 0.01 * (b - a)), min(b, root + 0.01 * (b - a))
            slope = (inmb(x2, s, w).mean - inmb(x1, s, w).mean) / (x2 - x1)
            se, lo_ci, hi_ci = inmb(root, s, w).se, None, None
            if se is not None and slope != 0.0:
                half = 1.96 * se / abs(slope)
                lo_ci, hi_ci = (clip_value(p, v * p.factor) / p.factor for v in (root - half,
                                                                           root + half))
            side = "below" if fa > fb else "above"  # INMB falls (rises) with the value
            rows.append(ThresholdRow(s, w, root, lo_ci, hi_ci, f"cost-effective {side} the "
                                     "threshold", fa, fb, se, slope))
    return ThresholdResult(runner.info(), name, p.given_unit, p.given_value, a, b, tuple(rows))
