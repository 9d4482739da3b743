"""Turn a scenario and a set of parameter values into pathways and valuations.

``build_model(scenario, values)`` returns, for each strategy, a pathway and a
valuation per patient group (a disease for the clinical model, ``"all"`` for a
custom model). ``values`` maps every parameter name to a number in model units
(per year, years, currency), so the same call serves the base case, one-way
sensitivity analysis and every PSA draw.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace

from cartsim.errors import Problem, ScenarioError
from cartsim.params.reference_tables import eq5d_norms
from cartsim.params.survival import Exponential, SurvivalModel
from cartsim.params.survival_shapes import (
    CureMixture,
    LinearRamp,
    Window,
    make_survival,
)
from cartsim.pathway.costing import Shortfall
from cartsim.pathway.model import (
    Chance,
    Mortality,
    Outcome,
    Pathway,
    Recurring,
    State,
    Transition,
    Valuation,
    check_pathway,
)
from cartsim.pathway.registry import REGISTRY
from cartsim.scenario.clinical_schema import PARAMETER_BY_NAME
from cartsim.scenario.model import CustomStrategy, CustomTransition, Scenario
from cartsim.scenario.param_def import DISEASES
from cartsim.scenario.societal import KINDS as SOCIETAL_KEYS
from cartsim.scenario.societal import PREFIX as SOCIETAL
from cartsim.scenario.societal import is_societal


@dataclass(frozen=True)
class StrategyModel:
    """One strategy: a pathway and a valuation for each patient group."""

    name: str
    label: str
    pathways: Mapping[str, Pathway]
    valuations: Mapping[str, Valuation]


def build_model(scenario: Scenario, values: Mapping[str, float]) -> dict[str, StrategyModel]:
    """Pathways and valuations of every strategy; ScenarioError on structural problems."""
    pathways = {name: strategy_pathways(scenario, name, values) for name in model_order(scenario)}
    valuations = build_valuations(scenario, values, pathways)
    check_pathways(scenario, pathways)
    return {name: StrategyModel(name, scenario.strategy_labels[name], pathways[name],
                                valuations[name]) for name in pathways}


def model_order(scenario: Scenario) -> tuple[str, ...]:
    """The strategies in the order their models are built (a custom model's as written)."""
    return tuple(scenario.custom) if scenario.model == "custom" else scenario.strategies


def strategy_pathways(scenario: Scenario, strategy: str, values: Mapping[str, float]
                      ) -> dict[str, Pathway]:
    """The pathway of ``strategy`` for each patient group at ``values``.

    It reads parameters only through ``values[name]``, so a caller can record the
    names a strategy's simulation depends on (``cartsim.study.runner``): every other
    parameter only values what was simulated.
    """
    if scenario.model == "custom":
        return {"all": _custom_pathway(scenario.custom[strategy], values)}
    v = values.__getitem__
    builder = REGISTRY[strategy]
    return {d: builder.pathway(d, v, _choices(scenario))
            for d in DISEASES if d in builder.diseases}


def _choices(scenario: Scenario) -> dict[str, str]:
    """The clinical model's structural choices (scenario settings, not parameters)."""
    return {**scenario.choices, "car_t.relapse.model": scenario.relapse_model}


def check_pathways(scenario: Scenario, pathways: Mapping[str, Mapping[str, Pathway]]) -> None:
    """ScenarioError naming every structural problem of the strategies' pathways."""
    lifetime = math.isinf(scenario.run.horizon)
    background = scenario.run.life_table != "none"
    problems: list[Problem] = []
    for name, by_group in pathways.items():
        for pw in by_group.values():
            for node, message in check_pathway(pw, lifetime=lifetime, background=background):
                kind = "chances" if node in pw.chances else "states"
                path = f"strategies.{name}.{kind}.{node}" if scenario.model == "custom" \
                    else f"strategies.{name}"
                problems.append(Problem(path, message, None, has_value=False))
    if problems:
        raise ScenarioError(scenario.source, list(dict.fromkeys(problems)))


def build_valuations(scenario: Scenario, values: Mapping[str, float],
                     pathways: Mapping[str, Mapping[str, Pathway]]
                     ) -> dict[str, dict[str, Valuation]]:
    """Each strategy's valuation per patient group: state costs and utilities, event
    costs and QALY losses at ``values``. A valuation reads the pathways too (a state
    cost net of the events recurring in it), never the other way round."""
    if scenario.model == "custom":
        out = {name: {"all": _custom_valuation(scenario.custom[name], values)}
               for name in pathways}
    else:
        out = _clinical_valuations(scenario, values, pathways)
    if not is_societal(scenario.run.perspective):
        return out
    inputs = {k: float(values[f"{SOCIETAL}.{k}"]) for k in SOCIETAL_KEYS}
    inputs["horizon"] = scenario.run.horizon
    return {s: {g: replace(v, societal=inputs) for g, v in by.items()} for s, by in out.items()}


def _clinical_valuations(scenario: Scenario, values: Mapping[str, float],
                         pathways: Mapping[str, Mapping[str, Pathway]]
                         ) -> dict[str, dict[str, Valuation]]:
    """Every compared strategy's valuation for each disease it is valid for."""
    v = values.__getitem__

    def includes(name: str) -> tuple[str, ...]:
        # What the scenario says a cost includes; a cost set on the command line (or
        # written without includes) falls back to what the schema says its source holds.
        p = scenario.parameters.get(name)
        if p is not None and p.includes:
            return p.includes
        definition = PARAMETER_BY_NAME.get(name)
        return definition.includes if definition is not None else ()

    norm = eq5d_norms() if scenario.choices.get("utilities.age_adjustment") == \
        "multiplicative" else None
    short: list[Shortfall] = []
    out: dict[str, dict[str, Valuation]] = {}
    for name in scenario.strategies:
        builder = REGISTRY[name]
        out[name] = {}
        for d, pathway in pathways[name].items():
            valuation, missing = builder.valuation(d, v, pathway, includes)
            out[name][d] = valuation if norm is None else replace(valuation,
                                                                  utility_age_norm=norm)
            short += missing
    if short and values == scenario.point_values():
        problems = [Problem(f.parameter, f.message(), f.amount) for f in short]
        raise ScenarioError(scenario.source, list(dict.fromkeys(problems)))
    return out


def _time(tr: CustomTransition, values: Mapping[str, float]) -> SurvivalModel:
    scalar = {k: values[ref] for k, ref in tr.args.items() if isinstance(ref, str)}
    listed = {k: tuple(values[r] for r in ref) for k, ref in tr.args.items()
              if not isinstance(ref, str)}
    if tr.dist == "window":
        return Window(probability=scalar["probability"], window=scalar["window"])
    if tr.dist == "waning":
        return LinearRamp(rate=scalar["rate"], ramp=scalar["ramp"])
    if tr.dist == "cure_fraction":
        return CureMixture(cure_fraction=scalar["cure_fraction"],
                           base=Exponential(scalar["rate"]))
    return make_survival(tr.dist, **scalar, **listed)


def _custom_pathway(spec: CustomStrategy, values: Mapping[str, float]) -> Pathway:
    def val(ref: str | None, default: float = 0.0) -> float:
        return values[ref] if ref is not None else default

    states = {}
    for s in spec.states.values():
        states[s.name] = State(
            name=s.name,
            mortality=Mortality(life_table_ratio=val(s.life_table_ratio),
                                excess_rate=val(s.death_rate), excess_cause=s.death_cause),
            transitions=tuple(Transition(t.name, t.to, _time(t, values), clock=t.clock,
                                         event=t.event) for t in s.transitions),
            recurring=tuple(Recurring(label_, values[ref]) for label_, ref in s.recurring.items()),
            origin=s.origin, remission=s.remission,
        )
    chances = {
        c.name: Chance(c.name, tuple(Outcome(values[o.probability], o.event, o.to)
                                     for o in c.outcomes), then=c.then, origin=c.origin)
        for c in spec.chances.values()
    }
    return Pathway(strategy=spec.name, start=spec.start, states=states, chances=chances)


def _custom_valuation(spec: CustomStrategy, values: Mapping[str, float]) -> Valuation:
    def val(ref: str | None, default: float = 0.0) -> float:
        return values[ref] if ref is not None else default

    return Valuation(
        state_costs={s.name: {cat: values[ref] for cat, ref in s.costs.items()}
                     for s in spec.states.values()},
        state_utility={s.name: val(s.utility) for s in spec.states.values()},
        event_costs={e: {cat: values[ref] for cat, ref in ev.costs.items()}
                     for e, ev in spec.events.items()},
        event_qaly_loss={e: val(ev.qaly_loss) for e, ev in spec.events.items()},
    )
