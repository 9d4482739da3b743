"""Probabilistic sensitivity analysis (VERIFICATION group E, and D3/E9/H8)."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import stats

import cartsim
from cartsim.cli import main
from cartsim.params.draws import draw_parameters
from cartsim.study.psa import run_psa

ROOT = Path(__file__).resolve().parents[2]

KV = """
model = "custom"
[run]
seed = 11
horizon = "lifetime"
discount = {{ costs = 0.035, outcomes = 0.035, convention = "continuous" }}
life_table = "none"
wtp = [50000, 100000]
comparator = "immunosuppression"
[strategies.immunosuppression]
start = "on_is"
[strategies.immunosuppression.states.on_is]
utility = {utility_is}
cost = {{ drugs = {cost_is} }}
death = {{ rate = 0.04 }}
[strategies.cart]
start = "remission"
upfront_cost = {{ product = 350000 }}
[strategies.cart.states.remission]
utility = 0.85
cost = {{ monitoring = 2000 }}
death = {{ rate = 0.015 }}
[strategies.cart.states.remission.transitions.relapse]
to = "on_is"
rate = {relapse}
[strategies.cart.states.on_is]
utility = {utility_is}
cost = {{ drugs = {cost_is} }}
death = {{ rate = 0.04 }}
"""
UNCERTAIN = {'utility_is': '{ value = 0.6, dist = "beta", mean = 0.6, se = 0.05 }',
                 'cost_is': '{ value = 20000, dist = "gamma", mean = 20000, se = 4000 }',
                 'relapse': '{ value = 0.1, dist = "gamma", mean = 0.1, se = 0.03 }'}
FIXED = {'utility_is': "0.6", 'cost_is': "20000", 'relapse': "0.1"}


def scenario(tmp_path: Path, values: dict[str, str]) -> cartsim.scenario.model.Scenario:
    path = tmp_path / "kv.toml"
    path.write_text(KV.format(**values), encoding="utf-8")
    return cartsim.load_scenario(path)


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_draw_parameters_are_keyed_by_draw_and_respect_moments(tmp_path):
    """E2/E9: draw k's values do not depend on which other draws are made; sample moments of
    a Gamma(mean 20000, SE 4000) cost are within 4 MCSE; draw 0 is the point value."""
    s = scenario(tmp_path, UNCERTAIN)
    name = "strategies.immunosuppression.states.on_is.cost.drugs"
    many = draw_parameters(s.parameters, range(4001), 5)
    few = draw_parameters(s.parameters, [0, 17, 4000], 5)
    assert few.values[name].tolist() == [many.values[name][k] for k in (0, 17, 4000)]
    assert many.values[name][0] == 20000.0
    x = many.values[name][1:]
    assert abs(x.mean() - 20000) <= 4 * x.std(ddof=1) / math.sqrt(x.size)
    assert abs(x.std(ddof=1) - 4000) <= 4 * 4000 / math.sqrt(2 * x.size)


def test_probability_sets_are_rescaled_when_a_draw_sums_above_one(tmp_path):
    """CRS grades drawn independently can exceed 1 together; the draw rescales them."""
    s = cartsim.load_scenario(ROOT / "scenarios" / "base.toml", overrides=[])
    d = draw_parameters(s.parameters, range(1, 401), 3, s.probability_sets)
    total = sum(d.values[f"car_t.crs.grade_{g}"] for g in (1, 2, 3))
    assert np.all(total <= 1.0 + 1e-12)


def test_degenerate_psa_reproduces_first_order_noise(tmp_path):
    """E1: with every parameter fixed, each draw uses the point values; the PSA mean equals
    the deterministic mean within 4 SE; the between-draw variance of mean QALYs equals the
    within-draw variance / n (chi-square bound for K = 200)."""
    s = scenario(tmp_path, FIXED)
    res = run_psa(s, draws=200, patients=400)
    for k in range(len(res.results)):
        assert res.draws.at(k) == s.point_values()
    q = res.matrix("qaly")[:, res.strategies.index("cart")]
    det = cartsim.run_scenario(s, patients=20000).outcomes["cart"]["qaly"]
    se = math.sqrt(q.var(ddof=1) / q.size + det.var(ddof=1) / det.size)
    assert abs(q.mean() - det.mean()) <= 4 * se
    ratio = q.var(ddof=1) / (res.within_variance()[:, res.strategies.index("cart")].mean() / 400)
    k = q.size - 1
    assert stats.chi2.ppf(0.0001, k) / k <= ratio <= stats.chi2.ppf(0.9999, k) / k


def test_psa_identical_for_any_workers_and_number_of_draws(tmp_path):
    """D3/E9: draw k's outputs are identical with 1 or 2 workers and with K = 6 or 12."""
    s = scenario(tmp_path, UNCERTAIN)
    a = run_psa(s, draws=12, patients=200, workers=1)
    b = run_psa(s, draws=12, patients=200, workers=2)
    c = run_psa(s, draws=6, patients=200, workers=1)
    for m in ("cost", "qaly", "ly"):
        np.testing.assert_array_equal(a.matrix(m), b.matrix(m))
        np.testing.assert_array_equal(a.matrix(m)[:6], c.matrix(m))


def test_cli_psa_tables_recompute_from_draws(tmp_path):
    """E4-E6 through the CLI: psa_summary means are the column means of psa.csv; INMB =
    wtp x mean dQ - mean dC; the CEAC rows recomputed from psa.csv match ceac.csv and sum to
    1; EVPI equals E[max NB] - max E[NB] recomputed from psa.csv; every table parses, no
    inf/nan text."""
    path = tmp_path / "kv.toml"
    path.write_text(KV.format(**UNCERTAIN), encoding="utf-8")
    out = tmp_path / "psa"
    result = CliRunner().invoke(main, ["psa", str(path), "--draws", "30", "--patients", "200",
                                       "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    draws = read(out / "psa.csv")
    summary = {r["strategy"]: r for r in read(out / "psa_summary.csv")}
    strategies = ["cart", "immunosuppression"]
    cost = np.array([[float(r[f"cost_{s}"]) for s in strategies] for r in draws])
    qaly = np.array([[float(r[f"qaly_{s}"]) for s in strategies] for r in draws])
    for i, s in enumerate(strategies):
        assert math.isclose(float(summary[s]["cost"]), math.fsum(cost[:, i]) / len(draws),
                            rel_tol=1e-12)
    d_c = math.fsum(cost[:, 0] - cost[:, 1]) / len(draws)
    d_q = math.fsum(qaly[:, 0] - qaly[:, 1]) / len(draws)
    assert math.isclose(float(summary["cart"]["inmb_100000"]), 100000 * d_q - d_c, rel_tol=1e-9)
    assert math.isclose(float(summary["cart"]["nhb_100000"]), d_q - d_c / 100000, rel_tol=1e-9)
    assert summary["immunosuppression"]["nhb_100000"] == "NA"
    by_wtp: dict[float, dict[str, float]] = {}
    for r in read(out / "ceac.csv"):
        p = float(r["probability_cost_effective"])
        by_wtp.setdefault(float(r["wtp"]), {})[r["strategy"]] = p
    for lam, probs in by_wtp.items():
        nb = lam * qaly - cost
        best = np.argmax(nb, axis=1)
        for i, s in enumerate(strategies):
            assert probs[s] == pytest.approx(np.mean(best == i), abs=1e-12)
        assert sum(probs.values()) == pytest.approx(1.0, abs=1e-12)
    for r in read(out / "evpi.csv"):
        nb = float(r["wtp"]) * qaly - cost
        expected = np.mean(nb.max(axis=1)) - nb.mean(axis=0).max()
        assert float(r["evpi_per_patient"]) == pytest.approx(expected, rel=1e-9, abs=1e-6)
        assert float(r["evpi_per_patient"]) >= 0
    for csv_file in out.glob("*.csv"):
        for row in read(csv_file):
            for value in row.values():
                assert value.lower() not in ("nan", "inf", "-inf", "+inf"), csv_file.name


def test_cli_psa_failing_draw_names_draw_and_seed(tmp_path, monkeypatch):
    """H8: a draw that raises stops the run (exit 1) with its draw number and seed named;
    nothing is written."""
    path = tmp_path / "kv.toml"
    path.write_text(KV.format(**UNCERTAIN), encoding="utf-8")
    monkeypatch.setenv("CARTSIM_FAULT_INJECT", "draw:3")
    out = tmp_path / "psa"
    result = CliRunner().invoke(main, ["psa", str(path), "--draws", "5", "--patients", "50",
                                       "--out", str(out), "-q"])
    assert result.exit_code == 1
    assert "draw 3" in result.stderr and "seed 11" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()
