"""A PSA draw's parameter values are a pure function of (scenario, seed, k).

Whichever other draws are made in the same call (a worker's chunk, the draws a
resumed run still needs, a Dask task), draw k's values are the same bits: the
copula's z' = L z, a Dirichlet row's normalisation and a probability set's
rescaling add their terms one at a time in a fixed order, never through a BLAS
product or a pairwise sum whose rounding depends on the batch's shape.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import cartsim
from cartsim.params.draws import cholesky, draw_parameters

NODE = "strategies.new.chances.pick.outcomes"
OUTCOMES = 9  # above numpy's 8-term unrolled pairwise sums
STATES = "strategies.new.states.well"


def _scenario_text() -> str:
    lines = ['model = "custom"', "[run]", "seed = 11", 'life_table = "none"',
             'comparator = "old"',
             "[strategies.old]", 'start = "well"',
             "[strategies.old.states.well]",
             'utility = { value = 0.7, dist = "beta", mean = 0.7, se = 0.05 }',
             'cost = { value = 900, dist = "gamma", mean = 900, se = 150 }',
             'death = { rate = { value = 0.05, dist = "lognormal", mean = 0.05, se = 0.01 } }',
             "[strategies.new]", 'start = "pick"',
             "[strategies.new.chances.pick]", 'then = "split"',
             "[strategies.new.chances.split]", 'then = "well"']
    # Two chance nodes of nine outcomes: one drawn independently (a probability set
    # rescaled when it sums above 1), one as a Dirichlet set with a remainder.
    for node in ("pick", "split"):
        for i in range(OUTCOMES):
            lines += [f"[strategies.new.chances.{node}.outcomes.o{i}]",
                      f'probability = {{ value = 0.1, dist = "beta", alpha = {2 + i}, '
                      f"beta = {9 + i} }}"]
    lines += [f"[{STATES}]",
              'utility = { value = 0.8, dist = "normal", mean = 0.8, sd = 0.08 }',
              'cost = { value = 2000, dist = "triangular", low = 1000, mode = 2000, '
              "high = 4000 }",
              "death = { rate = 0.04 }",
              f"[{STATES}.transitions.relapse]", 'to = "well2"',
              'rate = { value = 0.1, dist = "gamma", mean = 0.1, se = 0.03 }',
              "[strategies.new.states.well2]", "utility = 0.6",
              "death = { rate = 0.06 }"]
    split = [f"strategies.new.chances.split.outcomes.o{i}.probability"
             for i in range(OUTCOMES)]
    alphas = ", ".join(str(1.5 + i) for i in range(OUTCOMES + 1))
    lines += ["[[dirichlet]]", f"params = {split!r}".replace("'", '"'),
              f"alphas = [{alphas}]"]
    # One correlation block of four parameters of four families.
    block = ["strategies.old.states.well.utility", "strategies.old.states.well.cost",
             "strategies.old.states.well.death.rate", f"{STATES}.utility"]
    for (a, b), rho in zip([(0, 1), (1, 2), (0, 3), (2, 3)], (0.5, -0.3, 0.4, 0.2),
                           strict=True):
        lines += ["[[correlations]]", f'params = ["{block[a]}", "{block[b]}"]',
                  f"rho = {rho}"]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory):
    path = Path(tmp_path_factory.mktemp("batches")) / "batches.toml"
    path.write_text(_scenario_text(), encoding="utf-8")
    return cartsim.load_scenario(path)


def _draw(scenario, ks):
    return draw_parameters(scenario.parameters, ks, 20240601, scenario.probability_sets,
                           scenario.joint)


def test_a_draws_values_do_not_depend_on_the_batch(scenario):
    """Draws 1-24 in one call, and each alone (a BLAS product of one column took
    another kernel), 20-24 and (24, 23) in others: every parameter's value of every
    draw is the same bytes, correlated and Dirichlet ones included."""
    whole = _draw(scenario, range(1, 25))
    joint = scenario.joint.members()
    assert len(joint) == 4 + OUTCOMES and set(whole.random) >= joint
    assert whole.rescaled_sets > 0  # the independent set was rescaled in some draws
    for batch in ([20, 21, 22, 23, 24], [24, 23], *([k] for k in range(1, 25))):
        part = _draw(scenario, batch)
        for j, k in enumerate(batch):
            for name, values in whole.values.items():
                assert part.values[name][j].tobytes() == values[k - 1].tobytes(), \
                    (name, k, batch, part.values[name][j], values[k - 1])


def test_cholesky_matches_lapack_and_refuses_an_indefinite_matrix():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(6, 6))
    spd = a @ a.T + 6 * np.eye(6)
    low = cholesky(spd)
    np.testing.assert_allclose(low, np.linalg.cholesky(spd), rtol=1e-13, atol=1e-13)
    assert np.all(np.triu(low, 1) == 0.0)
    with pytest.raises(ValueError, match="not positive definite"):
        cholesky(np.array([[1.0, 0.9, 0.9], [0.9, 1.0, -0.9], [0.9, -0.9, 1.0]]))
