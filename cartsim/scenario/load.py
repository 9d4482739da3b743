"""Read a scenario file: TOML -> merged with what it extends -> overrides -> validated.

Three separate steps, as a reader would check them:

1. **read** - size cap, TOML parse errors with line and column, ``extends``
   chains resolved relative to the file (cycles refused);
2. **override** - ``--set dotted.name=value`` pairs from the command line;
3. **validate and build** - every problem collected, then one ScenarioError.

Nothing from the file is ever executed: strings are labels, never code.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import math
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cartsim.checks import Problems, did_you_mean, text, unknown_keys
from cartsim.errors import Problem, ScenarioError
from cartsim.params.parameter import Parameter
from cartsim.scenario.capacity import parse_capacity
from cartsim.scenario.clinical import CATEGORICAL_SETS, ROOTS, is_leaf, parse_clinical
from cartsim.scenario.clinical_schema import DISEASES, STRATEGIES, STRATEGY_LABELS
from cartsim.scenario.correlations import joint_fingerprint, parse_joint
from cartsim.scenario.custom import check_scheduled_events, parse_custom
from cartsim.scenario.model import CohortSpec, Scenario
from cartsim.scenario.settings import parse_cohort, parse_run

MAX_FILE_BYTES = 1_000_000
MODELS = ("cart_vs_is", "custom")
TOP_KEYS = ("title", "description", "model", "extends", "run", "cohort", "strategies",
            "correlations", "dirichlet", "capacity", *ROOTS)


def _duplicate_key_hint(message: str, text_: str) -> str:
    """Python 3.11's duplicate-key message names no key; find it ourselves."""
    seen: dict[tuple[str, str], int] = {}
    section = ""
    for line_no, line in enumerate(text_.splitlines(), start=1):
        stripped = line.split("#", 1)[0].strip()
        if stripped.startswith("["):
            section = stripped.strip("[]").strip().replace('"', "").replace("'", "")
            continue
        if "=" in stripped:
            key = stripped.split("=", 1)[0].strip().strip("\"'")
            if (section, key) in seen:
                where = f"{section}.{key}" if section else key
                return (f"{message}; duplicate key '{where}' on line {line_no} "
                        f"(first on line {seen[(section, key)]})")
            seen[(section, key)] = line_no
    return message


def read_toml(path: Path) -> dict[str, Any]:
    """Parse one TOML file, refusing files that are too large or malformed."""
    source = str(path)
    try:
        size = path.stat().st_size
    except OSError as err:
        raise ScenarioError(source, [Problem("file", f"cannot read: {err.strerror}", str(path))]) \
            from err
    if size > MAX_FILE_BYTES:
        raise ScenarioError(source, [Problem(
            "file", f"is {size:,} bytes; scenario files are capped at {MAX_FILE_BYTES:,}", size,
            "a scenario should be a few kB; put patient data in a CSV (cohort.file)")])
    raw_bytes = path.read_bytes()
    try:
        content = raw_bytes.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ScenarioError(source, [Problem("file", "is not UTF-8 text", str(err))]) from err
    try:
        return tomllib.loads(content)
    except tomllib.TOMLDecodeError as err:
        msg = _duplicate_key_hint(str(err), content) if "overwrite" in str(err) else str(err)
        raise ScenarioError(source, [Problem("TOML syntax", msg, None, has_value=False)]) from err


def _merge(base: dict[str, Any], child: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge ``child`` into ``base``; parameter leaves are replaced whole."""
    out = copy.deepcopy(base)
    for key, value in child.items():
        old = out.get(key)
        both_tables = isinstance(old, dict) and isinstance(value, dict)
        if both_tables and not is_leaf(value) and not is_leaf(old):
            out[key] = _merge(old, value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def read_with_extends(path: Path, _chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    path = path.resolve()
    if path in _chain:
        cycle = " -> ".join(p.name for p in (*_chain, path))
        raise ScenarioError(str(path), [Problem("extends", f"circular extends: {cycle}", None,
                                                has_value=False)])
    raw = read_toml(path)
    parent = raw.pop("extends", None)
    if parent is None:
        return raw
    if not isinstance(parent, str):
        raise ScenarioError(str(path), [Problem("extends", "must be a file name", parent)])
    parent_path = (path.parent / parent)
    if not parent_path.is_file():
        raise ScenarioError(str(path), [Problem("extends", "file not found", parent,
                                                f"looked for {parent_path}")])
    return _merge(read_with_extends(parent_path, (*_chain, path)), raw)


def parse_override(item: str) -> tuple[str, Any]:
    """``"a.b=0.1"`` -> ("a.b", 0.1); values are TOML literals, else plain text."""
    if "=" not in item:
        raise ScenarioError("--set", [Problem(item, "must look like dotted.name=value", item)])
    key, value_text = (s.strip() for s in item.split("=", 1))
    try:
        value = tomllib.loads(f"v = {value_text}")["v"]
    except tomllib.TOMLDecodeError:
        value = value_text
    return key, value


def apply_overrides(raw: dict[str, Any], overrides: Sequence[tuple[str, Any]]) -> dict[str, Any]:
    """Set each dotted key. On a parameter the point value is replaced and the
    distribution dropped (the parameter is fixed at the new value)."""
    out = copy.deepcopy(raw)
    for key, value in overrides:
        parts = key.split(".")
        node = out
        for part in parts[:-1]:
            nxt = node.get(part)
            if not isinstance(nxt, dict):
                nxt = {}
                node[part] = nxt
            node = nxt
        leaf = node.get(parts[-1])
        if isinstance(leaf, dict) and is_leaf(leaf) and not isinstance(value, dict):
            kept = {k: leaf[k] for k in ("per", "unit") if k in leaf}
            node[parts[-1]] = {"value": value, **kept, "source": "set on the command line"}
        else:
            node[parts[-1]] = value
    return out


def _canonical(scenario_parts: Mapping[str, Any]) -> str:
    def default(obj: Any) -> Any:
        if isinstance(obj, float) and not math.isfinite(obj):
            return str(obj)
        return str(obj)

    text_ = json.dumps(scenario_parts, sort_keys=True, default=default, separators=(",", ":"))
    return hashlib.sha256(text_.encode("utf-8")).hexdigest()


def _param_fingerprint(p: Parameter) -> list[Any]:
    dist = p.distribution
    return [repr(p.value), dist.describe() if dist is not None else None,
            None if p.low is None else repr(p.low), None if p.high is None else repr(p.high)]


def _cohort_fingerprint(cohort: CohortSpec) -> Any:
    if cohort.file is not None:
        return hashlib.sha256(cohort.file.read_bytes()).hexdigest()
    return [repr(g) for g in cohort.groups]


def build_scenario(raw: Mapping[str, Any], source: str, name: str, base_dir: Path,
                   fixed: frozenset[str] = frozenset()) -> Scenario:
    problems = Problems()
    unknown_keys(raw, TOP_KEYS, "", problems)
    model = text(raw.get("model", "cart_vs_is"), "model", problems, choices=MODELS) or "cart_vs_is"
    title = text(raw.get("title", name), "title", problems) or name
    description = text(raw.get("description", ""), "description", problems, max_len=5000) or ""
    relapse_model = "constant"
    choices: dict[str, str] = {}
    custom = {}
    if model == "custom":
        for key in ROOTS:
            if key in raw:
                problems.add(key, "clinical parameters do not apply to model = \"custom\"",
                             None, has_value=False)
        custom, params = parse_custom(raw.get("strategies"), problems)
        strategies = tuple(sorted(custom))
        labels = {k: s.label for k, s in custom.items()}
        groups = None
        sets = tuple(tuple(o.probability for o in ch.outcomes)
                     for st in custom.values() for ch in st.chances.values())
    else:
        if "strategies" in raw:
            problems.add("strategies", "strategy tables need model = \"custom\"", None,
                         did_you_mean("strategies", TOP_KEYS), has_value=False)
        params, choices = parse_clinical(raw, problems)
        relapse_model = choices["car_t.relapse.model"]
        strategies, labels, groups = STRATEGIES, dict(STRATEGY_LABELS), DISEASES
        sets = tuple(names for _, names in CATEGORICAL_SETS)
    run = parse_run(raw.get("run"), name, strategies, problems)
    if custom and run is not None:
        check_scheduled_events(custom, params, run.horizon, problems)
    cohort = parse_cohort(raw.get("cohort"), groups, base_dir, problems)
    joint = parse_joint(raw, params, problems, fixed)
    capacity = parse_capacity(raw, model, problems)
    if problems:
        raise ScenarioError(source, problems)
    fingerprint = {
        "model": model, "relapse_model": relapse_model,
        **({"choices": choices} if choices else {}),
        "run": {k: v for k, v in run.__dict__.items() if k != "output"},
        "cohort": _cohort_fingerprint(cohort), "parameters": {k: _param_fingerprint(p) for k, p in params.items()},
        "custom": {name: dataclasses.asdict(spec) for name, spec in custom.items()},
        **({"joint": joint_fingerprint(joint)} if joint else {}),
        **({"capacity": capacity.fingerprint()} if capacity else {}),
    }
    return Scenario(
        name=name, source=source, title=title, description=description, model=model, run=run,
        cohort=cohort, parameters=params, relapse_model=relapse_model, choices=choices,
        strategies=strategies,
        strategy_labels=labels, custom=custom, canonical_hash=_canonical(fingerprint),
        base_dir=base_dir, probability_sets=sets, joint=joint, capacity=capacity,
    )


def load_scenario(path: str | Path, overrides: Sequence[str] = ()) -> Scenario:
    """Read, merge, override and validate a scenario file.

    Raises
    ------
    ScenarioError
        With every problem found (file, dotted key, value, expectation, hint).
    """
    path = Path(path)
    if not path.is_file():
        raise ScenarioError(str(path), [Problem("file", "not found", str(path))])
    raw = read_with_extends(path)
    pairs = [parse_override(item) for item in overrides]
    raw = apply_overrides(raw, pairs)
    return build_scenario(raw, str(path), path.stem, path.parent.resolve(),
                          frozenset(key for key, _ in pairs))

