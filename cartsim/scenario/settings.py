"""Validation of the ``[run]`` and ``[cohort]`` tables of a scenario."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from cartsim.checks import (
    Problems,
    did_you_mean,
    integer,
    join,
    number,
    table,
    text,
    unknown_keys,
)
from cartsim.limits import MAX_PATIENTS
from cartsim.scenario.clinical_schema import DISEASE_ALIASES, disease_hint
from cartsim.scenario.model import (
    LIFETIME,
    AgeSpec,
    CohortSpec,
    CostConversion,
    GroupSpec,
    RunSettings,
)

MAX_DISCOUNT = 0.2
RUN_KEYS = ("patients", "seed", "horizon", "discount", "currency", "price_year", "perspective",
            "wtp", "comparator", "strategies", "life_table", "output", "cost_conversion")
DEFAULT_WTP = (50_000.0, 100_000.0, 150_000.0)


def _discount(raw: Any, problems: Problems) -> tuple[float, float, str]:
    path = "run.discount"
    if is_plain := not isinstance(raw, dict):
        raw = {"costs": raw, "outcomes": raw}
    unknown_keys(raw, ("costs", "outcomes", "convention"), path, problems)
    rates = []
    for key in ("costs", "outcomes"):
        where = path if is_plain else join(path, key)
        value = raw.get(key, 0.03)
        hint = None
        if isinstance(value, int | float) and not isinstance(value, bool) and 1 <= value <= 20:
            hint = f"discount is a fraction per year: did you mean {value / 100:g}?"
        rates.append(number(value, where, problems, low=0.0, high=MAX_DISCOUNT,
                            what=f"a fraction in [0, {MAX_DISCOUNT}]", hint=hint))
    convention = text(raw.get("convention", "annual"), join(path, "convention"), problems,
                      choices=("annual", "continuous")) or "annual"
    return rates[0] or 0.0, rates[1] or 0.0, convention


def _horizon(raw: Any, problems: Problems) -> float:
    if raw == "lifetime":
        return LIFETIME
    if isinstance(raw, str):
        problems.add("run.horizon", 'must be "lifetime" or a number of years', raw)
        return LIFETIME
    value = number(raw, "run.horizon", problems, low=0.0, high=10_000.0,
                   what='"lifetime" or a number of years')
    return LIFETIME if value is None else value


def _output(raw: Any, default: str, problems: Problems) -> str:
    value = text(raw if raw is not None else default, "run.output", problems, max_len=100)
    if value is None:
        return default
    if (not value or value.startswith(".") or any(c in value for c in "/\\:")
            or ".." in value or not value.isprintable()):
        problems.add("run.output", "must be a plain folder name inside results/ (no paths)",
                     value, "a scenario file cannot write outside results/; "
                     "use the --out option to choose another folder")
        return default
    return value


def parse_run(raw: Any, scenario_name: str, strategies: tuple[str, ...],
              problems: Problems) -> RunSettings:
    run = table(raw if raw is not None else {}, "run", problems) or {}
    unknown_keys(run, RUN_KEYS, "run", problems)
    patients = integer(run.get("patients", 1000), "run.patients", problems, low=1,
                       high=MAX_PATIENTS)
    seed = integer(run.get("seed", 20240601), "run.seed", problems, low=0, high=2**63 - 1)
    costs, outcomes, convention = _discount(run.get("discount", 0.03), problems)
    wtp_raw = run.get("wtp", list(DEFAULT_WTP))
    wtp: list[float] = []
    if not isinstance(wtp_raw, list) or not wtp_raw:
        problems.add("run.wtp", "must be a list of willingness-to-pay values per QALY", wtp_raw)
    else:
        for i, value in enumerate(wtp_raw):
            x = number(value, f"run.wtp.{i}", problems, low=0.0, what="an amount >= 0")
            if x is not None:
                wtp.append(x)
    comparator = run.get("comparator")
    if comparator is None:
        comparator = "immunosuppression" if "immunosuppression" in strategies else \
            (min(strategies) if strategies else "")
    elif text(comparator, "run.comparator", problems, choices=strategies) is None:
        comparator = strategies[0] if strategies else ""
    conversion = None
    if "cost_conversion" in run:
        conv = table(run["cost_conversion"], "run.cost_conversion", problems) or {}
        unknown_keys(conv, ("factor", "currency", "price_year", "source"), "run.cost_conversion",
                     problems)
        factor = number(conv.get("factor"), "run.cost_conversion.factor", problems, low=0.0,
                        low_open=True, what="a conversion factor > 0")
        cur = text(conv.get("currency"), "run.cost_conversion.currency", problems, max_len=10)
        year = integer(conv.get("price_year"), "run.cost_conversion.price_year", problems,
                       low=1900, high=2100)
        src = text(conv.get("source", ""), "run.cost_conversion.source", problems)
        if factor is not None and cur is not None and year is not None:
            conversion = CostConversion(factor, cur, year, src or "")
    life_table = run.get("life_table", "us_ssa_2025")
    text(life_table, "run.life_table", problems, max_len=300)
    return RunSettings(
        patients=patients or 1, seed=seed or 0, horizon=_horizon(run.get("horizon", "lifetime"),
                                                                 problems),
        discount_costs=costs, discount_outcomes=outcomes, convention=convention,
        currency=text(run.get("currency", "USD"), "run.currency", problems, max_len=10) or "",
        price_year=integer(run.get("price_year", 2024), "run.price_year", problems, low=1900,
                           high=2100) or 0,
        perspective=text(run.get("perspective", "healthcare payer"), "run.perspective",
                         problems) or "",
        wtp=tuple(wtp), comparator=str(comparator), life_table=str(life_table),
        output=_output(run.get("output"), scenario_name, problems), cost_conversion=conversion,
    )


def _age(raw: Any, path: str, problems: Problems) -> AgeSpec:
    if not isinstance(raw, dict):
        x = number(raw, path, problems, low=0.0, high=120.0, what="an age in years",
                   hint="ages are in years, from 0 to 120")
        return AgeSpec("fixed", x if x is not None else 40.0)
    unknown_keys(raw, ("dist", "mean", "sd", "min", "max", "value", "source"), path, problems)
    dist = text(raw.get("dist", "fixed"), join(path, "dist"), problems,
                choices=("fixed", "normal", "uniform")) or "fixed"
    low = number(raw.get("min", 18.0), join(path, "min"), problems, low=0.0, high=120.0) or 0.0
    high = number(raw.get("max", 90.0), join(path, "max"), problems, low=0.0, high=120.0) or 120.0
    if low > high:
        problems.add(join(path, "min"), "must not exceed max", low)
    if dist == "normal":
        mean = number(raw.get("mean"), join(path, "mean"), problems, low=0.0, high=120.0,
                      what="an age in years")
        sd = number(raw.get("sd"), join(path, "sd"), problems, low=0.0, low_open=True)
        return AgeSpec("normal", mean or 40.0, sd or 1.0, low, high)
    if dist == "uniform":
        return AgeSpec("uniform", (low + high) / 2, 0.0, low, high)
    value = raw.get("value", raw.get("mean"))
    x = number(value, join(path, "value"), problems, low=0.0, high=120.0, what="an age in years",
               hint="ages are in years, from 0 to 120")
    return AgeSpec("fixed", x if x is not None else 40.0)


def _group(raw: Any, path: str, gname: str, weight: float, problems: Problems) -> GroupSpec:
    spec = table(raw if raw is not None else {}, path, problems) or {}
    unknown_keys(spec, ("age", "female", "source"), path, problems)
    female = number(spec.get("female", 0.5), join(path, "female"), problems, low=0.0, high=1.0,
                    what="a proportion in [0, 1]")
    return GroupSpec(gname, weight, _age(spec.get("age", 40.0), join(path, "age"), problems),
                     0.5 if female is None else female)


def parse_cohort(raw: Any, groups: tuple[str, ...] | None, base_dir: Path,
                 problems: Problems) -> CohortSpec:
    """``groups`` are the diseases of the clinical model, or None for a custom model."""
    cohort = table(raw if raw is not None else {}, "cohort", problems) or {}
    if "file" in cohort:
        unknown_keys(cohort, ("file", "source"), "cohort", problems)
        path_text = text(cohort["file"], "cohort.file", problems, max_len=300)
        if path_text is None:
            return CohortSpec()
        if not path_text.strip() or not path_text.isprintable():
            problems.add("cohort.file", "must be a file name", path_text)
            return CohortSpec()
        path = (base_dir / path_text).resolve()
        if path.is_dir():
            problems.add("cohort.file", "is a directory, not a CSV file", path_text)
        elif path.exists() and not path.is_file():
            problems.add("cohort.file", "is not a regular file (a device, pipe or socket?)",
                         path_text)
        elif not path.is_file():
            problems.add("cohort.file", "file not found", path_text, f"looked for {path}")
        return CohortSpec(file=path, file_groups=groups)
    if groups is None:
        unknown_keys(cohort, ("age", "female", "source"), "cohort", problems)
        return CohortSpec(groups=(_group(cohort, "cohort", "all", 1.0, problems),))
    _unknown_groups(cohort, ("mix", "source", *groups), "cohort", groups, problems)
    mix = cohort.get("mix", dict.fromkeys(groups, 1.0))
    if table(mix, "cohort.mix", problems) is None:
        return CohortSpec()
    _unknown_groups(mix, groups, "cohort.mix", groups, problems)
    out = []
    for g in groups:
        w = number(mix.get(g, 0.0), f"cohort.mix.{g}", problems, low=0.0,
                   what="a weight >= 0")
        if w:
            out.append(_group(cohort.get(g), f"cohort.{g}", g, w, problems))
    if not out and not any(p.path.startswith("cohort.mix") for p in problems):
        problems.add("cohort.mix", "at least one group needs a weight > 0", mix)
    return CohortSpec(groups=tuple(out))


def _unknown_groups(raw: dict[str, Any], allowed: tuple[str, ...], path: str,
                    groups: tuple[str, ...], problems: Problems) -> None:
    """Unknown keys, with the group's name for a disease written out (lupus -> sle)."""
    for key, value in raw.items():
        if key not in allowed:
            hint = disease_hint(key, groups) if DISEASE_ALIASES.get(key.lower()) else \
                did_you_mean(key, allowed) or f"allowed keys: {', '.join(sorted(allowed))}"
            problems.add(join(path, key), "unknown key", value, hint)


def horizon_label(horizon: float) -> str:
    """
    >>> horizon_label(1.0), horizon_label(2.5), horizon_label(math.inf)
    ('1 year', '2.5 years', 'lifetime')
    """
    if math.isinf(horizon):
        return "lifetime"
    return f"{horizon:g} year" + ("" if horizon == 1 else "s")
