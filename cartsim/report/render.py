"""The three renderings of a :class:`~cartsim.table.Table`: CSV, Markdown and terminal text.

CSV is the machine-readable record: every float is written with ``repr`` so that
reading it back with ``float()`` gives the identical double, and a non-finite
float is refused outright rather than written as ``nan`` that downstream tools
parse inconsistently. Markdown and terminal text are for people and are rounded
according to a per-column *format kind* (see :data:`FORMAT_KINDS`).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any, TypeGuard

import numpy as np

from cartsim.table import FORMAT_KINDS, MISSING, BlockTable, ColumnTable, Table

CSV_CHUNK_CELLS = 1 << 18
"""Cells of a long table rendered at a time (as many rows as hold this many): bounds the
memory of the cells as Python strings (some 20 MB), whatever the number of columns."""


def _is_bool(value: object) -> TypeGuard[bool | np.bool_]:
    return isinstance(value, bool | np.bool_)


def _is_int(value: object) -> TypeGuard[int | np.integer[Any]]:
    # bool is a subclass of int but must be written as true/false, not 1/0.
    return isinstance(value, int | np.integer) and not _is_bool(value)


def _is_float(value: object) -> TypeGuard[float | np.floating[Any]]:
    return isinstance(value, float | np.floating)


def _csv_cell(value: object, table: Table, column: str, index: int) -> str:
    # Exact built-in types first: a trace table has millions of cells. (Not isinstance:
    # numpy's float64 is a float whose repr is "np.float64(...)".)
    if type(value) is float:
        if math.isfinite(value):
            return repr(value)
    elif type(value) is str:
        return value
    elif type(value) is int:
        return str(value)
    if value is None:
        return MISSING
    if _is_bool(value):
        return "true" if value else "false"
    if _is_int(value):
        return str(int(value))
    if _is_float(value):
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(
                f"table {table.name!r}, column {column!r}, rows[{index}]: value {number!r} "
                f"is not finite; convert non-meaningful values to None (written as {MISSING})"
            )
        # repr gives the shortest string that round-trips to the same double.
        return repr(number)
    if isinstance(value, str):
        return value
    raise TypeError(
        f"table {table.name!r}, column {column!r}, rows[{index}]: cannot write "
        f"{type(value).__name__} value {value!r} to CSV"
    )


def table_to_csv(table: Table, progress: Callable[[int], None] | None = None) -> str:
    """Render `table` as exact, machine-readable CSV.

    Parameters
    ----------
    table : Table
        The table to render; a :class:`~cartsim.table.ColumnTable` is rendered by column
        in bulk (the same cells, but -0.0 written as 0.0).
    progress : callable, optional
        For a ColumnTable: called with the number of rows after each piece written.

    Returns
    -------
    str
        Header row plus one line per row, ``\\n`` line endings, minimal quoting.
        Floats use ``repr`` (exact round trip), ints are plain, ``None`` is ``NA``,
        booleans are ``true``/``false``. numpy scalars are written like Python ones.

    Raises
    ------
    ValueError
        If a float is nan or infinite; the message names table, column and row.
    TypeError
        If a cell is not None, bool, int, float or str.
    """
    if isinstance(table, ColumnTable | BlockTable):
        return "".join(column_csv_chunks(table, progress))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(table.columns)
    for index, row in enumerate(table.rows):
        writer.writerow(
            _csv_cell(value, table, column, index)
            for column, value in zip(table.columns, row, strict=True)
        )
    return buffer.getvalue()


def _csv_text(value: str) -> str:
    """A text cell as csv.writer (QUOTE_MINIMAL) writes it."""
    if any(c in value for c in ',"\n\r'):
        return '"' + value.replace('"', '""') + '"'
    return value


def _column_cells(table: ColumnTable, name: str, lo: int, hi: int) -> list[str]:
    """Rows lo..hi of one column as CSV cells, exactly as :func:`_csv_cell` writes them
    (floats by repr, -0.0 as 0.0, missing as NA), in bulk."""
    col = table.data[name]
    missing = None
    if isinstance(col, np.ma.MaskedArray):
        missing = np.ma.getmaskarray(col)[lo:hi]
        col = col.data
    part = col[lo:hi]
    kind = part.dtype.kind
    if kind == "f":
        nan = np.isnan(part)
        if np.isinf(part).any():
            i = lo + int(np.flatnonzero(np.isinf(part))[0])
            raise ValueError(f"table {table.name!r}, column {name!r}, rows[{i}]: value "
                             f"{float(col[i])!r} is not finite")
        # + 0.0 turns -0.0 into 0.0: a sign nobody can act on (a zero QALY loss).
        values = np.where(nan, 0.0, part) + 0.0
        unique, where = np.unique(values, return_inverse=True)
        if 2 * unique.size <= values.size:  # repeated values (rates, zeros): repr each once
            texts = list(map(repr, unique.tolist()))
            cells = [texts[i] for i in where.tolist()]
        else:
            cells = list(map(repr, values.tolist()))
        missing = nan if missing is None else missing | nan
    elif kind == "b":
        cells = ["true" if v else "false" for v in part.tolist()]
    elif kind in "iu":
        cells = list(map(str, part.tolist()))
    else:
        words: list[str] = part.tolist()
        if not all(type(v) is str for v in words):
            words = [MISSING if v is None else str(v) for v in words]
        joined = "".join(words)
        # Most text (states, events, ids) needs no quoting: one scan of the whole piece.
        quote = any(c in joined for c in ',"\n\r')
        cells = [_csv_text(v) for v in words] if quote else words
    if missing is not None and missing.any():
        for i in np.flatnonzero(missing).tolist():
            cells[i] = MISSING
    return cells


def column_csv_chunks(table: ColumnTable | BlockTable,
                      progress: Callable[[int], None] | None = None) -> Iterator[str]:
    """A long table's CSV in pieces (header first) of at most ``CSV_CHUNK_CELLS`` cells;
    a BlockTable's blocks one after another, each built only when its turn comes.
    ``progress(rows)`` after each piece."""
    yield ",".join(_csv_text(c) for c in table.columns) + "\n"
    step = max(1, CSV_CHUNK_CELLS // max(1, len(table.columns)))
    for block in table.blocks() if isinstance(table, BlockTable) else (table,):
        size = len(block.rows)
        for lo in range(0, size, step):
            hi = min(size, lo + step)
            cells = [_column_cells(block, c, lo, hi) for c in table.columns]
            yield "\n".join(map(",".join, zip(*cells, strict=True))) + "\n"
            if progress is not None:
                progress(hi - lo)


def _non_finite(number: float) -> str:
    if math.isnan(number):
        return "NaN"
    return "inf" if number > 0 else "-inf"


def _general4(number: float) -> str:
    """Four significant digits, fixed-point for 1e-3 <= |x| < 1e9, with thousands
    separators as in money and int columns (285,000, not 285000)."""
    if number == 0:
        return "0"
    # The %.3e rendering is the correctly rounded 4-significant-digit value; going
    # through Decimal lays it out in fixed point without a second rounding step.
    rounded = f"{number:.3e}"
    exponent = int(rounded.split("e")[1])
    if not -3 <= exponent < 9:
        return f"{number:.4g}"
    text = f"{Decimal(rounded):f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    whole, dot, fraction = text.partition(".")
    return f"{int(whole):,}{dot}{fraction}" if exponent >= 3 else text


def _no_negative_zero(text: str) -> str:
    # Rounding -0.0004 to "-0.000" suggests a sign that the reader cannot see.
    stripped = text.lstrip("-")
    return stripped if stripped.strip("0.,") == "" else text


def format_value(value: object, kind: str) -> str:
    """Format one value for people (Markdown or terminal).

    Parameters
    ----------
    value : object
        None, bool, int, float (numpy scalars included) or str.
    kind : str
        One of :data:`FORMAT_KINDS`: ``money`` (thousands separator, 0 decimals),
        ``qaly`` and ``prob`` (3 decimals), ``int`` (thousands separator),
        ``rate`` and ``float`` (4 significant digits), ``text`` (``str``).

    Returns
    -------
    str
        The formatted value; ``None`` gives ``"NA"``. A string in a numeric column
        (e.g. an ICER status such as ``"dominated"``) is returned unchanged.

    Raises
    ------
    ValueError
        If `kind` is unknown.
    """
    if kind not in FORMAT_KINDS:
        raise ValueError(
            f"unknown format kind {kind!r}; expected one of {sorted(FORMAT_KINDS)}"
        )
    if value is None:
        return MISSING
    if _is_bool(value):
        return "true" if value else "false"
    if kind == "text" or isinstance(value, str):
        return str(value)
    if not (_is_int(value) or _is_float(value)):
        raise TypeError(
            f"cannot format {type(value).__name__} value {value!r} as {kind}"
        )
    if _is_int(value) and kind in ("money", "int"):
        return f"{int(value):,}"
    number = float(value)
    if not math.isfinite(number):
        return _non_finite(number)
    if kind in ("money", "int"):
        return _no_negative_zero(f"{number:,.0f}")
    if kind in ("qaly", "prob"):
        return _no_negative_zero(f"{number:.3f}")
    return _general4(number)


def _column_kind(
    column: str, values: Sequence[object], formats: Mapping[str, str]
) -> str:
    if column in formats:
        return formats[column]
    present = [v for v in values if v is not None]
    if present and all(_is_int(v) for v in present):
        return "int"
    if present and all(_is_int(v) or _is_float(v) for v in present):
        return "float"
    return "text"


def _formatted_columns(
    columns: Sequence[str], rows: Sequence[Sequence[object]], formats: Mapping[str, str]
) -> tuple[list[str], list[list[str]]]:
    """Return each column's kind and the formatted cells, row by row."""
    kinds = [
        _column_kind(column, [row[j] for row in rows], formats)
        for j, column in enumerate(columns)
    ]
    cells = [
        [format_value(v, kind) for v, kind in zip(row, kinds, strict=True)]
        for row in rows
    ]
    return kinds, cells


def _md_escape(text: str) -> str:
    # A raw pipe would start a new cell and a newline would end the row.
    return text.replace("|", "\\|").replace("\r\n", " ").replace("\n", " ")


def table_to_markdown(table: Table) -> str:
    """Render `table` as a ``## title`` heading, a GitHub pipe table and its notes.

    Parameters
    ----------
    table : Table
        The table to render (its ``markdown_rows`` only, if set). Columns are
        formatted with ``table.formats`` (see :func:`format_value`); numeric columns
        are right-aligned (``---:``), text columns left-aligned (``:---``).

    Returns
    -------
    str
        Markdown text ending in a newline. Cells are padded so the source is
        readable too; pipes in text are escaped as ``\\|``.
    """
    rows = table.rows if table.markdown_rows is None else \
        [table.rows[i] for i in table.markdown_rows]
    kinds, cells = _formatted_columns(table.columns, rows, table.formats)
    header = [_md_escape(c) for c in table.columns]
    body = [[_md_escape(c) for c in row] for row in cells]
    # At least 4 wide so every separator contains a full "---:" or ":---".
    widths = [
        max(4, len(h), *(len(row[j]) for row in body)) for j, h in enumerate(header)
    ]
    right = [kind != "text" for kind in kinds]

    def line(values: Sequence[str]) -> str:
        padded = (
            v.rjust(w) if r else v.ljust(w)
            for v, w, r in zip(values, widths, right, strict=True)
        )
        return "| " + " | ".join(padded) + " |"

    separator = [
        "-" * (w - 1) + ":" if r else ":" + "-" * (w - 1)
        for w, r in zip(widths, right, strict=True)
    ]
    lines = [f"## {_md_escape(table.title)}", "", line(header), line(separator)]
    lines += [line(row) for row in body]
    for note in table.notes:
        lines += ["", note]
    return "\n".join(lines) + "\n"


def terminal_table(
    columns: Sequence[str],
    rows: Sequence[Sequence[object]],
    formats: Mapping[str, str] | None = None,
) -> str:
    """Render rows as a fixed-width plain-text table for the terminal.

    Parameters
    ----------
    columns : sequence of str
        Column headings.
    rows : sequence of sequences
        Data rows, each with ``len(columns)`` cells.
    formats : Mapping[str, str], optional
        Column -> format kind, as for :class:`Table`; missing columns are inferred.

    Returns
    -------
    str
        Header, a dashed rule, then the rows; columns separated by two spaces,
        numbers right-aligned, text left-aligned. No trailing newline, because
        the CLI's echo adds one.
    """
    columns = list(columns)
    rows = [tuple(row) for row in rows]
    for i, row in enumerate(rows):
        if len(row) != len(columns):
            raise ValueError(
                f"rows[{i}] has {len(row)} cells for {len(columns)} columns"
            )
    kinds, cells = _formatted_columns(columns, rows, formats or {})
    widths = [
        max([len(c), *(len(row[j]) for row in cells)]) for j, c in enumerate(columns)
    ]

    def line(values: Sequence[str]) -> str:
        padded = (
            v.rjust(w) if kind != "text" else v.ljust(w)
            for v, w, kind in zip(values, widths, kinds, strict=True)
        )
        return "  ".join(padded).rstrip()

    lines = [line(columns), "  ".join("-" * w for w in widths)]
    lines += [line(row) for row in cells]
    return "\n".join(lines)
