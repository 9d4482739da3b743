"""The queue against queueing theory: M/M/1, M/D/1 and M/M/2 mean waits (4 SE, fixed
seeds, SE from independent replications), exact waits for scheduled referrals and
lapsing monthly slots, Poisson referral counts, and monotonicity in capacity.

``simulate_queue`` is unit-free except for the monthly slot release (months are
1/12 of the time unit), so the single-server checks use time units in which the
mean service time is 1.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cartsim.analysis.capacity import clustered_mean
from cartsim.engine.capacity import (
    FAILED,
    LEFT_BED,
    TREATED,
    referral_times,
    service_times,
    simulate_queue,
)
from cartsim.rng import Streams
from cartsim.scenario.capacity import Arrivals, CapacitySpec

PROPERTY = settings(max_examples=40, deadline=None, database=None)


def run_replications(spec: CapacitySpec, seed: int, *, service: str, stage: int,
                     v2v: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Waits at ``stage`` (0 slot, 1 apheresis, 2 bed) and replication labels."""
    waits, labels = [], []
    for r in range(spec.replications):
        streams = Streams(seed, draw=r)
        arrival = referral_times(spec.arrivals, r, streams)
        n = arrival.size
        mean = spec.apheresis_time if stage == 1 else spec.stay
        times = service_times(mean, service, "test.service", n, streams)
        q = simulate_queue(arrival, np.full(n, np.inf), np.full(n, stage == 2), np.full(n, v2v),
                           times, times, spec)
        waits.append(q.wait[stage])
        labels.append(np.full(n, r))
    return np.concatenate(waits), np.concatenate(labels)


def erlang_c_wait(lam: float, mu: float, c: int) -> float:
    """Mean wait in queue of M/M/c (Erlang C), e.g. Gross & Harris, Fundamentals of
    Queueing Theory, section 2.3."""
    a = lam / mu
    top = a**c / math.factorial(c) * c / (c - a)
    p_wait = top / (sum(a**k / math.factorial(k) for k in range(c)) + top)
    return p_wait / (c * mu - lam)


@pytest.mark.parametrize(("service", "expected"), [
    ("exponential", 0.5 * 1.0 / (1 - 0.5)),         # M/M/1: rho s / (1 - rho)
    ("fixed", 0.5 * 1.0 / (2 * (1 - 0.5))),          # M/D/1: rho s / (2 (1 - rho))
])
def test_single_chair_mean_wait_matches_closed_form(service, expected, cap):
    spec = CapacitySpec(Arrivals(rate=0.5, years=2000.0), apheresis_chairs=1,
                        apheresis_time=1.0, apheresis_distribution=service, replications=20)
    waits, labels = run_replications(spec, cap.seed, service=service, stage=1)
    est = clustered_mean(waits, labels, spec.replications)
    assert est.se is not None
    assert abs(est.mean - expected) < cap.z * est.se, (est, expected)


def test_two_beds_mean_wait_matches_erlang_c(cap):
    lam, c = 1.2, 2
    spec = CapacitySpec(Arrivals(rate=lam, years=1000.0), beds=c, stay=1.0,
                        stay_distribution="exponential", replications=20)
    waits, labels = run_replications(spec, cap.seed + 1, service="exponential", stage=2)
    est = clustered_mean(waits, labels, spec.replications)
    expected = erlang_c_wait(lam, 1.0, c)
    assert expected == pytest.approx(0.5625)  # a = 1.2: C = 0.45, Wq = 0.45 / 0.8
    assert abs(est.mean - expected) < cap.z * est.se, (est, expected)


def test_scheduled_referrals_wait_for_their_month_exactly():
    """24 referrals evenly over a year, one slot a month: referral j (at (j + 1/2)/24)
    gets month j's slot, so waits (j - 1/2)/24 years from j = 1 on."""
    arrivals = Arrivals(rate=None, years=1.0, per_year=(24,))
    arrival = referral_times(arrivals, 0, Streams(1))
    assert arrival == pytest.approx((np.arange(24) + 0.5) / 24, rel=1e-15)
    n = arrival.size
    spec = CapacitySpec(arrivals, slots_per_month=1)
    q = simulate_queue(arrival, np.full(n, np.inf), np.ones(n, bool), np.full(n, 0.1),
                       np.zeros(n), np.zeros(n), spec)
    expected = np.r_[0.0, (np.arange(1, 24) - 0.5) / 24]
    np.testing.assert_allclose(q.wait[0], expected, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(q.slot, np.r_[arrival[0], np.arange(1, 24) / 12], rtol=1e-12)
    assert (q.end == TREATED).all()
    np.testing.assert_allclose(q.bridging, expected + 0.1, rtol=1e-12)


def test_unused_slots_lapse_at_month_end():
    """Three referrals early in month 6 after five idle months: slots do not pile up,
    so the second and third wait for months 7 and 8."""
    arrival = np.array([0.51, 0.52, 0.53])
    spec = CapacitySpec(Arrivals(rate=1.0, years=1.0), slots_per_month=1)
    q = simulate_queue(arrival, np.full(3, np.inf), np.zeros(3, bool), np.zeros(3),
                       np.zeros(3), np.zeros(3), spec)
    np.testing.assert_allclose(q.wait[0], [0.0, 7 / 12 - 0.52, 8 / 12 - 0.53], rtol=1e-12)
    assert (q.end == FAILED).all()  # no bed needed: bridging ends at the result


def test_poisson_referral_count_and_prefix_stability(cap):
    """N ~ Poisson(rate x years) per programme; a longer period keeps earlier referrals."""
    arrivals = Arrivals(rate=30.0, years=5.0)
    streams = Streams(cap.seed)
    counts = np.array([referral_times(arrivals, r, streams).size for r in range(200)])
    se = math.sqrt(150.0 / counts.size)
    assert abs(counts.mean() - 150.0) < cap.z * se
    short = referral_times(arrivals, 7, streams)
    long = referral_times(Arrivals(rate=30.0, years=9.0), 7, streams)
    np.testing.assert_array_equal(long[:short.size], short)
    assert (np.diff(long) > 0).all() and long[-1] < 9.0


def test_unlimited_capacity_means_no_wait():
    arrival = np.sort(3.0 * Streams(5).column("test.arrival", 0, 0, 200))
    v2v = np.full(200, 35 / 365.25)
    spec = CapacitySpec(Arrivals(rate=1.0, years=3.0))
    q = simulate_queue(arrival, np.full(200, np.inf), np.ones(200, bool), v2v, np.ones(200),
                       np.ones(200), spec)
    assert (q.wait == 0.0).all()
    assert (q.bridging == v2v).all()  # exactly: unlimited stages add nothing


def test_leaving_bridging_ends_the_wait_and_frees_the_queue():
    """Patient 0 holds the only bed; patient 1 dies while waiting; patient 2 gets the bed
    when 0's stay ends, as if 1 had never been there."""
    arrival = np.array([0.0, 0.1, 0.2])
    leave_by = np.array([np.inf, 0.3, np.inf])
    spec = CapacitySpec(Arrivals(rate=1.0, years=1.0), beds=1, stay=1.0)
    q = simulate_queue(arrival, leave_by, np.ones(3, bool), np.zeros(3), np.zeros(3),
                       np.ones(3), spec)
    assert q.end.tolist() == [TREATED, LEFT_BED, TREATED]
    assert q.wait[2].tolist() == pytest.approx([0.0, 0.3, 0.8])
    assert q.bridging[1] == math.inf and q.bridging[2] == pytest.approx(0.8)


@PROPERTY
@given(gaps=st.lists(st.floats(0.001, 0.3), min_size=1, max_size=40),
       service=st.lists(st.floats(0.0, 0.2), min_size=40, max_size=40),
       chairs=st.integers(1, 3), beds=st.integers(1, 3), slots=st.integers(1, 3),
       v2v=st.floats(0.0, 0.2))
def test_more_capacity_never_delays_anyone(gaps, service, chairs, beds, slots, v2v):
    """FIFO queues in tandem: doubling every capacity never lengthens any patient's
    time to infusion (so never the mean wait)."""
    arrival = np.cumsum(gaps)
    n = arrival.size
    times = np.array(service[:n])
    args = (arrival, np.full(n, np.inf), np.ones(n, bool), np.full(n, v2v), times, times[::-1])
    spec = CapacitySpec(Arrivals(rate=1.0, years=1.0), slots_per_month=slots,
                        apheresis_chairs=chairs, beds=beds)
    more = CapacitySpec(Arrivals(rate=1.0, years=1.0), slots_per_month=2 * slots,
                        apheresis_chairs=2 * chairs, beds=2 * beds)
    base, doubled = simulate_queue(*args, spec), simulate_queue(*args, more)
    assert (doubled.bridging <= base.bridging + 1e-12).all()
    assert doubled.wait.sum() <= base.wait.sum() + 1e-9
