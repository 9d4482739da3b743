"""The comparison helpers of tests/agreement.py fail when they should, and say where."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest


@dataclasses.dataclass
class _Log:
    n_patients: int
    sojourn_patient: np.ndarray
    sojourn_start: np.ndarray
    event_patient: np.ndarray
    event_code: np.ndarray
    end_time: np.ndarray


def _log(**changes) -> _Log:
    base = _Log(3, np.array([0, 1, 2, 2]), np.array([0.0, 0.0, 0.0, 1.5]),
                np.array([0, 2]), np.array([4, 5]), np.array([3.0, np.inf, 2.25]))
    return dataclasses.replace(base, **changes)


def test_floats_agree_within_the_relative_tolerance(agree):
    x = np.array([1.0, 0.03581402288492747, 0.0, np.inf, np.nan, -7.5])
    y = x.copy()
    y[1] = 0.035814022884927466  # the AVX-512 difference of issue 10
    assert agree.mismatch(x, y) is None
    y[5] = -7.5 * (1 + 3e-12)
    message = agree.mismatch(x, y, patient=np.arange(10, 16))
    assert message is not None
    assert "1 of 6 values" in message and "row 5 (patient 15)" in message
    assert "-7.5" in message and "3e-12" in message


def test_integers_and_shapes_must_be_equal(agree):
    assert agree.mismatch(np.array([1, 2, 3]), np.array([1, 2, 3])) is None
    assert "exact" in agree.mismatch(np.array([1, 2, 3]), np.array([1, 2, 4]))
    assert "shapes differ" in agree.mismatch(np.zeros(3), np.zeros(4))
    with pytest.raises(AssertionError, match=r"counts: 1 of 2 values differ"):
        agree.assert_agree(np.array([0, 1]), np.array([0, 2]), "counts")


def test_event_logs_name_the_field_and_the_patient(agree):
    agree.assert_logs_agree(_log(), _log(sojourn_start=np.array([0.0, 0.0, 0.0,
                                                                  1.5 * (1 + 1e-15)])))
    with pytest.raises(AssertionError) as info:
        agree.assert_logs_agree(_log(), _log(event_code=np.array([4, 6]),
                                             sojourn_start=np.array([0, 0, 0, 1.6])))
    text = str(info.value)
    assert "log.event_code: 1 of 2 values differ" in text and "(patient 2)" in text
    assert "log.sojourn_start" in text and "1.5 vs 1.6" in text


def test_tables_agree_cell_by_cell_and_markdown_to_the_printed_digit(agree, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    (a / "t.csv").write_text("s,cost,inc\nx,1102239.2001819403,NA\ny,1103062.483249396,"
                             "823.2830674557481\n")
    (b / "t.csv").write_text("s,cost,inc\nx,1102239.2001819405,NA\ny,1103062.483249396,"
                             "823.2830674557483\n")
    (a / "t.md").write_text("| x | 1,102,239 | 0.1235 |\n")
    (b / "t.md").write_text("| x | 1,102,240 | 0.1234 |\n")
    agree.assert_folders_agree(a, b)
    (b / "t.md").write_text("| x | 1,102,241 | 0.1234 |\n")
    (b / "t.csv").write_text("s,cost,inc\nx,1102239.3,NA\ny,1103062.483249396,NA\n")
    with pytest.raises(AssertionError) as info:
        agree.assert_folders_agree(a, b)
    text = str(info.value)
    assert "t.csv line 2, cost" in text and "t.csv line 3, inc" in text
    assert "t.md line 1" in text
