"""Tests of cartsim.analysis.psa (VERIFICATION.md E1, E4-E7, C7).

Hand tables and closed forms first, then an independent slow-loop oracle, then
statistical checks at 4 SE with fixed seeds (the tolerance comes from the
standard error, so any seed should pass), then laws checked with hypothesis.
"""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats

from cartsim.analysis import cea, psa, voi
from cartsim.analysis.psa import (
    ceac,
    ceaf,
    evpi,
    expected_loss,
    incremental_net_benefit,
    net_benefit,
    population_evpi,
    summarise_psa,
    variance_split,
)

EPS = np.finfo(float).eps


@pytest.mark.parametrize("module", [psa, voi])
def test_docstring_examples_hold(module):
    result = doctest.testmod(module)
    assert result.attempted > 0
    assert result.failed == 0


# --- an independent, obvious recomputation (the oracle) ----------------------


def slow_nb(costs, effects, lam):
    return [
        [lam * float(e) - float(c) for c, e in zip(crow, erow, strict=True)]
        for crow, erow in zip(costs, effects, strict=True)
    ]


def slow_ceac(costs, effects, wtp):
    rows = []
    for lam in wtp:
        counts = [0] * len(costs[0])
        for draw in slow_nb(costs, effects, lam):
            best = 0
            for s, v in enumerate(draw):
                if v > draw[best]:  # strict: the first of tied strategies keeps it
                    best = s
            counts[best] += 1
        rows.append([n / len(costs) for n in counts])
    return rows


def slow_evpi(costs, effects, lam):
    nb = slow_nb(costs, effects, lam)
    k = len(nb)
    e_max = math.fsum(max(draw) for draw in nb) / k
    max_e = max(math.fsum(draw[s] for draw in nb) / k for s in range(len(nb[0])))
    return e_max - max_e


def slow_expected_loss(costs, effects, lam):
    nb = slow_nb(costs, effects, lam)
    return [math.fsum(max(d) - d[s] for d in nb) / len(nb) for s in range(len(nb[0]))]


psa_shapes = st.tuples(st.integers(1, 30), st.integers(1, 4))
money = st.floats(-1e6, 1e6, allow_nan=False)
qalys = st.floats(-20.0, 20.0, allow_nan=False)
wtps = arrays(float, st.integers(1, 4), elements=st.floats(0.0, 2e5))


@st.composite
def psa_arrays(draw, costs_from=money, effects_from=qalys):
    shape = draw(psa_shapes)
    return (
        draw(arrays(float, shape, elements=costs_from)),
        draw(arrays(float, shape, elements=effects_from)),
    )


# --- net benefit --------------------------------------------------------------


def test_net_benefit_hand_table():
    nb = net_benefit(
        [[10.0, 30.0], [20.0, 10.0]], [[1.0, 2.0], [1.0, 0.5]], [0.0, 50.0]
    )
    assert nb.shape == (2, 2, 2)
    assert nb.tolist() == [
        [[-10.0, -30.0], [-20.0, -10.0]],
        [[40.0, 70.0], [30.0, 15.0]],
    ]


def test_scalar_wtp_counts_as_one_threshold():
    assert net_benefit([[1.0]], [[2.0]], 10.0).shape == (1, 1, 1)


@pytest.mark.parametrize(
    ("costs", "effects", "wtp", "match"),
    [
        ([1.0, 2.0], [1.0, 2.0], [0.0], r"costs must be 2-D"),
        (np.zeros((0, 2)), np.zeros((0, 2)), [0.0], r"K >= 1"),
        ([[1.0, 2.0]], [[1.0, 2.0, 3.0]], [0.0], r"same shape"),
        (
            [[1.0, np.nan]],
            [[1.0, 2.0]],
            [0.0],
            r"costs must be finite.*draw 0, strategy 1",
        ),
        ([[1.0, 2.0]], [[np.inf, 2.0]], [0.0], r"effects must be finite"),
        ([[1.0, 2.0]], [[1.0, 2.0]], [-1.0], r"wtp must be .*>= 0"),
        ([[1.0, 2.0]], [[1.0, 2.0]], [], r"wtp must be 1-D, non-empty"),
        ([[1.0, 2.0]], [[1.0, 2.0]], [[1.0]], r"wtp must be 1-D"),
        ([[1.0, 2.0]], [[1e308, 2.0]], [1e10], r"overflows"),
    ],
)
def test_invalid_psa_input_is_rejected_with_what_was_expected(
    costs, effects, wtp, match
):
    for fn in (net_benefit, ceac, ceaf, expected_loss, evpi):
        with pytest.raises(ValueError, match=match):
            fn(costs, effects, wtp)


# --- E4: CEAC -----------------------------------------------------------------


def test_ceac_hand_table_and_ties():
    costs = [[0.0, 0.0], [0.0, 5.0], [0.0, -5.0], [0.0, 0.0]]
    effects = [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [1.0, 1.0]]
    # Draws 0 and 3 are exact ties at every threshold.
    assert ceac(costs, effects, [0.0]).tolist() == [[0.75, 0.25]]
    assert ceac(costs, effects, [0.0], tie="split").tolist() == [[0.5, 0.5]]
    with pytest.raises(ValueError, match="tie must be"):
        ceac(costs, effects, [0.0], tie="last")


def test_ceac_at_zero_wtp_is_share_of_draws_where_strategy_is_cheapest():
    rng = np.random.default_rng(20240611)
    costs = rng.integers(0, 20, size=(500, 3)).astype(float)  # many exact ties
    effects = rng.normal(size=(500, 3))
    cheapest = np.argmin(costs, axis=1)  # first of tied minima, as the tie rule
    expected = [np.count_nonzero(cheapest == s) / 500 for s in range(3)]
    assert ceac(costs, effects, [0.0])[0].tolist() == expected


@settings(max_examples=200, deadline=None)
@given(psa_arrays(), wtps)
def test_ceac_is_a_distribution_over_strategies_and_matches_slow_loop(data, wtp):
    costs, effects = data
    p = ceac(costs, effects, wtp)
    k, s = costs.shape
    assert p.shape == (wtp.size, s)
    assert np.all((p >= 0.0) & (p <= 1.0))
    counts = p * k
    # Each draw is counted exactly once: the shares are integer counts / K (up to the
    # rounding of count / K and of the product back by K).
    assert np.all(np.abs(counts - np.rint(counts)) <= k * EPS)
    assert np.all(np.rint(counts).sum(axis=1) == k)
    assert np.all(np.abs(p.sum(axis=1) - 1.0) <= s * EPS)
    assert p.tolist() == slow_ceac(costs.tolist(), effects.tolist(), wtp.tolist())
    split = ceac(costs, effects, wtp, tie="split")
    assert np.allclose(split.sum(axis=1), 1.0, rtol=0.0, atol=4 * s * EPS)


# --- E7 / CEAF ----------------------------------------------------------------


def test_ceaf_picks_highest_expected_nb_not_most_often_best():
    # Strategy 1 wins 9 draws by 1 and loses 1 draw by 100: E[NB_1] = -9.1 < 0.
    nb1 = np.array([1.0] * 9 + [-100.0])
    costs = np.column_stack([np.zeros(10), -nb1])
    effects = np.zeros((10, 2))
    assert ceac(costs, effects, [0.0]).tolist() == [[pytest.approx(0.1), 0.9]]
    best, p = ceaf(costs, effects, [0.0])
    assert best.tolist() == [0]
    assert p.tolist() == [pytest.approx(0.1)]


def test_ceaf_follows_the_efficiency_frontier_of_dampacks_example():
    names = ["E", "D", "C", "B", "A", "UC"]
    cost = [55_000.0, 35_000.0, 25_000.0, 10_000.0, 12_000.0, 5_000.0]
    effect = [5.0, 4.0, 3.0, 2.0, 1.5, 1.0]
    frontier = [
        r for r in cea.incremental_analysis(names, cost, effect) if r.status == "ND"
    ]
    assert [r.strategy for r in frontier] == ["UC", "B", "D", "E"]
    wtp = [0.0, 4_000.0, 6_000.0, 12_000.0, 13_000.0, 19_000.0, 21_000.0, 1e6]
    # One draw at the means: the best strategy is the last frontier strategy
    # whose ICER is below the threshold.
    best, p = ceaf([cost], [effect], wtp)
    for lam, s in zip(wtp, best, strict=True):
        on = [r.strategy for r in frontier if r.icer is None or r.icer < lam]
        assert names[s] == on[-1]
    assert p.tolist() == [1.0] * len(wtp)


def test_ceaf_matches_argmax_of_mean_nb():
    rng = np.random.default_rng(7)
    costs = rng.normal([1000.0, 1500.0, 1800.0], 400.0, size=(2000, 3))
    effects = rng.normal([1.0, 1.02, 1.03], 0.05, size=(2000, 3))
    wtp = np.linspace(0.0, 100_000.0, 21)
    best, p = ceaf(costs, effects, wtp)
    for w, lam in enumerate(wtp):
        means = [np.mean(lam * effects[:, s] - costs[:, s]) for s in range(3)]
        assert best[w] == int(np.argmax(means))
        assert p[w] == ceac(costs, effects, [lam])[0, best[w]]


# --- E6: expected loss and EVPI -------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(psa_arrays(), wtps)
def test_evpi_is_nonnegative_and_matches_slow_loop(data, wtp):
    costs, effects = data
    value = evpi(costs, effects, wtp)
    loss = expected_loss(costs, effects, wtp)
    assert value.shape == (wtp.size,)
    assert np.all(value >= 0.0)
    assert np.all(loss >= 0.0)
    assert np.array_equal(value, loss.min(axis=1))
    for w, lam in enumerate(wtp.tolist()):
        scale = np.max(np.abs(net_benefit(costs, effects, [lam]))) + 1.0
        tol = 64 * EPS * scale
        assert value[w] == pytest.approx(
            slow_evpi(costs.tolist(), effects.tolist(), lam), abs=tol
        )
        assert loss[w] == pytest.approx(
            slow_expected_loss(costs.tolist(), effects.tolist(), lam), abs=tol
        )


def test_evpi_is_exactly_zero_when_one_strategy_dominates_in_every_draw():
    rng = np.random.default_rng(11)
    costs = rng.gamma(5.0, 10_000.0, size=(1000, 3))
    effects = rng.normal(5.0, 1.0, size=(1000, 3))
    # Strategy 1 ("CAR-T") cheaper and better than the others in every draw.
    costs[:, 1] = costs.min(axis=1) - 1.0
    effects[:, 1] = effects.max(axis=1) + 0.1
    wtp = [0.0, 20_000.0, 50_000.0, 100_000.0, 200_000.0]
    assert evpi(costs, effects, wtp).tolist() == [0.0] * 5
    assert ceac(costs, effects, wtp)[:, 1].tolist() == [1.0] * 5


@pytest.mark.parametrize(("mu", "sigma"), [(-1_500.0, 4_000.0), (2_500.0, 4_000.0)])
def test_evpi_of_normal_inb_matches_closed_form(mu, sigma):
    rng = np.random.default_rng(20240611)
    k, lam = 200_000, 50_000.0
    inb = rng.normal(mu, sigma, size=k)
    # Strategy 1 gains 0.5 QALY and costs 0.5 * lam - INB, so NB_1 - NB_0 = INB.
    costs = np.column_stack([np.zeros(k), 0.5 * lam - inb])
    effects = np.column_stack([np.zeros(k), np.full(k, 0.5)])
    z = mu / sigma
    exact = sigma * stats.norm.pdf(z) + mu * stats.norm.cdf(z) - max(0.0, mu)
    # The estimate is the mean loss of the strategy best on average:
    # max(INB, 0) when mu < 0, max(-INB, 0) when mu > 0.
    loss = np.maximum(inb, 0.0) if mu < 0 else np.maximum(-inb, 0.0)
    se = loss.std(ddof=1) / math.sqrt(k)
    assert abs(evpi(costs, effects, [lam])[0] - exact) < 4 * se


def test_single_draw_gives_zero_evpi_and_degenerate_intervals():
    costs, effects = [[100.0, 250.0]], [[1.0, 1.5]]
    assert evpi(costs, effects, [0.0, 1e3]).tolist() == [0.0, 0.0]
    s = summarise_psa(costs, effects, ["is", "car_t"], 0, [1e3])
    assert s.cost.interval.tolist() == [[100.0, 100.0], [250.0, 250.0]]
    assert s.delta_effect.interval.tolist() == [[0.0, 0.0], [0.5, 0.5]]
    assert s.cost.estimates[1].se is None
    for arr in (s.inmb, s.prob_ce, s.prob_inmb_positive, s.cost.interval):
        assert np.all(np.isfinite(arr))


# --- population EVPI ------------------------------------------------------------


def test_population_evpi_is_evpi_times_discounted_population():
    per_patient = np.array([0.0, 120.0, 3_000.0])
    annuity = math.fsum(1.035**-t for t in range(1, 11))
    got = population_evpi(per_patient, population=400.0, years=10.0, discount=0.035)
    np.testing.assert_allclose(got, per_patient * 400.0 * annuity, rtol=1e-13)
    undiscounted = population_evpi(
        per_patient, population=400.0, years=10.0, discount=0.0
    )
    assert undiscounted.tolist() == (per_patient * 4_000.0).tolist()
    # The closed form is continuous as the rate goes to 0 (no cancellation).
    tiny = population_evpi([1.0], population=1.0, years=10.0, discount=1e-12)
    assert tiny[0] == pytest.approx(10.0, rel=1e-9)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (([-1.0], 1.0, 1.0, 0.0), "evpi_per_patient"),
        (([1.0], -1.0, 1.0, 0.0), "population"),
        (([1.0], 1.0, math.inf, 0.0), "years"),
        (([1.0], 1.0, 1.0, -0.01), "discount"),
    ],
)
def test_population_evpi_rejects_invalid_arguments(args, match):
    with pytest.raises(ValueError, match=match):
        population_evpi(*args)


# --- E5 and C7: summary maths ---------------------------------------------------


def test_summary_icer_is_ratio_of_means_not_mean_of_ratios():
    costs = [[100.0, 110.0], [200.0, 220.0], [300.0, 330.0]]  # dC = 10, 20, 30
    effects = [[1.0, 2.0], [1.0, 1.5], [1.0, 3.0]]  # dE = 1, 0.5, 2
    s = summarise_psa(costs, effects, ["is", "car_t"], 0, [0.0, 100.0])
    assert s.delta_cost.mean.tolist() == [0.0, 20.0]
    assert s.delta_effect.mean[1] == pytest.approx(3.5 / 3, rel=1e-15)
    assert s.icer[0] is None
    assert s.icer[1] == cea.compute_icer(20.0, s.delta_effect.mean[1])
    assert s.icer[1].value == pytest.approx(120.0 / 7.0, rel=1e-14)  # 17.14
    mean_of_ratios = (10.0 / 1.0 + 20.0 / 0.5 + 30.0 / 2.0) / 3  # 21.67
    assert abs(s.icer[1].value - mean_of_ratios) > 4.0


def test_summary_means_intervals_and_inmb_are_the_column_statistics():
    rng = np.random.default_rng(3)
    k = 1001
    costs = rng.lognormal([10.0, 12.5, 12.0], 0.4, size=(k, 3))
    effects = rng.normal([5.0, 8.0, 7.0], 1.5, size=(k, 3))
    wtp = np.array([0.0, 20_000.0, 50_000.0, 100_000.0, 200_000.0])
    s = summarise_psa(costs, effects, ["is", "car_t", "other"], 0, wtp)
    assert s.n_draws == k and s.names == ("is", "car_t", "other")
    dc, de = costs - costs[:, [0]], effects - effects[:, [0]]
    for summary, x in (
        (s.cost, costs),
        (s.effect, effects),
        (s.delta_cost, dc),
        (s.delta_effect, de),
    ):
        assert summary.mean.tolist() == [math.fsum(col) / k for col in x.T.tolist()]
        np.testing.assert_allclose(summary.mean, x.mean(axis=0), rtol=1e-12)
        expected = np.quantile(x, [0.025, 0.975], axis=0, method="linear").T
        assert np.array_equal(summary.interval, expected)
        assert [m.se for m in summary.estimates] == [cea.mcse(col) for col in x.T]
    # C7: mean INMB is exactly linear in wtp, lam * mean dE - mean dC.
    for w, lam in enumerate(wtp):
        assert (
            s.inmb[w].tolist()
            == (lam * s.delta_effect.mean - s.delta_cost.mean).tolist()
        )
    # E5: INMB per draw is lam * dE_k - dC_k, exactly.
    per_draw = incremental_net_benefit(costs, effects, wtp, 0)
    assert per_draw.shape == (wtp.size, k, 3)
    for w, lam in enumerate(wtp):
        assert np.array_equal(per_draw[w], lam * de - dc)
    np.testing.assert_allclose(per_draw.mean(axis=1), s.inmb, rtol=1e-9, atol=1e-6)
    assert np.array_equal(s.prob_inmb_positive, (per_draw > 0.0).mean(axis=1))
    assert np.array_equal(s.prob_ce, ceac(costs, effects, wtp))
    with pytest.raises(ValueError, match="read-only"):
        s.inmb[0, 0] = 1.0


def test_decision_switches_at_the_ratio_of_mean_increments():
    rng = np.random.default_rng(5)
    k = 400
    costs = np.column_stack(
        [rng.normal(20_000, 3_000, k), rng.normal(270_000, 40_000, k)]
    )
    effects = np.column_stack([rng.normal(10.0, 1.0, k), rng.normal(13.0, 1.2, k)])
    s = summarise_psa(costs, effects, ["is", "car_t"], 0, [0.0])
    switch = s.delta_cost.mean[1] / s.delta_effect.mean[1]
    assert switch == s.icer[1].value
    below, above = switch * (1 - 1e-6), switch * (1 + 1e-6)
    s = summarise_psa(costs, effects, ["is", "car_t"], 0, [below, above])
    assert s.inmb[0, 1] < 0.0 < s.inmb[1, 1]
    assert ceaf(costs, effects, [below, above])[0].tolist() == [0, 1]


@pytest.mark.parametrize(
    ("names", "comparator", "error", "match"),
    [
        (["a"], 0, ValueError, "2 unique strategy names"),
        (["a", "a"], 0, ValueError, "unique"),
        (["a", "b"], 2, ValueError, r"comparator must be in \[0, 1\]"),
        (["a", "b"], -1, ValueError, "comparator"),
        (["a", "b"], 1.0, TypeError, "comparator must be an integer"),
        (["a", "b"], True, TypeError, "comparator must be an integer"),
    ],
)
def test_summary_rejects_bad_names_and_comparator(names, comparator, error, match):
    with pytest.raises(error, match=match):
        summarise_psa([[1.0, 2.0]], [[1.0, 2.0]], names, comparator, [0.0])


@st.composite
def integer_psa(draw):
    # Integer-valued inputs keep every sum exact, so the laws hold bit for bit.
    shape = draw(psa_shapes.filter(lambda t: t[1] >= 2))
    costs = draw(arrays(float, shape, elements=st.integers(-(10**6), 10**6).map(float)))
    effects = draw(arrays(float, shape, elements=st.integers(-50, 50).map(float)))
    shift = draw(
        arrays(float, (shape[0], 1), elements=st.integers(-(10**6), 10**6).map(float))
    )
    return costs, effects, shift


@settings(max_examples=100, deadline=None)
@given(integer_psa(), arrays(float, 3, elements=st.integers(0, 10**5).map(float)))
def test_adding_a_cost_to_every_strategy_changes_no_decision_quantity(data, wtp):
    costs, effects, shift = data
    names = [f"s{i}" for i in range(costs.shape[1])]
    a = summarise_psa(costs, effects, names, 0, wtp)
    b = summarise_psa(costs + shift, effects, names, 0, wtp)
    assert a.icer == b.icer
    assert np.array_equal(a.inmb, b.inmb)
    assert np.array_equal(a.prob_ce, b.prob_ce)
    assert np.array_equal(evpi(costs, effects, wtp), evpi(costs + shift, effects, wtp))


# --- E1: first- and second-order variance ---------------------------------------


def test_variance_split_hand_values():
    split = variance_split([1.0, 2.0, 3.0], [0.5, 0.5, 0.5], 10)
    assert split == {
        "total": 1.0,
        "first_order": 0.05,
        "second_order": 1.0 - 0.05,
        "share_first": 0.05,
        "warn": False,
    }


def test_variance_split_of_degenerate_psa_is_all_first_order():
    # E1: parameters fixed, so draws differ only by patient noise (var 4).
    rng = np.random.default_rng(20240611)
    k, n = 200, 2000
    patients = rng.exponential(2.0, size=(k, n))
    split = variance_split(patients.mean(axis=1), patients.var(axis=1, ddof=1), n)
    ratio = split["total"] / split["first_order"]
    lo, hi = stats.chi2.ppf([0.0001, 0.9999], k - 1) / (k - 1)
    assert lo < ratio < hi  # about 0.67-1.42 for K = 200
    assert split["share_first"] >= 1.0 / hi
    assert split["warn"] is True


def test_variance_split_of_parameter_driven_psa_is_mostly_second_order():
    rng = np.random.default_rng(20240612)
    k, n = 200, 2000
    theta = rng.normal(0.0, 10.0, size=k)  # parameter spread, variance 100
    patients = theta[:, None] + rng.normal(0.0, 2.0, size=(k, n))
    split = variance_split(patients.mean(axis=1), patients.var(axis=1, ddof=1), n)
    assert split["first_order"] == pytest.approx(4.0 / n, rel=0.05)
    assert split["share_first"] < 0.001
    assert split["warn"] is False
    assert split["second_order"] == split["total"] - split["first_order"]


def test_variance_split_edge_cases():
    assert variance_split([2.0, 2.0], [0.0, 0.0], 5)["share_first"] == 0.0
    noise_only = variance_split([2.0, 2.0], [1.0, 1.0], 5)
    assert noise_only["share_first"] == 1.0 and noise_only["warn"] is True
    assert noise_only["second_order"] == 0.0
    with pytest.raises(ValueError, match="K >= 2"):
        variance_split([1.0], [1.0], 5)
    with pytest.raises(ValueError, match="variances >= 0"):
        variance_split([1.0, 2.0], [1.0, -1.0], 5)
    with pytest.raises(ValueError, match="finite"):
        variance_split([1.0, np.nan], [1.0, 1.0], 5)
    with pytest.raises(ValueError, match="n_patients"):
        variance_split([1.0, 2.0], [1.0, 1.0], 0)
    with pytest.raises(TypeError, match="n_patients"):
        variance_split([1.0, 2.0], [1.0, 1.0], 2.5)
