"""PSA on a Dask cluster (`--scheduler`): identical files, checkpoints, failures, Ctrl-C.

The cluster is a ``distributed.LocalCluster`` of two single-threaded worker
*processes*, so jobs and results really travel pickled over TCP, as they would
to another machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from cartsim.cli import main
from cartsim.study.psa import FAULT_ENV

SCENARIO = """
model = "custom"
[run]
seed = 5
life_table = "none"
comparator = "a"
wtp = [20000, 50000]
[strategies.a]
start = "s"
[strategies.a.states.s]
utility = { value = 0.7, dist = "beta", mean = 0.7, se = 0.05 }
cost = { value = 1000, dist = "gamma", mean = 1000, se = 200 }
death = { rate = { value = 0.05, dist = "gamma", mean = 0.05, se = 0.01 } }
[strategies.b]
start = "s"
upfront_cost = { value = 5000, dist = "gamma", mean = 5000, se = 1000 }
[strategies.b.states.s]
utility = 0.8
cost = 1000
death = { rate = 0.04 }
[[correlations]]
params = ["strategies.a.states.s.cost", "strategies.a.states.s.death.rate"]
rho = -0.4
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


@pytest.fixture(scope="module")
def cluster() -> Iterator[object]:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as local:  # any free port
        yield local


def psa(args: list[str]):
    return CliRunner().invoke(main, ["psa", *map(str, args), "-q"])


def files(folder: Path) -> dict[str, bytes]:
    """Every file's bytes; run.json without its time stamp (the only field that varies)."""
    out = {}
    for f in sorted(folder.iterdir()):
        if f.name == "run.json":
            manifest = json.loads(f.read_text())
            manifest.pop("created")
            out[f.name] = json.dumps(manifest, sort_keys=True).encode()
        else:
            out[f.name] = f.read_bytes()
    return out


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO, encoding="utf-8")
    return path


def test_dask_results_are_byte_identical_to_local_runs(cluster, scenario, tmp_path):
    """D3 across backends: --workers 1, --workers 2 and --scheduler write identical files."""
    common = [scenario, "--draws", "24", "--patients", "150"]
    runs = {"w1": ["--workers", "1"], "w2": ["--workers", "2"],
            "dask": ["--scheduler", cluster.scheduler_address]}
    for name, extra in runs.items():
        result = psa([*common, *extra, "--out", tmp_path / name])
        assert result.exit_code == 0, result.output
    reference = files(tmp_path / "w1")
    assert "psa_correlations.csv" in reference
    assert files(tmp_path / "w2") == reference
    assert files(tmp_path / "dask") == reference


def test_dask_failed_draw_then_resume_on_the_cluster(cluster, scenario, tmp_path):
    """H8/H3 on Dask: a draw failing on a worker stops the run (exit 1, draw and seed
    named, nothing written, finished draws checkpointed); --resume on the cluster then
    gives the files of an uninterrupted local run."""
    from distributed import Client

    out, ckpt = tmp_path / "out", tmp_path / "out.checkpoint.jsonl"
    args = [scenario, "--draws", "24", "--patients", "100", "--out", out]
    with Client(cluster.scheduler_address, set_as_default=False) as client:
        # Lambdas travel by value; os.environ is then the worker's own.
        client.run(lambda: os.environ.update({FAULT_ENV: "draw:20"}))
        try:
            failed = psa([*args, "--scheduler", cluster.scheduler_address])
        finally:
            client.run(lambda: os.environ.pop(FAULT_ENV, None))
    assert failed.exit_code == 1
    assert "draw 20" in failed.stderr and "seed 5" in failed.stderr
    assert not out.exists()
    done = [json.loads(line)["draw"] for line in ckpt.read_text().splitlines()[1:]]
    assert 20 not in done and len(done) == len(set(done))
    resumed = psa([*args, "--scheduler", cluster.scheduler_address, "--resume"])
    assert resumed.exit_code == 0, resumed.output
    assert json.loads((out / "run.json").read_text())["resumed_from_checkpoint"] == len(done)
    local = tmp_path / "local"
    assert psa([*args[:-1], local]).exit_code == 0
    resumed_files, local_files = files(out), files(local)
    resumed_files.pop("run.json"), local_files.pop("run.json")
    assert resumed_files == local_files


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_dask_sigint_cancels_and_keeps_completed_draws(cluster, scenario, tmp_path):
    """H1 on Dask: SIGINT to `cartsim psa --scheduler`: exit 130 within 15 s, no results
    folder, every checkpoint record complete; the cluster stays usable."""
    out, ckpt = tmp_path / "out", tmp_path / "out.checkpoint.jsonl"
    cmd = [sys.executable, "-m", "cartsim", "psa", str(scenario), "--draws", "400",
           "--patients", "400", "--scheduler", cluster.scheduler_address, "--out", str(out),
           "-q"]
    with sigint_as_default():
        proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        if ckpt.exists() and len(ckpt.read_text().splitlines()) > 10:
            break
        time.sleep(0.02)
    if proc.poll() is not None:
        _, err = proc.communicate()
        assert proc.returncode == 0, err.decode()
        pytest.skip("the PSA finished before it could be interrupted on this machine")
    os.killpg(proc.pid, signal.SIGINT)
    start = time.time()
    _, err = proc.communicate(timeout=15)
    assert proc.returncode == 130, err.decode()
    assert time.time() - start < 15
    assert not out.exists()
    for line in ckpt.read_text().splitlines()[1:]:
        json.loads(line)
    from distributed import Client

    with Client(cluster.scheduler_address, set_as_default=False) as client:
        assert client.submit(sum, [1, 2]).result(timeout=10) == 3


def test_unreachable_scheduler_is_a_usage_error(scenario, tmp_path):
    pytest.importorskip("distributed")
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    out = tmp_path / "out"
    result = psa([scenario, "--draws", "3", "--scheduler", f"tcp://127.0.0.1:{port}",
                  "--out", out])
    assert result.exit_code == 2
    assert f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}" in result.stderr
    assert not out.exists()
    bad = psa([scenario, "--draws", "3", "--scheduler", "localhost", "--out", out])
    assert bad.exit_code == 2 and "is not a Dask address" in bad.stderr


def test_workers_and_scheduler_exclude_each_other(scenario, tmp_path):
    result = psa([scenario, "--workers", "2", "--scheduler", "tcp://127.0.0.1:8786",
                   "--out", tmp_path / "out"])
    assert result.exit_code == 2 and "exclude each other" in result.stderr


def test_missing_distributed_names_the_extra(scenario, tmp_path, monkeypatch):
    """Without Dask installed, --scheduler says how to get it (exit 2), nothing written."""
    monkeypatch.setitem(sys.modules, "distributed", None)  # makes `import distributed` fail
    out = tmp_path / "out"
    result = psa([scenario, "--draws", "3", "--scheduler", "tcp://127.0.0.1:8786",
                  "--out", out])
    assert result.exit_code == 2
    assert "pip install 'cartsim[dask]'" in result.stderr
    assert not out.exists()
