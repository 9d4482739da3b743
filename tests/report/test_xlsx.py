"""`--xlsx` on run, psa and report: results.xlsx round-trips every CSV exactly."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import openpyxl
import pytest

from cartsim.report.folder_reader import FolderTable, read_results_folder
from cartsim.report.xlsx import sheet_names, workbook_bytes

UNCERTAIN_RELAPSE = 'rate = { value = 0.1, dist = "gamma", mean = 0.1, se = 0.03 }'


def csv_rows(path: Path) -> list[list[str]]:
    return list(csv.reader(path.read_text(encoding="utf-8").splitlines()))


def assert_round_trip(folder: Path) -> None:
    """Every table is a sheet (parameters as 'inputs') whose cells equal the CSV's."""
    book = openpyxl.load_workbook(folder / "results.xlsx")
    tables = sorted(p.stem for p in folder.glob("*.csv"))
    expected = {("inputs" if t == "parameters" else t) for t in tables} | {"manifest"}
    assert set(book.sheetnames) == expected
    assert book.sheetnames[-2:] == ["inputs", "manifest"]
    for table in tables:
        sheet = book["inputs" if table == "parameters" else table]
        rows = csv_rows(folder / f"{table}.csv")
        cells = [list(r) for r in sheet.iter_rows(values_only=True)]
        assert len(cells) == len(rows), table
        assert all(c.font.b for c in sheet[1])
        assert cells[0] == rows[0]
        for got_row, want_row in zip(cells[1:], rows[1:], strict=True):
            for got, want in zip(got_row, want_row, strict=True):
                if want == "NA":
                    assert got is None
                elif isinstance(got, bool):
                    assert want == ("true" if got else "false")
                elif isinstance(got, int | float):
                    # openpyxl writes 16 significant digits (Excel keeps 15); CSV is exact.
                    assert got == pytest.approx(float(want), rel=1e-15, abs=0)
                else:  # an empty text cell is an empty cell
                    assert got == (want or None)
    manifest = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    fields = {r[0]: r[1] for r in book["manifest"].iter_rows(min_row=2, values_only=True)}
    assert fields["scenario_hash"] == manifest["scenario_hash"]
    assert fields["settings.currency"] == manifest["settings"]["currency"]


def test_run_xlsx_round_trips_every_table(cli, kv_text, write_toml, tmp_path):
    out = tmp_path / "run"
    done = cli(["run", write_toml(kv_text), "--patients", 200, "--out", out, "--xlsx", "-q"])
    assert done.exit_code == 0, done.output
    assert_round_trip(out)


def test_psa_xlsx_round_trips_and_report_rebuilds_identical_bytes(cli, kv_text, edit, write_toml,
                                                                   tmp_path):
    out = tmp_path / "psa"
    scenario = write_toml(edit(kv_text, "rate = 0.10", UNCERTAIN_RELAPSE))
    done = cli(["psa", scenario, "--draws", 20, "--patients", 30, "--out", out, "--xlsx", "-q"])
    assert done.exit_code == 0, done.output
    assert_round_trip(out)
    refused = cli(["report", out, "--xlsx", "-q"])
    assert refused.exit_code == 2 and "results.xlsx" in refused.output
    # What `report --xlsx` builds from the folder on disk is byte for byte what `psa --xlsx`
    # built from the files in memory: same results, same bytes, whenever it is saved.
    folder = read_results_folder(out)
    assert workbook_bytes(folder.tables, folder.manifest) == (out / "results.xlsx").read_bytes()


def test_report_xlsx_writes_the_workbook_beside_the_report(cli, kv_text, write_toml, tmp_path):
    out = tmp_path / "run"
    assert cli(["run", write_toml(kv_text), "--patients", 50, "--out", out, "-q"]).exit_code == 0
    for name in ("cost_over_time", "state_occupancy", "benefit_risk"):
        (out / f"{name}.csv").unlink()  # no plot to draw: the report skips them all
    done = cli(["report", out, "--xlsx", "-q"])
    assert done.exit_code == 0, done.output
    assert (out / "report.html").is_file() and not (out / "plots").exists()
    assert_round_trip(out)


@pytest.mark.parametrize("command", ["run", "psa", "report"])
def test_xlsx_without_openpyxl_is_a_usage_error_and_writes_nothing(cli, kv_text, write_toml,
                                                                   tmp_path, monkeypatch,
                                                                   command):
    scenario = write_toml(kv_text)
    target = tmp_path / "out"
    if command == "report":
        assert cli(["run", scenario, "--patients", 50, "--out", target, "-q"]).exit_code == 0
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    monkeypatch.setitem(sys.modules, "openpyxl", None)  # import openpyxl now fails
    args = ["report", target] if command == "report" else [command, scenario, "--out", target]
    done = cli([*args, "--xlsx"])
    assert done.exit_code == 2
    assert "pip install 'cartsim[xlsx]'" in done.output
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_sheet_names_are_short_unique_and_legal():
    names = ["a" * 40, "a" * 40 + "x", "A" * 35, "what?/[x]", "inputs", "parameters"]
    sheets = sheet_names(dict.fromkeys(names))
    assert sheets["parameters"] == "inputs"
    values = list(sheets.values())
    assert all(len(v) <= 31 for v in values)
    assert len({v.lower() for v in values}) == len(values)
    assert sheets["what?/[x]"] == "what___x_"


def test_text_that_looks_like_a_formula_stays_text():
    table = FolderTable("notes", "Notes", ("name", "value"),
                        (("=HYPERLINK(\"x\")", 1.5), ("plain\x01", None)))
    book = openpyxl.load_workbook(io.BytesIO(workbook_bytes({"notes": table}, {})))
    cell = book["notes"]["A2"]
    assert cell.value == '=HYPERLINK("x")' and cell.data_type == "s"
    assert book["notes"]["A3"].value == "plain"
    assert book["notes"]["B2"].value == 1.5 and book["notes"]["B3"].value is None
