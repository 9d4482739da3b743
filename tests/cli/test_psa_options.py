"""`cartsim psa` options: population EVPI, and jointly drawn parameters in the outputs."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner
from scipy import stats

import cartsim
from cartsim.cli import main
from cartsim.params.draws import merge_draws
from cartsim.study.psa import draw_values

SCENARIO = """
model = "custom"
[run]
seed = 9
life_table = "none"
comparator = "a"
wtp = [20000, 50000]
discount = {{ costs = 0.035, outcomes = 0.035, convention = "{convention}" }}
[strategies.a]
start = "s"
[strategies.a.states.s]
utility = {{ value = 0.7, dist = "beta", mean = 0.7, se = 0.05 }}
cost = {{ value = 1000, dist = "gamma", mean = 1000, se = 200 }}
death = {{ rate = {{ value = 0.05, dist = "gamma", mean = 0.05, se = 0.01 }} }}
[strategies.b]
start = "t"
upfront_cost = {{ value = 5000, dist = "gamma", mean = 5000, se = 1000 }}
[strategies.b.chances.t]
then = "s"
[strategies.b.chances.t.outcomes.x]
probability = 0.1
[strategies.b.chances.t.outcomes.y]
probability = 0.2
[strategies.b.events.x]
cost = 3000
[strategies.b.states.s]
utility = 0.8
cost = 1000
death = {{ rate = 0.04 }}
[[correlations]]
params = ["strategies.a.states.s.cost", "strategies.a.states.s.utility"]
rho = 0.5
[[dirichlet]]
params = ["strategies.b.chances.t.outcomes.x.probability",
          "strategies.b.chances.t.outcomes.y.probability"]
alphas = [2, 4, 14]
"""
ROOT = Path(__file__).resolve().parents[2]
X, Y = (f"strategies.b.chances.t.outcomes.{e}.probability" for e in ("x", "y"))


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def run(tmp_path: Path, *extra: str, convention: str = "annual", name: str = "out"):
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO.format(convention=convention), encoding="utf-8")
    out = tmp_path / name
    result = CliRunner().invoke(main, ["psa", str(path), "--draws", "30", "--patients", "60",
                                       "--out", str(out), "-q", *extra])
    return result, out


def test_population_evpi_without_horizon_is_evpi_times_population(tmp_path):
    result, out = run(tmp_path, "--population", "2500")
    assert result.exit_code == 0, result.output
    for row in read(out / "evpi.csv"):
        assert float(row["evpi_population"]) == pytest.approx(
            2500 * float(row["evpi_per_patient"]), rel=1e-12)
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["population"] == {"patients": 2500.0, "years": None,
                                      "annual_discount": None}


@pytest.mark.parametrize(("convention", "annual"), [("annual", 0.035),
                                                    ("continuous", math.expm1(0.035))])
def test_population_evpi_over_years_uses_the_annuity_of_the_cost_rate(tmp_path, convention,
                                                                       annual):
    """N a year for T = 10 years, year t's patients discounted by (1 + d)^-t, d the annual
    equivalent of the scenario's cost discount rate (e^r - 1 for a continuous rate r)."""
    result, out = run(tmp_path, "--population", "1000", "--population-years", "10",
                      convention=convention)
    assert result.exit_code == 0, result.output
    annuity = math.fsum((1 + annual) ** -t for t in range(1, 11))
    for row in read(out / "evpi.csv"):
        assert float(row["evpi_population"]) == pytest.approx(
            1000 * annuity * float(row["evpi_per_patient"]), rel=1e-12)
    assert f"{annuity:.6g}" in (out / "evpi.md").read_text()


def test_population_years_alone_is_a_usage_error(tmp_path):
    result, out = run(tmp_path, "--population-years", "5")
    assert result.exit_code == 2 and "--population-years needs --population" in result.stderr
    assert not out.exists()


def test_joint_draws_reach_the_psa_outputs(tmp_path):
    """psa.csv holds the Dirichlet members (drawn, summing below 1 as declared with a
    remainder); psa_correlations reports declared and achieved rank correlations;
    correlations.csv and run.json record the joint draws; the evpi table has no
    population column unless asked."""
    result, out = run(tmp_path)
    assert result.exit_code == 0, result.output
    draws = read(out / "psa.csv")
    x, y = ([float(r[n]) for r in draws] for n in (X, Y))
    assert len(set(x)) == len(x) and all(a + b < 1 for a, b in zip(x, y, strict=True))
    (row,) = read(out / "psa_correlations.csv")
    cost, util = ([float(r[f"strategies.a.states.s.{n}"]) for r in draws]
                  for n in ("cost", "utility"))
    assert float(row["spearman_in_draws"]) == pytest.approx(
        stats.spearmanr(cost, util).statistic, rel=1e-12)
    assert float(row["spearman_expected"]) == pytest.approx(6 / math.pi * math.asin(0.25))
    kinds = [r["kind"] for r in read(out / "correlations.csv")]
    assert kinds == ["correlation", "dirichlet"]
    joint = json.loads((out / "run.json").read_text())["joint_draws"]
    assert joint["dirichlet"][0] == {"params": [X, Y], "alphas": [2.0, 4.0, 14.0],
                                     "remainder": True}
    assert "evpi_population" not in read(out / "evpi.csv")[0]


def test_draws_made_in_chunks_merge_to_one_call(tmp_path):
    """Workers draw their own chunk's values; merged in draw order they equal one call for
    every draw (values, clipped counts and rescaled sets alike)."""
    # Without base.toml's Dirichlet sets the CRS grades are drawn independently (here the
    # wide Mueller 2024 Jeffreys priors), so some draws need rescaling, which the merge
    # must count as one call does.
    path = tmp_path / "independent_crs.toml"
    path.write_text(f'extends = "{(ROOT / "scenarios" / "base.toml").as_posix()}"\n'
                    "dirichlet = []\n"
                    '[car_t.crs.grade_1]\ndist = "beta"\nalpha = 10.5\nbeta = 5.5\n'
                    '[car_t.crs.grade_2]\ndist = "beta"\nalpha = 1.5\nbeta = 14.5\n'
                    '[car_t.crs.grade_3]\ndist = "beta"\nalpha = 0.5\nbeta = 15.5\n')
    s = cartsim.load_scenario(path)
    whole = draw_values(s, range(1, 301), 4)
    parts = [draw_values(s, ks, 4) for ks in (range(101, 301), range(1, 101))]
    merged = merge_draws(parts, range(1, 301))
    assert merged.draws.tolist() == whole.draws.tolist()
    assert all(merged.values[n].tolist() == whole.values[n].tolist() for n in whole.values)
    assert dict(merged.clipped) == dict(whole.clipped)
    assert merged.rescaled_sets == whole.rescaled_sets > 0
    assert merged.random == whole.random
