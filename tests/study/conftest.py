"""The KV-REF model with ranges and distributions, shared by the one-way, sweep and
threshold tests (test files cannot import each other): constant hazards, so costs,
QALYs and thresholds have closed forms (VERIFICATION.md section 3)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from cartsim.scenario.load import load_scenario
from cartsim.scenario.model import Scenario
from cartsim.study.runner import run_scenario

N = 4000
SEED = 20240601
WTP = 100_000.0

KV_REF = """\
model = "custom"
[run]
patients = 4000
seed = 20240601
horizon = "lifetime"
discount = { costs = 0.035, outcomes = 0.035, convention = "continuous" }
life_table = "none"
wtp = [50000, 100000]
comparator = "immunosuppression"
[strategies.immunosuppression]
start = "on_is"
[strategies.immunosuppression.states.on_is]
utility = { value = 0.60, low = 0.60, high = 0.60 }
cost = { drugs = 20000 }
death = { rate = 0.04 }
[strategies.cart]
start = "remission"
upfront_cost = { product = { value = 350000, low = 300000, high = 450000 } }
[strategies.cart.states.remission]
utility = { value = 0.85, dist = "normal", mean = 0.85, sd = 0.1 }
cost = { monitoring = { value = 2000, dist = "gamma", mean = 2000, se = 400 } }
death = { rate = 0.015 }
[strategies.cart.states.remission.transitions.relapse]
to = "on_is"
dist = "exponential"
rate = { value = 0.10, low = 0.05, high = 0.20 }
[strategies.cart.states.on_is]
utility = 0.60
cost = { drugs = 20000 }
death = { rate = 0.04 }
"""

# KV-REF inputs for the closed forms.
R, MU_IS, MU_R, U_IS, U_R, C_IS, C_R, C0 = 0.035, 0.04, 0.015, 0.60, 0.85, 20000.0, 2000.0, 350000.0


@pytest.fixture(scope="session")
def kv_sensitivity(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    """KV-REF with ranges (upfront cost, relapse rate) and distributions."""
    path = Path(tmp_path_factory.mktemp("kv")) / "kv.toml"
    path.write_text(KV_REF, encoding="utf-8")
    return load_scenario(path)


@pytest.fixture(scope="session")
def kv_ref_text() -> str:
    return KV_REF


@pytest.fixture(scope="session")
def kv_inmb() -> Callable[..., float]:
    """Closed-form INMB of CAR-T vs IS at relapse rate ``lam`` (VERIFICATION.md 3)."""
    def inmb(lam: float, wtp: float = WTP) -> float:
        a = lam + MU_R + R
        q_cart = U_R / a + U_IS * lam / (a * (MU_IS + R))
        c_cart = C0 + C_R / a + C_IS * lam / (a * (MU_IS + R))
        return wtp * (q_cart - U_IS / (MU_IS + R)) - (c_cart - C_IS / (MU_IS + R))

    return inmb


@pytest.fixture(scope="session")
def per_patient_inmb() -> Callable[..., np.ndarray]:
    """Per-patient INMB of CAR-T vs IS from a plain run (parameters in model units)."""
    def inmb(scenario: Scenario, wtp: float = WTP, **values: float) -> np.ndarray:
        vals = {**scenario.point_values(), **values}
        res = run_scenario(scenario, patients=N, seed=SEED, values=vals)
        new, ref = res.outcomes["cart"].columns, res.outcomes["immunosuppression"].columns
        return wtp * (new["qaly"] - ref["qaly"]) - (new["cost"] - ref["cost"])

    return inmb
