"""Validation of the clinical model's parameters (``model = "cart_vs_is"``).

Parameters live in top-level tables whose dotted paths are their stable names:
``[car_t.relapse] rate = {...}`` is ``car_t.relapse.rate``. A leaf is a number
or a table with ``value`` or ``dist``. Which parameters are required depends on
the strategies compared (``run.strategies``): those of a strategy not compared
are still checked (a typo is a typo) but left out of the scenario, with a warning.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cartsim.checks import Problems, did_you_mean, join, number, text
from cartsim.params.parameter import Parameter, parse_parameter
from cartsim.scenario.clinical_schema import (
    ALL_PARAMETERS,
    CHOICE_DEFAULTS,
    PARAMETER_BY_NAME,
    RELAPSE_MODELS,
    STRUCTURAL_KEYS,
)
from cartsim.scenario.strategies import DEFAULT_STRATEGIES
from cartsim.scenario.strategy_params import (
    LIBRARY_CATEGORICAL_SETS,
    LIBRARY_ROOTS,
    MAX_COURSES,
)

DEFAULT_PRICE_YEAR = 2024
"""run.price_year when the file gives none (as in scenario.settings)."""
ROOTS = ("conventional", "mortality", "cancer", "car_t", "costs", "utilities", "qaly_loss",
         *LIBRARY_ROOTS)
CATEGORICAL_SETS = (
    ("car_t.crs", ("car_t.crs.grade_1", "car_t.crs.grade_2", "car_t.crs.grade_3")),
    ("car_t.icans", ("car_t.icans.grade_1_2", "car_t.icans.grade_3_4")),
    ("car_t.licats", ("car_t.licats.grade_1", "car_t.licats.grade_2", "car_t.licats.grade_3")),
    *LIBRARY_CATEGORICAL_SETS,
)
"""Probabilities of one chance node's exclusive outcomes (a set is checked and drawn
jointly only when the scenario has all its parameters)."""


def is_leaf(node: Any) -> bool:
    """A parameter leaf: a plain value, or a table with ``value``, or with ``dist``
    but no ``to`` (a custom transition also names its ``dist``, and is not a leaf)."""
    if not isinstance(node, dict):
        return True
    return "value" in node or ("dist" in node and "to" not in node)


def flatten(node: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted name -> leaf for every parameter leaf under ``node``."""
    out: dict[str, Any] = {}
    for key, value in node.items():
        path = join(prefix, key)
        if is_leaf(value):
            out[path] = value
        else:
            out.update(flatten(value, path))
    return out


def run_price_year(raw: Mapping[str, Any]) -> int | None:
    """The run's price year as the file gives it (settings validate it; a value that is not
    a year here leaves costs uninflated, and settings report it)."""
    run = raw.get("run")
    year = run.get("price_year", DEFAULT_PRICE_YEAR) if isinstance(run, dict) else \
        DEFAULT_PRICE_YEAR
    return year if isinstance(year, int) and not isinstance(year, bool) else None


def used_by(strategies_using: tuple[str, ...], strategies: tuple[str, ...]) -> bool:
    """Whether a parameter of ``strategies_using`` (() = every scenario) is needed."""
    return not strategies_using or any(s in strategies for s in strategies_using)


def parse_clinical(raw: Mapping[str, Any], problems: Problems,
                   strategies: tuple[str, ...] = DEFAULT_STRATEGIES
                   ) -> tuple[dict[str, Parameter], dict[str, str], tuple[str, ...]]:
    """Every parameter the compared ``strategies`` use (defaults filled in), the
    structural choices (``car_t.relapse.model``, ``utilities.age_adjustment``; defaults
    filled in) and a warning for each strategy whose parameters the file gives
    although it is not compared (they are checked, then left out)."""
    given = flatten({k: v for k, v in raw.items() if k in ROOTS})
    chosen = dict(CHOICE_DEFAULTS)
    for key, choices in STRUCTURAL_KEYS.items():
        if key in given:
            chosen[key] = text(given.pop(key), key, problems, choices=choices) or chosen[key]
    relapse_model = chosen["car_t.relapse.model"]
    known = [p.name for p in ALL_PARAMETERS] + list(STRUCTURAL_KEYS)
    for key, value in given.items():
        if key not in PARAMETER_BY_NAME:
            problems.add(key, "unknown parameter", value if not isinstance(value, dict) else
                         value.get("value"), did_you_mean(key, known))
    params: dict[str, Parameter] = {}
    missing: list[str] = []
    unused: dict[str, list[str]] = {}
    target_year = run_price_year(raw)
    for definition in ALL_PARAMETERS:
        needed = used_by(definition.strategies, strategies)
        if definition.name in given:
            p = parse_parameter(given[definition.name], definition.name, definition.kind, problems,
                                target_year=target_year)
            if not needed:
                for owner in definition.strategies[:1]:
                    unused.setdefault(owner, []).append(definition.name)
                continue
        elif not needed:
            continue
        elif definition.default is not None:
            p = parse_parameter(definition.default, definition.name, definition.kind, problems,
                                is_default=True)
        else:
            missing.append(definition.name)
            continue
        if p is not None:
            params[definition.name] = p
    for name in missing:
        owners = PARAMETER_BY_NAME[name].strategies
        why = f" by {' and '.join(s for s in owners if s in strategies)} in run.strategies" \
            if owners else ""
        problems.missing(name, f"required{why}: {PARAMETER_BY_NAME[name].description}")
    if "car_t" in strategies:
        _check_relapse(relapse_model, given, problems)
    for group, names in CATEGORICAL_SETS:
        if all(n in params for n in names):
            total = sum(params[n].value for n in names)
            number(total, f"{group} (sum of {', '.join(n.rsplit('.', 1)[1] for n in names)})",
                   problems, high=1.0, what="a total probability <= 1")
    _check_courses(params, problems)
    warnings = tuple(
        f"{owner} is not in run.strategies, so the {len(names)} parameter"
        f"{'s' if len(names) > 1 else ''} of it this file gives ({', '.join(names[:3])}"
        f"{', ...' if len(names) > 3 else ''}) are checked but not used"
        for owner, names in unused.items())
    return params, chosen, warnings


def _check_courses(params: Mapping[str, Parameter], problems: Problems) -> None:
    """The T-cell engager's course limit is a policy: a fixed whole number of courses."""
    name = "t_cell_engager.repeat.max_courses"
    p = params.get(name)
    if p is None:
        return
    fixed = p.distribution is None or p.distribution.name == "fixed"
    if not fixed or p.value != int(p.value) or not 1 <= p.value <= MAX_COURSES:
        problems.add(name, f"must be a fixed whole number of courses from 1 to {MAX_COURSES}",
                     p.given_value, "a policy, not an uncertain quantity: drop the dist")


def _check_relapse(model: str, given: Mapping[str, Any], problems: Problems) -> None:
    needs = {"weibull": ("car_t.relapse.shape", "car_t.relapse.scale"),
             "cure_fraction": ("car_t.relapse.cure_fraction",),
             "waning": ("car_t.relapse.ramp",)}
    for name in needs.get(model, ()):
        if name not in given:
            problems.missing(name, f"required when car_t.relapse.model = {model!r}")
    assert model in RELAPSE_MODELS
