"""The results as one Excel workbook: a sheet per table, the inputs, the manifest.

openpyxl is an optional extra (``pip install 'cartsim[xlsx]'``) and is imported
only when a workbook is asked for. Each sheet holds its table exactly as the
CSV does: a bold header row, then numbers as numbers (to 16 significant digits,
openpyxl's format; Excel keeps 15, and the CSV stays the exact record), booleans
as booleans and ``NA`` as an empty cell; text is never read as a formula. The parameters
table becomes the ``inputs`` sheet (values, distributions and sources). The
workbook's dates are the run's (from run.json) and the zip entries carry a fixed
date, so the same results give the same bytes.
"""

from __future__ import annotations

import datetime as dt
import importlib
import io
import json
import re
import zipfile
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any

from cartsim.errors import UsageError
from cartsim.report.atomic import SpooledFile
from cartsim.report.folder_reader import INPUTS_TABLE, FolderTable, tables_from_files

WORKBOOK = "results.xlsx"
INPUTS_SHEET = "inputs"
MANIFEST_SHEET = "manifest"
MAX_SHEET_NAME = 31
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
"""Control characters that the xlsx format cannot hold."""


def require_openpyxl() -> ModuleType:
    """The openpyxl module, or a UsageError (exit 2) saying how to install it."""
    try:
        return importlib.import_module("openpyxl")
    except ImportError:
        msg = ("--xlsx needs the optional package openpyxl: pip install 'cartsim[xlsx]' "
               "(or pip install openpyxl)")
        raise UsageError(msg) from None


def sheet_names(tables: Mapping[str, FolderTable]) -> dict[str, str]:
    """Table name -> sheet name: at most 31 characters, no []:*?/\\, unique ignoring case."""
    names: dict[str, str] = {}
    taken = {INPUTS_SHEET, MANIFEST_SHEET}
    for table in tables:
        if table == INPUTS_TABLE:
            names[table] = INPUTS_SHEET
            continue
        base = _BAD_SHEET_CHARS.sub("_", table)[:MAX_SHEET_NAME] or "table"
        name, k = base, 2
        while name.lower() in taken:
            suffix = f"_{k}"
            name, k = base[:MAX_SHEET_NAME - len(suffix)] + suffix, k + 1
        taken.add(name.lower())
        names[table] = name
    return names


def _manifest_rows(manifest: Mapping[str, object], prefix: str = "") -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for key, value in manifest.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            rows += _manifest_rows(value, f"{name}.")
        else:
            rows.append((name, value if isinstance(value, str) else json.dumps(value)))
    return rows


def _created(manifest: Mapping[str, object]) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(str(manifest.get("created")))
    except ValueError:
        return dt.datetime(1980, 1, 1)
    return when.astimezone(dt.UTC).replace(tzinfo=None) if when.tzinfo else when


def workbook_bytes(tables: Mapping[str, FolderTable], manifest: Mapping[str, object]) -> bytes:
    """The workbook: a sheet per table (parameters as ``inputs``), then the manifest."""
    openpyxl = require_openpyxl()
    book = openpyxl.Workbook()
    book.remove(book.active)
    bold = openpyxl.styles.Font(bold=True)
    ordered = [n for n in tables if n != INPUTS_TABLE] + (
        [INPUTS_TABLE] if INPUTS_TABLE in tables else [])
    names = sheet_names({n: tables[n] for n in ordered})
    for table_name in ordered:
        table = tables[table_name]
        sheet = book.create_sheet(names[table_name])
        for index, row in enumerate((table.columns, *table.rows), start=1):
            _append(sheet, index, row)
        _finish(sheet, table.columns, bold)
    sheet = book.create_sheet(MANIFEST_SHEET)
    for index, row in enumerate((("field", "value"), *_manifest_rows(manifest)), start=1):
        _append(sheet, index, row)
    _finish(sheet, ("field", "value"), bold)
    when = _created(manifest)
    book.properties.creator = "cartsim"
    book.properties.created = when
    buffer = io.BytesIO()
    book.save(buffer)
    return _fixed_dates(buffer.getvalue(), when)


def _append(sheet: Any, index: int, row: Sequence[object]) -> None:
    """Append row ``index`` (1-based); text stays text (a leading '=' never makes a formula)."""
    sheet.append([_ILLEGAL.sub("", v) if isinstance(v, str) else v for v in row])
    for j, value in enumerate(row):
        if isinstance(value, str) and value.startswith("="):
            sheet.cell(row=index, column=j + 1).data_type = "s"


def _finish(sheet: Any, columns: tuple[str, ...], bold: object) -> None:
    for cell in sheet[1]:
        cell.font = bold
    sheet.freeze_panes = "A2"
    for j, column in enumerate(columns):
        letter = sheet.cell(row=1, column=j + 1).column_letter
        sheet.column_dimensions[letter].width = max(10, min(40, len(column) + 2))


def _fixed_dates(data: bytes, when: dt.datetime) -> bytes:
    """Re-pack the xlsx zip with fixed entry dates and the run's 'modified' date.

    openpyxl stamps the save time into docProps/core.xml and every zip entry;
    both would make two saves of the same results differ.
    """
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ").encode("ascii")
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            content = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                                 rb"\g<1>" + stamp + rb"\g<2>", content)
            entry = zipfile.ZipInfo(info.filename, date_time=_ZIP_DATE)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o600 << 16
            dst.writestr(entry, content)
    return out.getvalue()


def workbook_from_files(files: Mapping[str, str | SpooledFile]) -> bytes:
    """The workbook of an in-memory results folder (file name -> text, with run.json;
    a file spooled to disk is read back)."""
    texts = {name: content.path.read_text(encoding="utf-8")
             if isinstance(content, SpooledFile) else content
             for name, content in files.items()}
    manifest = json.loads(texts["run.json"]) if "run.json" in texts else {}
    return workbook_bytes(tables_from_files(texts), manifest)
