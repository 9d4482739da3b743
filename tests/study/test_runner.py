"""Chunked runs: results do not depend on the number of workers (the same chunks:
identical bits), and per-patient results do not depend on the chunk size (other
array lengths: 1e-12 relative, counts exact) (VERIFICATION D3)."""

from __future__ import annotations

import numpy as np
import pytest

import cartsim
from cartsim.study import runner


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
    1e-12 relative, counts exactly (the vectorised engine's logs and exps run on arrays
    of other lengths); curve sums differ only by the order of additions."""
    whole = cartsim.run_scenario(scenario, patients=700, seed=5)
    monkeypatch.setattr(runner, "RUN_CHUNK", 64)
    chunked = cartsim.run_scenario(scenario, patients=700, seed=5, keep_logs=True)
    for s in whole.outcomes:
        agree.assert_outcomes_agree(chunked.outcomes[s], whole.outcomes[s], s)
        np.testing.assert_allclose(chunked.curves[s].cost, whole.curves[s].cost, rtol=1e-12)
        np.testing.assert_array_equal(chunked.curves[s].occupancy, whole.curves[s].occupancy)
        assert chunked.logs[s].n_patients == 700
