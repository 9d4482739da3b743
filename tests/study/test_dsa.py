"""One-way sensitivity analysis and sweeps (cartsim.study.dsa) on the KV-REF model.

KV-REF (VERIFICATION.md section 3, tests/study/conftest.py): CAR-T vs indefinite
immunosuppression with constant hazards, so costs, QALYs and swings have closed
forms. Exact checks (common random numbers make them exact) use rel 1e-9;
statistical checks use 4 standard errors with fixed seeds, never tuned.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from cartsim.analysis.cea import estimate_mean
from cartsim.errors import UsageError
from cartsim.report.folder import folder_files
from cartsim.scenario.load import load_scenario
from cartsim.study.dsa import MAX_COMBINATIONS, dsa_ranges, one_way, sweep
from cartsim.study.runner import run_scenario

N = 4000
SEED = 20240601
WTP = 100_000.0
UPFRONT = "strategies.cart.upfront_cost.product"
RELAPSE = "strategies.cart.states.remission.transitions.relapse.rate"
MONITORING = "strategies.cart.states.remission.cost.monitoring"
IS_UTILITY = "strategies.immunosuppression.states.on_is.utility"
REMISSION_UTILITY = "strategies.cart.states.remission.utility"
# KV-REF inputs for the closed forms.
C0 = 350000.0


@pytest.fixture(scope="module")
def scenario(kv_sensitivity):
    return kv_sensitivity


@pytest.fixture(scope="module")
def dsa(scenario):
    return one_way(scenario, patients=N, seed=SEED)


def test_closed_form_helper_reproduces_the_kv_ref_table(kv_inmb):
    assert kv_inmb(0.10) == pytest.approx(25_555.56, abs=0.01)


# --- one-way ---------------------------------------------------------------------------


def test_one_way_base_equals_a_plain_run(scenario, dsa, per_patient_inmb):
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
    moved = hi.measures["cost"].mean - base.measures["cost"].mean
    assert moved == pytest.approx(100_000.0, rel=1e-9)
    assert lo.measures["qaly"].mean == base.measures["qaly"].mean == hi.measures["qaly"].mean
    assert row.swing == pytest.approx(150_000.0, rel=1e-9)

def test_one_way_relapse_swing_matches_closed_form(scenario, dsa, kv_inmb, per_patient_inmb):
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
    assert res.tables() == ("dsa", "tornado", "parameters")
    dsa_table, tornado = res.table("dsa"), res.table("tornado")
    assert dsa_table.columns[:7] == ("parameter", "strategy", "unit", "low", "base", "high",
                                     "range_source")
    for point in ("low", "base", "high"):
        for col in ("inc_cost", "inc_qaly", "icer", "icer_status", "inmb_50000",
                    "inmb_100000"):
            assert f"{point}_{col}" in dsa_table.columns
    assert tornado.columns[-3:] == ("inmb_low", "inmb_high", "swing")
    assert tornado.rows[0][-1] == pytest.approx(150_000.0, rel=1e-9)
    files = folder_files(res)
    assert {"dsa.csv", "tornado.md", "parameters.csv", "run.json"} <= set(files)


# --- sweep -----------------------------------------------------------------------------


def test_sweep_grid_order_and_outputs(scenario, per_patient_inmb):
    grid = {UPFRONT: [300_000.0, 400_000.0], RELAPSE: [0.05, 0.10, 0.20]}
    res = sweep(scenario, grid, patients=N, seed=SEED)
    assert len(res.rows) == 2 * 3
    assert [dict(r.settings) for r in res.rows] == [
        {UPFRONT: c, RELAPSE: lam} for c, lam in itertools.product(*grid.values())]
    # (300,000, 0.10) is the base case with the price 50,000 lower: INMB 50,000 higher.
    base = estimate_mean(per_patient_inmb(scenario)).mean
    assert res.rows[1].comparison().inmb[WTP].mean == pytest.approx(base + 50_000.0, rel=1e-9)
    table = res.table("sweep")
    assert len(table.rows) == 6 and table.columns[:3] == (UPFRONT, RELAPSE, "strategy")


def test_sweep_converts_the_given_unit(tmp_path, kv_ref_text):
    text = kv_ref_text.replace("rate = { value = 0.10, low = 0.05, high = 0.20 }",
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


def test_sweep_rescales_a_probability_set(tmp_path, kv_ref_text):
    text = kv_ref_text.replace('start = "remission"\n', 'start = "infusion"\n', 1) + """
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
    for table in (dsa.table("dsa"), dsa.table("tornado"), res.table("sweep")):
        for row in table.rows:
            assert all(not (isinstance(v, float) and not math.isfinite(v)) for v in row)
        assert table.notes
