"""Structural uncertainty in the PSA: [[structural]] choices drawn per draw (issue 12)."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

import cartsim
from cartsim.analysis.psa import summarise_psa
from cartsim.analysis.voi import evppi_discrete
from cartsim.params.draws import draw_parameters, merge_draws
from cartsim.params.structural import (
    PURPOSE,
    StructuralChoice,
    StructuralOption,
    choice_uniforms,
    draw_structural,
    option_index,
)
from cartsim.rng import Streams
from cartsim.study.psa import draw_values, run_psa

ROOT = Path(__file__).resolve().parents[2]
BASE = (ROOT / "scenarios" / "base.toml").as_posix()
CURE = """
[structural.options.cure_fraction]
weight = {w}
cure_fraction = {{ value = 0.5, dist = "beta", alpha = 5, beta = 5, source = "t" }}
rate = {{ value = 0.10, per = "year", dist = "gamma", mean = 0.10, se = 0.03, source = "t" }}
"""


def write(tmp_path: Path, body: str, name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_text(f'extends = "{BASE}"\n{body}', encoding="utf-8")
    return path


def relapse_choice(weights: tuple[float, float]) -> str:
    constant, cure = weights
    head = '[[structural]]\nkey = "car_t.relapse.model"\nrationale = "test"\n'
    if constant:
        head += f"[structural.options.constant]\nweight = {constant}\n"
    return head + CURE.format(w=cure)


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_base_declares_the_three_choices_and_its_deterministic_values_stay_its_own():
    s = cartsim.load_scenario(ROOT / "scenarios" / "base.toml")
    keys = [c.key for c in s.structural]
    assert keys == ["car_t.relapse.model", "car_t.retreatment.probability",
                    "mortality.remission_share"]
    for c in s.structural:
        assert c.rationale.strip()
        assert math.isclose(sum(o.weight for o in c.options), 1.0, abs_tol=1e-9)
    relapse = s.structural[0]
    assert relapse.text and relapse.names() == ("constant", "weibull", "cure_fraction",
                                                "waning")
    assert s.relapse_model == "constant"  # the deterministic run: the scenario's own value
    assert s.parameters["car_t.retreatment.probability"].value == 0.75


def test_a_weight_one_option_reproduces_the_scenario_that_fixes_it(tmp_path):
    chosen = cartsim.load_scenario(write(tmp_path, relapse_choice((0, 1.0))))
    fixed = cartsim.load_scenario(ROOT / "scenarios" / "relapse_cure.toml")
    a = run_psa(chosen, draws=6, patients=40)
    b = run_psa(fixed, draws=6, patients=40)
    assert a.draws.options["car_t.relapse.model"] == ("cure_fraction",) * 6
    np.testing.assert_array_equal(a.matrix("cost"), b.matrix("cost"))
    np.testing.assert_array_equal(a.matrix("qaly"), b.matrix("qaly"))
    for name in ("car_t.relapse.rate", "car_t.relapse.cure_fraction"):
        np.testing.assert_array_equal(a.draws.values[name], b.draws.values[name])


def test_option_frequencies_match_the_weights_within_4_standard_errors(tmp_path):
    s = cartsim.load_scenario(ROOT / "scenarios" / "base.toml")
    n = 4000
    # Only the parameters the options set: drawing all of base.toml 4,000 times is slow.
    own = {n: s.parameters[n] for c in s.structural for o in c.options for n in o.parameters}
    draws = draw_structural(draw_parameters(own, range(1, n + 1), 20240601), s.structural,
                            20240601)
    for choice in s.structural:
        taken = draws.options[choice.key]
        for option in choice.options:
            share = sum(1 for t in taken if t == option.name) / n
            se = math.sqrt(option.weight * (1 - option.weight) / n)
            assert abs(share - option.weight) < 4 * se, (choice.key, option.name, share)


def test_a_draws_option_and_values_do_not_depend_on_the_batch():
    s = cartsim.load_scenario(ROOT / "scenarios" / "base.toml")
    whole = draw_values(s, range(1, 21), 7)
    parts = [draw_values(s, [k], 7) for k in range(20, 0, -1)]
    merged = merge_draws(parts, list(range(1, 21)))
    assert merged.options == whole.options
    for name, column in whole.values.items():
        np.testing.assert_array_equal(merged.values[name], column)
    assert whole.options["car_t.relapse.model"][0] != ""
    assert draw_values(s, [0], 7).options["car_t.relapse.model"] == ("",)


def test_the_picked_options_parameters_replace_the_scenarios_in_that_draw_only():
    s = cartsim.load_scenario(ROOT / "scenarios" / "base.toml")
    d = draw_values(s, range(1, 401), 3)
    taken = np.array(d.options["mortality.remission_share"])
    share = d.values["mortality.remission_share"]
    assert set(share[taken == "general"]) == {0.0}
    assert set(share[taken == "none"]) == {1.0}
    partial = share[taken == "partial"]
    assert partial.size > 100 and partial.min() > 0 and partial.max() < 1
    retreat = np.array(d.options["car_t.retreatment.probability"])
    assert set(d.values["car_t.retreatment.probability"][retreat == "off"]) == {0.0}
    shape = d.values["car_t.relapse.shape"]
    model = np.array(d.options["car_t.relapse.model"])
    assert set(shape[model == "weibull"]) == {1.5}
    assert set(shape[model != "weibull"]) == {1.0}  # the default, unused by other shapes


def test_option_index_follows_the_cumulative_weights():
    c = StructuralChoice("k", "r", (StructuralOption("a", 0.2), StructuralOption("b", 0.3),
                                    StructuralOption("c", 0.5)))
    u = np.array([1e-12, 0.2, 0.2 + 1e-12, 0.5, 0.5 + 1e-12, 1.0])
    assert option_index(c, u).tolist() == [0, 0, 1, 1, 2, 2]


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mixed")
    return cartsim.load_scenario(write(tmp, relapse_choice((0.5, 0.5))))


def test_per_option_summary_equals_the_summary_of_the_draws_that_took_it(mixed):
    res = run_psa(mixed, draws=24, patients=40)
    table = res.table("psa_options")
    got = {r[1]: r for r in table.rows}
    taken = np.array(res.draws.options["car_t.relapse.model"])
    costs, qalys = res.matrix("cost"), res.matrix("qaly")
    comp = res.strategies.index("immunosuppression")
    car_t = res.strategies.index("car_t")
    for option in ("constant", "cure_fraction"):
        rows_of = taken == option
        summ = summarise_psa(costs[rows_of], qalys[rows_of], res.strategies, comp,
                             mixed.run.wtp)
        row = dict(zip(table.columns, got[option], strict=True))
        assert row["draws"] == int(rows_of.sum())
        assert row["inc_cost"] == pytest.approx(float(summ.delta_cost.mean[car_t]), rel=1e-12)
        assert row["inc_qaly"] == pytest.approx(float(summ.delta_effect.mean[car_t]),
                                                rel=1e-12)
        assert row["p_ce_150000"] == float(summ.prob_ce[-1, car_t])
    averaged = dict(zip(table.columns, got["model-averaged"], strict=True))
    summary = dict(zip(res.table("psa_summary").columns,
                       res.table("psa_summary").rows[car_t], strict=True))
    assert averaged["draws"] == 24
    assert averaged["inc_cost"] == pytest.approx(summary["inc_cost"], rel=1e-12)
    assert averaged["inmb_150000"] == pytest.approx(summary["inmb_150000"], rel=1e-12)
    declared = res.table("structural")
    assert [(r[1], r[3]) for r in declared.rows] == [
        ("constant", None), ("cure_fraction", "car_t.relapse.cure_fraction"),
        ("cure_fraction", "car_t.relapse.rate")]
    assert {r[2] for r in declared.rows} == {0.5} and {r[7] for r in declared.rows} == {"test"}
    evppi = {r[0]: r for r in res.table("evppi").rows}
    expected = evppi_discrete(costs, qalys, mixed.run.wtp, taken)
    assert list(evppi["car_t.relapse.model"][1:-1]) == pytest.approx(expected.tolist())


def test_psa_files_name_the_choice_and_agree_for_one_and_two_workers(tmp_path, cli, mixed):
    path = write(tmp_path, relapse_choice((0.5, 0.5)))
    outs = []
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        result = cli(["psa", path, "--draws", "6", "--patients", "30", "--workers", workers,
                      "--out", out])
        assert result.exit_code == 0, result.output
        assert "Structural choices" in result.output and "model-averaged" in result.output
        outs.append(out)
    for name in ("psa.csv", "psa_options.csv", "psa_summary.csv", "evppi.csv"):
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name
    draws = rows(outs[0] / "psa.csv")
    assert {r["car_t.relapse.model"] for r in draws} <= {"constant", "cure_fraction"}


def test_a_parameter_key_has_an_option_column_beside_its_value(tmp_path):
    body = ('[[structural]]\nkey = "car_t.retreatment.probability"\nrationale = "policy"\n'
            "[structural.options.on]\nweight = 0.5\n"
            "[structural.options.off]\nweight = 0.5\nprobability = 0\n")
    res = run_psa(cartsim.load_scenario(write(tmp_path, body)), draws=4, patients=20)
    table = res.table("psa")
    assert "car_t.retreatment.probability" in table.columns
    column = table.columns.index("car_t.retreatment.probability.option")
    value = table.columns.index("car_t.retreatment.probability")
    for row in table.rows:
        assert row[column] in ("on", "off")
        assert (row[value] == 0.0) == (row[column] == "off") or row[column] == "on"


def test_discrete_evppi_of_a_choice_that_never_changes_the_decision_is_zero():
    rng = np.random.default_rng(1)
    labels = ["a", "b"] * 50
    costs = np.column_stack([np.zeros(100), -1000.0 + rng.normal(0, 10, 100)])
    effects = np.zeros((100, 2))
    assert evppi_discrete(costs, effects, [0.0, 5e4], labels).tolist() == [0.0, 0.0]


def test_discrete_evppi_is_the_conditional_mean_formula():
    rng = np.random.default_rng(2)
    labels = rng.choice(["x", "y", "z"], size=300).tolist()
    shift = {"x": 3.0, "y": -2.0, "z": -0.5}
    inb = np.array([shift[t] for t in labels]) + rng.normal(0, 1, 300)
    costs = np.column_stack([np.zeros(300), -inb])
    got = evppi_discrete(costs, np.zeros((300, 2)), [0.0], labels)[0]
    tags = np.array(labels)
    p = {t: float(np.mean(tags == t)) for t in shift}
    m = {t: float(np.mean(inb[tags == t])) for t in shift}
    expected = sum(p[t] * max(m[t], 0.0) for t in shift) - max(float(np.mean(inb)), 0.0)
    assert got == pytest.approx(expected, rel=1e-12)


def test_set_on_a_structural_key_drops_the_choice_with_a_warning():
    s = cartsim.load_scenario(ROOT / "scenarios" / "base.toml",
                              ["car_t.relapse.model=weibull", "car_t.relapse.shape=1.2",
                               "car_t.relapse.scale=10", "mortality.remission_share=0.3"])
    assert [c.key for c in s.structural] == ["car_t.retreatment.probability"]
    assert any("car_t.relapse.model is set by --set" in w for w in s.warnings)
    s2 = cartsim.load_scenario(ROOT / "scenarios" / "base.toml", ["car_t.relapse.rate=0.075"])
    cure = next(o for o in s2.structural[0].options if o.name == "cure_fraction")
    assert "car_t.relapse.rate" not in cure.parameters
    assert any("car_t.relapse.rate set by --set" in w for w in s2.warnings)


BAD = """
[[structural]]
key = "car_t.relapse.modle"
[structural.options.constant]
weight = 0.5

[[structural]]
key = "car_t.relapse.model"
rationale = "x"
[structural.options.constnt]
weight = 0.5
[structural.options.weibull]
weight = -0.4
rat = 3

[[structural]]
key = "car_t.relapse.model"
rationale = "again"
[structural.options.constant]
weight = 1

[[structural]]
key = "mortality.remission_share"
rationale = "x"
[structural.options.a]
weight = 0.6
[structural.options.b]
weight = 0.4
sle.smr = { value = 2.0 }
[structural.options.c]
weight = 0.1

[[structural]]
key = "car_t.crs.grade_1"
rationale = "x"
[structural.options.one]
weight = 1.0
grade_1 = 0.2
"""


def test_every_structural_problem_is_reported_at_once_by_check_and_psa(tmp_path, cli):
    path = write(tmp_path, BAD)
    for command in (["check", path], ["psa", path, "--draws", "2", "--patients", "5",
                                      "--out", tmp_path / "out"]):
        result = cli(command)
        assert result.exit_code == 2, result.output
        out = result.output
        assert "structural[1].key" in out and "did you mean 'car_t.relapse.model'" in out
        assert "structural[1].rationale: missing" in out
        assert "structural[2].options.constnt: must be one of" in out
        assert "structural[2].options.weibull.weight: must be" in out
        assert "structural[2].options.weibull.rat: is not a parameter" in out
        assert "structural[3].key: is already a structural choice" in out
        assert "structural[4].options (sum of the weights): must be 1" in out
        assert "structural[5].options.one.grade_1: is drawn jointly" in out
        assert "Traceback" not in out
    assert not (tmp_path / "out").exists()


def test_a_weibull_option_needs_its_own_shape_and_scale(tmp_path, cli):
    body = ('[[structural]]\nkey = "car_t.relapse.model"\nrationale = "r"\n'
            "[structural.options.weibull]\nweight = 1\nshape = 1.5\n")
    result = cli(["check", write(tmp_path, body)])
    assert result.exit_code == 2
    assert "structural[1].options.weibull.scale: missing" in result.output


def test_choices_of_a_strategy_not_compared_are_dropped_with_a_warning():
    s = cartsim.load_scenario(ROOT / "scenarios" / "ssc_ahsct.toml",
                              ["run.strategies=['immunosuppression', 'ahsct']"])
    assert s.structural == ()
    assert any("car_t.relapse.model) belongs to a strategy that is not" in w
               for w in s.warnings)


def test_resume_after_a_failed_draw_gives_identical_structural_tables(tmp_path, cli,
                                                                      monkeypatch):
    path = write(tmp_path, relapse_choice((0.5, 0.5)))
    args = [path, "--draws", "8", "--patients", "30", "--quiet"]
    monkeypatch.setenv("CARTSIM_FAULT_INJECT", "draw:6")
    failed = cli(["psa", *args, "--out", tmp_path / "out"])
    assert failed.exit_code == 1
    monkeypatch.delenv("CARTSIM_FAULT_INJECT")
    assert cli(["psa", *args, "--out", tmp_path / "out", "--resume"]).exit_code == 0
    assert cli(["psa", *args, "--out", tmp_path / "full"]).exit_code == 0
    resumed = json.loads((tmp_path / "out" / "run.json").read_text(encoding="utf-8"))
    assert resumed["resumed_from_checkpoint"] > 0
    for name in ("psa.csv", "psa_options.csv", "evppi.csv", "psa_summary.csv"):
        assert (tmp_path / "out" / name).read_bytes() == \
            (tmp_path / "full" / name).read_bytes(), name


def test_choice_uniforms_are_each_draws_own_stream_number() -> None:
    # One vectorised pass over the draws gives what each draw's Streams gives alone
    # (same keys, same counters): a batch of draws picks the same options as one draw.
    ids = np.array([1, 2, 3, 57, 1000, 123_456], dtype=np.int64)
    together = choice_uniforms(20240601, ids, "car_t.relapse.model")
    alone = [Streams(20240601, int(k)).column(PURPOSE + "car_t.relapse.model", 0, 0, 1)[0]
             for k in ids]
    assert together.tolist() == [float(u) for u in alone]
    assert choice_uniforms(20240601, ids[3:4], "car_t.relapse.model")[0] == together[3]
