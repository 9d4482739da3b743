"""Accounting and reporting checks on the files of `cartsim run --trace`.

A10 recomputes every patient's totals from trace.csv with an independent
implementation of the documented discount convention; A11 checks the patient
flow in the trace; F2-F6 check the tables against patients.csv; F3 the input
echo; D4 the independence of results from the row order of a cohort file.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import random
import statistics
from collections import defaultdict
from pathlib import Path

import pytest
from click.testing import CliRunner

from cartsim.cli import main
from cartsim.scenario.clinical_schema import CLINICAL_PARAMETERS
from cartsim.scenario.load import load_scenario

HORIZON = 30.0
D_COSTS, D_OUTCOMES = 0.035, 0.015   # annual rates: r = ln(1 + d) (the default convention)
WTP = (20000.0, 100000.0)
N = 1000

# The scenario below, restated as plain data for the independent recomputation.
STATE_COSTS = {"on_is": {"drugs": 20000.0, "disease_care": 3000.0},
               "remission": {"monitoring": 2000.0}}
UTILITY = {"on_is": 0.60, "remission": 0.85}
EVENT_COSTS = {
    "cart": {"start": {"product": 350000.0, "infusion_episode": 50000.0},
             "crs": {"adverse_events": 25000.0}, "infection": {"disease_care": 8000.0},
             "relapse": {"other": 5000.0}},
    "immunosuppression": {"infection": {"disease_care": 8000.0}},
}
QALY_LOSS = {"crs": 0.02, "infection": 0.01, "relapse": 0.05}
ALLOWED_MOVES = {
    "cart": {("", "remission"), ("remission", "on_is"), ("remission", "dead"),
             ("on_is", "dead")},
    "immunosuppression": {("", "on_is"), ("on_is", "dead")},
}

ACCOUNTING = f"""\
model = "custom"
title = "accounting check"
[run]
patients = {N}
seed = 424242
horizon = {HORIZON}
discount = {{ costs = {D_COSTS}, outcomes = {D_OUTCOMES} }}
life_table = "none"
wtp = [20000, 100000]
currency = "USD"
price_year = 2024
[strategies.immunosuppression]
start = "on_is"
[strategies.immunosuppression.states.on_is]
utility = 0.60
cost = {{ drugs = 20000, disease_care = 3000 }}
death = {{ rate = 0.04 }}
recurring = {{ infection = 0.3 }}
[strategies.immunosuppression.events.infection]
cost = {{ disease_care = 8000 }}
qaly_loss = 0.01
[strategies.cart]
start = "infusion"
upfront_cost = {{ product = 350000, infusion_episode = 50000 }}
[strategies.cart.chances.infusion]
then = "remission"
[strategies.cart.chances.infusion.outcomes.crs]
probability = 0.15
[strategies.cart.events.crs]
cost = {{ adverse_events = 25000 }}
qaly_loss = 0.02
[strategies.cart.events.infection]
cost = {{ disease_care = 8000 }}
qaly_loss = 0.01
[strategies.cart.states.remission]
utility = 0.85
remission = true
cost = {{ monitoring = 2000 }}
death = {{ rate = 0.015, cause = "other_causes" }}
[strategies.cart.states.remission.transitions.relapse]
to = "on_is"
rate = {{ value = 0.10, dist = "gamma", mean = 0.10, se = 0.02, source = "test: KV-REF" }}
cost = {{ other = 5000 }}
qaly_loss = 0.05
[strategies.cart.states.on_is]
utility = 0.60
cost = {{ drugs = 20000, disease_care = 3000 }}
death = {{ rate = 0.04 }}
recurring = {{ infection = 0.3 }}
"""


def read_csv(path: Path) -> list[dict[str, str]]:
    with Path(path).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def invoke(args) -> object:
    result = CliRunner().invoke(main, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def run_folder(folder: Path, text: str, *extra: str, name: str = "s.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    out = folder / "out"
    result = invoke(["run", path, "--out", out, "--quiet", "--trace", *extra])
    assert result.exit_code == 0, result.output
    return out


def close(a: float, b: float, rel: float = 1e-9, abs_: float = 1e-9) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_)


def na_or_float(text: str) -> float | None:
    return None if text == "NA" else float(text)


@pytest.fixture(scope="module")
def acc(tmp_path_factory) -> dict[str, object]:
    """One traced run of the accounting scenario, with its tables parsed."""
    folder = tmp_path_factory.mktemp("accounting")
    out = run_folder(folder, ACCOUNTING)
    patients = read_csv(out / "patients.csv")
    trace = read_csv(out / "trace.csv")
    by_patient: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)
    for row in trace:
        by_patient[(row["patient_id"], row["strategy"])].append(row)
    for rows in by_patient.values():
        rows.sort(key=lambda r: int(r["row"]))
    return {
        "out": out, "scenario": folder / "s.toml", "patients": patients, "trace": trace,
        "by_patient": dict(by_patient),
        "patient": {(r["patient_id"], r["strategy"]): r for r in patients},
        "summary": {r["strategy"]: r for r in read_csv(out / "summary.csv")},
        "costs": read_csv(out / "costs.csv"), "events": read_csv(out / "events.csv"),
        "deaths": read_csv(out / "deaths.csv"), "parameters": read_csv(out / "parameters.csv"),
        "subgroups": read_csv(out / "subgroups.csv"),
        "cost_over_time": read_csv(out / "cost_over_time.csv"),
    }


# ------------------------------------------------------------------------ A10

def disc_integral(a: float, b: float, r: float) -> float:
    """∫_a^b e^{-rt} dt."""
    if r == 0.0:
        return b - a
    return math.exp(-r * a) * -math.expm1(-r * (b - a)) / r


def mean_df(a: float, b: float, r: float) -> float:
    """Mean of e^{-rt} over [a, b] (e^{-ra} for an empty interval)."""
    return disc_integral(a, b, r) / (b - a) if b > a else math.exp(-r * a)


def recompute(strategy: str, rows: list[dict[str, str]]) -> dict[str, float]:
    """A patient's totals from their trace rows, using only times, counts, states and
    event names from the trace and the scenario's own inputs (not cartsim's amounts)."""
    rc, ro = math.log1p(D_COSTS), math.log1p(D_OUTCOMES)
    tot: dict[str, list[float]] = defaultdict(list)

    def add(key: str, value: float) -> None:
        tot[key].append(value)

    for row in rows:
        kind, t = row["kind"], float(row["time"])
        if kind == "sojourn":
            a, b, state = t, float(row["end"]), row["state_from"]
            assert float(row["cost_rate"]) == sum(STATE_COSTS[state].values())
            assert float(row["utility"]) == UTILITY[state]
            for cat, rate in STATE_COSTS[state].items():
                add(f"cost_{cat}", rate * disc_integral(a, b, rc))
                add(f"cost_{cat}_undisc", rate * (b - a))
            add("qaly", UTILITY[state] * disc_integral(a, b, ro))
            add("qaly_undisc", UTILITY[state] * (b - a))
            add("ly", disc_integral(a, b, ro))
            add("ly_undisc", b - a)
            if state == "remission":
                add("remission_years", b - a)
                add("remission_years_disc", disc_integral(a, b, ro))
        elif kind in ("event", "recurring"):
            event = row["event"]
            costs = EVENT_COSTS[strategy].get(event, {})
            loss = QALY_LOSS.get(event, 0.0)
            assert float(row["unit_cost"]) == sum(costs.values()), row
            assert float(row["unit_qaly_loss"]) == loss, row
            n = int(row["count"])
            if kind == "event":
                assert n == 1
                dfc, dfo = math.exp(-rc * t), math.exp(-ro * t)
            else:
                dfc, dfo = (mean_df(t, float(row["end"]), r) for r in (rc, ro))
            for cat, amount in costs.items():
                add(f"cost_{cat}", n * amount * dfc)
                add(f"cost_{cat}_undisc", n * amount)
            add("qaly", -n * loss * dfo)
            add("qaly_undisc", -n * loss)
        else:
            assert kind == "censored", row
    out = {k: math.fsum(v) for k, v in tot.items()}
    out["cost"] = math.fsum(v for k, v in out.items()
                            if k.startswith("cost_") and not k.endswith("_undisc"))
    out["cost_undisc"] = math.fsum(v for k, v in out.items()
                                   if k.startswith("cost_") and k.endswith("_undisc"))
    return out


def test_trace_recomputation_matches_patients(acc):
    """A10: every patient's disc/undisc costs (total and by category), QALYs, LYs and
    remission years, recomputed from trace.csv, equal patients.csv (rel 1e-9)."""
    patients = acc["patient"]
    assert len(patients) == 2 * N
    kinds = {r["kind"] for r in acc["trace"]}
    assert kinds == {"sojourn", "event", "recurring", "censored"}  # all row kinds exercised
    checked = 0
    for key, rows in acc["by_patient"].items():
        expected = recompute(key[1], rows)
        got = patients[key]
        for col, value in got.items():
            if col.startswith(("cost", "qaly", "ly", "remission_years")):
                want = expected.get(col, 0.0)
                assert close(float(value), want), (key, col, value, want)
                checked += 1
    assert checked >= 2 * N * 26


def test_trace_row_amounts_match_recomputation(acc):
    """A10: each trace row's own discounted amounts follow the documented convention."""
    rc, ro = math.log1p(D_COSTS), math.log1p(D_OUTCOMES)
    for row in acc["trace"]:
        if row["kind"] == "sojourn":
            a, b = float(row["time"]), float(row["end"])
            assert close(float(row["cost"]), float(row["cost_rate"]) * disc_integral(a, b, rc))
            assert close(float(row["ly"]), disc_integral(a, b, ro))
            assert close(float(row["qaly"]), float(row["utility"]) * disc_integral(a, b, ro))
        elif row["kind"] == "event":
            t = float(row["time"])
            assert close(float(row["cost"]), float(row["unit_cost"]) * math.exp(-rc * t))
            assert close(float(row["qaly"]), -float(row["unit_qaly_loss"]) * math.exp(-ro * t))


def test_manifest_discount_rates_follow_annual_convention(acc):
    """A10: the annual rates d are used as continuous r = ln(1 + d), as documented."""
    settings = json.loads((acc["out"] / "run.json").read_text())["settings"]
    assert settings["discount_convention"] == "annual"
    assert settings["continuous_rate_costs"] == math.log1p(D_COSTS)
    assert settings["continuous_rate_outcomes"] == math.log1p(D_OUTCOMES)


# ------------------------------------------------------------------------ A11

def test_trace_patient_flow_invariants(acc):
    """A11: times non-decreasing and >= 0; rows numbered 0..k-1; exactly one terminal
    row (death or censoring), last; only permitted moves; sojourns contiguous and
    summing to end_time; censoring only at the horizon."""
    patients = acc["patient"]
    for key, rows in acc["by_patient"].items():
        _, strategy = key
        assert [int(r["row"]) for r in rows] == list(range(len(rows)))
        times = [float(r["time"]) for r in rows]
        assert times[0] >= 0.0 and all(a <= b for a, b in itertools.pairwise(times))
        terminal = [i for i, r in enumerate(rows)
                    if (r["kind"] == "event" and r["state_to"] == "dead")
                    or r["kind"] == "censored"]
        assert terminal == [len(rows) - 1], (key, terminal)
        # `state` is the state of the last stay ("" before the first one: events at
        # the start, such as CRS at the infusion chance node, come from "").
        state, heading, clock, alive_time = "", None, 0.0, []
        for r in rows:
            if r["kind"] == "event":
                move = (r["state_from"], r["state_to"])
                assert move in ALLOWED_MOVES[strategy], (key, r)
                assert r["state_from"] == state, (key, r)
                heading = r["state_to"]
            elif r["kind"] == "sojourn":
                assert r["state_from"] == r["state_to"] == heading, (key, r)
                state = r["state_from"]
                assert float(r["time"]) == clock, (key, r)    # contiguous stays
                clock = float(r["end"])
                alive_time.append(clock - float(r["time"]))
            elif r["kind"] == "recurring":
                assert r["state_from"] == state
        end = float(patients[key]["end_time"])
        assert close(math.fsum(alive_time), end, abs_=1e-12)
        last = rows[-1]
        if last["kind"] == "censored":
            assert end == HORIZON and patients[key]["cause"] == "alive"
            assert patients[key]["died"] == "0"
        else:
            assert float(last["time"]) == end < HORIZON
            assert patients[key]["died"] == "1" and patients[key]["cause"] != "alive"


def test_trace_state_counts_sum_to_cohort(acc):
    """A11: at any time the patients in each state plus the dead add up to N."""
    for t in (0.0, 0.37, 4.2, 11.11, 23.5, 29.99):
        for strategy in ("cart", "immunosuppression"):
            counts: dict[str, int] = defaultdict(int)
            for (_, s), rows in acc["by_patient"].items():
                if s != strategy:
                    continue
                where = [r["state_from"] for r in rows if r["kind"] == "sojourn"
                         and float(r["time"]) <= t < float(r["end"])]
                dead = rows[-1]["kind"] == "event" and float(rows[-1]["time"]) <= t
                assert len(where) + dead == 1, (t, rows)
                counts[where[0] if where else "dead"] += 1
            assert sum(counts.values()) == N
            if t > 0:
                assert counts["dead"] > 0


# ------------------------------------------------------------------------- F2

def mean_of(rows: list[dict[str, str]], col: str) -> float:
    return math.fsum(float(r[col]) for r in rows) / len(rows)


def test_summary_internal_consistency(acc):
    """F2: total = sum of categories; increments = difference of totals; ICER =
    inc_cost/inc_qaly; QALY <= LY; discounted <= undiscounted; strategy means equal
    the means of patients.csv (rel 1e-9)."""
    summary, patients = acc["summary"], acc["patients"]
    for s, row in summary.items():
        cats = [r for r in acc["costs"] if r["strategy"] == s and r["category"] != "total"]
        total = next(r for r in acc["costs"] if r["strategy"] == s and r["category"] == "total")
        for col in ("cost", "cost_undisc"):
            assert close(math.fsum(float(r[col]) for r in cats), float(total[col]))
            assert close(float(total[col]), float(row[col]))
        mine = [r for r in patients if r["strategy"] == s]
        assert int(row["patients"]) == len(mine) == N
        for col in ("cost", "cost_undisc", "qaly", "qaly_undisc", "ly", "ly_undisc",
                    "remission_years"):
            assert close(float(row[col]), mean_of(mine, col)), (s, col)
        for r in cats:
            assert close(float(r["cost"]), mean_of(mine, f"cost_{r['category']}"))
        assert float(row["qaly"]) <= float(row["ly"])
        assert float(row["qaly_undisc"]) <= float(row["ly_undisc"])
        for col in ("cost", "qaly", "ly"):
            assert float(row[col]) <= float(row[f"{col}_undisc"])
        for r in mine:
            assert float(r["qaly"]) <= float(r["ly"]) + 1e-12
            assert float(r["cost"]) <= float(r["cost_undisc"]) * (1 + 1e-12)
            assert float(r["ly"]) <= float(r["ly_undisc"]) * (1 + 1e-12)
    cart, ref = summary["cart"], summary["immunosuppression"]
    assert cart["comparator"] == "immunosuppression" and ref["icer_status"] == "comparator"
    for col in ("cost", "qaly", "ly"):
        assert close(float(cart[f"inc_{col}"]), float(cart[col]) - float(ref[col]))
    assert cart["icer"] != "NA"
    assert close(float(cart["icer"]), float(cart["inc_cost"]) / float(cart["inc_qaly"]))
    for lam in WTP:
        assert close(float(cart[f"inmb_{lam:.0f}"]),
                     lam * float(cart["inc_qaly"]) - float(cart["inc_cost"]))
    for r in acc["costs"]:
        if r["strategy"] == "cart":
            base = next(x for x in acc["costs"] if x["strategy"] == "immunosuppression"
                        and x["category"] == r["category"])
            assert close(float(r["inc_cost"]), float(r["cost"]) - float(base["cost"]))


def test_subgroup_and_cost_curve_tables_agree_with_summary(acc):
    """F2: the single group's row equals the summary; the cumulative discounted cost
    curve starts at the time-0 one-off costs, never falls, and ends at the summary
    cost at the horizon."""
    summary = acc["summary"]
    for row in acc["subgroups"]:
        assert row["group"] == "all"
        for col in ("patients", "cost", "cost_mcse", "qaly", "qaly_mcse", "ly"):
            assert row[col] == summary[row["strategy"]][col], (row["strategy"], col)
    curve = acc["cost_over_time"]
    assert float(curve[0]["time"]) == 0.0 and float(curve[-1]["time"]) == HORIZON
    for s in summary:
        values = [float(r[f"cumulative_cost_{s}"]) for r in curve]
        assert all(a <= b * (1 + 1e-12) for a, b in itertools.pairwise(values)), s
        assert close(values[-1], float(summary[s]["cost"])), s
        at_zero = math.fsum(
            float(r["cost"]) for r in acc["trace"]
            if r["strategy"] == s and r["kind"] == "event" and float(r["time"]) == 0.0)
        assert close(values[0], at_zero / N), s


# ------------------------------------------------------------------------- F4

def test_events_and_deaths_match_patients_and_trace(acc):
    """F4: events.csv counts = sums of n_<event> in patients.csv = trace rows;
    deaths.csv = the causes in patients.csv."""
    patients, trace = acc["patients"], acc["trace"]
    reported = {(r["strategy"], r["event"]): r for r in acc["events"]}
    event_cols = [c for c in patients[0] if c.startswith("n_")]
    assert {"n_crs", "n_infection", "n_relapse", "n_death"} <= set(event_cols)
    for s in ("cart", "immunosuppression"):
        mine = [r for r in patients if r["strategy"] == s]
        for col in event_cols:
            event = col[2:]
            counts = [int(r[col]) for r in mine]
            from_trace = sum(int(r["count"]) for r in trace
                             if r["strategy"] == s and r["event"] == event
                             and r["kind"] in ("event", "recurring"))
            assert sum(counts) == from_trace, (s, event)
            if (s, event) not in reported:
                assert sum(counts) == 0, (s, event)
                continue
            row = reported[(s, event)]
            assert int(row["events"]) == sum(counts)
            assert int(row["patients_with_event"]) == sum(c > 0 for c in counts)
            assert close(float(row["proportion"]), sum(c > 0 for c in counts) / N)
            assert close(float(row["events_per_patient"]), sum(counts) / N)
        causes: dict[str, list[float]] = defaultdict(list)
        for r in mine:
            causes["alive_at_horizon" if r["cause"] == "alive" else r["cause"]].append(
                float(r["end_time"]))
        deaths = {r["cause"]: r for r in acc["deaths"] if r["strategy"] == s}
        assert set(deaths) == set(causes)
        for cause, times in causes.items():
            assert int(deaths[cause]["patients"]) == len(times)
            assert close(float(deaths[cause]["proportion"]), len(times) / N)
            assert close(float(deaths[cause]["mean_time"]), math.fsum(times) / len(times))
        assert sum(int(r["patients"]) for r in deaths.values()) == N
    assert {"other_causes", "disease"} <= {r["cause"] for r in acc["deaths"]}


# ------------------------------------------------------------------------- F6

def mcse(values: list[float]) -> float:
    return statistics.stdev(values) / math.sqrt(len(values))


def test_summary_mcse_equals_sd_over_root_n(acc):
    """F6: every *_mcse = sd(ddof=1)/sqrt(n) of patients.csv; paired for inc_* and INMB."""
    patients, summary = acc["patient"], acc["summary"]
    ids = sorted({pid for pid, _ in patients}, key=int)
    col = {(s, c): [float(patients[(i, s)][c]) for i in ids]
           for s in ("cart", "immunosuppression") for c in ("cost", "qaly", "ly")}
    for s, row in summary.items():
        for c in ("cost", "qaly", "ly"):
            assert close(float(row[f"{c}_mcse"]), mcse(col[(s, c)])), (s, c)
    cart = summary["cart"]
    diff = {c: [a - b for a, b in zip(col[("cart", c)], col[("immunosuppression", c)],
                                      strict=True)]
            for c in ("cost", "qaly", "ly")}
    for c in ("cost", "qaly", "ly"):
        assert close(float(cart[f"inc_{c}_mcse"]), mcse(diff[c])), c
    for lam in WTP:
        per = [lam * q - c for q, c in zip(diff["qaly"], diff["cost"], strict=True)]
        assert close(float(cart[f"inmb_{lam:.0f}_mcse"]), mcse(per)), lam
    for r in acc["costs"]:
        key = "cost" if r["category"] == "total" else f"cost_{r['category']}"
        values = [float(patients[(i, r["strategy"])][key]) for i in ids]
        assert close(float(r["cost_mcse"]), mcse(values), abs_=1e-6), r
        if r["strategy"] == "cart":
            ref = [float(patients[(i, "immunosuppression")][key]) for i in ids]
            paired = [a - b for a, b in zip(values, ref, strict=True)]
            assert close(float(r["inc_cost_mcse"]), mcse(paired), abs_=1e-6), r


def test_single_patient_mcse_is_na(tmp_path):
    """F6/B10: with one patient the run completes and every MCSE is NA, never 0."""
    out = run_folder(tmp_path, ACCOUNTING, "--patients", "1")
    for row in read_csv(out / "summary.csv"):
        assert int(row["patients"]) == 1
        mcse_cols = [c for c in row if c.endswith("_mcse")]
        assert len(mcse_cols) >= 5
        for c in mcse_cols:
            assert row[c] == "NA", (row["strategy"], c, row[c])
    for row in read_csv(out / "costs.csv"):
        assert row["cost_mcse"] == "NA" and row["inc_cost_mcse"] == "NA"


# ------------------------------------------------------------------------- F5

KV = ACCOUNTING.replace("horizon = 30.0", 'horizon = "lifetime"')


def special_case(kind: str) -> str:
    if kind == "dominated":       # CAR-T costs more and remission is worse than IS
        return KV.replace("utility = 0.85", "utility = 0.30")
    if kind == "dominant":        # CAR-T free, no remission costs, better utility
        return (KV.replace("upfront_cost = { product = 350000, infusion_episode = 50000 }",
                           "upfront_cost = { product = 0 }")
                .replace("cost = { monitoring = 2000 }", "cost = { monitoring = 0 }"))
    # identical strategies: both arms are the IS pathway
    is_block = KV[KV.index("[strategies.immunosuppression]"):KV.index("[strategies.cart]")]
    head = KV[:KV.index("[strategies.immunosuppression]")]
    return head + is_block + is_block.replace("strategies.immunosuppression", "strategies.cart")


BAD_TOKENS = {"inf", "+inf", "-inf", "infinity", "-infinity", "nan", "-nan", "+nan"}


@pytest.mark.parametrize(("kind", "status"), [("dominated", "dominated"),
                                              ("dominant", "dominant"),
                                              ("identical", "undefined")])
def test_icer_special_cases_labelled_without_inf_or_nan(kind, status, tmp_path):
    """F5: dominated / dominant / dQ = 0 get their label, icer NA, and no CSV holds
    'inf' or 'nan'; identical strategies give exactly zero increments (B6)."""
    folder = tmp_path / kind
    out = run_folder(folder, special_case(kind), "--patients", "300")
    cart = {r["strategy"]: r for r in read_csv(out / "summary.csv")}["cart"]
    assert cart["icer_status"] == status
    assert cart["icer"] == "NA"
    d_cost, d_qaly = float(cart["inc_cost"]), float(cart["inc_qaly"])
    if kind == "dominated":
        assert d_cost > 0 and d_qaly < 0
    elif kind == "dominant":
        assert d_cost < 0 and d_qaly > 0
    else:
        assert d_cost == 0.0 and d_qaly == 0.0 and float(cart["inc_ly"]) == 0.0
        patients = read_csv(out / "patients.csv")
        by = {(r["patient_id"], r["strategy"]): r for r in patients}
        for pid in {r["patient_id"] for r in patients}:
            for c in ("cost", "qaly", "ly", "end_time"):
                assert by[(pid, "cart")][c] == by[(pid, "immunosuppression")][c]
    for csv_file in out.glob("*.csv"):
        for row in csv.reader(io.StringIO(csv_file.read_text(encoding="utf-8"))):
            bad = [cell for cell in row if cell.strip().lower() in BAD_TOKENS]
            assert not bad, (csv_file.name, row)
    printed = invoke(["run", folder / "s.toml", "--patients", "300", "--out", folder / "o2"])
    assert printed.exit_code == 0
    icer_line = next(line for line in printed.stdout.splitlines() if "ICER" in line)
    assert icer_line.split()[-1] == status.split()[-1] and not any(ch.isdigit()
                                                                   for ch in icer_line)


# ------------------------------------------------------------------------- F3

def test_parameters_table_lists_every_parameter(acc):
    """F3: parameters.csv has every parameter the run used, with value, unit,
    distribution (and its mean and 95% range) and source."""
    rows = {r["name"]: r for r in acc["parameters"]}
    scenario = load_scenario(acc["scenario"])
    assert list(rows) == list(scenario.parameters)
    for name, p in scenario.parameters.items():
        row = rows[name]
        assert float(row["value"]) == p.value and row["unit"] == p.unit
        assert row["kind"] == p.kind and row["distribution"]
        assert row["default"] == "false"
    relapse = rows["strategies.cart.states.remission.transitions.relapse.rate"]
    assert relapse["distribution"].startswith("Gamma(")
    assert close(float(relapse["dist_mean"]), 0.10, rel=1e-12)
    assert float(relapse["dist_low_95"]) < 0.10 < float(relapse["dist_high_95"])
    assert relapse["source"] == "test: KV-REF"
    assert rows["strategies.cart.states.remission.utility"]["distribution"] == "none (fixed)"


VALUES = {"probability": 0.05, "rate": 0.1, "duration": 0.25, "cost": 1000.0, "utility": 0.7,
          "qaly_loss": 0.01, "ratio": 1.2, "positive": 1.0, "real": 0.0}


def clinical_scenario() -> str:
    """A clinical-model scenario giving only the required inputs (defaults omitted)."""
    lines = []
    for p in CLINICAL_PARAMETERS:
        if p.default is None:
            value = 0.6 if p.name.startswith("car_t.response") else VALUES[p.kind]
            lines.append(f'{p.name} = {{ value = {value!r}, source = "test value" }}')
    lines += ["[run]", "patients = 300", "seed = 3", "horizon = 20", "wtp = [100000]"]
    return "\n".join(lines) + "\n"


def test_parameters_table_marks_defaults(tmp_path):
    """F3: inputs omitted from the file are still listed, marked default, with value,
    unit and source 'cartsim default'; `cartsim params` prints the run's table."""
    out = run_folder(tmp_path, clinical_scenario(), name="clinical.toml")
    rows = {r["name"]: r for r in read_csv(out / "parameters.csv")}
    assert set(rows) == {p.name for p in CLINICAL_PARAMETERS}
    defaults = {p.name: p for p in CLINICAL_PARAMETERS if p.default is not None}
    assert defaults
    for name, row in rows.items():
        assert row["value"] != "NA" and row["distribution"] and row["source"]
        if name in defaults:
            assert row["default"] == "true" and row["source"] == "cartsim default"
            assert row["status"] == "default"
            assert float(row["given_value"]) == defaults[name].default
        else:
            assert row["default"] == "false" and row["source"] == "test value"
    printed = invoke(["params", tmp_path / "clinical.toml", "--format", "csv"])
    assert printed.exit_code == 0
    assert printed.stdout == (out / "parameters.csv").read_text(encoding="utf-8")


# ------------------------------------------------------------------------- D4

def cohort_csv(rows: list[tuple[str, int, str]]) -> str:
    return "patient_id,age,sex\n" + "".join(f"{i},{a},{s}\n" for i, a, s in rows)


def test_cohort_file_row_order_does_not_matter(tmp_path):
    """D4: permuting the rows of a cohort file gives identical per-patient results
    keyed by patient_id, and identical tables."""
    rng = random.Random(2024)
    rows = [(str(i), rng.randint(25, 85), rng.choice(["female", "male"]))
            for i in range(1, 301)]
    shuffled = rows[:]
    rng.shuffle(shuffled)
    assert shuffled != rows
    text = (KV.replace('life_table = "none"', 'life_table = "us_ssa_2025"')
            .replace("death = { rate = 0.04 }", "death = { rate = 0.02, life_table = 1.5 }")
            .replace("[strategies.immunosuppression]\n",
                     '[cohort]\nfile = "cohort.csv"\n[strategies.immunosuppression]\n', 1))
    outs = []
    for name, order in (("a", rows), ("b", shuffled)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "cohort.csv").write_text(cohort_csv(order), encoding="utf-8")
        outs.append(run_folder(tmp_path / name, text))
    a, b = (read_csv(o / "patients.csv") for o in outs)
    key = {(r["patient_id"], r["strategy"]): r for r in a}
    assert key == {(r["patient_id"], r["strategy"]): r for r in b}
    ages = {i: float(age) for i, age, _ in rows}
    assert all(float(r["age"]) == ages[r["patient_id"]] for r in a)   # the file is used
    assert len({r["end_time"] for r in a}) > 1
    for table in ("summary.csv", "costs.csv", "events.csv", "deaths.csv", "trace.csv"):
        assert (outs[0] / table).read_bytes() == (outs[1] / table).read_bytes(), table


def test_cohort_file_patients_flag_not_silently_ignored(tmp_path):
    """D4/G10: --patients with a cohort file is either refused (exit 2) or honoured."""
    rows = [(str(i), 40 + i % 30, "female" if i % 2 else "male") for i in range(1, 201)]
    (tmp_path / "cohort.csv").write_text(cohort_csv(rows), encoding="utf-8")
    text = KV.replace("[strategies.immunosuppression]\n",
                      '[cohort]\nfile = "cohort.csv"\n[strategies.immunosuppression]\n', 1)
    (tmp_path / "s.toml").write_text(text, encoding="utf-8")
    result = invoke(["run", tmp_path / "s.toml", "--patients", "50", "--out", tmp_path / "o"])
    assert "Traceback" not in result.output
    if result.exit_code == 2:
        assert "cohort" in result.stderr and not (tmp_path / "o").exists()
        return
    assert result.exit_code == 0
    assert json.loads((tmp_path / "o" / "run.json").read_text())["sizes"]["patients"] == 50
