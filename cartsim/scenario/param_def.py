"""How a clinical parameter is declared: name, kind, description, default, owners.

Shared by the two schema modules (:mod:`cartsim.scenario.clinical_schema` for the
natural history and autologous CAR-T, :mod:`cartsim.scenario.strategy_params` for
the other strategies of the library), so that neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass

DISEASES = ("sle", "iim", "ssc")

ALL_CAUSE_CARE = ("all_cause", "outpatient", "hospital", "flares", "serious_infections")
"""What an all-cause claims-based state cost contains besides drugs: a state cost that
includes flares or serious infections is charged net of them (pathway.costing)."""


@dataclass(frozen=True)
class ParamDef:
    name: str
    kind: str
    description: str
    default: float | None = None
    includes: tuple[str, ...] = ()
    """For a cost: what its kind of source contains when the scenario does not say
    (a value set with --set keeps the meaning of the parameter it replaces)."""
    strategies: tuple[str, ...] = ()
    """The strategies whose pathways use it: required only when one of them is in
    ``run.strategies``; empty = every clinical scenario needs it (natural history)."""


def expand(defs: tuple[ParamDef, ...]) -> tuple[ParamDef, ...]:
    """Definitions with ``{d}`` expanded for each disease, in a fixed order."""
    out: list[ParamDef] = []
    for p in defs:
        if "{d}" in p.name:
            out += [ParamDef(p.name.format(d=d), p.kind,
                             f"{p.description.format(d=d)} ({d.upper()})", p.default,
                             p.includes, p.strategies) for d in DISEASES]
        else:
            out.append(p)
    return tuple(out)
