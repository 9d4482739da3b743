"""`cartsim validate` as users run it: the table, --strict, bad input, reproducibility."""

from __future__ import annotations

import json
from pathlib import Path

from cartsim.study.validate import FACTS

ROOT = Path(__file__).resolve().parents[2]
SERIES = ROOT / "scenarios" / "case_series.toml"
BASE = ROOT / "scenarios" / "base.toml"


def test_table_has_every_dossier_fact_with_its_source(cli, read_csv, tmp_path):
    out = tmp_path / "v"
    result = cli(["validate", SERIES, "--replicates", "200", "--seed", "1", "--out", out])
    assert result.exit_code == 0, result.output
    rows = read_csv(out / "validation.csv")
    assert [r["fact"] for r in rows] == [f.key for f in FACTS]
    assert {r["dossier"] for r in rows} == {f"§7.{i}" for i in range(1, 10)}
    assert all(r["source"] and r["status"] and r["evidence"] for r in rows)
    compared = [r for r in rows if r["flag"] != "not compared"]
    assert all(r["flag"] in ("consistent", "inconsistent") for r in compared)
    for r in compared:
        assert float(r["pi_low_95"]) <= float(r["simulated_mean"]) <= float(r["pi_high_95"])
    by_fact = {r["fact"]: r for r in rows}
    assert by_fact["response_sle"]["observed"] == "8 of 8"
    assert by_fact["crs_any_grade"]["observed_value"] == "11.0"
    for fact in ("response_sle", "crs_any_grade", "infection_admissions", "b_cell_return_days"):
        assert fact in result.output
    assert {p.name for p in out.iterdir()} == {
        f"{t}.{ext}" for t in ("validation", "held_out", "series_design", "evidence",
                               "parameters") for ext in ("csv", "md")} | {"run.json"}
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["command"] == "validate" and manifest["sizes"]["replicates"] == 200


def test_strict_fails_on_an_inconsistent_scenario_and_names_the_driver(cli, read_csv, tmp_path):
    args = ["validate", SERIES, "--replicates", "200", "--set", "car_t.response.sle=0.05"]
    loose = cli([*args, "--out", tmp_path / "loose"])
    assert loose.exit_code == 0, loose.output
    strict = cli([*args, "--out", tmp_path / "strict", "--strict"])
    assert strict.exit_code == 1
    assert "response_sle" in strict.stderr
    row = {r["fact"]: r for r in read_csv(tmp_path / "strict" / "validation.csv")}
    assert row["response_sle"]["flag"] == "inconsistent"
    assert "car_t.response.sle=0.05" in row["response_sle"]["drivers"]
    assert "car_t.response.sle=0.05" in strict.stdout
    # With the index series' own response rates (response_erlangen.toml) every fact is
    # consistent; with the pooled 2025 rates of base.toml, 15 of 15 drug-free at last
    # follow-up is not (the Erlangen series did better than the pooled evidence).
    erlangen = ["--set", "car_t.response.sle=0.944444", "--set", "car_t.response.ssc=0.928571"]
    consistent = cli(["validate", SERIES, "--replicates", "200", "--strict", "--quiet",
                      "--held-out-patients", "0", *erlangen, "--out", tmp_path / "ok"])
    assert consistent.exit_code == 0 and consistent.stdout == ""
    pooled = cli(["validate", SERIES, "--replicates", "200", "--strict", "--quiet",
                  "--held-out-patients", "0", "--out", tmp_path / "pooled"])
    assert pooled.exit_code == 1 and "drug_free_at_last_follow_up" in pooled.stderr


def test_bad_file_exits_2_listing_every_error_and_writes_nothing(cli, tmp_path):
    """G14: negative rate, probability above 1, unknown key, percentage discount at once."""
    bad = tmp_path / "bad.toml"
    bad.write_text(f'extends = "{BASE.as_posix()}"\n'
                   "[run]\ndiscount = { costs = 3.5, outcomes = 0.03, convention = \"annual\" }\n"
                   "[car_t.relapse]\nrate = -0.1\nrelaspe_rate = 0.1\n"
                   "[car_t.crs]\ngrade_1 = 1.2\n", encoding="utf-8")
    out = tmp_path / "results"
    result = cli(["validate", bad, "--replicates", "50", "--out", out])
    assert result.exit_code == 2
    for path in ("run.discount.costs", "car_t.relapse.rate", "car_t.relapse.relaspe_rate",
                 "car_t.crs.grade_1"):
        assert path in result.stderr, path
    assert "Traceback" not in result.output and not out.exists()


def test_custom_model_is_refused_with_exit_2(cli, write_toml, kv_text, tmp_path):
    result = cli(["validate", write_toml(kv_text), "--out", tmp_path / "kv"])
    assert result.exit_code == 2 and "cart_vs_is" in result.stderr
    assert not (tmp_path / "kv").exists()


def test_same_seed_gives_identical_files(cli, tmp_path):
    runs = {}
    for name, seed in (("a", "7"), ("b", "7"), ("c", "8")):
        result = cli(["validate", SERIES, "--replicates", "150", "--seed", seed, "-q",
                      "--out", tmp_path / name])
        assert result.exit_code == 0, result.output
        runs[name] = {p.name: p.read_bytes() for p in (tmp_path / name).iterdir()
                      if p.name != "run.json"}
    assert runs["a"] == runs["b"]
    assert runs["a"]["validation.csv"] != runs["c"]["validation.csv"]


def test_existing_folder_needs_overwrite(cli, tmp_path):
    out = tmp_path / "v"
    assert cli(["validate", SERIES, "--replicates", "20", "-q", "--out", out]).exit_code == 0
    again = cli(["validate", SERIES, "--replicates", "20", "-q", "--out", out])
    assert again.exit_code == 2 and "--overwrite" in again.stderr
    assert cli(["validate", SERIES, "--replicates", "20", "-q", "--out", out,
                "--overwrite"]).exit_code == 0


def test_params_shows_the_derived_prior_and_its_evidence(cli):
    result = cli(["params", BASE, "--format", "csv"])
    assert result.exit_code == 0, result.output
    line = next(x for x in result.stdout.splitlines() if x.startswith("car_t.response.sle,"))
    assert "Beta(45.5, 19.5)" in line
    assert "evidence nordmann_gomes2025.sle.doris_remission" in line


def test_strict_names_independent_held_out_facts_and_the_table_has_source_and_horizon(
        cli, read_csv, tmp_path):
    """Treatment-related death at 5% breaks an independent safety fact (Kattamuri 2025:
    0 deaths in 80) that the base case meets; flagged facts never count."""
    fact = "kattamuri2025.all.fatal_adverse_events"
    args = ["validate", BASE, "--replicates", "50", "--held-out-patients", "2000", "--strict"]
    base = cli([*args, "--out", tmp_path / "base"])
    deadly = cli([*args, "--set", "car_t.treatment_death=0.05", "--out", tmp_path / "deadly"])
    assert deadly.exit_code == 1
    assert "independent held-out facts" in deadly.stderr and fact in deadly.stderr
    assert fact not in base.stderr
    rows = {r["target"]: r for r in read_csv(tmp_path / "deadly" / "held_out.csv")}
    assert rows[fact]["flag"] == "inconsistent" and rows[fact]["independent"] == "true"
    assert rows[fact]["source"].startswith("Kattamuri") and rows[fact]["horizon_years"]
    flagged = rows["nordmann_gomes2025.sle.treatment_deaths"]
    assert flagged["independent"] == "false" and flagged["not_independent_because"]
    assert "nordmann_gomes2025" not in deadly.stderr.split("held-out facts:")[1]
    # Survival in the source's own population, conditional when counted from diagnosis.
    matched = rows["kasitanon2006.sle.survival_10y_given_5y"]
    assert "source's population" in matched["compared_in"] and matched["check"] == "upper bound"
    assert "diagnosis" in rows["kasitanon2006.sle.survival_10y"]["not_compared_because"]
    cost = rows["clarke2020.sle.annual_cost_moderate_severe_commercial"]
    assert cost["flag"] in ("plausible", "implausible") and "clarke2020" not in deadly.stderr
