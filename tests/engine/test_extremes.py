"""Battery B of VERIFICATION.md: extreme values of KV-REF and of the engine's inputs.

Exact checks use == or rel 1e-9; statistical ones 4 SE (§2.2), with the
closed forms of §3 (KV-REF and its variant rows).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from cartsim.analysis.cea import compute_icer
from cartsim.vocabulary import COST_CATEGORIES

RELAPSE = "strategies.cart.states.remission.transitions.relapse.rate"
R = 0.035


def cost_columns(columns) -> list[str]:
    return [c for c in columns if c.startswith("cost")]


def test_zero_relapse_rate_gives_the_no_relapse_closed_form(kv):
    """B1: λ = 0: CAR-T QALY = 0.85/(μ_R+r) = 17.0 and cost = C0 + 2000/(μ_R+r) = 390,000
    (analytic SDs 0.85·s and 2000·s, s = sqrt(μ_R/((μ_R+r)²(μ_R+2r)))); no relapse in the
    trace; the IS arm is bit-identical to the λ = 0.1 run."""
    res = kv.run(kv.KV_REF, [f"{RELAPSE}=0.0"])
    base = kv.run(kv.KV_REF)
    cf = kv.closed_form(lam=0.0)
    assert cf["cart_qaly"] == pytest.approx(17.0, rel=1e-12)
    assert cf["cart_cost"] == pytest.approx(390000.0, rel=1e-12)
    cart = res.outcomes["cart"].columns
    assert np.all(cart["n_relapse"] == 0)
    assert kv.event_rows(res.logs["cart"], "relapse")[0].size == 0
    log = res.logs["cart"]
    assert {log.state_names[s] for s in log.sojourn_state} == {"remission"}
    for name, values in base.outcomes["immunosuppression"].columns.items():
        np.testing.assert_array_equal(res.outcomes["immunosuppression"][name], values,
                                      err_msg=name)
    s = kv.kv0_sd(0.015, R)
    kv.assert_within([
        kv.mean_check("CAR-T QALY", cart["qaly"], cf["cart_qaly"], 0.85 * s),
        kv.mean_check("CAR-T cost", cart["cost"], cf["cart_cost"], 2000 * s),
        kv.mean_check("dQ (9.0)", cart["qaly"] - res.outcomes["immunosuppression"]["qaly"],
                      cf["d_qaly"]),
    ])


def test_immediate_relapse_collapses_cart_onto_immunosuppression(kv):
    """B2: λ = 1e6: every CAR-T patient relapses first (before any other event); CAR-T
    QALY = 8.0 (closed form at λ = 1e6) at 4 SE; ΔQ and ΔC equal the closed form
    (ΔQ ≈ 4.5e-7, ΔC ≈ 350,000) at 4 paired SE; and since post-relapse death reuses the
    death budget, each patient's ΔC is C0 up to the cost of the relapse time τ_i:
    |ΔC_i − C0| ≤ 40,000·τ_i and |ΔQ_i| ≤ 2·τ_i."""
    lam = 1e6
    res = kv.run(kv.KV_REF, [f"{RELAPSE}={lam!r}"])
    cf = kv.closed_form(lam=lam)
    cart, is_ = res.outcomes["cart"].columns, res.outcomes["immunosuppression"].columns
    log = res.logs["cart"]
    n = log.n_patients
    assert np.all(cart["n_relapse"] == 1)
    # The first event after "start" is the relapse, for everyone.
    names = np.asarray(log.event_names)[log.event_code]
    first_after_start = np.r_[True, log.event_patient[1:] != log.event_patient[:-1]]
    assert np.all(names[first_after_start] == "start")
    second = np.flatnonzero(first_after_start) + 1
    assert np.all(names[second] == "relapse")
    tau = np.empty(n)
    tau[log.event_patient[second]] = log.event_time[second]
    d_cost, d_qaly = cart["cost"] - is_["cost"], cart["qaly"] - is_["qaly"]
    assert np.all(np.abs(d_cost - 350000.0) <= 40000.0 * tau + 1e-6)
    assert np.all(np.abs(d_qaly) <= 2.0 * tau + 1e-9)
    assert cf["cart_qaly"] == pytest.approx(8.0, abs=1e-6)
    assert cf["d_cost"] == pytest.approx(350000.0, abs=0.1)
    kv.assert_within([
        kv.mean_check("CAR-T QALY", cart["qaly"], cf["cart_qaly"]),
        kv.mean_check("dQ", d_qaly, cf["d_qaly"]),
        kv.mean_check("dC", d_cost, cf["d_cost"]),
    ])


def test_zero_costs_give_exact_zero_costs_and_a_dominant_icer(kv):
    """B3: every cost (C0, state costs, AE costs) = 0: every cost column is exactly 0.0
    in both arms, ΔC = 0, no NaN/inf, and with ΔQ ≈ 3 > 0 compute_icer says "dominant"."""
    overrides = [
        "strategies.cart.upfront_cost.product=0",
        "strategies.cart.states.remission.cost.monitoring=0",
        "strategies.cart.states.on_is.cost.drugs=0",
        "strategies.immunosuppression.states.on_is.cost.drugs=0",
        "strategies.cart.events.crs.cost.adverse_events=0",
    ]
    res = kv.run(kv.KV_REF_AE, overrides, patients=kv.N_EXACT)
    for strategy, out in res.outcomes.items():
        names = cost_columns(out.columns)
        assert len(names) == 2 * len(COST_CATEGORIES) + 2
        for name in names:
            assert np.all(out[name] == 0.0), f"{strategy}.{name}"
        for name, values in out.columns.items():
            assert np.all(np.isfinite(values)), f"{strategy}.{name}"
    new, ref = res.outcomes["cart"], res.outcomes["immunosuppression"]
    d_cost = float(np.mean(new["cost"] - ref["cost"]))
    d_qaly = float(np.mean(new["qaly"] - ref["qaly"]))
    assert d_cost == 0.0
    assert d_qaly > 0
    assert compute_icer(d_cost, d_qaly).status == "dominant"
    assert compute_icer(d_cost, d_qaly).value is None


def test_unit_utilities_make_qalys_equal_life_years(kv):
    """B4: every utility = 1 and no QALY loss: per patient disc QALY == disc LY and
    undisc QALY == undisc LY, exactly."""
    overrides = [
        "strategies.cart.states.remission.utility=1",
        "strategies.cart.states.on_is.utility=1",
        "strategies.immunosuppression.states.on_is.utility=1",
        "strategies.cart.events.crs.qaly_loss=0",
    ]
    res = kv.run(kv.KV_REF_AE, overrides, patients=kv.N_EXACT)
    for out in res.outcomes.values():
        np.testing.assert_array_equal(out["qaly"], out["ly"])
        np.testing.assert_array_equal(out["qaly_undisc"], out["ly_undisc"])


def test_zero_discount_rate_makes_discounted_equal_undiscounted(kv):
    """B5: r = 0: per patient every discounted output == its undiscounted twin, exactly;
    means match the r = 0 row (IS 15.0 / 500,000 / LY 25, analytic SDs 0.6/μ, 20000/μ,
    1/μ; CAR-T 20.4348 / 802,173.91 / LY 30.4348 with sample SDs)."""
    res = kv.run(kv.KV_REF, ["run.discount.costs=0.0", "run.discount.outcomes=0.0"])
    cf = kv.closed_form(r=0.0)
    assert cf["is_qaly"] == pytest.approx(15.0)
    assert cf["cart_qaly"] == pytest.approx(20.4348, abs=1e-4)
    assert cf["cart_cost"] == pytest.approx(802173.91, abs=0.01)
    assert cf["cart_ly"] == pytest.approx(30.4348, abs=1e-4)
    for out in res.outcomes.values():
        for name, values in out.columns.items():
            if name.endswith("_undisc"):
                np.testing.assert_array_equal(out[name.removesuffix("_undisc")], values,
                                              err_msg=name)
        np.testing.assert_array_equal(out["remission_years"], out["remission_years_disc"])
    ci, cc = res.outcomes["immunosuppression"].columns, res.outcomes["cart"].columns
    kv.assert_within([
        kv.mean_check("IS QALY", ci["qaly"], cf["is_qaly"], 0.6 / 0.04),
        kv.mean_check("IS cost", ci["cost"], cf["is_cost"], 20000 / 0.04),
        kv.mean_check("IS LY", ci["ly"], cf["is_ly"], 1 / 0.04),
        kv.mean_check("CAR-T QALY", cc["qaly"], cf["cart_qaly"]),
        kv.mean_check("CAR-T cost", cc["cost"], cf["cart_cost"]),
        kv.mean_check("CAR-T LY", cc["ly"], cf["cart_ly"]),
    ])


def test_identical_strategies_have_exactly_zero_increments(kv):
    """B6: a second strategy that copies the first (same states, transition names and
    values): ΔC = ΔQ = ΔLY = 0 exactly for every patient, and every column is equal."""
    cart = kv.KV_REF.split("[strategies.cart]", 1)[1]
    text = kv.KV_REF + "\n[strategies.cart_copy]" + cart.replace("strategies.cart.",
                                                                "strategies.cart_copy.")
    res = kv.run(text, patients=kv.N_EXACT)
    a, b = res.outcomes["cart"].columns, res.outcomes["cart_copy"].columns
    for name in ("cost", "qaly", "ly"):
        assert np.all(a[name] - b[name] == 0.0), name
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    assert compute_icer(float(np.mean(a["cost"] - b["cost"])),
                        float(np.mean(a["qaly"] - b["qaly"]))).status == "undefined"


NO_DEATH = """
model = "custom"
[run]
horizon = 20
discount = { costs = 0.035, outcomes = 0.035, convention = "continuous" }
life_table = "none"
[strategies.immortal]
start = "alive"
[strategies.immortal.states.alive]
utility = 0.5
cost = { drugs = 1000 }
"""


def test_no_death_over_twenty_years_gives_the_annuity(kv):
    """B7: no death hazard, H = 20: LY = 20 and disc LY = (1 − e^{−0.035·20})/0.035 for
    every patient (rel 1e-9); nobody dies; cost and QALY are the matching annuities."""
    col = kv.run(NO_DEATH, patients=100).outcomes["immortal"].columns
    annuity = -math.expm1(-R * 20) / R
    np.testing.assert_array_equal(col["ly_undisc"], np.full(100, 20.0))
    np.testing.assert_allclose(col["ly"], annuity, rtol=1e-9)
    np.testing.assert_allclose(col["qaly"], 0.5 * annuity, rtol=1e-9)
    np.testing.assert_allclose(col["cost"], 1000 * annuity, rtol=1e-9)
    assert np.all(col["died"] == 0)
    assert np.all(col["end_time"] == 20.0)


def test_zero_horizon_accrues_nothing(kv):
    """B8: H = 0: the model interval [0, H) is empty (README: nothing happens at or after
    H), so no event is recorded, not even "start": QALYs, LYs and every cost, including
    the upfront cost C0, are 0; nobody dies; everyone ends at 0."""
    res = kv.run(kv.KV_REF_AE, ["run.horizon=0"], patients=50)
    for out in res.outcomes.values():
        for name, values in out.columns.items():
            if name != "cause":
                assert np.all(values == 0), name
        assert np.all(out["cause"] == -1)
    for log in res.logs.values():
        assert log.event_patient.size == 0
        assert log.sojourn_patient.size == 0


def test_zero_horizon_outcome_columns_stay_floating_point(kv):
    """B8 (types): money, QALY and LY columns are float64 whatever the horizon, as they
    are for H > 0 (an int column would print as "0" instead of "0.0")."""
    res = kv.run(kv.KV_REF_AE, ["run.horizon=0"], patients=50)
    ref = kv.run(kv.KV_REF_AE, ["run.horizon=1"], patients=50)
    for strategy, out in res.outcomes.items():
        for name, values in out.columns.items():
            assert values.dtype == ref.outcomes[strategy][name].dtype, name


LIFE_TABLE = """
model = "custom"
[run]
horizon = "lifetime"
life_table = "us_ssa_2025"
[cohort]
age = { dist = "normal", mean = 60, sd = 15, min = 18, max = 100 }
female = 0.5
[strategies.general]
start = "alive"
[strategies.general.states.alive]
utility = 0.8
death = { life_table = 1.0 }
[strategies.sicker]
start = "alive"
[strategies.sicker.states.alive]
utility = 0.8
death = { life_table = 2.0, rate = 0.01 }
"""


def test_life_table_lifetime_horizon_ends_everyone_by_age_120(kv):
    """B9: with the US SSA 2025 life table and a lifetime horizon everyone dies; the age
    at death never exceeds 120 (the table's last age + 1); nobody is censored; the
    sicker strategy (2 × table + 0.01) dies no later than the general one per patient."""
    res = kv.run(LIFE_TABLE, patients=kv.N_EXACT)
    age = res.cohort.age
    for out in res.outcomes.values():
        assert np.all(out["died"] == 1)
        assert np.all(out["cause"] >= 0)
        assert np.all(age + out["end_time"] <= 120.0 + 1e-9)
        assert np.all(out["end_time"] > 0)
    assert np.all(res.outcomes["sicker"]["end_time"] <= res.outcomes["general"]["end_time"])


def test_single_patient_runs(kv):
    """B10: one patient runs, gives finite outputs and is patient 0 of a larger run."""
    one = kv.run(kv.KV_REF_AE, patients=1)
    many = kv.run(kv.KV_REF_AE, patients=kv.N_EXACT)
    for strategy, out in one.outcomes.items():
        assert out.n == 1
        for name, values in out.columns.items():
            assert values.shape == (1,)
            assert np.all(np.isfinite(values)), name
            assert values[0] == many.outcomes[strategy][name][0], name


EXTREME = """
model = "custom"
[run]
horizon = 10000
life_table = "none"
[strategies.fast]
start = "a"
upfront_cost = 1e12
[strategies.fast.states.a]
utility = 1
cost = 1e12
death = { rate = 1e-12 }
[strategies.fast.states.a.transitions.go]
to = "b"
rate = 1e6
cost = 1e12
[strategies.fast.states.b]
utility = 0.5
cost = { drugs = 1e12 }
death = { rate = 1e-12 }
[strategies.slow]
start = "a"
[strategies.slow.states.a]
utility = 1
cost = 1e12
death = { rate = 1e6 }
[strategies.slow.events.death]
cost = 1e12
qaly_loss = 1e-12
"""


@pytest.mark.parametrize("horizon", ["10000", '"lifetime"'])
def test_extreme_rates_costs_and_horizon_stay_finite_and_non_negative(kv, horizon):
    """B11: rates 1e6 and 1e-12, costs 1e12, horizon 1e4 (and lifetime): every output is
    finite, costs and LYs are non-negative, and disc ≤ undisc."""
    res = kv.run(EXTREME, [f"run.horizon={horizon}"], patients=200)
    for strategy, out in res.outcomes.items():
        for name, values in out.columns.items():
            assert np.all(np.isfinite(values)), f"{strategy}.{name}"
            if name != "cause" and name != "qaly" and name != "qaly_undisc":
                assert np.all(values >= 0), f"{strategy}.{name}"
        for name in ("cost", "ly"):
            assert np.all(out[name] <= out[f"{name}_undisc"] * (1 + 1e-12)), name
    fast = res.outcomes["fast"]
    assert np.all(fast["n_go"] == 1)
    assert np.all(fast["qaly"] > 0)
    if horizon == "10000":
        assert np.all(fast["end_time"] <= 1e4)
