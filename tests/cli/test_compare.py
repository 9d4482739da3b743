"""`cartsim compare` as a user runs it: one table of several scenarios' key results."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RATE = "[strategies.cart.states.remission.transitions.relapse]\nto = \"on_is\"\n" \
       "dist = \"exponential\"\nrate = 0.10"
KEYS = ("cost", "qaly", "inc_cost", "inc_cost_mcse", "inc_qaly", "inc_qaly_mcse", "icer",
        "icer_status", "inmb_50000", "inmb_50000_mcse", "inmb_100000", "inmb_100000_mcse")


@pytest.fixture
def two_files(kv_text, write_toml, edit):
    """KV-REF and a variant that extends it with twice the relapse rate."""
    base = write_toml(kv_text, "kv.toml")
    variant = write_toml('extends = "kv.toml"\ntitle = "Faster relapse"\n'
                         + RATE.replace("0.10", "0.20"), "kv_fast.toml")
    return base, variant


def test_compare_rows_equal_the_individual_runs_exactly(cli, read_csv, tmp_path, two_files):
    common = ["--patients", "500", "--seed", "11", "-q"]
    res = cli(["compare", *two_files, "--out", tmp_path / "cmp", *common])
    assert res.exit_code == 0, res.output
    rows = read_csv(tmp_path / "cmp" / "compare.csv")
    assert [r["scenario"] for r in rows] == ["kv", "kv_fast"]
    for path, row in zip(two_files, rows, strict=True):
        out = tmp_path / f"run_{path.stem}"
        assert cli(["run", path, "--out", out, *common]).exit_code == 0
        summary = {r["strategy"]: r for r in read_csv(out / "summary.csv")}
        for s, r in summary.items():
            assert row[f"cost_{s}"] == r["cost"] and row[f"qaly_{s}"] == r["qaly"]
        for key in KEYS[2:]:
            assert row[key] == summary["cart"][key], key
    first, second = rows
    assert first["changes"] == "NA"          # kv.toml extends nothing
    assert second["changes"] == ("strategies.cart.states.remission.transitions.relapse.rate: "
                                 "0.1 per year -> 0.2 per year")
    assert float(second["change_inc_qaly"]) == float(second["inc_qaly"]) - float(first["inc_qaly"])
    assert float(first["change_inmb_100000"]) == 0.0
    written = {p.name for p in (tmp_path / "cmp").iterdir()}
    assert written == {"compare.csv", "compare.md", "forest.csv", "forest.md", "run.json"}
    # The forest plot's table: each row's INMB and its 95% Monte Carlo interval.
    forest = read_csv(tmp_path / "cmp" / "forest.csv")
    assert len(forest) == 2 * len(rows)                       # two WTPs
    for f in forest:
        row = next(r for r in rows if r["scenario"] == f["scenario"])
        key = f"inmb_{float(f['wtp']):.0f}"
        assert (f["inmb"], f["inmb_mcse"]) == (row[key], row[f"{key}_mcse"])
        inmb, mcse = float(row[key]), float(row[f"{key}_mcse"])
        assert float(f["inmb_low"]) == pytest.approx(inmb - 1.959964 * mcse, rel=1e-6)
        assert float(f["inmb_high"]) == pytest.approx(inmb + 1.959964 * mcse, rel=1e-6)


def test_compare_is_reproducible_and_common_random_numbers_keep_the_comparator(
        cli, read_csv, tmp_path, two_files):
    for out in ("a", "b"):
        assert cli(["compare", *two_files, "--patients", "300", "--out", tmp_path / out,
                    "-q"]).exit_code == 0
    assert (tmp_path / "a" / "compare.csv").read_bytes() == \
        (tmp_path / "b" / "compare.csv").read_bytes()
    rows = read_csv(tmp_path / "a" / "compare.csv")
    # The variant changes only CAR-T inputs: the comparator arm is the same patients' histories.
    assert rows[0]["cost_immunosuppression"] == rows[1]["cost_immunosuppression"]


def test_compare_shipped_relapse_scenarios_names_the_changed_assumption(cli, read_csv,
                                                                         tmp_path):
    files = [ROOT / "scenarios" / f"relapse_{n}.toml" for n in ("base", "none")]
    res = cli(["compare", *files, "--patients", "200", "--out", tmp_path / "r", "-q"])
    assert res.exit_code == 0, res.output
    base, none = read_csv(tmp_path / "r" / "compare.csv")
    assert base["changes"] == "NA"           # relapse_base restates the base case
    assert none["changes"] == "car_t.relapse.model: constant -> none"
    assert float(none["inc_qaly"]) > float(base["inc_qaly"])


def test_compare_reports_every_problem_of_every_file_and_writes_nothing(
        cli, tmp_path, kv_text, write_toml, edit):
    bad_a = write_toml(edit(kv_text, "utility = 0.85", "utility = 1.85"), "a.toml")
    bad_b = write_toml(edit(kv_text, "patients = 2000", "patients = -4"), "b.toml")
    good = write_toml(kv_text, "good.toml")
    out = tmp_path / "cmp"
    res = cli(["compare", good, bad_a, bad_b, tmp_path / "missing.toml", "--out", out])
    assert res.exit_code == 2
    assert "3 of 4 scenario files" in res.output
    assert f"{bad_a}: strategies.cart.states.remission.utility" in res.output
    assert f"{bad_b}: run.patients" in res.output
    assert "missing.toml: file: not found" in res.output
    assert "Traceback" not in res.output
    assert not out.exists()


def test_compare_refuses_different_wtp_grids_and_existing_folders(cli, tmp_path, kv_text,
                                                                   write_toml, edit):
    a = write_toml(kv_text, "a.toml")
    b = write_toml(edit(kv_text, "wtp = [50000, 100000]", "wtp = [30000]"), "b.toml")
    res = cli(["compare", a, b, "--out", tmp_path / "x"])
    assert res.exit_code == 2
    assert "run.wtp (30000.0,) differs from (50000.0, 100000.0)" in res.output
    assert not (tmp_path / "x").exists()
    (tmp_path / "y").mkdir()
    res = cli(["compare", a, a, "--out", tmp_path / "y"])
    assert res.exit_code == 2 and "--overwrite" in res.output


def test_scenario_changes_lists_model_value_and_cohort_differences():
    from cartsim.analysis.compare import scenario_changes
    from cartsim.scenario.load import load_scenario

    base = load_scenario(ROOT / "scenarios" / "base.toml")
    optimistic = load_scenario(ROOT / "scenarios" / "durability_optimistic.toml")
    share = base.parameters["mortality.remission_share"].given_value
    assert scenario_changes(optimistic, base) == (
        "car_t.relapse.model: constant -> none", f"mortality.remission_share: {share:g} -> 0")
    assert scenario_changes(base, base) == ()
    sle = load_scenario(ROOT / "scenarios" / "sle.toml")
    shares = {g.name: g.weight / sum(x.weight for x in base.cohort.groups)
              for g in base.cohort.groups}
    assert scenario_changes(sle, base)[0] == f"cohort.mix.sle: {shares['sle']:.3g} -> 1 (share)"
