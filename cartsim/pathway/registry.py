"""The strategy library: which builders make each strategy's pathway and valuation.

Each entry pairs a strategy of :data:`cartsim.scenario.strategies.LIBRARY` (its
key, label and the disease groups it is valid for) with two builders:

* ``pathway(d, v, choices)`` - the :class:`~cartsim.pathway.model.Pathway` for
  disease ``d`` from parameter values ``v`` (a callable: name -> number) and the
  scenario's structural choices;
* ``valuation(d, v, pathway, includes)`` - its costs and utilities, with the
  state costs that could not be charged net of the events they include.

Every builder describes life after failure with the conventional states of
:mod:`cartsim.pathway.conventional`, so all arms describe it identically and
share its random numbers by purpose name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cartsim.pathway.ahsct import ahsct_pathway, ahsct_valuation
from cartsim.pathway.biologic_add_on import biologic_pathway, biologic_valuation
from cartsim.pathway.car_t import car_t_pathway, car_t_valuation
from cartsim.pathway.car_t_allogeneic import allogeneic_pathway, allogeneic_valuation
from cartsim.pathway.conventional import (
    Values,
    conventional_pathway,
    conventional_valuation,
)
from cartsim.pathway.costing import Includes, Shortfall
from cartsim.pathway.ivig import ivig_pathway, ivig_valuation
from cartsim.pathway.model import Pathway, Valuation
from cartsim.pathway.t_cell_engager import tce_pathway, tce_valuation
from cartsim.scenario.strategies import LIBRARY, StrategyInfo

PathwayBuilder = Callable[[str, Values, Mapping[str, str]], Pathway]
ValuationBuilder = Callable[[str, Values, Pathway, Includes],
                            tuple[Valuation, list[Shortfall]]]


@dataclass(frozen=True)
class StrategyBuilder:
    """A library strategy: what the scenario knows of it and how to build it."""

    info: StrategyInfo
    pathway: PathwayBuilder
    valuation: ValuationBuilder

    @property
    def label(self) -> str:
        return self.info.label

    @property
    def diseases(self) -> tuple[str, ...]:
        return self.info.diseases


def _conventional_valuation(d: str, v: Values, pathway: Pathway, includes: Includes
                            ) -> tuple[Valuation, list[Shortfall]]:
    return conventional_valuation(d, v, pathway.states, includes)


def _no_choices(build: Callable[[str, Values], Pathway]) -> PathwayBuilder:
    def pathway(d: str, v: Values, _choices: Mapping[str, str]) -> Pathway:
        return build(d, v)
    return pathway


def _car_t(d: str, v: Values, choices: Mapping[str, str]) -> Pathway:
    return car_t_pathway(d, v, choices.get("car_t.relapse.model", "constant"))


_BUILDERS: dict[str, tuple[PathwayBuilder, ValuationBuilder]] = {
    "immunosuppression": (_no_choices(conventional_pathway), _conventional_valuation),
    "car_t": (_car_t, car_t_valuation),
    "car_t_allogeneic": (_no_choices(allogeneic_pathway), allogeneic_valuation),
    "t_cell_engager": (_no_choices(tce_pathway), tce_valuation),
    "ahsct": (_no_choices(ahsct_pathway), ahsct_valuation),
    "biologic_add_on": (_no_choices(biologic_pathway), biologic_valuation),
    "ivig": (_no_choices(ivig_pathway), ivig_valuation),
}

REGISTRY: Mapping[str, StrategyBuilder] = {
    name: StrategyBuilder(info, *_BUILDERS[name]) for name, info in LIBRARY.items()}
"""Every library strategy by key, in the library's order."""
