"""Shared helpers of the capacity tests, handed out as fixtures (test files cannot
import each other).

``cap.scenario(capacity_toml, overrides)`` writes a scenario that extends the
shipped base case with the given ``[capacity]`` text; ``cap.programme(...)``
simulates and values it. ``IMMORTAL`` switches off everything that makes a
patient leave bridging on their own (no life table, no cancer, a finite
horizon) and manufacturing failures, so queues can be checked against
closed forms.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from cartsim.api import prepare
from cartsim.engine.capacity import simulate_programme
from cartsim.report.capacity_tables import CapacityResult, value_programme
from cartsim.scenario.load import load_scenario
from cartsim.scenario.model import Scenario

REPO = Path(__file__).resolve().parents[2]
BASE = REPO / "scenarios" / "base.toml"
SHIPPED = REPO / "scenarios" / "capacity.toml"
SEED = 20240601
Z = 4.0
IMMORTAL = ('run.life_table="none"', "run.horizon=10", "cancer.incidence_scale=0",
            "car_t.manufacturing.failure=0")

SMALL = """
[capacity]
replications = 3
[capacity.arrivals]
rate = { value = 20, per = "year", source = "test", status = "E" }
years = 2
[capacity.manufacturing]
slots_per_month = 1
[capacity.apheresis]
chairs = 1
time = { value = 2, unit = "days" }
[capacity.treatment_centre]
beds = 1
stay = { value = 15, unit = "days" }
"""


@dataclass
class CapacityHelper:
    tmp: Path
    base: Path = BASE
    shipped: Path = SHIPPED
    seed: int = SEED
    z: float = Z
    immortal: tuple[str, ...] = IMMORTAL
    small: str = SMALL
    _count: int = 0

    def write(self, capacity: str, head: str = "") -> Path:
        """A scenario file extending base.toml with ``capacity`` (TOML text)."""
        self._count += 1
        path = self.tmp / f"cap{self._count}.toml"
        path.write_text(f'extends = "{BASE.as_posix()}"\n{head}\n{capacity}\n', encoding="utf-8")
        return path

    def scenario(self, capacity: str, overrides: Sequence[str] = ()) -> Scenario:
        return load_scenario(self.write(capacity), overrides)

    def programme(self, scenario: Scenario, seed: int = SEED) -> CapacityResult:
        models, life_table = prepare(scenario)
        run = simulate_programme(scenario, models, life_table, seed=seed)
        return value_programme(scenario, models, run)


@pytest.fixture
def cap(tmp_path: Path) -> CapacityHelper:
    return CapacityHelper(tmp_path)
