"""VERIFICATION group G (bad input) for `cartsim psa`.

G1-G14 are covered through `cartsim check` and `cartsim run` by
tests/scenario/test_validation.py and tests/cli/test_run.py (the contract's
`validate` verb is `cartsim check`; `cartsim validate` is the case-series check
and also exits 2 listing every problem, tests/validation/test_validate_command.py).
Added here: the run controls and output rules of the PSA command, where a bad
value must leave no results folder, checkpoint or lock behind.
"""

from __future__ import annotations

from pathlib import Path

import pytest

BAD_FLAGS = [
    (["--draws", "0"], "--draws"),
    (["--draws", "-5"], "--draws"),
    (["--draws", str(10**9)], "1000000"),      # G13: the cap is stated
    (["--workers", "0"], "--workers"),
    (["--patients", "0"], "--patients"),
    (["--patients", str(10**12)], "10000000"),
    (["--seed", "-1"], "--seed"),
    (["--seed", "1.5"], "--seed"),
]


def nothing_written(folder: Path, keep: set[str]) -> None:
    assert {p.name for p in folder.iterdir()} == keep


@pytest.mark.parametrize(("flags", "named"), BAD_FLAGS, ids=[" ".join(f) for f, _ in BAD_FLAGS])
def test_g10_g13_psa_run_controls_are_refused(flags, named, contract, tmp_path):
    """G10/G13: bad or oversized run controls of `psa`: exit 2, the option (or cap) named,
    no traceback, nothing written (no folder, checkpoint or lock)."""
    path = contract.write(contract.kvref(), tmp_path)
    result = contract.run_to(path, tmp_path / "out", *flags, command="psa")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert named in result.stderr
    nothing_written(tmp_path, {path.name})


def test_g_common_contract_bad_scenario_for_psa(contract, tmp_path):
    """G common contract for `psa`: a negative rate and a probability above 1 are both
    named with file, dotted key and value; exit 2; no checkpoint or lock is left."""
    text = contract.kvref(crs=(1.3, 1000.0, 0.01)).replace("rate = 0.12", "rate = -0.12")
    path = contract.write(text, tmp_path)
    result = contract.run_to(path, tmp_path / "out", "--draws", 5, command="psa")
    assert result.exit_code == 2 and "Traceback" not in result.output
    message = result.stderr
    assert path.name in message and "2 problems" in message
    assert contract.RELAPSE in message and "-0.12" in message
    assert "strategies.cart.chances.infusion.outcomes.crs.probability" in message
    assert "1.3" in message
    nothing_written(tmp_path, {path.name})


def test_g12_psa_never_replaces_a_folder_without_overwrite(contract, tmp_path):
    """G12 (PSA): an existing results folder is refused (exit 2, untouched) without
    --overwrite and replaced as a whole with it."""
    path = contract.write(contract.kvref(), tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.csv").write_text("from an earlier run\n", encoding="utf-8")
    refused = contract.run_to(path, out, "--draws", 3, "--patients", 20, command="psa")
    assert refused.exit_code == 2 and "--overwrite" in refused.stderr
    assert [p.name for p in out.iterdir()] == ["old.csv"]
    nothing_written(tmp_path, {path.name, "out"})
    done = contract.run_to(path, out, "--draws", 3, "--patients", 20, "--overwrite",
                           command="psa")
    assert done.exit_code == 0, done.output
    assert not (out / "old.csv").exists() and (out / "psa.csv").is_file()
    nothing_written(tmp_path, {path.name, "out"})


def test_g9_horizon_shorter_than_a_scheduled_event_is_refused(contract, tmp_path):
    """G9: a scheduled (fixed-time) event after the horizon is refused: exit 2 naming
    the event's time and the horizon; nothing written."""
    text = """\
model = "custom"
[run]
seed = 1
horizon = 5
life_table = "none"
[strategies.x]
start = "s"
[strategies.x.states.s]
utility = 0.8
death = { rate = 0.02 }
[strategies.x.states.s.transitions.review]
to = "t"
dist = "fixed"
time = 8
[strategies.x.states.t]
utility = 0.6
death = { rate = 0.02 }
"""
    path = contract.write(text, tmp_path)
    result = contract.cli(["check", path])
    assert result.exit_code == 2, result.output
    assert "strategies.x.states.s.transitions.review.time" in result.stderr
    assert "horizon" in result.stderr
    nothing_written(tmp_path, {path.name})
