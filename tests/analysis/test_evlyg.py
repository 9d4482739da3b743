"""evLYG and net health benefit: hand values, a law, and a closed-form model run."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cartsim.analysis.evlyg import EVLYG_UTILITY, equal_value_life_years, net_health_benefit
from cartsim.scenario.load import load_scenario
from cartsim.study.run import run

R, MU_NEW, MU_REF, U_NEW, U_REF = 0.03, 0.03, 0.05, 0.70, 0.60

TWO_STATES = f"""\
model = "custom"
[run]
patients = 4000
seed = 11
horizon = "lifetime"
discount = {{ costs = {R}, outcomes = {R}, convention = "continuous" }}
life_table = "none"
wtp = [50000, 100000]
comparator = "old"
currency = "USD"
price_year = 2024
[strategies.old]
start = "alive"
[strategies.old.states.alive]
utility = {U_REF}
cost = {{ drugs = 10000 }}
death = {{ rate = {MU_REF} }}
[strategies.new]
start = "alive"
upfront_cost = {{ product = 100000 }}
[strategies.new.states.alive]
utility = {U_NEW}
cost = {{ drugs = 10000 }}
death = {{ rate = {MU_NEW} }}
"""


def test_known_values_by_hand():
    # Two intervals: the strategy gains 1 and 0.5 discounted life-years at utility 0.7
    # and 0.5, and a loss of 0.1 QALY from an event stays in the QALYs.
    evly = equal_value_life_years(9.9, [4.0, 7.5], [2.8, 4.55], [3.0, 6.0])
    assert evly == pytest.approx(9.9 + 1.0 * (0.851 - 0.7) + 0.5 * (0.851 - 0.5), rel=1e-12)
    # Shorter life in both intervals: evLY is the QALYs.
    assert equal_value_life_years(5.0, [1.0, 2.0], [0.7, 1.4], [1.5, 3.0]) == 5.0
    assert net_health_benefit(2.0, 150_000.0, 100_000.0) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="willingness to pay"):
        net_health_benefit(1.0, 1.0, 0.0)
    with pytest.raises(ValueError, match="differ in length"):
        equal_value_life_years(1.0, [1.0, 2.0], [1.0], [1.0, 2.0])


@given(st.lists(st.floats(0.0, 2.0), min_size=1, max_size=8),
       st.lists(st.floats(0.0, 2.0), min_size=1, max_size=8),
       st.floats(0.1, 0.851))
def test_at_general_population_utility_evly_is_the_qalys(a, b, u):
    """If the strategy lives at 0.851, re-weighting gained years changes nothing; at a
    lower utility evLY is never below the QALYs."""
    k = min(len(a), len(b))
    ly, ref = np.cumsum(a[:k]), np.cumsum(b[:k])
    assert equal_value_life_years(3.0, ly, EVLYG_UTILITY * ly, ref) == pytest.approx(3.0)
    assert equal_value_life_years(3.0, ly, u * ly, ref) >= 3.0


def test_two_state_model_evlyg_closed_form(tmp_path):
    """One alive state per arm with constant death hazards: every interval gains life, so
    evLYG = u LY - u° LY° + (0.851 - u)(LY - LY°), LY = 1/(mu + r); checked at 4 SE of
    the paired per-patient differences; NHB = INMB / wtp exactly."""
    path = tmp_path / "two_states.toml"
    path.write_text(TWO_STATES, encoding="utf-8")
    result = run(load_scenario(path))
    ly_new, ly_ref = 1.0 / (MU_NEW + R), 1.0 / (MU_REF + R)
    truth = U_NEW * ly_new - U_REF * ly_ref + (EVLYG_UTILITY - U_NEW) * (ly_new - ly_ref)
    assert truth == pytest.approx(4.7958, abs=1e-4)
    new, old = result.outcomes["new"].columns, result.outcomes["old"].columns
    paired = (new["qaly"] - old["qaly"]) + (EVLYG_UTILITY - U_NEW) * (new["ly"] - old["ly"])
    se = float(np.std(paired, ddof=1)) / math.sqrt(paired.size)
    rows = {r[0]: dict(zip(result.table("summary").columns, r, strict=True))
            for r in result.table("summary").rows}
    assert abs(rows["new"]["inc_evlyg"] - truth) <= 4 * se
    # Within sampling noise of the per-patient form (the cohort curves cannot cross here).
    assert rows["new"]["inc_evlyg"] == pytest.approx(float(paired.mean()), abs=0.05 * se)
    assert rows["old"]["evly"] == rows["old"]["qaly"]
    assert rows["old"]["inc_evlyg"] is None
    assert rows["new"]["icer_evlyg"] == pytest.approx(rows["new"]["inc_cost"]
                                                      / rows["new"]["inc_evlyg"])
    for key in ("50000", "100000"):
        assert rows["new"][f"nhb_{key}"] == pytest.approx(
            rows["new"][f"inmb_{key}"] / float(key), rel=1e-12)
        assert rows["new"][f"nhb_{key}_mcse"] == pytest.approx(
            rows["new"][f"inmb_{key}_mcse"] / float(key), rel=1e-12)
