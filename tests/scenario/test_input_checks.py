"""Scenario validation (VERIFICATION.md section 1 "Robustness", battery G1-G14) and
the scenario-level invariances D5, D6 and D7, plus ``extends`` and ``--set``.

Every bad input must give exit code 2, one message naming the file, the dotted
key path, the offending value and a hint; no traceback; nothing written.
"""

from __future__ import annotations

import json
import math
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cartsim.errors import ScenarioError
from cartsim.params.parameter import KINDS
from cartsim.scenario.clinical_schema import CLINICAL_PARAMETERS
from cartsim.scenario.load import MAX_FILE_BYTES, load_scenario
from cartsim.scenario.settings import MAX_PATIENTS

RELAPSE = "strategies.cart.states.remission.transitions.relapse"
CRS_P = "strategies.cart.chances.infusion.outcomes.crs.probability"
REMISSION = "strategies.cart.states.remission"
IS_STATE = "strategies.immunosuppression.states.on_is"
PAYLOAD = "__import__('pathlib').Path('CANARY').touch()"


def problems_of(path: Path, overrides: tuple[str, ...] = ()) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, overrides)
    return info.value


def problem_text(err: ScenarioError, dotted: str) -> str:
    """The rendered problem whose path is exactly ``dotted`` (fails if absent)."""
    found = [p.render() for p in err.problems if p.path == dotted]
    assert found, f"no problem at {dotted!r}; got paths {[p.path for p in err.problems]}"
    return "\n".join(found)


def assert_clean_exit_2(result, scenario: Path) -> str:
    """Common G contract for the CLI: exit 2, file named, no traceback."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert scenario.name in result.stderr
    return result.stderr


def no_canary(root: Path) -> None:
    assert not list(root.rglob("CANARY")), "a scenario string was executed"
    assert not (Path.cwd() / "CANARY").exists()


# --------------------------------------------------------------------------- G1

def _line_of(text: str, fragment: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if fragment in line)


@pytest.mark.parametrize(
    ("case", "old", "new", "marker"),
    [
        ("unclosed_table", "[strategies.cart]\n", "[strategies.cart\n", "[strategies.cart"),
        ("missing_quote", 'currency = "USD"', 'currency = "USD', 'currency = "USD'),
    ],
)
def test_read_toml_syntax_error_gives_line_and_column(
        case, old, new, marker, kv_text, edit, write_toml, cli):
    """G1: malformed TOML is reported with the line and column of the fault."""
    text = edit(kv_text, old, new)
    path = write_toml(text)
    line = _line_of(text, marker)
    message = problem_text(problems_of(path), "TOML syntax")
    assert re.search(rf"line {line}, column \d+", message), message
    stderr = assert_clean_exit_2(cli(["check", path]), path)
    assert f"line {line}" in stderr


def test_read_toml_duplicate_key_names_the_key(kv_text, edit, write_toml, cli):
    """G1: a duplicate key is named with both lines (3.11's message names none)."""
    text = edit(kv_text, "seed = 7\n", "seed = 7\nseed = 8\n")
    path = write_toml(text)
    first = _line_of(text, "seed = 7")
    message = problem_text(problems_of(path), "TOML syntax")
    assert "duplicate key 'run.seed'" in message
    assert f"on line {first + 1}" in message and f"first on line {first}" in message
    assert re.search(r"line \d+, column \d+", message)
    assert "duplicate key 'run.seed'" in assert_clean_exit_2(cli(["check", path]), path)


def test_read_toml_duplicate_key_at_end_of_document_names_the_key(kv_text, write_toml):
    """G1: tomllib says only "(at end of document)" here; cartsim adds key and line."""
    text = kv_text + "[run.extra]\nx = 1\nx = 2\n"
    message = problem_text(problems_of(write_toml(text)), "TOML syntax")
    assert "duplicate key 'run.extra.x'" in message
    assert f"on line {len(text.splitlines())}" in message


def test_read_toml_duplicate_nested_key_names_full_path(kv_text, edit, write_toml):
    """G1: the duplicate key is named by its full dotted path inside its table."""
    text = edit(kv_text, "utility = 0.85\n", "utility = 0.85\nutility = 0.9\n")
    message = problem_text(problems_of(write_toml(text)), "TOML syntax")
    assert f"duplicate key '{REMISSION}.utility'" in message


def test_read_toml_duplicate_literal_string_key_names_the_key(kv_text, edit, write_toml):
    """G1: a duplicate written as a literal-string key is named too."""
    text = edit(kv_text, "seed = 7\n", "seed = 7\n'seed' = 8\n")
    assert "duplicate key 'run.seed'" in problem_text(problems_of(write_toml(text)),
                                                      "TOML syntax")


# ------------------------------------------------------------------- G2 - G10

BAD_INPUTS = [
    # id, old fragment, new fragment, exact dotted path, fragments of the message
    ("G2-negative-relapse-rate", "rate = 0.10", "rate = -0.1", f"{RELAPSE}.rate",
     ("must be >= 0", "-0.1", "magnitude")),
    ("G2-negative-death-rate", "death = { rate = 0.04 }", "death = { rate = -0.04 }",
     f"{IS_STATE}.death.rate", ("must be >= 0", "-0.04")),
    ("G3-probability-above-1", "probability = 0.15", "probability = 1.2", CRS_P,
     ("must be <= 1", "1.2", "not percentages")),
    ("G3-probability-percent", "probability = 0.15", "probability = 12", CRS_P,
     ("must be <= 1", "did you mean 0.12?")),
    ("G3-probability-negative", "probability = 0.15", "probability = -0.01", CRS_P,
     ("must be >= 0", "-0.01")),
    ("G4-unknown-strategy-table", "[strategies.cart.states.remission]\n",
     "[strategies.cart.remision]\nutility = 0.85\n[strategies.cart.states.remission]\n",
     "strategies.cart.remision", ("unknown key", "states")),
    ("G4-state-key-typo", "utility = 0.85", "utilty = 0.85", f"{REMISSION}.utilty",
     ("unknown key", "did you mean 'utility'?")),
    ("G4-transition-key-typo", "rate = 0.10", "rte = 0.10", f"{RELAPSE}.rte",
     ("unknown key", "did you mean 'rate'?")),
    ("G4-relapse-rate-typo", "rate = 0.10", "rate = 0.10\nrelaspe_rate = 0.1",
     f"{RELAPSE}.relaspe_rate", ("unknown key", "0.1", "rate")),
    ("G4-run-key-typo", "seed = 7", "seeed = 7", "run.seeed",
     ("unknown key", "did you mean 'seed'?")),
    ("G4-top-level-typo", "[strategies.immunosuppression]\n",
     "[strategy.x]\ny = 1\n[strategies.immunosuppression]\n", "strategy",
     ("unknown key", "did you mean 'strategies'?")),
    ("G4-distribution-typo", "probability = 0.15",
     'probability = { dist = "bta", mean = 0.15, se = 0.02 }', f"{CRS_P}.dist",
     ("unknown distribution", "did you mean 'beta'?")),
    ("G6-discount-percent", "costs = 0.035", "costs = 3.5", "run.discount.costs",
     ("must be <= 0.2", "3.5", "did you mean 0.035?")),
    ("G6-per-fortnight", "rate = 0.10", 'rate = 0.10\nper = "fortnight"', f"{RELAPSE}.rate.per",
     ("must be one of year, month, week, day", "fortnight")),
    ("G6-cost-as-text", "cost = { drugs = 20000 }", 'cost = { drugs = "£20,000" }',
     f"{IS_STATE}.cost.drugs", ("not text", "£20,000", "20000")),
    ("G6-age-in-months", "[strategies.immunosuppression]\n",
     "[cohort]\nage = 480\n[strategies.immunosuppression]\n", "cohort.age",
     ("must be <= 120", "480", "years")),
    ("G6-cost-in-other-currency", "cost = { drugs = 20000 }",
     'cost = { drugs = { value = 20000, currency = "EUR" } }', f"{IS_STATE}.cost.drugs.currency",
     ("unknown key", "EUR")),
    ("G7-rate-nan", "rate = 0.10", "rate = nan", f"{RELAPSE}.rate", ("must be finite", "nan")),
    ("G7-rate-inf", "rate = 0.10", "rate = inf", f"{RELAPSE}.rate", ("must be finite", "inf")),
    ("G7-rate-minus-inf", "rate = 0.10", "rate = -inf", f"{RELAPSE}.rate",
     ("must be finite", "-inf")),
    ("G7-cost-1e400", "product = 350000", "product = 1e400", "strategies.cart.upfront_cost.product",
     ("must be finite", "1e400")),
    ("G7-wtp-nan", "wtp = [50000, 100000]", "wtp = [50000, nan]", "run.wtp.1",
     ("must be finite",)),
    ("G8-rate-boolean", "rate = 0.10", "rate = true", f"{RELAPSE}.rate",
     ("not a boolean", "True")),
    ("G8-utility-text", "utility = 0.85", 'utility = "0.6"', f"{REMISSION}.utility",
     ("not text", "'0.6'")),
    ("G8-patients-fraction", "patients = 2000", "patients = 2.5", "run.patients",
     ("whole number", "2.5")),
    ("G8-patients-boolean", "patients = 2000", "patients = true", "run.patients",
     ("must be an integer", "True")),
    ("G8-table-for-scalar", "patients = 2000", "patients = { value = 3 }", "run.patients",
     ("must be an integer",)),
    ("G8-list-for-scalar", "utility = 0.85", "utility = [0.85]", f"{REMISSION}.utility",
     ("must be a utility",)),
    ("G9-utility-above-1", "utility = 0.85", "utility = 1.2", f"{REMISSION}.utility",
     ("must be <= 1", "1.2", "0-1 scale")),
    ("G9-utility-below-minus-1", "utility = 0.85", "utility = -1.5", f"{REMISSION}.utility",
     ("must be >= -1",)),
    ("G9-beta-infeasible", "probability = 0.15",
     'probability = { dist = "beta", mean = 0.15, se = 0.4 }', f"{CRS_P}.dist",
     ("infeasible Beta", "SE²")),
    ("G9-gamma-se-zero", "product = 350000",
     'product = { dist = "gamma", mean = 350000, se = 0 }',
     "strategies.cart.upfront_cost.product.dist", ("Gamma se must be > 0",)),
    ("G9-gamma-se-negative", "product = 350000",
     'product = { dist = "gamma", mean = 350000, se = -5 }',
     "strategies.cart.upfront_cost.product.dist", ("Gamma se must be > 0", "-5")),
    ("G9-lognormal-ci-reversed", "rate = 0.10",
     'rate = { dist = "lognormal", estimate = 0.1, lower = 0.2, upper = 0.05 }',
     f"{RELAPSE}.rate.dist", ("upper must be > 0.2", "0.05")),
    ("G10-patients-zero", "patients = 2000", "patients = 0", "run.patients", ("must be >= 1",)),
    ("G10-seed-negative", "seed = 7", "seed = -1", "run.seed", ("must be >= 0", "-1")),
    ("G10-seed-fraction", "seed = 7", "seed = 1.5", "run.seed", ("whole number", "1.5")),
    ("G10-horizon-negative", 'horizon = "lifetime"', "horizon = -1", "run.horizon",
     ("must be >= 0",)),
    ("G10-iterations-not-a-run-key", "seed = 7", "seed = 7\niterations = -5", "run.iterations",
     ("unknown key",)),
    ("G10-workers-not-a-run-key", "seed = 7", "seed = 7\nworkers = 0", "run.workers",
     ("unknown key",)),
]


@pytest.mark.parametrize(("case", "old", "new", "dotted", "fragments"), BAD_INPUTS,
                         ids=[c[0] for c in BAD_INPUTS])
def test_load_scenario_bad_input_names_path_value_and_hint(
        case, old, new, dotted, fragments, kv_text, edit, write_toml, cli, tmp_path):
    """G2-G10: each bad input is refused at its exact dotted path with a clear message."""
    path = write_toml(edit(kv_text, old, new))
    message = problem_text(problems_of(path), dotted)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    before = sorted(p.name for p in tmp_path.iterdir())
    stderr = assert_clean_exit_2(cli(["check", path]), path)
    assert dotted in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_load_scenario_zero_rate_is_allowed(kv_text, edit, write_toml):
    """G2: a zero hazard is allowed (B1, no relapse); only negatives are refused."""
    s = load_scenario(write_toml(edit(kv_text, "rate = 0.10", "rate = 0")))
    assert s.parameters[f"{RELAPSE}.rate"].value == 0.0


def test_cli_run_bad_flag_values_exit_2(kv_text, write_toml, cli, tmp_path, monkeypatch):
    """G10/G13: --patients 0, --seed -1, --seed 1.5 and --patients 10**12 are usage errors."""
    monkeypatch.chdir(tmp_path)
    path = write_toml(kv_text)
    for flags in (["--patients", "0"], ["--seed", "-1"], ["--seed", "1.5"],
                  ["--patients", str(10**12)]):
        result = cli(["run", path, *flags])
        assert result.exit_code == 2, (flags, result.output)
        assert "Traceback" not in result.output
    assert str(MAX_PATIENTS) in result.output  # the cap is stated
    assert not (tmp_path / "results").exists()


def _toml_float(x: float) -> str:
    return repr(x)          # 'nan', 'inf', '-inf', '1e+300', '0.5': all valid TOML floats


TOML_VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(_toml_float),
    st.integers(min_value=-(2**63), max_value=2**63 - 1).map(str),
    st.booleans().map(lambda b: "true" if b else "false"),
    st.text(st.characters(codec="ascii", categories=["L", "N", "P", "Zs"]), max_size=12)
    .map(json.dumps),
    st.lists(st.integers(-5, 5), max_size=3).map(lambda xs: f"[{', '.join(map(str, xs))}]"),
    st.sampled_from(["{ value = 0.5 }", "{ value = 2 }", "{ }",
                     '{ dist = "beta", mean = 0.5, se = 0.9 }',
                     '{ dist = "gamma", mean = 1, se = 0.1 }',
                     '{ value = 0.1, per = "day" }', "{ value = nan }"]),
)
FIELDS = [  # old text, new template, name, kind
    ("utility = 0.85", "utility = {}", f"{REMISSION}.utility", "utility"),
    ("probability = 0.15", "probability = {}", CRS_P, "probability"),
    ("rate = 0.10", "rate = {}", f"{RELAPSE}.rate", "rate"),
    ("product = 350000", "product = {}", "strategies.cart.upfront_cost.product", "cost"),
    ("qaly_loss = 0.02", "qaly_loss = {}", "strategies.cart.events.crs.qaly_loss", "qaly_loss"),
    ("patients = 2000", "patients = {}", "run.patients", "patients"),
    ("seed = 7", "seed = {}", "run.seed", "seed"),
]


@pytest.mark.parametrize(("old", "template", "name", "kind"), FIELDS,
                         ids=[f[2].rsplit(".", 1)[-1] for f in FIELDS])
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fixtures are constant
@given(value=TOML_VALUES)
def test_load_scenario_any_value_is_valid_or_scenario_error(old, template, name, kind, value,
                                                            kv_text, edit):
    """G7/G8/G9 property: whatever literal a field holds, loading either succeeds with a
    finite in-range value or raises ScenarioError naming that field; never anything else."""
    text = edit(kv_text, old, template.format(value))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "kv.toml"
        path.write_text(text, encoding="utf-8")
        try:
            s = load_scenario(path)
        except ScenarioError as err:
            assert any(p.path == name or p.path.startswith(name + ".") for p in err.problems), \
                [p.render() for p in err.problems]
            return
    if kind == "patients":
        assert isinstance(s.run.patients, int) and 1 <= s.run.patients <= MAX_PATIENTS
    elif kind == "seed":
        assert isinstance(s.run.seed, int) and 0 <= s.run.seed < 2**63
    else:
        low, high, low_open = KINDS[kind][:3]
        x = s.parameters[name].value
        assert isinstance(x, float) and math.isfinite(x)
        assert (low is None or x >= low) and (high is None or x <= high)
        assert not (low_open and x == low)


@settings(max_examples=60, deadline=None)
@given(content=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)))
def test_read_toml_arbitrary_bytes_never_crash(content):
    """G1 property: arbitrary bytes are either a valid scenario or a ScenarioError."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "junk.toml"
        path.write_bytes(content)
        try:
            load_scenario(path)
        except ScenarioError as err:
            assert err.problems and str(err).startswith(str(path))


# -------------------------------------------------------------------------- G5

def test_load_scenario_lists_every_missing_field(kv_text, edit, write_toml):
    """G5: several missing required fields are all listed, not just the first."""
    text = edit(kv_text, "utility = 0.85\n", "")
    text = edit(text, 'start = "on_is"\n', "")
    text = edit(text, 'to = "on_is"\n', "")
    err = problems_of(write_toml(text))
    missing = {p.path for p in err.problems if "missing" in p.message}
    assert missing == {f"{REMISSION}.utility", "strategies.immunosuppression.start",
                       f"{RELAPSE}.to"}
    assert "3 problems" in str(err)


def test_load_scenario_empty_file_lists_all_required_parameters(write_toml, cli):
    """G5: an empty file (clinical model by default) lists every required parameter."""
    path = write_toml("")
    err = problems_of(path)
    required = {p.name for p in CLINICAL_PARAMETERS if p.default is None}
    missing = {p.path for p in err.problems if "missing" in p.message}
    assert missing == required
    stderr = assert_clean_exit_2(cli(["check", path]), path)
    assert f"{len(err.problems)} problems" in stderr


def test_load_scenario_empty_custom_model_asks_for_strategies(write_toml):
    """G5: an empty custom model says that strategy tables are required."""
    err = problems_of(write_toml('model = "custom"\n'))
    assert any(p.path == "strategies" and "missing" in p.message for p in err.problems)


def test_check_state_without_death_under_lifetime_horizon_is_refused(
        kv_text, edit, write_toml, cli):
    """G5: deleting ``death`` from the IS state (lifetime horizon) is a config error."""
    path = write_toml(edit(kv_text, "death = { rate = 0.04 }\n", ""))
    assert_clean_exit_2(cli(["check", path]), path)


# ------------------------------------------------------ check == run validation

def test_check_chance_to_unknown_node_is_refused(kv_text, edit, write_toml, cli):
    """G14/G4: check reports a `then` that names no state (typo 'remision')."""
    path = write_toml(edit(kv_text, 'then = "remission"', 'then = "remision"'))
    stderr = assert_clean_exit_2(cli(["check", path]), path)
    assert "remision" in stderr


def test_run_chance_to_unknown_node_exit_2_nothing_written(
        kv_text, edit, write_toml, cli, tmp_path, monkeypatch):
    """G4: run refuses a chance node leading to an unknown node: exit 2, nothing written."""
    monkeypatch.chdir(tmp_path)
    path = write_toml(edit(kv_text, 'then = "remission"', 'then = "remision"'))
    result = cli(["run", path, "--patients", "50"])
    assert_clean_exit_2(result, path)
    assert "remision" in result.stderr
    assert not (tmp_path / "results").exists()


def test_load_scenario_unreachable_typo_state_is_refused(kv_text, edit, write_toml):
    """G4: a mistyped state table must not be silently ignored."""
    text = edit(kv_text, "[strategies.cart.states.remission]\n",
                "[strategies.cart.states.remision]\nutility = 0.9\n"
                "[strategies.cart.states.remission]\n")
    err = problems_of(write_toml(text))
    assert any("remision" in p.path for p in err.problems)


def test_run_missing_life_table_file_is_config_error(
        kv_text, edit, write_toml, cli, tmp_path, monkeypatch):
    """G5/G6: run.life_table naming a missing file is bad input: exit 2, path named."""
    monkeypatch.chdir(tmp_path)
    path = write_toml(edit(kv_text, 'life_table = "none"', 'life_table = "no_such_table.csv"'))
    result = cli(["run", path, "--patients", "50"])
    assert_clean_exit_2(result, path)
    assert "run.life_table" in result.stderr


# ------------------------------------------------------------------------- G11

def _payload_everywhere() -> str:
    p = f'"{PAYLOAD}"'
    return f"""\
title = {p}
description = {p}
model = "custom"
[run]
patients = 100
seed = 7
horizon = {p}
discount = {{ costs = 0.035, outcomes = 0.035, convention = {p} }}
life_table = {p}
wtp = [50000]
comparator = {p}
currency = {p}
perspective = {p}
output = {p}
cost_conversion = {{ factor = 0.8, currency = {p}, price_year = 2024, source = {p} }}
[cohort]
file = {p}
[strategies.immunosuppression]
label = {p}
start = {p}
[strategies.immunosuppression.states.on_is]
utility = {{ value = 0.6, source = {p}, note = {p}, status = {p} }}
cost = {{ drugs = {p} }}
death = {{ rate = {{ value = 0.04, per = {p} }}, cause = {p}, dist = {p} }}
[strategies.immunosuppression.states.on_is.transitions.x]
to = {p}
dist = {p}
clock = {p}
event = {p}
rate = {p}
[strategies.cart]
label = {p}
start = {p}
upfront_cost = {p}
[strategies.cart.chances.infusion]
then = {p}
origin = {p}
[strategies.cart.chances.infusion.outcomes.crs]
probability = {{ dist = {p}, mean = 0.15, se = 0.02 }}
to = {p}
"""


def test_load_scenario_code_strings_never_executed(write_toml, cli, tmp_path, monkeypatch):
    """G11: every string field set to a Python payload: refused or inert, never run."""
    monkeypatch.chdir(tmp_path)
    path = write_toml(_payload_everywhere())
    err = problems_of(path)
    assert len(err.problems) >= 10
    for args in (["check", path], ["params", path], ["run", path],
                 ["check", path, "--set", f"title={PAYLOAD}"]):
        assert_clean_exit_2(cli(args), path)
    no_canary(tmp_path)
    assert not (tmp_path / "results").exists()


def test_load_scenario_code_in_extends_never_executed(write_toml, cli, tmp_path, monkeypatch):
    """G11: a payload in ``extends`` is a (missing) file name, not code."""
    monkeypatch.chdir(tmp_path)
    path = write_toml(f'extends = "{PAYLOAD}"\nmodel = "custom"\n')
    assert problem_text(problems_of(path), "extends")
    assert_clean_exit_2(cli(["check", path]), path)
    no_canary(tmp_path)


def test_run_code_strings_in_labels_are_inert(kv_text, edit, write_toml, cli, read_csv,
                                              tmp_path, monkeypatch):
    """G11: payloads in free-text fields run fine and come out verbatim, unexecuted."""
    monkeypatch.chdir(tmp_path)
    p = f'"{PAYLOAD}"'
    text = f"title = {p}\ndescription = {p}\n" + kv_text
    text = edit(text, 'currency = "USD"', f'currency = "USD"\nperspective = {p}')
    text = edit(text, 'start = "infusion"', f'start = "infusion"\nlabel = {p}')
    text = edit(text, "utility = 0.85", f"utility = {{ value = 0.85, source = {p}, note = {p} }}")
    path = write_toml(text)
    result = cli(["run", path, "--patients", "100", "--quiet", "--set",
                  f"strategies.immunosuppression.label={PAYLOAD}"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "results" / "kv"
    labels = {r["strategy"]: r["label"] for r in read_csv(out / "summary.csv")}
    assert labels == {"cart": PAYLOAD, "immunosuppression": PAYLOAD}
    sources = {r["name"]: r["source"] for r in read_csv(out / "parameters.csv")}
    assert sources[f"{REMISSION}.utility"] == PAYLOAD
    params = cli(["params", path])
    assert params.exit_code == 0 and PAYLOAD in params.stdout
    no_canary(tmp_path)


# ------------------------------------------------------------------------- G12

@pytest.mark.parametrize("output", ["../../elsewhere", "/tmp/cartsim-elsewhere", "a/b", "..",
                                    ".hidden", "C:evil", "a\\b", ""])
def test_load_scenario_output_outside_results_refused(output, kv_text, edit, write_toml):
    """G12: run.output must be a plain folder name inside results/."""
    text = edit(kv_text, "seed = 7\n", f"seed = 7\noutput = '{output}'\n")  # literal string
    message = problem_text(problems_of(write_toml(text)), "run.output")
    assert "plain folder name inside results/" in message
    assert "--out" in message


def test_run_output_escape_writes_nothing(kv_text, edit, write_toml, cli, tmp_path, monkeypatch):
    """G12: a scenario naming ../../elsewhere or an absolute path writes nothing anywhere."""
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    outside = tmp_path / "abs_elsewhere"
    for target in ("../../elsewhere", outside.as_posix()):
        path = write_toml(edit(kv_text, "seed = 7\n", f'seed = 7\noutput = "{target}"\n'),
                          "a/b/kv.toml")
        result = cli(["run", path, "--patients", "50"])
        assert_clean_exit_2(result, path)
        assert "run.output" in result.stderr
    assert not (tmp_path / "elsewhere").exists()
    assert not outside.exists()
    assert not (work / "results").exists()


def test_run_output_plain_name_goes_under_results(kv_text, edit, write_toml, cli, tmp_path,
                                                  monkeypatch):
    """G12: a plain run.output name is used as the folder under results/."""
    monkeypatch.chdir(tmp_path)
    path = write_toml(edit(kv_text, "seed = 7\n", 'seed = 7\noutput = "mine"\n'))
    assert cli(["run", path, "--patients", "50", "--quiet"]).exit_code == 0
    assert (tmp_path / "results" / "mine" / "summary.csv").is_file()


def test_run_output_with_nul_character_is_config_error(kv_text, edit, write_toml, cli,
                                                       tmp_path, monkeypatch):
    """G12: an unusable output name is bad input (exit 2), not an internal error."""
    monkeypatch.chdir(tmp_path)
    path = write_toml(edit(kv_text, "seed = 7\n", 'seed = 7\noutput = "a\\u0000b"\n'))
    assert_clean_exit_2(cli(["run", path, "--patients", "50"]), path)


# ------------------------------------------------------------------------- G13

def test_read_toml_oversized_file_refused_before_parsing(kv_text, write_toml, cli):
    """G13: a >1 MB file is refused with the cap stated, before it is parsed."""
    filler = "# padding\n" * (MAX_FILE_BYTES // 10 + 10_000)
    path = write_toml(kv_text + filler + "[[[ not toml\n")
    assert path.stat().st_size > MAX_FILE_BYTES
    message = problem_text(problems_of(path), "file")
    assert f"{MAX_FILE_BYTES:,}" in message
    stderr = assert_clean_exit_2(cli(["check", path]), path)
    assert "TOML syntax" not in stderr and f"{MAX_FILE_BYTES:,}" in stderr


def test_read_toml_50mb_file_refused_without_reading(write_toml):
    """G13: a 50 MB (sparse) file is refused by its size alone."""
    path = write_toml("")
    with path.open("r+b") as fh:
        fh.truncate(50 * 1024 * 1024)
    message = problem_text(problems_of(path), "file")
    assert "52,428,800 bytes" in message and f"{MAX_FILE_BYTES:,}" in message


def test_load_scenario_patients_cap_stated(kv_text, edit, write_toml):
    """G13: patients = 10**12 is refused before allocation, with the cap stated."""
    path = write_toml(edit(kv_text, "patients = 2000", f"patients = {10**12}"))
    message = problem_text(problems_of(path), "run.patients")
    assert f"{MAX_PATIENTS:,}" in message and "cap" in message


# ------------------------------------------------------------------------- G14

def test_check_reports_all_errors_in_one_pass(kv_text, edit, write_toml, cli, tmp_path,
                                              monkeypatch):
    """G14: G2, G3, G4 and G6 errors together: exit 2, all four in one message."""
    monkeypatch.chdir(tmp_path)
    text = edit(kv_text, "rate = 0.10", "rate = -0.1")                   # G2
    text = edit(text, "probability = 0.15", "probability = 1.2")         # G3
    text = edit(text, "utility = 0.85", "utility = 0.85\nutilty = 0.8")  # G4
    text = edit(text, "costs = 0.035", "costs = 3.5")                    # G6
    path = write_toml(text)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    result = cli(["check", path])
    stderr = assert_clean_exit_2(result, path)
    for dotted in (f"{RELAPSE}.rate", CRS_P, f"{REMISSION}.utilty", "run.discount.costs"):
        assert dotted in stderr
    assert "4 problems" in stderr
    assert result.stdout == ""
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


# --------------------------------------------------------------------- extends

def test_extends_child_overrides_parent(kv_text, edit, write_toml):
    """Section 1 / D6, extends: the child's values win; everything else comes from the parent."""
    write_toml(kv_text, "base/parent.toml")
    child = write_toml('extends = "../base/parent.toml"\n[run]\nseed = 99\n'
                       "[strategies.cart.states.remission]\nutility = 0.9\n", "kids/child.toml")
    s, parent = load_scenario(child), load_scenario(child.parent.parent / "base/parent.toml")
    assert s.run.seed == 99 and s.run.patients == 2000
    assert s.parameters[f"{REMISSION}.utility"].value == 0.9
    assert set(s.parameters) == set(parent.parameters)
    for name in set(s.parameters) - {f"{REMISSION}.utility"}:
        assert s.parameters[name] == parent.parameters[name]


def test_extends_chain_equals_flat_file(kv_text, edit, write_toml):
    """D6, extends: a grandchild resolves to the same scenario (hash) as the flat file."""
    write_toml(kv_text, "a.toml")
    write_toml('extends = "a.toml"\n[run]\nseed = 5\n', "b.toml")
    c = write_toml('extends = "b.toml"\n[strategies.cart.upfront_cost]\nproduct = 400000\n',
                   "c.toml")
    flat = edit(edit(kv_text, "seed = 7", "seed = 5"), "product = 350000", "product = 400000")
    assert load_scenario(c).canonical_hash == load_scenario(write_toml(flat, "flat.toml")) \
        .canonical_hash


def test_extends_parameter_table_merges_into_the_parent_entry(kv_text, edit, write_toml):
    """Section 1, extends: a parameter table without a dist merges into the parent's entry
    (distribution kept, source says where the value came from); a table with a dist
    replaces the entry whole."""
    parent = edit(kv_text, "utility = 0.85", 'utility = { value = 0.85, dist = "beta", '
                  'mean = 0.85, se = 0.05, source = "parent study" }')
    write_toml(parent, "parent.toml")
    child = write_toml(f'extends = "parent.toml"\n[{REMISSION}]\nutility = {{ value = 0.86 }}\n',
                       "child.toml")
    s = load_scenario(child)
    p = s.parameters[f"{REMISSION}.utility"]
    assert p.value == 0.86 and p.distribution is not None
    assert p.distribution.mean == pytest.approx(0.85, rel=1e-12)
    assert p.source == "parent study (value 0.86 set in child.toml)"
    assert s.warnings == ()        # 0.86 is within 5% of the kept mean 0.85
    assert s.parameters[f"{REMISSION}.death.rate"].value == 0.015   # siblings kept
    # and the other way round: a bare parent value replaced by a distribution
    write_toml(kv_text, "parent2.toml")
    child2 = write_toml(f'extends = "parent2.toml"\n[{REMISSION}]\n'
                        'utility = { dist = "beta", mean = 0.8, se = 0.05 }\n', "child2.toml")
    p2 = load_scenario(child2).parameters[f"{REMISSION}.utility"]
    assert p2.distribution is not None and math.isclose(p2.value, 0.8, rel_tol=1e-12)


def test_extends_child_overrides_one_transition_rate(kv_text, write_toml):
    """Section 1 / G4, extends: a child that changes only a transition's rate keeps its
    'to' and 'dist'."""
    write_toml(kv_text, "parent.toml")
    child = write_toml(f'extends = "parent.toml"\n[{RELAPSE}]\nrate = 0.2\n', "child.toml")
    s = load_scenario(child)
    assert s.parameters[f"{RELAPSE}.rate"].value == 0.2


@pytest.mark.parametrize("cycle", ["self", "pair"])
def test_extends_circular_refused(cycle, write_toml, cli):
    """Section 1 / G1-G14 common contract, extends: a circular chain is refused with the
    cycle named (exit 2)."""
    if cycle == "self":
        path = write_toml('extends = "a.toml"\nmodel = "custom"\n', "a.toml")
    else:
        path = write_toml('extends = "b.toml"\n', "a.toml")
        write_toml('extends = "a.toml"\n', "b.toml")
    assert "circular extends" in problem_text(problems_of(path), "extends")
    assert "circular extends" in assert_clean_exit_2(cli(["check", path]), path)


def test_extends_missing_parent_refused(write_toml):
    """G5, extends: a missing parent file is named with where it was looked for."""
    path = write_toml('extends = "nowhere.toml"\n')
    assert "file not found" in problem_text(problems_of(path), "extends")


# ------------------------------------------------------------------------- --set

def test_set_override_replaces_value_and_drops_distribution(kv_text, edit, write_toml):
    """Section 6.1, --set: the dotted value replaces the point value; the parameter
    becomes fixed."""
    text = edit(kv_text, "rate = 0.10", 'rate = { value = 0.1, dist = "gamma", mean = 0.1, '
                'se = 0.02, source = "trial" }')
    path = write_toml(text)
    assert load_scenario(path).parameters[f"{RELAPSE}.rate"].distribution is not None
    s = load_scenario(path, (f"{RELAPSE}.rate=0.2", "run.patients=300",
                             f"{REMISSION}.utility=0.9"))
    p = s.parameters[f"{RELAPSE}.rate"]
    assert p.value == 0.2 and p.distribution is None
    assert p.source == "set on the command line"
    assert s.run.patients == 300
    assert s.parameters[f"{REMISSION}.utility"].value == 0.9


def test_set_override_is_validated(kv_text, write_toml):
    """G2/G6, --set: overridden values go through the same validation as the file."""
    path = write_toml(kv_text)
    err = problems_of(path, (f"{RELAPSE}.rate=-1", "run.discount.costs=3.5"))
    assert "must be >= 0" in problem_text(err, f"{RELAPSE}.rate")
    assert "did you mean 0.035?" in problem_text(err, "run.discount.costs")


@pytest.mark.parametrize(("item", "fragment"), [
    ("no_equals_sign", "must look like dotted.name=value"),
    ("run.patients=abc", "run.patients: must be an integer"),
    ("run.seeed=3", "did you mean 'seed'?"),
    (f"{RELAPSE}.rate=nan", "must be finite"),
    ("extends=other.toml", "extends: cannot be set on the command line"),
])
def test_set_override_bad_syntax_exit_2(item, fragment, kv_text, write_toml, cli):
    """G1-G14 common contract, --set: a malformed or invalid override is a usage error
    (exit 2) with a message."""
    path = write_toml(kv_text)
    result = cli(["check", path, "--set", item])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert fragment in result.stderr


# ------------------------------------------------------------ D7 / D6 / D5 runs

NUMERIC_SKIP = {"strategy", "label", "comparator", "icer_status"}


def _run(cli, path: Path, out: Path, *extra: str) -> Path:
    result = cli(["run", path, "--out", out, "--quiet", *extra])
    assert result.exit_code == 0, result.output
    return out


def _summary(read_csv, out: Path) -> dict[str, dict[str, str]]:
    return {r["strategy"]: r for r in read_csv(out / "summary.csv")}


def _close(a: str, b: str, rel: float) -> bool:
    if a == "NA" or b == "NA":
        return a == b
    return math.isclose(float(a), float(b), rel_tol=rel, abs_tol=1e-300)


def _per_year_to(unit_per_year: float, value: float) -> str:
    return repr(value / unit_per_year)


@pytest.mark.parametrize(("per", "units_per_year"),
                         [("year", 1.0),
                          ("month", 12.0),
                          ("week", 365.25 / 7),
                          ("day", 365.25)])
def test_parameter_rate_per_unit_converted_to_per_year(per, units_per_year, kv_text, edit,
                                                       write_toml):
    """D7(a): 0.1/yr written as (0.1/k) per <unit> is 0.1 per year in the model."""
    given = _per_year_to(units_per_year, 0.10)
    path = write_toml(edit(kv_text, "rate = 0.10", f'rate = {given}\nper = "{per}"'))
    p = load_scenario(path).parameters[f"{RELAPSE}.rate"]
    assert p.given_unit == f"per {per}"
    assert math.isclose(p.value, 0.10, rel_tol=1e-12), p.value


def _monthly(kv_text: str, edit) -> str:
    text = kv_text
    for old, yearly in (("death = { rate = 0.04 }", 0.04), ("death = { rate = 0.015 }", 0.015),
                        ("death = { rate = 0.04 }", 0.04)):
        # replace the first still-yearly occurrence each time
        text = edit(text, old, f'death = {{ rate = {yearly / 12!r}, per = "month" }}')
    return edit(text, "rate = 0.10", f'rate = {0.10 / 12!r}\nper = "month"')


def test_run_rates_per_month_equal_rates_per_year(kv_text, edit, write_toml, cli, read_csv,
                                                  tmp_path):
    """D7(a): every rate given per month (value/12) gives the per-year results (rel 1e-12)."""
    yearly = _run(cli, write_toml(kv_text, "y.toml"), tmp_path / "y", "--patients", "500")
    monthly_text = _monthly(kv_text, edit)
    assert monthly_text.count('per = "month"') == 4
    monthly = _run(cli, write_toml(monthly_text, "m.toml"), tmp_path / "m", "--patients", "500")
    a, b = _summary(read_csv, yearly), _summary(read_csv, monthly)
    for s in a:
        for col, value in a[s].items():
            if col not in NUMERIC_SKIP:
                assert _close(value, b[s][col], 1e-12), (s, col, value, b[s][col])


def test_run_durations_in_months_equal_years(kv_text, edit, write_toml, cli, read_csv, tmp_path):
    """D7(a): a Weibull scale given in months (x12) gives the results in years (rel 1e-12)."""
    years = edit(kv_text, 'dist = "exponential"\nrate = 0.10',
                 'dist = "weibull"\nshape = 1.5\nscale = 8.0')
    months = edit(kv_text, 'dist = "exponential"\nrate = 0.10',
                  'dist = "weibull"\nshape = 1.5\nscale = 96.0\nunit = "months"')
    a = _summary(read_csv, _run(cli, write_toml(years, "y.toml"), tmp_path / "y",
                                "--patients", "500"))
    b = _summary(read_csv, _run(cli, write_toml(months, "m.toml"), tmp_path / "m",
                                "--patients", "500"))
    for s in a:
        for col, value in a[s].items():
            if col not in NUMERIC_SKIP:
                assert _close(value, b[s][col], 1e-12), (s, col, value, b[s][col])


def _patients(read_csv, out: Path) -> dict[tuple[str, str], dict[str, str]]:
    return {(r["patient_id"], r["strategy"]): r for r in read_csv(out / "patients.csv")}


COST_COLS_SUMMARY = ("cost", "cost_mcse", "cost_undisc", "inc_cost", "inc_cost_mcse", "icer")
QALY_COLS_SUMMARY = ("qaly", "qaly_mcse", "qaly_undisc", "ly", "ly_mcse", "ly_undisc",
                     "inc_qaly", "inc_qaly_mcse", "inc_ly", "inc_ly_mcse")


def _assert_costs_scaled(read_csv, base: Path, scaled: Path, factor: float) -> None:
    a, b = _summary(read_csv, base), _summary(read_csv, scaled)
    for s in a:
        for col in COST_COLS_SUMMARY:
            if a[s][col] != "NA":
                assert math.isclose(float(b[s][col]), factor * float(a[s][col]),
                                    rel_tol=1e-12), (s, col)
        for col in QALY_COLS_SUMMARY:
            assert a[s][col] == b[s][col], (s, col)       # bit-identical text
    pa, pb = _patients(read_csv, base), _patients(read_csv, scaled)
    assert pa.keys() == pb.keys()
    for key, row in pa.items():
        for col, value in row.items():
            if col.startswith("cost"):
                assert math.isclose(float(pb[key][col]), factor * float(value),
                                    rel_tol=1e-12, abs_tol=1e-300), (key, col)
            elif col.startswith(("qaly", "ly", "end_time", "n_", "remission")):
                assert pb[key][col] == value, (key, col)
    for a_row, b_row in zip(read_csv(base / "costs.csv"), read_csv(scaled / "costs.csv"),
                            strict=True):
        for col in ("cost", "cost_undisc", "inc_cost"):
            if a_row[col] != "NA":
                assert math.isclose(float(b_row[col]), factor * float(a_row[col]),
                                    rel_tol=1e-12), (a_row, b_row)


def test_run_costs_times_1000_scale_costs_only(kv_text, edit, write_toml, cli, read_csv,
                                               tmp_path):
    """D7(b): every cost x1000 -> costs and ICER x1000 (rel 1e-12); QALYs bit-identical."""
    scaled = kv_text
    for old, new in (("{ product = 350000 }", "{ product = 350000000 }"),
                     ("{ adverse_events = 25000 }", "{ adverse_events = 25000000 }"),
                     ("{ monitoring = 2000 }", "{ monitoring = 2000000 }"),
                     ("{ drugs = 20000 }", "{ drugs = 20000000 }"),
                     ("{ drugs = 20000 }", "{ drugs = 20000000 }")):
        scaled = edit(scaled, old, new)
    base = _run(cli, write_toml(kv_text, "a.toml"), tmp_path / "a", "--patients", "500", "--trace")
    big = _run(cli, write_toml(scaled, "b.toml"), tmp_path / "b", "--patients", "500", "--trace")
    _assert_costs_scaled(read_csv, base, big, 1000.0)


def test_run_cost_conversion_scales_costs_and_reports_currency(kv_text, edit, write_toml, cli,
                                                                read_csv, tmp_path):
    """D7(c): cost_conversion factor 0.8 -> every cost x0.8; run.json reports GBP 2024."""
    converted = edit(kv_text, "price_year = 2024\n", "price_year = 2023\ncost_conversion = "
                     '{ factor = 0.8, currency = "GBP", price_year = 2024, source = "test" }\n')
    base = _run(cli, write_toml(kv_text, "a.toml"), tmp_path / "a", "--patients", "500", "--trace")
    conv = _run(cli, write_toml(converted, "b.toml"), tmp_path / "b", "--patients", "500",
                "--trace")
    _assert_costs_scaled(read_csv, base, conv, 0.8)
    settings = json.loads((conv / "run.json").read_text())["settings"]
    assert settings["currency"] == "GBP" and settings["price_year"] == 2024
    assert settings["cost_conversion_factor"] == 0.8
    assert settings["currency_as_written"] == "USD" and settings["price_year_as_written"] == 2023
    assert "GBP 2024" in (conv / "costs.md").read_text()


COSMETIC = """\
# KV-REF, rewritten: comments, reordered keys, floats for ints, standard tables.
model = "custom"

[strategies.cart]            # CAR-T first this time
upfront_cost.product = 350000.0
start = "infusion"

[strategies.cart.states.on_is]
death.rate = 0.04
cost = { drugs = 20000.0 }
utility = 0.6

[strategies.cart.states.remission]
cost.monitoring = 2000.0     # dotted keys instead of an inline table
utility = 0.85

[strategies.cart.states.remission.death]
rate = 0.015

[strategies.cart.states.remission.transitions.relapse]
rate = 0.1
dist = "exponential"
to = "on_is"

[strategies.cart.events.crs]
qaly_loss = 0.02
cost = { adverse_events = 25_000 }

[strategies.cart.chances.infusion.outcomes.crs]
probability = 0.150
[strategies.cart.chances.infusion]
then = "remission"

[run]
price_year = 2024
currency = "USD"
comparator = "immunosuppression"
wtp = [50_000.0, 100000]
life_table = "none"
horizon = "lifetime"
seed = 7
patients = 2000.0

[run.discount]
convention = "continuous"
outcomes = 0.035
costs = 3.5e-2

[strategies.immunosuppression.states.on_is]
death = { rate = 4e-2 }
utility = 0.600
cost.drugs = 2e4

[strategies.immunosuppression]
start = "on_is"
"""


def _same_run_files(a: Path, b: Path) -> None:
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    for name in names:
        if name != "run.json":
            assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_canonical_hash_ignores_cosmetic_changes(kv_text, write_toml, cli, tmp_path):
    """D6: comments, key order, 20000 vs 20000.0, inline vs standard tables: same hash,
    same results."""
    a_path, b_path = write_toml(kv_text, "a.toml"), write_toml(COSMETIC, "b.toml")
    a, b = load_scenario(a_path), load_scenario(b_path)
    assert a.canonical_hash == b.canonical_hash
    out_a = _run(cli, a_path, tmp_path / "a", "--patients", "500", "--trace")
    out_b = _run(cli, b_path, tmp_path / "b", "--patients", "500", "--trace")
    _same_run_files(out_a, out_b)


def test_canonical_hash_changes_with_content(kv_text, edit, write_toml):
    """D6: the hash is not trivially constant: a real change changes it."""
    a = load_scenario(write_toml(kv_text, "a.toml")).canonical_hash
    b = load_scenario(write_toml(edit(kv_text, "rate = 0.10", "rate = 0.11"), "b.toml"))
    assert a != b.canonical_hash


def test_canonical_hash_ignores_order_inside_cost_table(kv_text, edit, write_toml):
    """D6: `cost = { drugs = 1, monitoring = 2 }` and its reordering have one hash."""
    a = edit(kv_text, "cost = { monitoring = 2000 }", "cost = { monitoring = 2000, drugs = 100 }")
    b = edit(kv_text, "cost = { monitoring = 2000 }", "cost = { drugs = 100, monitoring = 2000 }")
    assert load_scenario(write_toml(a, "a.toml")).canonical_hash == \
        load_scenario(write_toml(b, "b.toml")).canonical_hash


def _swap_strategies(text: str) -> str:
    head, rest = text.split("[strategies.immunosuppression]\n", 1)
    is_block, cart_block = rest.split("[strategies.cart]\n", 1)
    return head + "[strategies.cart]\n" + cart_block + "[strategies.immunosuppression]\n" \
        + is_block


def test_run_strategy_order_does_not_matter(kv_text, edit, write_toml, cli, read_csv, tmp_path):
    """D5: strategy tables in another order: identical per-strategy results; the
    comparator follows the rule (immunosuppression when present), not file order."""
    text = edit(kv_text, 'comparator = "immunosuppression"\n', "")
    swapped = _swap_strategies(text)
    assert swapped.index("[strategies.cart]") < swapped.index("[strategies.immunosuppression]")
    a_path, b_path = write_toml(text, "a.toml"), write_toml(swapped, "b.toml")
    assert load_scenario(a_path).canonical_hash == load_scenario(b_path).canonical_hash
    out_a = _run(cli, a_path, tmp_path / "a", "--patients", "500")
    out_b = _run(cli, b_path, tmp_path / "b", "--patients", "500")
    _same_run_files(out_a, out_b)
    rows = _summary(read_csv, out_a)
    assert rows["immunosuppression"]["icer_status"] == "comparator"
    assert rows["cart"]["comparator"] == "immunosuppression"


def test_load_scenario_default_comparator_independent_of_order(kv_text, edit, write_toml):
    """D5: without an 'immunosuppression' strategy the default comparator is the
    alphabetically first strategy, whatever the file order."""
    text = edit(kv_text, 'comparator = "immunosuppression"\n', "")
    for i, variant in enumerate((text, _swap_strategies(text))):
        variant = variant.replace("strategies.immunosuppression", "strategies.usual_care")
        s = load_scenario(write_toml(variant, f"v{i}.toml"))
        assert s.run.comparator == "cart"
        assert s.strategies == ("cart", "usual_care")


def test_canonical_hash_independent_of_file_location(kv_text, write_toml, monkeypatch,
                                                     tmp_path):
    """D6: the hash depends on the content, not on where the file is or the cwd."""
    a = write_toml(kv_text, "x/kv.toml")
    b = write_toml(kv_text, "y/z/other_name.toml")
    monkeypatch.chdir(tmp_path / "x")
    h1 = load_scenario(a).canonical_hash
    monkeypatch.chdir(tmp_path)
    assert h1 == load_scenario(b).canonical_hash
    assert re.fullmatch(r"[0-9a-f]{64}", h1)


# ---------------------------------------------------------------- magnitudes

SIZE = "must be 0 or between 1e-12 and 1e+15 in size"
HUGE = "must be finite (nan, inf and overflowing numbers such as 1e400 are not allowed); " \
    "got 'an integer of 401 digits'"


@pytest.mark.parametrize(("value", "expected"), [
    ("0", None), ("1e-12", None), ("1e15", None), ("1000000000000000", None),
    ("9.99e-13", SIZE), ("1.0001e15", SIZE), ("1e-320", SIZE), ("1e308", SIZE),
    ("1" + "0" * 400, HUGE),
])
def test_load_scenario_numbers_outside_the_sizes_a_model_needs_are_refused(
        value, expected, kv_text, edit, write_toml):
    """G7: 1e308 overflows a model's sums and 1e-320 is infinite when inverted (a rate),
    so non-zero numbers must lie in [1e-12, 1e15] in size; a 400-digit integer is refused
    as overflowing, not by a crash."""
    path = write_toml(edit(kv_text, "product = 350000", f"product = {value}"))
    if expected is None:
        assert load_scenario(path).parameters["strategies.cart.upfront_cost.product"] \
            .value == float(value)
        return
    assert expected in problem_text(problems_of(path), "strategies.cart.upfront_cost.product")
