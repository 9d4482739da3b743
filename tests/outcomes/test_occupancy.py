"""State occupancy over time (cartsim.outcomes.occupancy and the state_occupancy table).

Known values first: a hand-written log gives exact shares; constant-hazard
models give closed forms checked at 4 binomial standard errors with a fixed
seed: survival S(t) = exp(-μt); in a remission -> relapse -> on IS model the
share in remission is exp(-(λ+μ_R)t) and the share alive adds the relapsed.
A hypothesis property checks the partition law on arbitrary logs.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cartsim.engine.events import ALIVE, EventLog
from cartsim.outcomes.occupancy import remission_states, state_occupancy
from cartsim.scenario.load import load_scenario
from cartsim.study.runner import run_scenario

Z = 4.0
SEED = 20240601

ONE_STATE = """\
model = "custom"
[run]
patients = 4000
seed = 20240601
horizon = "lifetime"
discount = { costs = 0.035, outcomes = 0.035, convention = "continuous" }
life_table = "none"
wtp = [100000]
comparator = "usual"
currency = "USD"
price_year = 2024
[strategies.usual]
start = "alive"
[strategies.usual.states.alive]
utility = 1.0
death = { rate = 0.2 }
[strategies.other]
start = "remission"
[strategies.other.states.remission]
utility = 0.9
remission = true
death = { rate = 0.05 }
[strategies.other.states.remission.transitions.relapse]
to = "on_is"
dist = "exponential"
rate = 0.3
[strategies.other.states.on_is]
utility = 0.6
death = { rate = 0.1 }
"""
MU, MU_R, LAMBDA, MU_IS = 0.2, 0.05, 0.3, 0.1
GRID = np.array([0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 12.0])


def make_log(rows: list[tuple[int, int, float, float]], end: list[float],
             alive: list[bool], states: tuple[str, ...] = ("a", "b")) -> EventLog:
    """An EventLog from sojourn rows (patient, state, start, end)."""
    arr = np.array(rows, dtype=float).reshape(-1, 4)
    return EventLog(
        strategy="s", n_patients=len(end), state_names=states, event_names=(),
        cause_names=("death",), sojourn_patient=arr[:, 0].astype(np.int64),
        sojourn_state=arr[:, 1].astype(np.int64), sojourn_start=arr[:, 2],
        sojourn_end=arr[:, 3], event_patient=np.zeros(0, np.int64),
        event_code=np.zeros(0, np.int64), event_time=np.zeros(0), end_time=np.array(end),
        cause=np.array([ALIVE if a else 0 for a in alive], dtype=np.int64))


def test_occupancy_of_a_hand_written_log_is_exact():
    # p0: a [0,1), b [1,3), dies at 3; p1: a [0,5), alive at the horizon 5;
    # p2: b [0,2), dies at 2. State b is the remission state.
    log = make_log([(0, 0, 0, 1), (0, 1, 1, 3), (1, 0, 0, 5), (2, 1, 0, 2)],
                   end=[3, 5, 2], alive=[False, True, False])
    occ = state_occupancy(log, np.array([0, 1, 2, 3, 5.0]), remission={"b"})
    np.testing.assert_array_equal(occ.state_share * 3, [[2, 1], [1, 2], [1, 1], [1, 0], [1, 0]])
    np.testing.assert_array_equal(occ.dead * 3, [0, 0, 1, 2, 2])
    np.testing.assert_array_equal(occ.alive * 3, [3, 3, 2, 1, 1])
    np.testing.assert_array_equal(occ.remission * 3, [1, 2, 1, 0, 0])
    assert occ.states == ("a", "b")
    assert occ.n == 3


@pytest.fixture(scope="module")
def constant_hazards(tmp_path_factory):
    path = tmp_path_factory.mktemp("occ") / "constant.toml"
    path.write_text(ONE_STATE, encoding="utf-8")
    return run_scenario(load_scenario(path), seed=SEED)


def assert_within_4se(estimate: np.ndarray, truth: np.ndarray, n: int) -> None:
    se = np.sqrt(truth * (1 - truth) / n)
    z = np.abs(estimate - truth) / np.where(se > 0, se, np.inf)
    assert np.all(z <= Z), f"z = {np.round(z, 2)}"


def test_survival_of_a_constant_hazard_is_exponential(constant_hazards):
    log = constant_hazards.logs["usual"]
    occ = state_occupancy(log, GRID)
    assert_within_4se(occ.alive, np.exp(-MU * GRID), log.n_patients)
    np.testing.assert_allclose(occ.alive + occ.dead, 1.0, rtol=0, atol=1e-12)
    assert not occ.remission.any()


def test_remission_and_survival_after_relapse_match_closed_forms(constant_hazards):
    log = constant_hazards.logs["other"]
    flagged = remission_states(constant_hazards.models["other"].pathways)
    assert flagged == {"remission"}
    occ = state_occupancy(log, GRID, flagged)
    in_remission = np.exp(-(LAMBDA + MU_R) * GRID)
    relapsed = LAMBDA / (MU_IS - LAMBDA - MU_R) * (in_remission - np.exp(-MU_IS * GRID))
    assert_within_4se(occ.remission, in_remission, log.n_patients)
    assert_within_4se(occ.alive, in_remission + relapsed, log.n_patients)
    np.testing.assert_allclose(occ.state_share.sum(axis=1) + occ.dead, 1.0, atol=1e-12)


def test_standard_error_is_binomial(constant_hazards):
    occ = state_occupancy(constant_hazards.logs["usual"], GRID)
    p = occ.alive
    np.testing.assert_allclose(occ.standard_error(p), np.sqrt(p * (1 - p) / occ.n), rtol=1e-12)


@st.composite
def random_logs(draw):
    """Patients with 1-4 back-to-back stays, dead or alive at the horizon."""
    horizon = draw(st.floats(1.0, 50.0))
    n = draw(st.integers(1, 12))
    rows, end, alive = [], [], []
    for p in range(n):
        cuts = sorted(draw(st.lists(st.floats(0.0, 1.0), min_size=0, max_size=3)))
        lives = draw(st.booleans())
        stop = horizon if lives else draw(st.floats(0.0, horizon))
        edges = [0.0, *[c * stop for c in cuts], stop]
        for a, b in itertools.pairwise(edges):
            rows.append((p, draw(st.integers(0, 2)), a, b))
        end.append(stop)
        alive.append(lives)
    times = draw(st.lists(st.floats(0.0, horizon), min_size=1, max_size=8))
    grid = np.array(sorted([*times, horizon]))
    return make_log(rows, end, alive, ("a", "b", "c")), grid, np.array(alive)


@settings(max_examples=60, deadline=None)
@given(random_logs())
def test_shares_partition_the_cohort_at_every_time(case):
    log, grid, alive_at_horizon = case
    occ = state_occupancy(log, grid, remission={"b", "c"})
    np.testing.assert_allclose(occ.state_share.sum(axis=1) + occ.dead, 1.0, atol=1e-12)
    np.testing.assert_allclose(occ.alive, 1.0 - occ.dead, atol=1e-12)
    assert np.all((occ.state_share >= 0) & (occ.state_share <= 1))
    assert np.all(np.diff(occ.alive) <= 1e-12)          # survival never rises
    assert occ.alive[-1] == pytest.approx(alive_at_horizon.mean())
    np.testing.assert_allclose(occ.remission, occ.state_share[:, 1:].sum(axis=1), atol=1e-12)


def test_state_occupancy_table_partitions_the_cohort(cli, kv_text, edit, write_toml, read_csv,
                                                     tmp_path):
    out = tmp_path / "out"
    text = edit(kv_text, "[strategies.cart.states.remission]\n",
                "[strategies.cart.states.remission]\nremission = true\n")
    result = cli(["run", write_toml(text), "--patients", 400, "--out", out, "-q"])
    assert result.exit_code == 0, result.output
    rows = read_csv(out / "state_occupancy.csv")
    assert list(rows[0]) == ["strategy", "state", "time", "share", "share_se", "aggregate"]
    totals: dict[tuple[str, str], float] = {}
    for r in rows:
        if r["aggregate"] == "false":
            key = (r["strategy"], r["time"])
            totals[key] = totals.get(key, 0.0) + float(r["share"])
    assert totals
    assert all(math.isclose(v, 1.0, abs_tol=1e-12) for v in totals.values())
    share = {(r["strategy"], r["state"], float(r["time"])): float(r["share"]) for r in rows}
    # The CAR-T arm of KV-REF starts in remission: everyone there at t = 0.
    assert share[("cart", "drug_free_remission", 0.0)] == 1.0
    assert share[("cart", "alive", 0.0)] == 1.0
    assert share[("immunosuppression", "drug_free_remission", 0.0)] == 0.0
    alive = [share[("cart", "alive", t)] for t in sorted({k[2] for k in share})]
    dead = [share[("cart", "dead", t)] for t in sorted({k[2] for k in share})]
    np.testing.assert_allclose(np.add(alive, dead), 1.0, atol=1e-12)
