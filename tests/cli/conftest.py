"""Helpers of the command-line tests of the one-way, sweep and threshold commands: a
KV-REF model with ranges, run as a user runs it (test files cannot import each other)."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cartsim.cli import main

KV = """
model = "custom"
[run]
seed = 3
horizon = "lifetime"
discount = { costs = 0.035, outcomes = 0.035, convention = "continuous" }
life_table = "none"
wtp = [100000]
comparator = "immunosuppression"
[strategies.immunosuppression]
start = "on_is"
[strategies.immunosuppression.states.on_is]
utility = 0.6
cost = { value = 20000, low = 10000, high = 30000 }
death = { rate = 0.04 }
[strategies.cart]
start = "remission"
upfront_cost = { product = { value = 350000, low = 300000, high = 400000 } }
[strategies.cart.states.remission]
utility = 0.85
cost = 2000
death = { rate = 0.015 }
[strategies.cart.states.remission.transitions.relapse]
to = "on_is"
rate = { value = 0.1, low = 0.05, high = 0.2 }
[strategies.cart.states.on_is]
utility = 0.6
cost = 20000
death = { rate = 0.04 }
"""



@pytest.fixture
def invoke_kv(tmp_path: Path) -> Callable[..., Result]:
    """``invoke_kv(command, *options)``: the command on the ranged KV-REF model, quietly,
    1,500 patients."""
    def invoke(*args: str) -> Result:
        path = tmp_path / "kv.toml"
        path.write_text(KV, encoding="utf-8")
        return CliRunner().invoke(main, [args[0], str(path), *args[1:], "--patients", "1500",
                                         "-q"])

    return invoke


@pytest.fixture
def csv_rows() -> Callable[[Path], list[dict[str, str]]]:
    def rows(path: Path) -> list[dict[str, str]]:
        with path.open(encoding="utf-8", newline="") as fh:
            return list(csv.DictReader(fh))

    return rows
