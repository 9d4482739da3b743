"""`cartsim run` end to end: files written, manifest (F1), reproducibility (D1),
refusal to overwrite (G12), clean errors (G common contract), printed summary,
--quiet, help texts, and one run of the real `cartsim` console script.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import math
import os
import platform
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from cartsim.cli import main
from cartsim.scenario.load import load_scenario

TABLES = ("summary", "costs", "events", "deaths", "benefit_risk", "subgroups",
          "cost_over_time", "parameters")
TRACE_TABLES = ("patients", "trace")
REPO = Path(__file__).resolve().parents[2]
BASE_TOML = REPO / "scenarios" / "base.toml"


def expected_files(trace: bool) -> set[str]:
    # The per-patient and per-event tables are CSV only: as Markdown they would be
    # tens of MB that nobody reads.
    return ({f"{n}.{ext}" for n in TABLES for ext in ("csv", "md")} | {"run.json"}
            | ({f"{n}.csv" for n in TRACE_TABLES} if trace else set()))


def assert_run_files(folder: Path, trace: bool) -> None:
    """Every expected table is there as .csv and .md (the trace tables as .csv only);
    any extra table comes in pairs."""
    names = {p.name for p in folder.iterdir()}
    assert expected_files(trace) <= names, expected_files(trace) - names
    stems = {n.rsplit(".", 1)[0] for n in names - {"run.json"}} - set(TRACE_TABLES)
    assert names == ({f"{s}.{e}" for s in stems for e in ("csv", "md")} | {"run.json"}
                     | ({f"{n}.csv" for n in TRACE_TABLES} if trace else set()))
    if not trace:
        assert not names & {f"{n}.csv" for n in TRACE_TABLES}


def tree_bytes(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def run_ok(cli, *args) -> object:
    result = cli(["run", *map(str, args)])
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def bad_scenario(kv_text, edit, write_toml) -> Path:
    return write_toml(edit(kv_text, "rate = 0.10", "rate = -0.1"), "bad.toml")


# ---------------------------------------------------------------- files, F1

@pytest.mark.parametrize("trace", [False, True])
def test_run_writes_every_table_and_manifest(trace, kv_text, write_toml, cli, read_csv, in_tmp):
    """F1/section 6.1: every table as .csv and .md, plus run.json, in results/<stem>/."""
    path = write_toml(kv_text)
    run_ok(cli, path, "--patients", 300, "--quiet", *(["--trace"] if trace else []))
    out = in_tmp / "results" / "kv"
    assert_run_files(out, trace)
    for name in TABLES + (TRACE_TABLES if trace else ()):
        rows = read_csv(out / f"{name}.csv")
        assert rows, name
        if name not in TRACE_TABLES:
            assert (out / f"{name}.md").read_text(encoding="utf-8").startswith("## ")
    assert not [p for p in in_tmp.joinpath("results").iterdir() if p.name.startswith(".")]


def test_run_manifest_has_f1_fields_and_file_hashes(kv_text, write_toml, cli, in_tmp):
    """F1: run.json records versions, scenario hash, seed, sizes and the settings
    (perspective, horizon, discount rates, currency, price year, WTP, comparator);
    its sha256 of every file matches the file on disk."""
    path = write_toml(kv_text)
    override = "strategies.cart.upfront_cost.product=400000"
    run_ok(cli, path, "--patients", 300, "--seed", 11, "--quiet", "--set", override)
    out = in_tmp / "results" / "kv"
    manifest = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert manifest["overrides"] == [override]
    assert manifest["scenario_hash"] != load_scenario(path).canonical_hash
    assert manifest["scenario_hash"] == load_scenario(path, (override,)).canonical_hash
    assert manifest["cartsim_version"] == importlib.metadata.version("cartsim")
    assert manifest["python"] == platform.python_version()
    for package in ("numpy", "scipy", "simpy"):
        assert manifest[package] == importlib.metadata.version(package)
    assert "git_commit" in manifest
    assert manifest["seed"] == 11
    assert manifest["sizes"]["patients"] == 300 and manifest["sizes"]["strategies"] == 2
    settings = manifest["settings"]
    assert settings["perspective"] == "healthcare payer"
    assert settings["horizon"] == "lifetime"
    assert settings["discount_costs"] == 0.035 and settings["discount_outcomes"] == 0.035
    assert settings["discount_convention"] == "continuous"
    assert settings["currency"] == "USD" and settings["price_year"] == 2024
    assert settings["wtp"] == [50000.0, 100000.0]
    assert settings["comparator"] == "immunosuppression"
    assert settings["seed"] == 11 and settings["patients"] == 300
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT.*", manifest["created"])
    on_disk = {p.name for p in out.iterdir()} - {"run.json"}
    assert set(manifest["files"]) == on_disk
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest, name


def test_run_same_seed_byte_identical(kv_text, write_toml, cli, in_tmp):
    """D1: same scenario and seed twice: every file byte-identical, run.json except
    its `created` time; a different seed changes the results (D2 guard)."""
    path = write_toml(kv_text)
    for out in ("one", "two"):
        run_ok(cli, path, "--patients", 400, "--trace", "--quiet", "--out", out)
    run_ok(cli, path, "--patients", 400, "--seed", 8, "--quiet", "--out", "three")
    one, two = tree_bytes(in_tmp / "one"), tree_bytes(in_tmp / "two")
    assert one.keys() == two.keys()
    for name in one:
        if name != "run.json":
            assert one[name] == two[name], name
    m1, m2 = (json.loads(d["run.json"]) for d in (one, two))
    m1.pop("created"), m2.pop("created")
    assert m1 == m2
    assert tree_bytes(in_tmp / "three")["summary.csv"] != one["summary.csv"]


def test_run_existing_folder_refused_then_replaced(kv_text, write_toml, cli, in_tmp):
    """G12: an existing results folder is refused without --overwrite (exit 2, files
    untouched) and replaced as a whole with it."""
    path = write_toml(kv_text)
    run_ok(cli, path, "--patients", 200, "--quiet")
    out = in_tmp / "results" / "kv"
    (out / "marker.txt").write_text("from an earlier run\n", encoding="utf-8")
    before = tree_bytes(out)
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    refused = cli(["run", path, "--patients", 200, "--seed", 9])
    assert refused.exit_code == 2
    assert "--overwrite" in refused.stderr and "Traceback" not in refused.output
    assert "Simulating" not in refused.output      # refused before simulating
    assert tree_bytes(out) == before
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == mtimes
    run_ok(cli, path, "--patients", 200, "--seed", 9, "--overwrite", "--quiet")
    after = tree_bytes(out)
    assert "marker.txt" not in after
    assert_run_files(out, False)
    assert after["summary.csv"] != before["summary.csv"]
    assert json.loads(after["run.json"])["seed"] == 9
    assert not [p for p in (in_tmp / "results").iterdir() if p.name.startswith(".")]


def test_run_out_option_any_folder(kv_text, write_toml, cli, in_tmp):
    """G12: the user's own --out may name any folder (outside results/ too): the folders
    on the way are made, the whole results folder lands there (every table, a manifest
    whose hashes are the files'), and nothing is written anywhere else."""
    path = write_toml(kv_text)
    before = {p.name for p in in_tmp.iterdir()}
    target = in_tmp / "elsewhere" / "deep"
    run_ok(cli, path, "--patients", 100, "--quiet", "--out", target)
    assert_run_files(target, False)
    manifest = json.loads((target / "run.json").read_text(encoding="utf-8"))
    assert manifest["sizes"]["patients"] == 100
    assert manifest["files"] == {name: hashlib.sha256(data).hexdigest()
                                 for name, data in tree_bytes(target).items()
                                 if name != "run.json"}
    # No staging folder, lock or other leftovers beside it, and no results/ folder.
    assert [p.name for p in (in_tmp / "elsewhere").iterdir()] == ["deep"]
    assert {p.name for p in in_tmp.iterdir()} == before | {"elsewhere"}


# ------------------------------------------------------------------- errors

def test_run_bad_scenario_exit_2_nothing_created(bad_scenario, cli, in_tmp):
    """G1-G14 common contract: exit 2, one message naming file/path/value, no traceback,
    nothing created under results/."""
    result = cli(["run", bad_scenario])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert result.stdout == ""
    message = result.stderr
    assert message.startswith("Error: ") and "bad.toml" in message
    assert "strategies.cart.states.remission.transitions.relapse.rate" in message
    assert "-0.1" in message and ">= 0" in message
    assert not (in_tmp / "results").exists()


def test_run_debug_shows_traceback(bad_scenario, cli, in_tmp):
    """Section 6.7: --debug adds the traceback; the exit code stays 2."""
    result = cli(["run", bad_scenario, "--debug"])
    assert result.exit_code == 2
    assert "Traceback (most recent call last)" in result.stderr
    assert "ScenarioError" in result.stderr
    assert not (in_tmp / "results").exists()


def test_run_missing_file_exit_2(cli, in_tmp):
    """G1-G14 common contract / G5: a missing scenario file is a clean exit-2 error."""
    result = cli(["run", in_tmp / "nope.toml"])
    assert result.exit_code == 2
    assert "nope.toml" in result.stderr and "Traceback" not in result.output
    assert not (in_tmp / "results").exists()


def test_check_and_params_usage(kv_text, write_toml, cli, read_csv, in_tmp):
    """G14/F3: check prints OK with the hash; params prints every parameter (CSV and Markdown)."""
    path = write_toml(kv_text)
    scenario = load_scenario(path)
    checked = cli(["check", path])
    assert checked.exit_code == 0 and "OK" in checked.stdout
    assert scenario.canonical_hash[:12] in checked.stdout
    as_csv = cli(["params", path, "--format", "csv"])
    assert as_csv.exit_code == 0
    (in_tmp / "p.csv").write_text(as_csv.stdout, encoding="utf-8")
    assert [r["name"] for r in read_csv(in_tmp / "p.csv")] == list(scenario.parameters)
    as_md = cli(["params", path])
    assert as_md.exit_code == 0 and as_md.stdout.startswith("## ")
    assert not (in_tmp / "results").exists()


# ---------------------------------------------------------- printed summary

MONEY = r"-?[\d,]+"
QALY = r"-?\d+\.\d{3}"


def _num(text: str) -> float:
    return float(text.replace(",", ""))


def test_run_printed_summary_matches_summary_csv(kv_text, write_toml, cli, read_csv, in_tmp):
    """F2: the numbers printed after a run are summary.csv's, rounded for display."""
    path = write_toml(kv_text)
    result = run_ok(cli, path, "--patients", 500, "--seed", 3)
    text = result.stdout
    rows = {r["strategy"]: r for r in read_csv(in_tmp / "results" / "kv" / "summary.csv")}
    assert "500 patients, seed 3" in text
    for r in rows.values():                                # strategies go by their labels
        m = re.search(rf"^{re.escape(r['label'])}\s+({MONEY})\s+({QALY})\s+({QALY})$", text,
                      re.MULTILINE)
        assert m, (r["label"], text)
        assert abs(_num(m[1]) - float(r["cost"])) <= 0.5 + 1e-6
        assert abs(_num(m[2]) - float(r["qaly"])) <= 5e-4 + 1e-9
        assert abs(_num(m[3]) - float(r["ly"])) <= 5e-4 + 1e-9
    r = rows["cart"]
    label = {k: v["label"] for k, v in rows.items()}
    block = text[text.index(f"{label['cart']} vs {label['immunosuppression']}:"):]
    m = re.search(rf"incremental cost\s+({MONEY})\s+\(MCSE ({MONEY})\)", block)
    assert abs(_num(m[1]) - float(r["inc_cost"])) <= 0.5 + 1e-6
    assert abs(_num(m[2]) - float(r["inc_cost_mcse"])) <= 0.5 + 1e-6
    m = re.search(rf"incremental QALYs\s+({QALY})\s+\(MCSE ({QALY})\)", block)
    assert abs(_num(m[1]) - float(r["inc_qaly"])) <= 5e-4 + 1e-9
    assert abs(_num(m[2]) - float(r["inc_qaly_mcse"])) <= 5e-4 + 1e-9
    m = re.search(rf"ICER\s+({MONEY})\s+per QALY \((.+)\)", block)
    assert abs(_num(m[1]) - float(r["icer"])) <= 0.5 + 1e-6 and m[2] == r["icer_status"]
    for lam in ("50000", "100000"):
        m = re.search(rf"INMB at {int(lam):,}/QALY\s+({MONEY})", block)
        assert abs(_num(m[1]) - float(r[f"inmb_{lam}"])) <= 0.5 + 1e-6
    be = r["break_even_years"]
    assert (re.search(r"cost offset\s+none\s+within the horizon", block) if be == "NA" else
            re.search(rf"cost offset after\s+{float(be):.4g}\s+years", block))
    written = sorted(p.name for p in (in_tmp / "results" / "kv").iterdir())
    assert f"Wrote {len(written)} files to results/kv" in text


def test_run_quiet_prints_nothing(kv_text, write_toml, cli, in_tmp):
    """Section 6.7: --quiet prints nothing on stdout (nor stderr) for a successful run."""
    result = run_ok(cli, write_toml(kv_text), "--patients", 100, "--quiet")
    assert result.stdout == "" and result.stderr == ""
    assert (in_tmp / "results" / "kv" / "summary.csv").is_file()


def test_cli_help_texts_contain_examples(cli):
    """Section 6: `cartsim --help` and every subcommand's help show an example."""
    top = cli(["--help"])
    assert top.exit_code == 0 and "Example" in top.stdout
    assert set(main.commands) >= {"run", "check", "params"}
    for name in main.commands:
        sub = cli([name, "--help"])
        assert sub.exit_code == 0, name
        assert "Example" in sub.stdout, name


# ------------------------------------------------------------ real command

def test_cartsim_command_subprocess(kv_text, edit, write_toml, tmp_path):
    """Section 6.7: the installed `cartsim` script: exit 0 and files for a good run;
    exit 2, one message and no traceback for a bad one."""
    exe = shutil.which("cartsim")
    if exe is None:
        pytest.skip("the cartsim console script is not on PATH")
    env = dict(os.environ)
    good = write_toml(kv_text)
    done = subprocess.run([exe, "run", good.name, "--patients", "200", "--seed", "5"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert "cart vs immunosuppression" in done.stdout
    out = tmp_path / "results" / "kv"
    assert_run_files(out, False)
    assert json.loads((out / "run.json").read_text())["seed"] == 5
    bad = write_toml(edit(kv_text, "probability = 0.15", "probability = 1.5"), "bad.toml")
    done = subprocess.run([exe, "run", bad.name], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, env=env, check=False)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr + done.stdout
    assert "strategies.cart.chances.infusion.outcomes.crs.probability" in done.stderr
    assert not (tmp_path / "results" / "bad").exists()


# -------------------------------------------------------- shipped scenario

@pytest.mark.skipif(not BASE_TOML.is_file(), reason="scenarios/base.toml not written yet")
def test_base_scenario_checks_and_runs(cli, read_csv, tmp_path):
    """F3/F1 on the shipped base case: it validates, every input has a source, and a
    small run completes with finite results."""
    checked = cli(["check", BASE_TOML])
    assert checked.exit_code == 0, checked.output
    out = tmp_path / "base"
    result = cli(["run", BASE_TOML, "--patients", "300", "--quiet", "--out", out])
    assert result.exit_code == 0, result.output
    params = read_csv(out / "parameters.csv")
    assert {r["name"] for r in params} == set(load_scenario(BASE_TOML).parameters)
    assert all(r["source"] for r in params), [r["name"] for r in params if not r["source"]]
    for row in read_csv(out / "summary.csv"):
        assert math.isfinite(float(row["cost"])) and math.isfinite(float(row["qaly"]))
