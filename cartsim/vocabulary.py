"""Names shared by every layer: cost categories, the reserved death node, and the summary
rows of the ``state_occupancy`` table (written by a run, read by the plots and report)."""

from __future__ import annotations

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

DEAD_ROW = "dead"
ALIVE_ROW = "alive"
REMISSION_ROW = "drug_free_remission"
"""Rows of ``state_occupancy`` beside the states: the dead, and two sums of state rows
(``aggregate = true``): the alive (survival) and those in drug-free remission."""
