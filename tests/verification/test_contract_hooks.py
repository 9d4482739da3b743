"""VERIFICATION section 6 (test hooks cartsim must expose), through the CLI.

Items 1, 7, 8, 9 and 10 (options, exit codes, atomic writes, checkpoint, lock,
fault hook, manifest) are exercised by the group tests of this folder; here:
the --trace columns (item 2), piecewise-constant life tables read from a CSV
(item 3) and the documented rule for equal event times (item 4), in both engines.
"""

from __future__ import annotations

import math

import pytest

TRACE_COLUMNS = {"patient_id", "strategy", "time", "event", "state_from", "state_to",
                 "cost", "qaly", "ly"}
PATIENT_COLUMNS = {"patient_id", "strategy", "cost", "cost_undisc", "qaly", "qaly_undisc",
                   "ly", "ly_undisc", "end_time", "died", "cause"}


def test_trace_has_the_columns_of_section_6_item_2(contract):
    """Item 2: trace.csv has patient_id, strategy, time, event, state_from, state_to and
    the amounts accrued by each row; patients.csv the per-patient totals."""
    out = contract.run(contract.kvref(crs=(0.3, 1000.0, 0.01)), "--patients", 20, "--trace")
    trace = contract.rows(out, "trace")
    assert set(trace[0]) >= TRACE_COLUMNS, TRACE_COLUMNS - set(trace[0])
    assert set(contract.rows(out, "patients")[0]) >= PATIENT_COLUMNS
    assert {r["event"] for r in trace} >= {"start", "crs", "relapse", "death"}


def life_table_text(horizon: str) -> str:
    return f"""\
model = "custom"
[run]
seed = 2024
horizon = {horizon}
discount = {{ costs = 0.0, outcomes = 0.0 }}
life_table = "table.csv"
[cohort]
age = 40
[strategies.pop]
start = "alive"
[strategies.pop.states.alive]
utility = 1.0
death = {{ life_table = 1.0 }}
"""


def test_piecewise_constant_life_table_from_a_csv(contract, tmp_path):
    """Item 3: a life table CSV with q = 0.02 below age 60 and 0.08 from 60 to its last
    age 99: from age 40, S(20) = 0.98^20 and the mean undiscounted life-years are
    (1 - e^{-20 m1})/m1 + e^{-20 m1} (1 - e^{-40 m2})/m2 with m = -ln(1 - q) (nobody
    passes age 100); 4 SE."""
    rows = "".join(f"{a},{q},{q}\n" for a in range(100) for q in [0.02 if a < 60 else 0.08])
    (tmp_path / "table.csv").write_text("age,qx_female,qx_male\n" + rows, encoding="utf-8")
    n = contract.N_STAT
    results = {}
    for name, horizon in (("lifetime", '"lifetime"'), ("twenty", "20")):
        path = contract.write(life_table_text(horizon), tmp_path, f"{name}.toml")
        results[name] = tmp_path / name
        done = contract.run_to(path, results[name], "--patients", n)
        assert done.exit_code == 0, done.output
    m1, m2 = -math.log(0.98), -math.log(0.92)
    s20 = math.exp(-20 * m1)
    mean_ly = -math.expm1(-20 * m1) / m1 + s20 * -math.expm1(-40 * m2) / m2
    row = contract.summary(results["lifetime"])["pop"]
    deaths = contract.keyed(results["twenty"], "deaths", "strategy", "cause")
    alive = deaths[("pop", "alive_at_horizon")]
    contract.assert_within([
        contract.check("life table mean LY", row["ly_undisc"], mean_ly, row["ly_mcse"]),
        contract.check("life table S(20)", alive["proportion"], s20,
                       math.sqrt(s20 * (1 - s20) / n)),
    ])
    lifetime = contract.rows(results["lifetime"], "deaths")
    assert all(int(r["patients"]) == 0 for r in lifetime if r["cause"] == "alive_at_horizon")


TIES = """\
model = "custom"
[run]
seed = 3
horizon = 10
life_table = "none"
[strategies.x]
start = "s"
[strategies.x.states.s]
utility = 1.0
[strategies.x.states.s.transitions.b_second]
to = "t2"
dist = "fixed"
time = 3
[strategies.x.states.s.transitions.a_first]
to = "t1"
dist = "fixed"
time = 3
[strategies.x.states.t1]
utility = 0.5
[strategies.x.states.t1.transitions.review]
to = "t2"
dist = "fixed"
time = 7
[strategies.x.states.t2]
utility = 0.2
"""


@pytest.mark.parametrize("engine", ["compiled", "simpy"])
def test_equal_event_times_follow_the_documented_rule(engine, contract):
    """Item 4 (README "Ties"): two transitions due at the same time resolve in the
    state's declared order (alphabetical in a custom pathway: a_first wins), and an
    event due exactly at the horizon (3 + 7 = H = 10) is not counted: the patient is
    censored at H. Same in both engines."""
    out = contract.run(TIES, "--patients", 10, "--trace", "--engine", engine)
    events = {r["event"]: int(r["events"]) for r in contract.rows(out, "events")}
    assert events["a_first"] == 10
    assert events.get("b_second", 0) == events.get("review", 0) == 0
    for p in contract.rows(out, "patients"):
        assert float(p["ly_undisc"]) == 10.0 and p["died"] == "0", p
    censored = [r for r in contract.rows(out, "trace") if r["kind"] == "censored"]
    assert len(censored) == 10 and all(float(r["time"]) == 10.0 for r in censored)
