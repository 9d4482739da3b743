"""The compiled engine on several threads: a run's slots are simulated in parts of
``compiled.PART`` slots, on as many threads as numba may use, and the files are
byte-identical whatever that number; the parts agree with one serial pass."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import cartsim
from cartsim.cli import main
from cartsim.engine import compiled
from cartsim.errors import SimulationError
from cartsim.params.survival import Exponential
from cartsim.pathway.model import Pathway, State, Transition
from cartsim.rng import Streams
from cartsim.vocabulary import DEAD

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "scenarios" / "base.toml"


def _run(monkeypatch, threads: int, part: int, patients: int = 500):
    monkeypatch.setattr(compiled, "threads", lambda: threads)
    monkeypatch.setattr(compiled, "PART", part)
    scenario = cartsim.load_scenario(BASE)
    return cartsim.run_scenario(scenario, patients=patients, seed=5, keep_logs=False)


def test_threads_change_no_bit_of_totals_or_curves(monkeypatch):
    one, four = _run(monkeypatch, 1, 37), _run(monkeypatch, 4, 37)
    for name, outcomes in one.outcomes.items():
        for column, values in outcomes.columns.items():
            assert np.array_equal(values, four.outcomes[name][column]), (name, column)
        for field in ("cost", "occupancy", "dead", "annual_disc", "annual_undisc"):
            a, b = getattr(one.curves[name], field), getattr(four.curves[name], field)
            assert np.array_equal(a, b), (name, field)


def test_parts_agree_with_one_serial_pass(monkeypatch):
    """Per-patient totals do not depend on the parts at all; curve bins are added part
    by part, so they agree to rounding (1e-12 relative) with one pass over all slots."""
    whole, parts = _run(monkeypatch, 1, 1 << 20), _run(monkeypatch, 2, 37)
    for name, outcomes in whole.outcomes.items():
        for column, values in outcomes.columns.items():
            assert np.array_equal(values, parts.outcomes[name][column]), (name, column)
        for field in ("cost", "occupancy", "dead", "annual_disc", "annual_undisc"):
            a, b = getattr(whole.curves[name], field), getattr(parts.curves[name], field)
            scale = max(float(np.max(np.abs(a))), 1.0)
            assert np.max(np.abs(a - b)) <= 1e-12 * scale, (name, field)


def test_cli_files_are_identical_for_one_or_two_threads(tmp_path, monkeypatch):
    monkeypatch.setattr(compiled, "PART", 64)
    runner = CliRunner()
    outs = []
    for threads in (1, 2):
        monkeypatch.setattr(compiled, "threads", lambda t=threads: t)
        out = tmp_path / f"threads{threads}"
        result = runner.invoke(main, ["run", str(BASE), "--patients", "300", "--out", str(out),
                                      "-q"])
        assert result.exit_code == 0, result.output
        outs.append(out)
    names = sorted(p.name for p in outs[0].glob("*.csv"))
    assert "cost_over_time.csv" in names and "costs.csv" in names
    for name in names:
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name


def test_psa_files_are_identical_for_one_or_two_threads(tmp_path, monkeypatch):
    """A PSA simulates a batch of draws x patients in one kernel call: its parts run on
    threads too, and change nothing."""
    monkeypatch.setattr(compiled, "PART", 29)
    runner = CliRunner()
    outs = []
    for threads in (1, 2):
        monkeypatch.setattr(compiled, "threads", lambda t=threads: t)
        out = tmp_path / f"threads{threads}"
        result = runner.invoke(main, ["psa", str(BASE), "--draws", "4", "--patients", "40",
                                      "--out", str(out), "-q"])
        assert result.exit_code == 0, result.output
        outs.append(out)
    names = sorted(p.name for p in outs[0].glob("*.csv"))
    assert len(names) >= 3
    for name in names:
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name


def test_the_first_stuck_slot_is_reported_whatever_the_threads(monkeypatch):
    """A patient who can never leave a state is an error naming the first such slot in
    slot order, as the serial kernel names it, though later parts ran beside it."""
    def pathway(rate: float) -> Pathway:
        return Pathway("p", "well", {"well": State("well", transitions=(
            Transition("dies", DEAD, Exponential(rate)),))})

    plan = compiled.flatten([pathway(1.0), pathway(0.0)], ("well",), ("start", "death", "dies"))
    nothing = compiled.Accrual(np.zeros((2, 1, 1, 1)), np.zeros((2, 1, 3, 1)),
                               np.zeros((1, 1)), np.zeros(1, np.bool_),
                               np.full((2, 1), -1, np.int64), np.zeros(1))
    n = 50
    row = np.zeros(n, np.int64)
    row[[13, 30]] = 1  # never leave "well": rate 0
    slots = compiled.make_slots(np.arange(n), 0, row, np.full(n, 40.0), np.ones(n))
    monkeypatch.setattr(compiled, "PART", 7)
    for threads in (1, 3):
        monkeypatch.setattr(compiled, "threads", lambda t=threads: t)
        with pytest.raises(SimulationError, match=r"patient 13 .* state 'well'") as err:
            compiled.run_plan(plan, nothing, slots, life_table=None, horizon=np.inf,
                              streams=Streams(1))
        assert err.value.slot == 13  # type: ignore[attr-defined]
