"""The scenario library in scenarios/: every file loads, every value it sets is sourced,
and each family moves the answer in the direction its assumption implies.

Monotone checks run each family on the same small cohort and seed, so with common
random numbers the scenarios differ only by their assumption. A direction is
"shown" when the paired mean difference exceeds 4 standard errors of the
per-patient differences, and "not reversed" when it is above -4 SE.
"""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from cartsim.params.parameter import STATUSES
from cartsim.scenario.clinical import ROOTS, flatten
from cartsim.scenario.clinical_schema import STRUCTURAL_KEYS
from cartsim.scenario.load import load_scenario, read_toml
from cartsim.study.one_time_tables import one_time_tables
from cartsim.study.prepare import prepare
from cartsim.study.runner import run_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
SHIPPED = sorted(SCENARIOS.glob("*.toml"))
FAMILIES = {
    "relapse": ("relapse_none", "relapse_base", "relapse_high", "relapse_waning",
                "relapse_cure"),
    "cancer": ("cancer_none", "cancer_fda_signal", "cancer_oncology", "cancer_pessimistic"),
    "cost": ("cost_list_price", "cost_discounted_price", "cost_shared_savings",
             "cost_conventional_high", "cost_conventional_low"),
    "mortality": ("mortality_remission_general", "mortality_remission_excess"),
    "durability": ("durability_optimistic", "durability_conservative"),
}
LIBRARY = [name for names in FAMILIES.values() for name in names]
DOSSIER_CODES = tuple(s for s in STATUSES if s not in ("default", "assumption"))
PATIENTS, SEED = 1500, 7


def test_library_files_are_all_shipped():
    assert {p.stem for p in SHIPPED} >= set(LIBRARY)


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_scenario_loads_and_builds(path):
    """Every shipped file loads without a warning (nothing it sets is silently fixed or
    merged in a way it did not mean) and builds a pathway and a valuation for every
    strategy and patient group."""
    scenario = load_scenario(path)
    assert scenario.warnings == (), scenario.warnings
    models, _ = prepare(scenario)
    assert set(models) == set(scenario.strategies)
    for model in models.values():
        assert model.pathways and set(model.pathways) == set(model.valuations)


def _set_parameters(path: Path) -> dict[str, object]:
    """The clinical parameters a file itself sets (not those it inherits)."""
    raw = read_toml(path)
    leaves = flatten({k: v for k, v in raw.items() if k in ROOTS})
    return {k: v for k, v in leaves.items() if k not in STRUCTURAL_KEYS}


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_value_a_scenario_sets_has_a_source_and_a_dossier_status(path):
    for name, leaf in _set_parameters(path).items():
        assert isinstance(leaf, dict), f"{path.name}: {name} is a bare number (no source)"
        assert str(leaf.get("source", "")).strip(), f"{path.name}: {name} has no source"
        assert leaf.get("status") in DOSSIER_CODES, f"{path.name}: {name} status"


@pytest.mark.parametrize("name", LIBRARY)
def test_library_estimates_say_so_and_every_file_says_what_it_is_for(name):
    path = SCENARIOS / f"{name}.toml"
    text = path.read_text(encoding="utf-8")
    assert text.startswith("#") and 'extends = "base.toml"' in text
    raw = read_toml(path)
    assert raw.get("title") and len(raw.get("description", "")) > 100
    for key, leaf in _set_parameters(path).items():
        if "E" in leaf["status"]:
            source = leaf["source"].lower()
            assert any(w in source for w in ("(e)", "estimate", "assumption")), (name, key)


@cache
def _columns(name: str, overrides: tuple[str, ...] = ()) -> dict[str, dict[str, np.ndarray]]:
    result = run_scenario(load_scenario(SCENARIOS / f"{name}.toml", overrides),
                          patients=PATIENTS, seed=SEED)
    return {s: dict(o.columns) for s, o in result.outcomes.items()}


def _paired(a: str, b: str, column: str, strategy: str = "car_t") -> tuple[float, float]:
    """Mean and SE of per-patient ``column`` in scenario a minus scenario b."""
    d = _columns(a)[strategy][column] - _columns(b)[strategy][column]
    return float(d.mean()), float(d.std(ddof=1) / math.sqrt(d.size))


def shown(a: str, b: str, column: str = "qaly", strategy: str = "car_t") -> None:
    mean, se = _paired(a, b, column, strategy)
    assert mean > 4 * se, f"{a} vs {b}: {column} difference {mean:.4g} (SE {se:.2g})"


def not_reversed(a: str, b: str, column: str = "qaly") -> None:
    mean, se = _paired(a, b, column)
    assert mean >= -4 * se, f"{a} vs {b}: {column} difference {mean:.4g} (SE {se:.2g})"


def test_relapse_family_orders_car_t_qalys_and_remission_years():
    for column in ("qaly", "remission_years"):
        shown("relapse_none", "relapse_base", column)
        shown("relapse_base", "relapse_high", column)
        shown("relapse_none", "relapse_cure", column)
        shown("relapse_cure", "relapse_high", column)
        shown("relapse_base", "relapse_waning", column)
    none = _columns("relapse_none")["car_t"]
    assert int(none["n_relapse"].sum()) == 0


def test_cancer_family_orders_car_t_qalys_and_cancer_none_has_no_t_cell_cancer():
    not_reversed("cancer_none", "cancer_fda_signal")
    shown("cancer_fda_signal", "cancer_oncology")
    shown("cancer_oncology", "cancer_pessimistic")
    counts = {n: int(_columns(n)["car_t"]["n_t_cell_malignancy"].sum())
              for n in ("cancer_none", "cancer_fda_signal", "cancer_pessimistic")}
    assert counts["cancer_none"] == 0
    assert counts["cancer_pessimistic"] > counts["cancer_fda_signal"]
    assert int(_columns("cancer_none")["car_t"]["n_second_cancer"].sum()) == 0
    assert int(_columns("cancer_oncology")["car_t"]["n_second_cancer"].sum()) > 0


def test_cost_family_moves_costs_only():
    base = _columns("relapse_base")
    for name in FAMILIES["cost"]:
        for s in ("immunosuppression", "car_t"):
            np.testing.assert_array_equal(_columns(name)[s]["qaly"], base[s]["qaly"])
    car_t = {n: _columns(n)["car_t"]["cost"].mean()
             for n in ("cost_shared_savings", "cost_list_price", "relapse_base",
                       "cost_discounted_price")}
    assert list(car_t.values()) == sorted(car_t.values(), reverse=True)
    comparator = [_columns(n)["immunosuppression"]["cost"].mean()
                  for n in ("cost_conventional_high", "relapse_base", "cost_conventional_low")]
    assert comparator == sorted(comparator, reverse=True)

    def inc_cost(n):
        cols = _columns(n)
        return cols["car_t"]["cost"].mean() - cols["immunosuppression"]["cost"].mean()

    assert inc_cost("cost_conventional_high") < inc_cost("relapse_base") < \
        inc_cost("cost_conventional_low")


def test_mortality_family_orders_car_t_life_years_and_leaves_the_comparator_alone():
    shown("mortality_remission_general", "relapse_base", "ly")
    shown("relapse_base", "mortality_remission_excess", "ly")
    for name in FAMILIES["mortality"]:
        np.testing.assert_array_equal(_columns(name)["immunosuppression"]["qaly"],
                                      _columns("relapse_base")["immunosuppression"]["qaly"])


def test_durability_optimistic_gains_more_qalys_than_conservative():
    shown("durability_optimistic", "durability_conservative")
    shown("durability_optimistic", "relapse_none", "ly")   # adds normal mortality in remission
    gains = {n: (_columns(n)["car_t"]["qaly"].mean()
                 - _columns(n)["immunosuppression"]["qaly"].mean())
             for n in FAMILIES["durability"]}
    assert gains["durability_optimistic"] > gains["durability_conservative"] > 0


def test_shared_savings_file_holds_the_price_the_base_case_computes():
    """cost_shared_savings.toml's price is the base case's shared-savings value-based
    price at $150,000/QALY (its run settings, rounded to $1,000). If this fails, the base
    case changed: recompute with `cartsim run scenarios/base.toml` (one_time_therapy.csv,
    row shared_savings, value_based_price_150000) and update the file."""
    scenario = load_scenario(SCENARIOS / "cost_shared_savings.toml")
    table = one_time_tables(run_scenario(scenario))[0]
    row = dict(zip(table.columns, next(r for r in table.rows if r[2] == "shared_savings"),
                   strict=True))
    price = scenario.parameters["costs.car_t.product"].given_value
    assert abs(row["value_based_price_150000"] - price) <= 500
