"""The runner (cartsim.study.runner).

Chunked runs: results do not depend on the number of workers (the same chunks:
identical bits), and per-patient results do not depend on the chunk size (other
array lengths: 1e-12 relative, counts exact) (VERIFICATION D3). Simulate once, value
many: which parameters shape a pathway is recorded, a kept simulation valued again is
the simulation made afresh bit for bit, and studies count the engine passes they make.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import cartsim
from cartsim.study import runner
from cartsim.study.dsa import one_way
from cartsim.study.psa import draw_values
from cartsim.study.runner import DrawError, RecordedValues, Runner
from cartsim.study.threshold import threshold


@pytest.fixture
def scenario(kv_text, write_toml):
    return cartsim.load_scenario(write_toml(kv_text))


def _same(a, b) -> None:
    for s in a.outcomes:
        for col, values in a.outcomes[s].columns.items():
            assert np.array_equal(values, b.outcomes[s].columns[col]), (s, col)
        for field in ("cost", "occupancy", "dead", "annual_disc", "annual_undisc"):
            assert np.array_equal(getattr(a.curves[s], field), getattr(b.curves[s], field))


def test_any_number_of_workers_gives_identical_results(scenario, monkeypatch):
    monkeypatch.setattr(runner, "RUN_CHUNK", 250)  # 5 chunks x 2 strategies = 10 jobs
    one = cartsim.run_scenario(scenario, patients=1100, seed=3, workers=1)
    for workers in (2, 3):
        _same(one, cartsim.run_scenario(scenario, patients=1100, seed=3, workers=workers))


def test_per_patient_results_do_not_depend_on_the_chunk_size(scenario, monkeypatch, agree):
    """Chunks of 64 patients instead of one of 700: each patient's results agree to
    1e-12 relative, counts exactly (each patient is a function of its counters; the
    totals of other chunks are summed in another order); curve sums differ only by the
    order of additions."""
    whole = cartsim.run_scenario(scenario, patients=700, seed=5)
    monkeypatch.setattr(runner, "RUN_CHUNK", 64)
    chunked = cartsim.run_scenario(scenario, patients=700, seed=5, keep_logs=True)
    for s in whole.outcomes:
        agree.assert_outcomes_agree(chunked.outcomes[s], whole.outcomes[s], s)
        np.testing.assert_allclose(chunked.curves[s].cost, whole.curves[s].cost, rtol=1e-12)
        np.testing.assert_array_equal(chunked.curves[s].occupancy, whole.curves[s].occupancy)
        assert chunked.logs[s].n_patients == 700


# --- simulate once, value many ----------------------------------------------------------

BASE = Path(__file__).resolve().parents[2] / "scenarios" / "base.toml"
VALUATION_ROOTS = ("costs.", "utilities.", "qaly_loss.")


@pytest.fixture(scope="module")
def base():
    return cartsim.load_scenario(BASE)


def test_pathways_read_no_cost_utility_or_qaly_loss(base):
    """The split is recorded from what the pathway builders read, not listed: in the
    clinical model costs, utilities and QALY losses value a simulation and never shape
    one, and the comparator's pathway reads nothing of CAR-T."""
    keys = Runner(base, patients=10).plan().keys
    read = {s: {name for name, _ in key} for s, key in keys.items()}
    assert read["car_t"] and read["immunosuppression"]
    for names in read.values():
        assert not {n for n in names if n.startswith(VALUATION_ROOTS)}
    assert not {n for n in read["immunosuppression"] if n.startswith("car_t.")}
    assert {"car_t.relapse.rate", "car_t.response.sle", "mortality.sle.smr"} <= read["car_t"]
    # Every other parameter is one the pathways never read.
    valuation = set(base.parameters) - read["car_t"] - read["immunosuppression"]
    assert {n for n in base.parameters if n.startswith(VALUATION_ROOTS)} <= valuation


def test_a_custom_model_splits_by_what_its_pathways_read():
    keys = Runner(cartsim.example_scenario(), patients=10).plan().keys
    cart = {name for name, _ in keys["cart"]}
    assert "strategies.cart.states.remission.transitions.relapse.rate" in cart
    assert "strategies.immunosuppression.states.on_is.death.rate" in cart  # same_as
    assert not {n for n in cart if n.endswith(("utility", "product", "qaly_loss"))}
    assert not {n for n, _ in keys["immunosuppression"] if n.startswith("strategies.cart")}


def test_a_builder_that_iterates_the_values_reads_them_all():
    values = RecordedValues({"a": 1.0, "b": 2.0, "c": 3.0})
    assert values["c"] == 3.0 and values.key() == (("c", 3.0),)
    assert sorted(values) == ["a", "b", "c"]
    assert dict(values.key()) == {"a": 1.0, "b": 2.0, "c": 3.0}


@pytest.mark.parametrize("name", ["costs.car_t.product", "utilities.sle.remission",
                                  "qaly_loss.crs.grade_2"])
def test_valuing_a_kept_simulation_again_equals_simulating_afresh(base, name):
    """A valuation parameter re-values the base case's simulation: every per-patient
    column is the one a fresh simulation at that value gives, bit for bit, and the batch
    makes one engine pass per strategy."""
    changed = {**base.point_values(), name: base.point_values()[name] * 1.3}
    runner = Runner(base, patients=150, seed=4)
    _, revalued = runner.evaluate([None, changed])
    assert (runner.simulations, runner.evaluations, runner.kept) == (2, 2, 0)
    fresh = cartsim.run_scenario(base, patients=150, seed=4, values=changed, curves=False)
    for s, o in fresh.outcomes.items():
        for col, values in o.columns.items():
            assert np.array_equal(values, revalued.outcomes[s].columns[col]), (s, col)
        assert revalued.outcomes[s].columns["cost"].sum() > 0


def test_a_pathway_parameter_simulates_again_only_the_strategies_that_read_it(base):
    runner = Runner(base, patients=100, seed=4)
    point = base.point_values()
    relapse = {**point, "car_t.relapse.rate": 2 * point["car_t.relapse.rate"] + 0.01}
    smr = {**point, "mortality.sle.smr": point["mortality.sle.smr"] * 1.1}
    list(runner.evaluate([None, relapse]))
    assert runner.simulations == 3  # the comparator's simulation served both
    list(runner.evaluate([smr]))
    assert runner.simulations == 5  # both arms die of the disease
    assert runner.evaluations == 3 and runner.kept == 0


def test_studies_count_simulations_and_evaluations(base):
    """A price's threshold makes one simulation per strategy; a DSA of costs and
    utilities none beyond the base case; a relapse range one per end, for CAR-T only."""
    price = threshold(base, "costs.car_t.product", wtp=[150_000.0], patients=100)
    assert price.manifest.extra["simulations"] == 2
    assert price.manifest.extra["evaluations"] > 4
    valuation = one_way(base, patients=100, names=["costs.car_t.product",
                                                   "utilities.sle.active"])
    assert (valuation.manifest.extra["simulations"],
            valuation.manifest.extra["evaluations"]) == (2, 5)
    relapse = one_way(base, patients=100, names=["costs.car_t.product", "car_t.relapse.rate"])
    assert relapse.manifest.extra["simulations"] == 4


@pytest.mark.parametrize("chunk", [1 << 16, 50])
def test_a_batch_of_draws_equals_each_draw_evaluated_alone(monkeypatch, chunk):
    """PSA draws go to the engine as one batch (or, with chunks smaller than the cohort,
    one draw and chunk at a time): each draw's results are those of the draw alone."""
    monkeypatch.setattr(runner, "RUN_CHUNK", chunk)
    scenario = cartsim.example_scenario()
    ks = [1, 2, 3]
    table = draw_values(scenario, ks, 3)
    batched = Runner(scenario, patients=120, seed=3)
    results = list(batched.evaluate_draws([(k, table.at(j)) for j, k in enumerate(ks)]))
    assert (batched.simulations, batched.evaluations) == (6, 3)
    for j, (k, result) in enumerate(zip(ks, results, strict=True)):
        alone = cartsim.run_scenario(scenario, patients=120, seed=3, draw=k,
                                     values=table.at(j), curves=False)
        for s, o in alone.outcomes.items():
            for col, values in o.columns.items():
                assert np.array_equal(values, result.outcomes[s].columns[col]), (k, s, col)


def test_a_draw_that_cannot_be_built_is_named():
    scenario = cartsim.example_scenario()
    values = dict(scenario.point_values())
    del values["strategies.cart.states.remission.transitions.relapse.rate"]
    with pytest.raises(DrawError, match="draw 7") as caught:
        list(Runner(scenario, patients=10).evaluate_draws([(6, None), (7, values)]))
    assert caught.value.draws == (7,) and isinstance(caught.value.__cause__, KeyError)
