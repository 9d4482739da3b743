"""Start-up: `cartsim --help`, `check` and `params` import nothing they do not use
(numba, scipy.optimize, matplotlib; for --help not even numpy or scipy.special),
so that they answer at once. Checked on the modules a fresh process has loaded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CODE = """
import json, sys
from cartsim.cli import main
try:
    main(sys.argv[1:], prog_name="cartsim")
except SystemExit:
    pass
heavy = ("numba", "numpy", "scipy.special", "scipy.optimize", "scipy.stats", "matplotlib",
         "simpy")
print(json.dumps([m for m in heavy if m in sys.modules]))
"""


def _loaded(*args: str) -> set[str]:
    done = subprocess.run([sys.executable, "-c", CODE, *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=True)
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_help_imports_no_numerical_library():
    assert _loaded("--help") == set()
    assert _loaded("psa", "--help") == set()


@pytest.mark.parametrize("command", ["check", "params"])
def test_check_and_params_import_neither_numba_nor_optimisers_nor_plots(command):
    loaded = _loaded(command, "scenarios/base.toml")
    assert not loaded & {"numba", "scipy.optimize", "matplotlib", "simpy"}, loaded
