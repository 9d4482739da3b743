"""ICER's one-time-therapy variants (analysis.one_time) and the yearly costs behind them
(outcomes.annual): closed forms first, then agreement with the model and with
`cartsim threshold` on the same seed."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cartsim.analysis.one_time import (
    CAP,
    cap_excess,
    one_time_variants,
    shared_offsets,
    value_based_price,
)
from cartsim.engine.events import EventLog
from cartsim.outcomes.annual import annual_costs, years_needed
from cartsim.pathway.model import Valuation
from cartsim.scenario.load import load_scenario
from cartsim.study.one_time_tables import annual_offsets, one_time_tables
from cartsim.study.runner import run_scenario
from cartsim.vocabulary import COST_CATEGORIES

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "scenarios" / "base.toml"
money = st.floats(-1e7, 1e7, allow_nan=False)


@given(offsets=money)
def test_shared_offsets_halves_a_saving_exactly_and_keeps_an_added_cost(offsets):
    credited = shared_offsets(offsets)
    assert credited == (offsets / 2 if offsets > 0 else offsets)


@given(d=st.lists(st.floats(0, 1e6), min_size=1, max_size=30), cap=st.floats(0, 5e5))
def test_cap_binds_only_in_years_whose_offset_exceeds_it(d, cap):
    undisc = np.array(d)
    disc = undisc * 0.97 ** np.arange(undisc.size)
    excess, years = cap_excess(disc, undisc, cap)
    over = undisc > cap
    assert years == int(over.sum())
    assert excess == pytest.approx(float(np.sum(disc[over] * (1 - cap / undisc[over]))),
                                   rel=1e-12, abs=1e-9)
    if not over.any():
        assert excess == 0.0


def test_cap_excess_known_value():
    # 200k in year 0 (discount factor 1) loses 50k; 100k and a net added cost are untouched.
    assert cap_excess([200_000.0, 97_000.0, -5_000.0], [200_000.0, 100_000.0, -5_000.0]) == \
        (50_000.0, 1)


def test_value_based_price_is_linear_root():
    assert value_based_price(450_000.0, -61_500.0, 1.23) == pytest.approx(400_000.0, rel=1e-15)
    assert value_based_price(450_000.0, 10.0, 0.0) is None


def _columns(product, episode, drugs, qaly):
    cols = {f"cost_{c}": np.zeros(len(qaly)) for c in COST_CATEGORIES}
    cols["cost_product"], cols["cost_infusion_episode"] = np.array(product), np.array(episode)
    cols["cost_drugs"] = np.array(drugs)
    cols["cost"] = sum(cols[f"cost_{c}"] for c in COST_CATEGORIES)
    cols["qaly"] = np.array(qaly)
    return cols


def test_variants_closed_form_on_a_hand_table():
    """Two patients. Comparator: drugs 300k and 500k; CAR-T: one product charge each
    (discounted units 1.0 and 0.9 -> 0.95) at price 400k, episode 50k, drugs 100k and 0.
    Net offset = mean(200k, 500k) = 350k; therapy = 0.95 x 400k + 50k = 430k."""
    new = _columns([400_000.0, 360_000.0], [50_000.0, 50_000.0], [100_000.0, 0.0], [12.0, 14.0])
    ref = _columns([0.0, 0.0], [0.0, 0.0], [300_000.0, 500_000.0], [10.0, 11.0])
    annual = (np.array([160_000.0, 120_000.0, 70_000.0]),
              np.array([160_000.0, 125_000.0, 75_000.0]))
    r = one_time_variants(new, ref, annual, strategy="car_t", comparator="is",
                          wtp=[100_000.0], price=400_000.0)
    std, shared, capped = r.variants
    assert r.offsets == pytest.approx(350_000.0, rel=1e-15)
    assert r.therapy_cost == pytest.approx(430_000.0, rel=1e-15)
    assert r.units == pytest.approx(0.95, rel=1e-15)
    assert std.inc_cost.mean == pytest.approx(80_000.0, rel=1e-15)
    assert shared.offsets_credited == r.offsets / 2
    assert shared.inc_cost.mean == pytest.approx(80_000.0 + 175_000.0, rel=1e-15)
    # Cap: year 0 has 160k undiscounted -> 10k/160k of its 160k discounted is cut.
    assert capped.years_capped == 1
    assert capped.inc_cost.mean == pytest.approx(80_000.0 + 10_000.0, rel=1e-12)
    d_qaly = 2.5
    for v in r.variants:
        assert v.inmb[100_000.0] == pytest.approx(100_000 * d_qaly - v.inc_cost.mean, rel=1e-12)
        assert v.price[100_000.0] == pytest.approx(400_000 + v.inmb[100_000.0] / 0.95, rel=1e-12)
    # MCSE of the shared variant: paired per-patient increments d_i + 0.5 offset_i.
    per_patient = np.array([(450_000 - 200_000) + 100_000, (410_000 - 500_000) + 250_000])
    assert shared.inc_cost.se == pytest.approx(per_patient.std(ddof=1) / math.sqrt(2), rel=1e-12)


def test_value_based_price_makes_inmb_zero_when_the_price_is_changed():
    """Recharging every product at the value-based price gives INMB = 0 in each variant."""
    units = np.array([1.0, 0.9, 1.8])
    new = _columns(list(400_000.0 * units), [50_000.0] * 3, [10_000.0, 0.0, 40_000.0],
                   [12.0, 14.0, 9.0])
    ref = _columns([0.0] * 3, [0.0] * 3, [300_000.0, 500_000.0, 90_000.0], [10.0, 11.0, 8.5])
    annual = (np.array([200_000.0, 80_000.0]), np.array([210_000.0, 90_000.0]))
    r = one_time_variants(new, ref, annual, strategy="c", comparator="r", wtp=[50_000.0],
                          price=400_000.0)
    for v in r.variants:
        p = v.price[50_000.0]
        again = _columns(list(p * units), [50_000.0] * 3, [10_000.0, 0.0, 40_000.0],
                         [12.0, 14.0, 9.0])
        w = next(x for x in one_time_variants(again, ref, annual, strategy="c", comparator="r",
                                              wtp=[50_000.0], price=p).variants
                 if x.name == v.name)
        assert w.inmb[50_000.0] == pytest.approx(0.0, abs=1e-6)


def test_annual_costs_known_value_for_one_sojourn_and_one_event():
    """Cost rate 1,000/yr over [0, 2.5] and a 5,000 event at t = 1.0 (year 0, whose
    interval is [0, 1]): year k gets 1000 (e^{-rk} - e^{-r min(k+1, 2.5)}) / r."""
    r = math.log(1.03)
    log = EventLog(
        strategy="x", n_patients=1, state_names=("sick",), event_names=("bill",),
        cause_names=("death",), sojourn_patient=np.array([0]), sojourn_state=np.array([0]),
        sojourn_start=np.array([0.0]), sojourn_end=np.array([2.5]),
        event_patient=np.array([0]), event_code=np.array([0]), event_time=np.array([1.0]),
        end_time=np.array([2.5]), cause=np.array([0]))
    val = {"g": Valuation({"sick": {"drugs": 1000.0}}, {"sick": 0.5},
                          {"bill": {"other": 5000.0}})}
    ac = annual_costs(log, val, ["g"], r, years_needed([log.end_time]))
    drugs, other = COST_CATEGORIES.index("drugs"), COST_CATEGORIES.index("other")
    ends = [(0, 1), (1, 2), (2, 2.5)]
    expected = [1000 * (math.exp(-r * a) - math.exp(-r * b)) / r for a, b in ends]
    np.testing.assert_allclose(ac.discounted[:, drugs], expected, rtol=1e-12)
    np.testing.assert_allclose(ac.undiscounted[:, drugs], [1000, 1000, 500], rtol=1e-12)
    np.testing.assert_allclose(ac.discounted[:, other], [5000 / 1.03, 0, 0], rtol=1e-12)


@pytest.fixture(scope="module")
def base_run():
    return run_scenario(load_scenario(BASE), patients=1500, seed=11)


def test_annual_costs_add_up_to_the_lifetime_totals_of_every_category(base_run):
    r = base_run
    years = years_needed([log.end_time for log in r.logs.values()])
    for s in r.strategies:
        ac = annual_costs(r.logs[s], r.models[s].valuations, r.cohort.group, r.rates.costs,
                          years, r.scenario.run.cost_factor)
        cols = r.outcomes[s].columns
        for c, cat in enumerate(COST_CATEGORIES):
            for table, key in ((ac.discounted, f"cost_{cat}"),
                               (ac.undiscounted, f"cost_{cat}_undisc")):
                assert table[:, c].sum() == pytest.approx(cols[key].mean(), rel=1e-9, abs=1e-6)


def test_standard_variant_is_the_ordinary_analysis_and_cap_does_not_bind_in_base(base_run):
    table = one_time_tables(base_run)[0]
    rows = {row[2]: dict(zip(table.columns, row, strict=True)) for row in table.rows}
    ref, new = (base_run.outcomes[s].columns for s in ("immunosuppression", "car_t"))
    assert rows["standard"]["inc_cost"] == (math.fsum(new["cost"].tolist()) / new["cost"].size
                                            - math.fsum(ref["cost"].tolist()) / ref["cost"].size)
    undisc = annual_offsets(base_run, "car_t")[1]
    assert undisc.max() < CAP and rows["offset_cap"]["years_capped"] == 0
    assert rows["offset_cap"]["inc_cost"] == rows["standard"]["inc_cost"]
    assert rows["shared_savings"]["offsets_credited"] == rows["standard"]["cost_offsets"] / 2


def test_cap_binds_for_ivig_dependent_myositis():
    """IIM on maintenance IVIG (~$285,000/yr drugs): the first years' offsets exceed the cap."""
    s = load_scenario(ROOT / "scenarios" / "cost_conventional_high.toml",
                      ["cohort.mix.sle=0", "cohort.mix.ssc=0", "cohort.mix.iim=1"])
    result = run_scenario(s, patients=800, seed=5)
    undisc = annual_offsets(result, "car_t")[1]
    table = one_time_tables(result)[0]
    rows = {row[2]: dict(zip(table.columns, row, strict=True)) for row in table.rows}
    assert rows["offset_cap"]["years_capped"] == int(np.count_nonzero(undisc > CAP)) > 0
    assert rows["offset_cap"]["inc_cost"] > rows["standard"]["inc_cost"]
    assert rows["offset_cap"]["value_based_price_150000"] < \
        rows["standard"]["value_based_price_150000"]


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_value_based_price_agrees_with_threshold_command(cli, tmp_path):
    """`cartsim threshold --param costs.car_t.product` finds, by Brent's method on the
    same seed, the root the closed form gives (its tolerance: 1e-10 of the bracket)."""
    common = ["--patients", "300", "--seed", "9", "-q"]
    assert cli(["run", BASE, "--out", tmp_path / "run", *common]).exit_code == 0
    res = cli(["threshold", BASE, "--param", "costs.car_t.product", "--out", tmp_path / "thr",
               *common])
    assert res.exit_code == 0, res.output
    standard = next(r for r in _rows(tmp_path / "run" / "one_time_therapy.csv")
                    if r["variant"] == "standard")
    for row in _rows(tmp_path / "thr" / "threshold.csv"):
        key = f"{float(row['wtp']):.0f}"
        bracket = float(row["upper"]) - float(row["lower"])
        assert float(standard[f"value_based_price_{key}"]) == pytest.approx(
            float(row["threshold"]), abs=2e-10 * bracket)


def test_offsets_and_price_match_the_kv_ref_closed_form(kv_text, write_toml):
    """KV-REF (continuous r = 0.035, no life table): conventional drugs 20,000/yr with death
    at 0.04 cost 20,000/(0.04 + r); CAR-T remission costs 2,000/yr until relapse (0.10) or
    death (0.015), relapse leading to the conventional state; CRS (p = 0.15) costs 25,000 at
    time 0. Net offset = 20,000/0.075 - 2,000/0.15 - (0.10/0.15) 20,000/0.075 - 0.15 x 25,000.
    The product is charged once at time 0, so product_units = 1 and the value-based price
    is price + INMB."""
    result = run_scenario(load_scenario(write_toml(kv_text)), patients=20_000, seed=3)
    table = one_time_tables(result)[0]
    rows = {row[2]: dict(zip(table.columns, row, strict=True)) for row in table.rows}
    expected = 20_000 / 0.075 - 2_000 / 0.15 - (0.10 / 0.15) * 20_000 / 0.075 - 0.15 * 25_000
    new, ref = result.outcomes["cart"].columns, result.outcomes["immunosuppression"].columns
    per_patient = sum(ref[f"cost_{c}"] - new[f"cost_{c}"] for c in COST_CATEGORIES
                      if c not in ("product", "infusion_episode"))
    se = per_patient.std(ddof=1) / math.sqrt(per_patient.size)
    assert abs(rows["standard"]["cost_offsets"] - expected) < 4 * se
    assert rows["standard"]["product_units"] == 1.0
    assert rows["standard"]["price"] == 350_000.0
    for v in rows.values():
        assert v["value_based_price_100000"] == pytest.approx(350_000 + v["inmb_100000"],
                                                               rel=1e-12)
