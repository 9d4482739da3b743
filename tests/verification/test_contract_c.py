"""VERIFICATION group C (monotonicity, paired runs with the same seed) through the CLI.

tests/engine/test_monotonicity.py checks C1-C6 on the Python API; here every
rule is read from the files of paired ``cartsim run`` calls (summary.csv at
n = 20,000 for the statistical directions, patients.csv and trace.csv of small
traced runs for the exact per-patient ones), and C7 from ``cartsim psa``.
"""

from __future__ import annotations

import math

LN103 = math.log(1.03)
SMALL = 200


def first_time(rows, strategy: str, event: str) -> dict[str, float]:
    """patient_id -> time of their first ``event`` in ``strategy`` (absent: none)."""
    out: dict[str, float] = {}
    for r in rows:
        if r["strategy"] == strategy and r["kind"] == "event" and r["event"] == event:
            out.setdefault(r["patient_id"], float(r["time"]))
    return out


def test_c1_price_shift_moves_costs_by_exactly_the_shift(contract):
    """C1: C0 raised by 37,500: dC and the CAR-T cost rise by exactly 37,500 (paid at
    t = 0, undiscounted); every QALY and LY output and every event time is identical;
    per patient only the product cost columns change."""
    shift = 37500.0
    runs = [contract.run(contract.kvref(c0=c0), "--patients", contract.N_STAT)
            for c0 in (300000.0, 300000.0 + shift)]
    a, b = (contract.summary(o)["cart"] for o in runs)
    assert contract.close(float(b["inc_cost"]) - float(a["inc_cost"]), shift)
    assert contract.close(float(b["cost"]) - float(a["cost"]), shift)
    for col in a:
        if col.startswith(("qaly", "ly", "inc_qaly", "inc_ly", "remission")):
            assert a[col] == b[col], col
    small = [contract.run(contract.kvref(c0=c0), "--patients", SMALL, "--trace")
             for c0 in (300000.0, 300000.0 + shift)]
    assert contract.trace_facts(small[0]) == contract.trace_facts(small[1])
    pa, pb = (contract.patients(o) for o in small)
    for key, row in pa.items():
        for col, value in row.items():
            if col in ("cost", "cost_undisc", "cost_product", "cost_product_undisc"):
                want = float(value) + (shift if key[1] == "cart" else 0.0)
                assert contract.close(pb[key][col], want), (key, col)
            else:
                assert pb[key][col] == value, (key, col)


def test_c2_higher_relapse_rate(contract):
    """C2: lam 0.12 -> 0.18: CAR-T QALYs fall with z < -4 (bounded with SE1 + SE2, which
    is at least the paired SE); every patient's relapse comes no later (inverse CDF); the
    IS arm is identical patient by patient."""
    old, new = (contract.run(contract.kvref(lam=lam), "--patients", contract.N_STAT)
                for lam in (0.12, 0.18))
    a, b = contract.summary(old)["cart"], contract.summary(new)["cart"]
    diff = float(b["qaly"]) - float(a["qaly"])
    assert diff < -4 * (float(a["qaly_mcse"]) + float(b["qaly_mcse"])), diff
    assert contract.summary(old)["immunosuppression"] == contract.summary(new)["immunosuppression"]
    small_old, small_new = (contract.run(contract.kvref(lam=lam), "--patients", SMALL, "--trace")
                            for lam in (0.12, 0.18))
    t_old = first_time(contract.rows(small_old, "trace"), "cart", "relapse")
    t_new = first_time(contract.rows(small_new, "trace"), "cart", "relapse")
    assert t_old and set(t_old) <= set(t_new)
    for pid, t in t_old.items():
        assert t_new[pid] <= t * (1 + 1e-12), (pid, t, t_new[pid])
    assert contract.trace_facts(small_old, ["immunosuppression"]) == \
        contract.trace_facts(small_new, ["immunosuppression"])


def test_c3_is_cost_rate_scales_is_costs_exactly(contract):
    """C3: the IS drug cost 18,000 -> 27,000 (in both arms): every IS-arm patient's cost
    is x1.5 exactly; dC falls by exactly 0.5 x (CAR-T drugs - IS drugs) of the first
    run, and the ICER falls."""
    old, new = (contract.run(contract.kvref(c_is=c), "--patients", contract.N_STAT)
                for c in (18000.0, 27000.0))
    costs = contract.keyed(old, "costs", "strategy", "category")
    expected = 0.5 * (float(costs[("cart", "drugs")]["cost"])
                      - float(costs[("immunosuppression", "drugs")]["cost"]))
    a, b = contract.summary(old)["cart"], contract.summary(new)["cart"]
    assert expected < 0
    assert contract.close(float(b["inc_cost"]) - float(a["inc_cost"]), expected, abs_=1e-6)
    assert float(b["icer"]) < float(a["icer"])
    small_old, small_new = (contract.run(contract.kvref(c_is=c), "--patients", SMALL, "--trace")
                            for c in (18000.0, 27000.0))
    pa, pb = contract.patients(small_old), contract.patients(small_new)
    for (pid, arm), row in pa.items():
        if arm == "immunosuppression":
            for col in ("cost", "cost_undisc", "cost_drugs"):
                assert contract.close(pb[(pid, arm)][col], 1.5 * float(row[col])), (pid, col)


def test_c4_higher_discount_rate_touches_only_discounted_values(contract):
    """C4: continuous r 0.025 -> 0.06: every event time is identical; per patient
    discounted QALY, LY and costs after t = 0 are no higher, and lower when the patient
    lived; undiscounted outputs are identical."""
    def text(r: float) -> str:
        return contract.kvref(discount=r, convention="continuous", crs=(0.3, 9000.0, 0.02))
    old, new = (contract.run(text(r), "--patients", SMALL, "--trace") for r in (0.025, 0.06))
    assert contract.trace_facts(old) == contract.trace_facts(new)
    pa, pb = contract.patients(old), contract.patients(new)
    at_t0 = ("cost_product", "cost_adverse_events")
    for key, a in pa.items():
        b = pb[key]
        for col in a:
            if col.endswith("_undisc") or col in ("end_time", "died", "cause"):
                assert a[col] == b[col], (key, col)
        lived = float(a["ly_undisc"]) > 0
        for m in ("qaly", "ly"):
            assert float(b[m]) < float(a[m]) if lived else float(b[m]) == float(a[m]), (key, m)
        later_a = float(a["cost"]) - sum(float(a[c]) for c in at_t0)
        later_b = float(b["cost"]) - sum(float(b[c]) for c in at_t0)
        assert later_b < later_a if lived else later_b == later_a, key


def test_c5_higher_is_mortality(contract):
    """C5: mu_IS 0.05 -> 0.07 (IS arm and CAR-T after relapse): IS-arm disc LY =
    1/(0.07 + r) within 4 SE; every patient's death comes no later and no LY rises."""
    new = contract.run(contract.kvref(mu_is=0.07), "--patients", contract.N_STAT)
    row = contract.summary(new)["immunosuppression"]
    contract.assert_within([contract.check("C5 IS disc LY", row["ly"], 1 / (0.07 + LN103),
                                           row["ly_mcse"])])
    small_old, small_new = (contract.run(contract.kvref(mu_is=mu), "--patients", SMALL,
                                         "--trace") for mu in (0.05, 0.07))
    pa, pb = contract.patients(small_old), contract.patients(small_new)
    shorter = 0
    for key, a in pa.items():
        b = pb[key]
        assert float(b["end_time"]) <= float(a["end_time"]), key
        assert float(b["ly"]) <= float(a["ly"]) and float(b["ly_undisc"]) <= float(a["ly_undisc"])
        shorter += float(b["end_time"]) < float(a["end_time"])
    assert shorter > SMALL  # both arms: most patients die earlier


def test_c6_more_harms(contract):
    """C6: P(CRS) 0.22 -> 0.35: more CRS events, higher CAR-T cost, CAR-T QALYs not higher.
    Treatment-related death q = 0 -> 0.03: CAR-T disc LY = (1 - q) x the no-TRM value
    within 4 SE; deaths by cause rise for the treatment-related cause only."""
    n = contract.N_STAT
    base = contract.run(contract.kvref(crs=(0.22, 18000.0, 0.035), seed=8128), "--patients", n)
    more = contract.run(contract.kvref(crs=(0.35, 18000.0, 0.035), seed=8128), "--patients", n)
    ev_a = contract.keyed(base, "events", "strategy", "event")[("cart", "crs")]
    ev_b = contract.keyed(more, "events", "strategy", "event")[("cart", "crs")]
    assert int(ev_b["events"]) > int(ev_a["events"])
    a, b = contract.summary(base)["cart"], contract.summary(more)["cart"]
    assert float(b["cost"]) > float(a["cost"]) and float(b["qaly"]) <= float(a["qaly"])
    q = 0.03
    trm = contract.run(contract.kvref(crs=(0.22, 18000.0, 0.035), trm=q, seed=8128),
                       "--patients", n)
    t = contract.summary(trm)["cart"]
    se = math.hypot(float(t["ly_mcse"]), (1 - q) * float(a["ly_mcse"]))
    contract.assert_within([contract.check("C6 LY with TRM", t["ly"], (1 - q) * float(a["ly"]),
                                           se)])
    before = {r["cause"]: int(r["patients"]) for r in contract.rows(base, "deaths")
              if r["strategy"] == "cart"}
    after = {r["cause"]: int(r["patients"]) for r in contract.rows(trm, "deaths")
             if r["strategy"] == "cart"}
    assert after["trm"] > 0 and before.get("trm", 0) == 0
    for cause, count in after.items():
        if cause != "trm":
            assert count <= before.get(cause, 0), cause


def test_c7_inmb_is_linear_in_wtp_and_the_decision_switches_at_the_icer(contract):
    """C7: PSA with WTP 0, 20k, 50k, 100k, 200k: reported INMB(w) = w x mean dQ - mean dC
    (rel 1e-9) from psa.csv; the frontier strategy on the CEAC grid is CAR-T exactly
    where w > mean dC / mean dQ (the decision switches inside the grid)."""
    text = contract.kvref(wtp=(0, 20000, 50000, 100000, 200000))
    text = text.replace("rate = 0.12", 'rate = { value = 0.12, dist = "gamma", mean = 0.12, '
                        "se = 0.03 }")
    text = text.replace("utility = 0.8\n", 'utility = { value = 0.8, dist = "beta", mean = 0.8, '
                        "se = 0.05 }\n")
    out = contract.psa(text, "--draws", 60, "--patients", 150, "--seed", 1729)
    draws = contract.rows(out, "psa")
    d_c = math.fsum(float(r["cost_cart"]) - float(r["cost_immunosuppression"])
                    for r in draws) / len(draws)
    d_q = math.fsum(float(r["qaly_cart"]) - float(r["qaly_immunosuppression"])
                    for r in draws) / len(draws)
    cart = {r["strategy"]: r for r in contract.rows(out, "psa_summary")}["cart"]
    for w in (0, 20000, 50000, 100000, 200000):
        assert contract.close(cart[f"inmb_{w}"], w * d_q - d_c, abs_=1e-6), w
    threshold = d_c / d_q
    assert 0 < threshold < 200000
    sides = set()
    for r in contract.rows(out, "ceac"):
        if r["on_frontier"] == "true":
            w = float(r["wtp"])
            assert (r["strategy"] == "cart") == (w * d_q - d_c > 0), r
            sides.add(r["strategy"])
    assert sides == {"cart", "immunosuppression"}
