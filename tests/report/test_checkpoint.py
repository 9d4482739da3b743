"""PSA checkpoint, resume and interruption (VERIFICATION H1, H3, H4, H5, G11)."""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from cartsim.cli import main

SCENARIO = """
model = "custom"
[run]
seed = 5
horizon = "lifetime"
life_table = "none"
comparator = "a"
[strategies.a]
start = "s"
[strategies.a.states.s]
utility = 0.7
cost = { value = 1000, dist = "gamma", mean = 1000, se = 200 }
death = { rate = { value = 0.05, dist = "gamma", mean = 0.05, se = 0.01 } }
[strategies.b]
start = "s"
upfront_cost = 5000
[strategies.b.states.s]
utility = 0.8
cost = 1000
death = { rate = 0.04 }
"""


@contextlib.contextmanager
def sigint_as_default() -> Iterator[None]:
    """Start children with SIGINT at its default, so the signal interrupts them even when
    the test runner itself was started with SIGINT ignored (a background job of a
    non-interactive shell): an ignored signal is inherited across exec, and Python then
    keeps it ignored. (A handler, unlike SIG_IGN, is reset to the default by exec.)"""
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        yield
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def write(tmp_path: Path, text: str = SCENARIO) -> Path:
    path = tmp_path / "s.toml"
    path.write_text(text, encoding="utf-8")
    return path


def psa(args: list[str], env: dict[str, str] | None = None):
    runner = CliRunner()
    return runner.invoke(main, ["psa", *args, "-q"], env=env)


def base_args(path: Path, out: Path, draws: int = 20) -> list[str]:
    return [str(path), "--draws", str(draws), "--patients", "100", "--out", str(out)]


def test_resume_after_a_failed_draw_gives_identical_tables(tmp_path):
    """H3: a run stopped by a failing draw leaves a checkpoint of the draws finished before
    it; --resume computes only the rest and writes tables byte-identical to an
    uninterrupted run; run.json records the resume; the checkpoint is removed."""
    path, out, full = write(tmp_path), tmp_path / "out", tmp_path / "full"
    failed = psa(base_args(path, out), env={"CARTSIM_FAULT_INJECT": "draw:12"})
    assert failed.exit_code == 1 and "draw 12" in failed.stderr
    ckpt = tmp_path / "out.checkpoint.jsonl"
    lines = ckpt.read_text().splitlines()
    assert json.loads(lines[0])["format"] == "cartsim-psa-checkpoint"
    done = sorted(json.loads(line)["draw"] for line in lines[1:])
    assert done and 12 not in done and done == list(range(1, len(done) + 1))
    assert not out.exists()
    resumed = psa([*base_args(path, out), "--resume"])
    assert resumed.exit_code == 0, resumed.output
    assert psa(base_args(path, full)).exit_code == 0
    for f in full.iterdir():
        if f.name != "run.json":
            assert (out / f.name).read_bytes() == f.read_bytes(), f.name
    assert json.loads((out / "run.json").read_text())["resumed_from_checkpoint"] == len(done)
    assert not ckpt.exists()


def _interrupted(tmp_path: Path, seed: str | None = None,
                 failing: int = 12) -> tuple[Path, Path, Path]:
    path, out = write(tmp_path), tmp_path / "out"
    extra = ["--seed", seed] if seed is not None else []
    psa([*base_args(path, out), *extra], env={"CARTSIM_FAULT_INJECT": f"draw:{failing}"})
    return path, out, tmp_path / "out.checkpoint.jsonl"


def test_existing_checkpoint_needs_resume_or_overwrite(tmp_path):
    """A new run never silently discards or mixes an unfinished PSA."""
    path, out, ckpt = _interrupted(tmp_path)
    result = psa(base_args(path, out))
    assert result.exit_code == 2 and "--resume" in result.stderr
    assert psa([*base_args(path, out), "--overwrite"]).exit_code == 0
    assert not ckpt.exists()


def test_resume_with_changed_scenario_is_refused(tmp_path):
    """H4: the checkpoint belongs to another configuration: exit 2, nothing mixed."""
    path, out, ckpt = _interrupted(tmp_path)
    before = ckpt.read_bytes()
    write(tmp_path, SCENARIO.replace("upfront_cost = 5000", "upfront_cost = 6000"))
    result = psa([*base_args(path, out), "--resume"])
    assert result.exit_code == 2 and "different run" in result.stderr
    assert ckpt.read_bytes() == before and not out.exists()
    other_seed = psa([*base_args(path, out), "--resume", "--seed", "6"])
    assert other_seed.exit_code == 2


def test_damaged_middle_record_is_refused(tmp_path):
    """H5: a flipped byte inside a record fails its checksum: resume refused (exit 2)."""
    path, out, ckpt = _interrupted(tmp_path)
    lines = ckpt.read_text().splitlines()
    lines[1] = lines[1].replace('"draw":1', '"draw":7')
    ckpt.write_text("\n".join(lines) + "\n")
    result = psa([*base_args(path, out), "--resume"])
    assert result.exit_code == 2 and "damaged at line 2" in result.stderr
    assert not out.exists()


def test_torn_last_record_is_discarded_and_recomputed(tmp_path):
    """H5/H2: a last line cut mid-write (a crash) is dropped, reported, and its draw
    recomputed; the result equals an uninterrupted run."""
    path, out, ckpt = _interrupted(tmp_path)
    ckpt.write_bytes(ckpt.read_bytes()[:-25])
    result = CliRunner().invoke(main, ["psa", *base_args(path, out), "--resume"])
    assert result.exit_code == 0, result.output
    assert "discarded a damaged last record" in result.stderr
    full = tmp_path / "full"
    assert psa(base_args(path, full)).exit_code == 0
    assert (out / "psa.csv").read_bytes() == (full / "psa.csv").read_bytes()


def test_pickle_checkpoint_is_refused_and_never_loaded(tmp_path):
    """G11/H5: a crafted pickle in place of the checkpoint is an unknown format."""
    path, out = write(tmp_path), tmp_path / "out"
    canary = tmp_path / "CANARY"

    class Evil:
        def __reduce__(self):
            return (Path.touch, (canary,))

    (tmp_path / "out.checkpoint.jsonl").write_bytes(pickle.dumps(Evil()))
    result = psa([*base_args(path, out), "--resume"])
    assert result.exit_code == 2 and "unknown format" in result.stderr
    assert not canary.exists()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigint_stops_workers_and_keeps_completed_draws(tmp_path):
    """H1: SIGINT during a 2-worker PSA: exit 130 within 15 s, no process left in the
    group, no results folder or temp file, and the checkpoint lists only whole draws;
    --resume then completes it."""
    path, out = write(tmp_path), tmp_path / "out"
    ckpt = tmp_path / "out.checkpoint.jsonl"
    cmd = [sys.executable, "-m", "cartsim", "psa", str(path), "--draws", "400", "--patients",
           "400", "--workers", "2", "--out", str(out), "-q"]
    with sigint_as_default():
        proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        if ckpt.exists() and len(ckpt.read_text().splitlines()) > 40:
            break
        time.sleep(0.02)
    if proc.poll() is not None:
        pytest.skip("the PSA finished before it could be interrupted on this machine")
    os.killpg(proc.pid, signal.SIGINT)
    start = time.time()
    proc.communicate(timeout=15)
    assert proc.returncode == 130 and time.time() - start < 15
    time.sleep(0.3)
    left = subprocess.run(["pgrep", "-g", str(proc.pid)], capture_output=True, text=True,
                          check=False)
    assert left.stdout.strip() == ""
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    for line in ckpt.read_text().splitlines()[1:]:
        json.loads(line)  # every record complete
    assert psa([*base_args(path, out, 400)[:-4], "--patients", "400", "--workers", "2",
                "--out", str(out), "--resume"]).exit_code == 0


def _records(ckpt: Path) -> tuple[str, list[str]]:
    head, *records = ckpt.read_text().splitlines()
    return head, records


def _refused(path: Path, out: Path, ckpt: Path, before: bytes, why: str) -> None:
    result = psa([*base_args(path, out), "--resume"])
    assert result.exit_code == 2, result.output
    assert why in result.stderr and "Traceback" not in result.output
    assert ckpt.read_bytes() == before and not out.exists()


def test_record_copied_from_another_run_is_refused(tmp_path):
    """A draw's record from a run with another seed, appended whole (with its own valid
    checksum) to this run's checkpoint, is not this run's: resume refused, nothing merged."""
    path, out, ckpt = _interrupted(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    _, _, other_ckpt = _interrupted(other, seed="6", failing=20)
    head, records = _records(ckpt)
    mine = {json.loads(r)["draw"] for r in records}
    foreign = next(r for r in _records(other_ckpt)[1] if json.loads(r)["draw"] not in mine)
    ckpt.write_text("\n".join([head, *records, foreign]) + "\n")
    _refused(path, out, ckpt, ckpt.read_bytes(), "damaged at line")


def test_reordered_or_duplicated_records_are_refused(tmp_path):
    """Records are chained in the order they were written: swapping two, or repeating
    one, breaks the chain."""
    path, out, ckpt = _interrupted(tmp_path)
    head, records = _records(ckpt)
    assert len(records) >= 2
    swapped = [head, records[1], records[0], *records[2:]]
    ckpt.write_text("\n".join(swapped) + "\n")
    _refused(path, out, ckpt, ckpt.read_bytes(), "damaged at line 3 (records out of order")
    repeated = [head, *records, records[-1]]
    ckpt.write_text("\n".join(repeated) + "\n")
    _refused(path, out, ckpt, ckpt.read_bytes(),
             f"damaged at line {len(records) + 2} (records out of order or repeated)")


def test_missing_middle_record_is_reported_and_recomputed(tmp_path):
    """A whole record removed from the middle is a gap in the positions: resuming says so
    and computes that draw again; the tables equal an uninterrupted run's."""
    path, out, ckpt = _interrupted(tmp_path)
    head, records = _records(ckpt)
    ckpt.write_text("\n".join([head, records[0], *records[2:]]) + "\n")
    result = CliRunner().invoke(main, ["psa", *base_args(path, out), "--resume"])
    assert result.exit_code == 0, result.output
    assert "1 record(s) missing" in result.stderr
    full = tmp_path / "full"
    assert psa(base_args(path, full)).exit_code == 0
    assert (out / "psa.csv").read_bytes() == (full / "psa.csv").read_bytes()


def test_edited_header_is_refused(tmp_path):
    """The header anchors the chain: editing a setting in it (to resume another run's
    draws under this run's settings) breaks every record."""
    path, out, ckpt = _interrupted(tmp_path)
    head, records = _records(ckpt)
    header = json.loads(head)
    header["note"] = "edited"
    ckpt.write_text("\n".join([json.dumps(header), *records]) + "\n")
    _refused(path, out, ckpt, ckpt.read_bytes(), "damaged at line 2")


def test_complete_damaged_last_record_is_refused_not_dropped(tmp_path):
    """Only a line cut short by a crash (no final newline) is discarded; a whole last line
    that fails its checksum was edited or inserted, and is refused."""
    path, out, ckpt = _interrupted(tmp_path)
    head, records = _records(ckpt)
    tampered = json.loads(records[-1])
    tampered["means"]["a"]["cost"] += 1.0
    records[-1] = json.dumps(tampered, sort_keys=True, separators=(",", ":"))
    ckpt.write_text("\n".join([head, *records]) + "\n")
    _refused(path, out, ckpt, ckpt.read_bytes(), f"damaged at line {len(records) + 1}")


def test_older_checkpoint_version_is_refused(tmp_path):
    path, out, ckpt = _interrupted(tmp_path)
    head, records = _records(ckpt)
    header = json.loads(head)
    header["version"] = 1
    ckpt.write_text("\n".join([json.dumps(header), *records]) + "\n")
    _refused(path, out, ckpt, ckpt.read_bytes(), "version 1 checkpoint")
