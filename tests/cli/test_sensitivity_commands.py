"""The dsa, sweep and threshold commands as a user runs them (tables, exit codes)."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from click.testing import CliRunner

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


def invoke(tmp_path: Path, *args: str):
    path = tmp_path / "kv.toml"
    path.write_text(KV, encoding="utf-8")
    return CliRunner().invoke(main, [args[0], str(path), *args[1:], "--patients", "1500", "-q"])


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_dsa_writes_a_tornado_sorted_by_swing(tmp_path):
    out = tmp_path / "dsa"
    result = invoke(tmp_path, "dsa", "--out", str(out))
    assert result.exit_code == 0, result.output
    tornado = rows(out / "tornado.csv")
    assert {r["parameter"] for r in tornado} >= {
        "strategies.cart.states.remission.transitions.relapse.rate",
        "strategies.cart.upfront_cost.product"}
    swings = [float(r["swing"]) for r in tornado]
    assert swings == sorted(swings, reverse=True)
    # The upfront cost is paid at t = 0 undiscounted: its swing in INMB is exactly the range.
    product = next(r for r in tornado if r["parameter"].endswith("upfront_cost.product"))
    assert math.isclose(float(product["swing"]), 100000.0, rel_tol=1e-9)
    assert (out / "dsa.csv").is_file() and (out / "run.json").is_file()


def test_sweep_runs_every_combination_in_the_given_units(tmp_path):
    out = tmp_path / "sweep"
    result = invoke(tmp_path, "sweep", "--grid",
                    "strategies.cart.states.remission.transitions.relapse.rate=0,0.1,0.2",
                    "--grid", "strategies.cart.upfront_cost.product=300000,400000",
                    "--out", str(out))
    assert result.exit_code == 0, result.output
    table = rows(out / "sweep.csv")
    assert len(table) == 6
    inmb = {(r["strategies.cart.states.remission.transitions.relapse.rate"],
             r["strategies.cart.upfront_cost.product"]): float(r["inmb_100000"]) for r in table}
    for price in ("300000.0", "400000.0"):  # common random numbers: monotone in the rate
        assert inmb[("0.0", price)] > inmb[("0.1", price)] > inmb[("0.2", price)]
    assert math.isclose(inmb[("0.1", "300000.0")] - inmb[("0.1", "400000.0")], 100000.0,
                        rel_tol=1e-9)


def test_sweep_unknown_parameter_is_a_usage_error(tmp_path):
    result = invoke(tmp_path, "sweep", "--grid", "strategies.cart.upfront_cost.prodcut=1,2",
                    "--out", str(tmp_path / "o"))
    assert result.exit_code == 2 and "did you mean" in result.stderr
    assert not (tmp_path / "o").exists()


def test_threshold_price_is_base_price_plus_inmb(tmp_path):
    """The value-based price: the upfront cost is undiscounted at t = 0, so the threshold is
    the base price plus the base-case INMB (exact on common random numbers)."""
    out, run_out = tmp_path / "thr", tmp_path / "run"
    result = invoke(tmp_path, "threshold", "--param", "strategies.cart.upfront_cost.product",
                    "--wtp", "100000", "--out", str(out))
    assert result.exit_code == 0, result.output
    base = invoke(tmp_path, "run", "--out", str(run_out))
    assert base.exit_code == 0, base.output
    inmb = float(next(r for r in rows(run_out / "summary.csv")
                      if r["strategy"] == "cart")["inmb_100000"])
    row = rows(out / "threshold.csv")[0]
    assert math.isclose(float(row["threshold"]), 350000.0 + inmb, rel_tol=1e-9)
    assert float(row["interval_low"]) <= float(row["threshold"]) <= float(row["interval_high"])


def test_threshold_bad_wtp_is_a_usage_error(tmp_path):
    result = invoke(tmp_path, "threshold", "--param", "strategies.cart.upfront_cost.product",
                    "--wtp", "abc", "--out", str(tmp_path / "o"))
    assert result.exit_code == 2 and "--wtp" in result.stderr
