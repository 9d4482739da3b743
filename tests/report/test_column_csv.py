"""Long tables held by column (--trace) are written in bulk with exactly the cells the
row-by-row writer gives, except that -0.0 is written 0.0; progress is reported in rows."""

from __future__ import annotations

import numpy as np
import pytest

from cartsim.report import render
from cartsim.report.render import table_to_csv
from cartsim.table import ColumnTable, Table


def both(rows: int = 7) -> tuple[ColumnTable, Table]:
    floats = np.array([0.1, -0.0, 1e-300, 2.5, np.nan, 1 / 3, -7.0])[:rows]
    counts = np.ma.MaskedArray(np.arange(rows), mask=[i % 3 == 0 for i in range(rows)])
    texts = np.array(["a", "b,c", 'say "x"', "", "line\nbreak", "é", "z"][:rows], dtype=object)
    flags = np.array([True, False] * 4)[:rows]
    data = {"x": floats, "n": counts, "t": texts, "f": flags, "k": np.arange(rows) * 10}
    columns = tuple(data)
    by_column = ColumnTable("long", "Long", columns, (), data=data)
    rows_ = [(None if np.isnan(x) else float(x) + 0.0, None if m else int(n), t, bool(f), int(k))
             for x, n, m, t, f, k in zip(floats, counts.data, np.ma.getmaskarray(counts), texts,
                                         flags, data["k"], strict=True)]
    return by_column, Table("long", "Long", columns, tuple(rows_))


def test_column_table_csv_is_the_row_writers_csv():
    by_column, by_row = both()
    text = table_to_csv(by_column)
    assert text == table_to_csv(by_row)
    assert "-0.0" not in text and ",NA," in text and '"b,c"' in text
    assert list(by_column.rows) == list(by_row.rows)      # the lazy rows read the same


def test_column_table_is_written_in_pieces_with_progress(monkeypatch):
    monkeypatch.setattr(render, "CSV_CHUNK_CELLS", 3 * 5)  # 3 rows of 5 columns
    by_column, by_row = both()
    seen: list[int] = []
    assert table_to_csv(by_column, seen.append) == table_to_csv(by_row)
    assert seen == [3, 3, 1]


def test_column_table_refuses_infinity_and_ragged_columns():
    bad = ColumnTable("t", "T", ("x",), (), data={"x": np.array([1.0, np.inf])})
    with pytest.raises(ValueError, match=r"column 'x', rows\[1\].*not finite"):
        table_to_csv(bad)
    with pytest.raises(ValueError, match="different lengths"):
        ColumnTable("t", "T", ("x", "y"), (), data={"x": np.zeros(2), "y": np.zeros(3)})
