"""Benefit-risk: every death counted, differences with their sign in words, NNT only for
what favours the strategy and NNH only for what does not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cartsim.analysis.benefit_risk import benefit_risk

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "scenarios" / "base.toml"


def columns(died, end, n_extra=None, qaly=None):
    n = len(died)
    cols = {"died": np.asarray(died), "end_time": np.asarray(end, dtype=float),
            "qaly": np.asarray(qaly if qaly is not None else np.ones(n), dtype=float),
            "ly_undisc": np.asarray(end, dtype=float), "remission_years": np.zeros(n)}
    for k, v in (n_extra or {}).items():
        cols[f"n_{k}"] = np.asarray(v)
    return cols


def test_signs_words_and_numbers_needed_follow_the_hand_table():
    # 4 patients: the strategy saves one death by 5 years but adds one CRS grade 3.
    new = columns([1, 0, 0, 0], [8.0, 20.0, 20.0, 20.0], {"crs_grade_3": [1, 0, 0, 0]},
                  qaly=[1.0, 2.0, 2.0, 2.0])
    ref = columns([1, 1, 0, 0], [8.0, 3.0, 20.0, 20.0], qaly=[1.0, 1.0, 2.0, 2.0])
    rows = {r.outcome: r for r in benefit_risk(new, ref, ("crs_grade_3",), (), 20.0)}
    d5 = rows["deaths within 5 years"]
    assert (d5.comparator, d5.strategy, d5.difference) == (250.0, 0.0, -250.0)
    assert (d5.direction, d5.favours, d5.number_needed_type) == ("fewer", "strategy", "NNT")
    assert d5.number_needed == pytest.approx(4.0)
    crs = rows["patients with crs_grade_3"]
    assert (crs.section, crs.difference, crs.number_needed_type) == ("added harms", 250.0, "NNH")
    q = rows["QALYs (discounted)"]
    assert (q.direction, q.favours, q.number_needed_type) == ("more", "strategy", None)
    horizon = rows["deaths within the horizon (20 years)"]
    assert horizon.difference == -250.0
    assert "deaths within 1 year" in rows  # 1, 5, 10 years and the horizon
    # No outcome that only one arm can reach is scored.
    assert not any("relapse" in o or "response" in o for o in rows)


def test_all_cause_deaths_equal_the_deaths_tables_sum_per_strategy(cli, read_csv, tmp_path):
    """Treatment-related deaths included: the benefit-risk deaths over the horizon are the
    sum of the deaths table's causes, strategy by strategy."""
    out = tmp_path / "r"
    res = cli(["run", BASE, "--patients", "1500", "--seed", "4", "--set", "run.horizon=10",
               "--out", out, "-q"])
    assert res.exit_code == 0, res.output
    deaths: dict[str, int] = {}
    for r in read_csv(out / "deaths.csv"):
        if r["cause"] != "alive_at_horizon":
            deaths[r["strategy"]] = deaths.get(r["strategy"], 0) + int(r["patients"])
    assert any(r["cause"] == "treatment_related_death" for r in read_csv(out / "deaths.csv"))
    row = next(r for r in read_csv(out / "benefit_risk.csv")
               if r["outcome"].startswith("deaths within the horizon"))
    assert float(row["strategy_value"]) * 1500 / 1000 == pytest.approx(deaths["car_t"])
    assert float(row["comparator_value"]) * 1500 / 1000 == pytest.approx(
        deaths["immunosuppression"])
    ten = next(r for r in read_csv(out / "benefit_risk.csv")
               if r["outcome"] == "deaths within 10 years")
    assert ten["strategy_value"] == row["strategy_value"]
