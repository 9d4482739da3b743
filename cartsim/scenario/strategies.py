"""The strategy library as a scenario file sees it, and ``[run] strategies``.

A clinical scenario compares any number of strategies chosen from this library
(``[run] strategies = ["immunosuppression", "car_t", "ahsct"]``); the default
is the two the model began with, so a file that names none is read exactly as
before (same strategies, same canonical hash, same results). Each entry says
which disease groups the strategy is for: one that is not valid for a group in
the cohort is refused here, by ``check`` as by ``run``, with the groups named.

The pathway builders are in :mod:`cartsim.pathway.registry` (a layer above);
a test checks that the two name the same strategies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cartsim.checks import Problems, did_you_mean
from cartsim.scenario.model import CohortSpec
from cartsim.scenario.param_def import DISEASES

DISEASE_SHORT = {"sle": "SLE", "iim": "IIM", "ssc": "SSc"}


@dataclass(frozen=True)
class StrategyInfo:
    """One strategy of the library: its key, display label and the groups it is for.

    ``price`` is the parameter that prices the strategy's one-off product (the
    one-time-therapy table's value-based price), ``retreatment_price`` that of a
    repeat dose; None where the strategy has no product.
    """

    name: str
    label: str
    diseases: tuple[str, ...]
    summary: str
    price: str | None = None
    retreatment_price: str | None = None

    @property
    def restricted(self) -> bool:
        return set(self.diseases) != set(DISEASES)


LIBRARY: Mapping[str, StrategyInfo] = {s.name: s for s in (
    StrategyInfo("immunosuppression", "Conventional immunosuppression", DISEASES,
                 "lifelong conventional therapy (the comparator)"),
    StrategyInfo("car_t", "CD19 CAR-T (single infusion)", DISEASES,
                 "autologous CD19 CAR-T after apheresis and manufacturing",
                 "costs.car_t.product", "costs.car_t.retreatment_product"),
    StrategyInfo("car_t_allogeneic", "Allogeneic CD19 CAR-T (off the shelf)", DISEASES,
                 "off-the-shelf donor or iPSC-derived CD19 CAR-T, no manufacturing wait",
                 "costs.car_t_allogeneic.product", "costs.car_t_allogeneic.product"),
    StrategyInfo("t_cell_engager", "T-cell engager (repeatable course)", DISEASES,
                 "inpatient step-up course of a bispecific T-cell engager, repeatable",
                 "costs.t_cell_engager.course_drug", "costs.t_cell_engager.course_drug"),
    StrategyInfo("ahsct", "Autologous stem-cell transplantation", ("ssc",),
                 "autologous haematopoietic stem-cell transplantation (SSc)"),
    StrategyInfo("biologic_add_on", "Biologic add-on (belimumab or anifrolumab)", ("sle",),
                 "an approved biologic added to conventional therapy (SLE)"),
    StrategyInfo("ivig", "IVIG maintenance", ("iim",),
                 "intravenous immunoglobulin added to conventional therapy (IIM)"),
)}
"""Every strategy a clinical scenario can name, in the order tables list them."""

DEFAULT_STRATEGIES = ("immunosuppression", "car_t")


def parse_strategies(run: Any, problems: Problems) -> tuple[str, ...]:
    """``run.strategies`` as library keys in library order (the default if absent).

    Refused: not a list of text, an unknown name (with a did-you-mean), a name twice,
    fewer than two strategies (a comparison needs two)."""
    raw = run.get("strategies") if isinstance(run, dict) else None
    if raw is None:
        return DEFAULT_STRATEGIES
    path = "run.strategies"
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        problems.add(path, "must be a list of strategy names", raw,
                     f"choose from: {', '.join(LIBRARY)}")
        return DEFAULT_STRATEGIES
    chosen: list[str] = []
    for i, name in enumerate(raw):
        if name not in LIBRARY:
            problems.add(f"{path}.{i}", "unknown strategy", name,
                         did_you_mean(name, LIBRARY) or f"choose from: {', '.join(LIBRARY)}")
        elif name in chosen:
            problems.add(f"{path}.{i}", "is listed twice", name)
        else:
            chosen.append(name)
    if len(raw) < 2:
        problems.add(path, "must name at least two strategies (one of them the comparator)",
                     raw, f"e.g. {list(DEFAULT_STRATEGIES)!r}")
    if len(chosen) < 2:
        return DEFAULT_STRATEGIES
    return tuple(name for name in LIBRARY if name in chosen)


def allowed_groups(strategies: Sequence[str]) -> tuple[str, ...]:
    """The disease groups every strategy in ``strategies`` is valid for."""
    return tuple(d for d in DISEASES if all(d in LIBRARY[s].diseases for s in strategies))


def _names(groups: Sequence[str]) -> str:
    groups = list(groups)
    return " and ".join([", ".join(groups[:-1]), groups[-1]]) if len(groups) > 1 else \
        "".join(groups)


def check_strategy_groups(strategies: Sequence[str], cohort: CohortSpec,
                          problems: Problems) -> None:
    """Refuse a strategy that is not valid for a sampled group of the cohort.

    A cohort read from a file is checked when the file is read (its ``disease``
    column must name a group every strategy allows: ``CohortSpec.file_groups``)."""
    present = [g.name for g in cohort.groups]
    allowed = allowed_groups(strategies)
    for name in strategies:
        info = LIBRARY[name]
        outside = [g for g in present if g not in info.diseases]
        if not outside:
            continue
        only = _names([DISEASE_SHORT[d] for d in info.diseases])
        if allowed:
            mix = ", ".join(f"{d} = 1" for d in allowed)
            hint = f"use [cohort] mix = {{ {mix} }} or drop {name}"
        else:
            hint = (f"no cohort suits every strategy in run.strategies: compare {name} in a "
                    "scenario of its own")
        problems.add("run.strategies",
                     f"{name} is for {only} only; the cohort mix includes {_names(outside)}",
                     name, hint)
