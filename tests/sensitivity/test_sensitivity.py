"""One-way sensitivity analysis, sweeps and threshold analysis on the KV-REF model.

KV-REF (VERIFICATION.md section 3): CAR-T vs indefinite immunosuppression with
constant hazards, so costs, QALYs and the thresholds have closed forms. Exact
checks (common random numbers make them exact) use rel 1e-9; statistical checks
use 4 standard errors with fixed seeds, never tuned.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq

from cartsim.analysis.cea import estimate_mean
from cartsim.api import run_scenario
from cartsim.errors import UsageError
from cartsim.report.sensitivity_tables import (
    one_way_tables,
    parse_grid,
    sensitivity_files,
    sweep_table,
    threshold_table,
)
from cartsim.report.tables import table_to_csv
from cartsim.scenario.load import load_scenario
from cartsim.sensitivity import MAX_COMBINATIONS, dsa_ranges, one_way, sweep, threshold

N = 4000
SEED = 20240601
WTP = 100_000.0
UPFRONT = "strategies.cart.upfront_cost.product"
RELAPSE = "strategies.cart.states.remission.transitions.relapse.rate"
MONITORING = "strategies.cart.states.remission.cost.monitoring"
IS_UTILITY = "strategies.immunosuppression.states.on_is.utility"
REMISSION_UTILITY = "strategies.cart.states.remission.utility"

KV_REF = """\
model = "custom"
[run]
patients = 4000
seed = 20240601
horizon = "lifetime"
discount = { costs = 0.035, outcomes = 0.035, convention = "continuous" }
life_table = "none"
wtp = [50000, 100000]
comparator = "immunosuppression"
[strategies.immunosuppression]
start = "on_is"
[strategies.immunosuppression.states.on_is]
utility = { value = 0.60, low = 0.60, high = 0.60 }
cost = { drugs = 20000 }
death = { rate = 0.04 }
[strategies.cart]
start = "remission"
upfront_cost = { product = { value = 350000, low = 300000, high = 450000 } }
[strategies.cart.states.remission]
utility = { value = 0.85, dist = "normal", mean = 0.85, sd = 0.1 }
cost = { monitoring = { value = 2000, dist = "gamma", mean = 2000, se = 400 } }
death = { rate = 0.015 }
[strategies.cart.states.remission.transitions.relapse]
to = "on_is"
dist = "exponential"
rate = { value = 0.10, low = 0.05, high = 0.20 }
[strategies.cart.states.on_is]
utility = 0.60
cost = { drugs = 20000 }
death = { rate = 0.04 }
"""

# KV-REF inputs for the closed forms.
R, MU_IS, MU_R, U_IS, U_R, C_IS, C_R, C0 = 0.035, 0.04, 0.015, 0.60, 0.85, 20000.0, 2000.0, 350000.0


def kv_inmb(lam: float, wtp: float = WTP) -> float:
    """Closed-form INMB of CAR-T vs IS at relapse rate ``lam`` (VERIFICATION.md 3)."""
    a = lam + MU_R + R
    q_cart = U_R / a + U_IS * lam / (a * (MU_IS + R))
    c_cart = C0 + C_R / a + C_IS * lam / (a * (MU_IS + R))
    return wtp * (q_cart - U_IS / (MU_IS + R)) - (c_cart - C_IS / (MU_IS + R))


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory):
    path = Path(tmp_path_factory.mktemp("kv")) / "kv.toml"
    path.write_text(KV_REF, encoding="utf-8")
    return load_scenario(path)


@pytest.fixture(scope="module")
def dsa(scenario):
    return one_way(scenario, patients=N, seed=SEED)


def per_patient_inmb(scenario, wtp: float = WTP, **values: float) -> np.ndarray:
    """Per-patient INMB of CAR-T vs IS from a plain run (parameters in model units)."""
    vals = {**scenario.point_values(), **values}
    res = run_scenario(scenario, patients=N, seed=SEED, values=vals)
    new, ref = res.outcomes["cart"].columns, res.outcomes["immunosuppression"].columns
    return wtp * (new["qaly"] - ref["qaly"]) - (new["cost"] - ref["cost"])


def test_closed_form_helper_reproduces_the_kv_ref_table():
    assert kv_inmb(0.10) == pytest.approx(25_555.56, abs=0.01)


# --- threshold -------------------------------------------------------------------------


def test_upfront_cost_threshold_is_the_value_based_price(scenario):
    # The upfront cost is paid at t = 0, undiscounted, by every CAR-T patient and moves
    # no random draw, so INMB falls one-for-one with it: the root is C0 + INMB(base).
    res = threshold(scenario, UPFRONT, wtp=[WTP], patients=N, seed=SEED)
    (row,) = res.rows
    base = estimate_mean(per_patient_inmb(scenario))
    assert row.value == pytest.approx(C0 + base.mean, rel=1e-9)
    assert row.slope == pytest.approx(-1.0, rel=1e-9)
    assert row.inmb_se == pytest.approx(base.se, rel=1e-9)
    assert row.interval_high - row.value == pytest.approx(1.96 * base.se, rel=1e-6)
    assert row.status == "cost-effective below the threshold"
    # Closed form: 350,000 + 25,555.56, within 4 SE of INMB.
    assert abs(row.value - (C0 + kv_inmb(0.10))) <= 4 * base.se
    assert (res.lower, res.upper, res.base, res.unit) == (0.0, 3 * C0, C0, "currency")


@settings(max_examples=8, deadline=None)
@given(wtp=st.floats(min_value=0.0, max_value=200_000.0))
def test_value_based_price_is_linear_in_wtp(scenario, wtp):
    # Exact for every WTP: price = C0 + wtp x dQ - dC with dQ, dC from the base run.
    row = threshold(scenario, UPFRONT, wtp=[wtp], patients=500, seed=3).rows[0]
    res = run_scenario(scenario, patients=500, seed=3)
    new, ref = res.outcomes["cart"].columns, res.outcomes["immunosuppression"].columns
    dq = estimate_mean(new["qaly"]).mean - estimate_mean(ref["qaly"]).mean
    dc = estimate_mean(new["cost"]).mean - estimate_mean(ref["cost"]).mean
    assert row.value == pytest.approx(C0 + wtp * dq - dc, rel=1e-9)


def test_relapse_rate_threshold_matches_closed_form(scenario):
    res = threshold(scenario, RELAPSE, wtp=[WTP], patients=N, seed=SEED)
    (row,) = res.rows
    truth = brentq(kv_inmb, 0.0, 0.3, xtol=1e-14)
    assert truth == pytest.approx(0.11095, abs=1e-5)
    assert row.status == "cost-effective below the threshold"  # INMB decreasing in lambda
    assert row.inmb_lower > 0 > row.inmb_upper and row.slope < 0
    se_root = (row.interval_high - row.interval_low) / (2 * 1.96)  # SE-equivalent of the root
    assert se_root == pytest.approx(row.inmb_se / abs(row.slope), rel=1e-9)
    assert abs(row.value - truth) <= 4 * se_root
    # At the root the simulated INMB is zero (up to Brent's tolerance).
    at_root = estimate_mean(per_patient_inmb(scenario, **{RELAPSE: row.value})).mean
    assert abs(at_root) <= 1e-6 * abs(row.slope)


def test_no_sign_change_reports_status_without_failing(scenario):
    # On [0, 0.05] per year INMB at 100,000 stays above 208,000 (closed form) and at
    # WTP 0 it is -inc_cost < 0 (CAR-T costs more at any relapse rate): no root either way.
    res = threshold(scenario, RELAPSE, wtp=[0.0, WTP], upper=0.05, patients=N, seed=SEED)
    zero, high = res.rows
    assert high.value is None and high.interval_low is None and high.interval_high is None
    assert high.status == "no threshold in [0, 0.05] per year: cost-effective throughout"
    assert high.inmb_lower > high.inmb_upper > 0
    assert zero.status == "no threshold in [0, 0.05] per year: not cost-effective throughout"
    table = threshold_table(res)
    text = table_to_csv(table)
    assert "inf" not in text and "nan" not in text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["threshold"] for r in rows] == ["NA", "NA"]
    assert table.columns[:8] == ("strategy", "comparator", "parameter", "wtp", "threshold",
                                 "unit", "interval_low", "interval_high")


def test_threshold_rejects_bad_input(scenario):
    with pytest.raises(UsageError, match="did you mean"):
        threshold(scenario, "strategies.cart.upfront_cost.prodcut", wtp=[WTP])
    with pytest.raises(UsageError, match="must be below"):
        threshold(scenario, RELAPSE, wtp=[WTP], lower=0.2, upper=0.1)
    with pytest.raises(UsageError, match=r"-0\.1.*a rate >= 0"):
        threshold(scenario, RELAPSE, wtp=[WTP], lower=-0.1)
    with pytest.raises(UsageError, match="willingness to pay"):
        threshold(scenario, RELAPSE, wtp=[])


# --- one-way ---------------------------------------------------------------------------


def test_one_way_base_equals_a_plain_run(scenario, dsa):
    res = run_scenario(scenario, patients=N, seed=SEED)
    for m in dsa.base.means:
        cols = res.outcomes[m.strategy].columns
        assert (m.cost, m.qaly, m.ly) == tuple(estimate_mean(cols[k]).mean
                                               for k in ("cost", "qaly", "ly"))
    c = dsa.base.comparison("cart")
    inmb = estimate_mean(per_patient_inmb(scenario))
    assert c.inmb[WTP].mean == pytest.approx(inmb.mean, rel=1e-12)
    assert c.inmb[WTP].se == pytest.approx(inmb.se, rel=1e-12)
    dc, dq = c.measures["cost"].mean, c.measures["qaly"].mean
    assert c.icer.value == pytest.approx(dc / dq, rel=1e-12)
    assert dsa.base.settings == () and dsa.info.patients == N and dsa.info.seed == SEED


def test_one_way_ranges_and_ranking(scenario, dsa):
    names = [r.name for r in dsa.rows]
    assert set(names) == {UPFRONT, RELAPSE, MONITORING, IS_UTILITY, REMISSION_UTILITY}
    assert set(dsa.skipped) == set(scenario.parameters) - set(names)
    swings = [r.swing for r in dsa.rows]
    assert swings == sorted(swings, reverse=True)
    for r in dsa.rows:
        lo, hi = r.low_run.comparison(), r.high_run.comparison()
        assert r.swing == abs(hi.inmb[WTP].mean - lo.inmb[WTP].mean)  # the last WTP
    # low == high: identical runs, zero swing, ranked last.
    assert dsa.rows[-1].name == IS_UTILITY and dsa.rows[-1].swing == 0.0
    # A distribution's 2.5%/97.5% points where no low/high is given.
    monitoring = next(r for r in dsa.rows if r.name == MONITORING)
    dist = scenario.parameters[MONITORING].distribution
    assert (monitoring.low, monitoring.high) == pytest.approx(dist.interval(0.95), rel=1e-12)
    assert monitoring.source.startswith("95% interval of Gamma")
    # Normal(0.85, 0.1) reaches 1.046 at 97.5%: clipped to the utility range, and said so.
    remission = next(r for r in dsa.rows if r.name == REMISSION_UTILITY)
    assert remission.high == 1.0 and "clipped to 1" in remission.high_run.adjusted


def test_one_way_cost_only_parameter_moves_cost_by_the_closed_form(dsa):
    row = next(r for r in dsa.rows if r.name == UPFRONT)
    lo, base, hi = (e.comparison() for e in (row.low_run, dsa.base, row.high_run))
    assert (row.low, row.base, row.high) == (300_000.0, C0, 450_000.0)
    assert hi.measures["cost"].mean - lo.measures["cost"].mean == pytest.approx(150_000.0, rel=1e-9)
    assert hi.measures["cost"].mean - base.measures["cost"].mean == pytest.approx(100_000.0, rel=1e-9)
    assert lo.measures["qaly"].mean == base.measures["qaly"].mean == hi.measures["qaly"].mean
    assert row.swing == pytest.approx(150_000.0, rel=1e-9)

def test_one_way_relapse_swing_matches_closed_form(scenario, dsa):
    # Closed-form swing 338,000 leads the tornado (the remission utility's is about
    # 100,000 x 0.346 / 0.15 = 230,000); 4 SE of the paired difference.
    row = dsa.rows[0]
    assert row.name == RELAPSE
    diff = per_patient_inmb(scenario, **{RELAPSE: 0.05}) - per_patient_inmb(
        scenario, **{RELAPSE: 0.20})
    est = estimate_mean(diff)
    assert row.swing == pytest.approx(est.mean, rel=1e-9)
    assert abs(row.swing - (kv_inmb(0.05) - kv_inmb(0.20))) <= 4 * est.se


def test_one_way_names_progress_and_tables(scenario):
    calls = []
    res = one_way(scenario, patients=500, seed=1, names=[UPFRONT], progress=calls.append)
    assert len(calls) == 1 + 2 * len(dsa_ranges(scenario, [UPFRONT])) == 3
    with pytest.raises(UsageError, match="did you mean"):
        one_way(scenario, names=["strategies.cart.upfront_cost.produkt"])
    dsa_table, tornado = one_way_tables(res)
    assert dsa_table.columns[:7] == ("parameter", "strategy", "unit", "low", "base", "high",
                                     "range_source")
    for point in ("low", "base", "high"):
        for col in ("inc_cost", "inc_qaly", "icer", "icer_status", "inmb_50000",
                    "inmb_100000"):
            assert f"{point}_{col}" in dsa_table.columns
    assert tornado.columns[-3:] == ("inmb_low", "inmb_high", "swing")
    assert tornado.rows[0][-1] == pytest.approx(150_000.0, rel=1e-9)
    files = sensitivity_files([dsa_table, tornado], scenario, res.info, command="dsa")
    assert {"dsa.csv", "tornado.md", "parameters.csv", "run.json"} <= set(files)


# --- sweep -----------------------------------------------------------------------------


def test_sweep_grid_order_and_outputs(scenario):
    grid = {UPFRONT: [300_000.0, 400_000.0], RELAPSE: [0.05, 0.10, 0.20]}
    res = sweep(scenario, grid, patients=N, seed=SEED)
    assert len(res.rows) == 2 * 3
    assert [dict(r.settings) for r in res.rows] == [
        {UPFRONT: c, RELAPSE: lam} for c, lam in itertools.product(*grid.values())]
    # (300,000, 0.10) is the base case with the price 50,000 lower: INMB 50,000 higher.
    base = estimate_mean(per_patient_inmb(scenario)).mean
    assert res.rows[1].comparison().inmb[WTP].mean == pytest.approx(base + 50_000.0, rel=1e-9)
    table = sweep_table(res)
    assert len(table.rows) == 6 and table.columns[:3] == (UPFRONT, RELAPSE, "strategy")


def test_sweep_converts_the_given_unit(tmp_path):
    text = KV_REF.replace("rate = { value = 0.10, low = 0.05, high = 0.20 }",
                          'rate = { value = 0.5, per = "month" }')
    path = tmp_path / "monthly.toml"
    path.write_text(text, encoding="utf-8")
    s = load_scenario(path)
    res = sweep(s, {RELAPSE: [0.01]}, patients=500, seed=5)
    assert res.units == ("per month",) and dict(res.rows[0].settings)[RELAPSE] == 0.01
    plain = run_scenario(s, patients=500, seed=5, values={**s.point_values(), RELAPSE: 0.12})
    assert res.rows[0].means[0].qaly == estimate_mean(plain.outcomes["cart"]["qaly"]).mean


def test_sweep_inmb_is_monotone_in_the_relapse_rate(scenario):
    # C2 with common random numbers: every patient relapses no later at a higher rate,
    # so INMB and CAR-T QALYs fall strictly along the grid, with no Monte Carlo jitter.
    lams = [0.0, 0.02, 0.05, 0.1, 0.15, 0.3, 0.6]
    res = sweep(scenario, {RELAPSE: lams}, patients=N, seed=SEED)
    for wtp in (50_000.0, WTP):
        inmb = [r.comparison().inmb[wtp].mean for r in res.rows]
        assert all(a > b for a, b in itertools.pairwise(inmb))
    qaly = [next(m for m in r.means if m.strategy == "cart").qaly for r in res.rows]
    assert all(a > b for a, b in itertools.pairwise(qaly))
    is_cost = {next(m for m in r.means if m.strategy == "immunosuppression").cost
               for r in res.rows}
    assert len(is_cost) == 1  # the comparator is untouched, bit for bit


def test_sweep_validates_names_values_and_size(scenario):
    with pytest.raises(UsageError, match=f"did you mean '{RELAPSE}'"):
        sweep(scenario, {RELAPSE.replace("relapse", "relaspe"): [0.1]})
    with pytest.raises(UsageError, match=rf"{IS_UTILITY}: value 1\.2 .*\[-1, 1\]"):
        sweep(scenario, {IS_UTILITY: [0.5, 1.2]})
    with pytest.raises(UsageError, match="10,000"):
        sweep(scenario, {RELAPSE: list(np.linspace(0, 1, 101)),
                         UPFRONT: list(np.linspace(0, 1e6, 100))})
    assert MAX_COMBINATIONS == 10_000
    with pytest.raises(UsageError):
        sweep(scenario, {RELAPSE: []})


def test_sweep_rescales_a_probability_set(tmp_path):
    text = KV_REF.replace('start = "remission"\n', 'start = "infusion"\n', 1) + """
[strategies.cart.chances.infusion]
then = "remission"
[strategies.cart.chances.infusion.outcomes.crs]
probability = 0.30
[strategies.cart.chances.infusion.outcomes.icans]
probability = 0.20
"""
    path = tmp_path / "chance.toml"
    path.write_text(text, encoding="utf-8")
    s = load_scenario(path)
    crs, icans = (f"strategies.cart.chances.infusion.outcomes.{e}.probability"
                  for e in ("crs", "icans"))
    assert (crs, icans) in [tuple(g) for g in s.probability_sets]
    res = sweep(s, {crs: [0.5, 1.0]}, patients=300, seed=2)
    assert res.rows[0].adjusted == ""
    values = dict(res.rows[1].settings)
    assert values[crs] == pytest.approx(1 / 1.2) and values[icans] == pytest.approx(0.2 / 1.2)
    assert "rescaled to sum to 1" in res.rows[1].adjusted


def test_tables_never_hold_non_finite_numbers(scenario, dsa):
    res = sweep(scenario, {RELAPSE: [0.1]}, patients=N, seed=SEED)
    for table in (*one_way_tables(dsa), sweep_table(res)):
        for row in table.rows:
            assert all(not (isinstance(v, float) and not math.isfinite(v)) for v in row)
        assert table.notes


def test_parse_grid():
    assert parse_grid([f"{RELAPSE}=0.01, 0.1", "x=0:1:3"]) == {RELAPSE: (0.01, 0.1),
                                                                "x": (0.0, 0.5, 1.0)}
    for bad in ("x", "x=a,b", "x=0:1", "x=0:1:0", "=1"):
        with pytest.raises(UsageError, match="--grid"):
            parse_grid([bad])
    with pytest.raises(UsageError):
        parse_grid(["x=1", "x=2"])
