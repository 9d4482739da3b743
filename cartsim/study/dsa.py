"""One-way sensitivity analysis (``cartsim dsa``) and parameter sweeps (``cartsim sweep``).

Both evaluate the model at given parameter settings on one seed and cohort
(:mod:`cartsim.study.evaluation`); every other parameter stays at its point value.
The runner simulates each distinct pathway value set once, so a range of a cost,
utility or QALY loss re-values the base case's simulation instead of simulating
again. The tables are made by :mod:`cartsim.study.dsa_tables`; the commands are
:mod:`cartsim.cli.dsa`.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cartsim.errors import UsageError
from cartsim.scenario.model import Scenario
from cartsim.study.dsa_tables import one_way_tables, sweep_table
from cartsim.study.evaluation import (
    Evaluation,
    Evaluator,
    Progress,
    RunInfo,
    checked_value,
    find_parameter,
)
from cartsim.study.input_tables import parameters_table
from cartsim.study.prepare import discount_rates
from cartsim.study.result import Manifest, Tabled, scenario_manifest
from cartsim.table import Table

MAX_COMBINATIONS = 10_000
"""Cap on the evaluations of one sweep (each evaluates every strategy)."""
DsaRange = tuple[str, float, float, str]  # name, low, high (given unit), range source


@dataclass(frozen=True)
class OneWayRow:
    """A parameter at its low and high value (given unit, as evaluated)."""

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
class OneWayResult(Tabled):
    """The base evaluation, a row per parameter in the tornado's order, the
    parameters asked for that have no range, and the ``dsa`` and ``tornado`` tables."""

    info: RunInfo
    base: Evaluation
    rows: tuple[OneWayRow, ...]
    skipped: tuple[str, ...]
    all_tables: tuple[Table, ...] = ()
    manifest: Manifest | None = None


@dataclass(frozen=True)
class SweepResult(Tabled):
    """An evaluation per combination of the grid's values, and the ``sweep`` table."""

    info: RunInfo
    names: tuple[str, ...]
    units: tuple[str, ...]
    rows: tuple[Evaluation, ...]
    all_tables: tuple[Table, ...] = ()
    manifest: Manifest | None = None


def dsa_ranges(scenario: Scenario, names: Sequence[str] | None = None
               ) -> tuple[DsaRange, ...]:
    """The one-way range (given unit) of each parameter (or of ``names``) that has one:
    the scenario's ``low``/``high`` (a missing end is the point value), or else the
    2.5% and 97.5% points of a non-fixed distribution; parameters with neither (and
    Dirichlet vectors) are left out. UsageError for an unknown name (with a suggestion).

    >>> from cartsim.scenario.load import example_scenario
    >>> [(name.rsplit(".", 2)[-2], low, high) for name, low, high, _ in
    ...  dsa_ranges(example_scenario(), ["strategies.cart.upfront_cost.product"])]
    [('upfront_cost', 250000.0, 450000.0)]
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
        As for ``run_scenario``; shared by every evaluation. ``names``: see
        :func:`dsa_ranges`. ``progress(1)`` after each of the
        ``1 + 2 × len(dsa_ranges(...))`` evaluations.

    Returns
    -------
    OneWayResult
        The base evaluation and a row per parameter (others at their point values),
        sorted by the tornado's swing ``|INMB(high) - INMB(low)|`` at the *last*
        WTP of the scenario (the largest over strategies if several); ties keep
        the scenario's order. ``skipped``: parameters asked for without a range.

    Examples
    --------
    >>> from cartsim.scenario.load import example_scenario
    >>> dsa = one_way(example_scenario(), patients=200)
    >>> [round(row.swing) for row in dsa.rows if row.name.endswith("product")], dsa.tables()
    ([200000], ('dsa', 'tornado', 'parameters'))

    A price changes no pathway, so its range re-values the base case's simulation:

    >>> dsa.manifest.extra["simulations"] < 2 * dsa.manifest.extra["evaluations"]
    True
    """
    evaluator = Evaluator(scenario, patients, seed, engine, progress)
    plan = dsa_ranges(scenario, names)
    settings: list[Mapping[str, float]] = [{}]
    for name, lo_value, hi_value, _ in plan:
        settings += [{name: lo_value}, {name: hi_value}]
    base, *ends = evaluator.many(settings)
    rows, last = [], float(scenario.run.wtp[-1])
    for (name, _, _, source), low, high in zip(plan, ends[::2], ends[1::2], strict=True):
        swing = max((abs(h.inmb[last].mean - lo.inmb[last].mean)
                     for lo, h in zip(low.comparisons, high.comparisons, strict=True)),
                    default=0.0)
        p = scenario.parameters[name]
        rows.append(OneWayRow(name, p.given_unit, p.given_value, dict(low.settings)[name],
                              dict(high.settings)[name], source, low, high, swing))
    rows.sort(key=lambda row: -row.swing)  # a stable sort: ties keep the scenario's order
    skipped = tuple(n for n in (names or scenario.parameters) if n not in {r[0] for r in plan})
    result = OneWayResult(evaluator.info(), base, tuple(rows), skipped)
    return dataclasses.replace(
        result, all_tables=(*one_way_tables(result), parameters_table(scenario)),
        manifest=_manifest(scenario, evaluator, "dsa"))


def sweep(scenario: Scenario, grid: Mapping[str, Sequence[float]], *,
          patients: int | None = None, seed: int | None = None, engine: str = "compiled",
          progress: Progress = None) -> SweepResult:
    """Evaluate every combination of ``grid``'s values; other parameters at their point
    values.

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

    Examples
    --------
    >>> from cartsim.scenario.load import example_scenario
    >>> price = "strategies.cart.upfront_cost.product"
    >>> result = sweep(example_scenario(), {price: [300000, 400000]}, patients=200)
    >>> result.table("sweep").column(price)
    (300000.0, 400000.0)
    """
    params = [find_parameter(scenario, n) for n in grid]
    values = [[checked_value(p, x) for x in grid[p.name]] for p in params]
    if not grid or not 0 < (count := math.prod(len(v) for v in values)) <= MAX_COMBINATIONS:
        msg = (f"a sweep needs 1 to {MAX_COMBINATIONS:,} combinations of the values of at "
               f"least one parameter; got {count if grid else 0:,}")
        raise UsageError(msg)
    evaluator = Evaluator(scenario, patients, seed, engine, progress)
    rows = tuple(evaluator.many([dict(zip(grid, combo, strict=True))
                                 for combo in itertools.product(*values)]))
    result = SweepResult(evaluator.info(), tuple(grid), tuple(p.given_unit for p in params),
                         rows)
    return dataclasses.replace(
        result, all_tables=(sweep_table(result), parameters_table(scenario)),
        manifest=_manifest(scenario, evaluator, "sweep",
                           {"grid": {k: list(v) for k, v in grid.items()}}))


def _manifest(scenario: Scenario, evaluator: Evaluator, command: str,
              extra: Mapping[str, object] | None = None) -> Manifest:
    info = evaluator.info()
    return scenario_manifest(
        scenario, discount_rates(scenario), command=command, seed=info.seed,
        sizes={"patients": info.patients, "strategies": len(info.strategies)},
        engine=info.engine, simulations=evaluator.simulations,
        evaluations=evaluator.evaluations, extra=extra)
