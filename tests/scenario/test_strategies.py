"""``[run] strategies``: choosing strategies from the library.

The default keeps every existing file as it was (same strategies, same canonical
hash); the order a file lists strategies in changes nothing; a bad list, a
library input missing for a compared strategy or a strategy not valid for a group
of the cohort is refused with every problem at once, by ``check`` as by ``run``
(exit 2, nothing written); inputs of strategies not compared are checked, left
out and warned about."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cartsim.errors import ScenarioError
from cartsim.params.draws import draw_parameters
from cartsim.scenario.load import load_scenario
from cartsim.scenario.strategies import DEFAULT_STRATEGIES, LIBRARY

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def variant(write_toml, parent: str, body: str, name: str = "variant.toml") -> Path:
    return write_toml(f'extends = "{(SCENARIOS / parent).as_posix()}"\n{body}', name)


def problems_of(path: Path) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    return info.value


def test_default_strategies_keep_the_canonical_hash_and_order_does_not_matter(write_toml):
    base = load_scenario(SCENARIOS / "base.toml")
    assert base.strategies == DEFAULT_STRATEGIES
    assert base.strategy_labels == {s: LIBRARY[s].label for s in DEFAULT_STRATEGIES}
    named = load_scenario(variant(write_toml, "base.toml",
                                  '[run]\nstrategies = ["car_t", "immunosuppression"]\n'))
    assert named.canonical_hash == base.canonical_hash
    assert named.strategies == DEFAULT_STRATEGIES
    three = load_scenario(SCENARIOS / "ssc_ahsct.toml")
    reordered = load_scenario(variant(
        write_toml, "ssc_ahsct.toml",
        '[run]\nstrategies = ["ahsct", "immunosuppression", "car_t"]\n'))
    assert reordered.canonical_hash == three.canonical_hash
    assert reordered.strategies == ("immunosuppression", "car_t", "ahsct")  # library order


@pytest.mark.parametrize(("value", "path", "message", "hint"), [
    ('["immunosuppression", "car_tt"]', "run.strategies.1", "unknown strategy",
     "did you mean 'car_t'?"),
    ('["immunosuppression", "car_t", "car_t"]', "run.strategies.2", "is listed twice", None),
    ('["car_t"]', "run.strategies", "at least two strategies", None),
    ('"car_t"', "run.strategies", "must be a list of strategy names", "choose from"),
    ('[1, 2]', "run.strategies", "must be a list of strategy names", None),
])
def test_bad_strategy_lists_are_refused_with_where_and_why(write_toml, value, path, message,
                                                           hint):
    err = problems_of(variant(write_toml, "base.toml", f"[run]\nstrategies = {value}\n"))
    found = [p for p in err.problems if p.path == path and message in p.message]
    assert found, err
    if hint:
        assert hint in (found[0].hint or "")


def test_a_strategys_inputs_are_required_only_when_it_is_compared(write_toml):
    """base.toml has no AHSCT inputs and needs none; comparing AHSCT lists every one of
    them, each saying which strategy needs it."""
    load_scenario(SCENARIOS / "base.toml")
    err = problems_of(variant(write_toml, "base.toml", '''[run]
strategies = ["immunosuppression", "ahsct"]
[cohort]
mix = { ssc = 1 }
'''))
    missing = {p.path for p in err.problems if p.message.startswith("missing")}
    assert missing == {n for n in {p.path for p in err.problems} if n.startswith(
        ("ahsct.", "costs.ahsct.", "qaly_loss.ahsct."))}
    assert len(missing) == 13
    assert all("required by ahsct in run.strategies" in p.message for p in err.problems
               if p.path in missing)


def test_inputs_of_a_strategy_not_compared_are_checked_left_out_and_warned(write_toml):
    s = load_scenario(variant(write_toml, "ssc_ahsct.toml",
                              '[run]\nstrategies = ["immunosuppression", "car_t"]\n'))
    assert not any(name.startswith(("ahsct.", "costs.ahsct")) for name in s.parameters)
    assert len(s.warnings) == 1 and "ahsct is not in run.strategies" in s.warnings[0]
    err = problems_of(variant(write_toml, "ssc_ahsct.toml", '''[run]
strategies = ["immunosuppression", "car_t"]
[ahsct.trm]
value = 1.5
'''))
    assert [p.path for p in err.problems] == ["ahsct.trm.value"]


def test_an_unknown_library_input_is_refused_with_a_suggestion(write_toml):
    err = problems_of(variant(write_toml, "ssc_ahsct.toml",
                              "[ahsct]\nprogresion = { rate = 0.02 }\n"))
    (p,) = [p for p in err.problems if p.path == "ahsct.progresion.rate"]
    assert p.message == "unknown parameter" and "ahsct.progression.rate" in (p.hint or "")


INVALID = [
    ("ssc_ahsct.toml", "{ sle = 8, iim = 3, ssc = 4 }", "ahsct is for SSc only; the cohort "
     "mix includes sle and iim", "use [cohort] mix = { ssc = 1 } or drop ahsct"),
    ("sle_biologics.toml", "{ sle = 1, iim = 1 }", "biologic_add_on is for SLE only; the "
     "cohort mix includes iim", "use [cohort] mix = { sle = 1 } or drop biologic_add_on"),
    ("iim_ivig.toml", "{ iim = 2, ssc = 1 }", "ivig is for IIM only; the cohort mix "
     "includes ssc", "use [cohort] mix = { iim = 1 } or drop ivig"),
]


@pytest.mark.parametrize(("parent", "mix", "message", "hint"), INVALID)
def test_a_strategy_not_valid_for_a_group_is_refused_by_check_and_run(
        write_toml, cli, tmp_path, parent, mix, message, hint):
    path = variant(write_toml, parent, f"[cohort]\nmix = {mix}\n")
    out = tmp_path / "results"
    for args in (["check", path], ["run", path, "--out", out]):
        result = cli(args)
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
        assert f"run.strategies: {message}" in result.stderr
        assert f"hint: {hint}" in result.stderr
    assert not out.exists()


def test_strategies_that_share_no_group_are_each_refused(write_toml):
    err = problems_of(variant(write_toml, "ssc_ahsct.toml", '''[run]
strategies = ["immunosuppression", "ahsct", "ivig"]
'''))
    refusals = [p for p in err.problems if p.path == "run.strategies"]
    assert {p.value for p in refusals} == {"ivig"}  # the cohort is SSc: ahsct is fine
    assert "compare ivig in a scenario of its own" in (refusals[0].hint or "")


def test_a_cohort_file_may_name_only_groups_every_strategy_allows(write_toml, cli, tmp_path):
    (tmp_path / "patients.csv").write_text(
        "patient_id,disease,age,sex\n1,ssc,40,female\n2,sle,30,female\n", encoding="utf-8")
    path = variant(write_toml, "ssc_ahsct.toml", '[cohort]\nfile = "patients.csv"\n')
    out = tmp_path / "results"
    for args in (["check", path], ["run", path, "--out", out]):
        result = cli(args)
        assert result.exit_code == 2, result.output
        assert "line 3.disease: must be one of ssc; got 'sle'" in result.stderr
        assert "run.strategies" in result.stderr
    assert not out.exists()
    (tmp_path / "patients.csv").write_text(
        "patient_id,disease,age,sex\n1,ssc,40,female\n2,ssc,30,male\n", encoding="utf-8")
    assert cli(["check", path]).exit_code == 0


def test_a_custom_model_cannot_choose_from_the_library(write_toml, kv_text):
    err = problems_of(write_toml(kv_text.replace("[run]\n", '[run]\nstrategies = ["car_t", '
                                                 '"immunosuppression"]\n', 1)))
    assert [p.path for p in err.problems] == ["run.strategies"]


def test_capacity_needs_car_t_and_immunosuppression(write_toml):
    err = problems_of(variant(write_toml, "capacity.toml", '''[run]
strategies = ["immunosuppression", "t_cell_engager"]
'''))
    assert any(p.path == "capacity" and "car_t" in p.message for p in err.problems)


@pytest.mark.parametrize("value", ["2.5", "6", "0", '{ value = 3, dist = "gamma", mean = 3, '
                                   "se = 1 }"])
def test_the_t_cell_engager_course_limit_is_a_fixed_whole_number(write_toml, value):
    err = problems_of(variant(write_toml, "next_generation.toml",
                              f"[t_cell_engager.repeat]\nmax_courses = {value}\n"))
    assert [p.path for p in err.problems] == ["t_cell_engager.repeat.max_courses"]


def test_library_probability_sets_are_drawn_jointly():
    """The exclusive outcomes of the library's chance nodes (allogeneic CRS and ICANS
    grades, the T-cell engager's CRS grades) are Dirichlet sets in the shipped file: in
    every PSA draw they sum to at most 1 with nothing rescaled, and each marginal's
    sample mean is its point value within 4 SE."""
    s = load_scenario(SCENARIOS / "next_generation.toml")
    sets = [names for names in s.probability_sets if names[0].startswith(
        ("car_t_allogeneic.", "t_cell_engager."))]
    assert len(sets) == 3
    table = draw_parameters(s.parameters, range(1, 101), 17, s.probability_sets, s.joint)
    assert table.rescaled_sets == 0
    for names in sets:
        assert np.all(sum(table.values[n] for n in names) <= 1.0 + 1e-12)
        for n in names:
            x = table.values[n]
            assert abs(x.mean() - s.parameters[n].value) <= 4 * x.std(ddof=1) / np.sqrt(x.size)


def test_a_variant_dirichlet_list_that_drops_its_parents_sets_is_warned_about(write_toml):
    """A variant's [[dirichlet]] list replaces its parent's whole: a set of uncertain
    exclusive probabilities left without a joint draw (here base.toml's CRS and LICATS
    grades) earns a warning naming it; restating the parent's blocks silences it."""
    s = load_scenario(variant(write_toml, "base.toml", '''[[dirichlet]]
params = ["car_t.icans.grade_1_2", "car_t.icans.grade_3_4"]
alphas = [2.5, 2.5, 141.5]
'''))
    assert len(s.warnings) == 2
    assert s.warnings[0].startswith("car_t.crs.grade_1, car_t.crs.grade_2, car_t.crs.grade_3 "
                                    "are the exclusive outcomes of one chance node")
    assert "car_t.licats.grade_1" in s.warnings[1]
