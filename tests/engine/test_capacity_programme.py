"""A whole capacity run: exact equalities (unlimited capacity, a plain run), the queue
and the pathway telling the same story per patient, conservation of referrals,
known throughput for scheduled referrals, and common random numbers."""

from __future__ import annotations

import math

import numpy as np

from cartsim.engine.capacity import BRIDGING, ENDS, FAILED, REASONS, TREATED
from cartsim.engine.events import ALIVE
from cartsim.engine.simpy_engine import simulate_simpy
from cartsim.outcomes.accounting import value_log
from cartsim.rng import Streams
from cartsim.study.capacity_tables import capacity_tables
from cartsim.study.prepare import discount_rates, prepare

UNLIMITED = ('capacity.manufacturing.slots_per_month="unlimited"',
             'capacity.apheresis.chairs="unlimited"',
             'capacity.treatment_centre.beds="unlimited"')
DEADLY = tuple(f"mortality.{d}.smr=200" for d in ("sle", "iim", "ssc"))


def same_columns(a, b) -> None:
    assert a.columns.keys() == b.columns.keys()
    for key in a.columns:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def table_rows(result, name):
    table = next(t for t in capacity_tables(result) if t.name == name)
    return [dict(zip(table.columns, row, strict=True)) for row in table.rows]


def test_unconstrained_arm_equals_a_plain_simpy_run(cap):
    """With no queue, bridging lasts exactly the vein-to-vein time: the run is the
    base pathway's, patient by patient, to the last bit."""
    s = cap.scenario(cap.small)
    result = cap.programme(s)
    models, life_table = prepare(s)
    car_t = models["car_t"]
    log = simulate_simpy(car_t.pathways, result.run.cohort, life_table=life_table,
                         horizon=s.run.horizon, streams=Streams(cap.seed))
    cohort = result.run.cohort
    plain = value_log(log, car_t.pathways, car_t.valuations, cohort.group,
                      discount_rates(s), s.run.cost_factor, age=cohort.age,
                      female=cohort.female)
    same_columns(result.outcomes["car_t_unconstrained"], plain)


def test_unlimited_capacity_reproduces_the_unconstrained_arm_exactly(cap):
    result = cap.programme(cap.scenario(cap.small, UNLIMITED))
    run = result.run
    assert (run.constrained.wait == 0.0).all()
    np.testing.assert_array_equal(run.constrained.end, run.unconstrained.end)
    np.testing.assert_array_equal(run.constrained.bridging, run.unconstrained.bridging)
    same_columns(result.outcomes["car_t"], result.outcomes["car_t_unconstrained"])
    lost = {r["measure"]: r for r in table_rows(result, "lost_to_waiting")}
    assert lost["qaly"]["change"] == 0.0 and lost["cost"]["change"] == 0.0


def test_queue_and_pathway_agree_for_every_patient(cap):
    """Who was infused, who failed manufacturing, when bridging ended and who died
    waiting: the queue's record equals the event log the outcomes are valued from."""
    result = cap.programme(cap.scenario(cap.small, DEADLY))
    run, out = result.run, result.outcomes["car_t"]
    q, log = run.constrained, run.logs["car_t"]
    np.testing.assert_array_equal(out["n_infusion"] > 0, q.end == TREATED)
    np.testing.assert_array_equal(out["n_manufacturing_failure"] > 0, q.end == FAILED)
    first = np.flatnonzero(np.r_[True, np.diff(log.sojourn_patient) != 0])
    assert (log.sojourn_state[first] == log.state_code(BRIDGING)).all()
    bridged = log.sojourn_end[first] - log.sojourn_start[first]
    served = np.isfinite(q.bridging)
    np.testing.assert_array_equal(bridged[served], q.bridging[served])
    np.testing.assert_array_equal(bridged[~served], run.leave_by[~served])
    died = ~served & (run.leave_reason == REASONS.index("death"))
    assert died.sum() > 0, "the deadly scenario should see deaths while waiting"
    assert (log.cause[died] != ALIVE).all()
    np.testing.assert_array_equal(log.end_time[died], run.leave_by[died])


def test_every_referral_is_accounted_for(cap):
    """treated + manufacturing failures + left (by stage and reason) = referred, in
    every programme and in the queue_exits table."""
    result = cap.programme(cap.scenario(cap.small, DEADLY))
    run = result.run
    for queue in (run.constrained, run.unconstrained):
        for r in range(run.capacity.replications):
            mine = run.replication == r
            assert np.bincount(queue.end[mine], minlength=len(ENDS)).sum() == mine.sum()
    rows = table_rows(result, "queue_exits")
    assert sum(row["patients"] for row in rows) == run.cohort.n
    assert sum(row["patients_unconstrained"] for row in rows) == run.cohort.n
    assert math.isclose(sum(row["share"] for row in rows), 1.0)
    waiting = {r["queue"]: r for r in table_rows(result, "waiting_times")}
    assert waiting["manufacturing slot"]["patients"] == run.cohort.n


def test_scheduled_referrals_give_known_treatments_per_year(cap):
    """48 referrals evenly over two years, one slot a month and nothing else limited,
    nobody leaving bridging: referral j gets month j's slot (j >= 1) and is infused a
    vein-to-vein time later; count the infusions per calendar year by hand."""
    text = "[capacity]\nreplications = 2\n[capacity.arrivals]\nper_year = [24, 24]\n" \
           "[capacity.manufacturing]\nslots_per_month = 1\n"
    s = cap.scenario(text, cap.immortal)
    result = cap.programme(s)
    v2v = s.parameters["car_t.manufacturing.time"].value
    infusion = np.r_[1 / 48, np.arange(1, 48) / 12] + v2v
    expected = np.bincount(np.floor(infusion).astype(int))
    rows = table_rows(result, "throughput")
    assert [row["treated"] for row in rows] == expected.tolist()
    assert [row["referrals"] for row in rows][:2] == [24.0, 24.0]
    assert all(row["treated_se"] == 0.0 for row in rows)  # identical programmes
    assert (result.run.constrained.end == TREATED).all()
    q = result.run.constrained
    np.testing.assert_allclose(q.infusion[:48], infusion, rtol=1e-12)


def test_patients_draws_do_not_depend_on_the_queue(cap):
    """Common random numbers: changing capacity changes only bridging times. Referrals,
    patients, their bridging exits and the comparator arm are identical, and a patient
    whose bridging time is the same in both runs has identical outcomes."""
    one = cap.programme(cap.scenario(cap.small))
    two = cap.programme(cap.scenario(cap.small, ("capacity.manufacturing.slots_per_month=2",)))
    for key in ("arrival", "leave_by", "leave_reason", "replication"):
        np.testing.assert_array_equal(getattr(one.run, key), getattr(two.run, key))
    same_columns(one.outcomes["immunosuppression"], two.outcomes["immunosuppression"])
    same_columns(one.outcomes["car_t_unconstrained"], two.outcomes["car_t_unconstrained"])
    same = one.run.constrained.bridging == two.run.constrained.bridging
    assert 0 < same.sum() < same.size
    for key, col in one.outcomes["car_t"].columns.items():
        np.testing.assert_array_equal(col[same], two.outcomes["car_t"][key][same], err_msg=key)
    assert two.run.constrained.wait.sum() < one.run.constrained.wait.sum()


def test_lost_table_counts_match_the_queue(cap):
    result = cap.programme(cap.scenario(cap.small, DEADLY))
    run = result.run
    lost = {r["measure"]: r for r in table_rows(result, "lost_to_waiting")}
    for arm, queue in (("constrained", run.constrained), ("unconstrained", run.unconstrained)):
        left = (queue.end != TREATED) & (queue.end != FAILED)
        died = left & (run.leave_reason == REASONS.index("death"))
        assert math.isclose(lost["death_before_treatment"][arm], died.mean(), rel_tol=1e-12)
    diff = result.outcomes["car_t"]["qaly"] - result.outcomes["car_t_unconstrained"]["qaly"]
    assert math.isclose(lost["qaly"]["change"], diff.mean(), rel_tol=1e-9)
