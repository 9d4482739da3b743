"""The optional ``[budget]`` table: the settings of `cartsim budget` (a budget impact
analysis after ISPOR's 2014 good practice, Sullivan et al., Value Health 2014;17:5-14)::

    [budget]
    population = "us"                  # a country of the shipped figures, or "plan"
    plan_members = 1_000_000           # members of a plan (population = "plan")
    years = 5                          # horizon, 1-5 years
    uptake = [0.02, 0.04, 0.06, 0.08, 0.10]   # share of the eligible newly treated each year
    mix = { car_t = 1.0 }              # how the newly treated split between new strategies
    [budget.sle]                       # replace a shipped figure for one disease
    prevalence_per_100k = 72.8
    refractory_share = 0.10
    eligible_share = 0.50
    # eligible = 1200                  # or give the eligible patients outright

Everything is optional: without the table the shipped figures (``budget_population.toml``)
and an equal mix of every strategy but the comparator are used. The table changes no
result of `cartsim run`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cartsim.checks import Problems, integer, join, number, table, text, unknown_keys
from cartsim.params.population import FIGURES, population_data

MAX_YEARS = 5
KEYS = ("population", "plan_members", "years", "uptake", "mix", "source", "note")
GROUP_KEYS = (*FIGURES, "eligible", "source")
PLAN = "plan"


@dataclass(frozen=True)
class BudgetSpec:
    population: str = "us"
    plan_members: int = 1_000_000
    years: int = MAX_YEARS
    uptake: tuple[float, ...] | None = None
    """None: the shipped uptake for ``years`` years."""
    mix: Mapping[str, float] | None = None
    """None: equal shares of every strategy but the comparator."""
    groups: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    """Per group, figures replacing the shipped ones (``FIGURES`` or ``eligible``)."""

    def fingerprint(self) -> dict[str, Any]:
        return {"population": self.population, "plan_members": self.plan_members,
                "years": self.years, "uptake": list(self.uptake or ()),
                "mix": dict(self.mix or {}), "groups": {k: dict(v) for k, v in
                                                       self.groups.items()}}


def parse_budget(raw: Mapping[str, Any], strategies: tuple[str, ...], comparator: str,
                 groups: tuple[str, ...] | None, problems: Problems) -> BudgetSpec | None:
    """The ``[budget]`` table (None without one). ``groups``: the model's patient groups
    (None: a custom model, whose one group is "all")."""
    if "budget" not in raw:
        return None
    spec = table(raw["budget"], "budget", problems) or {}
    names = groups if groups is not None else ("all",)
    unknown_keys(spec, (*KEYS, *names), "budget", problems)
    data = population_data()
    population = text(spec.get("population", "us"), "budget.population", problems,
                      choices=(*data.countries, PLAN)) or "us"
    members = integer(spec.get("plan_members", 1_000_000), "budget.plan_members", problems,
                      low=1, high=10_000_000_000) or 1
    years = integer(spec.get("years", MAX_YEARS), "budget.years", problems, low=1,
                    high=MAX_YEARS) or MAX_YEARS
    uptake = None
    if "uptake" in spec:
        uptake = _uptake(spec["uptake"], years, problems)
    mix = None
    if "mix" in spec:
        mix = _mix(spec["mix"], strategies, comparator, problems)
    figures: dict[str, dict[str, float]] = {}
    for g in names:
        if g not in spec:
            continue
        path = join("budget", g)
        entry = table(spec[g], path, problems) or {}
        unknown_keys(entry, GROUP_KEYS, path, problems)
        values: dict[str, float] = {}
        for key in (*FIGURES, "eligible"):
            if key not in entry:
                continue
            high = None if key in ("prevalence_per_100k", "eligible") else 1.0
            x = number(entry[key], join(path, key), problems, low=0.0, high=high)
            if x is not None:
                values[key] = x
        figures[g] = values
    if groups is None and "eligible" not in figures.get("all", {}):
        problems.add("budget.all.eligible", "a custom model has no shipped disease figures: "
                     "give the eligible patients ([budget.all] eligible = N)", None,
                     has_value=False)
    return BudgetSpec(population, members, years, uptake, mix, figures)


def _uptake(raw: Any, years: int, problems: Problems) -> tuple[float, ...] | None:
    if not isinstance(raw, list) or len(raw) != years:
        problems.add("budget.uptake", f"must be a list of {years} shares (one per year of "
                     "budget.years)", raw)
        return None
    out = [number(x, f"budget.uptake[{i}]", problems, low=0.0, high=1.0,
                  what="a share in [0, 1]") for i, x in enumerate(raw)]
    if any(x is None for x in out):
        return None
    shares = tuple(float(x) for x in out if x is not None)
    if math.fsum(shares) > 1.0 + 1e-9:
        problems.add("budget.uptake", "the shares newly treated add up to more than 1 (no "
                     "patient is treated twice)", raw)
    return shares


def _mix(raw: Any, strategies: tuple[str, ...], comparator: str,
         problems: Problems) -> dict[str, float] | None:
    spec = table(raw, "budget.mix", problems)
    if spec is None:
        return None
    new = tuple(s for s in strategies if s != comparator)
    unknown_keys(spec, new, "budget.mix", problems)
    out = {}
    for s, x in spec.items():
        v = number(x, join("budget.mix", s), problems, low=0.0, high=1.0,
                   what="a share in [0, 1]")
        if v is not None and s in new:
            out[s] = v
    if out and not math.isclose(math.fsum(out.values()), 1.0, abs_tol=1e-9):
        problems.add("budget.mix", "the shares must add up to 1", raw)
    if spec and not out:
        return None
    return out
