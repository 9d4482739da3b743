"""The committed reference results are what the code makes today.

``results/regenerate.sh`` writes ``results/reference/`` with pinned seeds; this
test regenerates its small base-case run and compares every table with the
committed one. A failure means the code changed a result: rerun the script and
commit the new tables with the change that moved them.
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


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def _same(a: str, b: str) -> bool:
    # Equal text, or numbers equal to 1e-9 relative: the same machine gives the same
    # bytes; another CPU's vector maths may differ in the last bit of exp or log.
    if a == b:
        return True
    try:
        x, y = float(a), float(b)
    except ValueError:
        return False
    return math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12)


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


def test_small_base_case_matches_the_committed_tables(tmp_path, cli):
    out = tmp_path / "base_small"
    result = cli(["run", ROOT / "scenarios" / "base.toml", "--seed", SEED,
                  "--patients", PATIENTS, "--out", out, "--quiet"])
    assert result.exit_code == 0, result.output
    committed = json.loads((SMALL / "run.json").read_text(encoding="utf-8"))
    fresh = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert fresh["scenario_hash"] == committed["scenario_hash"], \
        "scenarios/base.toml changed: run bash results/regenerate.sh"
    assert sorted(fresh["files"]) == sorted(committed["files"])
    for name in sorted(n for n in committed["files"] if n.endswith(".csv")):
        old, new = _rows(SMALL / name), _rows(out / name)
        assert old[0] == new[0], f"{name}: columns changed"
        assert len(old) == len(new), f"{name}: {len(old)} rows committed, {len(new)} now"
        for i, (ra, rb) in enumerate(zip(old[1:], new[1:], strict=True), start=2):
            bad = [(h, a, b) for h, a, b in zip(old[0], ra, rb, strict=True) if not _same(a, b)]
            if bad:
                pytest.fail(f"{name} line {i}: {bad[:3]} (run bash results/regenerate.sh)")
