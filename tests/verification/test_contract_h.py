"""VERIFICATION group H (faults and robustness), run as the acceptance suite runs it.

tests/psa/test_checkpoint.py covers H1 (SIGINT to the whole process group), H3
(resume after a failing draw), H4 (edited scenario, other seed) and H5 (checksum,
torn line, pickle); tests/report/test_files.py covers the writer and the lock as
functions. Added here, through the CLI: SIGINT to the parent process only, resume
after it compared with an uninterrupted run, a fault and a SIGKILL during the
final write, a read-only folder and a full disk, two runs on one folder, a
failing draw with two workers, and more ways to break a checkpoint.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and limits")
FAULT = "CARTSIM_FAULT_INJECT"


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


def psa_text(contract) -> str:
    return contract.kvref().replace(
        "rate = 0.12", 'rate = { value = 0.12, dist = "gamma", mean = 0.12, se = 0.03 }')


def tree(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def assert_complete(folder: Path) -> None:
    """The folder holds exactly the files its manifest lists, each with its checksum."""
    manifest = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    assert set(manifest["files"]) == {p.name for p in folder.iterdir()} - {"run.json"}
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name


def hidden(folder: Path) -> list[str]:
    """Leftovers beside the results: staging folders, old copies, locks."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def checkpoint_draws(path: Path) -> list[int]:
    lines = path.read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0])["format"] == "cartsim-psa-checkpoint"
    draws = [json.loads(line)["draw"] for line in lines[1:]]  # every record complete
    assert len(draws) == len(set(draws))
    return draws


def wait_for(predicate, proc: subprocess.Popen, timeout: float = 60.0) -> bool:
    """Poll ``predicate`` every 5 ms while ``proc`` runs; False if it ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if predicate():
            return True
        time.sleep(0.005)
    return False


def group_alive(pgid: int) -> str:
    return subprocess.run(["pgrep", "-g", str(pgid)], capture_output=True, text=True,
                          check=False).stdout.strip()


# ------------------------------------------------------------------ H1, H3

def test_h1_h3_sigint_to_the_parent_then_resume_equals_an_uninterrupted_run(contract,
                                                                            tmp_path):
    """H1: SIGINT sent once to the parent only (not its group) after >= 30% of 200 draws
    on 2 workers: exit 130 within 15 s, no process left, no results folder, temp file or
    lock, and a checkpoint of whole, distinct draws. H3: --resume computes the rest and
    writes files byte-identical to an uninterrupted run; run.json records the resume."""
    path = contract.write(psa_text(contract), tmp_path)
    out, ckpt = tmp_path / "out", tmp_path / "out.checkpoint.jsonl"
    draws, patients = 200, 200

    def enough() -> bool:
        return ckpt.exists() and len(ckpt.read_bytes().splitlines()) > 0.3 * draws

    cmd = contract.subprocess_cmd("psa", path, "--draws", draws, "--patients", patients,
                                  "--workers", 2, "--out", out, "-q")
    with sigint_as_default(), subprocess.Popen(
            cmd, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=contract.subprocess_env()) as proc:
        if not wait_for(enough, proc):
            proc.communicate()
            pytest.skip("the PSA ended before 30% of its draws were checkpointed")
        os.kill(proc.pid, signal.SIGINT)
        start = time.monotonic()
        _, err = proc.communicate(timeout=15)
        elapsed = time.monotonic() - start
    assert proc.returncode == 130, err
    assert elapsed < 15
    time.sleep(0.2)
    assert group_alive(proc.pid) == ""
    assert not out.exists()
    assert hidden(tmp_path) == []
    done = checkpoint_draws(ckpt)
    assert 0.3 * draws < len(done) < draws
    options = ("--draws", draws, "--patients", patients)
    resumed = contract.run_to(path, out, *options, "--workers", 2, "--resume", command="psa")
    assert resumed.exit_code == 0, resumed.output
    full = tmp_path / "full"
    assert contract.run_to(path, full, *options, command="psa").exit_code == 0
    a, b = tree(out), tree(full)
    assert a.keys() == b.keys()
    for name in a:
        if name != "run.json":
            assert a[name] == b[name], name
    assert json.loads(a["run.json"])["resumed_from_checkpoint"] == len(done)
    assert not ckpt.exists() and hidden(tmp_path) == []


# ------------------------------------------------------------------ H2

def test_h2_fault_during_the_final_write_keeps_the_previous_results(contract, tmp_path):
    """H2 (deterministic variant, CARTSIM_FAULT_INJECT=write:<file>): a rerun with
    --overwrite that fails while writing trace.csv exits 1 with a message, leaves the
    previous results byte-identical and complete, and no staging folder or lock."""
    path = contract.write(contract.kvref(), tmp_path)
    out = tmp_path / "out"
    first = contract.run_to(path, out, "--patients", 150, "--trace")
    assert first.exit_code == 0, first.output
    before = tree(out)
    failed = contract.run_to(path, out, "--patients", 150, "--trace", "--seed", 3, "--overwrite",
                             env={FAULT: "write:trace.csv"})
    assert failed.exit_code == 1, failed.output
    assert "Traceback" not in failed.output and "could not write" in failed.stderr
    assert tree(out) == before
    assert_complete(out)
    assert hidden(tmp_path) == []


def test_h2_h3_psa_write_fault_keeps_the_checkpoint_for_resume(contract, tmp_path):
    """H2/H3: a PSA whose final write fails (write:psa.csv) exits 1, writes no folder and
    keeps its complete checkpoint; --resume then recomputes nothing and writes files
    identical to an uninterrupted run."""
    path = contract.write(psa_text(contract), tmp_path)
    out, ckpt = tmp_path / "out", tmp_path / "out.checkpoint.jsonl"
    options = ("--draws", 20, "--patients", 60)
    failed = contract.run_to(path, out, *options, command="psa", env={FAULT: "write:psa.csv"})
    assert failed.exit_code == 1 and not out.exists()
    assert sorted(checkpoint_draws(ckpt)) == list(range(1, 21))
    resumed = contract.run_to(path, out, *options, "--resume", command="psa")
    assert resumed.exit_code == 0, resumed.output
    full = contract.run_to(path, tmp_path / "full", *options, command="psa")
    assert full.exit_code == 0
    assert (out / "psa.csv").read_bytes() == (tmp_path / "full" / "psa.csv").read_bytes()
    assert json.loads((out / "run.json").read_text())["resumed_from_checkpoint"] == 20
    assert_complete(out)


def test_h2_sigkill_while_the_new_results_are_being_written(contract, tmp_path):
    """H2: `run --overwrite` is killed with SIGKILL as soon as its staging folder
    appears: the results folder is then either the previous results or the complete
    new ones (every file matching its manifest), never a mixture; a later run takes
    over the dead run's lock."""
    path = contract.write(contract.kvref(), tmp_path)
    out = tmp_path / "out"
    assert contract.run_to(path, out, "--patients", 100, "--trace").exit_code == 0
    before = tree(out)

    def staging() -> bool:
        return any(p.name.startswith(".out.tmp") for p in tmp_path.iterdir())

    cmd = contract.subprocess_cmd("run", path, "--out", out, "--patients", 400, "--trace",
                                  "--seed", 12, "--overwrite", "-q")
    with sigint_as_default(), subprocess.Popen(
            cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env=contract.subprocess_env()) as proc:
        caught = wait_for(staging, proc)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=15)
    assert out.is_dir()
    assert_complete(out)
    after = tree(out)
    if after == before:
        assert caught  # killed before the swap: the previous results, untouched
    else:
        assert json.loads(after["run.json"])["seed"] == 12  # the new run, complete
    again = contract.run_to(path, out, "--patients", 100, "--overwrite")
    assert again.exit_code == 0, again.output
    assert_complete(out)


# ------------------------------------------------------------------ H4, H5

@pytest.fixture
def unfinished(contract, tmp_path):
    """A PSA stopped by a failing draw 9: (scenario, out, checkpoint)."""
    path = contract.write(psa_text(contract), tmp_path)
    out = tmp_path / "out"
    failed = contract.run_to(path, out, "--draws", 16, "--patients", 50, command="psa",
                             env={FAULT: "draw:9"})
    assert failed.exit_code == 1
    ckpt = tmp_path / "out.checkpoint.jsonl"
    assert ckpt.is_file()
    return path, out, ckpt


@pytest.mark.parametrize("change", [
    ("--set", "strategies.cart.states.remission.utility=0.81"),
    ("--patients", "51"),
    ("--engine", "simpy"),
], ids=["set", "patients", "engine"])
def test_h4_resume_with_other_options_is_refused(change, unfinished, contract):
    """H4: --resume with a changed parameter (--set), patients per draw or engine: exit 2
    with a config mismatch message; nothing written, the checkpoint unchanged."""
    path, out, ckpt = unfinished
    before = ckpt.read_bytes()
    result = contract.run_to(path, out, "--draws", 16, "--patients", 50, "--resume", *change,
                             command="psa")
    assert result.exit_code == 2, result.output
    assert "different run" in result.stderr and "Traceback" not in result.output
    assert ckpt.read_bytes() == before and not out.exists()


def garble_header(data: bytes) -> bytes:
    return b"{not json" + data[5:]


def flip_a_digit_in_a_value(data: bytes) -> bytes:
    lines = data.split(b"\n")
    record = json.loads(lines[1])
    value = json.dumps(record["means"]["cart"]["qaly"]).encode()
    digit = value[3:4]
    changed = value[:3] + (b"1" if digit != b"1" else b"2") + value[4:]
    lines[1] = lines[1].replace(value, changed, 1)
    assert lines[1] != data.split(b"\n")[1]
    return b"\n".join(lines)


def drop_a_middle_record(data: bytes) -> bytes:
    """Not damage a checksum finds: a whole record removed is a draw to recompute."""
    lines = data.split(b"\n")
    return b"\n".join(lines[:2] + lines[3:])


@pytest.mark.parametrize("damage", [garble_header, flip_a_digit_in_a_value, lambda d: b""],
                         ids=["garbled-header", "flipped-digit", "empty-file"])
def test_h5_damaged_checkpoint_is_refused(damage, unfinished, contract):
    """H5: a garbled header, a value changed inside a record (checksum) or an emptied
    file: resume refused with exit 2 and a clear message; nothing merged or written."""
    path, out, ckpt = unfinished
    ckpt.write_bytes(damage(ckpt.read_bytes()))
    result = contract.run_to(path, out, "--draws", 16, "--patients", 50, "--resume",
                             command="psa")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "not a cartsim checkpoint" in result.stderr or "damaged" in result.stderr
    assert not out.exists()


def test_h5_missing_record_is_recomputed_not_merged(unfinished, contract, tmp_path):
    """H5/H3: with one whole record removed, resume recomputes that draw too: the result
    equals an uninterrupted run (nothing is silently left out)."""
    path, out, ckpt = unfinished
    ckpt.write_bytes(drop_a_middle_record(ckpt.read_bytes()))
    resumed = contract.run_to(path, out, "--draws", 16, "--patients", 50, "--resume",
                              command="psa")
    assert resumed.exit_code == 0, resumed.output
    full = contract.run_to(path, tmp_path / "full", "--draws", 16, "--patients", 50,
                           command="psa")
    assert full.exit_code == 0
    assert (out / "psa.csv").read_bytes() == (tmp_path / "full" / "psa.csv").read_bytes()


# ------------------------------------------------------------------ H6

@contextlib.contextmanager
def read_only(folder: Path):
    """Make ``folder`` unwritable: chmod for ordinary users, the immutable attribute for
    root (whom chmod does not stop); skip if neither works here."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(folder)], capture_output=True,
                                        check=False).returncode != 0:
        pytest.skip("cannot make a folder read-only for root here (no chattr +i)")
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(folder)], check=True)


def test_h6_read_only_results_folder(contract, tmp_path):
    """H6: the folder holding the results is read-only: `run --overwrite` exits non-zero
    with one clear message and no traceback; the previous results are intact and
    nothing is added beside them."""
    path = contract.write(contract.kvref(), tmp_path)
    results = tmp_path / "results"
    out = results / "kv"
    assert contract.run_to(path, out, "--patients", 100).exit_code == 0
    before = tree(out)
    with read_only(results):
        probe = results / ".probe"
        with contextlib.suppress(OSError):
            probe.touch()
        if probe.exists():
            probe.unlink()
            pytest.skip("the folder is still writable")
        result = contract.run_to(path, out, "--patients", 100, "--seed", 2, "--overwrite")
        assert result.exit_code not in (0, 130), result.output
        assert result.stderr.startswith("Error:") and "Traceback" not in result.output
        assert str(results) in result.stderr
    assert tree(out) == before and sorted(p.name for p in results.iterdir()) == ["kv"]


FULL_DISK = """\
import resource, signal, sys
limit = int(sys.argv.pop(1))
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
from cartsim.cli import main
main()
"""


def test_h6_full_disk_keeps_the_previous_results(contract, tmp_path):
    """H6: no file may grow beyond 150 kB (RLIMIT_FSIZE: writes fail like on a full
    disk): `run --trace --overwrite` exits 1 with a clear message, leaves the previous
    results intact and complete, and no partial or hidden files."""
    path = contract.write(contract.kvref(), tmp_path)
    out = tmp_path / "out"
    assert contract.run_to(path, out, "--patients", 50).exit_code == 0
    before = tree(out)
    cmd = [sys.executable, "-c", FULL_DISK, str(150_000), "run", str(path), "--out", str(out),
           "--patients", "300", "--trace", "--overwrite", "-q"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False,
                          env=contract.subprocess_env())
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("Error:") and "Traceback" not in done.stderr
    assert tree(out) == before
    assert_complete(out)
    assert hidden(tmp_path) == []


# ------------------------------------------------------------------ H7

def test_h7_a_second_run_on_the_same_folder_is_refused(contract, tmp_path):
    """H7: while a PSA runs, a second `psa ... --overwrite` on the same folder is refused
    (lock) without touching the first one's checkpoint; the first then stops cleanly on
    SIGINT with a valid checkpoint and its lock released."""
    path = contract.write(psa_text(contract), tmp_path)
    out, ckpt = tmp_path / "out", tmp_path / "out.checkpoint.jsonl"
    cmd = contract.subprocess_cmd("psa", path, "--draws", 400, "--patients", 300,
                                  "--out", out, "-q")
    with sigint_as_default(), subprocess.Popen(
            cmd, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=contract.subprocess_env()) as proc:
        if not wait_for(lambda: ckpt.exists() and len(ckpt.read_bytes().splitlines()) > 1,
                        proc):
            proc.communicate()
            pytest.skip("the first PSA ended before the second could start")
        header = ckpt.read_bytes().splitlines()[0]
        second = contract.run_to(path, out, "--draws", 10, "--patients", 20, "--overwrite",
                                 command="psa")
        running = proc.poll() is None
        os.kill(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=15)
    assert running, "the first PSA ended before the second was refused"
    assert second.exit_code != 0, second.output
    assert "lock" in second.stderr.lower() and "Traceback" not in second.output
    assert proc.returncode == 130, err
    assert ckpt.read_bytes().splitlines()[0] == header
    assert checkpoint_draws(ckpt)
    assert not out.exists() and hidden(tmp_path) == []


# ------------------------------------------------------------------ H8

def test_h8_failing_draw_with_two_workers_names_the_draw_and_seed(contract, tmp_path):
    """H8: draw 5 raises (CARTSIM_FAULT_INJECT=draw:5) while 2 workers run: exit 1, the
    message names draw 5 and the seed, no results folder; the checkpoint keeps only
    whole draws other than 5."""
    path = contract.write(psa_text(contract), tmp_path)
    out = tmp_path / "out"
    result = contract.run_to(path, out, "--draws", 24, "--patients", 40, "--workers", 2,
                             "--seed", 8080, command="psa", env={FAULT: "draw:5"})
    assert result.exit_code == 1, result.output
    assert "draw 5" in result.stderr and "8080" in result.stderr
    assert "Traceback" not in result.output
    assert not out.exists()
    assert 5 not in checkpoint_draws(tmp_path / "out.checkpoint.jsonl")
