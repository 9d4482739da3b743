"""`cartsim dsa` and `cartsim sweep` as a user runs them (tables, exit codes)."""

from __future__ import annotations

import json
import math

import pytest

from cartsim.cli.dsa import parse_grid
from cartsim.errors import UsageError

RELAPSE = "strategies.cart.states.remission.transitions.relapse.rate"


def test_dsa_writes_a_tornado_sorted_by_swing(tmp_path, invoke_kv, csv_rows):
    out = tmp_path / "dsa"
    result = invoke_kv("dsa", "--out", str(out))
    assert result.exit_code == 0, result.output
    tornado = csv_rows(out / "tornado.csv")
    assert {r["parameter"] for r in tornado} >= {
        "strategies.cart.states.remission.transitions.relapse.rate",
        "strategies.cart.upfront_cost.product"}
    swings = [float(r["swing"]) for r in tornado]
    assert swings == sorted(swings, reverse=True)
    # The upfront cost is paid at t = 0 undiscounted: its swing in INMB is exactly the range.
    product = next(r for r in tornado if r["parameter"].endswith("upfront_cost.product"))
    assert math.isclose(float(product["swing"]), 100000.0, rel_tol=1e-9)
    assert (out / "dsa.csv").is_file()
    # run.json counts the engine passes: the base case (one per strategy) and the relapse
    # rate's two ends (CAR-T only); the two costs' ranges re-value the base simulation.
    manifest = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert (manifest["simulations"], manifest["evaluations"]) == (4, 7)


def test_sweep_runs_every_combination_in_the_given_units(tmp_path, invoke_kv, csv_rows):
    out = tmp_path / "sweep"
    result = invoke_kv("sweep", "--grid",
                    "strategies.cart.states.remission.transitions.relapse.rate=0,0.1,0.2",
                    "--grid", "strategies.cart.upfront_cost.product=300000,400000",
                    "--out", str(out))
    assert result.exit_code == 0, result.output
    table = csv_rows(out / "sweep.csv")
    assert len(table) == 6
    inmb = {(r["strategies.cart.states.remission.transitions.relapse.rate"],
             r["strategies.cart.upfront_cost.product"]): float(r["inmb_100000"]) for r in table}
    for price in ("300000.0", "400000.0"):  # common random numbers: monotone in the rate
        assert inmb[("0.0", price)] > inmb[("0.1", price)] > inmb[("0.2", price)]
    assert math.isclose(inmb[("0.1", "300000.0")] - inmb[("0.1", "400000.0")], 100000.0,
                        rel_tol=1e-9)


def test_sweep_unknown_parameter_is_a_usage_error(tmp_path, invoke_kv):
    result = invoke_kv("sweep", "--grid", "strategies.cart.upfront_cost.prodcut=1,2",
                    "--out", str(tmp_path / "o"))
    assert result.exit_code == 2 and "did you mean" in result.stderr
    assert not (tmp_path / "o").exists()


def test_parse_grid():
    assert parse_grid([f"{RELAPSE}=0.01, 0.1", "x=0:1:3"]) == {RELAPSE: (0.01, 0.1),
                                                                "x": (0.0, 0.5, 1.0)}
    for bad in ("x", "x=a,b", "x=0:1", "x=0:1:0", "=1"):
        with pytest.raises(UsageError, match="--grid"):
            parse_grid([bad])
    with pytest.raises(UsageError):
        parse_grid(["x=1", "x=2"])
