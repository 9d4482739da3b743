"""Battery A of VERIFICATION.md: analytic known values (KV-0, KV-REF, KV-CTMC, KV-WEIB).

Statistical checks use |estimate − truth| ≤ 4·SE (§2.2), with the analytic SD
where §2.7 gives one and the sample SD otherwise; A7 compares many quantities
at once and uses 4.5 SE (Bonferroni, §4 A7). Exact checks use == or rel 1e-9.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate
from scipy.linalg import expm

from cartsim.params.life_table import read_life_table

R = 0.035
MU = 0.05


@pytest.fixture(scope="module")
def kv0(kv):
    """KV-0 (μ = 0.05, r = 0.035, lifetime), u = 0.7, c = 12,345/yr, C = 10,000 at death."""
    return kv.run(kv.KV_0).outcomes["kv0"].columns


@pytest.fixture(scope="module")
def kvref(kv):
    return kv.run(kv.KV_REF)


# --- A1-A3: KV-0 -------------------------------------------------------------


def test_kv0_mean_discounted_life_years(kv, kv0):
    """A1: E[disc LY] = 1/(μ+r) = 11.7647, SD sqrt(μ/((μ+r)²(μ+2r))) = 7.594 (§2.7)."""
    truth = 1.0 / (MU + R)
    assert truth == pytest.approx(11.7647, abs=1e-4)
    assert kv.kv0_sd(MU, R) == pytest.approx(7.594, abs=1e-3)
    kv.assert_within(kv.mean_check("disc LY", kv0["ly"], truth, kv.kv0_sd(MU, R)))


def test_kv0_cost_rate_and_utility_are_exact_multiples_of_life_years(kv, kv0):
    """A2: per patient cost/c == QALY/u == LY (one state, one trajectory), exact;
    means c/(μ+r) and u/(μ+r) at 4 SE with SDs c·7.594 and u·7.594."""
    c, u = 12345.0, 0.7
    np.testing.assert_allclose(kv0["cost_drugs"] / c, kv0["ly"], rtol=1e-12, atol=0)
    np.testing.assert_allclose(kv0["qaly"] / u, kv0["ly"], rtol=1e-12, atol=0)
    np.testing.assert_allclose(kv0["cost_drugs_undisc"] / c, kv0["ly_undisc"], rtol=1e-12)
    np.testing.assert_allclose(kv0["qaly_undisc"] / u, kv0["ly_undisc"], rtol=1e-12)
    sd = kv.kv0_sd(MU, R)
    kv.assert_within([
        kv.mean_check("disc cost of rate c", kv0["cost_drugs"], c / (MU + R), c * sd),
        kv.mean_check("disc QALY", kv0["qaly"], u / (MU + R), u * sd),
    ])


def test_kv0_one_off_cost_at_death(kv, kv0):
    """A3: E[C e^{−rT}] = Cμ/(μ+r) = 5,882.35; analytic SD
    C·sqrt(μ/(μ+2r) − (μ/(μ+r))²); per patient exactly C·e^{−r·T_death}."""
    cost = 10000.0
    truth = cost * MU / (MU + R)
    assert truth == pytest.approx(5882.35, abs=0.01)
    assert np.all(kv0["died"] == 1)
    np.testing.assert_allclose(kv0["cost_other"], cost * np.exp(-R * kv0["end_time"]),
                               rtol=1e-12)
    np.testing.assert_array_equal(kv0["cost_other_undisc"], np.full(kv0["ly"].size, cost))
    sd = cost * math.sqrt(MU / (MU + 2 * R) - (MU / (MU + R)) ** 2)
    kv.assert_within(kv.mean_check("disc one-off cost at death", kv0["cost_other"], truth, sd))


# --- A4, A5: KV-REF ----------------------------------------------------------


def test_kvref_competing_risks_relapse_fraction_and_first_event_time(kv, kvref):
    """A4: P(relapse before death) = λ/(λ+μ_R) = 0.869565 (binomial SE);
    mean time to first event = 1/(λ+μ_R) = 8.6957 (SD = mean: exponential)."""
    lam, mu_r = 0.10, 0.015
    log = kvref.logs["cart"]
    n = log.n_patients
    relapsers, _ = kv.event_rows(log, "relapse")
    relapsed = np.zeros(n, dtype=bool)
    relapsed[relapsers] = True
    # Lifetime horizon: everyone dies, and a relapse can only precede death.
    assert np.all(kvref.outcomes["cart"]["died"] == 1)
    rem = log.sojourn_state == log.state_code("remission")
    assert np.array_equal(np.bincount(log.sojourn_patient[rem], minlength=n), np.ones(n))
    first = np.empty(n)
    first[log.sojourn_patient[rem]] = log.sojourn_end[rem] - log.sojourn_start[rem]
    kv.assert_within([
        kv.proportion_check("relapse before death", relapsed, lam / (lam + mu_r)),
        kv.mean_check("time to first event", first, 1 / (lam + mu_r), 1 / (lam + mu_r)),
    ])


def test_kvref_full_closed_form_both_arms_and_increments(kv, kvref):
    """A5: both arms' disc QALY, cost, LY; ΔQ, ΔC, ΔLY and INMB(100k) against §3
    (IS 8.0 / 266,666.67 / 13.3333, CAR-T 11.0 / 541,111.11 / 15.5556, INMB 25,555.56);
    IS arm with the KV-0 analytic SD, CAR-T and paired increments with sample SDs."""
    cf = kv.closed_form()
    # The closed form reproduces the §3 table (guards the oracle itself).
    for key, value in (("is_qaly", 8.0), ("cart_qaly", 11.0), ("is_cost", 266666.67),
                       ("cart_cost", 541111.11), ("is_ly", 13.3333), ("cart_ly", 15.5556),
                       ("d_qaly", 3.0), ("d_cost", 274444.44)):
        assert cf[key] == pytest.approx(value, abs=0.01), key
    assert cf["d_cost"] / cf["d_qaly"] == pytest.approx(91481.48, abs=0.01)
    inmb_truth = 100000 * cf["d_qaly"] - cf["d_cost"]
    assert inmb_truth == pytest.approx(25555.56, abs=0.01)

    ci, cc = kvref.outcomes["immunosuppression"].columns, kvref.outcomes["cart"].columns
    sd_is = kv.kv0_sd(0.04, R)
    checks = [
        kv.mean_check("IS QALY", ci["qaly"], cf["is_qaly"], 0.6 * sd_is),
        kv.mean_check("IS cost", ci["cost"], cf["is_cost"], 20000 * sd_is),
        kv.mean_check("IS LY", ci["ly"], cf["is_ly"], sd_is),
        kv.mean_check("CAR-T QALY", cc["qaly"], cf["cart_qaly"]),
        kv.mean_check("CAR-T cost", cc["cost"], cf["cart_cost"]),
        kv.mean_check("CAR-T LY", cc["ly"], cf["cart_ly"]),
        kv.mean_check("dQ", cc["qaly"] - ci["qaly"], cf["d_qaly"]),
        kv.mean_check("dC", cc["cost"] - ci["cost"], cf["d_cost"]),
        kv.mean_check("dLY", cc["ly"] - ci["ly"], cf["d_ly"]),
        kv.mean_check("INMB(100k)", 100000 * (cc["qaly"] - ci["qaly"]) - (cc["cost"] - ci["cost"]),
                      inmb_truth),
    ]
    kv.assert_within(checks)


# --- A6: finite horizon ------------------------------------------------------


def test_kv0_horizon_ten_years(kv):
    """A6: H = 10: E[disc LY] = (1 − e^{−(μ+r)H})/(μ+r) = 6.7363 (sample SD);
    P(death < H) = 1 − e^{−μH} = 0.3935 (binomial SE); nothing accrues after H
    (every end_time ≤ 10, sojourn end ≤ 10, events < 10, survivors end at exactly 10)."""
    h = 10.0
    res = kv.run(kv.KV_0, ["run.horizon=10"])
    col, log = res.outcomes["kv0"].columns, res.logs["kv0"]
    truth = -math.expm1(-(MU + R) * h) / (MU + R)
    assert truth == pytest.approx(6.7363, abs=1e-4)
    assert np.all(col["end_time"] <= h)
    assert np.all(log.sojourn_end <= h)
    assert np.all(log.event_time < h)
    assert np.all(col["ly_undisc"] <= h)
    assert np.all(col["end_time"][col["died"] == 0] == h)
    assert np.all(col["end_time"][col["died"] == 1] < h)
    # Cost and QALY accrue only over [0, end_time): exact multiples of LY.
    np.testing.assert_allclose(col["cost_drugs"], 12345.0 * col["ly"], rtol=1e-12)
    np.testing.assert_allclose(col["cost_other"],
                               np.where(col["died"] == 1, 1e4 * np.exp(-R * col["end_time"]), 0),
                               rtol=1e-12)
    kv.assert_within([
        kv.mean_check("disc LY, H = 10", col["ly"], truth),
        kv.proportion_check("death before H", col["died"] == 1, -math.expm1(-MU * h)),
    ])


def test_engine_event_at_exactly_the_horizon_is_not_counted(kv):
    """Rule of the README (§1 simpy ties): the interval is [0, H); a fixed(10)
    transition with H = 10 never fires, and everyone is censored at 10."""
    text = """
model = "custom"
[run]
horizon = 10
life_table = "none"
[strategies.s]
start = "a"
[strategies.s.states.a]
utility = 1
[strategies.s.states.a.transitions.exit]
to = "dead"
dist = "fixed"
time = 10
"""
    col = kv.run(text, patients=50).outcomes["s"].columns
    assert np.all(col["n_exit"] == 0)
    assert np.all(col["died"] == 0)
    assert np.all(col["end_time"] == 10.0)
    assert np.all(col["ly_undisc"] == 10.0)


def test_engine_equal_time_transitions_resolve_in_name_order(kv):
    """Tie rule: transitions at the same time fire in name order ("a_first" before
    "b_second"), whatever order the file declares them in."""
    text = """
model = "custom"
[run]
horizon = "lifetime"
life_table = "none"
[strategies.s]
start = "a"
[strategies.s.states.a]
utility = 1
[strategies.s.states.a.transitions.b_second]
to = "b"
dist = "fixed"
time = 5
[strategies.s.states.a.transitions.a_first]
to = "dead"
dist = "fixed"
time = 5
[strategies.s.states.b]
utility = 1
death = { rate = 1 }
"""
    col = kv.run(text, patients=20).outcomes["s"].columns
    assert np.all(col["n_a_first"] == 1)
    assert np.all(col["n_b_second"] == 0)
    assert np.all(col["end_time"] == 5.0)


# --- A7: CTMC oracle ---------------------------------------------------------


def ctmc_oracle(q_t: np.ndarray, p0: np.ndarray, r: float, h: float | None = None) -> np.ndarray:
    """Expected discounted occupancy of each transient state (VERIFICATION §3 KV-CTMC)."""
    n = len(p0)
    eye = np.eye(n)
    a = q_t - r * eye
    if h is None:
        return p0 @ np.linalg.inv(-a)
    return p0 @ np.linalg.inv(a) @ (expm(a * h) - eye)


def random_ctmc(rng: np.random.Generator) -> dict:
    """A 2-4-state constant-hazard model: a chain s0 → s1 → … plus random extra
    transitions (backwards included), each state with its own death rate."""
    k = int(rng.integers(2, 5))
    q = np.zeros((k, k))
    for i in range(k):
        for j in range(k):
            if i != j and (j == i + 1 or rng.random() < 0.5):
                q[i, j] = rng.uniform(0.03, 0.4)
    return {
        "k": k, "q": q, "death": rng.uniform(0.01, 0.12, k),
        "utility": rng.uniform(0.3, 0.95, k), "cost": rng.uniform(1000, 30000, k),
        "tcost": np.where(q > 0, rng.uniform(500, 20000, (k, k)), 0.0),
    }


def ctmc_toml(m: dict, horizon: str) -> str:
    def f(x: float) -> str:
        return repr(float(x))

    lines = ["model = \"custom\"", "[run]", f"horizon = {horizon}", "life_table = \"none\"",
             f"discount = {{ costs = {R!r}, outcomes = {R!r}, convention = \"continuous\" }}",
             "[strategies.ctmc]", "start = \"s0\""]
    for i in range(m["k"]):
        lines += [f"[strategies.ctmc.states.s{i}]", f"utility = {f(m['utility'][i])}",
                  f"cost = {{ drugs = {f(m['cost'][i])} }}",
                  f"death = {{ rate = {f(m['death'][i])} }}"]
        for j in range(m["k"]):
            if m["q"][i, j] > 0:
                lines += [f"[strategies.ctmc.states.s{i}.transitions.t{i}_{j}]",
                          f"to = \"s{j}\"", f"rate = {f(m['q'][i, j])}",
                          f"cost = {{ adverse_events = {f(m['tcost'][i, j])} }}"]
    return "\n".join(lines) + "\n"


_STRUCTURE_RNG = np.random.default_rng(20240601)
CTMC_MODELS = [random_ctmc(_STRUCTURE_RNG) for _ in range(2)]


@pytest.mark.parametrize("horizon", [None, 15.0], ids=["lifetime", "H15"])
@pytest.mark.parametrize("index", [0, 1])
def test_ctmc_random_structure_matches_oracle(kv, index, horizon):
    """A7: state occupancies, QALY = occ·u, state cost = occ·c, discounted i→j
    transition counts = occ_i·q_ij (via the log and via a one-off transition cost in
    `adverse_events`) and LY = Σ occ match KV-CTMC at 4.5 SE (Bonferroni), sample SDs."""
    m = CTMC_MODELS[index]
    k, q = m["k"], m["q"]
    q_t = q - np.diag(q.sum(axis=1) + m["death"])
    p0 = np.eye(k)[0]
    occ = ctmc_oracle(q_t, p0, R, horizon)
    res = kv.run(ctmc_toml(m, "\"lifetime\"" if horizon is None else repr(horizon)))
    col, log = res.outcomes["ctmc"].columns, res.logs["ctmc"]
    n = log.n_patients

    disc = (np.exp(-R * log.sojourn_start) - np.exp(-R * log.sojourn_end)) / R
    checks = []
    for i in range(k):
        mask = log.sojourn_state == log.state_code(f"s{i}")
        per_patient = np.bincount(log.sojourn_patient[mask], weights=disc[mask], minlength=n)
        checks.append(kv.mean_check(f"occupancy s{i}", per_patient, occ[i]))
    for i in range(k):
        for j in range(k):
            if q[i, j] > 0:
                pat, times = kv.event_rows(log, f"t{i}_{j}")
                per_patient = np.bincount(pat, weights=np.exp(-R * times), minlength=n)
                checks.append(kv.mean_check(f"disc count t{i}_{j}", per_patient,
                                            occ[i] * q[i, j]))
    checks += [
        kv.mean_check("QALY", col["qaly"], occ @ m["utility"]),
        kv.mean_check("state cost", col["cost_drugs"], occ @ m["cost"]),
        kv.mean_check("transition cost", col["cost_adverse_events"],
                      float(np.sum(occ[:, None] * q * m["tcost"]))),
        kv.mean_check("LY", col["ly"], occ.sum()),
    ]
    kv.assert_within(checks, z=4.5)


def test_ctmc_oracle_reproduces_kvref():
    """The oracle itself: KV-REF's generator gives the §3 closed form (8.0 and 11.0 QALYs)."""
    q_t = np.array([[-(0.10 + 0.015), 0.10], [0.0, -0.04]])
    occ = ctmc_oracle(q_t, np.array([1.0, 0.0]), R)
    assert occ @ np.array([0.85, 0.60]) == pytest.approx(11.0, rel=1e-12)
    occ_is = ctmc_oracle(np.array([[-0.04]]), np.array([1.0]), R)
    assert occ_is[0] * 0.6 == pytest.approx(8.0, rel=1e-12)
    # Horizon form tends to the lifetime form.
    np.testing.assert_allclose(ctmc_oracle(q_t, np.array([1.0, 0.0]), R, 2000.0), occ,
                               rtol=1e-12)


# --- A8, A9: Weibull ---------------------------------------------------------

WEIBULL = """
model = "custom"
[run]
horizon = "lifetime"
discount = { costs = 0.035, outcomes = 0.035, convention = "continuous" }
life_table = "none"
[strategies.weib]
start = "alive"
[strategies.weib.states.alive]
utility = 1
[strategies.weib.states.alive.transitions.die]
to = "dead"
dist = "weibull"
shape = 1.5
scale = 8
"""


def test_weibull_death_moments_median_and_discounted_life_years(kv):
    """A8: death ~ Weibull(1.5, 8) as a transition to "dead": mean undisc LY
    8·Γ(1+1/1.5) = 7.2220 (analytic SD); empirical CDF at the median 8·ln2^{1/1.5}
    = 6.2658 equals 0.5 within 4·sqrt(0.25/n); disc LY ∫e^{−rt}S(t)dt = 6.0715
    (quadrature; analytic SD from E[L²] = ∫ 2L(t)e^{−rt}S(t)dt)."""
    shape, scale = 1.5, 8.0
    col = kv.run(WEIBULL).outcomes["weib"].columns
    mean = scale * math.gamma(1 + 1 / shape)
    sd = scale * math.sqrt(math.gamma(1 + 2 / shape) - math.gamma(1 + 1 / shape) ** 2)
    median = scale * math.log(2) ** (1 / shape)
    assert mean == pytest.approx(7.2220, abs=1e-4)
    assert median == pytest.approx(6.2658, abs=1e-4)

    def surv(t):
        return math.exp(-((t / scale) ** shape))

    def disc(t):
        return -math.expm1(-R * t) / R

    e_l = integrate.quad(lambda t: math.exp(-R * t) * surv(t), 0, math.inf)[0]
    e_l2 = integrate.quad(lambda t: 2 * disc(t) * math.exp(-R * t) * surv(t), 0, math.inf)[0]
    assert e_l == pytest.approx(6.0715, abs=1e-4)
    assert np.all(col["died"] == 1)
    np.testing.assert_array_equal(col["ly_undisc"], col["end_time"])
    kv.assert_within([
        kv.mean_check("undisc LY", col["ly_undisc"], mean, sd),
        kv.proportion_check("ECDF at the median", col["end_time"] <= median, 0.5),
        kv.mean_check("disc LY", col["ly"], e_l, math.sqrt(e_l2 - e_l**2)),
    ])


def test_weibull_shape_one_is_the_exponential(kv):
    """A9: Weibull(shape 1, scale 1/μ) and Exp(μ), same transition name ("die", so the
    same uniforms): per-patient death times equal to rel 1e-12."""
    mu = 0.07
    text = f"""
model = "custom"
[run]
horizon = "lifetime"
life_table = "none"
[strategies.expo]
start = "alive"
[strategies.expo.states.alive]
utility = 1
[strategies.expo.states.alive.transitions.die]
to = "dead"
dist = "exponential"
rate = {mu!r}
[strategies.weib]
start = "alive"
[strategies.weib.states.alive]
utility = 1
[strategies.weib.states.alive.transitions.die]
to = "dead"
dist = "weibull"
shape = 1
scale = {1 / mu!r}
"""
    res = kv.run(text, patients=kv.N_EXACT)
    t_exp = res.outcomes["expo"]["end_time"]
    t_weib = res.outcomes["weib"]["end_time"]
    assert np.all(res.outcomes["expo"]["died"] == 1)
    assert np.all(np.isfinite(t_exp)) and np.all(t_exp > 0)
    np.testing.assert_allclose(t_weib, t_exp, rtol=1e-12, atol=0)


# --- A12: adverse event at infusion ------------------------------------------


@pytest.fixture(scope="module")
def crs_runs(kv):
    """KV-REF with an infusion chance node: P(CRS) = 0.15 and the AE-free run (p = 0)."""
    p_key = "strategies.cart.chances.infusion.outcomes.crs.probability"
    return kv.run(kv.KV_REF_AE), kv.run(kv.KV_REF_AE, [f"{p_key}=0.0"])


def test_chance_crs_fraction_cost_and_qaly_loss(kv, crs_runs):
    """A12: CRS fraction 0.15 (binomial 4 SE, ±0.0101 at 20k); AE cost exactly
    n_crs × 25,000 per patient (at t = 0, undiscounted) with mean 3,750 at 4 SE;
    QALY drop vs the p = 0 run exactly 0.02 × n_crs per patient."""
    with_ae, without = (r.outcomes["cart"].columns for r in crs_runs)
    n_crs = with_ae["n_crs"]
    assert set(np.unique(n_crs)) <= {0, 1}
    assert np.all(without["n_crs"] == 0)
    np.testing.assert_array_equal(with_ae["cost_adverse_events"], 25000.0 * n_crs)
    np.testing.assert_array_equal(with_ae["cost_adverse_events_undisc"], 25000.0 * n_crs)
    np.testing.assert_allclose(without["qaly"] - with_ae["qaly"], 0.02 * n_crs,
                               rtol=0, atol=1e-12)
    np.testing.assert_allclose(without["qaly_undisc"] - with_ae["qaly_undisc"], 0.02 * n_crs,
                               rtol=0, atol=1e-12)
    np.testing.assert_allclose(with_ae["cost"] - without["cost"], 25000.0 * n_crs,
                               rtol=0, atol=1e-6)
    n = n_crs.size
    kv.assert_within([
        kv.proportion_check("CRS fraction", n_crs == 1, 0.15),
        kv.mean_check("AE cost", with_ae["cost_adverse_events"], 0.15 * 25000,
                      25000 * math.sqrt(0.15 * 0.85)),
    ])
    assert n == kv.N_STAT


def test_chance_crs_changes_no_other_outcome(crs_runs):
    """A12 / D8: the CRS branch changes only n_crs, the AE cost and the QALYs; every
    other per-patient output of both arms is bit-identical to the AE-free run."""
    with_ae, without = crs_runs
    changed = {"n_crs", "cost", "cost_undisc", "cost_adverse_events",
               "cost_adverse_events_undisc", "qaly", "qaly_undisc"}
    for strategy in ("cart", "immunosuppression"):
        a, b = with_ae.outcomes[strategy].columns, without.outcomes[strategy].columns
        assert set(a) == set(b)
        for name in a:
            if strategy == "immunosuppression" or name not in changed:
                np.testing.assert_array_equal(a[name], b[name], err_msg=f"{strategy}.{name}")


UNITS = """
model = "custom"
[run]
horizon = "lifetime"
life_table = "none"
[strategies.other]
start = "a"
[strategies.other.states.a]
utility = 1
[strategies.other.states.a.transitions.go]
to = "b"
rate = {go_rate}
per = "{per}"
[strategies.other.states.b]
utility = 1
[strategies.other.states.b.transitions.stop]
to = "dead"
dist = "fixed"
time = {stop_time}
unit = "{unit}"
[strategies.year]
start = "a"
[strategies.year.states.a]
utility = 1
[strategies.year.states.a.transitions.go]
to = "b"
rate = 6.0
[strategies.year.states.b]
utility = 1
[strategies.year.states.b.transitions.stop]
to = "dead"
dist = "fixed"
time = 1
"""


@pytest.mark.parametrize(("stop_time", "unit"), [(365.25, "days"), (12, "months"),
                                                 (1, "years")])
def test_durations_in_days_and_months_convert_to_years(kv, stop_time, unit):
    """Units (§6.3): fixed(365.25 days) = fixed(12 months) = fixed(1 year): every patient
    ends exactly 1 year after the (shared) "go" event (rel 1e-12)."""
    res = kv.run(UNITS.format(go_rate=6.0, per="year", stop_time=stop_time, unit=unit),
                 patients=500)
    go = kv.event_rows(res.logs["year"], "go")[1]
    np.testing.assert_allclose(res.outcomes["other"]["end_time"], go + 1.0, rtol=1e-12)
    np.testing.assert_allclose(res.outcomes["year"]["end_time"], go + 1.0, rtol=1e-12)


@pytest.mark.parametrize(("go_rate", "per"), [(0.5, "month"), (6.0 / 365.25, "day"),
                                              (6.0 * 7 / 365.25, "week")],
                         ids=["month", "day", "week"])
def test_rates_per_month_week_day_convert_to_per_year(kv, go_rate, per):
    """Units (§6.3): a rate of 0.5 per month (or 6/365.25 per day, 42/365.25 per week) is
    6 per year: with the same transition name ("go", same uniforms) every patient's event
    time equals the per-year model's (rel 1e-12), mean 1/6 year."""
    res = kv.run(UNITS.format(go_rate=repr(go_rate), per=per, stop_time=1, unit="years"),
                 patients=500)
    go_other = kv.event_rows(res.logs["other"], "go")[1]
    go_year = kv.event_rows(res.logs["year"], "go")[1]
    kv.assert_within(kv.mean_check("time to go, per-year model (Exp(6))", go_year, 1 / 6, 1 / 6))
    np.testing.assert_allclose(go_other, go_year, rtol=1e-12)


LIFE_TABLE = """
model = "custom"
[run]
horizon = "lifetime"
life_table = "us_ssa_2025"
[cohort]
age = 60
female = 1.0
[strategies.lt]
start = "alive"
[strategies.lt.states.alive]
utility = 1
death = { life_table = 1.5 }
"""


def test_life_table_survival_and_causes_match_the_table(kv):
    """Death = 1.5 × the US SSA 2025 female table from age 60: P(alive at 60 + x) =
    exp(−1.5·(H(60+x) − H(60))) for x = 5, 10, 20, 30 (binomial SE, 4.5 SE for 5 checks);
    the hazard is 1.5·μ at every age, so a death is "background" with probability 1/1.5
    and "disease" (the excess of the ratio) otherwise."""
    res = kv.run(LIFE_TABLE)
    out = res.outcomes["lt"]
    table = read_life_table()
    assert np.all(out["died"] == 1)
    checks = []
    for x in (5.0, 10.0, 20.0, 30.0):
        h = table.cumulative_hazard("female", 60 + x) - table.cumulative_hazard("female", 60)
        checks.append(kv.proportion_check(f"alive at {60 + x:g}", out["end_time"] > x,
                                          math.exp(-1.5 * h)))
    cause = np.asarray(out.cause_names)[out["cause"]]
    assert set(cause) == {"background", "disease"}
    checks.append(kv.proportion_check("background share of deaths", cause == "background",
                                      1 / 1.5))
    kv.assert_within(checks, z=4.5)
