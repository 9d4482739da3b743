"""The deterministic base case beside the PSA means, disagreements said in words."""

import numpy as np
import pytest

from cartsim.analysis.base_vs_psa import compare_base_with_psa


def test_a_different_decision_at_a_wtp_is_named_and_agreement_is_said():
    # Base case: +19,232 for +3.39 QALYs (ICER ~5,669); PSA mean: -105,191 for +3.0.
    base_cost, base_qaly = [1_000_000.0, 1_019_232.0], [10.0, 13.39]
    psa_cost = np.array([[1_000_000.0, 800_000.0], [1_000_000.0, 989_618.0]])
    psa_qaly = np.array([[10.0, 13.0], [10.0, 13.0]])
    (r,) = compare_base_with_psa(base_cost, base_qaly, psa_cost, psa_qaly, ["is", "car_t"], 0,
                                 [1_000.0, 50_000.0])
    assert r.base_inc_cost == 19_232.0 and r.psa_inc_cost == pytest.approx(-105_191.0)
    assert r.verdict.startswith("disagree: incremental cost is +19,232 in the base case but "
                                "-105,191 in the PSA mean (sign differs)")
    assert "at 1,000/QALY the base case rejects car_t and the PSA mean adopts it" in r.verdict
    assert "50,000" not in r.verdict  # both adopt there
    (same,) = compare_base_with_psa(base_cost, base_qaly, psa_cost[:, ::-1] * 0 + [1e6, 1.01e6],
                                    psa_qaly * 0 + [10.0, 13.0], ["is", "car_t"], 0, [50_000.0])
    assert same.verdict.startswith("agree")
