"""Payment models: closed forms (instalments, an annuity's present value, a refund under a
constant hazard), hand tables, the scenario's validation and the one-time-therapy rows."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cartsim.analysis.payment import (
    annuity_paid,
    event_times,
    instalment,
    payment_change,
    refund_closed_form,
    refund_received,
    upfront_paid,
    warranty_covered,
)
from cartsim.errors import ScenarioError
from cartsim.scenario.load import load_scenario
from cartsim.scenario.payment import PaymentTerms
from cartsim.study.run import run
from cartsim.study.runner import run_scenario

R = 0.03
LAM = 0.2
REFUND = f"""\
model = "custom"
[run]
patients = 4000
seed = 5
horizon = "lifetime"
discount = {{ costs = {R}, outcomes = {R}, convention = "continuous" }}
life_table = "none"
wtp = [100000]
comparator = "old"
[strategies.old]
start = "alive"
[strategies.old.states.alive]
utility = 0.6
cost = {{ drugs = 10000 }}
death = {{ rate = 0.05 }}
[strategies.new]
start = "alive"
upfront_cost = {{ product = 100000 }}
[strategies.new.states.alive]
utility = 0.7
death = {{ rate = {LAM} }}
[payment.new]
model = "outcome_refund"
share = 0.5
within_years = 2
on = ["death"]
"""


def test_instalment_repays_the_price_at_its_own_rate():
    # A = P i / (1 - (1 + i)^-N): 100,000 over 5 years at 3% is 21,835.46 a year.
    assert instalment(100_000.0, 5, 0.03) == pytest.approx(21_835.457, abs=1e-3)
    assert instalment(90_000.0, 3, 0.0) == 30_000.0
    with pytest.raises(ValueError, match="at least one"):
        instalment(1.0, 0, 0.03)


@given(st.integers(1, 30), st.floats(0.0, 0.15), st.floats(0.0, 5.0))
def test_annuity_at_the_payers_discount_rate_is_worth_the_price(years, rate, t):
    """Discounted at r = ln(1 + i), the instalments' value at the charge is the price."""
    paid = annuity_paid([250_000.0], [t], [math.inf], years, rate, math.log1p(rate))
    assert paid[0] == pytest.approx(250_000.0 * math.exp(-math.log1p(rate) * t), rel=1e-9)


def test_annuity_present_value_by_hand_and_stopping():
    # Financed at 5%, discounted at 3% (continuous ln 1.03): A (v + v^2 + v^3), v = 1/1.03.
    a, v = instalment(100.0, 3, 0.05), 1 / 1.03
    full = annuity_paid([100.0], [0.0], [math.inf], 3, 0.05, math.log(1.03))[0]
    assert full == pytest.approx(a * (v + v**2 + v**3), rel=1e-12)
    # Stopped at 2.5 years: two instalments; never charged: nothing.
    two = annuity_paid([100.0, 100.0], [0.0, math.inf], [2.5, math.inf], 3, 0.05,
                       math.log(1.03))
    assert two.tolist() == pytest.approx([a * (v + v**2), 0.0], rel=1e-12)


def test_refund_and_warranty_by_hand():
    got = refund_received([100.0] * 4, [0.5, 0.5, 0.5, math.inf], [2.5, 2.6, 0.4, 1.0],
                          0.5, 2.0, 0.0)
    assert got.tolist() == [50.0, 0.0, 0.0, 0.0]   # in the window, after it, before, never
    assert upfront_paid([100.0, 100.0], [1.0, math.inf], 0.1).tolist() == \
        pytest.approx([100 * math.exp(-0.1), 0.0])
    assert warranty_covered([7.0, 7.0], [0.1, 0.1], [5.1, 5.2], 5.0).tolist() == [7.0, 0.0]


def test_refund_under_a_constant_hazard_matches_the_closed_form(tmp_path):
    """Product charged at 0, death at hazard λ: E[refund] = s P λ/(λ+r)(1 - e^{-(λ+r)W}),
    at 4 SE; the table's payment row moves inc_cost by exactly the mean change."""
    path = tmp_path / "refund.toml"
    path.write_text(REFUND, encoding="utf-8")
    scenario = load_scenario(path)
    result = run(scenario)
    cols = result.outcomes["new"].columns
    terms = scenario.payment["new"][0]
    change, linear = payment_change(terms, cols, R)
    assert linear
    truth = refund_closed_form(100_000.0, 0.5, LAM, 2.0, R)
    assert truth == pytest.approx(16_031.146, abs=1e-3)
    se = float(np.std(change, ddof=1)) / math.sqrt(change.size)
    assert abs(-float(change.mean()) - truth) <= 4 * se
    np.testing.assert_allclose(upfront_paid(cols["cost_product_undisc"],
                                            event_times(cols)["product"], R),
                               cols["cost_product"], rtol=1e-12)
    table = result.table("one_time_therapy")
    rows = {(r[table.columns.index("variant")], r[table.columns.index("payment")]):
            dict(zip(table.columns, r, strict=True)) for r in table.rows}
    up, refund = rows["standard", "upfront"], rows["standard", "outcome_refund"]
    assert refund["inc_cost"] - up["inc_cost"] == pytest.approx(float(change.mean()), rel=1e-9)
    assert refund["payer_therapy_cost"] - up["payer_therapy_cost"] == \
        pytest.approx(float(change.mean()), rel=1e-9)
    # The value-based price under the refund makes the payer's INMB zero.
    vbp, units = refund["value_based_price_100000"], refund["product_units"]
    assert refund["inmb_100000"] - (vbp - 100_000.0) * units == pytest.approx(0.0, abs=1e-6)


def test_annuity_value_based_price_holds_when_the_price_is_set_to_it(tmp_path, write_toml):
    """Payments are linear in the price: rerun at the annuity's value-based price (same
    seed, same patients) and the annuity row's INMB is 0."""
    text = REFUND.replace('model = "outcome_refund"\nshare = 0.5\nwithin_years = 2\n'
                          'on = ["death"]', 'model = "annuity"\nyears = 4\nrate = 0.05')
    text = text.replace(f"rate = {LAM} }}", "rate = 0.03 }")
    path = write_toml(text, "annuity.toml")

    def annuity_row(overrides: tuple[str, ...]) -> dict[str, object]:
        t = run(load_scenario(path, overrides), patients=500).table("one_time_therapy")
        return next(dict(zip(t.columns, r, strict=True)) for r in t.rows
                    if r[t.columns.index("payment")] == "annuity")

    vbp = annuity_row(())["value_based_price_100000"]
    again = annuity_row((f"strategies.new.upfront_cost.product={vbp!r}",))
    assert again["inmb_100000"] == pytest.approx(0.0, abs=1e-6 * vbp)


def test_first_charge_and_relapse_times_on_the_clinical_model():
    result = run_scenario(load_scenario("scenarios/payment_models.toml"), patients=300, seed=3,
                          curves=False, keep_logs=False)
    ref_engine = run_scenario(load_scenario("scenarios/payment_models.toml"), patients=300,
                              seed=3, curves=False, keep_logs=False, engine="simpy")
    for name in ("t_product", "t_retreatment", "t_relapse"):  # both engines, the same times
        for s in ("car_t", "immunosuppression"):
            np.testing.assert_allclose(result.outcomes[s].columns[name],
                                       ref_engine.outcomes[s].columns[name], rtol=1e-12)
    cols = result.outcomes["car_t"].columns
    times = event_times(cols)
    assert np.array_equal(np.isfinite(times["product"]), cols["n_infusion"] > 0)
    assert np.array_equal(np.isfinite(times["retreatment"]), cols["n_reinfusion"] > 0)
    assert np.array_equal(np.isfinite(times["relapse"]), cols["n_relapse"] > 0)
    relapsed = cols["n_relapse"] > 0
    assert np.all(cols["t_relapse"][relapsed] > cols["t_product"][relapsed] + 0.0)
    assert np.all(cols["t_relapse"][~relapsed] == 0.0)   # none: 0 (columns stay >= 0)
    ref = result.outcomes["immunosuppression"].columns
    assert not np.isfinite(event_times(ref)["product"]).any()


def test_every_bad_payment_setting_is_reported_at_once(tmp_path, write_toml):
    text = REFUND.replace('[payment.new]\nmodel = "outcome_refund"\nshare = 0.5\n'
                          'within_years = 2\non = ["death"]\n', """\
[payment.old]
model = "annuity"
years = 5
[payment.nwe]
model = "annuity"
[[payment.new]]
model = "outcome_refund"
share = 1.5
on = ["relapse", "cure"]
[[payment.new]]
model = "annuity"
years = 0
rate = 3
within_years = 2
[[payment.new]]
model = "lease"
""")
    with pytest.raises(ScenarioError) as err:
        load_scenario(write_toml(text, "bad.toml"))
    paths = {p.path for p in err.value.problems}
    assert {"payment.old", "payment.nwe", "payment.new[0].share",
            "payment.new[0].within_years", "payment.new[0].on[1]", "payment.new[1].years",
            "payment.new[1].rate", "payment.new[1].within_years",
            "payment.new[2].model"} <= paths


def test_shipped_payment_scenario_has_every_model():
    scenario = load_scenario("scenarios/payment_models.toml")
    assert [t.model for t in scenario.payment["car_t"]] == \
        ["annuity", "outcome_refund", "warranty"]
    assert PaymentTerms("upfront").describe() == "the price paid at infusion"
