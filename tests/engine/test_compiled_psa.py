"""PSA with the compiled engine: blocks of draws in one batched pass, with the results
of simulating each draw on its own (and of the simpy engine), whatever the blocks
and workers."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

import cartsim
from cartsim.errors import SimulationError
from cartsim.study import runner
from cartsim.study.psa import draw_values, run_psa

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "scenarios" / "base.toml"


@pytest.fixture(scope="module")
def scenario():
    # without base.toml's structural choices: a draw "alone" here is the base structure at
    # the draw's parameter values (structural draws: tests/study/test_structural_psa.py)
    return dataclasses.replace(cartsim.load_scenario(BASE), structural=())


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
    monkeypatch.setattr(runner, "RUN_CHUNK", 400)  # batches (kernel calls) of 2 draws
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


def test_a_batch_of_draws_with_two_relapse_families_equals_each_draw_alone():
    """Structural uncertainty: draws of one batch whose CAR-T relapse time is exponential
    in some and Weibull in others (one plan, the family a code per row) give each draw
    exactly what it gives simulated alone, and the simpy engine's results to 1e-12."""
    from cartsim.outcomes.valued_batch import structure_signature
    from cartsim.study.runner import Runner
    from cartsim.study.simulate import DrawPass, engine_pass

    models = {"constant": cartsim.load_scenario(BASE),
              "weibull": cartsim.load_scenario(ROOT / "scenarios" / "relapse_waning.toml")}
    runners = {m: Runner(s, patients=160, seed=3) for m, s in models.items()}
    chosen = {1: "constant", 2: "weibull", 3: "weibull", 4: "constant"}
    draws = []
    for k, model in chosen.items():
        values = draw_values(models[model], [k], 3).at(0)
        plan = runners[model].plan(values)
        draws.append(DrawPass(k, plan.pathways["car_t"], (plan.valuations["car_t"],)))
    relapse = {d.draw: type(d.pathways["sle"].states["remission"].transitions[0].time).__name__
               for d in draws}
    assert relapse == {1: "Exponential", 2: "Weibull", 3: "Weibull", 4: "Exponential"}
    assert len({structure_signature(d.pathways) for d in draws}) == 1  # one plan, one call
    ctx = runners["constant"].context
    span = range(ctx.cohort.n)
    batched = engine_pass(ctx, "car_t", span, draws)
    simpy_ctx = dataclasses.replace(ctx, engine="simpy")
    for d, got in zip(draws, batched.outcomes, strict=True):
        alone = engine_pass(ctx, "car_t", span, [d]).outcomes[0][0]
        reference = engine_pass(simpy_ctx, "car_t", span, [d]).outcomes[0][0]
        assert got[0].columns.keys() == alone.columns.keys()
        for column, values in got[0].columns.items():
            np.testing.assert_array_equal(values, alone.columns[column], err_msg=column)
            np.testing.assert_allclose(values, reference.columns[column], rtol=1e-12,
                                       atol=1e-12 * float(np.max(np.abs(values), initial=1.0)),
                                       err_msg=column)
        assert got[0].cause_names == alone.cause_names == reference.cause_names
    # The families really changed the histories of the draws that use them.
    assert not np.array_equal(batched.outcomes[0][0]["n_relapse"],
                              batched.outcomes[1][0]["n_relapse"])
