"""Threshold analysis (``cartsim threshold``): the value of one parameter at which
INMB = 0, at the point values and, optionally, in each PSA draw.

At the point values (:func:`threshold`) Brent's method finds, for every
non-comparator strategy and willingness to pay, where INMB = 0 as the parameter
moves over a bracket, every evaluation on the same seed and patients (common
random numbers), so INMB is a deterministic function of the value and the root is
stable. A cost, utility or QALY loss (a price, say) changes no pathway: the
runner simulates each strategy once and values that simulation at every value the
search tries.

Across PSA draws (:func:`threshold_draws`), draw k's values and structural options
(those ``draw_parameters`` and ``draw_structural`` give draw k, exactly as in
``cartsim psa``: the same relapse shape, re-treatment policy... in the same draw) hold
every other parameter and draw k's random numbers are used; each draw's result is a pure
function of (scenario, seed, k, patients), whatever the number of workers. A draw
whose INMB has the same sign at both ends of the bracket has no root there. Its
threshold lies beyond one end: which one follows from the sign of INMB and the
direction in which INMB moves across the bracket (e.g. a price at which CAR-T is
cost-effective at both ends has its threshold above the upper end). Such draws
are counted, never dropped silently, and the summary's quantiles treat them as
lying beyond that end (a quantile that falls among them is reported as missing).
A draw with equal INMB at both ends cannot be placed and is counted as
undetermined. The command is :mod:`cartsim.cli.threshold`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass, replace

from cartsim.analysis.cea import MeanEstimate
from cartsim.deferred import brentq
from cartsim.errors import UsageError
from cartsim.limits import MAX_DRAWS
from cartsim.params.draws import draw_parameters
from cartsim.params.parameter import KINDS, Parameter
from cartsim.params.structural import draw_structural, text_choices
from cartsim.scenario.model import Scenario
from cartsim.study.dsa import dsa_ranges
from cartsim.study.evaluation import (
    Evaluator,
    Progress,
    RunInfo,
    checked_value,
    clip_value,
    find_parameter,
)
from cartsim.study.input_tables import parameters_table
from cartsim.study.parallel import chunk_size, parallel_map
from cartsim.study.prepare import discount_rates
from cartsim.study.result import Manifest, Tabled, scenario_manifest
from cartsim.study.runner import Runner
from cartsim.study.threshold_tables import (
    ABOVE,
    BELOW,
    ROOT,
    UNDETERMINED,
    threshold_draws_tables,
    threshold_table,
)
from cartsim.table import Table


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
class ThresholdResult(Tabled):
    """The threshold at the point values (``rows``), across PSA draws if asked for
    (``draws``), and their tables."""

    info: RunInfo
    parameter: str
    unit: str
    base: float
    lower: float
    upper: float
    rows: tuple[ThresholdRow, ...]
    draws: ThresholdDrawsResult | None = None
    all_tables: tuple[Table, ...] = ()
    manifest: Manifest | None = None


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
        :func:`~cartsim.study.dsa.one_way` (``progress(1)`` per evaluation).

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

    Examples
    --------
    >>> from cartsim.scenario.load import example_scenario
    >>> price = "strategies.cart.upfront_cost.product"
    >>> result = threshold(example_scenario(), price, wtp=[100000], patients=200)
    >>> result.rows[0].status
    'cost-effective below the threshold'

    A price changes no pathway: one simulation per strategy, valued at every price tried.

    >>> result.manifest.extra["simulations"], result.manifest.extra["evaluations"] > 2
    (2, True)
    """
    p, lams, a, b = threshold_inputs(scenario, name, wtp, lower, upper)
    runner = Evaluator(scenario, patients, seed, engine, progress)

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
    result = ThresholdResult(runner.info(), name, p.given_unit, p.given_value, a, b,
                             tuple(rows))
    return _with_tables(scenario, result, runner.simulations, runner.evaluations)


def _with_tables(scenario: Scenario, result: ThresholdResult, simulations: int,
                 evaluations: int) -> ThresholdResult:
    tables = [threshold_table(result)]
    if result.draws is not None:
        tables += threshold_draws_tables(result.draws)
    info = result.info
    manifest = scenario_manifest(
        scenario, discount_rates(scenario), command="threshold", seed=info.seed,
        sizes={"patients": info.patients, "strategies": len(info.strategies)},
        engine=info.engine, simulations=simulations, evaluations=evaluations,
        extra={"parameter": result.parameter, "lower": result.lower, "upper": result.upper,
               **({"psa_draws": len({r.draw for r in result.draws.rows})}
                  if result.draws is not None else {})})
    return dataclasses.replace(result, all_tables=(*tables, parameters_table(scenario)),
                               manifest=manifest)


def with_draws(scenario: Scenario, single: ThresholdResult, spread: ThresholdDrawsResult
               ) -> ThresholdResult:
    """The threshold at the point values with its distribution over PSA draws beside it
    (one results folder; the engine passes and evaluations of both counted)."""
    assert single.manifest is not None
    made = single.manifest.extra
    return _with_tables(scenario, dataclasses.replace(single, draws=spread),
                        int(made["simulations"]) + spread.simulations,  # type: ignore[call-overload]
                        int(made["evaluations"]) + spread.evaluations)  # type: ignore[call-overload]


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
    options: tuple[tuple[str, str], ...] = ()
    """The draw's structural options (choice key, option name), as in ``cartsim psa``."""


@dataclass(frozen=True)
class ThresholdDrawsResult:
    """Each draw's threshold (rows by draw, then strategy, then WTP), and the engine
    passes and evaluations made to find them."""

    info: RunInfo
    parameter: str
    unit: str
    base: float
    lower: float
    upper: float
    rows: tuple[DrawThreshold, ...]
    simulations: int = 0
    evaluations: int = 0
    option_columns: tuple[str, ...] = ()
    """threshold_draws' column of each structural choice, named as in psa.csv."""


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
    options: tuple[tuple[tuple[str, str], ...], ...]
    """Each draw's structural options (key, option name); its text choices (the relapse
    shape) change the pathways, its numeric ones are already in ``values``."""
    texts: tuple[dict[str, str], ...]


def _side(fa: float, fb: float) -> str:
    """Where the root of a one-signed INMB lies: beyond the end it is moving towards."""
    if fa == fb:
        return UNDETERMINED
    rising = fb > fa
    return ABOVE if (fb < 0) == rising else BELOW


def _solve(job: _Job) -> tuple[list[DrawThreshold], int, int, int]:
    """The job's rows, the number of patients simulated (a cohort file fixes it), the
    engine passes and the evaluations made."""
    a, b = job.bracket
    p = job.scenario.parameters[job.name]
    out: list[DrawThreshold] = []
    # One runner per pathway structure (the draws' text choices); each keeps its
    # simulations, so draws of one structure share the life table and cohort.
    runners: dict[tuple[tuple[str, str], ...], Runner] = {}
    for k, values, options, texts in zip(job.draws, job.values, job.options, job.texts,
                                         strict=True):
        structure = tuple(sorted(texts.items()))
        scenario = job.scenario.with_choices(texts)
        if structure not in runners:
            runners[structure] = Runner(scenario, patients=job.patients, seed=job.seed,
                                        engine=job.engine, retain=True)
        runner = Evaluator(scenario, job.patients, job.seed, job.engine, None, draw=k,
                           base=values, runner=runners[structure])

        def inmb(x: float, s: str, w: float, runner: Evaluator = runner) -> float:
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
                                         values[job.name] / p.factor, options))
    used = list(runners.values())
    return (out, used[0].cohort.n if used else 0, sum(r.simulations for r in used),
            sum(r.evaluations for r in used))


def threshold_draws(scenario: Scenario, name: str, *, wtp: Sequence[float], draws: int,
                    lower: float | None = None, upper: float | None = None,
                    patients: int | None = None, seed: int | None = None,
                    engine: str = "compiled", workers: int = 1, tol: float = 1e-10,
                    progress: Progress = None) -> ThresholdDrawsResult:
    """The threshold of ``name`` in each of PSA draws 1..``draws``.

    Parameters
    ----------
    name, wtp, lower, upper, patients, seed, engine, tol
        As for :func:`threshold` (bracket in the given unit).
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
    info = Evaluator(scenario, patients, seed, engine, None).info()
    ks = list(range(1, draws + 1))
    # Draw k's values and structural options exactly as `cartsim psa` draws them.
    table = draw_structural(draw_parameters(scenario.parameters, ks, info.seed,
                                            scenario.probability_sets, scenario.joint),
                            scenario.structural, info.seed)
    options = [tuple((c.key, table.options[c.key][j]) for c in scenario.structural)
               for j in range(len(ks))]
    found: dict[int, list[DrawThreshold]] = {}
    simulations = evaluations = 0
    with parallel_map(workers) as (slots, mapper):
        size = chunk_size(len(ks), slots)
        jobs = [_Job(scenario, name, tuple(ks[i:i + size]),
                     tuple(table.at(j) for j in range(i, min(i + size, len(ks)))), lams,
                     (a, b), patients, info.seed, engine, tol,
                     tuple(options[i:i + size]),
                     tuple(text_choices(table, scenario.structural, j)
                           for j in range(i, min(i + size, len(ks)))))
                for i in range(0, len(ks), size)]
        with closing(mapper(_solve, jobs)) as batches:
            for batch, simulated, made, valued in batches:
                info = replace(info, patients=simulated)
                simulations, evaluations = simulations + made, evaluations + valued
                for row in batch:
                    found.setdefault(row.draw, []).append(row)
                if progress is not None:
                    progress(len({r.draw for r in batch}))
    rows = tuple(r for k in ks for r in found[k])  # draw order, whatever the workers
    columns = tuple(f"{c.key}.option" if c.key in scenario.parameters else c.key
                    for c in scenario.structural)
    return ThresholdDrawsResult(info, name, p.given_unit, p.given_value, a, b, rows,
                                simulations, evaluations, columns)
