"""``cartsim run`` on a scenario of four strategies, as a user runs it: every table has a
row per strategy, the frontier classifies all of them, increments are against the
comparator, and the one-time-therapy table prices each strategy's own product."""

from __future__ import annotations

from pathlib import Path

import pytest

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
STRATEGIES = ["immunosuppression", "car_t", "car_t_allogeneic", "t_cell_engager"]


def test_run_of_four_strategies_writes_every_strategy_everywhere(cli, tmp_path, read_csv):
    out = tmp_path / "ng"
    result = cli(["run", SCENARIOS / "next_generation.toml", "--patients", "200",
                  "--out", out, "--quiet"])
    assert result.exit_code == 0, result.output
    summary = {r["strategy"]: r for r in read_csv(out / "summary.csv")}
    assert list(summary) == STRATEGIES
    assert summary["immunosuppression"]["icer_status"] == "comparator"
    for s in STRATEGIES[1:]:
        row = summary[s]
        assert row["comparator"] == "immunosuppression"
        assert float(row["inc_cost"]) == pytest.approx(
            float(row["cost"]) - float(summary["immunosuppression"]["cost"]), rel=1e-9,
            abs=1e-6)
    frontier = read_csv(out / "frontier.csv")
    assert sorted(r["strategy"] for r in frontier) == sorted(STRATEGIES)
    assert {r["status"] for r in frontier} <= {"ND", "D", "ED"}
    nd = [r for r in frontier if r["status"] == "ND"]
    assert nd and nd[0]["icer"] == "NA"
    prices = {(r["strategy"], r["variant"]): r["price"]
              for r in read_csv(out / "one_time_therapy.csv")}
    assert {s for s, _ in prices} == set(STRATEGIES[1:])
    assert float(prices["car_t", "standard"]) == 450_000
    assert float(prices["car_t_allogeneic", "standard"]) == 450_000
    assert float(prices["t_cell_engager", "standard"]) == 21_800
    events = {r["event"] for r in read_csv(out / "events.csv")}
    assert {"tce_course", "gvhd", "lymphodepletion", "infusion"} <= events


def test_psa_of_four_strategies_draws_the_library_inputs_and_sums_the_ceac_to_one(
        cli, tmp_path, read_csv):
    """A tiny PSA (4 draws of 40 patients): every strategy has cost and QALY columns,
    the library strategies' inputs are in its parameter table, and at each WTP the CEAC
    over the four sums to 1."""
    out = tmp_path / "psa"
    result = cli(["psa", SCENARIOS / "next_generation.toml", "--draws", "4", "--patients",
                  "40", "--out", out, "--quiet"])
    assert result.exit_code == 0, result.output
    rows = read_csv(out / "psa.csv")
    assert len(rows) == 4 and all(f"cost_{s}" in rows[0] for s in STRATEGIES)
    by_wtp: dict[str, float] = {}
    for r in read_csv(out / "ceac.csv"):
        by_wtp[r["wtp"]] = by_wtp.get(r["wtp"], 0.0) + float(r["probability_cost_effective"])
    assert by_wtp and all(total == pytest.approx(1.0) for total in by_wtp.values())
    drawn = {r["name"] for r in read_csv(out / "parameters.csv")}
    assert {"t_cell_engager.crs.grade_1", "car_t_allogeneic.gvhd"} <= drawn
