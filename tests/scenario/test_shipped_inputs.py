"""Every shipped scenario: costs say what they include and their price year, every point
value is its distribution's mean (or says why not), and no cost is charged twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from cartsim.pathway.build import build_model
from cartsim.scenario.load import load_scenario

SCENARIOS = sorted((Path(__file__).resolve().parents[2] / "scenarios").glob("*.toml"))


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_shipped_scenario_inputs_are_traceable_and_consistent(path):
    s = load_scenario(path)
    if s.model != "cart_vs_is":
        return
    for name, p in s.parameters.items():
        if p.kind == "cost" and not p.is_default and p.value > 0:
            assert p.includes, f"{path.name}: {name} does not say what it includes"
            assert p.price_year is not None, f"{path.name}: {name} has no price_year"
        assert not p.point_status().startswith("DIFFERS"), \
            f"{path.name}: {name} point {p.given_value} is not its distribution's mean"
    # Building at the point values refuses any state cost smaller than the events it holds.
    models = build_model(s, s.point_values())
    assert set(models) == set(s.strategies)
