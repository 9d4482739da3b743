"""The societal perspective: ``[run] perspective = "societal"`` and the optional
``[societal]`` table.

Under the societal perspective two cost categories are added to every strategy
(``SOCIETAL_CATEGORIES``): **productivity** (paid work lost by the patient: the general
population's earnings x employment, times the share lost in the patient's state, while
alive before the retirement age; all of it after an earlier death) and **caregiver** (unpaid
caregiver hours by state, valued at a carer's wage). Their inputs are parameters named
``societal.<key>`` (value, distribution, source, status; drawn in a PSA like any other),
shipped in ``data/societal_us.toml`` and replaced by ``[societal]``. Under any other
perspective they do not exist: no parameters, no columns, no rows.

A perspective is societal when its text has the word "societal", not negated
(``"societal"``, ``"US societal"``; not ``"non-societal"`` or ``"not societal"``); every
other text (``"US healthcare payer"``, ``"NHS and PSS"``) is a healthcare payer's.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Mapping
from importlib import resources
from typing import Any

from cartsim.checks import Problems, join, table, unknown_keys
from cartsim.params.parameter import Parameter, parse_parameter

SHIPPED = "societal_us.toml"
PREFIX = "societal"
KINDS = {
    "earnings": "cost",
    "employment": "probability",
    "retirement_age": "positive",
    "work_loss_active": "probability",
    "work_loss_remission": "probability",
    "caregiver_hours_active": "ratio",
    "caregiver_hours_remission": "ratio",
    "caregiver_wage": "cost",
}


_SOCIETAL = re.compile(
    r"(?<![a-z])(non-?\s*|not\s+|no\s+|without\s+|excluding\s+)?societal(?![a-z])")
"""The word "societal", with the negation before it if there is one."""


def is_societal(perspective: str) -> bool:
    """Whether a run's perspective is societal: the word "societal", not negated.

    >>> is_societal("US societal"), is_societal("US healthcare payer")
    (True, False)
    >>> is_societal("non-societal (payer)"), is_societal("not societal"), is_societal("asocietal")
    (False, False, False)
    """
    found = _SOCIETAL.search(perspective.lower())
    return found is not None and found.group(1) is None


@functools.cache
def _shipped() -> dict[str, Any]:
    text = resources.files("cartsim.data").joinpath(SHIPPED).read_text(encoding="utf-8")
    return tomllib.loads(text)


def parse_societal(raw: Mapping[str, Any], perspective: str, target_year: int,
                   problems: Problems) -> dict[str, Parameter]:
    """The ``societal.*`` parameters under a societal perspective ({} otherwise; a
    ``[societal]`` table under another perspective is a problem)."""
    given = raw.get(PREFIX)
    if not is_societal(perspective):
        if given is not None:
            problems.add(PREFIX, "societal inputs need run.perspective = \"societal\"", None,
                         has_value=False)
        return {}
    spec = table(given if given is not None else {}, PREFIX, problems) or {}
    unknown_keys(spec, KINDS, PREFIX, problems)
    shipped = _shipped()
    out = {}
    for key, kind in KINDS.items():
        name = join(PREFIX, key)
        p = parse_parameter(spec[key], name, kind, problems, target_year=target_year) \
            if key in spec else parse_parameter(shipped[key], name, kind, problems,
                                                 is_default=True, target_year=target_year)
        if p is not None:
            out[name] = p
    return out
