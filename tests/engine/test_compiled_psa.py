"""PSA with the compiled engine: blocks of draws in one batched pass, with the results
of simulating each draw on its own (and of the simpy engine), whatever the blocks
and workers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import cartsim
from cartsim.errors import SimulationError
from cartsim.outcomes import valued_batch
from cartsim.psa import draw_values, run_psa

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "scenarios" / "base.toml"


@pytest.fixture(scope="module")
def scenario():
    return cartsim.load_scenario(BASE)


@pytest.fixture(scope="module")
def batched(scenario):
    return run_psa(scenario, draws=12, patients=150, seed=3)


def test_each_draw_of_a_batch_equals_its_run_alone(scenario, batched):
    """Draw k of a batch: exactly the means of run_scenario(draw=k) at draw k's values."""
    table = draw_values(scenario, [4, 9], 3)
    for j, k in enumerate((4, 9)):
        alone = cartsim.run_scenario(scenario, patients=150, seed=3, draw=k,
                                     values=table.at(j), keep_logs=False, curves=False)
        result = batched.results[k - 1]
        for strategy, outcomes in alone.outcomes.items():
            for measure in ("cost", "qaly", "ly"):
                assert result.means[strategy][measure] == float(np.mean(outcomes[measure]))
            assert result.qaly_var[strategy] == float(np.var(outcomes["qaly"], ddof=1))


def test_batched_psa_equals_the_simpy_engine_draw_by_draw(scenario, batched):
    reference = run_psa(scenario, draws=12, patients=150, seed=3, engine="simpy")
    for measure in ("cost", "qaly", "ly"):
        np.testing.assert_allclose(batched.matrix(measure), reference.matrix(measure),
                                   rtol=1e-12)
    np.testing.assert_allclose(batched.within_variance(), reference.within_variance(),
                               rtol=1e-11)


def test_blocks_and_workers_do_not_change_a_draw(scenario, batched, monkeypatch):
    monkeypatch.setattr(valued_batch, "SLOTS", 400)  # kernel calls of 2 draws
    for workers in (1, 2):
        again = run_psa(scenario, draws=12, patients=150, seed=3, workers=workers)
        for measure in ("cost", "qaly", "ly"):
            np.testing.assert_array_equal(again.matrix(measure), batched.matrix(measure))
        np.testing.assert_array_equal(again.within_variance(), batched.within_variance())


def test_a_draw_that_cannot_be_simulated_is_named(tmp_path):
    """A patient stuck forever in draw k stops the PSA with draw k and the seed."""
    path = tmp_path / "stuck.toml"
    path.write_text("""
model = "custom"
[run]
horizon = "lifetime"
life_table = "none"
[strategies.only]
start = "a"
[strategies.only.states.a]
utility = 1
death = { rate = { value = 0.01, dist = "normal", mean = 0.01, sd = 0.1 } }
""", encoding="utf-8")
    scenario = cartsim.load_scenario(path)
    table = draw_values(scenario, range(1, 41), 5)
    rates = table.values["strategies.only.states.a.death.rate"]
    assert np.any(rates == 0.0)  # draws below 0 are clipped to a rate of 0: no way out
    with pytest.raises(SimulationError, match=r"PSA draw (\d+) \(seed 5\) failed") as err:
        run_psa(scenario, draws=40, patients=5, seed=5)
    k = int(str(err.value).split()[2])
    assert rates[k - 1] == 0.0 and "forever" in str(err.value)
