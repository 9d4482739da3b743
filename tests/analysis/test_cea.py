"""Tests of cartsim.analysis.cea: hand tables and closed forms first, then laws."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cartsim.analysis import cea
from cartsim.analysis.cea import (
    ICER_STATUSES,
    FrontierRow,
    IcerResult,
    MeanEstimate,
    break_even_time,
    compute_icer,
    estimate_mean,
    incremental_analysis,
    incremental_nmb,
    mcse,
    net_monetary_benefit,
    number_needed,
    number_needed_to_harm,
    number_needed_to_treat,
    paired_difference,
)

finite = st.floats(allow_nan=False, allow_infinity=False)


def test_docstring_examples_hold():
    assert doctest.testmod(cea).failed == 0


# --- ICER -------------------------------------------------------------------


def test_kv_ref_hand_table():
    d_cost, d_qaly = 2_470_000 / 9, 3.0  # 274,444.44... and 3.0 QALYs
    res = compute_icer(d_cost, d_qaly)
    assert res.status == "more costly, more effective"
    assert res.value == pytest.approx(274_444.444444444 / 3, rel=1e-9)
    assert round(res.value, 2) == 91_481.48
    assert round(float(incremental_nmb(d_qaly, d_cost, 100_000.0)), 2) == 25_555.56


@pytest.mark.parametrize(
    ("dc", "dq", "expected"),
    [
        (100.0, 2.0, IcerResult(50.0, "more costly, more effective")),
        (-100.0, 2.0, IcerResult(None, "dominant")),
        (0.0, 2.0, IcerResult(None, "dominant")),
        (-0.0, 2.0, IcerResult(None, "dominant")),
        (100.0, -2.0, IcerResult(None, "dominated")),
        (0.0, -2.0, IcerResult(None, "dominated")),
        (-100.0, -2.0, IcerResult(50.0, "less costly, less effective")),
        (100.0, 0.0, IcerResult(None, "undefined")),
        (-100.0, -0.0, IcerResult(None, "undefined")),
        (0.0, 0.0, IcerResult(None, "undefined")),
        (1e308, 1e-300, IcerResult(None, "undefined")),  # ratio overflows
    ],
)
def test_icer_quadrants(dc, dq, expected):
    assert compute_icer(dc, dq) == expected


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
def test_icer_rejects_non_finite(bad):
    with pytest.raises(ValueError, match="finite"):
        compute_icer(bad, 1.0)
    with pytest.raises(ValueError, match="finite"):
        compute_icer(1.0, bad)


@given(finite, finite)
def test_icer_never_inf_or_nan_and_follows_rules(dc, dq):
    res = compute_icer(dc, dq)
    assert res.status in ICER_STATUSES
    if res.value is not None:
        assert math.isfinite(res.value)
        assert res.value >= 0.0
        assert res.value == dc / dq
    if dq == 0.0:
        assert res == IcerResult(None, "undefined")
    elif dq > 0.0 and dc <= 0.0:
        assert res.status == "dominant"
    elif dq < 0.0 and dc >= 0.0:
        assert res.status == "dominated"


big_int = st.integers(-(10**12), 10**12)


@given(big_int, big_int, big_int, finite)
def test_icer_invariant_to_common_cost_shift(c_new, c_ref, k, dq):
    # Integer-valued costs below 2**53 keep the subtraction exact, so the law
    # can be checked with equality rather than a tolerance.
    shifted = compute_icer(float(c_new + k) - float(c_ref + k), dq)
    assert shifted == compute_icer(float(c_new) - float(c_ref), dq)


# --- net monetary benefit -----------------------------------------------------


def test_nmb_shape_rule():
    q = np.array([[1.0, 2.0, 3.0]])
    c = np.array([[10.0], [20.0]])
    wtp = np.array([0.0, 50.0, 100.0, 150.0])
    out = net_monetary_benefit(q, c, wtp)
    assert out.shape == (2, 3, 4)
    assert out[1, 2, 3] == 150.0 * 3.0 - 20.0
    # Scalar or multi-dimensional wtp: plain broadcasting.
    assert net_monetary_benefit(q, c, 10.0).shape == (2, 3)
    assert net_monetary_benefit(q, c, np.ones((1, 1))).shape == (2, 3)
    assert net_monetary_benefit(2.0, 1.0, wtp).shape == (4,)
    assert isinstance(net_monetary_benefit(2.0, 1.0, 3.0), np.ndarray)


@given(
    st.floats(-50, 50, allow_nan=False),
    st.floats(-1e7, 1e7, allow_nan=False),
    st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=20),
)
def test_inmb_is_exactly_linear_in_wtp(dq, dc, wtps):
    w = np.array(wtps)
    np.testing.assert_array_equal(incremental_nmb(dq, dc, w), w * dq - dc)


def test_inmb_decision_switches_at_icer():
    dq, dc = 2.5, 60_000.0
    threshold = compute_icer(dc, dq).value
    assert threshold == 24_000.0
    inmb = incremental_nmb(
        dq, dc, np.array([threshold - 1.0, threshold, threshold + 1.0])
    )
    assert inmb[0] < 0.0
    assert inmb[1] == 0.0
    assert inmb[2] > 0.0


# --- Monte Carlo error ------------------------------------------------------


def test_mcse_known_array_and_small_n():
    x = np.array([2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0])
    expected = np.std(x, ddof=1) / math.sqrt(x.size)
    assert mcse(x) == pytest.approx(expected, rel=1e-12)
    assert mcse([3.0]) is None
    assert mcse([]) is None
    assert mcse([1.0, 1.0]) == 0.0  # estimable and truly zero
    assert estimate_mean([3.0]) == MeanEstimate(3.0, None, 1)
    with pytest.raises(ValueError):
        estimate_mean([])
    with pytest.raises(ValueError):
        mcse([1.0, math.nan])


@given(
    st.lists(st.floats(-1e12, 1e12, allow_nan=False), min_size=1, max_size=50),
    st.randoms(),
)
def test_estimate_mean_is_order_independent(values, rnd):
    shuffled = list(values)
    rnd.shuffle(shuffled)
    a, b = estimate_mean(shuffled), estimate_mean(values)
    # The mean is exactly rounded; the SE (a dot product) only to rounding.
    assert a.mean == b.mean
    assert a.n == b.n
    assert (a.se is None and b.se is None) or a.se == pytest.approx(b.se, rel=1e-12, abs=1e-300)


def test_paired_difference_uses_per_patient_differences():
    rng = np.random.default_rng(20240601)
    base = rng.normal(100.0, 30.0, size=500)
    new = base + rng.normal(5.0, 1.0, size=500)  # strongly correlated arms
    est = paired_difference(new, base)
    d = new - base
    assert est.n == 500
    assert est.mean == pytest.approx(d.mean(), rel=1e-12)
    assert est.se == pytest.approx(d.std(ddof=1) / math.sqrt(d.size), rel=1e-12)
    independent_se = math.hypot(mcse(new), mcse(base))
    assert est.se < independent_se / 10
    with pytest.raises(ValueError):
        paired_difference([1.0, 2.0], [1.0])


# --- incremental analysis (frontier) -------------------------------------------


def _summary(rows):
    return [(r.strategy, r.status, r.icer) for r in rows]


def test_dampack_six_strategy_example():
    rows = incremental_analysis(
        ["E", "D", "C", "B", "A", "UC"],
        [55000, 35000, 25000, 10000, 12000, 5000],
        [5, 4, 3, 2, 1.5, 1],
    )
    assert _summary(rows) == [
        ("UC", "ND", None),
        ("B", "ND", 5000.0),
        ("A", "D", None),
        ("C", "ED", None),
        ("D", "ND", 12500.0),
        ("E", "ND", 20000.0),
    ]
    d_row = rows[4]
    assert d_row == FrontierRow("D", 35000.0, 4.0, 25000.0, 2.0, 12500.0, "ND")
    assert rows[0].inc_cost is None and rows[0].inc_effect is None


def test_two_strategies():
    assert _summary(incremental_analysis(["ref", "new"], [0.0, 100.0], [0.0, 2.0])) == [
        ("ref", "ND", None),
        ("new", "ND", 50.0),
    ]
    assert _summary(incremental_analysis(["ref", "new"], [0.0, 100.0], [1.0, 0.5])) == [
        ("ref", "ND", None),
        ("new", "D", None),
    ]


def test_ties_are_resolved_deterministically():
    rows = incremental_analysis(
        [
            "lo",
            "same_cost_worse",
            "same_cost_better",
            "same_effect_dearer",
            "twin",
            "dup",
        ],
        [0.0, 10.0, 10.0, 20.0, 30.0, 30.0],
        [0.0, 1.0, 2.0, 2.0, 3.0, 3.0],
    )
    assert _summary(rows) == [
        ("lo", "ND", None),
        ("same_cost_better", "ND", 5.0),  # equal cost: higher effect sorts first
        ("same_cost_worse", "D", None),
        ("same_effect_dearer", "D", None),
        ("twin", "ND", 20.0),  # exact duplicates: first in input order stays
        ("dup", "D", None),
    ]
    # Collinear strategies share one ICER and all stay on the frontier.
    line = incremental_analysis(["a", "b", "c"], [0.0, 10.0, 20.0], [0.0, 1.0, 2.0])
    assert _summary(line) == [("a", "ND", None), ("b", "ND", 10.0), ("c", "ND", 10.0)]


def test_incremental_analysis_validates():
    with pytest.raises(ValueError):
        incremental_analysis(["a", "a"], [0.0, 1.0], [0.0, 1.0])
    with pytest.raises(ValueError):
        incremental_analysis(["a", "b"], [0.0], [0.0, 1.0])
    with pytest.raises(ValueError):
        incremental_analysis([], [], [])


small = st.integers(-50, 50)


@given(
    st.lists(st.tuples(small, small), min_size=1, max_size=8, unique=True), st.randoms()
)
def test_frontier_laws(points, rnd):
    # Small integers make exact rational comparisons match float ones.
    names = [f"s{i}" for i in range(len(points))]
    costs = [float(c) for c, _ in points]
    effects = [float(e) for _, e in points]
    rows = incremental_analysis(names, costs, effects)
    nd = [r for r in rows if r.status == "ND"]
    assert [r.cost for r in rows] == sorted(r.cost for r in rows)
    assert nd[0].cost == min(costs)
    icers = [r.icer for r in nd[1:]]
    assert all(i is not None and i > 0 for i in icers)
    assert icers == sorted(icers)  # ICERs never fall along the frontier
    for r in rows:
        if r.status == "D":
            assert any(
                o.cost <= r.cost and o.effect >= r.effect and o is not r for o in rows
            )
        if r.status == "ED":
            lo = max((o for o in nd if o.effect < r.effect), key=lambda o: o.effect)
            hi = min((o for o in nd if o.effect > r.effect), key=lambda o: o.effect)
            on_line = lo.cost * (hi.effect - r.effect) + hi.cost * (
                r.effect - lo.effect
            )
            assert r.cost * (hi.effect - lo.effect) > on_line  # strictly above hull
    # With distinct (cost, effect) points the result ignores input order.
    perm = list(range(len(points)))
    rnd.shuffle(perm)
    again = incremental_analysis(
        [names[i] for i in perm], [costs[i] for i in perm], [effects[i] for i in perm]
    )
    assert {r.strategy: r for r in again} == {r.strategy: r for r in rows}


# --- break-even time -----------------------------------------------------------


T = [0.0, 1.0, 2.0, 3.0, 4.0]
REF = [0.0, 100.0, 200.0, 300.0, 400.0]


def test_break_even_interpolates_between_grid_points():
    new = [150.0, 170.0, 190.0, 210.0, 230.0]  # diff 150, 70, -10, ...
    assert break_even_time(T, new, REF) == pytest.approx(1.0 + 70.0 / 80.0, rel=1e-15)


def test_break_even_exactly_on_grid_point():
    assert break_even_time(T, [50.0, 100.0, 150.0, 200.0, 250.0], REF) == 1.0


def test_break_even_never_and_always():
    assert break_even_time(T, [500.0, 600.0, 700.0, 800.0, 900.0], REF) is None
    assert break_even_time(T, [0.0, 50.0, 60.0, 70.0, 400.0], REF) == 0.0
    # Cheaper until the end, then costlier at the last point: not offset.
    assert break_even_time(T, [0.0, 50.0, 60.0, 70.0, 401.0], REF) is None


def test_break_even_later_crossing_counts():
    # Cheaper at t=1, costlier again at t=2, below for good from t=2.5.
    new = [100.0, 90.0, 250.0, 250.0, 260.0]  # diff 100, -10, 50, -50, -140
    assert break_even_time(T, new, REF) == pytest.approx(2.5, rel=1e-15)


def test_break_even_validates():
    with pytest.raises(ValueError):
        break_even_time([0.0, 2.0, 1.0], [1.0, 1.0, 1.0], [0.0, 0.0, 0.0])
    with pytest.raises(ValueError):
        break_even_time([0.0, 0.0], [1.0, 1.0], [0.0, 0.0])
    with pytest.raises(ValueError):
        break_even_time([0.0, 1.0], [1.0], [0.0, 0.0])
    with pytest.raises(ValueError):
        break_even_time([], [], [])


# --- numbers needed ------------------------------------------------------------


def test_number_needed_hand_values():
    assert number_needed_to_treat(0.9, 0.4) == pytest.approx(2.0, rel=1e-15)
    assert number_needed_to_harm(0.3, 0.05) == pytest.approx(4.0, rel=1e-15)
    assert number_needed(0.4, 0.9) == pytest.approx(2.0, rel=1e-15)
    assert number_needed_to_treat(0.4, 0.9) is None
    assert number_needed_to_treat(0.5, 0.5) is None
    assert number_needed_to_harm(0.05, 0.3) is None
    assert number_needed(0.2, 0.2) is None


@pytest.mark.parametrize("bad", [-0.1, 1.1, math.nan])
def test_number_needed_validates_probabilities(bad):
    for fn in (number_needed, number_needed_to_treat, number_needed_to_harm):
        with pytest.raises(ValueError):
            fn(bad, 0.5)
        with pytest.raises(ValueError):
            fn(0.5, bad)


_FINITE = st.floats(allow_nan=False, allow_infinity=False)


@given(st.lists(_FINITE, max_size=60) | st.lists(
    st.floats(-1e6, 1e6, allow_nan=False) | st.sampled_from([0.0, -0.0, 5e-324, 1e-300]),
    max_size=60))
def test_exact_sum_is_fsum(values):
    """The numpy extraction gives fsum's exactly rounded sum, bit for bit (sign of zero
    included) and in any order, and overflows where fsum does (near the float range
    it is fsum)."""
    x = np.array(values, dtype=float)
    try:
        expected = math.fsum(values)
    except OverflowError:
        with pytest.raises(OverflowError):
            cea._exact_sum(x)
        return
    got = cea._exact_sum(x)
    assert got == expected and math.copysign(1.0, got) == math.copysign(1.0, expected)
    if np.max(np.abs(x), initial=0.0) < 1e300:  # fsum's overflow depends on the order
        assert cea._exact_sum(x[::-1]) == got


def test_exact_sum_of_large_samples_is_fsum():
    """Many values (the extraction keeps fewer bits a pass) over a wide range of scales."""
    rng = np.random.default_rng(7)
    for n in (1, 1000, 100_000):
        x = rng.normal(size=n) * np.exp(rng.normal(size=n) * 20.0)
        assert cea._exact_sum(x) == math.fsum(x.tolist())
        assert cea._exact_sum(rng.permutation(x)) == cea._exact_sum(x)
    spread = np.array([1e300, 1.0, -1e300, 1e-300, 3.0])  # cancellation across 600 decades
    assert cea._exact_sum(spread) == 4.0
