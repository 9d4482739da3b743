"""Shared fixtures of the engine verification tests (VERIFICATION.md §2-§4).

Test files cannot import each other (``--import-mode=importlib``, no packages),
so everything shared is handed out by the ``kv`` fixture: the reference TOML
models, a cached runner, the closed forms of §3 and the z-bound of §2.

Runs are cached for the session by (model text, overrides, patients, seed,
CRN), so the KV-REF run at n = 20,000 is simulated once and reused by A4, A5,
B1, D2, D8 and D10. Tests must treat the arrays they get as read-only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import cartsim
from cartsim.scenario.model import Scenario
from cartsim.study.result import RunResult

N_STAT = 20_000
"""Patients for the statistical checks (VERIFICATION §4 default)."""
N_EXACT = 2_000
"""Patients where the check is exact (any n would do)."""
SEED = 20240601
"""The contract's seed, fixed once and never tuned (§2.2)."""
Z = 4.0
"""z-bound of a single statistical check (§2.2)."""

KV_REF = """
model = "custom"
[run]
patients = 20000
seed = 20240601
horizon = "lifetime"
discount = { costs = 0.035, outcomes = 0.035, convention = "continuous" }
life_table = "none"
wtp = [100000]
comparator = "immunosuppression"

[strategies.immunosuppression]
start = "on_is"
[strategies.immunosuppression.states.on_is]
utility = 0.60
cost = { drugs = 20000 }
death = { rate = 0.04 }

[strategies.cart]
start = "remission"
upfront_cost = { product = 350000 }
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
"""KV-REF of VERIFICATION §3, exactly as tabulated."""

KV_REF_AE = KV_REF.replace(
    'start = "remission"',
    'start = "infusion"',
) + """
[strategies.cart.chances.infusion]
then = "remission"
origin = "infusion"
[strategies.cart.chances.infusion.outcomes.crs]
probability = 0.15
[strategies.cart.chances.infusion.outcomes.trm]
probability = 0.0
to = "dead"
[strategies.cart.events.crs]
cost = { adverse_events = 25000 }
qaly_loss = 0.02
"""
"""KV-REF with an infusion chance node: CRS (A12, C6) and a treatment-related
death branch ``trm`` switched off by default (C6 sets it)."""

KV_0 = """
model = "custom"
[run]
horizon = "lifetime"
discount = { costs = 0.035, outcomes = 0.035, convention = "continuous" }
life_table = "none"

[strategies.kv0]
start = "alive"
[strategies.kv0.states.alive]
utility = 0.7
cost = { drugs = 12345 }
death = { rate = 0.05 }
[strategies.kv0.events.death]
cost = { other = 10000 }
"""
"""KV-0 of §3 (μ = 0.05, r = 0.035) with A2's cost rate and utility and A3's
one-off cost at death, kept apart in the ``drugs`` and ``other`` categories."""


def kv0_sd_disc_ly(mu: float, r: float) -> float:
    """Analytic SD of (1 − e^{−rT})/r for T ~ Exp(mu) (§2.7)."""
    return math.sqrt(mu / ((mu + r) ** 2 * (mu + 2 * r))) if r > 0 else 1.0 / mu


def kvref_closed_form(lam: float = 0.10, r: float = 0.035, mu_r: float = 0.015,
                      mu_is: float = 0.04, u_r: float = 0.85, u_is: float = 0.60,
                      c_r: float = 2000.0, c_is: float = 20000.0,
                      c0: float = 350000.0) -> dict[str, float]:
    """KV-REF closed form (§3): expected discounted QALY, cost and LY of each arm."""
    a = lam + mu_r + r
    is_occ = 1.0 / (mu_is + r)
    out = {
        "is_qaly": u_is * is_occ, "is_cost": c_is * is_occ, "is_ly": is_occ,
        "cart_qaly": u_r / a + u_is * lam / a * is_occ,
        "cart_cost": c0 + c_r / a + c_is * lam / a * is_occ,
        "cart_ly": 1.0 / a + lam / a * is_occ,
    }
    for k in ("qaly", "cost", "ly"):
        out[f"d_{k}"] = out[f"cart_{k}"] - out[f"is_{k}"]
    return out


@dataclass(frozen=True)
class Check:
    """One statistical comparison: estimate, truth and standard error."""

    what: str
    estimate: float
    truth: float
    se: float

    @property
    def z(self) -> float:
        return (self.estimate - self.truth) / self.se if self.se > 0 else (
            0.0 if self.estimate == self.truth else math.inf)

    def __str__(self) -> str:
        return (f"{self.what}: estimate {self.estimate:.6g}, truth {self.truth:.6g}, "
                f"SE {self.se:.3g}, z = {self.z:+.2f}")


class KV:
    """Helpers handed to the tests by the ``kv`` fixture."""

    N_STAT = N_STAT
    N_EXACT = N_EXACT
    SEED = SEED
    Z = Z
    KV_REF = KV_REF
    KV_REF_AE = KV_REF_AE
    KV_0 = KV_0
    closed_form = staticmethod(kvref_closed_form)
    kv0_sd = staticmethod(kv0_sd_disc_ly)

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._cache: dict[tuple, RunResult] = {}
        self._files = 0

    def scenario(self, text: str, overrides: Sequence[str] = ()) -> Scenario:
        self._files += 1
        path = self.workdir / f"model_{self._files}.toml"
        path.write_text(text, encoding="utf-8")
        return cartsim.load_scenario(path, overrides=list(overrides))

    def run(self, text: str, overrides: Sequence[str] = (), *, patients: int = N_STAT,
            seed: int = SEED, crn: bool = True, cache: bool = True) -> RunResult:
        """Load ``text`` (a TOML model) with ``overrides`` and simulate it."""
        key = (text, tuple(overrides), patients, seed, crn)
        if cache and key in self._cache:
            return self._cache[key]
        result = cartsim.run_scenario(self.scenario(text, overrides), patients=patients,
                                      seed=seed, common_random_numbers=crn)
        if cache:
            self._cache[key] = result
        return result

    @staticmethod
    def mean_check(what: str, values: np.ndarray, truth: float,
                   sd: float | None = None) -> Check:
        """Mean of per-patient ``values`` against ``truth``; analytic ``sd`` if given,
        else the sample SD (§2.2)."""
        values = np.asarray(values, dtype=float)
        s = float(np.std(values, ddof=1)) if sd is None else sd
        return Check(what, float(np.mean(values)), truth, s / math.sqrt(values.size))

    @staticmethod
    def proportion_check(what: str, hits: np.ndarray, p: float) -> Check:
        """Observed proportion against ``p`` with SE sqrt(p(1−p)/n) (§2.5)."""
        hits = np.asarray(hits, dtype=bool)
        return Check(what, float(np.mean(hits)), p, math.sqrt(p * (1 - p) / hits.size))

    @staticmethod
    def assert_within(checks: Sequence[Check] | Check, z: float = Z) -> None:
        """|estimate − truth| ≤ z·SE for every check; the message lists them all."""
        checks = [checks] if isinstance(checks, Check) else list(checks)
        bad = [c for c in checks if not abs(c.estimate - c.truth) <= z * c.se]
        report = "\n".join(str(c) for c in checks)
        print(report)  # shown with -rP: the z-scores of passing checks
        assert not bad, f"outside {z} SE:\n" + "\n".join(map(str, bad)) + "\nall:\n" + report

    @staticmethod
    def event_rows(log, label: str) -> tuple[np.ndarray, np.ndarray]:
        """(patients, times) of every ``label`` event in an event log."""
        if label not in log.event_names:
            return np.zeros(0, np.int64), np.zeros(0)
        mask = log.event_code == log.event_code_of(label)
        return log.event_patient[mask], log.event_time[mask]

    @staticmethod
    def named_events(log) -> list[tuple[int, str, float]]:
        """Every event as (patient, label, time), independent of label codes."""
        names = np.asarray(log.event_names, dtype=object)
        return list(zip(log.event_patient.tolist(), names[log.event_code].tolist(),
                        log.event_time.tolist(), strict=True))

    @staticmethod
    def named_sojourns(log) -> list[tuple[int, str, float, float]]:
        names = np.asarray(log.state_names, dtype=object)
        return list(zip(log.sojourn_patient.tolist(), names[log.sojourn_state].tolist(),
                        log.sojourn_start.tolist(), log.sojourn_end.tolist(), strict=True))


@pytest.fixture(scope="session")
def kv(tmp_path_factory: pytest.TempPathFactory) -> KV:
    return KV(tmp_path_factory.mktemp("kv_models"))
