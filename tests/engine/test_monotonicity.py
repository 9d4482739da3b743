"""Battery C of VERIFICATION.md: monotonicity and invariance under CRN.

Because every draw is an inverse CDF of a uniform keyed by (patient, purpose),
changing one input moves each patient's outcome in a known direction; these
are per-patient exact checks, plus a few means at 4 SE (§2.2).
"""

from __future__ import annotations

import math

import numpy as np

RELAPSE = "strategies.cart.states.remission.transitions.relapse.rate"
P_CRS = "strategies.cart.chances.infusion.outcomes.crs.probability"
P_TRM = "strategies.cart.chances.infusion.outcomes.trm.probability"
R = 0.035


def assert_same_columns(a, b, skip=()) -> None:
    assert set(a.columns) == set(b.columns)
    for name in a.columns:
        if name not in skip:
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_upfront_price_shift_moves_every_cost_by_exactly_the_shift(kv):
    """C1: C0 350,000 → 400,000 (at t = 0, undiscounted): each CAR-T patient's cost and
    undiscounted cost rise by exactly 50,000 (rel 1e-9), QALYs, LYs and every event count
    are bit-identical, and the IS arm is untouched."""
    base = kv.run(kv.KV_REF, patients=kv.N_EXACT)
    dear = kv.run(kv.KV_REF, ["strategies.cart.upfront_cost.product=400000"],
                  patients=kv.N_EXACT)
    a, b = dear.outcomes["cart"], base.outcomes["cart"]
    for name in ("cost", "cost_undisc"):
        np.testing.assert_allclose(a[name] - b[name], 50000.0, rtol=1e-9)
    np.testing.assert_array_equal(a["cost_product"], np.full(a.n, 400000.0))
    assert_same_columns(a, b, skip={"cost", "cost_undisc", "cost_product",
                                    "cost_product_undisc"})
    assert_same_columns(dear.outcomes["immunosuppression"], base.outcomes["immunosuppression"])


def test_higher_relapse_rate_brings_every_relapse_forward(kv):
    """C2: λ 0.10 → 0.15: relapse time E/λ falls for every patient (everyone who relapsed
    still relapses, no later than before); IS arm bit-identical; CAR-T QALY per patient
    non-increasing and its mean falls with paired z < −4 (closed form: 11.0 → 10.25)."""
    n = 5000
    old = kv.run(kv.KV_REF, patients=n)
    new = kv.run(kv.KV_REF, [f"{RELAPSE}=0.15"], patients=n)
    p_old, t_old = kv.event_rows(old.logs["cart"], "relapse")
    p_new, t_new = kv.event_rows(new.logs["cart"], "relapse")
    assert np.all(np.bincount(p_old, minlength=n) <= 1)
    assert np.all(np.bincount(p_new, minlength=n) <= 1)
    t_new_by_patient = np.full(n, np.inf)
    t_new_by_patient[p_new] = t_new
    assert np.all(t_new_by_patient[p_old] <= t_old)
    assert p_new.size > p_old.size
    assert_same_columns(new.outcomes["immunosuppression"], old.outcomes["immunosuppression"])
    diff = new.outcomes["cart"]["qaly"] - old.outcomes["cart"]["qaly"]
    assert np.all(diff <= 1e-9)
    z = diff.mean() / (diff.std(ddof=1) / math.sqrt(n))
    assert z < -kv.Z, f"mean CAR-T QALY change {diff.mean():.4f}, z = {z:.1f}"


def test_immunosuppression_cost_rate_scales_costs_exactly(kv):
    """C3: IS drug cost 20,000 → 30,000/yr: every IS-arm patient's disc and undisc cost is
    exactly 1.5 × the old one (rel 1e-9); QALYs and the CAR-T arm are unchanged."""
    base = kv.run(kv.KV_REF, patients=kv.N_EXACT)
    dear = kv.run(kv.KV_REF, ["strategies.immunosuppression.states.on_is.cost.drugs=30000"],
                  patients=kv.N_EXACT)
    a, b = dear.outcomes["immunosuppression"], base.outcomes["immunosuppression"]
    for name in ("cost", "cost_undisc", "cost_drugs", "cost_drugs_undisc"):
        np.testing.assert_allclose(a[name], 1.5 * b[name], rtol=1e-9)
    assert_same_columns(a, b, skip={"cost", "cost_undisc", "cost_drugs", "cost_drugs_undisc"})
    assert_same_columns(dear.outcomes["cart"], base.outcomes["cart"])


def test_higher_discount_rate_lowers_discounted_values_only(kv):
    """C4: r 0.035 → 0.06: event and sojourn times identical; every discounted cost,
    QALY and LY ≤ before (non-negative values, e^{−0.06t} ≤ e^{−0.035t}); every
    undiscounted output identical."""
    base = kv.run(kv.KV_REF_AE, patients=kv.N_EXACT)
    high = kv.run(kv.KV_REF_AE, ["run.discount.costs=0.06", "run.discount.outcomes=0.06"],
                  patients=kv.N_EXACT)
    for strategy in base.outcomes:
        lo, hi = base.logs[strategy], high.logs[strategy]
        assert kv.named_events(hi) == kv.named_events(lo)
        assert kv.named_sojourns(hi) == kv.named_sojourns(lo)
        a, b = high.outcomes[strategy], base.outcomes[strategy]
        discounted = [f"cost_{c}" for c in ("product", "adverse_events", "drugs", "monitoring")]
        for name in ("cost", "ly", "remission_years_disc", *discounted):
            assert np.all(a[name] <= b[name] * (1 + 1e-12)), name
        assert a["cost"].mean() < b["cost"].mean()  # the new rate is actually used
        assert a["ly"].mean() < b["ly"].mean()
        same = [c for c in a.columns if c.endswith("_undisc") or c.startswith("n_")] + [
            "end_time", "died", "cause", "remission_years"]
        for name in same:
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    # QALYs fall too when the QALY loss is small against the utility accrued.
    cart_a, cart_b = high.outcomes["cart"], base.outcomes["cart"]
    assert np.all(cart_a["qaly"] <= cart_b["qaly"] + 1e-12)


def test_higher_is_death_rate_brings_every_death_forward(kv):
    """C5: μ_IS 0.04 → 0.06 (both arms' on_is state): each patient's death time is
    non-increasing (same Exp(1) death budget, larger hazard); IS-arm disc LY mean
    1/(0.06 + r) = 10.526 at 4 SE with the analytic KV-0 SD."""
    base = kv.run(kv.KV_REF)
    sick = kv.run(kv.KV_REF, ["strategies.immunosuppression.states.on_is.death.rate=0.06",
                              "strategies.cart.states.on_is.death.rate=0.06"])
    for strategy in base.outcomes:
        assert np.all(sick.outcomes[strategy]["end_time"] <= base.outcomes[strategy]["end_time"])
    ratio = sick.outcomes["immunosuppression"]["end_time"] / \
        base.outcomes["immunosuppression"]["end_time"]
    np.testing.assert_allclose(ratio, 0.04 / 0.06, rtol=1e-12)
    kv.assert_within(kv.mean_check("IS disc LY", sick.outcomes["immunosuppression"]["ly"],
                                   1 / (0.06 + R), kv.kv0_sd(0.06, R)))


def test_higher_crs_probability_never_removes_a_crs(kv):
    """C6: P(CRS) 0.15 → 0.30: per patient the CRS count never falls (the same uniform
    falls below a larger threshold); the fraction roughly doubles."""
    n = 5000
    low = kv.run(kv.KV_REF_AE, patients=n).outcomes["cart"]["n_crs"]
    high = kv.run(kv.KV_REF_AE, [f"{P_CRS}=0.3"], patients=n).outcomes["cart"]["n_crs"]
    assert np.all(high >= low)
    assert high.sum() > low.sum()


def test_treatment_related_death_scales_life_years_by_survival(kv):
    """C6: a chance outcome "trm" (q = 0.02) to "dead" at infusion: E[disc LY] =
    (1 − q) × the no-TRM value (paired per-patient D = LY_trm − (1 − q)·LY_0, 4 SE);
    patients without TRM are bit-identical; deaths by cause rise only for "trm"."""
    q = 0.02
    base = kv.run(kv.KV_REF_AE)
    trm = kv.run(kv.KV_REF_AE, [f"{P_TRM}={q!r}"])
    a, b = trm.outcomes["cart"], base.outcomes["cart"]
    hit = a["n_trm"] == 1
    assert np.all(b["n_trm"] == 0)
    assert np.all(a["n_trm"][~hit] == 0)
    for name in a.columns:
        if name != "n_trm" and name != "cause":
            np.testing.assert_array_equal(a[name][~hit], b[name][~hit], err_msg=name)
    # TRM patients die at t = 0 having accrued only the upfront cost.
    assert np.all(a["end_time"][hit] == 0.0)
    assert np.all(a["ly"][hit] == 0.0)
    assert np.all(a["cost"][hit] == 350000.0)
    assert np.all(a["died"][hit] == 1)

    def deaths_by_cause(out) -> dict[str, int]:
        counts = np.bincount(out["cause"][out["cause"] >= 0], minlength=len(out.cause_names))
        return dict(zip(out.cause_names, counts.tolist(), strict=True))

    before, after = deaths_by_cause(b), deaths_by_cause(a)
    assert after["trm"] == int(hit.sum()) > 0
    assert before.get("trm", 0) == 0
    for cause, count in after.items():
        if cause != "trm":
            assert count <= before.get(cause, 0), cause
    assert deaths_by_cause(trm.outcomes["immunosuppression"]) == \
        deaths_by_cause(base.outcomes["immunosuppression"])
    kv.assert_within([
        kv.proportion_check("TRM fraction", hit, q),
        kv.mean_check("LY_trm − (1 − q)·LY_0", a["ly"] - (1 - q) * b["ly"], 0.0),
    ])
