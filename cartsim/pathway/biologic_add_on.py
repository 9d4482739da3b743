"""An approved biologic added to conventional therapy in SLE (belimumab or anifrolumab).

The add-on shape of :mod:`cartsim.pathway.add_on` with the ``biologic.*``
parameters: low disease activity reached faster on the biologic (belimumab:
LLDAS at week 52 about twice placebo's in BLISS-52 and BLISS-76), severe flares
rarer (belimumab pooled BLISS: hazard ratio 0.61 for a severe flare;
anifrolumab pooled TULIP: annualised flare rate ratio 0.75), stopped at a
constant rate (OBSErve Germany: 6 of 102 within 6 months), at the biologic's
yearly cost (category ``drugs``). Sources and values: ``scenarios/sle_biologics.toml``.
For SLE only: the registry builds it for no other group.
"""

from __future__ import annotations

from cartsim.pathway.add_on import AddOn, add_on_pathway, add_on_valuation
from cartsim.pathway.conventional import Values
from cartsim.pathway.costing import Includes, Shortfall
from cartsim.pathway.model import Pathway, Valuation

BIOLOGIC = AddOn(key="biologic", strategy="biologic_add_on", category="drugs",
                 cost="costs.biologic.annual")


def biologic_pathway(d: str, v: Values) -> Pathway:
    return add_on_pathway(BIOLOGIC, d, v)


def biologic_valuation(d: str, v: Values, pathway: Pathway, includes: Includes
                       ) -> tuple[Valuation, list[Shortfall]]:
    return add_on_valuation(BIOLOGIC, d, v, pathway, includes)
