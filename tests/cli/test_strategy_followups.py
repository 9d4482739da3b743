"""Commands that need particular strategies say so (exit 2, nothing written): validate
needs car_t; capacity needs car_t and immunosuppression."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_validate_without_car_t_is_a_clear_error(cli, write_toml, tmp_path):
    path = write_toml(f'extends = "{ROOT / "scenarios" / "next_generation.toml"}"\n[run]\n'
                      'strategies = ["immunosuppression", "car_t_allogeneic"]\n', "ng.toml")
    out = tmp_path / "val"
    result = cli(["validate", path, "--out", out, "--replicates", "10"])
    assert result.exit_code == 2, result.output
    assert "run.strategies must include car_t" in result.output
    assert "Traceback" not in result.output and "KeyError" not in result.output
    assert not out.exists()


def test_capacity_without_car_t_is_a_clear_error(cli, write_toml, tmp_path):
    path = write_toml(f'extends = "{ROOT / "scenarios" / "capacity.toml"}"\n[run]\n'
                      'strategies = ["immunosuppression", "ivig"]\n', "cap.toml")
    result = cli(["capacity", path, "--out", tmp_path / "cap"])
    assert result.exit_code == 2, result.output
    assert "both must be in run.strategies" in result.output
    assert "Traceback" not in result.output
