"""The analysis functions with three or more strategies: frontier with strong and
extended dominance, CEAC and EVPI against hand tables, the PSA summary against a
comparator that is not the first column, EVPPI's exact cases and bounds, and the base
case vs PSA check when the best of several strategies differs.

(CEAC and EVPI are also property-tested against slow oracles for up to four
strategies in test_psa.py; the frontier on dampack's six strategies in test_cea.py.)
"""

from __future__ import annotations

import numpy as np
import pytest

from cartsim.analysis.base_vs_psa import compare_base_with_psa
from cartsim.analysis.cea import incremental_analysis
from cartsim.analysis.psa import ceac, ceaf, evpi, expected_loss, summarise_psa
from cartsim.analysis.voi import evppi, evppi_by_parameter


def test_frontier_of_three_with_a_dominated_comparator():
    """Conventional therapy costs most and gains least: dominated; the other two are
    on the frontier, the dearer one with ICER = delta cost / delta QALY (hand values)."""
    rows = incremental_analysis(["immunosuppression", "car_t", "ahsct"],
                                [1_042_210.0, 891_349.0, 593_877.0], [9.426, 12.214, 11.400])
    got = {r.strategy: (r.status, r.icer) for r in rows}
    assert [r.strategy for r in rows] == ["ahsct", "car_t", "immunosuppression"]
    assert got["immunosuppression"] == ("D", None)
    assert got["ahsct"] == ("ND", None)
    assert got["car_t"][0] == "ND"
    assert got["car_t"][1] == pytest.approx((891_349.0 - 593_877.0) / (12.214 - 11.400),
                                             rel=1e-12)


def test_frontier_of_three_with_extended_dominance():
    """B's ICER against A (25) exceeds C's against B (15): B is extendedly dominated,
    and C is then compared with A (ICER 20)."""
    rows = {r.strategy: r for r in incremental_analysis(["A", "B", "C"], [0.0, 25.0, 40.0],
                                                        [0.0, 1.0, 2.0])}
    assert rows["B"].status == "ED" and rows["B"].icer is None
    assert rows["C"].status == "ND" and rows["C"].icer == 20.0
    assert rows["C"].inc_cost == 40.0 and rows["C"].inc_effect == 2.0


COSTS = np.array([[0.0, 10.0, 25.0],
                  [0.0, 30.0, 5.0],
                  [0.0, -5.0, 50.0],
                  [0.0, 20.0, 20.0]])
EFFECTS = np.array([[0.0, 0.001, 0.002],
                    [0.0, 0.0, 0.001],
                    [0.0, 0.0, 0.0],
                    [0.0, 0.0005, 0.0001]])


def test_ceac_ceaf_and_evpi_of_three_strategies_match_hand_tables():
    """NB at 10,000/QALY, by draw: (0, 0, -5), (0, -30, 5), (0, 5, -50), (0, -15, -19).
    Best: 0 (tie 0/1 goes to the first), 2, 1, 0 -> CEAC (1/2, 1/4, 1/4). Mean NB:
    (0, -10, -17.25): CEAF picks strategy 0. EVPI = E[max] - max E = (0+5+5+0)/4 - 0.
    At 0/QALY (NB = -cost) the cheapest wins: 0, 0, 1, 0; EVPI (0+0+5+0)/4."""
    wtp = [0.0, 10_000.0]
    p = ceac(COSTS, EFFECTS, wtp)
    assert p.tolist() == [[0.75, 0.25, 0.0], [0.5, 0.25, 0.25]]
    best, prob = ceaf(COSTS, EFFECTS, wtp)
    assert best.tolist() == [0, 0] and prob.tolist() == [0.75, 0.5]
    assert evpi(COSTS, EFFECTS, wtp).tolist() == pytest.approx([1.25, 2.5], rel=1e-12)
    assert expected_loss(COSTS, EFFECTS, [10_000.0])[0].tolist() == pytest.approx(
        [2.5, 12.5, 19.75], rel=1e-12)


def test_psa_summary_against_a_comparator_in_the_middle():
    """Comparator = column 1: increments, ICERs and INMB are against it, the CEAC gives
    ties to it, and it has no ICER of its own."""
    costs = np.array([[100.0, 0.0, 50.0], [120.0, 0.0, 30.0]])
    effects = np.array([[1.0, 0.0, 0.5], [1.2, 0.0, 0.5]])
    s = summarise_psa(costs, effects, ["a", "ref", "c"], 1, [100.0, 1000.0])
    assert s.icer[1] is None
    assert s.icer[0].value == pytest.approx(110.0 / 1.1) and s.icer[2].value == 80.0
    assert s.inmb[:, 1].tolist() == [0.0, 0.0]
    assert s.inmb[0].tolist() == pytest.approx([100 * 1.1 - 110.0, 0.0, 100 * 0.5 - 40.0])
    assert s.prob_ce.sum(axis=1).tolist() == pytest.approx([1.0, 1.0])
    # At 100/QALY every NB is 0 in draw 1 (the tie goes to "ref"); c wins draw 2.
    assert s.prob_ce[0].tolist() == [0.0, 0.5, 0.5]


def linear_three(k: int = 1500):
    """Three strategies whose INBs against the first are linear in x at every WTP."""
    x = np.random.default_rng(3).normal(size=k)
    costs = np.column_stack([np.zeros(k), 100.0 * x + 50.0, -80.0 * x + 30.0])
    effects = np.column_stack([np.zeros(k), 0.01 * x, 0.005 - 0.004 * x])
    return costs, effects, x


def test_evppi_of_three_strategies_equals_evpi_when_every_inb_is_linear_in_the_parameter():
    costs, effects, x = linear_three()
    wtp = [0.0, 20_000.0, 80_000.0]
    perfect = evpi(costs, effects, wtp)
    assert np.all(perfect > 0.0)
    np.testing.assert_allclose(evppi(costs, effects, wtp, x), perfect, rtol=1e-9)
    # Which strategy is the reference of the regression does not matter here.
    order = [2, 0, 1]
    np.testing.assert_allclose(evppi(costs[:, order], effects[:, order], wtp, x), perfect,
                               rtol=1e-9)


def test_evppi_of_three_strategies_is_zero_for_a_parameter_that_never_changes_the_decision():
    costs, effects, x = linear_three()
    noise = np.random.default_rng(4).normal(size=x.size)
    res = evppi_by_parameter(costs, effects, [20_000.0], {"x": x, "unrelated": 1e-3 * noise})
    assert res["x"][0] > 0.0
    shifted = costs + 1e6 * np.array([0.0, 1.0, 1.0])  # strategy 0 always best
    assert evppi(shifted, effects, [20_000.0], x).tolist() == [0.0]


def test_evppi_of_three_strategies_lies_between_zero_and_evpi():
    rng = np.random.default_rng(12)
    k = 400
    x, y = rng.normal(size=k), rng.normal(size=k)
    costs = np.column_stack([np.zeros(k), 40.0 * np.sin(x) + 20 * y, 30.0 * x ** 2 - 25.0])
    effects = np.zeros((k, 3))
    perfect = evpi(costs, effects, [0.0])
    for inputs in (x, y, np.column_stack([x, y])):
        value = evppi(costs, effects, [0.0], inputs)
        assert 0.0 <= value[0] <= perfect[0]


def test_base_vs_psa_says_when_the_best_of_three_strategies_differs():
    """Each strategy agrees with the comparator pairwise (both adopted in both), but the
    base case's best is b and the PSA mean's is a; with two strategies nothing is added."""
    out = compare_base_with_psa([0.0, 100.0, 200.0], [0.0, 1.0, 2.0],
                                np.array([[0.0, 100.0, 215.0]]),
                                np.array([[0.0, 1.0, 2.0]]), ["is", "a", "b"], 0, [110.0])
    text = "at 110/QALY the base case's best strategy is b and the PSA mean's is a"
    assert all(r.verdict == f"disagree: {text}" for r in out)
    (two,) = compare_base_with_psa([0.0, 100.0], [0.0, 1.0], np.array([[0.0, 100.0]]),
                                   np.array([[0.0, 1.0]]), ["is", "a"], 0, [110.0])
    assert two.verdict.startswith("agree")
