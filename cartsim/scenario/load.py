"""Read a scenario file: TOML -> merged with what it extends -> overrides -> validated.

Three separate steps, as a reader would check them:

1. **read** (:mod:`cartsim.scenario.read`) - size, encoding and nesting caps,
   TOML parse errors with line and column, ``extends`` chains resolved relative
   to each file and merged by the rules of :mod:`cartsim.scenario.merge`;
2. **override** - ``--set dotted.name=value`` pairs from the command line;
3. **validate and build** - every problem collected, then one ScenarioError;
   a valid scenario carries the warnings its merges deserve.

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
from cartsim.params.draws import JointSpec
from cartsim.params.parameter import Parameter
from cartsim.scenario.budget import parse_budget
from cartsim.scenario.capacity import parse_capacity
from cartsim.scenario.clinical import (
    CATEGORICAL_SETS,
    ROOTS,
    is_leaf,
    parse_clinical,
    run_price_year,
)
from cartsim.scenario.clinical_schema import PARAMETER_BY_NAME
from cartsim.scenario.correlations import joint_fingerprint, parse_joint
from cartsim.scenario.custom import check_scheduled_events, parse_custom
from cartsim.scenario.merge import MergeNote, merge_warnings
from cartsim.scenario.model import CohortSpec, CustomStrategy, Scenario
from cartsim.scenario.param_def import DISEASES
from cartsim.scenario.payment import parse_payment
from cartsim.scenario.read import (
    MAX_FILE_BYTES,
    MAX_NESTING,
    check_nesting,
    read_toml,
    read_with_extends,
)
from cartsim.scenario.settings import parse_cohort, parse_run
from cartsim.scenario.societal import parse_societal
from cartsim.scenario.strategies import (
    DEFAULT_STRATEGIES,
    LIBRARY,
    allowed_groups,
    check_strategy_groups,
    parse_strategies,
)
from cartsim.scenario.structural import parse_structural, structural_fingerprint

__all__ = ["MAX_FILE_BYTES", "apply_overrides", "build_scenario", "example_scenario",
           "load_scenario", "parse_override", "read_toml", "read_with_extends"]
MODELS = ("cart_vs_is", "custom")
TOP_KEYS = ("title", "description", "model", "extends", "run", "cohort", "strategies",
            "correlations", "dirichlet", "capacity", "payment", "budget", "societal",
            "structural", *ROOTS)


def parse_override(item: str) -> tuple[str, Any]:
    """``"a.b=0.1"`` -> ("a.b", 0.1); values are TOML literals, else plain text."""
    if "=" not in item:
        raise ScenarioError("--set", [Problem(item, "must look like dotted.name=value", item)])
    key, value_text = (s.strip() for s in item.split("=", 1))
    if key.split(".", 1)[0] == "extends":
        raise ScenarioError("--set", [Problem(key, "cannot be set on the command line (the "
                                              "parent is read before any --set applies)",
                                              value_text, "write extends in a scenario file")])
    if key.count(".") >= MAX_NESTING:
        raise ScenarioError("--set", [Problem(key[:80] + "...", f"has more than {MAX_NESTING} "
                                              "dotted parts", None, has_value=False)])
    try:
        value = tomllib.loads(f"v = {value_text}")["v"]
    except tomllib.TOMLDecodeError:
        value = value_text
    except RecursionError as err:
        raise ScenarioError("--set", [Problem(key, f"the value nests more than {MAX_NESTING} "
                                              "levels deep", None, has_value=False)]) from err
    check_nesting({key: value}, "--set")
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
    # dist = "fixed" is the point mass a parameter without a distribution has: same hash.
    dist = p.distribution if p.distribution is None or p.distribution.name != "fixed" else None
    return [repr(p.value), dist.describe() if dist is not None else None,
            None if p.low is None else repr(p.low), None if p.high is None else repr(p.high)]


def _cohort_fingerprint(cohort: CohortSpec, source: str) -> Any:
    if cohort.file is not None:
        try:
            return hashlib.sha256(cohort.file.read_bytes()).hexdigest()
        except OSError as err:
            raise ScenarioError(source, [Problem("cohort.file", f"cannot read: {err.strerror}",
                                                 str(cohort.file))]) from err
    return [repr(g) for g in cohort.groups]


def _independent_sets(sets: tuple[tuple[str, ...], ...], params: Mapping[str, Parameter],
                      joint: JointSpec) -> tuple[str, ...]:
    """A warning for each set of exclusive outcomes (CRS grades...) with two or more
    uncertain probabilities that no [[dirichlet]] draws together."""
    together = [set(d.names) for d in joint.dirichlet]
    out = []
    for names in sets:
        dists = [params[n].distribution for n in names if n in params]
        uncertain = [d for d in dists if d is not None and d.name != "fixed"]
        if len(uncertain) >= 2 and not any(set(names) <= block for block in together):
            out.append(f"{', '.join(names)} are the exclusive outcomes of one chance node "
                       "but no [[dirichlet]] draws them together: a PSA draws them "
                       "independently and rescales a draw whose sum passes 1. Declare them "
                       "in one [[dirichlet]] table (a variant's [[dirichlet]] list replaces "
                       "its parent's whole).")
    return tuple(out)


def build_scenario(raw: Mapping[str, Any], source: str, name: str, base_dir: Path,
                   fixed: frozenset[str] = frozenset(),
                   notes: Mapping[str, MergeNote] | None = None) -> Scenario:
    """Validate merged tables into a Scenario. ``fixed``: names set by --set; ``notes``:
    what merging the ``extends`` chain did that may deserve a warning."""
    problems = Problems()
    unknown_keys(raw, TOP_KEYS, "", problems)
    model = text(raw.get("model", "cart_vs_is"), "model", problems, choices=MODELS) or "cart_vs_is"
    title = text(raw.get("title", name), "title", problems) or name
    description = text(raw.get("description", ""), "description", problems, max_len=5000) or ""
    relapse_model = "constant"
    choices: dict[str, str] = {}
    custom: dict[str, CustomStrategy] = {}
    warnings: tuple[str, ...] = ()
    if model == "custom":
        for key in ROOTS:
            if key in raw:
                problems.add(key, "clinical parameters do not apply to model = \"custom\"",
                             None, has_value=False)
        run_raw = raw.get("run")
        if isinstance(run_raw, dict) and "strategies" in run_raw:
            problems.add("run.strategies", "chooses from the clinical model's library; a "
                         "custom model's strategies are its [strategies] tables",
                         run_raw["strategies"])
        custom, params = parse_custom(raw.get("strategies"), problems, run_price_year(raw))
        strategies = tuple(sorted(custom))
        labels = {k: s.label for k, s in custom.items()}
        groups = file_groups = None
        sets = tuple(tuple(o.probability for o in ch.outcomes)
                     for st in custom.values() for ch in st.chances.values())
    else:
        if "strategies" in raw:
            problems.add("strategies", "strategy tables need model = \"custom\"", None,
                         did_you_mean("strategies", TOP_KEYS), has_value=False)
        strategies = parse_strategies(raw.get("run"), problems)
        params, choices, warnings = parse_clinical(raw, problems, strategies)
        relapse_model = choices["car_t.relapse.model"]
        labels = {s: LIBRARY[s].label for s in strategies}
        groups, file_groups = DISEASES, allowed_groups(strategies)
        sets = tuple(names for _, names in CATEGORICAL_SETS if all(n in params for n in names))
    run = parse_run(raw.get("run"), name, strategies, problems)
    params.update(parse_societal(raw, run.perspective, run.price_year, problems))
    if custom and run is not None:
        check_scheduled_events(custom, params, run.horizon, problems)
    cohort = parse_cohort(raw.get("cohort"), groups, base_dir, problems)
    if cohort.file is not None and file_groups is not None:
        # A file's disease column may name only groups every compared strategy allows.
        cohort = dataclasses.replace(cohort, file_groups=file_groups)
    elif model != "custom":
        check_strategy_groups(strategies, cohort, problems)
    unused = frozenset(PARAMETER_BY_NAME) - set(params) if model != "custom" else frozenset()
    joint = parse_joint(raw, params, problems, fixed, unused)
    if model != "custom":
        warnings += _independent_sets(sets, params, joint)
    jointly = joint.members() | {n for names in sets for n in names}
    structural, dropped = parse_structural(raw.get("structural"), params, choices, problems,
                                           fixed=fixed, jointly=jointly,
                                           target_year=run_price_year(raw), unused=unused)
    warnings += dropped
    capacity = parse_capacity(raw, model, problems)
    if capacity is not None and not {"immunosuppression", "car_t"} <= set(strategies):
        problems.add("capacity", "a capacity analysis compares car_t with immunosuppression: "
                     "both must be in run.strategies", list(strategies))
    priced = ({s: any("product" in e.costs for e in spec.events.values())
               for s, spec in custom.items()} if model == "custom"
              else {s: LIBRARY[s].price is not None for s in strategies})
    payment = parse_payment(raw, strategies, priced, problems)
    budget = parse_budget(raw, strategies, run.comparator if run is not None else "",
                          DISEASES if model != "custom" else None, problems)
    if problems:
        raise ScenarioError(source, problems)
    fingerprint = {
        "model": model, "relapse_model": relapse_model,
        # Named only when not the default, so every file written before strategies could
        # be chosen keeps its hash.
        **({"strategies": list(strategies)}
           if model != "custom" and strategies != DEFAULT_STRATEGIES else {}),
        **({"choices": choices} if choices else {}),
        "run": {k: v for k, v in run.__dict__.items() if k != "output"},
        "cohort": _cohort_fingerprint(cohort, source),
        "parameters": {k: _param_fingerprint(p) for k, p in params.items()},
        "custom": {name: dataclasses.asdict(spec) for name, spec in custom.items()},
        **({"joint": joint_fingerprint(joint)} if joint else {}),
        **({"capacity": capacity.fingerprint()} if capacity else {}),
        **({"payment": {k: [t.fingerprint() for t in v] for k, v in payment.items()}}
           if payment else {}),
        **({"budget": budget.fingerprint()} if budget else {}),
        **({"structural": structural_fingerprint(structural)} if structural else {}),
    }
    return Scenario(
        name=name, source=source, title=title, description=description, model=model, run=run,
        cohort=cohort, parameters=params, relapse_model=relapse_model, choices=choices,
        strategies=strategies,
        strategy_labels=labels, custom=custom, canonical_hash=_canonical(fingerprint),
        base_dir=base_dir, probability_sets=sets, joint=joint, capacity=capacity,
        payment=payment, budget=budget, structural=structural,
        warnings=merge_warnings(notes or {}, params, fixed) + warnings,
    )


def load_scenario(path: str | Path, overrides: Sequence[str] = ()) -> Scenario:
    """Read, merge, override and validate a scenario file.

    ``overrides`` are ``--set NAME=VALUE`` items, applied after the ``extends`` chain;
    a parameter set this way is fixed at that value.

    Raises
    ------
    ScenarioError
        With every problem found (file, dotted key, value, expectation, hint).

    Examples
    --------
    >>> s = load_scenario("scenarios/base.toml", ["car_t.relapse.rate=0.1"])
    >>> s.parameters["car_t.relapse.rate"].value, s.parameters["car_t.relapse.rate"].source
    (0.1, 'set on the command line')
    """
    path = Path(path)
    raw, notes = read_with_extends(path)
    pairs = [parse_override(item) for item in overrides]
    raw = apply_overrides(raw, pairs)
    scenario = build_scenario(raw, str(path), path.stem, path.parent.resolve(),
                              frozenset(key for key, _ in pairs), notes)
    return dataclasses.replace(scenario, overrides=tuple(overrides))


EXAMPLE = "example.toml"
"""A tiny custom-model scenario shipped for examples and doctests (cartsim/data)."""


def example_scenario(overrides: Sequence[str] = ()) -> Scenario:
    """The shipped example: two strategies with constant hazards, 1,000 patients.

    A custom model small enough to run in a blink, for examples and notebooks.

    >>> s = example_scenario(["run.patients=50"])
    >>> s.name, s.strategies, s.run.patients, s.overrides
    ('example', ('cart', 'immunosuppression'), 50, ('run.patients=50',))
    """
    return load_scenario(Path(__file__).resolve().parents[1] / "data" / EXAMPLE, overrides)

