"""Shared fixtures: a small KV-REF custom scenario, CLI helpers, capacity programmes.

The scenario is the KV-REF model of VERIFICATION.md section 3 (CAR-T vs
indefinite immunosuppression with constant hazards), written in the custom
model format so that it loads and runs in a fraction of a second.
"""

from __future__ import annotations

import csv
import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest
from click.testing import CliRunner, Result

from cartsim.cli import main
from cartsim.engine.capacity import simulate_programme
from cartsim.scenario.load import load_scenario
from cartsim.scenario.model import Scenario
from cartsim.study.capacity import CapacityResult, value_programme
from cartsim.study.prepare import prepare

KV_REF = """\
model = "custom"
[run]
patients = 2000
seed = 7
horizon = "lifetime"
discount = { costs = 0.035, outcomes = 0.035, convention = "continuous" }
life_table = "none"
wtp = [50000, 100000]
comparator = "immunosuppression"
currency = "USD"
price_year = 2024
[strategies.immunosuppression]
start = "on_is"
[strategies.immunosuppression.states.on_is]
utility = 0.60
cost = { drugs = 20000 }
death = { rate = 0.04 }
[strategies.cart]
start = "infusion"
upfront_cost = { product = 350000 }
[strategies.cart.chances.infusion]
then = "remission"
[strategies.cart.chances.infusion.outcomes.crs]
probability = 0.15
[strategies.cart.events.crs]
cost = { adverse_events = 25000 }
qaly_loss = 0.02
[strategies.cart.states.remission]
utility = 0.85
cost = { monitoring = 2000 }
death = { rate = 0.015 }
[strategies.cart.states.remission.transitions.relapse]
to = "on_is"
dist = "exponential"
rate = 0.10
[strategies.cart.states.on_is]
utility = 0.60
cost = { drugs = 20000 }
death = { rate = 0.04 }
"""


def replace_once(text: str, old: str, new: str) -> str:
    """``text.replace(old, new, 1)``, failing loudly if ``old`` is absent."""
    assert old in text, f"test setup: {old!r} not in scenario text"
    return text.replace(old, new, 1)


@pytest.fixture
def kv_text() -> str:
    """The KV-REF scenario as TOML text."""
    return KV_REF


@pytest.fixture
def edit() -> Callable[[str, str, str], str]:
    """Replace the first occurrence of a fragment, asserting it exists."""
    return replace_once


@pytest.fixture
def write_toml(tmp_path: Path) -> Callable[..., Path]:
    """Write scenario text to ``tmp_path/<name>`` (sub-folders created)."""

    def write(text: str, name: str = "kv.toml") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def cli() -> Callable[[Sequence[str]], Result]:
    """Invoke ``cartsim`` in-process; an exception other than SystemExit fails."""
    runner = CliRunner()

    def invoke(args: Sequence[str]) -> Result:
        result = runner.invoke(main, [str(a) for a in args])
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    return invoke


@pytest.fixture
def read_csv() -> Callable[[Path], list[dict[str, str]]]:
    def read(path: Path) -> list[dict[str, str]]:
        with Path(path).open(encoding="utf-8", newline="") as fh:
            return list(csv.DictReader(fh))

    return read


@pytest.fixture(scope="session")
def agree() -> ModuleType:
    """``tests/agreement.py``: results of different code paths agree to 1e-12 relative
    (loaded by path: test modules cannot import each other)."""
    spec = importlib.util.spec_from_file_location("cartsim_tests_agreement",
                                                  Path(__file__).with_name("agreement.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- capacity programmes (tests/engine, tests/cli, tests/scenario) -----------------

REPO = Path(__file__).resolve().parents[1]
BASE = REPO / "scenarios" / "base.toml"
SHIPPED = REPO / "scenarios" / "capacity.toml"
CAPACITY_SEED = 20240601
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
    seed: int = CAPACITY_SEED
    z: float = 4.0
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

    def programme(self, scenario: Scenario, seed: int = CAPACITY_SEED) -> CapacityResult:
        models, life_table = prepare(scenario)
        run = simulate_programme(scenario, models, life_table, seed=seed)
        return value_programme(scenario, models, run)


@pytest.fixture
def cap(tmp_path: Path) -> CapacityHelper:
    """Capacity scenarios on the base case, and programmes simulated and valued:
    ``cap.scenario(capacity_toml, overrides)``, ``cap.programme(scenario)``.
    ``cap.immortal`` switches off everything that makes a patient leave bridging on
    their own (no life table, no cancer, a finite horizon) and manufacturing failures,
    so queues can be checked against closed forms."""
    return CapacityHelper(tmp_path)
