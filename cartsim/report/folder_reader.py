"""Read a results folder back: its tables (CSV, with titles and notes from the
Markdown beside them) and its manifest (run.json), for plots, the HTML report
and the workbook.

Only CSV, Markdown and JSON are read; nothing is evaluated or unpickled. Cells
are typed by column, so a text column never turns one cell into a number: a
column whose every present cell is a number gives ``int`` or ``float`` cells
exactly as written (ints are written plain, floats with ``repr``), a column of
``true``/``false`` gives booleans, and ``NA`` is ``None`` everywhere.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cartsim.errors import UsageError
from cartsim.table import MISSING

MANIFEST = "run.json"
_INT = re.compile(r"-?\d+")
_FLOAT = re.compile(r"-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
_MD_CELL_SPLIT = re.compile(r"(?<!\\)\|")

#: Tables in the order a reader wants them; any other table follows, then the inputs.
TABLE_ORDER = ("summary", "psa_summary", "tornado", "threshold", "sweep", "compare", "forest",
               "costs",
               "cost_composition", "events",
               "deaths", "benefit_risk", "subgroups", "cost_over_time", "state_occupancy",
               "ceac", "evpi", "evppi", "info_rank", "inmb_curve", "psa_convergence",
               "variance", "dsa", "psa", "patients", "trace")
INPUTS_TABLE = "parameters"


@dataclass(frozen=True)
class FolderTable:
    """One table read back from a results folder."""

    name: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[object, ...], ...]
    notes: tuple[str, ...] = ()
    display: tuple[tuple[str, ...], ...] | None = None
    """The cells as the Markdown file shows them (rounded for people), if it matches."""

    def column(self, name: str) -> list[object]:
        j = self.columns.index(name)
        return [row[j] for row in self.rows]

    def records(self) -> list[dict[str, object]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def as_float(value: object) -> float:
    """A table cell as a float; a cell that is not a number is a malformed table."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    msg = f"expected a number in the table, got {value!r}"
    raise UsageError(msg)


def _typed_column(cells: Sequence[str]) -> list[object]:
    present = [c for c in cells if c != MISSING]
    if present and all(_FLOAT.fullmatch(c) for c in present):
        return [None if c == MISSING else int(c) if _INT.fullmatch(c) else float(c)
                for c in cells]
    if present and all(c in ("true", "false") for c in present):
        return [None if c == MISSING else c == "true" for c in cells]
    return [None if c == MISSING else c for c in cells]


def _markdown_parts(text: str) -> tuple[str | None, list[list[str]], list[str]]:
    """Title, table cells (header first, separator dropped) and notes of a table's .md."""
    lines = text.splitlines()
    title = lines[0][3:].strip() if lines and lines[0].startswith("## ") else None
    cells = [[c.strip().replace("\\|", "|") for c in _MD_CELL_SPLIT.split(line.strip())[1:-1]]
             for line in lines if line.startswith("|")]
    after = max((i for i, line in enumerate(lines) if line.startswith("|")), default=0)
    notes = [line.strip() for line in lines[after + 1:] if line.strip()]
    return title, [cells[0], *cells[2:]] if len(cells) >= 2 else [], notes


def table_from_csv(name: str, csv_text: str, md_text: str | None = None) -> FolderTable:
    """Parse one table's CSV (and, if given, its Markdown for title, notes and display)."""
    records = list(csv.reader(io.StringIO(csv_text)))
    if not records:
        msg = f"{name}.csv is empty (no header row)"
        raise UsageError(msg)
    columns = tuple(records[0])
    body = records[1:]
    if any(len(r) != len(columns) for r in body):
        msg = f"{name}.csv: rows do not all have {len(columns)} cells"
        raise UsageError(msg)
    typed = [_typed_column([r[j] for r in body]) for j in range(len(columns))]
    rows = tuple(tuple(col[i] for col in typed) for i in range(len(body)))
    title, display = name.replace("_", " ").capitalize(), None
    notes: tuple[str, ...] = ()
    if md_text is not None:
        md_title, md_cells, md_notes = _markdown_parts(md_text)
        title = md_title or title
        notes = tuple(md_notes)
        if md_cells and tuple(md_cells[0]) == columns and len(md_cells) == len(rows) + 1 \
                and all(len(r) == len(columns) for r in md_cells):
            display = tuple(tuple(r) for r in md_cells[1:])
    return FolderTable(name, title, columns, rows, notes, display)


def tables_from_files(files: Mapping[str, str]) -> dict[str, FolderTable]:
    """The tables of an in-memory results folder (file name -> text), in report order."""
    names = [n[:-4] for n in files if n.endswith(".csv") and "/" not in n]
    return {n: table_from_csv(n, files[f"{n}.csv"], files.get(f"{n}.md"))
            for n in ordered_names(names)}


def ordered_names(names: Sequence[str]) -> list[str]:
    known = [n for n in TABLE_ORDER if n in names]
    other = sorted(n for n in names if n not in TABLE_ORDER and n != INPUTS_TABLE)
    return known + other + ([INPUTS_TABLE] if INPUTS_TABLE in names else [])


@dataclass(frozen=True)
class ResultsFolder:
    """A results folder as read from disk."""

    path: Path
    manifest: Mapping[str, object]
    tables: Mapping[str, FolderTable]
    changed: tuple[str, ...] = ()
    """Files whose content no longer matches the SHA-256 the manifest recorded, or missing."""

    @property
    def settings(self) -> Mapping[str, object]:
        settings = self.manifest.get("settings")
        return settings if isinstance(settings, Mapping) else {}

    @property
    def money_unit(self) -> str:
        """E.g. ``USD 2024``: the currency and price year of every cost."""
        parts = [str(self.settings.get(k)) for k in ("currency", "price_year")
                 if self.settings.get(k) is not None]
        return " ".join(parts) or "currency units"

    @property
    def wtp(self) -> tuple[float, ...]:
        values = self.settings.get("wtp")
        return tuple(float(v) for v in values) if isinstance(values, list) else ()

    @property
    def comparator(self) -> str | None:
        value = self.settings.get("comparator")
        return str(value) if value is not None else None

    @property
    def strategies(self) -> tuple[str, ...]:
        values = self.settings.get("strategies")
        return tuple(str(v) for v in values) if isinstance(values, list) else ()

    def label(self, strategy: str) -> str:
        """The strategy's display label (run.json's settings, else summary.csv), else its
        key: the same label in every folder's report and plots."""
        labels = self.settings.get("strategy_labels")
        if isinstance(labels, Mapping) and labels.get(strategy):
            return str(labels[strategy])
        summary = self.tables.get("summary")
        if summary is not None and "label" in summary.columns:
            for rec in summary.records():
                if rec["strategy"] == strategy and rec["label"]:
                    return str(rec["label"])
        return strategy


def read_results_folder(path: Path) -> ResultsFolder:
    """Read every table and the manifest of a results folder.

    Raises
    ------
    UsageError
        If ``path`` is not a folder, has no readable ``run.json``, or a table
        cannot be parsed.
    """
    path = Path(path)
    if not path.is_dir():
        msg = f"results folder {path} does not exist or is not a folder"
        raise UsageError(msg)
    manifest_path = path / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        msg = (f"{path} has no {MANIFEST}: not a cartsim results folder (made by cartsim run, "
               "psa, dsa, sweep or threshold)")
        raise UsageError(msg) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        msg = f"{manifest_path}: cannot be read as JSON ({err})"
        raise UsageError(msg) from None
    if not isinstance(manifest, dict):
        msg = f"{manifest_path}: expected a JSON object, got {type(manifest).__name__}"
        raise UsageError(msg)
    files = {p.name: p.read_text(encoding="utf-8") for p in sorted(path.iterdir())
             if p.is_file() and p.suffix in (".csv", ".md")}
    tables = tables_from_files(files)
    recorded = manifest.get("files")
    changed: list[str] = []
    if isinstance(recorded, Mapping):
        for name, digest in sorted(recorded.items()):
            file = path / name
            if not file.is_file() or hashlib.sha256(file.read_bytes()).hexdigest() != digest:
                changed.append(name)
    return ResultsFolder(path, manifest, tables, tuple(changed))
