"""Files a scenario names, through the CLI as users run it: life tables (known values,
certain death, the table's end) and cohort CSVs (the clinical model's diseases, the
cohort summary a run prints and records, check = run).
"""

from __future__ import annotations

import json
import math
import re
import statistics
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cartsim.cli
import cartsim.cli.inputs
import cartsim.cli.run
import cartsim.study.prepare
import cartsim.study.runner
from cartsim.cohort import read_cohort
from cartsim.errors import Problem, ScenarioError
from cartsim.params.life_table import read_life_table
from cartsim.scenario.clinical_schema import DISEASES

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "scenarios" / "base.toml"

POPULATION = """\
model = "custom"
[run]
seed = 11
patients = {patients}
discount = 0
life_table = "{table}"
[cohort]
age = {age}
[strategies.pop]
start = "alive"
[strategies.pop.states.alive]
utility = 1.0
death = {{ life_table = 1.0 }}
"""


def life_table(rows: dict[int, tuple[float, float]]) -> str:
    return "age,qx_female,qx_male\n" + "".join(f"{a},{f!r},{m!r}\n" for a, (f, m) in
                                                 sorted(rows.items()))


def two_bands(q1: float, q2: float, x: int, last: int) -> dict[int, tuple[float, float]]:
    return {a: (q1, q1) if a < x else (q2, q2) for a in range(last + 1)}


def population(tmp_path: Path, table_text: str, *, age: float = 40, patients: int = 4000,
               name: str = "pop.toml") -> Path:
    (tmp_path / "table.csv").write_text(table_text, encoding="utf-8")
    path = tmp_path / name
    path.write_text(POPULATION.format(patients=patients, table="table.csv", age=age),
                    encoding="utf-8")
    return path


def summary_row(folder: Path, read_csv) -> dict[str, str]:
    (row,) = read_csv(folder / "summary.csv")
    return row


# ------------------------------------------------------------------ life tables

@pytest.mark.parametrize("engine", ["compiled", "simpy"])
def test_two_band_life_table_gives_the_closed_form_life_expectancy(engine, cli, read_csv,
                                                                   tmp_path):
    """q = 0.01 below age 60, 0.05 from 60 to the last age 89 (nobody passes 90): from
    age A = 40 the hazards are mu = -ln(1 - q), so
    e = (1 - exp(-20 mu1))/mu1 + exp(-20 mu1) (1 - exp(-30 mu2))/mu2; 4 SE."""
    path = population(tmp_path, life_table(two_bands(0.01, 0.05, 60, 89)))
    out = tmp_path / engine
    result = cli(["run", path, "--engine", engine, "--out", out, "--quiet"])
    assert result.exit_code == 0, result.output
    m1, m2 = -math.log(0.99), -math.log(0.95)
    expected = -math.expm1(-20 * m1) / m1 + math.exp(-20 * m1) * -math.expm1(-30 * m2) / m2
    row = summary_row(out, read_csv)
    assert abs(float(row["ly_undisc"]) - expected) < 4 * float(row["ly_mcse"])


def test_certain_death_below_the_last_age_is_refused_by_check_and_run(cli, tmp_path):
    """The issue's table: q = 1 at age 2 would make every later row unreachable, and
    40-year-olds used to live to the table's end. Refused, naming the line."""
    rows = dict.fromkeys(range(80), (0.03, 0.03))
    rows[2] = (1.0, 1.0)
    path = population(tmp_path, life_table(rows))
    for args in (["check", path], ["run", path, "--out", tmp_path / "o"]):
        result = cli(args)
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
        assert "table.csv" in result.stderr and "run.life_table" in result.stderr
        assert "line 4.qx_female: is 1 (certain death at age 2)" in result.stderr
        assert "make age 2 the last row" in result.stderr
    assert not (tmp_path / "o").exists()


def test_certain_death_on_the_last_row_ends_the_table_there(cli, tmp_path):
    """q = 1 on the last row (age 79) is the table ending at 79: identical results to
    the same table without that row, on both engines."""
    rows = dict.fromkeys(range(80), (0.02, 0.03))
    outs = []
    for name, table in (("certain", {**rows, 79: (1.0, 1.0)}),
                        ("ended", {a: q for a, q in rows.items() if a < 79})):
        folder = tmp_path / name
        folder.mkdir()
        path = population(folder, life_table(table), age=70, patients=500)
        for engine in ("compiled", "simpy"):
            out = folder / engine
            assert cli(["run", path, "--engine", engine, "--out", out, "-q", "--trace"]) \
                .exit_code == 0
            outs.append(out)
    for table in ("summary.csv", "patients.csv", "deaths.csv"):
        texts = {(o / table).read_text(encoding="utf-8") for o in outs}
        assert len(texts) == 1, table


@pytest.mark.parametrize(("rows", "fragment"), [
    ({0: (0.1, 0.1), 1: (1.0, 0.5)}, "line 3.qx_female: is 1 on the last row for one sex only"),
    ({0: (1.0, 1.0)}, "gives certain death at age 0 to everyone"),
    ({0: (0.1, 0.1), 1: (1.5, 0.1)}, "line 3.qx_female: must be a probability in [0, 1]"),
    ({0: (0.1, 0.1), 2: (0.1, 0.1)}, "line 3.age: ages must be whole numbers running 0, 1, 2"),
])
def test_bad_life_tables_are_refused_naming_the_line(rows, fragment, cli, tmp_path):
    path = population(tmp_path, life_table(rows), age=0)
    result = cli(["check", path])
    assert result.exit_code == 2 and fragment in result.stderr, result.stderr


def test_patients_older_than_the_table_are_refused(cli, tmp_path):
    """Past the table's end (last age + 1) nobody survives: such a patient used to die
    at once, silently. A sampled age range or a file row reaching past it is refused."""
    table = life_table(dict.fromkeys(range(80), (0.05, 0.05)))          # ends at 80
    at_end = population(tmp_path, table, age=80, patients=50)
    assert cli(["check", at_end]).exit_code == 0                      # exactly 80: allowed
    too_old = population(tmp_path, table, age=80.5, patients=50, name="old.toml")
    result = cli(["check", too_old])
    assert result.exit_code == 2
    assert "cohort.age.value: lets patients be older than the life table table ends at " \
           "age 80" in result.stderr
    text = too_old.read_text(encoding="utf-8").replace(
        "age = 80.5", 'file = "people.csv"')
    (tmp_path / "people.csv").write_text("patient_id,age,sex\n1,30,f\n2,85,m\n",
                                         encoding="utf-8")
    (tmp_path / "file.toml").write_text(text, encoding="utf-8")
    for args in (["check", tmp_path / "file.toml"],
                 ["run", tmp_path / "file.toml", "--out", tmp_path / "o"]):
        result = cli(args)
        assert result.exit_code == 2
        assert "people.csv (cohort.file of" in result.stderr
        assert "patient_id 2.age: is older than the life table table ends at age 80" \
            in result.stderr
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------ cohort CSVs

CLINICAL_PEOPLE = """\
patient_id,disease,age,sex
1,sle,30,female
2,SLE,24,f
3,iim,50,male
4,ssc,45,female
5,ssc,61,M
"""


def clinical_variant(tmp_path: Path, people: str, more: str = "") -> Path:
    (tmp_path / "people.csv").write_text(people, encoding="utf-8")
    path = tmp_path / "from_file.toml"
    path.write_text(f'extends = "{BASE}"\n[cohort]\nfile = "people.csv"\n{more}',
                    encoding="utf-8")
    return path


def test_clinical_model_runs_a_cohort_file_and_records_who_it_simulated(cli, tmp_path):
    """The issue's crash (KeyError 'all'): the base model with a valid cohort CSV runs,
    and the terminal summary, run.json and the HTML report give each disease's count,
    share, age and sex (and the report the scenario's warning about a bare number)."""
    path = clinical_variant(tmp_path, CLINICAL_PEOPLE, "[car_t.relapse]\nrate = 0.15\n")
    out = tmp_path / "o"
    result = cli(["run", path, "--out", out])
    assert result.exit_code == 0, result.output
    assert "Cohort simulated (from people.csv):" in result.stdout
    assert re.search(r"^ssc\s+2\s+0\.400\s+53\.000\s+11\.314\s+45\.000\s+61\.000\s+0\.500$",
                     result.stdout, re.MULTILINE), result.stdout
    cohort = json.loads((out / "run.json").read_text(encoding="utf-8"))["cohort"]
    assert (cohort["source"], cohort["file"], cohort["patients"]) == ("file", "people.csv", 5)
    groups = {g["group"]: g for g in cohort["groups"]}
    assert set(groups) == {"sle", "iim", "ssc", "all"}
    assert groups["sle"] == {"group": "sle", "patients": 2, "share": 0.4, "age_mean": 27.0,
                             "age_sd": statistics.stdev([30, 24]), "age_min": 24.0,
                             "age_max": 30.0, "female_share": 1.0}
    assert groups["iim"]["age_sd"] is None                  # one patient: no sd
    assert groups["all"]["age_mean"] == pytest.approx(statistics.mean([30, 24, 50, 45, 61]))
    assert groups["all"]["female_share"] == 0.6
    assert cli(["report", out, "-q"]).exit_code == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    settings = page[page.index('id="settings"'):page.index('id="manifest"')]
    assert "Cohort simulated" in settings and "the patients of people.csv" in settings
    assert "<td>ssc</td><td class=\"num\">2</td><td class=\"num\">40.0%</td>" in settings
    # Warnings are not folded away with the settings: they come with the key results.
    key = page[page.index('id="key-results"'):page.index('id="plots"')]
    assert 'id="warnings"' in key and "car_t.relapse.rate = 0.15" in key


def test_sampled_cohort_summary_matches_the_patients_simulated(cli, read_csv, tmp_path):
    """run.json's cohort is what patients.csv holds (the oracle), next to what was asked."""
    out = tmp_path / "o"
    result = cli(["run", BASE, "--patients", 400, "--trace", "--out", out, "-q"])
    assert result.exit_code == 0, result.output
    cohort = json.loads((out / "run.json").read_text(encoding="utf-8"))["cohort"]
    patients = [r for r in read_csv(out / "patients.csv") if r["strategy"] == "car_t"]
    for g in cohort["groups"]:
        mine = [r for r in patients if g["group"] in ("all", r["group"])]
        ages = [float(r["age"]) for r in mine]
        assert g["patients"] == len(mine) and g["share"] == len(mine) / 400
        assert g["age_mean"] == pytest.approx(statistics.mean(ages), rel=1e-12)
        assert g["age_sd"] == pytest.approx(statistics.stdev(ages), rel=1e-9)
        assert (g["age_min"], g["age_max"]) == (min(ages), max(ages))
        assert g["female_share"] == sum(r["sex"] == "female" for r in mine) / len(mine)
    assert [s["share"] for s in cohort["specified"]] == pytest.approx([8 / 15, 3 / 15, 4 / 15])


@pytest.mark.parametrize(("people", "fragment"), [
    (CLINICAL_PEOPLE.replace("1,sle,", "1,lupus,"),
     "line 2.disease: must be one of sle, iim, ssc; got 'lupus'\n    hint: did you mean 'sle'?"),
    ("patient_id,age,sex\n1,30,f\n", "missing column(s) disease (the clinical model needs"),
    (CLINICAL_PEOPLE.replace("5,ssc,61,M", "4,ssc,61,M"), "line 6.patient_id: repeats the id "
                                                         "of line 5"),
])
def test_clinical_cohort_file_problems_are_refused_alike_by_check_and_run(people, fragment,
                                                                         cli, tmp_path):
    path = clinical_variant(tmp_path, people)
    for args in (["check", path], ["run", path, "--out", tmp_path / "o"]):
        result = cli(args)
        assert result.exit_code == 2 and fragment in result.stderr, result.stderr
    assert not (tmp_path / "o").exists()


def test_custom_model_ignores_a_disease_column(kv_text, edit, write_toml, cli, tmp_path):
    """A custom model has one group: a disease column is allowed and not read."""
    (tmp_path / "people.csv").write_text("patient_id,disease,age,sex\n1,anything,40,f\n"
                                         "2,,50,m\n", encoding="utf-8")
    path = write_toml(edit(kv_text, "[strategies.immunosuppression]\n",
                           '[cohort]\nfile = "people.csv"\n[strategies.immunosuppression]\n'))
    out = tmp_path / "o"
    assert cli(["run", path, "--out", out, "-q"]).exit_code == 0
    cohort = json.loads((out / "run.json").read_text(encoding="utf-8"))["cohort"]
    assert [g["group"] for g in cohort["groups"]] == ["all"]


def test_params_shows_the_cohort_and_keeps_its_csv_clean(cli, read_csv, tmp_path):
    markdown = cli(["params", BASE])
    assert "## Cohort as specified (sampled)" in markdown.stdout
    as_csv = cli(["params", BASE, "--format", "csv"])
    assert "Cohort as specified (sampled):" in as_csv.stderr
    assert "Cohort" not in as_csv.stdout
    path = clinical_variant(tmp_path, CLINICAL_PEOPLE)
    assert "the 5 patients of people.csv" in cli(["check", path]).stdout


# ------------------------------------------------------- one validation for all

def test_check_and_run_both_validate_through_prepare(kv_text, write_toml, cli, tmp_path,
                                                     monkeypatch):
    """The structural guarantee: check, run and the runner every study simulates through
    call the same study.prepare, so a problem it finds stops them all (here a sentinel
    problem stands for any of them)."""
    # The commands import study.prepare's prepare as they run (start-up stays quick).
    assert not hasattr(cartsim.cli.inputs, "prepare") and not hasattr(cartsim.cli.run, "prepare")
    assert cartsim.study.runner.prepare is cartsim.study.prepare.prepare
    calls = []

    def refuse(scenario, values=None):
        calls.append(scenario.source)
        raise ScenarioError(scenario.source, [Problem("sentinel", "refused by prepare", 1)])

    for module in (cartsim.study.prepare, cartsim.study.runner):
        monkeypatch.setattr(module, "prepare", refuse)
    path = write_toml(kv_text)
    for args in (["check", path], ["run", path, "--out", tmp_path / "o"]):
        result = cli(args)
        assert result.exit_code == 2 and "sentinel: refused by prepare" in result.stderr
    with pytest.raises(ScenarioError, match="sentinel"):
        cartsim.run_scenario(cartsim.load_scenario(path), patients=10)
    assert len(calls) == 3


# ------------------------------------------------------------- properties (fuzz)

@settings(max_examples=80, deadline=None)
@given(content=st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode),
                         st.lists(st.sampled_from(["patient_id,disease,age,sex", "1,sle,40,f",
                                                   "2,iim,x,m", ",,,", '"1,ssc', "3,ssc,50",
                                                   "# note", "4,lupus,30,female", "5,SSC,1e2,M",
                                                   "5,sle,0,f"]), max_size=6)
                         .map(lambda lines: "\n".join(lines).encode())))
def test_any_bytes_as_a_cohort_file_give_patients_or_a_scenario_error(content):
    """Whatever the file holds: valid patients (ages in [0, 120], known groups, unique
    ids), or a ScenarioError naming the file; never another exception."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "people.csv"
        path.write_bytes(content)
        try:
            cohort = read_cohort(path, DISEASES)
        except ScenarioError as err:
            assert err.problems and str(err).startswith(f"{path} (cohort.file)")
            return
        assert cohort.n > 0 and len(set(cohort.patient_id)) == cohort.n
        assert set(cohort.group) <= set(DISEASES)
        assert np.all((cohort.age >= 0) & (cohort.age <= 120))


@settings(max_examples=80, deadline=None)
@given(content=st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode),
                         st.lists(st.sampled_from(["age,qx_female,qx_male", "0,0.1,0.1",
                                                   "1,1,1", "1,0.5,1", "2,0.2,0.3", "x,y,z",
                                                   "3,nan,0.1", "2,0.2"]), max_size=6)
                         .map(lambda lines: "\n".join(lines).encode())))
def test_any_bytes_as_a_life_table_give_a_table_or_a_scenario_error(content):
    """A table read from any bytes has finite hazards and ends where nobody survives;
    otherwise a ScenarioError names the file."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "table.csv"
        path.write_bytes(content)
        try:
            table = read_life_table(path)
        except ScenarioError as err:
            assert err.problems and str(err).startswith(str(path))
            return
        for sex in ("female", "male"):
            assert all(math.isfinite(h) and h >= 0 for h in table.hazard[sex])
            assert len(table.cumulative[sex]) == table.max_age + 1
