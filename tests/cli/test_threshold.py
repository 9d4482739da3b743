"""`cartsim threshold` as a user runs it (tables, exit codes)."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

from click.testing import CliRunner

from cartsim.cli import main

PRICE = "strategies.cart.upfront_cost.product"
SCENARIO = """
model = "custom"
[run]
seed = 11
life_table = "none"
wtp = [50000, 100000]
comparator = "is"
discount = { costs = 0.035, outcomes = 0.035, convention = "continuous" }
[strategies.is]
start = "on_is"
[strategies.is.states.on_is]
utility = { value = 0.6, dist = "beta", mean = 0.6, se = 0.05 }
cost = { drugs = { value = 20000, dist = "gamma", mean = 20000, se = 4000 } }
death = { rate = 0.04 }
[strategies.cart]
start = "remission"
upfront_cost = { product = { value = 350000, dist = "gamma", mean = 350000, se = 50000 } }
[strategies.cart.states.remission]
utility = 0.85
cost = { monitoring = 2000 }
death = { rate = 0.015 }
[strategies.cart.states.remission.transitions.relapse]
to = "on_is"
rate = { value = 0.1, dist = "gamma", mean = 0.1, se = 0.03 }
[strategies.cart.states.on_is]
utility = 0.6
cost = { drugs = 20000 }
death = { rate = 0.04 }
"""


def test_threshold_price_is_base_price_plus_inmb(tmp_path, invoke_kv, csv_rows):
    """The value-based price: the upfront cost is undiscounted at t = 0, so the threshold is
    the base price plus the base-case INMB (exact on common random numbers)."""
    out, run_out = tmp_path / "thr", tmp_path / "run"
    result = invoke_kv("threshold", "--param", "strategies.cart.upfront_cost.product",
                    "--wtp", "100000", "--out", str(out))
    assert result.exit_code == 0, result.output
    base = invoke_kv("run", "--out", str(run_out))
    assert base.exit_code == 0, base.output
    inmb = float(next(r for r in csv_rows(run_out / "summary.csv")
                      if r["strategy"] == "cart")["inmb_100000"])
    row = csv_rows(out / "threshold.csv")[0]
    assert math.isclose(float(row["threshold"]), 350000.0 + inmb, rel_tol=1e-9)
    assert float(row["interval_low"]) <= float(row["threshold"]) <= float(row["interval_high"])
    # A price shapes no pathway: one engine pass per strategy, valued at every price tried.
    manifest = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert manifest["simulations"] == 2 and manifest["evaluations"] > 4


def test_threshold_bad_wtp_is_a_usage_error(tmp_path, invoke_kv):
    result = invoke_kv("threshold", "--param", "strategies.cart.upfront_cost.product",
                    "--wtp", "abc", "--out", str(tmp_path / "o"))
    assert result.exit_code == 2 and "--wtp" in result.stderr


def test_threshold_with_psa_draws_writes_both_tables(tmp_path: Path):
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO, encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["threshold", str(path), "--param", PRICE, "--wtp",
                                       "100000", "--psa-draws", "5", "--patients", "60",
                                       "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Distribution of the threshold" in result.stdout
    with (out / "threshold_draws.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["draw"]) for r in rows] == [1, 2, 3, 4, 5]
    with (out / "threshold_distribution.csv").open(newline="") as fh:
        (summary,) = list(csv.DictReader(fh))
    assert int(summary["draws"]) == 5
    assert json.loads((out / "run.json").read_text())["psa_draws"] == 5
    assert (out / "threshold.csv").exists()
