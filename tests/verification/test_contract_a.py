"""VERIFICATION group A (analytic known values) through the CLI and its files.

The engine tests (tests/engine) check A1-A9 and A12 on the Python API; here the
same laws are checked on what ``cartsim run`` writes, with other parameter
values: summary.csv / costs.csv / events.csv / deaths.csv at n = 20,000 for the
statistical checks, patients.csv and trace.csv of small traced runs for the
exact ones. A10 and A11 are covered through the CLI by tests/cli/test_accounting.py.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import integrate, special
from scipy.linalg import expm

# KV-0 prime: one state, death only (VERIFICATION §3 KV-0 with other values).
MU, R = 0.07, 0.025
U, C_RATE, C_DEATH = 0.65, 9876.0, 7500.0


def kv0_text(horizon: str = '"lifetime"') -> str:
    return f"""\
model = "custom"
[run]
seed = 31337
horizon = {horizon}
discount = {{ costs = {R}, outcomes = {R}, convention = "continuous" }}
life_table = "none"
[strategies.alone]
start = "alive"
[strategies.alone.states.alive]
utility = {U}
cost = {{ drugs = {C_RATE} }}
death = {{ rate = {MU} }}
[strategies.alone.events.death]
cost = {{ other = {C_DEATH} }}
"""


def kv0_sd_ly(mu: float, r: float) -> float:
    """Analytic SD of (1 - e^{-rT})/r for T ~ Exp(mu) (VERIFICATION §2.7)."""
    return math.sqrt(mu / ((mu + r) ** 2 * (mu + 2 * r)))


def test_a1_a2_a3_kv0_discounted_life_years_costs_and_one_off_cost(contract):
    """A1-A3: one state, exponential death. Mean disc LY = 1/(mu+r); QALY = u/(mu+r);
    cost of rate c = c/(mu+r) (drugs category); a one-off cost C at death = C mu/(mu+r)
    (other category). 4 SE with the analytic SDs."""
    n = contract.N_STAT
    out = contract.run(kv0_text(), "--patients", n)
    row = contract.summary(out)["alone"]
    costs = contract.keyed(out, "costs", "strategy", "category")
    sd = kv0_sd_ly(MU, R)
    sd_death = C_DEATH * math.sqrt(MU / (MU + 2 * R) - (MU / (MU + R)) ** 2)
    se = sd / math.sqrt(n)
    contract.assert_within([
        contract.check("A1 disc LY", row["ly"], 1 / (MU + R), se),
        contract.check("A2 disc QALY", row["qaly"], U / (MU + R), U * se),
        contract.check("A2 disc cost of rate c", costs[("alone", "drugs")]["cost"],
                       C_RATE / (MU + R), C_RATE * se),
        contract.check("A3 one-off cost at death", costs[("alone", "other")]["cost"],
                       C_DEATH * MU / (MU + R), sd_death / math.sqrt(n)),
    ])
    assert contract.close(costs[("alone", "total")]["cost"], row["cost"])


def test_a2_per_patient_cost_over_rate_equals_qaly_over_utility_equals_ly(contract):
    """A2 exact part: one state, so per patient cost/c = QALY/u = LY (rel 1e-9)."""
    out = contract.run(kv0_text(), "--patients", 200, "--trace")
    patients = contract.rows(out, "patients")
    assert len(patients) == 200
    for p in patients:
        ly = float(p["ly"])
        assert ly > 0
        assert contract.close(float(p["cost_drugs"]) / C_RATE, ly, abs_=1e-12), p
        assert contract.close(float(p["qaly"]) / U, ly, abs_=1e-12), p
        assert contract.close(float(p["cost_other"]), C_DEATH * math.exp(-R * float(p["end_time"])))


def test_a4_competing_risks_relapse_fraction_and_time_to_first_event(contract):
    """A4: CAR-T arm of KV-REF prime. Share relapsing before death = lam/(lam+mu_R) and
    mean undiscounted time to the first event = 1/(lam+mu_R) (remission_years: the
    whole stay in remission), at 4 SE with n = 20,000."""
    lam, mu_r, n = 0.12, 0.02, contract.N_STAT
    out = contract.run(contract.kvref(), "--patients", n)
    relapse = contract.keyed(out, "events", "strategy", "event")[("cart", "relapse")]
    p = lam / (lam + mu_r)
    mean_t = 1 / (lam + mu_r)
    contract.assert_within([
        contract.check("A4 P(relapse before death)", relapse["proportion"], p,
                       math.sqrt(p * (1 - p) / n)),
        contract.check("A4 time to first event", contract.summary(out)["cart"]
                       ["remission_years"], mean_t, mean_t / math.sqrt(n)),
    ])


def test_a4_trace_gives_the_same_first_events_as_the_tables(contract):
    """A4 through the trace, as an outside script would compute it: each CAR-T patient's
    first event after the start is relapse or death, at the end of the remission stay;
    its time is patients.csv's remission_years, and the relapse share equals events.csv."""
    out = contract.run(contract.kvref(), "--patients", 200, "--trace")
    first: dict[str, tuple[str, float]] = {}
    for r in contract.rows(out, "trace"):
        if (r["strategy"] == "cart" and r["kind"] == "event" and r["event"] != "start"
                and r["patient_id"] not in first):
            first[r["patient_id"]] = (r["event"], float(r["time"]))
    patients = {p["patient_id"]: p for p in contract.rows(out, "patients")
                if p["strategy"] == "cart"}
    assert first.keys() == patients.keys() and len(first) == 200
    assert {e for e, _ in first.values()} == {"relapse", "death"}
    for pid, (_, t) in first.items():
        assert float(patients[pid]["remission_years"]) == t, pid
    share = sum(e == "relapse" for e, _ in first.values()) / len(first)
    relapse = contract.keyed(out, "events", "strategy", "event")[("cart", "relapse")]
    assert contract.close(relapse["proportion"], share)


def test_a5_kvref_prime_matches_the_closed_form(contract):
    """A5: both arms' disc QALY, cost and LY, the increments and INMB(80,000) equal the
    closed form (annual d = 3%: r = ln 1.03) within 4 SE; increments with the paired
    MCSE of summary.csv (common random numbers)."""
    out = contract.run(contract.kvref(), "--patients", contract.N_STAT)
    s = contract.summary(out)
    truth = contract.truth()
    checks = []
    for arm, key in (("immunosuppression", "is"), ("cart", "cart")):
        for m in ("qaly", "cost", "ly"):
            checks.append(contract.check(f"{arm} {m}", s[arm][m], truth[f"{key}_{m}"],
                                         s[arm][f"{m}_mcse"]))
    cart = s["cart"]
    for m in ("qaly", "cost", "ly"):
        checks.append(contract.check(f"inc {m}", cart[f"inc_{m}"], truth[f"d_{m}"],
                                     cart[f"inc_{m}_mcse"]))
    inmb = 80000 * truth["d_qaly"] - truth["d_cost"]
    checks.append(contract.check("INMB(80k)", cart["inmb_80000"], inmb,
                                 cart["inmb_80000_mcse"]))
    contract.assert_within(checks)


def test_a6_finite_horizon_life_years_deaths_and_nothing_after_the_horizon(contract):
    """A6: KV-0 prime with H = 8: mean disc LY = (1 - e^{-(mu+r)H})/(mu+r) and the share
    dying before H = 1 - e^{-mu H} (4 SE); in the trace nothing accrues after H and the
    survivors are censored exactly at H with H undiscounted life-years."""
    h, n = 8.0, contract.N_STAT
    out = contract.run(kv0_text(horizon=repr(h)), "--patients", n)
    row = contract.summary(out)["alone"]
    alive = contract.keyed(out, "deaths", "strategy", "cause")[("alone", "alive_at_horizon")]
    p_alive = math.exp(-MU * h)
    contract.assert_within([
        contract.check("A6 disc LY", row["ly"], -math.expm1(-(MU + R) * h) / (MU + R),
                       row["ly_mcse"]),
        contract.check("A6 P(alive at H)", alive["proportion"], p_alive,
                       math.sqrt(p_alive * (1 - p_alive) / n)),
    ])
    small = contract.run(kv0_text(horizon=repr(h)), "--patients", 200, "--trace")
    censored = set()
    for r in contract.rows(small, "trace"):
        assert float(r["time"]) <= h and float(r["end"]) <= h, r
        if r["kind"] == "event":
            assert float(r["time"]) < h, r
        if r["kind"] == "censored":
            assert float(r["time"]) == h, r
            censored.add(r["patient_id"])
    assert censored
    for p in contract.rows(small, "patients"):
        assert float(p["end_time"]) <= h
        if p["patient_id"] in censored:
            assert float(p["ly_undisc"]) == h and p["died"] == "0", p


# ------------------------------------------------------------------ A7

CATEGORIES = ("drugs", "monitoring", "disease_care", "immunoglobulin")
"""One cost category per state at 1 per year: its discounted cost is the state's
discounted occupancy, and costs.csv reports it with its MCSE."""
R_CTMC = 0.04


def ctmc_model(seed: int, k: int, horizon: float | None):
    """A random k-state constant-hazard model as TOML, with its generator and inputs.

    A start chance node spreads patients over the states (p0); every state has a
    death rate and random exits; two transitions carry a unit cost (categories
    ``other`` and ``cancer_care``) so that costs.csv reports their discounted counts,
    and the first also a QALY loss.
    """
    rng = np.random.default_rng(seed)
    names = [f"s{i}" for i in range(k)]
    mu = rng.uniform(0.01, 0.08, k).tolist()
    util = rng.uniform(0.3, 0.95, k).tolist()
    q = np.zeros((k, k))
    for i in range(k):
        for j in range(k):
            if i != j and rng.uniform() < 0.7:
                q[i, j] = float(rng.uniform(0.03, 0.3))
    edges = [(i, j) for i in range(k) for j in range(k) if q[i, j] > 0]
    while len(edges) < 2:  # guarantee two costed transitions
        i, j = int(rng.integers(k)), int(rng.integers(k))
        if i != j:
            q[i, j] = float(rng.uniform(0.03, 0.3))
            edges = [(i, j) for i in range(k) for j in range(k) if q[i, j] > 0]
    marked = [edges[int(x)] for x in rng.choice(len(edges), 2, replace=False)]
    p0 = rng.dirichlet(np.full(k, 2.0))
    loss = 0.05
    h = '"lifetime"' if horizon is None else repr(horizon)
    lines = [
        'model = "custom"', "[run]", "seed = 2718", f"horizon = {h}",
        f'discount = {{ costs = {R_CTMC}, outcomes = {R_CTMC}, convention = "continuous" }}',
        'life_table = "none"', "[strategies.m]", 'start = "entry"',
        "[strategies.m.chances.entry]", 'then = "s0"',
    ]
    for i in range(1, k):
        lines += [f"[strategies.m.chances.entry.outcomes.to_{names[i]}]",
                  f"probability = {float(p0[i])!r}", f'to = "{names[i]}"']
    for i in range(k):
        lines += [f"[strategies.m.states.{names[i]}]", f"utility = {util[i]!r}",
                  f"cost = {{ {CATEGORIES[i]} = 1.0 }}", f"death = {{ rate = {mu[i]!r} }}"]
        for j in range(k):
            if q[i, j] > 0:
                lines += [f"[strategies.m.states.{names[i]}.transitions.t{i}{j}]",
                          f'to = "{names[j]}"', f"rate = {float(q[i, j])!r}"]
                if (i, j) == marked[0]:
                    lines += ["cost = { other = 1.0 }", f"qaly_loss = {loss}"]
                elif (i, j) == marked[1]:
                    lines.append("cost = { cancer_care = 1.0 }")
    p0[0] = 1.0 - p0[1:].sum()  # what the scenario implies for the remainder
    q_t = q - np.diag(q.sum(axis=1) + np.array(mu))
    return "\n".join(lines) + "\n", q, q_t, p0, np.array(util), marked, loss


def ctmc_oracle(q_t: np.ndarray, p0: np.ndarray, r: float, h: float | None) -> np.ndarray:
    """Expected discounted time in each transient state (VERIFICATION §3 KV-CTMC)."""
    a = q_t - r * np.eye(len(p0))
    if h is None:
        return p0 @ np.linalg.inv(-a)
    return p0 @ np.linalg.inv(a) @ (expm(a * h) - np.eye(len(p0)))


def test_a7_random_ctmc_structures_match_the_oracle(contract):
    """A7: random 3- and 4-state constant-hazard models, lifetime and H = 12: each
    state's discounted occupancy (its unit-cost category), the discounted counts of two
    transitions (their unit costs), QALYs (with a transition QALY loss) and LYs match
    the KV-CTMC oracle within 4.5 SE (Bonferroni for about 8 comparisons per run)."""
    checks = []
    for seed, k in ((11, 3), (23, 4)):
        for horizon in (None, 12.0):
            text, q, q_t, p0, util, marked, loss = ctmc_model(seed, k, horizon)
            out = contract.run(text, "--patients", contract.N_STAT)
            occ = ctmc_oracle(q_t, p0, R_CTMC, horizon)
            costs = contract.keyed(out, "costs", "strategy", "category")
            row = contract.summary(out)["m"]
            tag = f"k={k} H={horizon}"
            for i in range(k):
                c = costs[("m", CATEGORIES[i])]
                checks.append(contract.check(f"{tag} occupancy s{i}", c["cost"], occ[i],
                                             c["cost_mcse"]))
            counts = [occ[i] * q[i, j] for i, j in marked]
            for (i, j), cat, count in zip(marked, ("other", "cancer_care"), counts,
                                          strict=True):
                c = costs[("m", cat)]
                checks.append(contract.check(f"{tag} count s{i}->s{j}", c["cost"], count,
                                             c["cost_mcse"]))
            checks.append(contract.check(f"{tag} QALY", row["qaly"],
                                         occ @ util - loss * counts[0], row["qaly_mcse"]))
            checks.append(contract.check(f"{tag} LY", row["ly"], occ.sum(), row["ly_mcse"]))
    contract.assert_within(checks, z=4.5)


# ------------------------------------------------------------------ A8, A9

SHAPE, SCALE, R_WEIB = 2.2, 11.0, 0.03


def weibull_text(horizon: str = '"lifetime"', dist: str | None = None) -> str:
    dist = dist or f'dist = "weibull"\nshape = {SHAPE}\nscale = {SCALE}'
    return f"""\
model = "custom"
[run]
seed = 1618
horizon = {horizon}
discount = {{ costs = {R_WEIB}, outcomes = {R_WEIB}, convention = "continuous" }}
life_table = "none"
[strategies.w]
start = "alive"
[strategies.w.states.alive]
utility = 1.0
cost = {{ drugs = 100.0 }}
[strategies.w.states.alive.transitions.die]
to = "dead"
{dist}
"""


def test_a8_weibull_mean_median_and_discounted_life_years(contract):
    """A8: death ~ Weibull(shape 2.2, scale 11), S(t) = exp(-(t/scale)^shape): mean
    undiscounted LY = scale G(1 + 1/shape); disc LY = int e^{-rt} S(t) dt (quadrature);
    at H = the median, the share still alive is 0.5 (4 sqrt(0.25/n))."""
    n = contract.N_STAT
    out = contract.run(weibull_text(), "--patients", n)
    row = contract.summary(out)["w"]
    g1, g2 = special.gamma(1 + 1 / SHAPE), special.gamma(1 + 2 / SHAPE)
    sd = SCALE * math.sqrt(g2 - g1 ** 2)
    disc, _ = integrate.quad(lambda t: math.exp(-R_WEIB * t - (t / SCALE) ** SHAPE), 0,
                             np.inf, epsabs=1e-12)
    median = SCALE * math.log(2) ** (1 / SHAPE)
    at_median = contract.run(weibull_text(horizon=repr(median)), "--patients", n)
    alive = contract.keyed(at_median, "deaths", "strategy", "cause")[("w", "alive_at_horizon")]
    contract.assert_within([
        contract.check("A8 mean undisc LY", row["ly_undisc"], SCALE * g1, sd / math.sqrt(n)),
        contract.check("A8 disc LY", row["ly"], disc, row["ly_mcse"]),
        contract.check("A8 S(median)", alive["proportion"], 0.5, math.sqrt(0.25 / n)),
    ])


def test_a9_weibull_shape_one_gives_the_exponential_death_times(contract):
    """A9: the same scenario with death ~ Weibull(1, 1/mu) and ~ Exp(mu), same seed:
    every patient's death time agrees to rel 1e-12 (inverse CDF of one uniform)."""
    mu = 0.09
    a = contract.run(weibull_text(dist=f'dist = "exponential"\nrate = {mu}'),
                     "--patients", 200, "--trace")
    b = contract.run(weibull_text(dist=f'dist = "weibull"\nshape = 1.0\nscale = {1 / mu!r}'),
                     "--patients", 200, "--trace")
    pa, pb = contract.patients(a), contract.patients(b)
    assert pa.keys() == pb.keys() and len(pa) == 200
    for key, row in pa.items():
        assert math.isclose(float(row["end_time"]), float(pb[key]["end_time"]),
                            rel_tol=1e-12), key


# ------------------------------------------------------------------ A12

def test_a12_adverse_event_at_infusion(contract):
    """A12: CAR-T with P(CRS) = 0.22, CRS cost 18,000 and QALY loss 0.035. The observed
    CRS share is 0.22 within 4 SE; the adverse-event cost and the QALY drop against the
    AE-free run equal count x 18,000 / n and count x 0.035 / n exactly; no other output
    (LYs, other cost categories, the IS arm) changes."""
    n = contract.N_STAT
    with_ae = contract.run(contract.kvref(crs=(0.22, 18000.0, 0.035), seed=8128),
                           "--patients", n)
    without = contract.run(contract.kvref(crs=(0.0, 18000.0, 0.035), seed=8128),
                           "--patients", n)
    crs = contract.keyed(with_ae, "events", "strategy", "event")[("cart", "crs")]
    count = int(crs["events"])
    assert int(crs["patients_with_event"]) == count
    contract.assert_within([contract.check("A12 CRS share", crs["proportion"], 0.22,
                                           math.sqrt(0.22 * 0.78 / n))])
    ca = contract.keyed(with_ae, "costs", "strategy", "category")
    cb = contract.keyed(without, "costs", "strategy", "category")
    assert contract.close(ca[("cart", "adverse_events")]["cost"], count * 18000.0 / n)
    assert float(cb[("cart", "adverse_events")]["cost"]) == 0.0
    for key, row in ca.items():
        if key[1] not in ("adverse_events", "total"):
            assert row["cost"] == cb[key]["cost"], key
    sa, sb = contract.summary(with_ae), contract.summary(without)
    drop = float(sb["cart"]["qaly"]) - float(sa["cart"]["qaly"])
    assert math.isclose(drop, count * 0.035 / n, rel_tol=1e-9, abs_tol=1e-12)
    for col in ("ly", "ly_undisc", "ly_mcse", "remission_years"):
        assert sa["cart"][col] == sb["cart"][col], col
    assert sa["immunosuppression"] == sb["immunosuppression"]
