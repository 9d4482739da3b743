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
from cartsim.scenario.clinical_schema import DISEASES, PARAMETER_BY_NAME
from cartsim.scenario.model import CustomStrategy, CustomTransition, Scenario


@dataclass(frozen=True)
class StrategyModel:
    """One strategy: a pathway and a valuation for each patient group."""

    name: str
    label: str
    pathways: Mapping[str, Pathway]
    valuations: Mapping[str, Valuation]


def build_model(scenario: Scenario, values: Mapping[str, float]) -> dict[str, StrategyModel]:
    """Pathways and valuations of every strategy; ScenarioError on structural problems."""
    if scenario.model == "custom":
        out = {name: _custom_strategy(spec, values, scenario.strategy_labels[name])
               for name, spec in scenario.custom.items()}
    else:
        out = _clinical(scenario, values)
    lifetime = math.isinf(scenario.run.horizon)
    background = scenario.run.life_table != "none"
    problems: list[Problem] = []
    for name, model in out.items():
        for pw in model.pathways.values():
            for node, message in check_pathway(pw, lifetime=lifetime, background=background):
                kind = "chances" if node in pw.chances else "states"
                path = f"strategies.{name}.{kind}.{node}" if scenario.model == "custom" \
                    else f"strategies.{name}"
                problems.append(Problem(path, message, None, has_value=False))
    if problems:
        raise ScenarioError(scenario.source, list(dict.fromkeys(problems)))
    return out


def _clinical(scenario: Scenario, values: Mapping[str, float]) -> dict[str, StrategyModel]:
    """Every compared strategy's pathway and valuation for each disease it is valid for."""
    v = values.__getitem__

    def includes(name: str) -> tuple[str, ...]:
        # What the scenario says a cost includes; a cost set on the command line (or
        # written without includes) falls back to what the schema says its source holds.
        p = scenario.parameters.get(name)
        if p is not None and p.includes:
            return p.includes
        definition = PARAMETER_BY_NAME.get(name)
        return definition.includes if definition is not None else ()

    choices = {**scenario.choices, "car_t.relapse.model": scenario.relapse_model}
    norm = eq5d_norms() if scenario.choices.get("utilities.age_adjustment") == \
        "multiplicative" else None
    short: list[Shortfall] = []
    out: dict[str, StrategyModel] = {}
    for name in scenario.strategies:
        builder = REGISTRY[name]
        pathways, valuations = {}, {}
        for d in (d for d in DISEASES if d in builder.diseases):
            pathways[d] = builder.pathway(d, v, choices)
            valuation, missing = builder.valuation(d, v, pathways[d], includes)
            valuations[d] = valuation if norm is None else replace(valuation,
                                                                   utility_age_norm=norm)
            short += missing
        out[name] = StrategyModel(name, scenario.strategy_labels[name], pathways, valuations)
    if short and values == scenario.point_values():
        problems = [Problem(f.parameter, f.message(), f.amount) for f in short]
        raise ScenarioError(scenario.source, list(dict.fromkeys(problems)))
    return out


def _time(tr: CustomTransition, values: Mapping[str, float]) -> SurvivalModel:
    args = {k: (tuple(values[r] for r in ref) if isinstance(ref, tuple) else values[ref])
            for k, ref in tr.args.items()}
    if tr.dist == "window":
        return Window(probability=args["probability"], window=args["window"])  # type: ignore[arg-type]
    if tr.dist == "waning":
        return LinearRamp(rate=args["rate"], ramp=args["ramp"])  # type: ignore[arg-type]
    if tr.dist == "cure_fraction":
        return CureMixture(cure_fraction=args["cure_fraction"],  # type: ignore[arg-type]
                           base=Exponential(args["rate"]))  # type: ignore[arg-type]
    if tr.dist == "piecewise_exponential":
        return make_survival(tr.dist, breaks=args["breaks"], rates=args["rates"])
    return make_survival(tr.dist, **args)  # type: ignore[arg-type]


def _custom_strategy(spec: CustomStrategy, values: Mapping[str, float],
                     label: str) -> StrategyModel:
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
    pathway = Pathway(strategy=spec.name, start=spec.start, states=states, chances=chances)
    valuation = Valuation(
        state_costs={s.name: {cat: values[ref] for cat, ref in s.costs.items()}
                     for s in spec.states.values()},
        state_utility={s.name: val(s.utility) for s in spec.states.values()},
        event_costs={e: {cat: values[ref] for cat, ref in ev.costs.items()}
                     for e, ev in spec.events.items()},
        event_qaly_loss={e: val(ev.qaly_loss) for e, ev in spec.events.items()},
    )
    return StrategyModel(spec.name, label, {"all": pathway}, {"all": valuation})
