"""Names shared by every layer: cost categories, the reserved death node, and the summary
rows of the ``state_occupancy`` table (written by a run, read by the plots and report)."""

from __future__ import annotations

from collections.abc import Container

DEAD = "dead"
"""Reserved node name: the patient dies (the event on the way names the cause)."""

COST_CATEGORIES = (
    "product",
    "retreatment_product",
    "infusion_episode",
    "adverse_events",
    "drugs",
    "disease_care",
    "monitoring",
    "immunoglobulin",
    "cancer_care",
    "other",
)
"""Cost categories, in report order. Every cost belongs to exactly one."""

THERAPY_CATEGORIES = ("product", "retreatment_product", "infusion_episode")
"""The cost of a one-time therapy itself (first-infusion product, a re-infusion's product
charge and the infusion episodes); every other category is a cost offset
(ICER's single-therapy scenarios share or cap the offsets, not these)."""

OFFSET_CATEGORIES = tuple(c for c in COST_CATEGORIES if c not in THERAPY_CATEGORIES)

SOCIETAL_CATEGORIES = ("productivity", "caregiver")
"""Cost categories that exist only under a societal perspective (paid work lost, unpaid
caregiver time): absent from every result of a payer's, not zero."""


def cost_categories(columns: Container[str]) -> tuple[str, ...]:
    """The cost categories of a strategy's per-patient columns: every payer category, then
    the societal ones it has (``cost_<category>`` present).

    >>> cost_categories({"cost_productivity": 0})[-1]
    'productivity'
    """
    return (*COST_CATEGORIES,
            *[c for c in SOCIETAL_CATEGORIES if f"cost_{c}" in columns])

DEAD_ROW = "dead"
ALIVE_ROW = "alive"
REMISSION_ROW = "drug_free_remission"
"""Rows of ``state_occupancy`` beside the states: the dead, and two sums of state rows
(``aggregate = true``): the alive (survival) and those in drug-free remission."""
