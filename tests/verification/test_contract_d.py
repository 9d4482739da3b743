"""VERIFICATION group D (invariance and reproducibility) through the CLI and its files.

D1, D4, D5, D6 and D7 are covered through the CLI by tests/cli/test_run.py,
tests/cli/test_accounting.py and tests/scenario/test_validation.py; D2, D3, D8, D9
and D10 were checked on the Python API only (tests/engine, tests/psa) and are
checked here on the written files.
"""

from __future__ import annotations

import json
import math
from pathlib import Path


def same_files(a: Path, b: Path) -> None:
    """Every file byte-identical; run.json identical but for its `created` time."""
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    for name in names:
        if name == "run.json":
            ma, mb = (json.loads((d / name).read_text(encoding="utf-8")) for d in (a, b))
            ma.pop("created"), mb.pop("created")
            assert ma == mb
        else:
            assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_d2_different_seeds_differ_but_agree_within_4_se(contract):
    """D2: seeds 90210 and 4711: the results differ (the seed is used), every main output
    agrees within 4 sqrt(SE1^2 + SE2^2), and run.json records each seed."""
    n = contract.N_STAT
    one = contract.run(contract.kvref(), "--patients", n)
    two = contract.run(contract.kvref(), "--patients", n, "--seed", 4711)
    s1, s2 = contract.summary(one), contract.summary(two)
    assert s1["cart"]["qaly"] != s2["cart"]["qaly"]
    checks = []
    for arm in ("cart", "immunosuppression"):
        for m in ("cost", "qaly", "ly"):
            se = math.hypot(float(s1[arm][f"{m}_mcse"]), float(s2[arm][f"{m}_mcse"]))
            checks.append(contract.check(f"D2 {arm} {m}", s2[arm][m], float(s1[arm][m]), se))
    for m in ("cost", "qaly"):
        se = math.hypot(float(s1["cart"][f"inc_{m}_mcse"]), float(s2["cart"][f"inc_{m}_mcse"]))
        checks.append(contract.check(f"D2 inc {m}", s2["cart"][f"inc_{m}"],
                                     float(s1["cart"][f"inc_{m}"]), se))
    contract.assert_within(checks)
    for folder, seed in ((one, contract.SEED), (two, 4711)):
        manifest = json.loads((folder / "run.json").read_text(encoding="utf-8"))
        assert manifest["seed"] == seed


def uncertain_text(contract) -> str:
    text = contract.kvref()
    text = text.replace("rate = 0.12", 'rate = { value = 0.12, dist = "gamma", mean = 0.12, '
                        "se = 0.03 }")
    return text.replace("cost = { drugs = 18000.0 }", 'cost = { drugs = { value = 18000.0, '
                        'dist = "gamma", mean = 18000.0, se = 3000.0 } }', 1)


def test_d3_psa_files_identical_for_1_2_and_4_workers(contract):
    """D3 (PSA): `psa --workers 1`, 2 and 4 with the same seed write byte-identical files
    (run.json but for its time)."""
    path = contract.write(uncertain_text(contract))
    outs = [path.parent / f"workers_{w}" for w in (1, 2, 4)]
    for w, out in zip((1, 2, 4), outs, strict=True):
        result = contract.run_to(path, out, "--draws", 16, "--patients", 80, "--workers", w,
                                 command="psa")
        assert result.exit_code == 0, result.output
    same_files(outs[0], outs[1])
    same_files(outs[0], outs[2])


def test_d3_run_files_identical_for_1_2_and_4_workers(contract):
    """D3 (base case): `run --workers 1`, 2 and 4 write byte-identical files."""
    path = contract.write(contract.kvref())
    outs = [path.parent / f"workers_{w}" for w in (1, 2, 4)]
    for w, out in zip((1, 2, 4), outs, strict=True):
        result = contract.run_to(path, out, "--patients", 3000, "--workers", w)
        assert result.exit_code == 0, result.output
    same_files(outs[0], outs[1])
    same_files(outs[0], outs[2])


COSMETIC = """\
# KV-REF prime again: tables reordered, comments, 1.8e4 for 18000.0, integers for
# floats, dotted keys and standard tables instead of inline ones.
model = "custom"
title = "KV-REF prime"

[strategies.cart.states.on_is]
death.rate = 5e-2
cost.drugs = 1.8e4   # same number
utility = 0.550

[strategies.cart]
upfront_cost.product = 300_000
start = "remission"

[strategies.cart.states.remission.transitions.relapse]
rate = 0.120
to = "on_is"
dist = "exponential"

[strategies.cart.states.remission]
cost = { monitoring = 2500 }
death = { rate = 0.02 }
utility = 0.8
remission = true

[strategies.immunosuppression]
start = "on_is"

[strategies.immunosuppression.states.on_is]
death = { rate = 0.05 }
utility = 0.55
[strategies.immunosuppression.states.on_is.cost]
drugs = 18000

[run]
perspective = "NHS and PSS"
price_year = 2023
currency = "GBP"
comparator = "immunosuppression"
wtp = [30_000, 8e4]
life_table = "none"
horizon = "lifetime"
seed = 90210
patients = 1000
[run.discount]
convention = "annual"
outcomes = 3e-2
costs = 0.030
"""


def test_d6_cosmetic_rewrite_gives_the_same_hash_and_results(contract):
    """D6: the same scenario rewritten (order, comments, number spelling, table style)
    has the same canonical hash in run.json and byte-identical tables."""
    a = contract.run(contract.kvref(), "--patients", 2000)
    b = contract.run(COSMETIC, "--patients", 2000)
    ma, mb = (json.loads((o / "run.json").read_text(encoding="utf-8")) for o in (a, b))
    assert ma["scenario_hash"] == mb["scenario_hash"]
    for name in sorted(p.name for p in a.iterdir()):
        if name != "run.json":
            assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_d8_stream_isolation(contract):
    """D8: (a) a zero-probability CAR-T-only event, (b) other costs and utilities, (c) a
    third strategy: the existing strategies' event histories are identical."""
    base_text = contract.kvref(crs=(0.22, 18000.0, 0.035))
    base = contract.trace_facts(contract.run(base_text, "--patients", 200, "--trace"))
    icans = base_text + ("[strategies.cart.chances.infusion.outcomes.icans]\nprobability = 0.0\n"
                         "[strategies.cart.events.icans]\ncost = { adverse_events = 40000 }\n")
    revalued = contract.kvref(crs=(0.22, 9000.0, 0.05), u_r=0.9, c_r=4000.0, c_is=25000.0,
                              u_is=0.5)
    third = base_text + """\
[strategies.watch]
start = "well"
[strategies.watch.states.well]
utility = 0.7
cost = { monitoring = 500 }
death = { rate = 0.03 }
[strategies.watch.states.well.transitions.relapse]
to = "worse"
rate = 0.2
[strategies.watch.states.worse]
utility = 0.4
death = { rate = 0.09 }
"""
    for case, text in (("a", icans), ("b", revalued), ("c", third)):
        out = contract.run(text, "--patients", 200, "--trace")
        assert contract.trace_facts(out, ["cart", "immunosuppression"]) == base, case


def test_d9_first_patients_do_not_depend_on_the_number_of_patients(contract):
    """D9: N = 150 and N = 300 with the same seed: patients 0-149 are identical in
    patients.csv and trace.csv, every column."""
    small = contract.run(contract.kvref(), "--patients", 150, "--trace")
    large = contract.run(contract.kvref(), "--patients", 300, "--trace")
    for table in ("patients", "trace"):
        a = contract.rows(small, table)
        b = [r for r in contract.rows(large, table) if int(r["patient_id"]) < 150]
        assert len(a) >= 150 and a == b, table


def test_d10_common_random_numbers_shrink_the_se_of_the_increment(contract):
    """D10: with CRN the SE of dQ is < 0.8 x sqrt(SE_IS^2 + SE_CART^2) of the --no-crn
    run; the arms' QALYs are positively correlated; both estimates of dQ agree with the
    closed form within 4 SE."""
    n = contract.N_STAT
    crn = contract.summary(contract.run(contract.kvref(), "--patients", n))
    ind = contract.summary(contract.run(contract.kvref(), "--patients", n, "--no-crn"))
    se_a, se_b = float(crn["cart"]["qaly_mcse"]), float(crn["immunosuppression"]["qaly_mcse"])
    se_d = float(crn["cart"]["inc_qaly_mcse"])
    se_ind = math.hypot(float(ind["cart"]["qaly_mcse"]),
                        float(ind["immunosuppression"]["qaly_mcse"]))
    assert se_d < 0.8 * se_ind, (se_d, se_ind)
    corr = (se_a ** 2 + se_b ** 2 - se_d ** 2) / (2 * se_a * se_b)
    assert corr > 0, corr
    truth = contract.truth()["d_qaly"]
    contract.assert_within([
        contract.check("D10 dQ with CRN", crn["cart"]["inc_qaly"], truth, se_d),
        contract.check("D10 dQ without CRN", ind["cart"]["inc_qaly"], truth, se_ind),
    ])
    manifest = json.loads((contract.run(contract.kvref(), "--patients", n, "--no-crn")
                           / "run.json").read_text(encoding="utf-8"))
    assert manifest["settings"]["common_random_numbers"] is False
