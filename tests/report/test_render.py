"""Tests for cartsim.table and cartsim.report.render: exact CSV, readable Markdown and
terminal text."""

from __future__ import annotations

import csv
import io
import math
import struct

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cartsim.report.render import (
    format_value,
    table_to_csv,
    table_to_markdown,
    terminal_table,
)
from cartsim.table import Table


def _bits(x: float) -> bytes:
    return struct.pack("<d", x)


def _parse(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def _table(rows, columns=("a", "b"), **kw) -> Table:
    return Table(name="t", title="T", columns=tuple(columns), rows=tuple(rows), **kw)


# --- CSV -------------------------------------------------------------------


@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1))
def test_csv_floats_round_trip_bit_identical(values):
    text = table_to_csv(_table([(v,) for v in values], columns=("x",)))
    parsed = [float(row[0]) for row in _parse(text)[1:]]
    assert [_bits(p) for p in parsed] == [_bits(v) for v in values]


def test_csv_hand_example_and_layout():
    table = _table(
        [(0.1, 3, None, True, "plain"), (-0.0, -7, "x,y", False, 'say "hi"')],
        columns=("f", "i", "s", "b", "t"),
    )
    text = table_to_csv(table)
    assert text == (
        'f,i,s,b,t\n0.1,3,NA,true,plain\n-0.0,-7,"x,y",false,"say ""hi"""\n'
    )
    assert "\r" not in text


def test_csv_numpy_scalars_written_like_python():
    numpy_row = (np.float64(1 / 3), np.int64(42), np.bool_(True), np.float32(0.5))
    python_row = (1 / 3, 42, True, 0.5)
    cols = ("a", "b", "c", "d")
    assert table_to_csv(_table([numpy_row], columns=cols)) == table_to_csv(
        _table([python_row], columns=cols)
    )


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, np.float64("nan")])
def test_csv_refuses_non_finite_naming_table_column_row(bad):
    table = Table(
        name="summary",
        title="Summary",
        columns=("strategy", "icer"),
        rows=(("A", 1.0), ("B", bad)),
    )
    with pytest.raises(ValueError, match=r"'summary'.*'icer'.*rows\[1\]"):
        table_to_csv(table)


def test_csv_refuses_unknown_types():
    with pytest.raises(TypeError, match="column 'a'"):
        table_to_csv(_table([(object(),)], columns=("a",)))


def test_table_validates_shape_and_formats():
    with pytest.raises(ValueError, match=r"rows\[0\]"):
        _table([(1,)])
    with pytest.raises(ValueError, match="unknown format kind"):
        _table([(1, 2)], formats={"a": "euros"})
    with pytest.raises(ValueError, match="unknown column"):
        _table([(1, 2)], formats={"zzz": "int"})
    with pytest.raises(ValueError, match="repeated"):
        _table([(1, 2)], columns=("a", "a"))


# --- format_value ----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        (274444.4, "money", "274,444"),
        (-1234.0, "money", "-1,234"),
        (1234567, "money", "1,234,567"),
        (-0.3, "money", "0"),
        (3, "qaly", "3.000"),
        (2.71828, "qaly", "2.718"),
        (-0.0001, "qaly", "0.000"),
        (1234567, "int", "1,234,567"),
        (np.int64(1000), "int", "1,000"),
        (0.12345, "prob", "0.123"),
        (0.012345, "rate", "0.01235"),
        (123456.0, "float", "123,500"),           # thousands separators, as money has
        (123456789.0, "float", "123,500,000"),
        (8000.0, "float", "8,000"),                # a DSA range's low and high
        (-74209.3, "float", "-74,210"),
        (999.96, "float", "1,000"),
        (999.4, "float", "999.4"),
        (1.5, "float", "1.5"),
        (0.001, "float", "0.001"),
        (0.00099996, "float", "0.001"),
        (2e9, "float", "2e+09"),
        (0.0, "float", "0"),
        (None, "money", "NA"),
        ("dominated", "money", "dominated"),
        ("CAR-T", "text", "CAR-T"),
        (True, "text", "true"),
        (math.nan, "float", "NaN"),
    ],
)
def test_format_value_examples(value, kind, expected):
    assert format_value(value, kind) == expected


def test_format_value_unknown_kind():
    with pytest.raises(ValueError, match="unknown format kind"):
        format_value(1.0, "percent")


# --- Markdown --------------------------------------------------------------


def _markdown_example() -> str:
    table = Table(
        name="summary",
        title="Cost-effectiveness summary",
        columns=("strategy", "cost", "qalys", "patients", "icer"),
        rows=(
            ("Immunosuppression", 1234567.8, 10.0, 1000, None),
            ("CAR-T | one-time", 2000000.0, 12.3456, 1000, "dominated"),
        ),
        notes=("ICER statuses: dominated = costs more, gains less.", "Second note."),
        formats={"cost": "money", "qalys": "qaly", "patients": "int", "icer": "money"},
    )
    return table_to_markdown(table)


def test_markdown_heading_alignment_and_values():
    text = _markdown_example()
    lines = text.splitlines()
    assert lines[0] == "## Cost-effectiveness summary"
    separator = [c.strip() for c in lines[3].strip("|").split("|")]
    assert separator[0].startswith(":---") and not separator[0].endswith(":")
    assert all(c.endswith("---:") for c in separator[1:])
    row = [c.strip() for c in lines[4].strip("|").split("|")]
    assert row == ["Immunosuppression", "1,234,568", "10.000", "1,000", "NA"]
    assert "2,000,000" in lines[5] and "12.346" in lines[5] and "dominated" in lines[5]
    assert text.endswith("\n")


def test_markdown_escapes_pipes_and_prints_notes():
    text = _markdown_example()
    assert "CAR-T \\| one-time" in text
    # Escaped pipes do not add cells: every table line has the same cell count.
    table_lines = [ln for ln in text.splitlines() if ln.startswith("|")]
    counts = {ln.replace("\\|", "").count("|") for ln in table_lines}
    assert counts == {6}
    after = text.split(table_lines[-1], 1)[1]
    assert "ICER statuses: dominated = costs more, gains less." in after
    assert "Second note." in after


def test_markdown_infers_kinds_and_handles_empty_table():
    text = table_to_markdown(_table([], columns=("name", "n")))
    assert "| name | n    |" in text
    inferred = table_to_markdown(_table([("x", 12345)], columns=("name", "n")))
    assert "12,345" in inferred and "---:" in inferred


# --- terminal --------------------------------------------------------------


def test_terminal_table_fixed_width_and_alignment():
    text = terminal_table(
        ["strategy", "cost", "qalys"],
        [("A", 1000.0, 1.0), ("Longer name", 25.0, 12.5)],
        {"cost": "money", "qalys": "qaly"},
    )
    lines = text.split("\n")
    assert lines[0] == "strategy" + " " * 6 + "cost   qalys"
    assert lines[1] == "-----------  -----  ------"
    assert lines[2] == "A" + " " * 12 + "1,000   1.000"
    assert lines[3] == "Longer name" + " " * 5 + "25  12.500"
    assert not text.endswith("\n")


def test_terminal_table_rejects_ragged_rows():
    with pytest.raises(ValueError, match=r"rows\[0\]"):
        terminal_table(["a", "b"], [(1,)], {})
