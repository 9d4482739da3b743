"""--trace built and written block by block: trace.csv does not depend on the block size
or the number of workers, is streamed to a hidden file hashed as it is written (the
manifest's hash is the file's), and holds no -0.0."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from cartsim.report.atomic import OutputError, SpooledFile, discard_spooled
from cartsim.report.folder import folder_files
from cartsim.report.render import table_to_csv
from cartsim.scenario.load import load_scenario
from cartsim.study.result import RunResult
from cartsim.study.run import run
from cartsim.study.trace_tables import trace_table
from cartsim.table import BlockTable

BASE = Path(__file__).resolve().parents[2] / "scenarios" / "base.toml"
HORIZON = ("run.horizon=30",)


@pytest.fixture(scope="module")
def traced() -> RunResult:
    # base.toml over 30 years: three groups, age-normed utilities, recurring events,
    # deaths and censoring at the horizon.
    return run(load_scenario(BASE, HORIZON), patients=120, seed=11, trace=True)


def test_trace_csv_is_the_same_whatever_the_block_size(traced):
    whole = trace_table(traced, block_rows=10**9)
    assert sum(1 for _ in whole.blocks()) == len(traced.logs)  # one block per strategy
    text = table_to_csv(whole)
    for rows in (1, 7, 500):
        small = trace_table(traced, block_rows=rows)
        assert sum(1 for _ in small.blocks()) > len(traced.logs)
        assert table_to_csv(small) == text, rows
    lines = text.splitlines()
    assert len(lines) == 1 + whole.size == 1 + len(whole.rows)
    assert all(",-0.0," not in line and not line.endswith(",-0.0") for line in lines)
    kinds = {line.split(",")[3] for line in lines[1:]}
    assert kinds == {"sojourn", "recurring", "event", "censored"}


def test_block_rows_read_as_the_csv(traced):
    table = traced.table("trace")
    assert isinstance(table, BlockTable)
    rows = list(table.rows)
    assert len(rows) == table.size
    assert table.rows[0] == rows[0] and table.rows[-1] == rows[-1]
    assert table.rows[2:4] == rows[2:4]
    assert [r[2] for r in rows[:3]] == [0, 1, 2]  # each patient's rows numbered from 0
    with pytest.raises(IndexError):
        table.rows[table.size]


def test_trace_csv_is_the_same_with_two_workers(traced):
    other = run(load_scenario(BASE, HORIZON), patients=120, seed=11, trace=True, workers=2)
    assert table_to_csv(other.table("trace")) == table_to_csv(traced.table("trace"))


def test_long_tables_are_spooled_and_hashed_as_written(traced, tmp_path):
    in_memory = folder_files(traced)
    seen: list[int] = []
    spooled = folder_files(traced, seen.append, spool=tmp_path)
    assert sum(seen) == len(traced.table("patients").rows) + traced.table("trace").size
    assert list(spooled) == list(in_memory)
    manifest = json.loads(spooled["run.json"])["files"]
    for name in ("trace.csv", "patients.csv"):
        file = spooled[name]
        assert isinstance(file, SpooledFile) and file.path.parent == tmp_path
        assert file.path.name.startswith(".")  # hidden until renamed into a folder
        data = file.path.read_bytes()
        assert data == str(in_memory[name]).encode("utf-8")
        assert manifest[name] == file.sha256 == hashlib.sha256(data).hexdigest()
    assert manifest == json.loads(in_memory["run.json"])["files"]
    discard_spooled(spooled)
    assert list(tmp_path.iterdir()) == []


def test_a_failure_while_streaming_leaves_no_file(traced, tmp_path, monkeypatch):
    from cartsim.report import folder

    def broken(*args, **kwargs):
        yield "patient_id\n"
        raise OSError("disk full")

    monkeypatch.setattr(folder, "column_csv_chunks", broken)
    with pytest.raises(OutputError, match=r"could not write \w+\.csv .*disk full"):
        folder_files(traced, spool=tmp_path)
    assert list(tmp_path.iterdir()) == []
