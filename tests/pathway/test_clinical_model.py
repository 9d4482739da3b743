"""Known values for the structure of the clinical pathways (issue 11): no double-counted
deaths, costs that add up, age-adjusted utilities, the re-treatment policy."""

from __future__ import annotations

import csv
import itertools
import math
from pathlib import Path

import numpy as np
import pytest

from cartsim.errors import ParameterError, ScenarioError
from cartsim.outcomes.cost_composition import cost_composition
from cartsim.params.reference_tables import eq5d_norms
from cartsim.pathway.build import build_model
from cartsim.pathway.model import Valuation
from cartsim.scenario.load import load_scenario
from cartsim.study.runner import run_scenario

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "scenarios" / "base.toml"
LIFE_TABLE = ROOT / "cartsim" / "data" / "us_ssa_period_life_table_2025.csv"
NO_EXCESS = ("cancer.sir.sle=1", "cancer.sir.iim=1", "cancer.sir.ssc=1", "cancer.sir_remission=1",
             "car_t.t_cell_malignancy.probability=0", "car_t.second_cancer.excess_rate=0")


def one_group(disease: str, age: float, female: float) -> tuple[str, ...]:
    return (f"cohort.mix={{{disease} = 1}}", f"cohort.{disease}.age={age}",
            f"cohort.{disease}.female={female}")


def table_hazards(sex: str) -> list[float]:
    """-ln(1 - q_x) by whole age, read straight from the shipped CSV (an oracle
    independent of cartsim's life-table code)."""
    rows = list(csv.DictReader(
        line for line in LIFE_TABLE.read_text().splitlines() if not line.startswith("#")))
    return [-math.log1p(-float(r[f"qx_{sex}"])) if float(r[f"qx_{sex}"]) < 1 else math.inf
            for r in rows]


def life_expectancy(age: int, ratio_at: list[tuple[float, float]], sex: str) -> float:
    """Closed form of E[T] for hazard ratio(t) x mu(age + t): the piecewise-constant hazard
    integrated exactly over whole-age and ratio-change pieces. ``ratio_at`` is
    [(from_time, ratio), ...] starting at 0."""
    mu = table_hazards(sex)
    cuts = sorted({float(k) for k in range(len(mu) + 1)} | {age + a for a, _ in ratio_at})
    total, surv = 0.0, 1.0
    for lo, hi in itertools.pairwise(cuts):
        if hi <= age:
            continue
        r = [x for a, x in ratio_at if age + a <= lo][-1]
        h = r * mu[int(lo)]
        if math.isinf(h):
            break
        width = hi - lo
        total += surv * (width if h == 0 else -math.expm1(-h * width) / h)
        surv *= math.exp(-h * width)
    return total


@pytest.mark.parametrize(("disease", "schedule"), [
    ("sle", [(0.0, 2.87)]),
    ("iim", [(0.0, 2.7), (1.0, 2.0)]),   # 2.7 until 5 years from diagnosis (entry at 4)
])
def test_without_any_excess_life_expectancy_is_the_smr_times_the_life_table(disease, schedule):
    """All-cause life table x all-cause SMR already holds every cancer death: with every
    excess set to zero, conventional therapy's life expectancy is that of the ratio x table
    alone (the double count of the old model gave SLE 37.0 instead of 41.5 years)."""
    s = load_scenario(BASE, [*NO_EXCESS, *one_group(disease, 40, 1)])
    result = run_scenario(s, patients=20_000, seed=11, curves=False, keep_logs=False)
    ly = result.outcomes["immunosuppression"].columns["ly_undisc"]
    expected = life_expectancy(40, schedule, "female")
    se = ly.std(ddof=1) / math.sqrt(ly.size)
    assert abs(ly.mean() - expected) < 4 * se


def test_excess_cancers_shorten_life_only_by_their_excess():
    """With the base SIRs the same cohort loses life-years, and only through cancer states."""
    s0 = load_scenario(BASE, [*NO_EXCESS, *one_group("ssc", 40, 0)])
    s1 = load_scenario(BASE, one_group("ssc", 40, 0))
    a = run_scenario(s0, patients=4000, seed=5, curves=False)
    b = run_scenario(s1, patients=4000, seed=5, curves=False)
    conv0, conv1 = a.outcomes["immunosuppression"], b.outcomes["immunosuppression"]
    assert conv0.columns["n_cancer"].sum() == 0
    assert conv1.columns["n_cancer"].sum() > 0
    assert conv1.columns["ly_undisc"].mean() < conv0.columns["ly_undisc"].mean()


def test_cost_composition_total_is_the_sourced_all_cause_cost():
    """An all-cause state cost is charged net of the flares and infections it includes, so
    each state's composition sums to its total, and for active SLE that total is the sourced
    drugs + care figure (inflated), whatever the event rates."""
    s = load_scenario(BASE)
    v = s.point_values()
    models = build_model(s, v)
    rows = cost_composition({k: (m.pathways, m.valuations) for k, m in models.items()})
    by_state: dict[tuple[str, str, str], list] = {}
    for r in rows:
        by_state.setdefault((r.strategy, r.group, r.state), []).append(r)
    for key, parts in by_state.items():
        total = [r.annual_cost for r in parts if r.category == "total"]
        assert total == [pytest.approx(sum(r.annual_cost for r in parts
                                           if r.category != "total"), rel=1e-12)], key
    for d in ("sle", "iim", "ssc"):
        for state in ("active", "low_activity"):
            sourced = v[f"costs.{d}.{state}.drugs"] + v[f"costs.{d}.{state}.care"]
            total = next(r.annual_cost for r in by_state[("immunosuppression", d, state)]
                         if r.category == "total")
            assert total == pytest.approx(sourced, rel=1e-12), (d, state)
    # Drug-free remission includes no event: its infections come on top of monitoring.
    remission = {r.origin: r.annual_cost for r in by_state[("car_t", "sle", "remission")]
                 if r.category != "total"}
    assert remission["state"] == pytest.approx(v["costs.car_t.monitoring"], rel=1e-12)
    assert remission["events"] == pytest.approx(
        v["car_t.remission.infections"] * v["costs.infection"], rel=1e-12)


def test_a_state_cost_below_the_events_it_includes_is_refused():
    s = load_scenario(BASE, ["costs.sle.active.care=100"])
    with pytest.raises(ScenarioError, match=r"costs\.sle\.active\.care"):
        build_model(s, s.point_values())


def test_cancer_state_keeps_the_origin_and_caps_the_utility():
    s = load_scenario(BASE)
    v = s.point_values()
    m = build_model(s, v)["car_t"]
    pw, val = m.pathways["iim"], m.valuations["iim"]
    for origin in ("active", "low_activity", "remission"):
        for kind in ("cancer", "t_cell_malignancy"):
            state = pw.states[f"{kind}_{origin}"]
            assert state.mortality.life_table_ratio == pw.states[origin].mortality.life_table_ratio
            assert state.mortality.ratio_schedule == pw.states[origin].mortality.ratio_schedule
            cap = v["utilities.cancer"] if kind == "cancer" else v["utilities.t_cell_malignancy"]
            assert val.state_utility[state.name] == min(val.state_utility[origin], cap)
            for cat, amount in val.state_costs[origin].items():
                assert val.state_costs[state.name][cat] >= amount
    # IIM active 0.55 < T-cell malignancy 0.65: no utility gain from lymphoma.
    assert val.state_utility["t_cell_malignancy_active"] == v["utilities.iim.active"]
    ratio = 1 + v["mortality.remission_share"] * (v["mortality.iim.smr"] - 1)
    assert pw.states["remission"].mortality.life_table_ratio == pytest.approx(ratio)


IMMORTAL = ('run.life_table="none"', "run.horizon=20", "cancer.incidence_scale=0",
            "conventional.sle.to_low_activity=0", "qaly_loss.flare.mild=0",
            "qaly_loss.flare.moderate=0", "qaly_loss.flare.severe=0", "qaly_loss.infection=0")


@pytest.mark.parametrize(("adjust", "factor"), [
    ("multiplicative", (5 * 0.89 + 10 * 0.87 + 5 * 0.84) / 0.89),   # Fryback 2007, women
    ("none", 20.0),
])
def test_age_adjusted_qalys_are_utility_times_the_norm_ratio(adjust, factor):
    """20 years in active SLE from age 40 (no death, no way out, no one-off losses):
    undiscounted QALYs = 0.63 x sum over the years of norm(age)/norm(40), exactly."""
    s = load_scenario(BASE, [*IMMORTAL, *one_group("sle", 40, 1),
                             f'utilities.age_adjustment="{adjust}"'])
    result = run_scenario(s, patients=50, seed=2, curves=False)
    q = result.outcomes["immunosuppression"].columns["qaly_undisc"]
    u = s.parameters["utilities.sle.active"].value
    np.testing.assert_allclose(q, u * factor, rtol=1e-12)
    norms = eq5d_norms()["female"]
    assert factor == pytest.approx(sum(norms[40 + k] for k in range(20)) / norms[40]) or \
        adjust == "none"


def test_retreatment_never_after_the_maximum_age_or_outside_the_window():
    """Trace of every re-treatment: at most car_t.retreatment.max_age years old and within
    car_t.retreatment.window years of the FIRST infusion; relapses outside them go back to
    conventional therapy without a re-treatment event."""
    s = load_scenario(BASE, ["cohort.mix={sle = 1}", 'cohort.sle.age={dist = "uniform", '
                             "min = 30, max = 60}", "car_t.relapse.rate=0.6",
                             "car_t.retreatment.probability=1", "car_t.retreatment.max_age=50",
                             "car_t.retreatment.window=2.5", "car_t.response.sle=1"])
    result = run_scenario(s, patients=3000, seed=8, curves=False)
    log = result.logs["car_t"]
    age0 = result.cohort.age
    names = log.event_names
    code = {name: names.index(name) for name in ("infusion", "retreatment", "relapse")
            if name in names}
    first_infusion = {}
    for p, c, t in zip(log.event_patient, log.event_code, log.event_time, strict=True):
        if c == code["infusion"] and p not in first_infusion:
            first_infusion[p] = t
    re_p = log.event_patient[log.event_code == code["retreatment"]]
    re_t = log.event_time[log.event_code == code["retreatment"]]
    assert re_p.size > 100
    assert np.all(age0[re_p] + re_t <= 50.0)
    assert all(t - first_infusion[p] <= 2.5 for p, t in zip(re_p, re_t, strict=True))
    # Relapses outside the policy happened, and none of them was re-treated.
    rel = log.event_code == code["relapse"]
    outside = [(p, t) for p, t in zip(log.event_patient[rel], log.event_time[rel], strict=True)
               if age0[p] + t > 50.0 or t - first_infusion[p] > 2.5]
    assert len(outside) > 100
    treated = set(zip(re_p.tolist(), re_t.tolist(), strict=True))
    assert not any((int(p), float(t)) in treated for p, t in outside)


def test_an_age_norm_checked_once_is_still_refused_at_every_valuation():
    # a norm's checks are cached per table (a PSA values every draw under the same one)
    good = eq5d_norms()
    first = Valuation({}, {}, utility_age_norm=good)
    again = Valuation({}, {}, utility_age_norm={s: list(v) for s, v in good.items()})
    assert first.utility_age_norm == again.utility_age_norm == \
        {s: tuple(float(x) for x in good[s]) for s in ("female", "male")}
    bad = {"female": (0.8, 0.0), "male": (0.8,)}
    for norm in (bad, bad, {"female": np.array([0.8, math.nan]), "male": [0.8]}):
        with pytest.raises(ParameterError, match="utility_age_norm"):
            Valuation({}, {}, utility_age_norm=norm)
