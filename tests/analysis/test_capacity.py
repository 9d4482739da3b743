"""The pure capacity analysis functions: exact identities and hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cartsim.analysis.capacity import (
    MONTH,
    busy_fraction,
    clustered_mean,
    counts_per_year,
    max_in_queue,
    mean_in_queue,
    per_programme,
    summarise_waits,
    waiting_at,
)
from cartsim.analysis.cea import estimate_mean

PROPERTY = settings(max_examples=60, deadline=None, database=None)


@PROPERTY
@given(st.lists(st.lists(st.floats(-100, 100), min_size=3, max_size=3), min_size=2,
                max_size=12))
def test_clustered_se_of_equal_clusters_is_se_of_cluster_means(groups):
    """With m patients per replication, T_r - mean N_r = m (mean_r - mean), so the
    ratio-estimator SE is sd(replication means) / sqrt(R)."""
    values = np.array(groups).ravel()
    labels = np.repeat(np.arange(len(groups)), 3)
    est = clustered_mean(values, labels, len(groups))
    ref = estimate_mean(np.array(groups).mean(axis=1))
    assert est.mean == pytest.approx(ref.mean, abs=1e-9)
    assert est.se == pytest.approx(ref.se, rel=1e-9, abs=1e-9)


def test_clustered_mean_by_hand_and_single_replication():
    est = clustered_mean([1.0, 3.0, 2.0, 6.0, 6.0], [0, 0, 1, 1, 1], 2)
    # totals 4 and 14, sizes 2 and 3, mean 18/5 = 3.6; residuals 4 - 7.2, 14 - 10.8
    assert est.mean == pytest.approx(3.6)
    assert est.se == pytest.approx(math.sqrt(2 * (3.2**2 + 3.2**2)) / 5)
    assert clustered_mean([1.0, 2.0], [0, 0], 1).se is None
    assert per_programme([1.0, 3.0, 2.0, 6.0, 6.0], [0, 0, 1, 1, 1], 2).mean == 9.0


def test_wait_summary_by_hand():
    waits = np.array([0.0, 0.5, 1.5, 2.5]) * MONTH * 2  # 0, 1, 3, 5 months
    s = summarise_waits(waits, np.zeros(4, int), 1, quantiles=(0.5,),
                        over=(MONTH, 3 * MONTH))
    assert s.n == 4 and s.mean.mean == pytest.approx(9 / 4 * MONTH)
    assert s.quantiles[0] == pytest.approx(2 * MONTH)
    assert s.maximum == pytest.approx(5 * MONTH)
    assert s.share_over == (pytest.approx(0.5), pytest.approx(0.25))
    empty = summarise_waits([], [], 1)
    assert empty.n == 0 and empty.mean is None


def test_counts_per_year_by_hand():
    mean, se = counts_per_year([0.1, 0.9, 1.0, np.nan, 2.5, 0.3], [0, 0, 0, 1, 1, 1], 2, 3)
    # replication 0: years 2, 1, 0; replication 1: years 1, 0, 1
    assert mean.tolist() == [1.5, 0.5, 0.5]
    assert se.tolist() == pytest.approx([0.5, 0.5, 0.5])


def test_busy_fraction_and_queue_length_clip_to_the_window():
    start, length = np.array([0.0, 0.5, np.nan, 1.8]), np.array([1.0, 1.0, 5.0, 1.0])
    labels = np.zeros(4, int)
    # inside [0, 2): 1.0 + 1.0 + 0 + 0.2 = 2.2 of 2 servers x 2 years
    assert busy_fraction(start, length, labels, 1, 2, 2.0).mean == pytest.approx(0.55)
    assert mean_in_queue(start, length, labels, 1, 2.0).mean == pytest.approx(1.1)
    assert max_in_queue(start, length, labels) == 2
    assert waiting_at([0.75, 1.9], start, length, labels, 1).tolist() == [2.0, 1.0]


@PROPERTY
@given(st.lists(st.tuples(st.floats(0, 10), st.floats(0, 3)), min_size=1, max_size=30))
def test_queue_length_identities(intervals):
    """Little's identity on a window containing every interval: time-average number
    = total time / window; and no time-average exceeds the maximum."""
    enter = np.array([a for a, _ in intervals])
    wait = np.array([w for _, w in intervals])
    labels = np.zeros(enter.size, int)
    window = 20.0
    avg = mean_in_queue(enter, wait, labels, 1, window).mean
    assert avg == pytest.approx(wait.sum() / window)
    assert avg <= max_in_queue(enter, wait, labels) + 1e-12
