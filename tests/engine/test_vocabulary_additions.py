"""The four vocabulary additions (time-varying mortality ratio, age-specific
transition hazard, guarded chance node; age-adjusted utility is in
tests/outcomes/test_age_norm.py) in the engines: closed forms, exact
per-patient identities, and the engines agreeing patient by patient.

Models are built from the vocabulary directly (pathway dataclasses), with a
life table written to a temporary CSV. Statistical checks use 4 SE with fixed
seeds (VERIFICATION §2).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from cartsim.cohort import Cohort
from cartsim.engine.simpy_engine import simulate_simpy
from cartsim.engine.vectorised import simulate_vectorised
from cartsim.errors import ParameterError, SimulationError
from cartsim.params.life_table import LifeTable, read_life_table
from cartsim.params.survival import Exponential, Fixed
from cartsim.params.survival_age import AgeSpecificHazard
from cartsim.pathway.model import (
    Chance,
    Guard,
    Mortality,
    Outcome,
    Pathway,
    State,
    Transition,
    check_pathway,
)
from cartsim.rng import Streams

SEED = 20240601
MU = 0.02  # the constant life table's hazard


def constant_table(tmp_path: Path, mu: float = MU, last_age: int = 110) -> LifeTable:
    q = -math.expm1(-mu)
    path = tmp_path / "constant.csv"
    path.write_text("age,qx_female,qx_male\n" + "".join(
        f"{a},{q!r},{q!r}\n" for a in range(last_age + 1)), encoding="utf-8")
    return read_life_table(path)


def cohort(ages, female=True, group: str = "all") -> Cohort:
    ages = np.asarray(ages, dtype=float)
    fem = np.broadcast_to(np.asarray(female, dtype=bool), ages.shape).copy()
    return Cohort(tuple(str(i) for i in range(ages.size)), (group,) * ages.size, ages, fem)


def run(pathway: Pathway, people: Cohort, table: LifeTable | None, horizon: float = math.inf,
        engine=simulate_simpy, seed: int = SEED):
    return engine({"all": pathway}, people, life_table=table, horizon=horizon,
                  streams=Streams(seed))


def same_logs(a, b) -> None:
    for field in ("sojourn_patient", "sojourn_state", "sojourn_start", "sojourn_end",
                  "event_patient", "event_code", "event_time", "end_time", "cause",
                  "recurring_sojourn", "recurring_event", "recurring_count"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)
    assert a.cause_names == b.cause_names


# --- 1. time-varying mortality ratio ---------------------------------------------

SCHEDULE = Mortality(life_table_ratio=2.0, ratio_schedule=((10.0, 0.5),))


def _only_death(m: Mortality) -> Pathway:
    return Pathway("s", "alive", {"alive": State("alive", mortality=m)})


def test_two_band_ratio_schedule_gives_the_closed_form_life_expectancy(tmp_path):
    """Hazard 2μ for 10 years, then 0.5μ, capped at the table's end (age 111):
    E[T] = (1 − e^{−20μ})/(2μ) + e^{−20μ}(1 − e^{−0.5μ(T_max − 10)})/(0.5μ)."""
    table = constant_table(tmp_path)
    n, age0 = 20_000, 30.0
    log = run(_only_death(SCHEDULE), cohort(np.full(n, age0)), table)
    mu = table.hazard["female"][0]
    t_max = table.max_age - age0
    truth = (-math.expm1(-20 * mu) / (2 * mu)
             + math.exp(-20 * mu) * -math.expm1(-0.5 * mu * (t_max - 10)) / (0.5 * mu))
    t = log.end_time
    se = float(np.std(t, ddof=1)) / math.sqrt(n)
    assert abs(float(np.mean(t)) - truth) <= 4 * se, (float(np.mean(t)), truth, se)


def test_ratio_schedule_death_times_invert_the_hazard_exactly(tmp_path):
    """Each patient's death time T solves H(T) = −ln u (u: the patient's first "death"
    number), with H integrated independently here: exact to 1e-12 relative."""
    table = constant_table(tmp_path)
    ages = np.linspace(20.0, 90.0, 500)
    schedule = Mortality(life_table_ratio=1.5, excess_rate=0.01,
                         ratio_schedule=((2.5, 3.0), (7.25, 0.25), (12.0, 1.0)))
    log = run(_only_death(schedule), cohort(ages), table)
    budget = -np.log(Streams(SEED).column("death", 0, 0, ages.size))
    mu = table.hazard["female"][0]
    breaks = [0.0, 2.5, 7.25, 12.0, math.inf]
    ratios = [1.5, 3.0, 0.25, 1.0]
    for i, (a0, t) in enumerate(zip(ages.tolist(), log.end_time.tolist(), strict=True)):
        cap = table.max_age - a0
        if t >= cap:  # died at the table's end: the budget was not spent
            h = sum(r * mu * (min(b, cap) - a) for a, b, r in zip(breaks, breaks[1:], ratios,
                                                                  strict=False) if a < cap)
            assert h + 0.01 * cap <= budget[i] * (1 + 1e-12)
            continue
        h = 0.01 * t + sum(r * mu * (min(b, t) - a)
                           for a, b, r in zip(breaks, breaks[1:], ratios, strict=False) if a < t)
        assert h == pytest.approx(budget[i], rel=1e-12)


def test_ratio_schedule_causes_use_the_ratio_in_force(tmp_path):
    """Ratio 2 then 0.5: before t = 10 half the deaths are "disease"; after it none are."""
    table = constant_table(tmp_path)
    n = 20_000
    log = run(_only_death(SCHEDULE), cohort(np.full(n, 30.0)), table)
    cause = np.asarray(log.cause_names, dtype=object)[log.cause]
    early = log.end_time < 10.0
    assert not np.any((cause == "disease") & ~early)
    share = float(np.mean(cause[early] == "disease"))
    assert abs(share - 0.5) <= 4 * math.sqrt(0.25 / early.sum())


def test_a_schedule_that_repeats_the_ratio_changes_nothing(tmp_path):
    """Breaks that keep the ratio split the integrals but not the deaths (rel 1e-12)."""
    table = constant_table(tmp_path)
    people = cohort(np.linspace(20, 80, 300))
    plain = run(_only_death(Mortality(life_table_ratio=1.7)), people, table)
    split = run(_only_death(Mortality(life_table_ratio=1.7,
                                      ratio_schedule=((3.0, 1.7), (9.0, 1.7)))), people, table)
    np.testing.assert_allclose(split.end_time, plain.end_time, rtol=1e-12)


@pytest.mark.parametrize("schedule", [((0.0, 1.0),), ((5.0, 1.0), (5.0, 2.0)),
                                      ((5.0, -1.0),), ((math.inf, 1.0),)])
def test_bad_schedules_are_refused(schedule):
    with pytest.raises(ParameterError, match="ratio_schedule"):
        Mortality(1.0, ratio_schedule=schedule)


# --- 2. age-specific transition hazard ---------------------------------------------

def _age_model(time) -> Pathway:
    return Pathway("s", "well", {
        "well": State("well", mortality=Mortality(excess_rate=0.05),
                      transitions=(Transition("onset", "sick", time),)),
        "sick": State("sick", mortality=Mortality(excess_rate=0.3)),
    })


@pytest.mark.parametrize("engine", [simulate_simpy, simulate_vectorised])
def test_constant_age_table_equals_the_exponential_per_patient(tmp_path, engine):
    people = cohort(np.linspace(18.0, 90.0, 1000), female=np.arange(1000) % 2 == 0)
    rates = {"female": (0.08,) * 60, "male": (0.08,) * 60}
    aged = run(_age_model(AgeSpecificHazard(rates, multiplier=1.5)), people, None,
               engine=engine)
    expo = run(_age_model(Exponential(1.5 * 0.08)), people, None, engine=engine)
    same_logs(aged, expo)


def test_age_specific_hazard_waits_for_its_first_age():
    """Rate 0 before 40, 0.2 from 40, entry at 35, no other risk: T = 5 + Exp(0.2)."""
    model = Pathway("s", "well", {"well": State("well", transitions=(
        Transition("onset", "dead", AgeSpecificHazard(
            {"female": (0.0,) * 40 + (0.2,), "male": (0.0,) * 40 + (0.2,)})),))})
    n = 4000
    log = run(model, cohort(np.full(n, 35.0)), None)
    t = log.end_time
    assert t.min() >= 5.0
    assert abs(float(t.mean()) - 10.0) <= 4 * 5.0 / math.sqrt(n)


def test_age_specific_hazard_on_an_origin_clock_is_refused():
    pathway = Pathway("s", "go", {"well": State("well", transitions=(
        Transition("onset", "dead", AgeSpecificHazard({"female": (0.1,), "male": (0.1,)}),
                   clock="start"),))},
        chances={"go": Chance("go", (), then="well", origin="start")})
    assert any("state clock only" in msg for _, msg in check_pathway(pathway))
    with pytest.raises(SimulationError, match="state clock only"):
        run(pathway, cohort([40.0]), None, horizon=10.0)


# --- 4. guarded chance node ------------------------------------------------------

def _guarded(guard: Guard | None) -> Pathway:
    return Pathway("s", "treat", {
        "treated": State("treated", mortality=Mortality(excess_rate=0.05)),
        "usual": State("usual", mortality=Mortality(excess_rate=0.1)),
    }, chances={"treat": Chance("treat", (Outcome(0.6, "response", to="treated"),),
                                then="usual", origin="infusion", guard=guard)})


def _named(log) -> list[tuple]:
    events = np.asarray(log.event_names, dtype=object)[log.event_code]
    states = np.asarray(log.state_names, dtype=object)[log.sojourn_state]
    return [*zip(log.event_patient.tolist(), events.tolist(), log.event_time.tolist(),
                 strict=True),
            *zip(log.sojourn_patient.tolist(), states.tolist(), log.sojourn_start.tolist(),
                 log.sojourn_end.tolist(), strict=True)]


@pytest.mark.parametrize("engine", [simulate_simpy, simulate_vectorised])
def test_a_guard_that_always_passes_changes_nothing(engine):
    people = cohort(np.linspace(20, 80, 500))
    plain = run(_guarded(None), people, None, engine=engine)
    passing = run(_guarded(Guard(otherwise="usual", max_age=math.inf, clock="infusion",
                                 within=math.inf)), people, None, engine=engine)
    same_logs(plain, passing)


@pytest.mark.parametrize("engine", [simulate_simpy, simulate_vectorised])
def test_a_guard_that_always_fails_skips_the_node_entirely(engine):
    """Turned away: no draw, no event, no origin; as if the path started at 'usual'."""
    people = cohort(np.linspace(20, 80, 500))
    failing = run(_guarded(Guard(otherwise="usual", max_age=-1.0)), people, None,
                  engine=engine)
    direct = Pathway("s", "usual", {"usual": State("usual",
                                                    mortality=Mortality(excess_rate=0.1))})
    assert _named(failing) == _named(run(direct, people, None, engine=engine))


@pytest.mark.parametrize("engine", [simulate_simpy, simulate_vectorised])
def test_guard_by_age_and_by_time_since_first_infusion(engine):
    """Re-treatment only up to age 60 and within 3 years of the first infusion."""
    pathway = Pathway("s", "infuse", {
        "remission": State("remission", mortality=Mortality(excess_rate=0.02),
                           transitions=(Transition("relapse", "retreat", Exponential(0.4)),)),
        "active": State("active", mortality=Mortality(excess_rate=0.05)),
    }, chances={
        "infuse": Chance("infuse", (Outcome(1.0, "infusion"),), then="remission",
                         origin="infusion"),
        "retreat": Chance("retreat", (Outcome(1.0, "reinfusion", to="infuse"),), then="active",
                          guard=Guard(otherwise="active", max_age=60.0, clock="infusion",
                                      within=3.0)),
    })
    ages = np.linspace(40.0, 70.0, 3000)
    log = run(pathway, cohort(ages), None, horizon=30.0, engine=engine)
    names = np.asarray(log.event_names, dtype=object)
    who = log.event_patient[names[log.event_code] == "reinfusion"]
    when = log.event_time[names[log.event_code] == "reinfusion"]
    assert who.size > 100  # the guard lets some through
    assert np.all(when <= 3.0)  # first infusion at t = 0: within 3 years
    assert np.all(ages[who] + when <= 60.0)
    relapses = log.event_patient[names[log.event_code] == "relapse"]
    relapse_t = log.event_time[names[log.event_code] == "relapse"]
    eligible = (relapse_t <= 3.0) & (ages[relapses] + relapse_t <= 60.0)
    assert eligible.sum() == who.size  # every eligible relapse was re-treated


def test_guard_targets_and_clocks_are_checked():
    pathway = _guarded(Guard(otherwise="nowhere", clock="no_such_origin", within=1.0))
    messages = [m for _, m in check_pathway(pathway)]
    assert any("guard goes to unknown node 'nowhere'" in m for m in messages)
    assert any("guard uses clock 'no_such_origin'" in m for m in messages)
    with pytest.raises(ParameterError, match="within"):
        Guard(otherwise="usual", within=-1.0)


# --- the engines agree on all the additions together ------------------------------

def additions_model() -> Pathway:
    """Every addition at once: schedules (with excess), an age-specific hazard with a
    step, a guarded re-treatment on age and an origin clock."""
    cancer = AgeSpecificHazard({"female": (0.0,) * 45 + (0.01,) * 20 + (0.03,),
                                "male": (0.0,) * 40 + (0.02,)}, multiplier=2.0)
    on_is = Mortality(life_table_ratio=2.5, ratio_schedule=((5.0, 2.0), (15.0, 1.5)))
    return Pathway("new", "infuse", {
        "remission": State("remission", mortality=Mortality(
            life_table_ratio=1.2, excess_rate=0.005, ratio_schedule=((3.0, 1.0),)),
            transitions=(Transition("relapse", "retreat", Exponential(0.3)),
                         Transition("cancer", "cancer", cancer)), remission=True),
        "active": State("active", mortality=on_is,
                        transitions=(Transition("cancer", "cancer", cancer),
                                     Transition("settle", "settled", Fixed(4.0)))),
        "settled": State("settled", mortality=on_is),
        "cancer": State("cancer", mortality=Mortality(life_table_ratio=1.0, excess_rate=0.2,
                                                      excess_cause="cancer",
                                                      ratio_schedule=((8.0, 3.0),))),
    }, chances={
        "infuse": Chance("infuse", (Outcome(0.1, "crs"), Outcome(0.01, "trm", to="dead")),
                         then="response", origin="infusion"),
        "response": Chance("response", (Outcome(0.8, "response", to="remission"),),
                           then="active"),
        "retreat": Chance("retreat", (Outcome(0.7, "reinfusion", to="infuse"),),
                          then="active", guard=Guard(otherwise="active", max_age=70.0,
                                                     clock="infusion", within=6.0)),
    })


def test_simpy_and_vectorised_engines_agree_on_the_additions(tmp_path):
    table = read_life_table()
    rng = np.random.default_rng(5)
    people = cohort(rng.uniform(20.0, 85.0, 2000), female=rng.random(2000) < 0.5)
    pathway = additions_model()
    assert check_pathway(pathway, lifetime=True) == []
    a = run(pathway, people, table, horizon=60.0)
    b = run(pathway, people, table, horizon=60.0, engine=simulate_vectorised)
    same_logs(a, b)
    used = {a.event_names[c] for c in np.unique(a.event_code)}
    assert {"crs", "trm", "response", "relapse", "cancer", "reinfusion", "settle"} <= used
