"""Frozen objects a validated scenario is made of.

The scenario layer's view of the model: :mod:`cartsim.pathway.model` is the
vocabulary the engines interpret, built from these objects and parameter values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from cartsim.params.draws import JointSpec
from cartsim.params.parameter import Parameter
from cartsim.params.structural import StructuralChoice
from cartsim.scenario.budget import BudgetSpec
from cartsim.scenario.capacity import CapacitySpec
from cartsim.scenario.payment import PaymentTerms

LIFETIME = math.inf


@dataclass(frozen=True)
class CostConversion:
    """Convert every cost by ``factor`` into ``currency`` at ``price_year``."""

    factor: float
    currency: str
    price_year: int
    source: str = ""


@dataclass(frozen=True)
class RunSettings:
    patients: int
    seed: int
    horizon: float
    discount_costs: float
    discount_outcomes: float
    convention: str
    currency: str
    price_year: int
    perspective: str
    wtp: tuple[float, ...]
    comparator: str
    life_table: str
    output: str
    cost_conversion: CostConversion | None = None

    @property
    def reported_currency(self) -> str:
        return self.cost_conversion.currency if self.cost_conversion else self.currency

    @property
    def reported_price_year(self) -> int:
        return self.cost_conversion.price_year if self.cost_conversion else self.price_year

    @property
    def cost_factor(self) -> float:
        return self.cost_conversion.factor if self.cost_conversion else 1.0


@dataclass(frozen=True)
class AgeSpec:
    """Age at the start, in years: fixed, normal truncated to [low, high], or uniform."""

    dist: str
    mean: float
    sd: float = 0.0
    low: float = 0.0
    high: float = 100.0


@dataclass(frozen=True)
class GroupSpec:
    name: str
    weight: float
    age: AgeSpec
    female: float


@dataclass(frozen=True)
class CohortSpec:
    """Sampled groups, or patients read from a CSV file."""

    groups: tuple[GroupSpec, ...] = ()
    file: Path | None = None
    file_groups: tuple[str, ...] | None = None
    """The groups a file's ``disease`` column must name (the clinical model's
    diseases); None for a custom model, whose patients form one group ("all")."""

    def shares(self) -> dict[str, float]:
        """Each sampled group's share of patients: its weight over the total."""
        total = sum(g.weight for g in self.groups)
        return {g.name: g.weight / total for g in self.groups} if total > 0 else {}


@dataclass(frozen=True)
class CustomTransition:
    name: str
    to: str
    dist: str
    args: Mapping[str, str | tuple[str, ...]]
    """Argument -> the parameter giving it (a tuple of them for a list argument)."""
    clock: str
    event: str


@dataclass(frozen=True)
class CustomState:
    name: str
    utility: str | None
    costs: Mapping[str, str]
    death_rate: str | None
    life_table_ratio: str | None
    death_cause: str
    recurring: Mapping[str, str]
    remission: bool
    origin: str | None
    transitions: tuple[CustomTransition, ...]


@dataclass(frozen=True)
class CustomOutcome:
    event: str
    probability: str
    to: str | None


@dataclass(frozen=True)
class CustomChance:
    name: str
    outcomes: tuple[CustomOutcome, ...]
    then: str | None
    origin: str | None


@dataclass(frozen=True)
class CustomEvent:
    costs: Mapping[str, str]
    qaly_loss: str | None


@dataclass(frozen=True)
class CustomStrategy:
    """A user-defined pathway; numbers are names of parameters in the scenario."""

    name: str
    label: str
    start: str
    states: Mapping[str, CustomState]
    chances: Mapping[str, CustomChance]
    events: Mapping[str, CustomEvent]


@dataclass(frozen=True)
class Scenario:
    """A validated scenario: settings, cohort, every parameter, and the model."""

    name: str
    source: str
    title: str
    description: str
    model: str
    run: RunSettings
    cohort: CohortSpec
    parameters: Mapping[str, Parameter]
    relapse_model: str = "constant"
    strategies: tuple[str, ...] = ()
    strategy_labels: Mapping[str, str] = field(default_factory=dict)
    custom: Mapping[str, CustomStrategy] = field(default_factory=dict)
    canonical_hash: str = ""
    base_dir: Path = Path()
    probability_sets: tuple[tuple[str, ...], ...] = ()
    """Parameters that are the probabilities of one categorical branch (sum <= 1)."""
    joint: JointSpec = field(default_factory=JointSpec)
    """Parameters drawn jointly in PSA ([[correlations]], [[dirichlet]])."""
    capacity: CapacitySpec | None = None
    """The optional [capacity] table (cartsim capacity); None without one."""
    payment: Mapping[str, tuple[PaymentTerms, ...]] = field(default_factory=dict)
    """Payment models by strategy ([payment.<strategy>]); {} without any."""
    budget: BudgetSpec | None = None
    """The optional [budget] table (cartsim budget); None: the shipped defaults."""
    choices: Mapping[str, str] = field(default_factory=dict)
    """Structural choices of the clinical model by dotted key (``car_t.relapse.model``,
    ``utilities.age_adjustment``), defaults filled in; empty for a custom model."""
    structural: tuple[StructuralChoice, ...] = ()
    """The ``[[structural]]`` choices a PSA draws (the deterministic run ignores them)."""
    warnings: tuple[str, ...] = ()
    """Things the file does that are legal but probably unintended (e.g. a bare number
    in a variant that drops its parent's distribution); shown by check, run and psa on
    stderr and recorded in run.json. They never change a result."""
    overrides: tuple[str, ...] = ()
    """The ``--set NAME=VALUE`` items the scenario was loaded with, as given (run.json)."""

    def point_values(self) -> dict[str, float]:
        return {name: p.value for name, p in self.parameters.items()}

    def with_choices(self, choices: Mapping[str, str] | None) -> Scenario:
        """This scenario with a PSA draw's text choices (``car_t.relapse.model``...) in
        place of its own: one rule for the PSA, threshold and validate draws."""
        if not choices:
            return self
        merged = {**self.choices, **choices}
        return replace(self, choices=merged,
                       relapse_model=merged.get("car_t.relapse.model", self.relapse_model))
