"""Tests of cartsim.analysis.voi: regression-based EVPPI.

Exact cases first (INB a deterministic function of the inputs, discrete inputs
with known group means, exact zeros and the noise floor), then continuity (a
last-bit change moves the estimate in the last bits; GCV's exact minimum), then
statistical checks against a closed form and a nested Monte Carlo answer at 4 SE
with fixed seeds, then the law 0 <= EVPPI <= EVPI on random small problems, then
a timing bound.
(The module's doctests run in test_psa.py::test_docstring_examples_hold.)
"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats

from cartsim.analysis.gam import Smoother
from cartsim.analysis.psa import evpi
from cartsim.analysis.voi import evppi, evppi_by_parameter, evppi_groups


def two_strategies(inb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """PSA arrays whose INB (strategy 1 minus 0) at wtp = 0 is ``inb``."""
    k = inb.size
    return np.column_stack([np.zeros(k), -inb]), np.zeros((k, 2))


# --- exact cases --------------------------------------------------------------


def test_evppi_equals_evpi_when_inb_is_linear_in_the_parameter():
    # INB(lam) = (0.01 lam - 100) x + (0.002 lam - 50): linear in x at every lam.
    rng = np.random.default_rng(1)
    k = 2000
    x = rng.normal(size=k)
    costs = np.column_stack([np.zeros(k), 100.0 * x + 50.0])
    effects = np.column_stack([np.zeros(k), 0.01 * x + 0.002])
    wtp = [20_000.0, 50_000.0, 100_000.0]
    perfect = evpi(costs, effects, wtp)
    assert np.all(perfect > 0.0)
    # Linear trends are in the penalty's null space, so the fit is exact up to
    # rounding: nothing statistical is left to tolerate.
    np.testing.assert_allclose(evppi(costs, effects, wtp, x), perfect, rtol=1e-9)


@pytest.mark.parametrize(
    ("name", "f"),
    [
        ("exp", lambda x: np.exp(x) - 1.5),
        ("sin", lambda x: np.sin(2.0 * x) + 0.2),
        ("square", lambda x: x**2 - 0.8),
    ],
)
def test_evppi_equals_evpi_when_inb_is_a_smooth_function_of_the_parameter(name, f):
    rng = np.random.default_rng(2)
    x = rng.normal(size=5000)
    costs, effects = two_strategies(1000.0 * f(x))
    # No noise: GCV picks the least smoothing, so the only error is the 20-knot
    # cubic spline's approximation of f (the raw estimate was within 0.25 % of
    # the EVPI for these; the clip then caps it). 1 % still catches a fit that
    # misses the curvature: a straight line recovers 110 % of the EVPI for exp,
    # 16 % for sin and 0 % for square.
    got = evppi(costs, effects, [0.0], x)[0]
    assert got == pytest.approx(evpi(costs, effects, [0.0])[0], rel=0.01)


@pytest.mark.parametrize(
    ("name", "f", "rel"),
    [
        ("sum", lambda x, y, z: x + y, 1e-9),
        ("product", lambda x, y, z: x * y + x, 1e-9),
        ("three-way product", lambda x, y, z: x * y * z + 0.3, 1e-9),
        ("exp times linear", lambda x, y, z: np.exp(x) * y + 0.5, 0.01),
    ],
)
def test_group_evppi_equals_evpi_when_inb_is_a_function_of_the_group(name, f, rel):
    # Multilinear terms lie in the tensor penalty's null space: exact. Other
    # smooth shapes are approximated by 5 cubic B-splines per margin: 1 %.
    rng = np.random.default_rng(3)
    x, y, z = rng.normal(size=(3, 5000))
    costs, effects = two_strategies(f(x, y, z))
    got = evppi(costs, effects, [0.0], np.column_stack([x, y, z]))[0]
    assert got == pytest.approx(evpi(costs, effects, [0.0])[0], rel=rel)


def test_large_group_captures_a_three_way_product():
    # Six parameters use the additive model plus multilinear products. These
    # are penalised (lightly: without noise GCV picks the least smoothing), so
    # the fit is not exact as in the tensor case: 1e-6.
    rng = np.random.default_rng(4)
    xs = rng.normal(size=(5000, 6))
    costs, effects = two_strategies(xs[:, 0] * xs[:, 1] * xs[:, 2] + xs[:, 3] + 0.2)
    got = evppi(costs, effects, [0.0], xs)[0]
    assert got == pytest.approx(evpi(costs, effects, [0.0])[0], rel=1e-6)


def test_discrete_parameter_uses_its_group_means():
    # A 3-level parameter: E[INB | level] is the level's mean INB, and EVPPI is
    # E[max(that, 0)] - max(E[INB], 0), computed here by hand.
    rng = np.random.default_rng(5)
    level = rng.choice([0.2, 0.5, 0.9], size=3000)
    inb = 4000.0 * (level - 0.45) + rng.normal(0.0, 800.0, size=3000)
    costs, effects = two_strategies(inb)
    means = {v: inb[level == v].mean() for v in np.unique(level)}
    fitted = np.array([means[v] for v in level])
    expected = np.maximum(fitted, 0.0).mean() - max(fitted.mean(), 0.0)
    assert evppi(costs, effects, [0.0], level)[0] == pytest.approx(expected, rel=1e-9)


def test_evppi_is_exactly_zero_when_the_parameter_never_changes_the_decision():
    # The fitted INB is positive in every draw: the expected loss of choosing the
    # new strategy is a mean of exact zeros (not E[max] - max E, two sums that
    # differ in the last bits).
    rng = np.random.default_rng(9)
    x = rng.gamma(2.0, 1.0, size=400)
    costs, effects = two_strategies(5000.0 + 300.0 * x + rng.normal(0.0, 2000.0, 400))
    assert evpi(costs, effects, [0.0])[0] > 0.0
    assert evppi(costs, effects, [0.0], x).tolist() == [0.0]


@pytest.mark.parametrize(("offset", "expected"), [(-1e-6, 0.0), (-0.1, 0.05)])
def test_evppi_below_a_millionth_of_the_evpi_is_reported_as_zero(offset, expected):
    # Two levels: INB = 1000 +- 300 at one, offset +- 500 at the other (group means
    # 1000 and offset), so EVPPI = 0.5 * |offset| exactly, against an EVPI of about
    # 125: 4e-9 of it (noise, reported as 0) or 4e-4 (reported).
    level = np.repeat([0.0, 1.0], 200)
    inb = np.r_[np.tile([700.0, 1300.0], 100), np.tile([offset - 500.0, offset + 500.0], 100)]
    costs, effects = two_strategies(inb)
    perfect = evpi(costs, effects, [0.0])[0]
    assert 100.0 < perfect < 150.0
    assert evppi(costs, effects, [0.0], level)[0] == pytest.approx(expected, rel=1e-6,
                                                                   abs=1e-12)


# --- continuity: a last-bit change moves EVPPI in the last bits ---------------


def skewed_problem() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Six inputs (log-normal, gamma, beta, normal, ...) and an INB that depends on
    three of them with noise: (costs, effects, inputs)."""
    rng = np.random.default_rng(11)
    k = 500
    x = np.column_stack([rng.lognormal(-2.5, 1.0, k), rng.gamma(2.0, 1.0, k),
                         rng.beta(2.0, 5.0, k), rng.normal(size=k),
                         rng.lognormal(0.0, 0.5, k), rng.uniform(size=k)])
    inb = 3000.0 * (0.1 - x[:, 0]) * x[:, 1] + 2000.0 * (x[:, 2] - 0.3)
    costs, effects = two_strategies(inb + rng.normal(0.0, 800.0, k))
    return costs, effects, x


@pytest.mark.parametrize(("columns", "rtol"), [
    ([0], 1e-9), ([0, 1], 1e-9), ([0, 1, 2], 1e-9), ([0, 1, 2, 3], 1e-7),
    ([0, 1, 2, 3, 4, 5], 1e-9)])
def test_a_last_bit_change_moves_evppi_in_the_last_bits(columns, rtol):
    # Every cost and input moved by up to 2 ulps (another CPU's exp and log): the
    # smoothing parameter is GCV's exact minimum, not a grid point, and the penalty's
    # null space is exact, so the estimate moves by ~1e-15 (a skewed single input moved
    # 1e-5 with a grid search and a rounding-noise null space). Four inputs: 256
    # columns on 500 draws make GCV flat at its minimum, and the minimum moves by
    # ~1e-8 (the estimate by ~4e-9).
    costs, effects, x = skewed_problem()
    base = evppi(costs, effects, [0.0], x[:, columns])[0]
    assert base > 100.0
    for seed in range(2):
        rng = np.random.default_rng(seed)

        def nudge(a, rng=rng):
            return a * (1.0 + 2.3e-16 * rng.integers(-2, 3, size=a.shape))

        got = evppi(nudge(costs), effects, [0.0], nudge(x[:, columns]))[0]
        assert got == pytest.approx(base, rel=rtol)


def test_the_smoothing_parameter_is_the_exact_gcv_minimum():
    # No point of a grid 100 times finer than the search's, over its whole range,
    # has a lower GCV than the one chosen.
    costs, _, x = skewed_problem()
    smoother = Smoother(x[:, :1])
    y = -costs[:, 1:]
    b = smoother.basis.T @ y
    outside = np.sum((y - smoother.free @ (smoother.free.T @ y) - smoother.basis @ b) ** 2,
                     axis=0)
    chosen = smoother._choose(b * b, outside)
    fine = np.linspace(smoother.grid[0], smoother.grid[-1], 100 * smoother.grid.size)
    best, _ = smoother._gcv_terms(chosen, (b * b).T, outside)
    others, _ = smoother._gcv_terms(fine, np.tile((b * b).T, (fine.size, 1)),
                                    np.repeat(outside, fine.size))
    assert smoother.grid[0] < chosen[0] < smoother.grid[-1]  # an interior minimum
    assert best[0] <= others.min() * (1.0 + 1e-12)


# --- statistical checks ------------------------------------------------------


def test_evppi_of_an_unrelated_parameter_is_near_zero():
    rng = np.random.default_rng(20240611)
    k = 5000
    u, unrelated = rng.normal(size=(2, k))
    costs, effects = two_strategies(1000.0 * u)  # E[INB] = 0: the hardest case
    perfect = evpi(costs, effects, [0.0])[0]
    # The regression always fits a linear trend. On pure noise its slope is
    # about N(0, sd^2 / K), worth phi(0) |slope| against EVPI = phi(0) sd, so
    # the spurious EVPPI / EVPI is about |N(0, 1)| / sqrt(K): 4 / sqrt(K) is a
    # 4-SE bound (5.7 % at K = 5,000).
    assert evppi(costs, effects, [0.0], unrelated)[0] < 4.0 / math.sqrt(k) * perfect


def test_evppi_agrees_with_closed_form_and_nested_monte_carlo():
    # INB = x + y with x, y ~ N(0, 1): EVPPI(x) = E[max(x, 0)] = phi(0) = 0.3989.
    rng = np.random.default_rng(20240611)
    exact = stats.norm.pdf(0.0)

    # Nested Monte Carlo: outer draws of x, inner draws of y given x.
    n_out, n_in = 5000, 500
    x_out = rng.normal(size=n_out)
    inner_mean = x_out + rng.normal(size=(n_out, n_in)).mean(axis=1)
    nested_terms = np.maximum(inner_mean, 0.0)
    # E[INB] = 0 by construction, so the max(E[INB], 0) term is exactly 0.
    nested = nested_terms.mean()
    nested_se = nested_terms.std(ddof=1) / math.sqrt(n_out)
    # Inner noise biases it up by a factor sqrt(1 + 1/n_in) - 1 = 0.1 %.
    assert abs(nested - exact) < 4 * nested_se

    # Regression on one PSA sample, with a bootstrap SE (refitting each time; 40
    # replicates estimate the SE to about 11%, ample for a 4-SE bound).
    k = 3000
    x, y = rng.normal(size=(2, k))
    costs, effects = two_strategies(x + y)
    estimate = evppi(costs, effects, [0.0], x)[0]
    boot = []
    for _ in range(40):
        i = rng.integers(0, k, size=k)
        boot.append(evppi(costs[i], effects[i], [0.0], x[i])[0])
    se = float(np.std(boot, ddof=1))
    assert abs(estimate - exact) < 4 * se
    assert abs(estimate - nested) < 4 * math.hypot(se, nested_se)


# --- law: 0 <= EVPPI <= EVPI --------------------------------------------------


@st.composite
def small_problems(draw):
    k = draw(st.integers(1, 40))
    s = draw(st.integers(1, 3))
    p = draw(st.integers(1, 6))
    costs = draw(arrays(float, (k, s), elements=st.floats(-1e5, 1e5)))
    effects = draw(arrays(float, (k, s), elements=st.floats(-10.0, 10.0)))
    # Continuous columns, or few distinct values (discrete parameters, ties).
    discrete = st.sampled_from([0.0, 0.1, 2.0, 1e3])
    columns = [
        draw(
            arrays(
                float,
                k,
                elements=discrete if draw(st.booleans()) else st.floats(-1e6, 1e6),
            )
        )
        for _ in range(p)
    ]
    wtp = draw(arrays(float, st.integers(1, 3), elements=st.floats(0.0, 1e5)))
    return costs, effects, wtp, np.column_stack(columns)


@settings(max_examples=150, deadline=None)
@given(small_problems())
def test_evppi_lies_between_zero_and_evpi(problem):
    costs, effects, wtp, inputs = problem
    partial = evppi(costs, effects, wtp, inputs)
    perfect = evpi(costs, effects, wtp)
    assert partial.shape == wtp.shape
    assert np.all(np.isfinite(partial))
    assert np.all(partial >= 0.0)
    assert np.all(partial <= perfect)


# --- wrappers and validation ----------------------------------------------------


def test_by_parameter_and_groups_match_direct_calls():
    rng = np.random.default_rng(6)
    k = 1000
    draws = {"p_remission": rng.beta(30, 10, k), "u_remission": rng.beta(80, 20, k)}
    draws["cost_is"] = rng.gamma(20.0, 1000.0, k)
    effects = np.column_stack(
        [
            np.full(k, 8.0),
            8.0 + 6.0 * draws["p_remission"] * (draws["u_remission"] - 0.6),
        ]
    )
    costs = np.column_stack([10.0 * draws["cost_is"], np.full(k, 300_000.0)])
    wtp = [50_000.0, 100_000.0]
    singles = evppi_by_parameter(costs, effects, wtp, draws)
    assert list(singles) == list(draws)
    for name, values in draws.items():
        assert np.array_equal(singles[name], evppi(costs, effects, wtp, values))
    groups = {"efficacy": ["p_remission", "u_remission"], "all": list(draws)}
    grouped = evppi_groups(costs, effects, wtp, draws, groups)
    stacked = np.column_stack([draws["p_remission"], draws["u_remission"]])
    assert np.array_equal(grouped["efficacy"], evppi(costs, effects, wtp, stacked))
    # Everything that varies is in "all": its EVPPI is the EVPI.
    np.testing.assert_allclose(grouped["all"], evpi(costs, effects, wtp), rtol=1e-6)


def test_single_strategy_has_no_value_of_information():
    x = np.linspace(0.0, 1.0, 50)
    assert evppi(x[:, None], x[:, None], [0.0, 1e4], x).tolist() == [0.0, 0.0]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"inputs": np.zeros(9)},
            r"inputs must be shaped \(K,\) or \(K, P\) with K = 10",
        ),
        ({"inputs": np.zeros((10, 0))}, r"inputs must be shaped"),
        ({"inputs": np.r_[np.zeros(9), np.nan]}, "inputs must be finite"),
        ({"inputs": np.zeros(10), "method": "gp"}, "method must be 'gam'"),
    ],
)
def test_evppi_rejects_bad_inputs(kwargs, match):
    costs, effects = two_strategies(np.arange(10.0))
    with pytest.raises(ValueError, match=match):
        evppi(costs, effects, [0.0], **kwargs)


def test_wrappers_reject_bad_names_and_shapes():
    costs, effects = two_strategies(np.arange(10.0))
    draws = {"a": np.arange(10.0), "b": np.ones(10)}
    with pytest.raises(ValueError, match=r"draws\['m'\] must be 1-D"):
        evppi_by_parameter(costs, effects, [0.0], {"m": np.zeros((10, 2))})
    with pytest.raises(
        ValueError, match=r"groups\['g'\] names parameters not in draws: \['c'\]"
    ):
        evppi_groups(costs, effects, [0.0], draws, {"g": ["a", "c"]})
    with pytest.raises(ValueError, match=r"groups\['g'\] must be a non-empty list"):
        evppi_groups(costs, effects, [0.0], draws, {"g": []})
    with pytest.raises(ValueError, match=r"groups\['g'\] must be a non-empty list"):
        evppi_groups(costs, effects, [0.0], draws, {"g": "a"})


# --- performance --------------------------------------------------------------


def test_single_parameter_evppi_is_fast():
    rng = np.random.default_rng(8)
    k = 1000
    x = rng.normal(size=k)
    costs = rng.normal(1000.0, 300.0, size=(k, 3)) + 200.0 * x[:, None]
    effects = rng.normal(1.0, 0.1, size=(k, 3))
    evppi(costs[:50], effects[:50], [0.0], x[:50])  # load LAPACK and scipy once
    start = time.perf_counter()
    evppi(costs, effects, [0.0, 50_000.0, 100_000.0], x)
    assert time.perf_counter() - start < 0.5
