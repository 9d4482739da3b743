"""VERIFICATION group B (extreme values) through the CLI and its files.

tests/engine/test_extremes.py checks B1-B11 on the Python API; here the same
rules are checked on the tables of ``cartsim run`` / ``cartsim psa`` with the
KV-REF prime values (see conftest.py), including the PSA parts of B3, B6 and B10.
"""

from __future__ import annotations

import math

LN103 = math.log(1.03)


def test_b1_zero_relapse_rate(contract):
    """B1: lam = 0: CAR-T QALY = u_R/(mu_R + r), cost = C0 + c_R/(mu_R + r) (4 SE); no
    relapse is reported; the IS arm's row is identical to the lam = 0.12 run's."""
    n = contract.N_STAT
    base = contract.run(contract.kvref(), "--patients", n)
    zero = contract.run(contract.kvref(lam=0.0), "--patients", n)
    cart = contract.summary(zero)["cart"]
    a = 0.02 + LN103
    contract.assert_within([
        contract.check("B1 CAR-T QALY", cart["qaly"], 0.80 / a, cart["qaly_mcse"]),
        contract.check("B1 CAR-T cost", cart["cost"], 300000 + 2500 / a, cart["cost_mcse"]),
    ])
    relapses = [r for r in contract.rows(zero, "events") if r["event"] == "relapse"]
    assert all(int(r["events"]) == 0 for r in relapses), relapses
    assert contract.summary(zero)["immunosuppression"] == \
        contract.summary(base)["immunosuppression"]


def test_b2_certain_relapse(contract):
    """B2: lam = 1e6: every CAR-T patient relapses first; CAR-T QALY and the increments
    match the closed form (QALY -> the IS value, dC -> C0) within 4 SE; per patient,
    dC - C0 is at most the cost rates times that patient's time to relapse."""
    n, lam = contract.N_STAT, 1e6
    out = contract.run(contract.kvref(lam=lam), "--patients", n)
    s = contract.summary(out)
    truth = contract.truth(lam=lam)
    relapse = contract.keyed(out, "events", "strategy", "event")[("cart", "relapse")]
    assert int(relapse["patients_with_event"]) == n
    contract.assert_within([
        contract.check("B2 CAR-T QALY", s["cart"]["qaly"], truth["cart_qaly"],
                       s["cart"]["qaly_mcse"]),
        contract.check("B2 dQ", s["cart"]["inc_qaly"], truth["d_qaly"],
                       s["cart"]["inc_qaly_mcse"]),
        contract.check("B2 dC", s["cart"]["inc_cost"], truth["d_cost"],
                       s["cart"]["inc_cost_mcse"]),
    ])
    assert abs(float(s["cart"]["inc_qaly"])) < 1e-4
    small = contract.run(contract.kvref(lam=lam), "--patients", 200, "--trace")
    relapse_at: dict[str, float] = {}
    for r in contract.rows(small, "trace"):
        if r["strategy"] == "cart" and r["kind"] == "event" and r["event"] != "start":
            relapse_at.setdefault(r["patient_id"], float(r["time"]))
            if r["event"] == "relapse":
                assert float(r["time"]) == relapse_at[r["patient_id"]], r  # relapse first
    patients = contract.patients(small)
    for pid in range(200):
        tau = relapse_at[str(pid)]
        d_cost = (float(patients[(pid, "cart")]["cost"])
                  - float(patients[(pid, "immunosuppression")]["cost"]))
        assert abs(d_cost - 300000.0) <= (18000.0 + 2500.0) * tau + 1e-6, (pid, d_cost, tau)


def zero_cost_text(contract) -> str:
    text = contract.kvref(c_r=0.0, c_is=0.0, c0=0.0, crs=(0.3, 0.0, 0.01))
    return text.replace("utility = 0.55", 'utility = { value = 0.55, dist = "beta", '
                        "mean = 0.55, se = 0.04 }", 1)


def test_b3_zero_costs_everywhere(contract):
    """B3: every cost 0 (C0, AE and state costs): every cost output is exactly 0.0 in
    every table, in patients.csv and in every PSA draw; dC = 0 with dQ > 0 gives the
    'dominant' status and no ICER; no nan/inf anywhere."""
    text = zero_cost_text(contract)
    out = contract.run(text, "--patients", 200, "--trace")
    for table in ("summary", "costs", "patients"):
        for row in contract.rows(out, table):
            for col, value in row.items():
                if col.startswith(("cost", "inc_cost")) and not col.endswith("_mcse") \
                        and value != "NA":
                    assert float(value) == 0.0, (table, col, value)
    cart = contract.summary(out)["cart"]
    assert float(cart["inc_cost"]) == 0.0 and float(cart["inc_qaly"]) > 0
    assert cart["icer_status"] == "dominant" and cart["icer"] == "NA"
    contract.assert_finite_csvs(out)
    psa = contract.psa(text, "--draws", 20, "--patients", 50)
    draws = contract.rows(psa, "psa")
    assert len(draws) == 20
    for row in draws:
        assert float(row["cost_cart"]) == 0.0 and float(row["cost_immunosuppression"]) == 0.0
    assert len({row["qaly_immunosuppression"] for row in draws}) > 1  # the draws vary
    contract.assert_finite_csvs(psa)


def test_b4_unit_utilities_make_qalys_life_years(contract):
    """B4: every utility 1 and every QALY loss 0: per patient disc QALY = disc LY and
    undisc QALY = undisc LY exactly."""
    text = contract.kvref(u_r=1.0, u_is=1.0, crs=(0.3, 5000.0, 0.0))
    out = contract.run(text, "--patients", 200, "--trace")
    patients = contract.rows(out, "patients")
    assert len(patients) == 400
    for p in patients:
        assert float(p["qaly"]) == float(p["ly"]), p
        assert float(p["qaly_undisc"]) == float(p["ly_undisc"]), p


def test_b5_zero_discount_rate(contract):
    """B5: r = 0: per patient discounted = undiscounted exactly; means match the r = 0
    closed form within 4 SE."""
    text = contract.kvref(discount=0.0)
    small = contract.run(text, "--patients", 200, "--trace")
    for p in contract.rows(small, "patients"):
        for m in ("cost", "qaly", "ly"):
            assert float(p[m]) == float(p[f"{m}_undisc"]), (p["patient_id"], m)
    out = contract.run(text, "--patients", contract.N_STAT)
    s = contract.summary(out)
    truth = contract.truth(r=0.0)
    contract.assert_within([
        contract.check(f"B5 {arm} {m}", s[arm][m], truth[f"{key}_{m}"], s[arm][f"{m}_mcse"])
        for arm, key in (("immunosuppression", "is"), ("cart", "cart"))
        for m in ("qaly", "cost")
    ])


def identical_text(contract) -> str:
    """Both strategies are the IS pathway (CAR-T with C0 = 0 and no remission state)."""
    text = contract.kvref()
    head = text[:text.index("[strategies.immunosuppression]")]
    is_block = text[text.index("[strategies.immunosuppression]"):text.index("[strategies.cart]")]
    return head + is_block + is_block.replace("strategies.immunosuppression", "strategies.cart")


def test_b6_identical_strategies_in_every_psa_draw(contract):
    """B6 (PSA part; the run part is in tests/cli/test_accounting.py): identical
    strategies give dC = dQ = dLY = 0 exactly in every draw and an 'undefined' ICER."""
    out = contract.psa(identical_text(contract), "--draws", 15, "--patients", 60)
    for row in contract.rows(out, "psa"):
        for m in ("cost", "qaly", "ly"):
            assert row[f"{m}_cart"] == row[f"{m}_immunosuppression"], (row["draw"], m)
    cart = {r["strategy"]: r for r in contract.rows(out, "psa_summary")}["cart"]
    assert float(cart["inc_cost"]) == float(cart["inc_qaly"]) == 0.0
    assert cart["icer"] == "NA" and cart["icer_status"] == "undefined"


def test_b6_identical_strategies_with_shared_uncertain_parameters(contract):
    """B6 with uncertainty: both arms are the IS pathway and share one uncertain
    utility (the CAR-T arm's refers to the IS arm's with same_as): dQ = 0 in every draw."""
    text = identical_text(contract)
    head, cart = text[:text.index("[strategies.cart]")], text[text.index("[strategies.cart]"):]
    text = (head.replace("utility = 0.55",
                         'utility = { value = 0.55, dist = "beta", mean = 0.55, se = 0.05 }')
            + cart.replace("utility = 0.55", 'utility = { same_as = '
                           '"strategies.immunosuppression.states.on_is.utility" }'))
    out = contract.psa(text, "--draws", 15, "--patients", 60)
    draws = contract.rows(out, "psa")
    shared = "strategies.immunosuppression.states.on_is.utility"
    assert len({r[shared] for r in draws}) == len(draws)  # one uncertain parameter, drawn
    assert "strategies.cart.states.on_is.utility" not in draws[0]  # ... and only once
    for row in draws:
        assert row["qaly_cart"] == row["qaly_immunosuppression"], row["draw"]


def test_b6_ties_do_not_make_the_new_strategy_cost_effective(contract):
    """B6: P(cost-effective) at exact ties follows a stated rule that does not favour
    the non-comparator: the comparator wins ties, or they are split evenly."""
    out = contract.psa(identical_text(contract), "--draws", 15, "--patients", 60)
    for row in contract.rows(out, "ceac"):
        p = float(row["probability_cost_effective"])
        if row["strategy"] == "cart":
            assert p in (0.0, 0.5), row
        else:
            assert p in (1.0, 0.5), row


def test_b7_no_mortality_finite_horizon(contract):
    """B7: no death hazard, H = 15, annual d = 4%: every patient lives exactly 15
    undiscounted years and (1 - 1.04^-15)/ln 1.04 discounted ones (rel 1e-9)."""
    text = contract.kvref(discount=0.04, horizon="15.0", mu_r=0.0, mu_is=0.0)
    out = contract.run(text, "--patients", 200, "--trace")
    disc = -math.expm1(-15 * math.log(1.04)) / math.log(1.04)
    patients = contract.rows(out, "patients")
    assert len(patients) == 400
    for p in patients:
        assert float(p["ly_undisc"]) == 15.0, p
        assert contract.close(p["ly"], disc), p
        assert p["died"] == "0"


def test_b8_zero_horizon(contract):
    """B8: H = 0: QALYs = LYs = 0 and, with the documented half-open horizon [0, H),
    nothing is incurred, not even the cost at t = 0; no nan/inf; no events."""
    out = contract.run(contract.kvref(horizon="0", crs=(0.3, 5000.0, 0.01)), "--patients", 200)
    for arm, row in contract.summary(out).items():
        for col in ("qaly", "qaly_undisc", "ly", "ly_undisc", "cost", "cost_undisc"):
            assert float(row[col]) == 0.0, (arm, col)
    for row in contract.rows(out, "costs"):
        assert float(row["cost"]) == 0.0, row
    assert all(int(r["events"]) == 0 for r in contract.rows(out, "events"))
    contract.assert_finite_csvs(out)


def test_b9_life_table_lifetime_horizon_ends_everyone(contract):
    """B9: background mortality from the shipped life table (old cohort, mortality ratio
    0.5 so that many reach the end of the table): everyone dies by the documented
    maximum age 120; nobody is censored."""
    text = """\
model = "custom"
[run]
seed = 6174
horizon = "lifetime"
life_table = "us_ssa_2025"
[cohort]
age = { dist = "normal", mean = 88, sd = 8, min = 70, max = 110 }
[strategies.old]
start = "s"
[strategies.old.states.s]
utility = 0.7
death = { life_table = 0.5 }
"""
    out = contract.run(text, "--patients", 250, "--trace")
    patients = contract.rows(out, "patients")
    assert all(p["died"] == "1" for p in patients)
    assert max(float(p["age"]) + float(p["end_time"]) for p in patients) <= 120.0 + 1e-9
    censored = [r for r in contract.rows(out, "deaths") if r["cause"] == "alive_at_horizon"]
    assert all(int(r["patients"]) == 0 for r in censored)


def test_b10_one_psa_draw_and_one_patient(contract):
    """B10: `psa --draws 1 --patients 1` completes (exit 0) and writes one draw; no
    variance or MCSE is reported as 0 where it cannot be estimated (K = 1, n = 1)."""
    out = contract.psa(contract.kvref(), "--draws", 1, "--patients", 1)
    assert len(contract.rows(out, "psa")) == 1
    for row in contract.rows(out, "variance"):
        for col in ("total", "first_order", "second_order"):
            assert row[col] == "NA", row
    contract.assert_finite_csvs(out)


def test_b11_numerically_extreme_values(contract):
    """B11: death rates 1e6 and 1e-12, a 1e12 cost, a 1e4-year horizon: every output is
    finite, costs and life-years non-negative, and a 1e-12 death rate gives the rate-0
    results within 4 SE."""
    def text(slow_rate: str) -> str:
        return f"""\
model = "custom"
[run]
seed = 5050
horizon = 10000
discount = {{ costs = 0.03, outcomes = 0.03, convention = "continuous" }}
life_table = "none"
comparator = "slow"
[strategies.fast]
start = "a"
upfront_cost = {{ product = 1e12 }}
[strategies.fast.states.a]
utility = 0.5
cost = {{ drugs = 1e12 }}
death = {{ rate = 1e6 }}
[strategies.slow]
start = "a"
[strategies.slow.states.a]
utility = 0.9
cost = {{ drugs = 1000 }}
death = {{ rate = {slow_rate} }}
[strategies.slow.states.a.transitions.worsen]
to = "b"
rate = 0.2
[strategies.slow.states.b]
utility = 0.4
cost = {{ drugs = 5000 }}
death = {{ rate = {slow_rate} }}
"""
    traced = contract.run(text("1e-12"), "--patients", 200, "--trace")
    contract.assert_finite_csvs(traced)
    for p in contract.rows(traced, "patients"):
        for col in ("cost", "cost_undisc", "ly", "ly_undisc", "qaly", "end_time"):
            value = float(p[col])
            assert math.isfinite(value) and value >= 0.0, (col, p)
    tiny = contract.run(text("1e-12"), "--patients", 2000)
    zero = contract.run(text("0.0"), "--patients", 2000)
    contract.assert_finite_csvs(tiny)
    a, b = contract.summary(tiny)["slow"], contract.summary(zero)["slow"]
    contract.assert_within([
        contract.check(f"B11 {m}", a[m], float(b[m]),
                       math.hypot(float(a[f"{m}_mcse"]), float(b[f"{m}_mcse"])) + 1e-9)
        for m in ("cost", "qaly", "ly")])
    fast = contract.summary(tiny)["fast"]
    assert float(fast["cost"]) >= 1e12 and float(fast["ly"]) < 1e-4
