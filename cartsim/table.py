"""The Table: tidy rows with a fixed column order, what every study returns and
every results file holds.

A foundation, so that studies can build tables and the report layer can render
them (``cartsim.report.render``: CSV, Markdown, terminal) without either
importing the other's internals. Cells are None, bool, int, float or str, with
labels decoded (strategy and cause names, never integer codes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

#: Format kinds understood by ``cartsim.report.render.format_value``.
FORMAT_KINDS = frozenset({"money", "qaly", "int", "prob", "rate", "text", "float"})

#: How a missing (``None``) value is shown, in CSV and in human output alike.
MISSING = "NA"


def wtp_key(lam: float) -> str:
    """Column suffix for a willingness-to-pay value (``inmb_<key>``).

    >>> wtp_key(100000.0), wtp_key(2500.5)
    ('100000', '2500.5')
    """
    return f"{lam:.0f}" if float(lam).is_integer() else f"{lam:g}"


@dataclass(frozen=True)
class Table:
    """One result table with a fixed column order.

    Parameters
    ----------
    name : str
        File stem, e.g. ``"summary"`` for ``summary.csv``.
    title : str
        Human title, used as the Markdown heading.
    columns : tuple of str
        Column names, in output order. Must be unique.
    rows : tuple of tuple
        Data rows; each must have exactly ``len(columns)`` cells.
    notes : tuple of str, optional
        Lines printed under the Markdown table (e.g. what ICER statuses mean).
    formats : Mapping[str, str], optional
        Column name -> format kind for human output. Columns without an entry get
        a kind inferred from their values (``int``, ``float`` or ``text``).
    markdown : bool, optional
        False for tables too long to read as text (a row per patient or event):
        they are written as CSV only.
    markdown_rows : tuple of int, optional
        The rows the Markdown shows (e.g. yearly time points of a quarterly grid),
        in order; None: all. The CSV always has every row.

    Raises
    ------
    ValueError
        If columns repeat, a row has the wrong length, or a format names an
        unknown column or kind. Checked eagerly so a malformed table fails where
        it is built, not when a file is half written.
    """

    name: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[object, ...], ...]
    notes: tuple[str, ...] = ()
    formats: Mapping[str, str] = field(default_factory=dict)
    markdown: bool = True
    markdown_rows: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        # Accept lists from callers but store tuples, so the frozen table really is
        # immutable and cannot change between its CSV and Markdown renderings.
        object.__setattr__(self, "columns", tuple(self.columns))
        object.__setattr__(self, "rows", tuple(tuple(row) for row in self.rows))
        object.__setattr__(self, "notes", tuple(self.notes))
        object.__setattr__(self, "formats", dict(self.formats))
        if len(set(self.columns)) != len(self.columns):
            raise ValueError(
                f"table {self.name!r}: repeated column names {self.columns}"
            )
        for i, row in enumerate(self.rows):
            if len(row) != len(self.columns):
                raise ValueError(
                    f"table {self.name!r}, rows[{i}]: {len(row)} cells for "
                    f"{len(self.columns)} columns"
                )
        if self.markdown_rows is not None:
            shown = tuple(self.markdown_rows)
            object.__setattr__(self, "markdown_rows", shown)
            if any(not 0 <= i < len(self.rows) for i in shown):
                raise ValueError(f"table {self.name!r}: markdown_rows outside the "
                                 f"{len(self.rows)} rows")
        for column, kind in self.formats.items():
            if column not in self.columns:
                raise ValueError(
                    f"table {self.name!r}: format for unknown column {column!r}"
                )
            if kind not in FORMAT_KINDS:
                raise ValueError(
                    f"table {self.name!r}, column {column!r}: unknown format kind {kind!r}; "
                    f"expected one of {sorted(FORMAT_KINDS)}"
                )

    def column(self, name: str) -> tuple[object, ...]:
        """The cells of column ``name``, top to bottom.

        >>> Table("t", "T", ("a", "b"), ((1, "x"), (2, "y"))).column("b")
        ('x', 'y')
        """
        j = self.columns.index(name)
        return tuple(row[j] for row in self.rows)

    def to_pandas(self) -> Any:
        """A ``pandas.DataFrame`` of the rows (None stays missing); needs the optional
        ``pandas`` extra (``pip install 'cartsim[pandas]'``)."""
        try:
            import pandas as pd
        except ImportError as err:
            msg = ("to_pandas needs pandas, an optional extra: pip install 'cartsim[pandas]'"
                   " (the tables' rows and columns need nothing)")
            raise ImportError(msg) from err
        return pd.DataFrame.from_records(list(self.rows), columns=list(self.columns))


class ColumnRows(Sequence[tuple[object, ...]]):
    """The rows of a :class:`ColumnTable`, built one at a time when read (never all at
    once): ``None`` where a float is NaN or a masked cell, plain Python values."""

    def __init__(self, columns: tuple[str, ...], data: Mapping[str, Any], size: int) -> None:
        self._columns, self._data, self._size = columns, data, size

    def __len__(self) -> int:
        return self._size

    def _cell(self, name: str, i: int) -> object:
        import numpy as np  # here, not at the top: `cartsim --help` loads this module

        col = self._data[name]
        if isinstance(col, np.ma.MaskedArray):
            return None if np.ma.getmaskarray(col)[i] else col.data[i].item()
        value = col[i]
        if isinstance(value, np.floating) and np.isnan(value):
            return None
        return value.item() if isinstance(value, np.generic) else value

    @overload
    def __getitem__(self, index: int) -> tuple[object, ...]: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[tuple[object, ...]]: ...

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._size))]
        if index < 0:
            index += self._size
        if not 0 <= index < self._size:
            raise IndexError(index)
        return tuple(self._cell(c, index) for c in self._columns)


@dataclass(frozen=True)
class ColumnTable(Table):
    """A long table held by column (a trace of ~10^6 rows): ``data`` maps each column to
    a numpy array of equal length — float (NaN is missing), int, bool, object (str), or
    a masked array (masked is missing). ``rows`` is a lazy view, so the cells become
    Python objects only if someone reads them; the CSV writer renders columns in bulk.
    """

    data: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", tuple(self.columns))
        object.__setattr__(self, "notes", tuple(self.notes))
        object.__setattr__(self, "formats", dict(self.formats))
        if set(self.data) != set(self.columns) or len(set(self.columns)) != len(self.columns):
            raise ValueError(f"table {self.name!r}: data columns {sorted(self.data)} are not "
                             f"the columns {self.columns}")
        sizes = {len(v) for v in self.data.values()}
        if len(sizes) > 1:
            raise ValueError(f"table {self.name!r}: columns of different lengths {sizes}")
        size = sizes.pop() if sizes else 0
        object.__setattr__(self, "rows", ColumnRows(self.columns, self.data, size))


class BlockRows(Sequence[tuple[object, ...]]):
    """The rows of a :class:`BlockTable`, read block by block (each block is built
    again whenever the rows are read: slow, for tests and small tables)."""

    def __init__(self, table: BlockTable) -> None:
        self._table = table

    def __len__(self) -> int:
        return self._table.size

    def __iter__(self) -> Iterator[tuple[object, ...]]:
        for block in self._table.blocks():
            yield from block.rows

    @overload
    def __getitem__(self, index: int) -> tuple[object, ...]: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[tuple[object, ...]]: ...

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return list(self)[index]
        if index < 0:
            index += self._table.size
        if not 0 <= index < self._table.size:
            raise IndexError(index)
        for block in self._table.blocks():
            if index < len(block.rows):
                return block.rows[index]
            index -= len(block.rows)
        raise IndexError(index)


def _no_blocks() -> Iterable[ColumnTable]:
    return ()


@dataclass(frozen=True)
class BlockTable(Table):
    """A long table made when it is written, block after block (a trace of 10^6 rows):
    ``blocks()`` yields :class:`ColumnTable` pieces of its ``size`` rows in order, each
    built only when asked for, so that the whole table never sits in memory. The CSV
    writer streams it to disk; ``rows`` reads it block by block.
    """

    size: int = 0
    blocks: Callable[[], Iterable[ColumnTable]] = _no_blocks

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", tuple(self.columns))
        object.__setattr__(self, "notes", tuple(self.notes))
        object.__setattr__(self, "formats", dict(self.formats))
        object.__setattr__(self, "rows", BlockRows(self))
