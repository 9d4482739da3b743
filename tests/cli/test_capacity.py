"""`cartsim capacity` as users run it: files and manifest, the printed summary,
same seed => identical files, and clean exit-2 errors that write nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

TABLES = ("capacity_outcomes", "lost_to_waiting", "waiting_times", "throughput", "resources",
          "queue_exits", "capacity_inputs", "parameters")


def tree(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture
def run_shipped(cap, cli, tmp_path):
    def run(name: str, *extra: str):
        out = tmp_path / name
        result = cli(["capacity", cap.shipped, "--replications", "2", "--out", out, *extra])
        assert result.exit_code == 0, result.output
        return out, result

    return run


def test_capacity_writes_tables_manifest_and_summary(run_shipped, read_csv):
    out, result = run_shipped("a")
    expected = {f"{t}.{ext}" for t in TABLES for ext in ("csv", "md")} | {"run.json"}
    assert set(tree(out)) == expected
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["command"] == "capacity" and manifest["engine"] == "simpy"
    assert manifest["settings"]["replications"] == 2
    referred = manifest["sizes"]["patients"]
    exits = read_csv(out / "queue_exits.csv")
    assert sum(int(r["patients"]) for r in exits) == referred
    arms = [r["arm"] for r in read_csv(out / "capacity_outcomes.csv")]
    assert arms == ["immunosuppression", "car_t", "car_t_unconstrained"]
    assert f"{referred:,} referrals in 2 programme(s)" in result.output
    assert "QALYs per referral, capacity vs unlimited" in result.output


def test_same_seed_gives_identical_files(run_shipped):
    first, _ = run_shipped("one")
    second, _ = run_shipped("two")
    other, _ = run_shipped("three", "--seed", "7")
    a, b, c = tree(first), tree(second), tree(other)
    ma, mb = (json.loads(t.pop("run.json")) for t in (a, b))
    ma.pop("created"), mb.pop("created")
    assert a == b and ma == mb
    assert c["capacity_outcomes.csv"] != a["capacity_outcomes.csv"]


def test_bad_capacity_table_exits_2_and_writes_nothing(cap, cli, tmp_path):
    path = cap.write("[capacity]\nreplications = -1\n[capacity.arrivals]\nrate = 5\n"
                     "[capacity.manufacturing]\nslots_per_mont = 2\n")
    out = tmp_path / "never"
    result = cli(["capacity", path, "--out", out])
    assert result.exit_code == 2
    for text in (path.name, "capacity.replications", "capacity.arrivals.years",
                 "capacity.manufacturing.slots_per_mont", "did you mean 'slots_per_month'"):
        assert text in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_scenario_without_capacity_is_refused(cap, cli, tmp_path):
    out = tmp_path / "never"
    result = cli(["capacity", cap.base, "--out", out])
    assert result.exit_code == 2
    assert "capacity: missing" in result.output and "scenarios/capacity.toml" in result.output
    assert not out.exists()


def test_existing_folder_needs_overwrite(run_shipped, cap, cli):
    out, _ = run_shipped("kept")
    before = tree(out)
    result = cli(["capacity", cap.shipped, "--replications", "2", "--out", out])
    assert result.exit_code == 2
    assert tree(out) == before


def test_capacity_is_listed_in_help(cli):
    result = cli(["--help"])
    assert "capacity" in result.output
    assert "outcomes lost to waiting" in cli(["capacity", "--help"]).output
