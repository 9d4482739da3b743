"""Double programming: the compiled engine against the simpy engine, through
run_scenario (custom TOML models, including random constant-hazard ones).

Both engines interpret the same pathway with the same random numbers (one
stream per purpose and use, drawn by inverse CDF), so on the same seed they
must give every patient the same history and the same outcomes. The contract
(README, "Engine rules") is per-patient agreement to 1e-12 relative, with
every count, state, code, cause and sequence number exact: the compiled
engine takes LLVM's log and exp (through numba), the simpy engine math's, and
the two may round differently in the last bit (about 1e-16).
``tests/agreement.py`` compares and names the field, patient and largest
difference. tests/engine/test_compiled_equality.py checks the same through the
engines themselves, on every shipped scenario and on random pathways.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

import cartsim
from cartsim.cli import main
from cartsim.study.result import RunResult
from cartsim.study.runner import run_scenario

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "scenarios").glob("*.toml"))
LOG_FIELDS = ("sojourn_patient", "sojourn_state", "sojourn_start", "sojourn_end",
              "sojourn_seq", "event_patient", "event_code", "event_time", "event_seq",
              "end_time", "cause", "recurring_sojourn", "recurring_event", "recurring_count")

FEATURES = """
model = "custom"
[run]
horizon = 60
discount = { costs = 0.03, outcomes = 0.015 }
life_table = "us_ssa_2025"
comparator = "usual"
[cohort]
age = { dist = "normal", mean = 55, sd = 12, min = 18, max = 90 }
female = 0.6

[strategies.usual]
start = "sick"
[strategies.usual.states.sick]
utility = 0.6
cost = { drugs = 9000 }
death = { life_table = 2.5, rate = 0.01, cause = "disease_excess" }
recurring = { flare = 1.5, infection = 0.2 }
[strategies.usual.states.sick.transitions.improve]
to = "better"
dist = "weibull"
shape = 1.3
scale = 6
[strategies.usual.states.better]
utility = 0.8
cost = 3000
death = { life_table = 1.5 }
recurring = { flare = 0.3 }
[strategies.usual.states.better.transitions.worsen]
to = "sick"
dist = "gompertz"
shape = 0.05
rate = 0.1

[strategies.new]
start = "treat"
[strategies.new.chances.treat]
origin = "infusion"
then = "response"
[strategies.new.chances.treat.outcomes.toxicity]
probability = 0.2
[strategies.new.chances.treat.outcomes.early_death]
probability = 0.01
to = "dead"
[strategies.new.chances.response]
then = "sick"
[strategies.new.chances.response.outcomes.responded]
probability = 0.7
to = "well"
[strategies.new.states.well]
utility = 0.85
death = { life_table = 1.2 }
recurring = { infection = 0.05 }
[strategies.new.states.well.transitions.relapse]
to = "sick"
dist = "cure_fraction"
cure_fraction = 0.3
rate = 0.2
[strategies.new.states.well.transitions.late_cancer]
to = "cancer"
dist = "window"
probability = 0.05
window = 3
clock = "infusion"
[strategies.new.states.sick]
utility = 0.6
cost = { drugs = 9000 }
death = { life_table = 2.5, rate = 0.01, cause = "disease_excess" }
recurring = { flare = 1.5, infection = 0.2 }
[strategies.new.states.sick.transitions.improve]
to = "well"
dist = "waning"
rate = 0.3
ramp = 2
[strategies.new.states.sick.transitions.late_cancer]
to = "cancer"
dist = "window"
probability = 0.05
window = 3
clock = "infusion"
[strategies.new.states.cancer]
utility = 0.5
death = { life_table = 1.0, rate = 0.3, cause = "cancer" }
[strategies.new.states.cancer.transitions.hospice]
to = "dead"
dist = "fixed"
time = 4
[strategies.new.events.toxicity]
cost = { adverse_events = 20000 }
qaly_loss = 0.02
"""


def _both(scenario: cartsim.scenario.model.Scenario, n: int,
          seed: int) -> tuple[RunResult, RunResult]:
    return (run_scenario(scenario, patients=n, seed=seed, engine="simpy"),
            run_scenario(scenario, patients=n, seed=seed, engine="compiled"))


def _close(x: np.ndarray, y: np.ndarray, what: str) -> None:
    if x.dtype.kind in "iub":
        np.testing.assert_array_equal(x, y, err_msg=what)
        return
    scale = np.maximum(np.abs(x), float(np.max(np.abs(x), initial=0.0)) * 1e-3)
    bad = np.abs(x - y) > 1e-12 * scale
    if bad.any():
        pytest.fail(f"{what}: engines differ, e.g. {x[bad][:3]} vs {y[bad][:3]}")


def assert_same(agree: ModuleType, a: RunResult, b: RunResult) -> None:
    """Every strategy's event log and per-patient outcomes agree (1e-12 relative,
    integers exactly)."""
    assert list(a.outcomes) == list(b.outcomes)
    for strategy in a.outcomes:
        la, lb = a.logs[strategy], b.logs[strategy]
        assert set(LOG_FIELDS) <= {f.name for f in dataclasses.fields(la)}
        agree.assert_logs_agree(la, lb, f"{strategy} log")
        agree.assert_outcomes_agree(a.outcomes[strategy], b.outcomes[strategy], strategy)


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_engines_agree_per_patient_on_every_shipped_scenario(path, agree):
    """Issue 3 / TECH-VER double programming: same seed, same per-patient histories."""
    a, b = _both(cartsim.load_scenario(path), 1500, 20240601)
    assert_same(agree, a, b)


def test_engines_agree_on_every_pathway_feature(tmp_path, agree):
    """Life table × ratio + excess, Weibull/Gompertz/waning/cure/window/fixed times, an
    origin clock, chance nodes with a deadly outcome, recurring events, separate
    discount rates and a finite horizon: the same histories per patient."""
    path = tmp_path / "features.toml"
    path.write_text(FEATURES, encoding="utf-8")
    scenario = cartsim.load_scenario(path)
    a, b = _both(scenario, 3000, 7)
    assert_same(agree, a, b)
    log = a.logs["new"]
    used = {log.event_names[c] for c in np.unique(log.event_code)}
    assert {"toxicity", "early_death", "responded", "relapse", "late_cancer", "hospice",
            "improve", "death"} <= used  # every feature was exercised


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_engines_agree_on_random_constant_hazard_models(tmp_path, seed, agree):
    """Random 2-4 state models (rates, utilities, costs drawn with a fixed generator)."""
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 5))
    names = [f"s{i}" for i in range(k)]
    lines = ['model = "custom"', "[run]", 'horizon = "lifetime"', 'life_table = "none"',
             "[strategies.only]", 'start = "s0"']
    for i, name in enumerate(names):
        lines += [f"[strategies.only.states.{name}]", f"utility = {rng.uniform(0.3, 1):.4f}",
                  f"cost = {rng.uniform(0, 5e4):.2f}",
                  f"death = {{ rate = {rng.uniform(0.01, 0.1):.4f} }}"]
        for j, other in enumerate(names):
            if j != i and rng.random() < 0.7:
                lines += [f"[strategies.only.states.{name}.transitions.to_{other}]",
                          f'to = "{other}"', f"rate = {rng.uniform(0.05, 1.0):.4f}"]
    path = tmp_path / "random.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    try:
        scenario = cartsim.load_scenario(path)
    except cartsim.ScenarioError as err:  # an unreachable state: not this test's subject
        pytest.skip(f"random structure not connected: {err.problems[0].message}")
    a, b = _both(scenario, 2000, seed)
    assert_same(agree, a, b)


def test_cli_engine_choice_writes_the_same_tables(tmp_path, agree):
    """--engine simpy and --engine compiled write the same files: every CSV cell
    equal to 1e-12 relative (most are equal bytes), the Markdown tables equal to the
    printed digit; run.json records the engine."""
    from click.testing import CliRunner

    runner = CliRunner()
    outs = {}
    for engine in ("simpy", "compiled"):
        out = tmp_path / engine
        result = runner.invoke(main, ["run", str(ROOT / "scenarios" / "base.toml"), "--patients",
                                      "400", "--engine", engine, "--out", str(out), "-q"])
        assert result.exit_code == 0, result.output
        outs[engine] = out
    agree.assert_folders_agree(outs["compiled"], outs["simpy"])
    for engine, out in outs.items():
        assert json.loads((out / "run.json").read_text())["engine"] == engine
