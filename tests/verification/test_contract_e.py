"""VERIFICATION group E (PSA and uncertainty) through `cartsim psa` and its files.

E4 and the EVPI recomputation of E6 are covered through the CLI by
tests/psa/test_psa.py; E1, E2, E8 and E9 were checked on the Python API. Here
every check reads psa.csv, psa_summary.csv, ceac.csv, evpi.csv and variance.csv.
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import numpy as np
from scipy import special, stats

K_E1, N_E1 = 200, 150


def test_e1_degenerate_psa_is_first_order_noise_only(contract):
    """E1 and E6(c): every parameter fixed (one written as dist = "fixed"), K = 200 draws
    of 150 patients: the fixed parameter's column equals its point value in every draw;
    the PSA mean QALY equals the deterministic mean within 4 SE; the between-draw
    variance over the first-order variance of variance.csv lies in the chi-square bounds
    for K = 200; at WTP = the ICER, EVPI <= 0.6 SD(INMB per draw), and the report
    flags the patient noise."""
    truth = contract.truth()
    icer = truth["d_cost"] / truth["d_qaly"]
    text = contract.kvref(wtp=(30000, icer)).replace(
        "utility = 0.8\n", 'utility = { value = 0.8, dist = "fixed" }\n')
    out = contract.psa(text, "--draws", K_E1, "--patients", N_E1)
    draws = contract.rows(out, "psa")
    assert len(draws) == K_E1
    fixed = "strategies.cart.states.remission.utility"
    assert all(float(r[fixed]) == 0.8 for r in draws)
    q = np.array([float(r["qaly_cart"]) for r in draws])
    det = contract.summary(contract.run(contract.kvref(), "--patients", contract.N_STAT))["cart"]
    se = math.sqrt(q.var(ddof=1) / q.size + float(det["qaly_mcse"]) ** 2)
    contract.assert_within([contract.check("E1 PSA mean QALY", q.mean(), float(det["qaly"]), se)])
    var = {r["strategy"]: r for r in contract.rows(out, "variance")}["cart"]
    ratio = q.var(ddof=1) / float(var["first_order"])
    k = K_E1 - 1
    assert stats.chi2.ppf(1e-4, k) / k <= ratio <= stats.chi2.ppf(1 - 1e-4, k) / k, ratio
    assert var["warning"] == "true"
    dq = q - np.array([float(r["qaly_immunosuppression"]) for r in draws])
    dc = np.array([float(r["cost_cart"]) - float(r["cost_immunosuppression"]) for r in draws])
    sd_inmb = float(np.std(icer * dq - dc, ddof=1))
    evpi = [float(r["evpi_per_patient"]) for r in contract.rows(out, "evpi")
            if math.isclose(float(r["wtp"]), icer, rel_tol=1e-12)]
    assert len(evpi) == 1 and 0 <= evpi[0] <= 0.6 * sd_inmb, (evpi, sd_inmb)


# ------------------------------------------------------------------ E2 and E8

SAMPLING = """\
model = "custom"
[run]
seed = 4242
horizon = 5
life_table = "none"
comparator = "a"
[strategies.a]
start = "s"
[strategies.a.states.s]
utility = { dist = "beta", mean = 0.35, se = 0.06 }
cost = { drugs = { dist = "gamma", mean = 15000, se = 3500 } }
death = { rate = { dist = "lognormal", estimate = 0.7, lower = 0.5, upper = 0.98 } }
[strategies.b]
start = "t"
upfront_cost = { product = { dist = "normal", mean = 100, sd = 15 } }
[strategies.b.chances.t]
then = "s"
[strategies.b.chances.t.outcomes.x]
probability = 0.15
[strategies.b.chances.t.outcomes.y]
probability = 0.25
[strategies.b.states.s]
utility = { value = 0.5, dist = "fixed" }
cost = 1000
death = { rate = 0.04 }
[[correlations]]
params = ["strategies.a.states.s.utility", "strategies.a.states.s.cost.drugs"]
rho = 0.6
[[dirichlet]]
params = ["strategies.b.chances.t.outcomes.x.probability",
          "strategies.b.chances.t.outcomes.y.probability"]
alphas = [3, 5, 12]
"""
K_E2 = 400
UTILITY = "strategies.a.states.s.utility"
COST = "strategies.a.states.s.cost.drugs"
RATE = "strategies.a.states.s.death.rate"
PRICE = "strategies.b.upfront_cost.product"
X, Y = (f"strategies.b.chances.t.outcomes.{e}.probability" for e in ("x", "y"))


def beta_of(mean: float, se: float):
    k = mean * (1 - mean) / se ** 2 - 1
    return stats.beta(mean * k, (1 - mean) * k)


MARGINALS = {
    UTILITY: beta_of(0.35, 0.06),
    COST: stats.gamma((15000 / 3500) ** 2, scale=3500 ** 2 / 15000),
    RATE: stats.lognorm(math.log(0.98 / 0.5) / (2 * stats.norm.ppf(0.975)), scale=0.7),
    PRICE: stats.norm(100, 15),
    X: stats.beta(3, 17),
    Y: stats.beta(5, 15),
}
LABELS = {UTILITY: "Beta utility", COST: "Gamma cost", RATE: "LogNormal rate",
          PRICE: "Normal price", X: "Dirichlet x", Y: "Dirichlet y"}


def moment_checks(contract, name: str, x: np.ndarray, dist) -> list:
    """Sample mean and SD against the distribution's, at 4 MCSE; the SE of the SD uses
    the distribution's kurtosis: Var(s^2) ~ sigma^4 (2/(K-1) + excess/K)."""
    mean, var, _, excess = (float(v) for v in dist.stats(moments="mvsk"))
    sd = math.sqrt(var)
    k = x.size
    se_sd = sd / 2 * math.sqrt(2 / (k - 1) + excess / k)
    return [contract.check(f"E2 mean {name}", x.mean(), mean, sd / math.sqrt(k)),
            contract.check(f"E2 sd {name}", x.std(ddof=1), sd, se_sd)]


def test_e2_e8_parameter_draws_in_psa_csv(contract):
    """E2/E8 on psa.csv (K = 400 draws): Beta(mean 0.35, SE 0.06), Gamma(mean 15,000,
    SE 3,500), LogNormal(median 0.7, 95% CI 0.5-0.98), Normal(100, 15) and a Dirichlet
    pair (alphas 3, 5, 12) have their stated means (parameters.csv, exact) and sample
    means and SDs within 4 MCSE; supports hold; the fixed parameter is constant; the
    Dirichlet pair stays below 1 together; the utility-cost normal-scores correlation is
    0.6 within 4 SE on Fisher's z."""
    out = contract.psa(SAMPLING, "--draws", K_E2, "--patients", 1)
    draws = contract.rows(out, "psa")
    assert len(draws) == K_E2
    col = {name: np.array([float(r[name]) for r in draws]) for name in MARGINALS}
    params = {r["name"]: r for r in contract.rows(out, "parameters")}
    for name, stated in ((UTILITY, 0.35), (COST, 15000.0), (PRICE, 100.0)):
        assert contract.close(params[name]["dist_mean"], stated, rel=1e-12), name
    checks = []
    for name, dist in MARGINALS.items():
        checks += moment_checks(contract, LABELS[name], col[name], dist)
    contract.assert_within(checks)
    assert np.all((col[UTILITY] >= 0) & (col[UTILITY] <= 1))
    assert np.all(col[COST] >= 0) and np.all(col[PRICE] >= 0) and np.all(col[RATE] > 0)
    assert np.all((col[X] >= 0) & (col[Y] >= 0) & (col[X] + col[Y] <= 1 + 1e-12))
    assert all(r["strategies.b.states.s.utility"] == "0.5" for r in draws)
    z_u = special.ndtri(MARGINALS[UTILITY].cdf(col[UTILITY]))
    z_c = special.ndtri(MARGINALS[COST].cdf(col[COST]))
    r = float(np.corrcoef(z_u, z_c)[0, 1])
    contract.assert_within([contract.check("E8 Fisher z of rho", math.atanh(r),
                                           math.atanh(0.6), 1 / math.sqrt(K_E2 - 3))])


# ------------------------------------------------------------------ E3, E5, E6

def cost_uncertain_text(contract) -> str:
    text = contract.kvref()
    text = text.replace("product = 300000.0", 'product = { value = 300000.0, dist = "gamma", '
                        "mean = 300000.0, se = 30000.0 }")
    text = text.replace("monitoring = 2500.0", 'monitoring = { value = 2500.0, dist = "gamma", '
                        "mean = 2500.0, se = 500.0 }")
    return text.replace("drugs = 18000.0", 'drugs = { value = 18000.0, dist = "gamma", '
                        "mean = 18000.0, se = 3000.0 }")


def test_e3_psa_mean_cost_equals_the_deterministic_cost(contract):
    """E3: uncertainty on costs only (outputs linear in them): each strategy's PSA mean
    cost equals the deterministic cost at the mean inputs within 4 SE (between-draw
    SE of the PSA mean combined with the deterministic run's MCSE)."""
    out = contract.psa(cost_uncertain_text(contract), "--draws", 100, "--patients", 200)
    draws = contract.rows(out, "psa")
    det = contract.summary(contract.run(contract.kvref(), "--patients", contract.N_STAT))
    checks = []
    for arm in ("cart", "immunosuppression"):
        c = np.array([float(r[f"cost_{arm}"]) for r in draws])
        se = math.sqrt(c.var(ddof=1) / c.size + float(det[arm]["cost_mcse"]) ** 2)
        checks.append(contract.check(f"E3 {arm} cost", c.mean(), float(det[arm]["cost"]), se))
    contract.assert_within(checks)


def test_e5_psa_summary_is_computed_from_the_draws(contract):
    """E5: psa_summary's means and increments are the means of psa.csv's columns; its
    ICER is the ratio of the mean increments (not a mean of ratios); INMB is linear in
    the draws; the 2.5%/97.5% bounds are numpy 'linear' quantiles of the columns, and
    the method is stated."""
    out = contract.psa(cost_uncertain_text(contract), "--draws", 100, "--patients", 200)
    draws = contract.rows(out, "psa")
    summary = {r["strategy"]: r for r in contract.rows(out, "psa_summary")}
    cols = {f"{m}_{a}": np.array([float(r[f"{m}_{a}"]) for r in draws])
            for m in ("cost", "qaly") for a in ("cart", "immunosuppression")}
    for arm in ("cart", "immunosuppression"):
        for m in ("cost", "qaly"):
            x = cols[f"{m}_{arm}"]
            row = summary[arm]
            assert contract.close(row[m], math.fsum(x) / x.size, rel=1e-12), (arm, m)
            low, high = np.quantile(x, [0.025, 0.975], method="linear")
            assert contract.close(row[f"{m}_low"], low, rel=1e-12), (arm, m)
            assert contract.close(row[f"{m}_high"], high, rel=1e-12), (arm, m)
    cart = summary["cart"]
    diff = {m: cols[f"{m}_cart"] - cols[f"{m}_immunosuppression"] for m in ("cost", "qaly")}
    for m in ("cost", "qaly"):
        assert contract.close(cart[f"inc_{m}"], diff[m].mean(), rel=1e-9), m
        low, high = np.quantile(diff[m], [0.025, 0.975], method="linear")
        assert contract.close(cart[f"inc_{m}_low"], low, rel=1e-9, abs_=1e-6), m
        assert contract.close(cart[f"inc_{m}_high"], high, rel=1e-9, abs_=1e-6), m
    ratio_of_means = diff["cost"].mean() / diff["qaly"].mean()
    mean_of_ratios = float(np.mean(diff["cost"] / diff["qaly"]))
    assert contract.close(cart["icer"], ratio_of_means, rel=1e-9)
    assert not contract.close(cart["icer"], mean_of_ratios, rel=1e-6)
    for w in (30000, 80000):
        assert contract.close(cart[f"inmb_{w}"], float(np.mean(w * diff["qaly"] - diff["cost"])),
                              rel=1e-9, abs_=1e-6)
    assert "linear" in (out / "psa_summary.md").read_text(encoding="utf-8")


def test_e6_evpi_is_exactly_zero_when_one_strategy_always_wins(contract):
    """E6(b): CAR-T free (no product, no monitoring, no relapse), better and longer-lived
    in every draw (uncertain IS costs): EVPI is exactly 0 at every WTP of evpi.csv."""
    text = cost_uncertain_text(contract).replace(
        'product = { value = 300000.0, dist = "gamma", mean = 300000.0, se = 30000.0 }',
        "product = 0.0").replace(
        'monitoring = { value = 2500.0, dist = "gamma", mean = 2500.0, se = 500.0 }',
        "monitoring = 0.0").replace("rate = 0.12", "rate = 0.0")
    out = contract.psa(text, "--draws", 40, "--patients", 100)
    for r in contract.rows(out, "psa"):
        assert float(r["cost_cart"]) < float(r["cost_immunosuppression"])
        assert float(r["qaly_cart"]) > float(r["qaly_immunosuppression"])
    evpi = contract.rows(out, "evpi")
    assert evpi and all(float(r["evpi_per_patient"]) == 0.0 for r in evpi), evpi


# ------------------------------------------------------------------ E7

DAMPACK = (("E", 55000, 5.0), ("D", 35000, 4.0), ("C", 25000, 3.0), ("B", 10000, 2.0),
           ("A", 12000, 1.5), ("UC", 5000, 1.0))


def six_strategies_text() -> str:
    """dampack's six strategies, made deterministic: cost at t = 0, no death, QALY =
    utility x 10 years, undiscounted."""
    text = ('model = "custom"\n[run]\nseed = 77\nhorizon = 10\n'
            'discount = { costs = 0.0, outcomes = 0.0 }\nlife_table = "none"\n'
            'comparator = "UC"\n')
    for name, cost, effect in DAMPACK:
        text += (f'[strategies.{name}]\nstart = "s"\nupfront_cost = {{ product = {cost} }}\n'
                 f"[strategies.{name}.states.s]\nutility = {effect / 10!r}\n")
    return text


def frontier_rows(folder: Path) -> dict[str, dict[str, str]] | None:
    """The rows of the first CSV that holds a full incremental analysis: one row per
    strategy and a cell calling C extendedly dominated."""
    for path in sorted(folder.glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
        by = {r.get("strategy"): r for r in rows}
        if set(by) >= {n for n, _, _ in DAMPACK} and any(
                re.search(r"extend|^ED$", v, re.IGNORECASE) for v in by["C"].values()):
            return by
    return None


def test_e7_six_strategy_frontier_is_written(contract):
    """E7: dampack's six strategies: UC, B, D, E non-dominated with ICERs 5,000, 12,500
    and 20,000; C extendedly dominated; A dominated, in a results table."""
    out = contract.run(six_strategies_text(), "--patients", 3)
    rows = frontier_rows(out)
    assert rows is not None, "no CSV with a frontier (extended dominance) table"
    assert re.search(r"dominated|^D$", " ".join(rows["A"].values()), re.IGNORECASE)
    for name, icer in (("B", 5000.0), ("D", 12500.0), ("E", 20000.0)):
        assert any(re.fullmatch(r"-?[\d.e+]+", v) and math.isclose(float(v), icer)
                   for v in rows[name].values()), (name, rows[name])


# ------------------------------------------------------------------ E9

def test_e9_draw_k_is_the_same_for_any_k_and_any_workers(contract):
    """E9: K = 8 and K = 16, with 1 and 3 workers, same seed: draws 1-8 have identical
    parameter values and outputs (the same psa.csv lines)."""
    text = cost_uncertain_text(contract).replace(
        "utility = 0.55\n", 'utility = { value = 0.55, dist = "beta", mean = 0.55, '
        "se = 0.05 }\n", 1)
    lines = {}
    for draws, workers in ((8, 1), (16, 1), (16, 3), (8, 3)):
        out = contract.psa(text, "--draws", draws, "--patients", 60, "--workers", workers,
                           "--seed", 999)
        lines[(draws, workers)] = (out / "psa.csv").read_text(encoding="utf-8").splitlines()
    first = lines[(8, 1)]
    assert len(first) == 9 and len(lines[(16, 1)]) == 17
    for key, text_lines in lines.items():
        assert text_lines[:9] == first, key
    assert lines[(16, 1)] == lines[(16, 3)]
