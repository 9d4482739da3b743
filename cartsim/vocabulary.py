"""Names shared by every layer: cost categories and the reserved death node."""

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
