"""A generated corpus of malformed inputs, each through `cartsim check` AND `cartsim run`
as users run them (VERIFICATION.md group G, issue 10).

For every case both commands must give the same verdict, word for word: exit code 2,
a message naming the file at fault and the key (or line and column), no traceback,
and nothing written. The corpus is built from the KV-REF scenario: every number in
it replaced by each of a dozen bad values; truncated, binary, non-UTF-8 and deeply
nested files; broken and cyclic ``extends`` chains; and every kind of broken cohort
CSV and life table. A few hundred cases, each a few milliseconds.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cartsim.scenario.read import MAX_EXTENDS
from tests.conftest import KV_REF

SCENARIO = "kv.toml"
DIRECTORY = object()
"""As a file's content: make a directory of that name instead."""


@dataclass(frozen=True)
class Case:
    """Files to write (name -> text, bytes or DIRECTORY), and what the message must name."""

    name: str
    files: dict[str, object]
    names_file: str
    names_key: str
    run_args: tuple[str, ...] = ("--patients", "5")
    extra: dict[str, object] = field(default_factory=dict)


def _numbers() -> list[tuple[str, int, str]]:
    """(dotted key, the line of KV-REF that sets it, how to write a new value there)
    for every number of KV-REF. The template has {v} where the value goes."""
    out = []
    section = ""
    for i, line in enumerate(KV_REF.splitlines()):
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, rest = (s.strip() for s in line.partition("="))
        if rest.startswith("{"):
            inner = rest.strip("{} ").partition("=")[0].strip()
            out.append((f"{section}.{key}.{inner}", i, f"{key} = {{{{ {inner} = {{v}} }}}}"))
        elif re.fullmatch(r"-?[\d.]+", rest):
            out.append((f"{section}.{key}" if section else key, i, f"{key} = {{v}}"))
        elif rest.startswith("[") and section == "run":
            out.append((f"{section}.{key}.0", i, f"{key} = [{{v}}, 100000]"))
    return out


BAD_VALUES = ("nan", "inf", "-inf", "1e400", "1e308", "1e-320", "1" + "0" * 400, "true",
              '"0.5"', "[0.5]", "-5", "{ }", '{ value = "x" }', "{ valeu = 0.1 }",
              '"£20,000"', "1979-05-27")
"""Wrong for every number KV-REF holds (a utility may be negative, but not below -1; no
number is 1e308 or 1e-320 in size, whose sums or inverses overflow)."""


def value_cases() -> list[Case]:
    cases = []
    lines = KV_REF.splitlines()
    for key, i, template in _numbers():
        for bad in BAD_VALUES:
            text = "\n".join([*lines[:i], template.format(v=bad), *lines[i + 1:]]) + "\n"
            cases.append(Case(f"{key}={bad[:20]}", {SCENARIO: text}, SCENARIO, key))
    return cases


def _cut_inside(text: str, token: str) -> str:
    at = text.index(token) + len(token) // 2
    return text[:at]


def file_cases() -> list[Case]:
    deep = "x = " + "[" * 600 + "]" * 600 + "\n"
    return [
        Case("truncated header", {SCENARIO: _cut_inside(KV_REF, "[strategies.cart.chances")},
             SCENARIO, "TOML syntax"),
        Case("truncated string", {SCENARIO: _cut_inside(KV_REF, '"infusion"')}, SCENARIO,
             "TOML syntax"),
        Case("truncated inline table", {SCENARIO: _cut_inside(KV_REF, "{ drugs = 20000 }")},
             SCENARIO, "TOML syntax"),
        Case("unclosed table", {SCENARIO: KV_REF.replace("[run]", "[run", 1)}, SCENARIO,
             "TOML syntax"),
        Case("duplicate key", {SCENARIO: KV_REF.replace("seed = 7", "seed = 7\nseed = 8", 1)},
             SCENARIO, "run.seed"),
        Case("latin-1 text", {SCENARIO: KV_REF.replace('model = "custom"', 'title = "Müller"\n'
                                                        'model = "custom"').encode("latin-1")},
             SCENARIO, "not UTF-8"),
        Case("utf-16 text", {SCENARIO: KV_REF.encode("utf-16")}, SCENARIO, "UTF-16"),
        Case("binary", {SCENARIO: bytes(range(256)) * 4}, SCENARIO, "not UTF-8"),
        Case("NUL bytes", {SCENARIO: KV_REF.replace("[run]", "[run]\x00", 1)}, SCENARIO,
             "NUL byte"),
        Case("empty", {SCENARIO: ""}, SCENARIO, "missing"),
        Case("arrays 600 deep", {SCENARIO: deep}, SCENARIO, "levels deep"),
        Case("inline tables 600 deep", {SCENARIO: "x = " + "{a = " * 600 + "1" + "}" * 600},
             SCENARIO, "levels deep"),
        Case("arrays 100 deep", {SCENARIO: "x = " + "[" * 100 + "]" * 100 + "\n"}, SCENARIO,
             "x.0.0.0"),
        Case("3000-part dotted key", {SCENARIO: ".".join(["a"] * 3000) + " = 1\n"}, SCENARIO,
             "a.a.a.a"),
        Case("3000-part table header", {SCENARIO: "[" + ".".join(["b"] * 3000) + "]\nx = 1\n"},
             SCENARIO, "b.b.b.b"),
    ]


def _chain(n: int, last: str = 'model = "custom"\n') -> dict[str, object]:
    files: dict[str, object] = {SCENARIO: 'extends = "c1.toml"\n'}
    files.update({f"c{k}.toml": f'extends = "c{k + 1}.toml"\n' for k in range(1, n)})
    files[f"c{n}.toml"] = last
    return files


def extends_cases() -> list[Case]:
    child = 'extends = "parent.toml"\n[run]\nseed = 3\n'
    return [
        Case("extends itself", {SCENARIO: 'extends = "kv.toml"\n'}, SCENARIO, "circular"),
        Case("extends cycle of 2", {SCENARIO: 'extends = "b.toml"\n', "b.toml":
                                    'extends = "kv.toml"\n'}, "b.toml", "circular"),
        Case("extends cycle of 3", {SCENARIO: 'extends = "b.toml"\n',
                                    "b.toml": 'extends = "c.toml"\n',
                                    "c.toml": 'extends = "b.toml"\n'}, "c.toml", "circular"),
        Case("extends chain of 1000", _chain(1000), SCENARIO, "extends"),
        Case(f"extends chain of {MAX_EXTENDS + 1}", _chain(MAX_EXTENDS), SCENARIO, "extends"),
        Case("extends a missing file", {SCENARIO: child}, SCENARIO, "extends: file not found"),
        Case("extends a directory", {SCENARIO: child, "parent.toml": DIRECTORY}, SCENARIO,
             "extends: is a directory"),
        Case("extends a binary file", {SCENARIO: child, "parent.toml": b"\x89PNG\r\n\x1a\n\xff"},
             SCENARIO, "extends: is not UTF-8"),
        Case("extends a broken file", {SCENARIO: child, "parent.toml": "[run\n"},
             "parent.toml", "TOML syntax"),
        Case("extends a number", {SCENARIO: "extends = 5\n"}, SCENARIO, "extends"),
        Case("extends nothing", {SCENARIO: 'extends = ""\n'}, SCENARIO, "extends"),
        Case("extends a deep parent", {SCENARIO: child, "parent.toml": "x = " + "[" * 50 +
                                       "]" * 50}, "parent.toml", "levels deep"),
    ]


COHORT_SCENARIO = KV_REF.replace("[strategies.immunosuppression]\n",
                                 '[cohort]\nfile = "people.csv"\n[strategies.immunosuppression]\n')
GOOD_PEOPLE = "patient_id,age,sex\n1,40,female\n2,55,male\n"
BAD_PEOPLE = {
    "empty": ("", "rows"),
    "blank lines": ("\n\n  \n", "rows"),
    "header only": ("patient_id,age,sex\n", "rows"),
    "no age column": ("patient_id,sex\n1,female\n", "missing column(s) age"),
    "no sex column": ("patient_id,age\n1,40\n", "missing column(s) sex"),
    "misspelt column": ("patient_id,agee,sex\n1,40,f\n", "did you mean 'age'"),
    "duplicate column": ("patient_id,age,age,sex\n1,40,40,f\n", "appears twice"),
    "age nan": ("patient_id,age,sex\n1,nan,f\n", "line 2.age"),
    "age inf": ("patient_id,age,sex\n1,inf,f\n", "line 2.age"),
    "age -5": ("patient_id,age,sex\n1,-5,f\n", "line 2.age"),
    "age 250": ("patient_id,age,sex\n1,250,f\n", "line 2.age"),
    "age in months": ("patient_id,age,sex\n1,480,f\n", "line 2.age"),
    "age text": ("patient_id,age,sex\n1,forty,f\n", "line 2.age"),
    "age empty": ("patient_id,age,sex\n1,,f\n", "line 2.age"),
    "sex other": ("patient_id,age,sex\n1,40,other\n", "line 2.sex"),
    "sex empty": ("patient_id,age,sex\n1,40,\n", "line 2.sex"),
    "duplicate id": (GOOD_PEOPLE + "1,30,f\n", "line 4.patient_id"),
    "empty id": ("patient_id,age,sex\n,40,f\n", "line 2.patient_id"),
    "short row": (GOOD_PEOPLE + "3,40\n", "line 4: has 2 fields"),
    "long row": (GOOD_PEOPLE + "3,40,f,extra\n", "line 4: has 4 fields"),
    "comment then bad": ("# people\npatient_id,age,sex\n1,40,x\n", "line 3.sex"),
    "latin-1": ("patient_id,age,sex\nMüller,40,f\n".encode("latin-1"), "not UTF-8"),
    "utf-16": (GOOD_PEOPLE.encode("utf-16"), "UTF-16"),
    "NUL bytes": (GOOD_PEOPLE.replace("40", "4\x000"), "NUL byte"),
    "binary": (bytes(range(256)), "not UTF-8"),
    "a directory": (DIRECTORY, "cohort.file: is a directory"),
    "every row bad": ("patient_id,age,sex\n" + "".join(f"{i},x,y\n" for i in range(100)),
                      "more problems in later lines"),
}


def cohort_cases() -> list[Case]:
    cases = []
    for name, (content, key) in BAD_PEOPLE.items():
        named = SCENARIO if content is DIRECTORY else "people.csv"
        cases.append(Case(f"cohort {name}", {SCENARIO: COHORT_SCENARIO, "people.csv": content},
                          named, key, run_args=()))
    cases.append(Case("cohort file missing", {SCENARIO: COHORT_SCENARIO}, SCENARIO,
                      "cohort.file: file not found", run_args=()))
    return cases


TABLE_SCENARIO = KV_REF.replace('life_table = "none"', 'life_table = "table.csv"').replace(
    "death = { rate = 0.04 }", "death = { rate = 0.04, life_table = 1.0 }")
HEADER = "age,qx_female,qx_male\n"
ROWS = "".join(f"{a},0.01,0.02\n" for a in range(100))
BAD_TABLES = {
    "empty": ("", "rows"),
    "header only": (HEADER, "rows"),
    "no qx_male column": ("age,qx_female\n0,0.1\n", "missing column(s) qx_male"),
    "q above 1": (HEADER + "0,0.01,0.02\n1,1.5,0.02\n", "line 3.qx_female"),
    "q negative": (HEADER + "0,-0.01,0.02\n", "line 2.qx_female"),
    "q nan": (HEADER + "0,nan,0.02\n", "line 2.qx_female"),
    "q inf": (HEADER + "0,0.01,inf\n", "line 2.qx_male"),
    "q text": (HEADER + "0,0.01,high\n", "line 2.qx_male"),
    "q = 1 below the last age": (HEADER + ROWS.replace("2,0.01,0.02", "2,1,1"),
                                 "line 4.qx_female: is 1"),
    "q = 1 on the last row for one sex": (HEADER + ROWS.replace("99,0.01,0.02", "99,1,0.5"),
                                          "for one sex only"),
    "ages from 1": (HEADER + "1,0.01,0.02\n", "line 2.age"),
    "age gap": (HEADER + "0,0.01,0.02\n2,0.01,0.02\n", "line 3.age"),
    "age repeated": (HEADER + "0,0.01,0.02\n0,0.01,0.02\n", "line 3.age"),
    "age not whole": (HEADER + "0.5,0.01,0.02\n", "line 2.age"),
    "ragged row": (HEADER + "0,0.01\n", "line 2: has 2 fields"),
    "latin-1": ((HEADER + "0,0.01,0.02 # é\n").encode("latin-1"), "not UTF-8"),
    "binary": (b"\x00\x01\x02\xff" * 64, "not UTF-8"),
    "NUL bytes": (HEADER + "0,0.0\x001,0.02\n", "NUL byte"),
    "a directory": (DIRECTORY, "run.life_table: is a directory"),
    "ends before the cohort's age": (HEADER + "".join(f"{a},0.01,0.02\n" for a in range(30)),
                                     "cohort.age.value"),
}


def table_cases() -> list[Case]:
    cases = []
    for name, (content, key) in BAD_TABLES.items():
        named = SCENARIO if key.startswith("cohort.") else "table.csv"
        scenario = TABLE_SCENARIO.replace("[strategies.immunosuppression]\n",
                                          "[cohort]\nage = 40\n[strategies.immunosuppression]\n")
        cases.append(Case(f"life table {name}", {SCENARIO: scenario, "table.csv": content},
                          named, key))
    return cases


CORPUS = value_cases() + file_cases() + extends_cases() + cohort_cases() + table_cases()


def test_the_corpus_is_large_and_its_cases_distinct():
    assert len(CORPUS) >= 250
    assert len({c.name for c in CORPUS}) == len(CORPUS)


def _write(folder: Path, files: dict[str, object]) -> None:
    for name, content in files.items():
        path = folder / name
        if content is DIRECTORY:
            path.mkdir()
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(str(content), encoding="utf-8")


@pytest.mark.parametrize("case", CORPUS, ids=[c.name for c in CORPUS])
def test_check_and_run_refuse_alike(case: Case, cli: Callable, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path, case.files)
    monkeypatch.chdir(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    checked = cli(["check", SCENARIO])
    ran = cli(["run", SCENARIO, *case.run_args, "--out", "out"])
    for result in (checked, ran):
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output and "Internal error" not in result.output
        assert result.stderr.startswith("Error: ") and result.stdout == ""
        assert case.names_file in result.stderr, result.stderr
        assert case.names_key in result.stderr, result.stderr
    assert checked.stderr == ran.stderr
    assert sorted(tmp_path.rglob("*")) == before         # nothing written, not even results/
