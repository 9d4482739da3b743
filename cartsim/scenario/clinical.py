"""Validation of the clinical model's parameters (``model = "cart_vs_is"``).

Parameters live in top-level tables whose dotted paths are their stable names:
``[car_t.relapse] rate = {...}`` is ``car_t.relapse.rate``. A leaf is a number
or a table with ``value`` or ``dist``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cartsim.checks import Problems, did_you_mean, join, number, text
from cartsim.params.parameter import Parameter, parse_parameter
from cartsim.scenario.clinical_schema import (
    CHOICE_DEFAULTS,
    CLINICAL_PARAMETERS,
    PARAMETER_BY_NAME,
    RELAPSE_MODELS,
    STRUCTURAL_KEYS,
)

DEFAULT_PRICE_YEAR = 2024
"""run.price_year when the file gives none (as in scenario.settings)."""
ROOTS = ("conventional", "mortality", "cancer", "car_t", "costs", "utilities", "qaly_loss")
CATEGORICAL_SETS = (
    ("car_t.crs", ("car_t.crs.grade_1", "car_t.crs.grade_2", "car_t.crs.grade_3")),
    ("car_t.icans", ("car_t.icans.grade_1_2", "car_t.icans.grade_3_4")),
    ("car_t.licats", ("car_t.licats.grade_1", "car_t.licats.grade_2", "car_t.licats.grade_3")),
)


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


def parse_clinical(raw: Mapping[str, Any], problems: Problems
                   ) -> tuple[dict[str, Parameter], dict[str, str]]:
    """Every clinical parameter (defaults filled in) and the structural choices
    (``car_t.relapse.model``, ``utilities.age_adjustment``; defaults filled in)."""
    given = flatten({k: v for k, v in raw.items() if k in ROOTS})
    chosen = dict(CHOICE_DEFAULTS)
    for key, choices in STRUCTURAL_KEYS.items():
        if key in given:
            chosen[key] = text(given.pop(key), key, problems, choices=choices) or chosen[key]
    relapse_model = chosen["car_t.relapse.model"]
    known = [p.name for p in CLINICAL_PARAMETERS] + list(STRUCTURAL_KEYS)
    for key, value in given.items():
        if key not in PARAMETER_BY_NAME:
            problems.add(key, "unknown parameter", value if not isinstance(value, dict) else
                         value.get("value"), did_you_mean(key, known))
    params: dict[str, Parameter] = {}
    missing: list[str] = []
    target_year = run_price_year(raw)
    for definition in CLINICAL_PARAMETERS:
        if definition.name in given:
            p = parse_parameter(given[definition.name], definition.name, definition.kind, problems,
                                target_year=target_year)
        elif definition.default is not None:
            p = parse_parameter(definition.default, definition.name, definition.kind, problems,
                                is_default=True)
        else:
            missing.append(definition.name)
            continue
        if p is not None:
            params[definition.name] = p
    for name in missing:
        problems.missing(name, f"required: {PARAMETER_BY_NAME[name].description}")
    _check_relapse(relapse_model, given, problems)
    for group, names in CATEGORICAL_SETS:
        if all(n in params for n in names):
            total = sum(params[n].value for n in names)
            number(total, f"{group} (sum of {', '.join(n.rsplit('.', 1)[1] for n in names)})",
                   problems, high=1.0, what="a total probability <= 1")
    return params, chosen


def _check_relapse(model: str, given: Mapping[str, Any], problems: Problems) -> None:
    needs = {"weibull": ("car_t.relapse.shape", "car_t.relapse.scale"),
             "cure_fraction": ("car_t.relapse.cure_fraction",),
             "waning": ("car_t.relapse.ramp",)}
    for name in needs.get(model, ()):
        if name not in given:
            problems.missing(name, f"required when car_t.relapse.model = {model!r}")
    assert model in RELAPSE_MODELS
