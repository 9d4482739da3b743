"""Maintenance intravenous immunoglobulin added to conventional therapy in myositis.

The add-on shape of :mod:`cartsim.pathway.add_on` with the ``ivig.*``
parameters: IVIG 2 g/kg every 4 weeks (ProDERM, dermatomyositis: moderate or
major response at week 16 in 68% vs 23% on placebo, a hazard ratio of about 4.4
on reaching low disease activity), no flare data (ratio 1), stopped for
treatment-related adverse events (ProDERM: 8 patients over about 51
patient-years of IVIG), at about $275,000 a year (1,820 g at $151/g; category
``immunoglobulin``). Sources and values: the IVIG scenario files. For IIM only:
the registry builds it for no other group.
"""

from __future__ import annotations

from cartsim.pathway.add_on import AddOn, add_on_pathway, add_on_valuation
from cartsim.pathway.conventional import Values
from cartsim.pathway.costing import Includes, Shortfall
from cartsim.pathway.model import Pathway, Valuation

IVIG = AddOn(key="ivig", strategy="ivig", category="immunoglobulin",
             cost="costs.ivig_therapy.annual")


def ivig_pathway(d: str, v: Values) -> Pathway:
    return add_on_pathway(IVIG, d, v)


def ivig_valuation(d: str, v: Values, pathway: Pathway, includes: Includes
                   ) -> tuple[Valuation, list[Shortfall]]:
    return add_on_valuation(IVIG, d, v, pathway, includes)
