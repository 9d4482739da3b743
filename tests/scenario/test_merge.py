"""The ``extends`` rules (cartsim.scenario.merge) and the warnings a merge owes the user.

Tables merge key by key; cohort.mix, run.cost_conversion, a table switching form or
``dist`` and every list are replaced whole; a bare number over a parameter with a
distribution fixes it and warns; a parameter table without a dist merges into the
parent's entry (warning when its value strays from the kept distribution's mean).
Warnings reach stderr of every command that loads a scenario and run.json.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cartsim.errors import ScenarioError
from cartsim.scenario.load import load_scenario
from cartsim.scenario.merge import MEAN_TOLERANCE

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "scenarios" / "base.toml"
RELAPSE = "strategies.cart.states.remission.transitions.relapse"
REMISSION = "strategies.cart.states.remission"
GAMMA_RATE = 'rate = { value = 0.1, dist = "gamma", mean = 0.1, se = 0.02, source = "trial" }'


def variant(write_toml, body: str, parent: str = "parent.toml", name: str = "child.toml"
            ) -> Path:
    return write_toml(f'extends = "{parent}"\n{body}', name)


@pytest.fixture
def gamma_parent(kv_text, edit, write_toml) -> Path:
    """KV-REF with a Gamma(mean 0.1, se 0.02) relapse rate, as parent.toml."""
    return write_toml(edit(kv_text, "rate = 0.10", GAMMA_RATE), "parent.toml")


# ------------------------------------------------------------------ parameters

def test_bare_number_fixes_the_parameter_and_warns(gamma_parent, write_toml):
    s = load_scenario(variant(write_toml, f"[{RELAPSE}]\nrate = 0.15\n"))
    p = s.parameters[f"{RELAPSE}.rate"]
    assert p.value == 0.15 and p.distribution is None
    assert p.source == "set in child.toml"
    (warning,) = s.warnings
    for fragment in (f"{RELAPSE}.rate = 0.15", "child.toml", "bare number", "parent.toml",
                     'dist = "gamma", mean = 0.1, se = 0.02', "PSA treats it as certain",
                     'dist = "fixed"', "mean = 0.15"):
        assert fragment in warning, fragment


def test_bare_number_is_in_the_unit_the_parent_wrote(kv_text, edit, write_toml):
    """As with --set, `per` is kept: 0.6 over a rate written per month is 0.6 per month."""
    write_toml(edit(kv_text, "rate = 0.10", 'rate = { value = 0.01, per = "month", '
                    'dist = "gamma", mean = 0.01, se = 0.002 }'), "parent.toml")
    s = load_scenario(variant(write_toml, f"[{RELAPSE}]\nrate = 0.5\n"))
    assert s.parameters[f"{RELAPSE}.rate"].value == pytest.approx(0.5 * 12, rel=1e-12)
    assert len(s.warnings) == 1


def test_bare_number_over_a_fixed_parent_says_nothing(kv_text, write_toml):
    write_toml(kv_text, "parent.toml")
    s = load_scenario(variant(write_toml, f"[{RELAPSE}]\nrate = 0.15\n"))
    assert s.parameters[f"{RELAPSE}.rate"].value == 0.15 and s.warnings == ()


@pytest.mark.parametrize("body", [
    '{ value = 0.15, dist = "fixed" }',
    '{ value = 0.15, dist = "gamma", mean = 0.15, se = 0.03 }',
])
def test_a_variant_that_states_its_distribution_gets_no_warning(body, gamma_parent, write_toml):
    s = load_scenario(variant(write_toml, f"[{RELAPSE}]\nrate = {body}\n"))
    p = s.parameters[f"{RELAPSE}.rate"]
    assert p.value == 0.15 and s.warnings == ()
    assert p.source == ""                     # a new distribution replaces the entry whole
    assert p.distribution is not None and p.distribution.mean == pytest.approx(0.15)


def test_value_table_keeps_the_distribution_and_warns_when_it_strays(gamma_parent, write_toml):
    s = load_scenario(variant(write_toml, f"[{RELAPSE}]\nrate = {{ value = 0.15 }}\n"))
    p = s.parameters[f"{RELAPSE}.rate"]
    assert p.value == 0.15 and p.distribution.mean == pytest.approx(0.1, rel=1e-12)
    assert p.source == "trial (value 0.15 set in child.toml)"
    (warning,) = s.warnings
    assert "keeps the distribution inherited from parent.toml" in warning
    assert "mean is 0.1" in warning and "value 0.15" in warning


@pytest.mark.parametrize(("value", "warns"), [
    (0.1 * (1 + MEAN_TOLERANCE * 0.9), False),
    (0.1 * (1 + MEAN_TOLERANCE * 1.2), True),
    (0.1 * (1 - MEAN_TOLERANCE * 1.2), True),
])
def test_value_table_warns_only_beyond_the_stated_tolerance(value, warns, gamma_parent,
                                                            write_toml):
    s = load_scenario(variant(write_toml, f"[{RELAPSE}]\nrate = {{ value = {value!r} }}\n"))
    assert bool(s.warnings) is warns


def test_a_table_of_source_or_range_merges_into_a_bare_parent(kv_text, write_toml):
    write_toml(kv_text, "parent.toml")
    s = load_scenario(variant(write_toml, f'[{REMISSION}]\nutility = {{ source = "new", '
                                          'low = 0.8, high = 0.9 }\n'))
    p = s.parameters[f"{REMISSION}.utility"]
    assert (p.value, p.source, p.low, p.high) == (0.85, "new", 0.8, 0.9)


def test_a_same_as_reference_replaces_the_entry(kv_text, edit, write_toml):
    write_toml(edit(kv_text, "utility = 0.85", 'utility = { value = 0.85, dist = "beta", '
                    'mean = 0.85, se = 0.05 }'), "parent.toml")
    s = load_scenario(variant(write_toml, f'[{REMISSION}]\nutility = {{ same_as = '
                              '"strategies.cart.states.on_is.utility" }\n'))
    assert f"{REMISSION}.utility" not in s.parameters


def test_set_on_the_command_line_fixes_without_a_warning(gamma_parent, write_toml):
    child = variant(write_toml, f"[{RELAPSE}]\nrate = 0.15\n")
    s = load_scenario(child, (f"{RELAPSE}.rate=0.2",))
    assert s.parameters[f"{RELAPSE}.rate"].value == 0.2 and s.warnings == ()


def test_the_last_file_in_a_chain_decides(gamma_parent, write_toml):
    """A grandchild that gives the distribution back clears the middle file's warning; one
    that only adds a source keeps it (the distribution is still gone)."""
    variant(write_toml, f"[{RELAPSE}]\nrate = 0.15\n", name="middle.toml")
    back = variant(write_toml, f'[{RELAPSE}]\nrate = {{ dist = "gamma", mean = 0.15, '
                   'se = 0.03 }\n', parent="middle.toml", name="back.toml")
    assert load_scenario(back).warnings == ()
    noted = variant(write_toml, f'[{RELAPSE}]\nrate = {{ source = "why" }}\n',
                    parent="middle.toml", name="noted.toml")
    s = load_scenario(noted)
    assert s.parameters[f"{RELAPSE}.rate"].source == "why"
    (warning,) = s.warnings
    assert "middle.toml" in warning


def test_list_elements_that_lose_a_distribution_warn(kv_text, edit, write_toml):
    write_toml(edit(kv_text, 'dist = "exponential"\nrate = 0.10',
                    'dist = "piecewise_exponential"\nbreaks = [2.0]\n'
                    'rates = [{ value = 0.1, dist = "gamma", mean = 0.1, se = 0.02 }, 0.05]'),
               "parent.toml")
    s = load_scenario(variant(write_toml, f"[{RELAPSE}]\nrates = [0.2, 0.05]\n"))
    (warning,) = s.warnings
    assert warning.startswith(f"{RELAPSE}.rates.0 = 0.2")


# ----------------------------------------------------------------------- tables

def test_tables_merge_key_by_key(kv_text, write_toml):
    write_toml(kv_text, "parent.toml")
    s = load_scenario(variant(write_toml, "[run]\nseed = 99\n[run.discount]\ncosts = 0.05\n"))
    assert (s.run.seed, s.run.patients) == (99, 2000)
    assert (s.run.discount_costs, s.run.discount_outcomes, s.run.convention) == \
        (0.05, 0.035, "continuous")


def test_cost_conversion_is_replaced_whole(kv_text, edit, write_toml):
    """A factor belongs to its currency and price year: a partial one is refused, not
    silently completed from the parent."""
    write_toml(edit(kv_text, "price_year = 2024\n", 'price_year = 2024\ncost_conversion = '
                    '{ factor = 0.8, currency = "GBP", price_year = 2024 }\n'), "parent.toml")
    child = variant(write_toml, "[run.cost_conversion]\ncurrency = \"EUR\"\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(child)
    assert {p.path for p in info.value.problems} == {"run.cost_conversion.factor",
                                                     "run.cost_conversion.price_year"}


def test_a_transition_that_changes_dist_is_replaced_whole(kv_text, write_toml):
    write_toml(kv_text, "parent.toml")
    s = load_scenario(variant(write_toml, f'[{RELAPSE}]\nto = "on_is"\ndist = "weibull"\n'
                                          "shape = 1.5\nscale = 8.0\n"))
    assert {f"{RELAPSE}.shape", f"{RELAPSE}.scale"} <= set(s.parameters)
    assert f"{RELAPSE}.rate" not in s.parameters


def test_a_cohort_file_replaces_a_sampled_cohort_and_back(kv_text, edit, write_toml, tmp_path):
    """[cohort] with a file and [cohort] with groups are alternatives: switching replaces."""
    (tmp_path / "people.csv").write_text("patient_id,age,sex\n1,40,f\n", encoding="utf-8")
    write_toml(edit(kv_text, "[strategies.immunosuppression]\n",
                    "[cohort]\nage = 50\nfemale = 0.3\n[strategies.immunosuppression]\n"),
               "parent.toml")
    s = load_scenario(variant(write_toml, '[cohort]\nfile = "people.csv"\n'))
    assert s.cohort.file == tmp_path / "people.csv" and s.cohort.groups == ()
    back = load_scenario(variant(write_toml, "[cohort]\nage = 30\n", parent="child.toml",
                                 name="back.toml"))
    assert back.cohort.file is None
    assert (back.cohort.groups[0].age.mean, back.cohort.groups[0].female) == (30.0, 0.5)


# ---------------------------------------------------------------- cohort.mix

def test_a_partial_mix_replaces_the_parents_whole(write_toml):
    """`mix = { sle = 1 }` over base.toml's 8/3/4 simulates SLE only (not 1/3/4)."""
    child = write_toml(f'extends = "{BASE}"\ntitle = "SLE only"\n[cohort]\nmix = {{ sle = 1 }}\n',
                       "sle_only.toml")
    s = load_scenario(child)
    assert [g.name for g in s.cohort.groups] == ["sle"]
    assert s.cohort.shares() == {"sle": 1.0}
    assert s.warnings == ()


def test_mix_keys_that_name_a_disease_in_words_get_its_group(write_toml):
    child = write_toml(f'extends = "{BASE}"\n[cohort]\nmix = {{ lupus = 1 }}\n', "lupus.toml")
    with pytest.raises(ScenarioError, match=r"(?s)cohort\.mix\.lupus.*did you mean 'sle'"):
        load_scenario(child)


@pytest.mark.parametrize("path", sorted((ROOT / "scenarios").glob("*.toml")),
                         ids=lambda p: p.stem)
def test_shipped_scenarios_load_without_warnings(path):
    assert load_scenario(path).warnings == ()


# --------------------------------------------------------- where warnings go

def test_warnings_reach_every_command_and_run_json(gamma_parent, write_toml, cli, tmp_path):
    child = variant(write_toml, f"[{RELAPSE}]\nrate = 0.15\n")
    for args in (["check", child], ["params", child], ["params", child, "--format", "csv"],
                 ["check", child, "--quiet"]):
        result = cli(args)
        assert result.exit_code == 0, result.output
        assert result.stderr.count("Warning: ") == 1, args
        assert f"{RELAPSE}.rate" in result.stderr
    runs = {"run": ["run", child, "--patients", 50],
            "psa": ["psa", child, "--draws", 2, "--patients", 20],
            "dsa": ["dsa", child, "--patients", 20, "--param", f"{REMISSION}.utility"]}
    for name, args in runs.items():
        out = tmp_path / f"out_{name}"
        result = cli([*args, "--out", out, "--quiet"])
        assert result.exit_code == 0, result.output
        assert result.stdout == ""
        assert "Warning: " in result.stderr and "bare number" in result.stderr, name
        manifest = json.loads((out / "run.json").read_text(encoding="utf-8"))
        assert len(manifest["warnings"]) == 1 and "bare number" in manifest["warnings"][0]


def test_run_json_records_no_warnings_as_an_empty_list(kv_text, write_toml, cli, tmp_path):
    out = tmp_path / "o"
    assert cli(["run", write_toml(kv_text), "--patients", 20, "--out", out, "-q"]).exit_code == 0
    assert json.loads((out / "run.json").read_text(encoding="utf-8"))["warnings"] == []


def test_a_transition_that_switches_from_the_default_family_is_replaced_whole(kv_text, edit,
                                                                            write_toml):
    """A transition without `dist` is exponential: naming weibull is a change of family."""
    write_toml(edit(kv_text, 'dist = "exponential"\n', ""), "parent.toml")
    s = load_scenario(variant(write_toml, f'[{RELAPSE}]\nto = "on_is"\ndist = "weibull"\n'
                                          "shape = 1.5\nscale = 8.0\n"))
    assert f"{RELAPSE}.rate" not in s.parameters
    same = load_scenario(variant(write_toml, f'[{RELAPSE}]\ndist = "exponential"\nrate = 0.2\n',
                                 name="same.toml"))
    assert same.parameters[f"{RELAPSE}.rate"].value == 0.2     # same family: merged, `to` kept
