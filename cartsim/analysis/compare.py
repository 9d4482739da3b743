"""Side-by-side results of several scenarios, and what each changes from its base.

Pure functions: per-patient columns in, records out (:func:`summarise_scenario`);
two validated scenarios in, the list of inputs that differ out
(:func:`scenario_changes`). Running the scenarios is the caller's job (the
``cartsim compare`` command), which uses one seed for all of them so that, with
common random numbers, the differences between rows are the effects of the
assumptions, not Monte Carlo noise.

The study that runs the scenarios is :mod:`cartsim.study.compare` (this module is its
analysis layer); the command is :mod:`cartsim.cli.compare`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from cartsim.analysis.cea import MeanEstimate
from cartsim.analysis.deterministic import Increment, increment, means
from cartsim.params.parameter import Parameter
from cartsim.scenario.model import AgeSpec, Scenario
from cartsim.scenario.settings import horizon_label

Columns = Mapping[str, np.ndarray]
MEASURES = ("cost", "qaly", "ly")
UNITLESS = ("", "probability", "ratio", "utility", "QALYs", "currency")


@dataclass(frozen=True)
class ScenarioSummary:
    """One scenario's key results: mean cost, QALYs and life-years per strategy, and
    each strategy against the comparator (differences of means, paired MCSE, ICER,
    INMB at each willingness to pay)."""

    name: str
    file: str
    title: str
    changes: tuple[str, ...]
    patients: int
    seed: int
    means: Mapping[str, Mapping[str, MeanEstimate]]
    comparisons: tuple[Increment, ...]


def summarise_scenario(outcomes: Mapping[str, Columns], *, comparator: str,
                       wtp: Sequence[float], name: str, file: str, title: str,
                       changes: Sequence[str], seed: int) -> ScenarioSummary:
    """Key results of one run from each strategy's per-patient columns.

    The numbers are computed exactly as the run's summary table computes them
    (``analysis.deterministic.means`` and ``increment``), so a comparison row
    equals the ``summary.csv`` of the same scenario, seed and patients.
    """
    stats = {s: means(cols, MEASURES) for s, cols in outcomes.items()}
    ref = outcomes[comparator]
    comparisons = tuple(increment(cols, ref, s, comparator, MEASURES, wtp)
                        for s, cols in outcomes.items() if s != comparator)
    n = next(iter(stats.values()))["cost"].n
    return ScenarioSummary(name, file, title, tuple(changes), n, seed, stats, comparisons)


def _fmt(x: object) -> str:
    if isinstance(x, float):
        return f"{x:g}"
    if isinstance(x, tuple | list):
        return "[" + ", ".join(_fmt(v) for v in x) + "]"
    return str(x)


def _param_text(p: Parameter) -> str:
    shown = f"{p.given_value:g}"
    return shown if p.given_unit in UNITLESS else f"{shown} {p.given_unit}"


def scenario_changes(scenario: Scenario, base: Scenario) -> tuple[str, ...]:
    """Every input of ``scenario`` that differs from ``base``, as "name: old -> new".

    Compared: the model and relapse shape; each parameter's point value (in the
    unit the file writes), distribution and one-way range; run settings that
    change results (horizon, discounting, life table, currency and price year,
    comparator, willingness to pay); the cohort (disease shares, age, sex).
    Source texts are not compared.
    """
    out: list[str] = []
    if scenario.model != base.model:
        out.append(f"model: {base.model} -> {scenario.model}")
    if scenario.relapse_model != base.relapse_model:
        out.append(f"car_t.relapse.model: {base.relapse_model} -> {scenario.relapse_model}")
    for name in [*base.parameters, *[n for n in scenario.parameters
                                     if n not in base.parameters]]:
        old, new = base.parameters.get(name), scenario.parameters.get(name)
        if old is None or new is None:
            out.append(f"{name}: {'added' if old is None else 'removed'}")
            continue
        if (old.given_value, old.given_unit) != (new.given_value, new.given_unit):
            out.append(f"{name}: {_param_text(old)} -> {_param_text(new)}")
            continue
        dists = [p.distribution.describe() if p.distribution is not None else "fixed"
                 for p in (old, new)]
        if dists[0] != dists[1]:
            out.append(f"{name} distribution: {dists[0]} -> {dists[1]}")
        if (old.low, old.high) != (new.low, new.high):
            out.append(f"{name} range: {_fmt((old.low, old.high))} -> "
                       f"{_fmt((new.low, new.high))}")
    a, b = base.run, scenario.run
    for key in ("discount_costs", "discount_outcomes", "convention", "life_table", "currency",
                "price_year", "comparator", "wtp", "perspective"):
        if getattr(a, key) != getattr(b, key):
            out.append(f"run.{key}: {_fmt(getattr(a, key))} -> {_fmt(getattr(b, key))}")
    if a.horizon != b.horizon:
        out.append(f"run.horizon: {horizon_label(a.horizon)} -> {horizon_label(b.horizon)}")
    if a.cost_factor != b.cost_factor:
        out.append(f"run.cost_conversion: {a.cost_factor:g} -> {b.cost_factor:g}")
    out += _cohort_changes(scenario, base)
    return tuple(out)


def _cohort_changes(scenario: Scenario, base: Scenario) -> list[str]:
    a, b = base.cohort, scenario.cohort
    if a.file != b.file:
        names = [p.name if p is not None else "sampled" for p in (a.file, b.file)]
        return [f"cohort.file: {names[0]} -> {names[1]}"]
    out = []
    old = {g.name: g for g in a.groups}
    new = {g.name: g for g in b.groups}
    total_old = sum(g.weight for g in a.groups) or 1.0
    total_new = sum(g.weight for g in b.groups) or 1.0
    for name in [*old, *[n for n in new if n not in old]]:
        g0, g1 = old.get(name), new.get(name)
        w0 = g0.weight / total_old if g0 else 0.0
        w1 = g1.weight / total_new if g1 else 0.0
        if abs(w0 - w1) > 1e-12:
            out.append(f"cohort.mix.{name}: {w0:.3g} -> {w1:.3g} (share)")
        if g0 and g1:
            if g0.age != g1.age:
                out.append(f"cohort.{name}.age: {_age(g0.age)} -> {_age(g1.age)}")
            if g0.female != g1.female:
                out.append(f"cohort.{name}.female: {g0.female:g} -> {g1.female:g}")
    return out


def _age(age: AgeSpec) -> str:
    if age.dist == "normal":
        return f"normal({age.mean:g}, {age.sd:g}) in [{age.low:g}, {age.high:g}]"
    if age.dist == "uniform":
        return f"uniform({age.low:g}, {age.high:g})"
    return f"{age.mean:g}"


def change_from_first(rows: Sequence[ScenarioSummary], wtp: Sequence[float]
                      ) -> list[dict[str, dict[str, float]]]:
    """For each row and strategy: inc_cost, inc_qaly and inmb[wtp] minus the first
    scenario's (0 for the first row itself)."""
    def key_values(c: Increment) -> dict[str, float]:
        return {"inc_cost": c.measures["cost"].mean, "inc_qaly": c.measures["qaly"].mean,
                **{f"inmb_{w!r}": c.inmb[w].mean for w in wtp}}

    first = {c.strategy: key_values(c) for c in rows[0].comparisons} if rows else {}
    out = []
    for row in rows:
        per = {}
        for c in row.comparisons:
            now, ref = key_values(c), first.get(c.strategy)
            per[c.strategy] = {k: v - ref[k] for k, v in now.items()} if ref else {}
        out.append(per)
    return out
