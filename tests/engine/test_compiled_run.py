"""The compiled engine as `cartsim run` uses it: the event log it writes for --trace
is the one it summed, runs agree with the simpy engine through the library and
the command line, and numba's cache can live outside the package."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import cartsim
from cartsim.cli import main
from cartsim.outcomes.accounting import value_log
from cartsim.outcomes.curves import curve_grid, curve_sums, curve_years
from cartsim.study import runner

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "scenarios" / "base.toml"


def _close(a, b, what, rel=1e-12):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    scale = np.maximum(np.maximum(np.abs(a), np.abs(b)), np.max(np.abs(a), initial=0.0) * 1e-3)
    bad = np.flatnonzero(np.abs(a - b) > rel * scale)
    assert bad.size == 0, f"{what}: {a[bad[:3]]} vs {b[bad[:3]]}"


@pytest.mark.parametrize("chunk", [1 << 16, 97])
def test_the_trace_log_is_what_the_kernel_summed(monkeypatch, chunk):
    """Valuing the compiled engine's own event log (value_log, curve_sums) gives the
    totals and curves the kernel summed as it simulated, in one chunk or several."""
    monkeypatch.setattr(runner, "RUN_CHUNK", chunk)
    scenario = cartsim.load_scenario(BASE)
    result = cartsim.run_scenario(scenario, patients=400, seed=11, keep_logs=True)
    assert result.engine == "compiled"
    run, cohort = scenario.run, result.cohort
    for name, model in result.models.items():
        log = result.logs[name]
        again = value_log(log, model.pathways, model.valuations, cohort.group, result.rates,
                          run.cost_factor, age=cohort.age, female=cohort.female)
        for column, values in again.columns.items():
            _close(values, result.outcomes[name][column], f"{name}.{column}")
        assert again.cause_names == result.outcomes[name].cause_names
        curves = curve_sums(log, model.valuations, cohort.group, result.rates,
                            curve_grid(run.horizon), curve_years(run.horizon), run.cost_factor)
        for field in ("cost", "occupancy", "dead", "annual_disc", "annual_undisc", "ly",
                      "qaly_state"):
            _close(getattr(curves, field), getattr(result.curves[name], field), field, 1e-10)


def test_compiled_and_simpy_runs_agree_patient_by_patient():
    scenario = cartsim.load_scenario(BASE)
    ours = cartsim.run_scenario(scenario, patients=300, seed=2, keep_logs=False)
    ref = cartsim.run_scenario(scenario, patients=300, seed=2, engine="simpy", keep_logs=False)
    for name, outcomes in ref.outcomes.items():
        for column, values in outcomes.columns.items():
            _close(values, ours.outcomes[name][column], f"{name}.{column}")
        for field in ("cost", "occupancy", "dead", "annual_disc", "annual_undisc", "ly",
                      "qaly_state"):
            _close(getattr(ref.curves[name], field), getattr(ours.curves[name], field), field,
                   1e-10)


def _table(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_cli_engines_write_the_same_tables(tmp_path):
    """--engine compiled (the default) and --engine simpy: the same tables, numbers equal
    to 1e-12 relative (the engines' last bits may differ); run.json names the engine."""
    runner = CliRunner()
    outs = {}
    for engine in ("compiled", "simpy"):
        out = tmp_path / engine
        args = ["run", str(BASE), "--patients", "300", "--out", str(out), "-q", "--trace"]
        result = runner.invoke(main, [*args, "--engine", engine] if engine == "simpy" else args)
        assert result.exit_code == 0, result.output
        outs[engine] = out
        assert json.loads((out / "run.json").read_text())["engine"] == engine
    names = sorted(p.name for p in outs["simpy"].glob("*.csv"))
    assert "trace.csv" in names and "patients.csv" in names
    for name in names:
        a, b = _table(outs["simpy"] / name), _table(outs["compiled"] / name)
        assert len(a) == len(b), name
        for row_a, row_b in zip(a, b, strict=True):
            assert row_a.keys() == row_b.keys(), name
            for key, x in row_a.items():
                y = row_b[key]
                if x == y:
                    continue
                fx, fy = float(x), float(y)  # a number that differs in its last digits
                assert math.isclose(fx, fy, rel_tol=1e-12, abs_tol=1e-9), (name, key, x, y)


@pytest.mark.slow
def test_the_kernel_compiles_into_a_cache_directory_of_its_own(tmp_path):
    """Where the package directory cannot be written, NUMBA_CACHE_DIR (or numba's user
    cache) holds the compiled kernel; a second process loads it instead of compiling."""
    cache = tmp_path / "numba_cache"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    code = "from cartsim.engine.compiled import warm_up; warm_up()"
    for _ in range(2):
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                              text=True, timeout=600, check=False)
        assert done.returncode == 0, done.stderr
    assert any(cache.rglob("*.nbi")) and any(cache.rglob("*.nbc"))


def test_the_kernel_cache_is_keyed_on_every_file_it_is_compiled_from():
    """Numba keys a cache on the function's own file; cartsim keys the kernel's on all of
    its files, so editing a callee (or a code in flatten) cannot leave stale code. Every
    module that compiles kernel code must be listed."""
    from cartsim.engine import jit

    engine = ROOT / "cartsim" / "engine"
    compiling = {p.resolve() for p in engine.glob("*.py")
                 if "from cartsim.engine.jit import" in p.read_text(encoding="utf-8")}
    assert compiling <= set(jit.KERNEL_SOURCES)
    assert (engine / "flatten.py").resolve() in jit.KERNEL_SOURCES  # codes the kernel reads
    assert all(p.is_file() for p in jit.KERNEL_SOURCES)
