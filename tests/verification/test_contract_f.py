"""VERIFICATION group F (results tables and reporting) through the CLI's files.

F1-F6 for `cartsim run` are covered through the CLI by tests/cli/test_run.py and
tests/cli/test_accounting.py. Added here: the F1 manifest of a PSA, the standard
errors of the harms tables (F4) and the PSA variance split of F6.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import statistics

import numpy as np


def psa_text(contract) -> str:
    return contract.kvref().replace(
        "rate = 0.12", 'rate = { value = 0.12, dist = "gamma", mean = 0.12, se = 0.03 }')


def test_f1_psa_manifest_records_what_cheers_asks_for(contract):
    """F1 (PSA): run.json records K iterations, patients per draw, the root seed, the
    canonical scenario hash, software versions and git commit key, perspective, horizon,
    both discount rates, currency, price year, WTPs and comparator; its SHA-256 of every
    file matches the file."""
    out = contract.psa(psa_text(contract), "--draws", 12, "--patients", 40, "--seed", 515)
    manifest = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert manifest["command"] == "psa" and manifest["seed"] == 515
    assert manifest["sizes"]["iterations"] == 12 and manifest["sizes"]["patients"] == 40
    assert re.fullmatch(r"[0-9a-f]{64}", manifest["scenario_hash"])
    for key in ("cartsim_version", "python", "numpy", "scipy", "simpy"):
        assert manifest[key], key
    assert "git_commit" in manifest
    settings = manifest["settings"]
    assert settings["perspective"] == "NHS and PSS" and settings["horizon"] == "lifetime"
    assert settings["discount_costs"] == settings["discount_outcomes"] == 0.03
    assert settings["discount_convention"] == "annual"
    assert settings["currency"] == "GBP" and settings["price_year"] == 2023
    assert settings["wtp"] == [30000.0, 80000.0]
    assert settings["comparator"] == "immunosuppression"
    on_disk = {p.name for p in out.iterdir()} - {"run.json"}
    assert set(manifest["files"]) == on_disk
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest, name


def test_f4_harm_rates_carry_their_standard_errors(contract):
    """F4: events.csv and deaths.csv counts equal patients.csv, and their standard errors
    are sqrt(p(1-p)/n) for proportions and sd/sqrt(n) for events per patient."""
    text = contract.kvref(crs=(0.25, 12000.0, 0.03), trm=0.04, seed=3141)
    out = contract.run(text, "--patients", 300, "--trace")
    patients = contract.rows(out, "patients")
    n = 300
    for row in contract.rows(out, "events"):
        counts = [int(p[f"n_{row['event']}"]) for p in patients
                  if p["strategy"] == row["strategy"]]
        assert len(counts) == n and int(row["events"]) == sum(counts), row
        p = sum(c > 0 for c in counts) / n
        assert contract.close(row["proportion"], p), row
        assert contract.close(row["proportion_se"], math.sqrt(p * (1 - p) / n)), row
        assert contract.close(row["events_per_patient_mcse"],
                              statistics.stdev(counts) / math.sqrt(n)), row
    for row in contract.rows(out, "deaths"):
        mine = [p for p in patients if p["strategy"] == row["strategy"]]
        cause = "alive" if row["cause"] == "alive_at_horizon" else row["cause"]
        p = sum(x["cause"] == cause for x in mine) / n
        assert int(row["patients"]) == round(p * n), row
        assert contract.close(row["proportion_se"], math.sqrt(p * (1 - p) / n)), row
    assert {r["cause"] for r in contract.rows(out, "deaths") if r["strategy"] == "cart"} \
        >= {"trm", "disease"}


def test_f6_psa_variance_split_is_consistent_with_psa_csv(contract):
    """F6 (PSA, the part psa.csv allows): variance.csv's total is the variance of the
    per-draw mean QALYs in psa.csv; second order = max(total - first order, 0); the
    share is first / total capped at 1."""
    out = contract.psa(psa_text(contract), "--draws", 30, "--patients", 100)
    draws = contract.rows(out, "psa")
    for row in contract.rows(out, "variance"):
        q = np.array([float(r[f"qaly_{row['strategy']}"]) for r in draws])
        total, first = float(row["total"]), float(row["first_order"])
        assert contract.close(total, q.var(ddof=1), rel=1e-9), row
        assert contract.close(row["second_order"], max(total - first, 0.0), abs_=1e-12), row
        assert contract.close(row["share_first"], min(first / total, 1.0)), row


def test_f6_psa_first_order_variance_recomputes_from_psa_csv(contract):
    """F6 (PSA): first_order = mean over draws of the within-draw QALY variance / n,
    recomputed from a per-draw variance (or SD) column of psa.csv."""
    out = contract.psa(psa_text(contract), "--draws", 30, "--patients", 100)
    draws = contract.rows(out, "psa")
    for row in contract.rows(out, "variance"):
        s = row["strategy"]
        cols = [c for c in draws[0] if s in c and re.search(r"qaly.*(var|sd)", c)]
        assert cols, f"no within-draw QALY variance column for {s} in psa.csv"
        values = np.array([float(r[cols[0]]) for r in draws])
        within = values ** 2 if "sd" in cols[0] else values
        assert contract.close(row["first_order"], within.mean() / 100, rel=1e-9), row
