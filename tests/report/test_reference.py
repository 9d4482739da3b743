"""The committed reference results are what the code makes today.

``results/regenerate.sh`` writes ``results/reference/`` with pinned seeds; this
test regenerates its small base-case run and compares every table with the
committed one. A failure means the code changed a result: rerun the script and
commit the new tables with the change that moved them.

Cells compare as equal text, or as numbers within ``TOLERANCE`` = 1e-9 relative
(or 1e-9 of the largest magnitude in their column, for an increment: a
difference of nearly equal amounts carries their rounding, not its own). On the
machine that wrote them the tables are the same bytes; another CPU's vector
maths (numpy's AVX-512 exp and log) rounds the last bit differently, which moves
each patient by about 1e-16 relative (the engines agree to 1e-12) and a mean or
an increment by about 1e-14: far below 1e-9, which is far below any change a
model edit makes (a Monte Carlo standard error here is about 1e-2 relative).
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "results" / "reference"
SMALL = REFERENCE / "base_small"
SEED, PATIENTS = "20240601", "1000"
TOLERANCE = 1e-9
"""Relative, for regenerated reference tables (see the module notes)."""


def test_the_script_regenerates_the_folder_this_test_checks():
    script = (ROOT / "results" / "regenerate.sh").read_text(encoding="utf-8")
    assert (f'cartsim run scenarios/base.toml --seed "$seed" --patients {PATIENTS} '
            '--out "$out/base_small"') in script
    assert f"seed={SEED}" in script


def test_reference_folders_are_complete():
    for folder in ("base", "sle", "iim", "ssc", "base_small", "base_psa", "base_dsa",
                   "base_threshold", "case_series_validation", "compare_relapse", "capacity"):
        manifest = json.loads((REFERENCE / folder / "run.json").read_text(encoding="utf-8"))
        assert manifest["seed"] == int(SEED), folder
        for name in manifest["files"]:
            assert (REFERENCE / folder / name).is_file(), f"{folder}/{name}"
    for folder in ("base", "base_psa", "base_dsa"):
        assert (REFERENCE / folder / "report.html").is_file()


def test_small_base_case_matches_the_committed_tables(tmp_path, cli, agree):
    out = tmp_path / "base_small"
    result = cli(["run", ROOT / "scenarios" / "base.toml", "--seed", SEED,
                  "--patients", PATIENTS, "--out", out, "--quiet"])
    assert result.exit_code == 0, result.output
    committed = json.loads((SMALL / "run.json").read_text(encoding="utf-8"))
    fresh = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert fresh["scenario_hash"] == committed["scenario_hash"], \
        "scenarios/base.toml changed: run bash results/regenerate.sh"
    assert sorted(fresh["files"]) == sorted(committed["files"])
    problems = [p for name in sorted(n for n in committed["files"] if n.endswith(".csv"))
                for p in agree.csv_mismatches(out / name, SMALL / name, rtol=TOLERANCE)]
    if problems:
        pytest.fail("\n".join([*problems[:10], "(now vs committed: run bash "
                                "results/regenerate.sh and commit the tables)"]))


def test_the_comparison_tolerates_last_bit_differences_and_nothing_more(tmp_path, agree):
    """Every number of the committed tables moved by 4 ulps passes; one moved by 1e-8
    relative fails, naming the file, line and column."""
    names = sorted(p.name for p in SMALL.glob("*.csv"))
    for name in names:
        rows = _rows(SMALL / name)
        moved = [[_nudge(cell, 4) for cell in row] for row in rows[1:]]
        _write(tmp_path / name, [rows[0], *moved])
        assert agree.csv_mismatches(tmp_path / name, SMALL / name, rtol=TOLERANCE) == []
    rows = _rows(SMALL / "summary.csv")
    column = rows[0].index("qaly")
    was = rows[2][column]
    rows[2][column] = repr(float(was) * (1 + 1e-8))
    _write(tmp_path / "summary.csv", rows)
    found = agree.csv_mismatches(tmp_path / "summary.csv", SMALL / "summary.csv",
                                 rtol=TOLERANCE)
    assert found == [f"summary.csv line 3, qaly: {rows[2][column]!r} vs {was!r}"]


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def _write(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)


def _nudge(cell: str, ulps: int) -> str:
    """A number moved by ``ulps`` units in its last place (text left alone)."""
    try:
        x = float(cell)
    except ValueError:
        return cell
    if not math.isfinite(x) or x == 0.0:
        return cell
    for _ in range(ulps):
        x = math.nextafter(x, math.inf)
    return repr(x)
