"""Double programming: the compiled engine against the simpy reference engine.

The compiled kernel values as it simulates; the reference simulates with simpy
and values the event log afterwards (``value_log``, ``curve_sums``). On the
same random numbers they must agree per patient: every float to 1e-12 relative
(costs by category, QALYs, life-years, remission years, discounted and not, end
times, curves; event times in the log) and integers exactly (event counts,
causes, states). The last bit may differ between numpy's vector math and libm,
so floats are not compared bit for bit. Checked on every shipped scenario, on
a model that uses every feature of the vocabulary, and on random pathways.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cartsim
from cartsim.cohort import Cohort, sample_cohort
from cartsim.engine.flatten import flatten
from cartsim.engine.kernel_times import uniform_column
from cartsim.engine.plan import shared_names
from cartsim.engine.simpy_engine import simulate_simpy
from cartsim.errors import SimulationError
from cartsim.outcomes.accounting import Rates, value_log, with_log_columns
from cartsim.outcomes.curves import curve_grid, curve_sums, curve_years
from cartsim.outcomes.valued_run import simulate_valued
from cartsim.params.life_table import read_life_table
from cartsim.params.survival import (
    Exponential,
    Fixed,
    Gompertz,
    LogLogistic,
    LogNormal,
    Never,
    Weibull,
)
from cartsim.params.survival_age import AgeSpecificHazard
from cartsim.params.survival_shapes import (
    CureMixture,
    LinearRamp,
    PiecewiseExponential,
    Window,
)
from cartsim.pathway.model import (
    Chance,
    Guard,
    Mortality,
    Outcome,
    Pathway,
    Recurring,
    State,
    Transition,
    Valuation,
)
from cartsim.rng import Streams, philox_key
from cartsim.study.prepare import discount_rates, prepare

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "scenarios").glob("*.toml"))
REL = 1e-12
LOG_INTS = ("sojourn_patient", "sojourn_state", "sojourn_seq", "event_patient", "event_code",
            "event_seq", "recurring_sojourn", "recurring_event", "recurring_count", "cause")
LOG_FLOATS = ("sojourn_start", "sojourn_end", "event_time", "end_time")


def assert_close(x: np.ndarray, y: np.ndarray, what: str) -> None:
    """Integers equal; floats within 1e-12 of each other relative to their size (or
    to the largest value of the column, for values that cancel to nearly 0)."""
    x, y = np.asarray(x), np.asarray(y)
    assert x.shape == y.shape, what
    if x.dtype.kind in "iub":
        bad = np.flatnonzero(x != y)
        assert bad.size == 0, f"{what}: differs at {bad[:5]}: {x[bad[:5]]} vs {y[bad[:5]]}"
        return
    same_inf = (x == y) | (np.isnan(x) & np.isnan(y))
    scale = np.maximum(np.maximum(np.abs(x), np.abs(y)),
                       float(np.max(np.abs(x[np.isfinite(x)]), initial=0.0)) * 1e-3)
    ok = same_inf | (np.abs(x - y) <= REL * scale)
    bad = np.flatnonzero(~ok)
    assert bad.size == 0, f"{what}: differs at {bad[:5]}: {x[bad[:5]]} vs {y[bad[:5]]}"


def compare(pathways, valuations, cohort, *, life_table, horizon, streams, rates,
            cost_factor=1.0) -> None:
    """Simpy + value_log + curve_sums against the compiled engine, patient by patient."""
    grid, years = curve_grid(horizon), curve_years(horizon)
    log = simulate_simpy(pathways, cohort, life_table=life_table, horizon=horizon,
                         streams=streams)
    ref = value_log(log, pathways, valuations, cohort.group, rates, cost_factor,
                    age=cohort.age, female=cohort.female)
    ref_curves = curve_sums(log, valuations, cohort.group, rates, grid, years, cost_factor)
    got = simulate_valued(pathways, valuations, cohort, range(cohort.n), life_table=life_table,
                          horizon=horizon, streams=streams, rates=rates,
                          cost_factor=cost_factor, grid=grid, years=years, log=True)
    # what the kernel does not sum (societal costs) comes from its own log, as the
    # study layer does it (study/simulate.py)
    outcomes = with_log_columns(got.outcomes, got.log, pathways, valuations, cohort.group,
                                rates, cost_factor, age=cohort.age)
    assert list(outcomes.columns) == list(ref.columns)
    for name, column in ref.columns.items():
        assert_close(column, outcomes.columns[name], name)
    assert got.outcomes.cause_names == ref.cause_names
    assert got.log.cause_names == log.cause_names
    for name in LOG_INTS:
        assert_close(getattr(log, name), getattr(got.log, name), f"log.{name}")
    for name in LOG_FLOATS:
        assert_close(getattr(log, name), getattr(got.log, name), f"log.{name}")
    for name in ("cost", "occupancy", "dead", "annual_disc", "annual_undisc", "ly",
                 "qaly_state"):
        a, b = getattr(ref_curves, name), getattr(got.curves, name)
        scale = max(float(np.max(np.abs(a), initial=0.0)), 1e-300)
        assert np.all(np.abs(a - b) <= REL * 100 * scale), name  # sums of many terms


def _scenario_case(path: Path, n: int, seed: int):
    scenario = cartsim.load_scenario(path)
    models, life_table = prepare(scenario)
    streams = Streams(seed)
    cohort = sample_cohort(scenario.cohort, n, streams=streams)
    return scenario, models, life_table, cohort, streams


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_compiled_equals_simpy_per_patient_on_every_shipped_scenario(path):
    scenario, models, table, cohort, streams = _scenario_case(path, 300, 20240601)
    for model in models.values():
        compare(model.pathways, model.valuations, cohort, life_table=table,
                horizon=scenario.run.horizon, streams=streams, rates=discount_rates(scenario),
                cost_factor=scenario.run.cost_factor)


def test_compiled_equals_simpy_on_the_benchmark_model():
    # ../shared beside the repository, as CI and the benchmarks have it
    path = Path(__file__).resolve().parents[3] / "shared" / "bench" / "cartsim_bench_v1.toml"
    if not path.exists():
        pytest.skip("CARTSIM-BENCH v1 is not on this machine")
    scenario, models, table, cohort, streams = _scenario_case(path, 1000, 7)
    for model in models.values():
        compare(model.pathways, model.valuations, cohort, life_table=table,
                horizon=scenario.run.horizon, streams=streams, rates=discount_rates(scenario))


# --- a model with every feature of the vocabulary ------------------------------------------

NORM = {"female": tuple(np.round(np.linspace(0.95, 0.55, 101), 4)),
        "male": (0.93,) * 50 + (0.85,) * 20 + (0.7,)}


def feature_model() -> tuple[dict[str, Pathway], dict[str, Valuation]]:
    """Every time family, both clocks (two origins), guards on age and on a window,
    mortality ratio schedules with an excess rate, deadly chance outcomes and
    transitions, recurring events, remission, age-adjusted utilities; two groups
    with different numbers (one plan, two rows)."""
    def pathway(k: float) -> Pathway:
        cancer = AgeSpecificHazard({"female": (0.0,) * 40 + (0.004 * k,) * 20 + (0.01,),
                                    "male": (0.0,) * 45 + (0.006,)}, multiplier=2.0)
        malignancy = Window(0.05 * k, 3.0)
        on_is = Mortality(life_table_ratio=2.0 * k, excess_rate=0.005,
                          ratio_schedule=((4.0, 1.6), (12.5, 1.3)))
        states = {
            "remission": State("remission", remission=True, origin="remission_start",
                               mortality=Mortality(1.1, ratio_schedule=((2.0, 1.0),)),
                               transitions=(
                                   Transition("relapse", "retreat",
                                              CureMixture(0.3, Weibull(1.4, 5.0 * k))),
                                   Transition("cancer", "cancer", cancer),
                                   Transition("t_cell", "cancer", malignancy, clock="infusion",
                                              event="t_cell_malignancy"),
                                   Transition("late_effect", "active", Fixed(20.0),
                                              clock="remission_start")),
                               recurring=(Recurring("infection", 0.3),
                                          Recurring("flare", 0.1 * k))),
            "active": State("active", mortality=on_is,
                            transitions=(
                                Transition("improve", "remission", Gompertz(-0.05, 0.4 * k)),
                                Transition("cancer", "cancer", cancer),
                                Transition("t_cell", "cancer", malignancy, clock="infusion",
                                           event="t_cell_malignancy"),
                                Transition("stabilise", "stable", LinearRamp(0.2, 2.0)),
                                Transition("never", "dead", Never()),
                                Transition("off", "dead", Exponential(0.0))),
                            recurring=(Recurring("flare", 1.2 * k), Recurring("infection", 0.4),
                                       Recurring("flare", 0.0))),
            "stable": State("stable", mortality=Mortality(1.5),
                            transitions=(
                                Transition("worsen", "active", LogLogistic(2.0, 6.0)),
                                Transition("drift", "active",
                                           PiecewiseExponential((0.0, 1.0, 4.0),
                                                                (0.0, 0.1, 0.3))),
                                Transition("wobble", "active", LogNormal(1.5, 0.8)))),
            "cancer": State("cancer", mortality=Mortality(1.0, 0.25, "cancer",
                                                          ratio_schedule=((30.0, 2.0),)),
                            transitions=(Transition("hospice", "dead", Fixed(6.0)),
                                         Transition("cure", "stable", Weibull(0.8, 15.0)))),
        }
        chances = {
            "infuse": Chance("infuse", (Outcome(0.15, "crs"), Outcome(0.01 * k, "trm", "dead")),
                             then="response", origin="infusion"),
            "response": Chance("response", (Outcome(0.8, "response", "remission"),),
                               then="active"),
            "retreat": Chance("retreat", (Outcome(0.6, "reinfusion", "infuse"),), then="active",
                              guard=Guard(otherwise="active", max_age=72.0, clock="infusion",
                                          within=8.0)),
        }
        return Pathway("new", "infuse", states, chances)

    pathways = {"a": pathway(1.0), "b": pathway(1.3)}

    def valuation(k: float, norm) -> Valuation:
        return Valuation(
            {"remission": {"monitoring": 2000.0}, "active": {"drugs": 15000.0 * k,
                                                             "disease_care": 3000.0},
             "stable": {"drugs": 5000.0}, "cancer": {"cancer_care": 60000.0}},
            {"remission": 0.85, "active": 0.6, "stable": 0.75, "cancer": 0.5},
            {"start": {"product": 400000.0}, "crs": {"adverse_events": 20000.0},
             "reinfusion": {"product": 300000.0}, "flare": {"disease_care": 1500.0},
             "infection": {"adverse_events": 8000.0}, "death": {"other": 10000.0},
             "hospice": {"other": 30000.0}},
            {"crs": 0.02, "flare": 0.01, "infection": 0.03, "reinfusion": 0.05}, norm)

    return pathways, {"a": valuation(1.0, NORM), "b": valuation(1.2, None)}


def _people(n: int, seed: int, groups=("a", "b")) -> Cohort:
    rng = np.random.default_rng(seed)
    return Cohort(tuple(map(str, range(n))), tuple(rng.choice(groups, n).tolist()),
                  rng.uniform(18.0, 88.0, n), rng.random(n) < 0.55)


@pytest.mark.parametrize("horizon", [math.inf, 35.0])
def test_compiled_equals_simpy_on_every_feature(horizon):
    pathways, valuations = feature_model()
    people = _people(3000, 11)
    compare(pathways, valuations, people, life_table=read_life_table(), horizon=horizon,
            streams=Streams(5), rates=Rates(0.03, 0.015), cost_factor=0.9)
    log = simulate_simpy(pathways, people, life_table=read_life_table(), horizon=horizon,
                         streams=Streams(5))
    used = {log.event_names[c] for c in np.unique(log.event_code)}
    assert {"crs", "trm", "response", "relapse", "cancer", "t_cell_malignancy", "reinfusion",
            "improve", "stabilise", "worsen", "drift", "wobble", "hospice", "cure",
            "late_effect", "death"} <= used  # the features were exercised


def test_compiled_equals_simpy_without_life_table_and_discounting():
    pathways, valuations = feature_model()
    compare(pathways, valuations, _people(1500, 3), life_table=None, horizon=60.0,
            streams=Streams(9), rates=Rates(0.0, 0.0))


def test_compiled_engine_reports_a_patient_stuck_forever_like_simpy():
    pathway = Pathway("s", "limbo", {"limbo": State("limbo")})
    people = _people(5, 1, groups=("all",))
    with pytest.raises(SimulationError, match="would stay in state 'limbo' forever") as simpy:
        simulate_simpy({"all": pathway}, people, life_table=None, horizon=math.inf,
                       streams=Streams(1))
    valuation = Valuation({"limbo": {}}, {"limbo": 1.0})
    with pytest.raises(SimulationError, match="would stay in state 'limbo' forever") as ours:
        simulate_valued({"all": pathway}, {"all": valuation}, people, range(5), life_table=None,
                        horizon=math.inf, streams=Streams(1), rates=Rates(0.0, 0.0))
    assert str(ours.value) == str(simpy.value)


def test_kernel_uniforms_equal_the_numpy_generator_bit_for_bit():
    """The kernel's Philox and cartsim.rng's are the same function of the key."""
    patients = np.array([0, 1, 2, 4095, 4096, 10**6, 2**32 - 1, 2**32, 2**40 + 7],
                        dtype=np.uint64)
    for seed, purpose, use, draw in [(1, "death", 0, 0), (20240601, "relapse", 3, 999),
                                     (7, "param:costs.car_t.product", 0, 12345)]:
        k0, k1 = philox_key(seed, purpose)
        ours = uniform_column(np.uint64(k0), np.uint64(k1), patients, use, draw)
        streams = Streams(seed, draw)
        numpy = np.array([streams.column(purpose, use, int(p), int(p) + 1)[0]
                          for p in patients])
        np.testing.assert_array_equal(ours, numpy)


# --- random pathway structures ---------------------------------------------------------

@st.composite
def time_models(draw, origin_clock: bool):
    family = draw(st.sampled_from(["exp", "exp0", "weibull", "gompertz", "loglogistic",
                                   "lognormal", "piecewise", "fixed", "never", "cure",
                                   "ramp", "window", "age"]))
    rate = draw(st.floats(0.02, 1.5))
    if family == "exp":
        return Exponential(rate)
    if family == "exp0":
        return Exponential(0.0)
    if family == "weibull":
        return Weibull(draw(st.floats(0.4, 3.0)), draw(st.floats(0.5, 20.0)))
    if family == "gompertz":
        return Gompertz(draw(st.floats(-0.3, 0.3)), rate)
    if family == "loglogistic":
        return LogLogistic(draw(st.floats(0.5, 4.0)), draw(st.floats(0.5, 20.0)))
    if family == "lognormal":
        return LogNormal(draw(st.floats(-1.0, 3.0)), draw(st.floats(0.2, 2.0)))
    if family == "piecewise":
        return PiecewiseExponential((0.0, 2.0, 5.0), (draw(st.floats(0.0, 0.5)), rate, 0.1))
    if family == "fixed":
        return Fixed(draw(st.floats(0.1, 15.0)))  # a zero-time loop would never end
    if family == "never":
        return Never()
    if family == "cure":
        return CureMixture(draw(st.floats(0.0, 0.9)), Weibull(1.2, 1.0 / rate))
    if family == "ramp":
        return LinearRamp(rate, draw(st.floats(0.0, 5.0)))
    if family == "window":
        return Window(draw(st.floats(0.0, 1.0)), draw(st.floats(0.0, 10.0)))
    if origin_clock:  # age-specific hazards run on the state clock only
        return Exponential(rate)
    return AgeSpecificHazard({"female": (0.0,) * draw(st.integers(0, 80)) + (rate,),
                              "male": (rate / 2,)}, multiplier=draw(st.floats(0.0, 2.0)))


@st.composite
def random_models(draw):
    n_states = draw(st.integers(1, 4))
    n_chances = draw(st.integers(0, 3))
    states = [f"s{i}" for i in range(n_states)]
    chances = [f"c{i}" for i in range(n_chances)]
    origins = ["o0", "o1"]
    targets = [*states, "dead"]
    built: dict[str, State] = {}
    for i, name in enumerate(states):
        transitions = []
        for j in range(draw(st.integers(0, 3))):
            clock = draw(st.sampled_from(["state", "state", *origins]))
            to = draw(st.sampled_from(targets + chances))
            transitions.append(Transition(f"t{i}_{j}", to, draw(time_models(clock != "state")),
                                          clock=clock, event=draw(st.sampled_from([
                                              None, "shared", f"e{i}_{j}"]))))
        schedule = tuple((float(a), draw(st.floats(0.0, 3.0))) for a in sorted(draw(
            st.sets(st.integers(1, 30), max_size=2))))
        mortality = Mortality(draw(st.sampled_from([0.0, 0.7, 1.0, 2.5])),
                              draw(st.sampled_from([0.0, 0.02, 0.2])),
                              draw(st.sampled_from(["disease", "cancer"])), schedule)
        recurring = tuple(Recurring(label, draw(st.floats(0.0, 3.0)))
                          for label in draw(st.sets(st.sampled_from(["flare", "infection"]))))
        built[name] = State(name, mortality, tuple(transitions), recurring,
                            origin=draw(st.sampled_from([None, *origins])),
                            remission=draw(st.booleans()))
    built_chances: dict[str, Chance] = {}
    for i, name in enumerate(chances):
        later = chances[i + 1:]  # chance nodes only lead forward (no cycle without a state)
        outcomes = []
        left = 1.0
        for j in range(draw(st.integers(0, 3))):
            p = draw(st.sampled_from([0.0, 1.0, left / 2, left / 3]))
            p = min(p, left)
            left -= p
            outcomes.append(Outcome(p, draw(st.sampled_from([None, f"o{i}_{j}", "shared"])),
                                    draw(st.sampled_from([None, *targets, *later]))))
        guard = None
        if draw(st.booleans()):
            guard = Guard(otherwise=draw(st.sampled_from(targets + later)),
                          max_age=draw(st.sampled_from([math.inf, 40.0, 70.0])),
                          clock=draw(st.sampled_from([None, *origins])),
                          within=draw(st.sampled_from([math.inf, 2.0, 10.0])))
        built_chances[name] = Chance(name, tuple(outcomes), then=draw(st.sampled_from(
            states + later)), origin=draw(st.sampled_from([None, *origins])), guard=guard)
    start = draw(st.sampled_from(states + chances))
    pathway = Pathway("random", start, built, built_chances)
    labels = pathway.event_labels()
    valuation = Valuation(
        {s: {draw(st.sampled_from(["drugs", "other"])): draw(st.floats(0.0, 5e4))}
         for s in states},
        {s: draw(st.floats(0.0, 1.0)) for s in states},
        {e: {"adverse_events": draw(st.floats(0.0, 1e4))} for e in (*labels, "death")},
        {e: draw(st.floats(0.0, 0.05)) for e in labels},
        draw(st.sampled_from([None, NORM])))
    return pathway, valuation


@settings(max_examples=40, deadline=None, database=None)
@given(model=random_models(), seed=st.integers(0, 2**32 - 1),
       table=st.booleans(), horizon=st.sampled_from([0.0, 5.0, 40.0]))
def test_compiled_equals_simpy_on_random_pathways(model, seed, table, horizon):
    pathway, valuation = model
    compare({"all": pathway}, {"all": valuation}, _people(150, seed % 1000, groups=("all",)),
            life_table=read_life_table() if table else None, horizon=horizon,
            streams=Streams(seed), rates=Rates(0.035, 0.02))


def test_flattened_rows_share_one_structure():
    pathways, _ = feature_model()
    names = shared_names(pathways)
    plan = flatten(list(pathways.values()), *names)
    assert plan.numbers.shape[0] == 2
    other = Pathway("new", "infuse", {"x": State("x")})
    with pytest.raises(SimulationError, match="share their structure"):
        flatten([pathways["a"], other], *names)


def test_rows_grouped_by_the_caller_flatten_as_checked_rows():
    # grouped=True skips the structure check (the batch runners grouped the rows by
    # structure_key already); the plan is the same, padding of unequal encodings included
    pathways, _ = feature_model()
    names = shared_names(pathways)
    checked = flatten(list(pathways.values()), *names)
    grouped = flatten(list(pathways.values()), *names, grouped=True)
    assert np.array_equal(checked.numbers, grouped.numbers)
    assert checked.ints.keys() == grouped.ints.keys()
    assert all(np.array_equal(checked.ints[k], grouped.ints[k]) for k in checked.ints)
    assert (checked.purposes, checked.recurring_purposes) == \
        (grouped.purposes, grouped.recurring_purposes)
