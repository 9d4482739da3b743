"""The strategy library: the registry matches the scenario's library, every strategy is
built for exactly the groups it is valid for and reads only the parameters declared for
it, every arm describes life on conventional therapy identically, and a run of three or
more strategies gives each the outcomes it has in any other run on the same cohort, bit
for bit (common random numbers by purpose)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cartsim.pathway.build import build_model
from cartsim.pathway.registry import REGISTRY
from cartsim.scenario.clinical_schema import DISEASES, PARAMETER_BY_NAME
from cartsim.scenario.load import load_scenario
from cartsim.scenario.strategies import DEFAULT_STRATEGIES, LIBRARY
from cartsim.study.prepare import prepare
from cartsim.study.runner import run_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
HOME = {"car_t": "base.toml", "car_t_allogeneic": "next_generation.toml",
        "t_cell_engager": "next_generation.toml", "ahsct": "ssc_ahsct.toml",
        "biologic_add_on": "sle_biologics.toml", "ivig": "iim_ivig.toml"}
"""A shipped scenario that gives each strategy's parameters."""
LIBRARY_FILES = ("ssc_ahsct", "sle_biologics", "iim_ivig", "next_generation")
TREATMENT_HARMS = {"second_cancer", "t_cell_malignancy", "t_cell_malignancy_retreatment",
                   "transplant_death"}
"""Transitions a strategy may add to the conventional states: harms of its treatment."""


def only(strategy: str):
    """The strategy's home scenario comparing it with conventional therapy alone, on a
    cohort of the groups it is valid for."""
    mix = ", ".join(f"{d} = {int(d in LIBRARY[strategy].diseases)}" for d in DISEASES)
    return load_scenario(SCENARIOS / HOME[strategy], [
        f"run.strategies=['immunosuppression', '{strategy}']", f"cohort.mix={{ {mix} }}"])


def test_registry_builds_every_strategy_of_the_scenario_library():
    assert list(REGISTRY) == list(LIBRARY)
    assert set(HOME) | {"immunosuppression"} == set(LIBRARY)
    for name, builder in REGISTRY.items():
        assert builder.label == LIBRARY[name].label and builder.diseases
        assert set(builder.diseases) <= set(DISEASES)


@pytest.mark.parametrize("name", LIBRARY_FILES)
def test_library_scenarios_load_without_warnings_and_build_every_strategy_for_every_group(
        name):
    """Each strategy is built for exactly the groups it is valid for (all three unless
    restricted), and every group of the cohort has a pathway in every strategy."""
    s = load_scenario(SCENARIOS / f"{name}.toml")
    assert s.warnings == ()
    assert len(s.strategies) >= 3 and s.run.comparator == "immunosuppression"
    models, _ = prepare(s)
    groups = {g.name for g in s.cohort.groups}
    for strategy, model in models.items():
        assert set(model.pathways) == set(model.valuations) == set(LIBRARY[strategy].diseases)
        assert groups <= set(model.pathways)
        assert model.label == LIBRARY[strategy].label


def test_every_library_strategy_is_compared_in_a_shipped_scenario():
    compared = {s for f in LIBRARY_FILES for s in load_scenario(
        SCENARIOS / f"{f}.toml").strategies}
    assert compared == set(LIBRARY)


@pytest.mark.parametrize("strategy", list(HOME))
def test_each_strategy_reads_only_the_parameters_declared_for_it(strategy):
    """Compared alone with conventional therapy, a strategy's scenario holds only the
    parameters declared for one of the two; building it at those values would fail on
    any other (the build reads values by name). Those of the strategies not compared
    are warned about, never silently used."""
    s = only(strategy)
    for name in s.parameters:
        owners = PARAMETER_BY_NAME[name].strategies
        assert not owners or strategy in owners, name
    models = build_model(s, s.point_values())
    assert set(models) == {"immunosuppression", strategy}
    assert set(models[strategy].pathways) == set(LIBRARY[strategy].diseases)
    if HOME[strategy] != "base.toml":
        assert any("car_t is not in run.strategies" in w for w in s.warnings)


@pytest.mark.parametrize("strategy", list(HOME))
def test_life_on_conventional_therapy_is_described_as_in_the_comparator(strategy):
    """Every arm's active and low-activity states are the comparator's: the same
    mortality, recurring events, transitions (a strategy may add the harms of its own
    treatment after it: CAR-T's malignancy and second cancers, the transplant's death),
    costs and utilities; so are their cancer states."""
    s = only(strategy)
    models = build_model(s, s.point_values())
    for d in LIBRARY[strategy].diseases:
        ref_pw = models["immunosuppression"].pathways[d]
        ref_val = models["immunosuppression"].valuations[d]
        pw, val = models[strategy].pathways[d], models[strategy].valuations[d]
        for name, ref in ref_pw.states.items():
            state = pw.states[name]
            assert state.mortality == ref.mortality and state.recurring == ref.recurring
            n = len(ref.transitions)
            assert state.transitions[:n] == ref.transitions, (strategy, d, name)
            assert {t.name for t in state.transitions[n:]} <= TREATMENT_HARMS
            assert val.state_costs[name] == ref_val.state_costs[name]
            assert val.state_utility[name] == ref_val.state_utility[name]
        for event in ("flare_mild", "flare_moderate", "flare_severe", "serious_infection"):
            assert val.event_costs[event] == ref_val.event_costs[event]
            assert val.event_qaly_loss[event] == ref_val.event_qaly_loss[event]


def test_a_multi_strategy_run_gives_the_two_strategy_run_its_outcomes_bit_for_bit():
    """Adding strategies changes no other strategy's random numbers: conventional therapy
    and CAR-T have identical per-patient outcomes in the three-strategy run and in the
    two-strategy run of the same file on the same cohort (next_generation's four are
    checked against base.toml below)."""
    many = load_scenario(SCENARIOS / "ssc_ahsct.toml")
    two = load_scenario(SCENARIOS / "ssc_ahsct.toml",
                        [f"run.strategies={list(DEFAULT_STRATEGIES)!r}"])
    assert two.strategies == DEFAULT_STRATEGIES and many.canonical_hash != two.canonical_hash
    a = run_scenario(many, patients=300, seed=9, keep_logs=False, curves=False)
    b = run_scenario(two, patients=300, seed=9, keep_logs=False, curves=False)
    assert tuple(a.outcomes) == many.strategies
    for strategy in DEFAULT_STRATEGIES:
        cols_a, cols_b = a.outcomes[strategy].columns, b.outcomes[strategy].columns
        for key, column in cols_b.items():
            assert np.array_equal(cols_a[key], column), (strategy, key)


def test_next_generation_shares_base_cases_comparator_and_car_t_exactly():
    """next_generation.toml only adds strategies to base.toml: on the same cohort its
    conventional and CAR-T arms are base.toml's, patient by patient."""
    base = run_scenario(load_scenario(SCENARIOS / "base.toml"), patients=200, seed=4,
                        keep_logs=False, curves=False)
    more = run_scenario(load_scenario(SCENARIOS / "next_generation.toml"), patients=200,
                        seed=4, keep_logs=False, curves=False)
    for strategy in DEFAULT_STRATEGIES:
        for key, column in base.outcomes[strategy].columns.items():
            assert np.array_equal(more.outcomes[strategy].columns[key], column), key
