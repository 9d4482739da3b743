"""The parameters of the clinical model: natural history and autologous CAR-T.

Each entry: dotted name, kind (see ``cartsim.params.parameter.KINDS``), a
description, and a default for optional inputs. ``{d}`` stands for each disease
(sle, iim, ssc). Inputs without a default must be given by the scenario (the
shipped ``scenarios/base.toml`` gives all of them, each with its source).
Optional inputs default to values that switch a feature off, and are echoed
in the parameter table with source "cartsim default". The other strategies of the
library declare theirs in :mod:`cartsim.scenario.strategy_params`; a parameter is
required only when a strategy that uses it is compared (``ParamDef.strategies``).
"""

from __future__ import annotations

from cartsim.checks import did_you_mean
from cartsim.scenario.param_def import ALL_CAUSE_CARE, DISEASES, ParamDef, expand
from cartsim.scenario.strategy_params import LIBRARY_PARAMETERS

DISEASE_LABELS = {"sle": "Systemic lupus erythematosus", "iim": "Idiopathic inflammatory myositis",
                  "ssc": "Systemic sclerosis"}
DISEASE_ALIASES = {
    "lupus": "sle", "systemic lupus erythematosus": "sle", "myositis": "iim",
    "idiopathic inflammatory myositis": "iim", "dermatomyositis": "iim", "polymyositis": "iim",
    "antisynthetase syndrome": "iim", "scleroderma": "ssc", "systemic sclerosis": "ssc",
    "dcssc": "ssc", "lcssc": "ssc",
}
"""Names a user may write for a disease group: refused, but answered with the group's name."""


def disease_hint(name: str, groups: tuple[str, ...] = DISEASES) -> str:
    """A did-you-mean for a disease name that is not one of ``groups``."""
    alias = DISEASE_ALIASES.get(name.strip().lower())
    if alias in groups:
        return f"did you mean '{alias}'? (the groups are named {', '.join(groups)})"
    return did_you_mean(name.strip().lower(), groups) or f"use one of: {', '.join(groups)}"


RELAPSE_MODELS = ("none", "constant", "weibull", "cure_fraction", "waning")



_DEFS: tuple[ParamDef, ...] = (
    # Conventional immunosuppression: natural history by disease.
    ParamDef("conventional.{d}.to_low_activity", "rate",
             "active refractory disease -> low disease activity, per year"),
    ParamDef("conventional.{d}.lose_low_activity", "rate",
             "low disease activity -> active disease (loss of control), per year"),
    ParamDef("conventional.{d}.flares.mild", "rate", "mild flares per year in active disease"),
    ParamDef("conventional.{d}.flares.moderate", "rate",
             "moderate flares per year in active disease"),
    ParamDef("conventional.{d}.flares.severe", "rate", "severe flares per year in active disease"),
    ParamDef("conventional.flares.low_activity_ratio", "ratio",
             "flare rate in low disease activity relative to active disease"),
    ParamDef("conventional.{d}.infections.active", "rate",
             "serious infections per year in active disease on immunosuppression"),
    ParamDef("conventional.{d}.infections.low_activity", "rate",
             "serious infections per year in low disease activity on immunosuppression"),
    # Mortality.
    ParamDef("mortality.{d}.smr", "ratio",
             "all-cause mortality ratio vs the general population on conventional therapy"),
    ParamDef("mortality.{d}.smr_late", "ratio",
             "mortality ratio from mortality.{d}.late_after years since diagnosis (0: the smr "
             "applies for life)", 0.0),
    ParamDef("mortality.{d}.late_after", "duration",
             "years since diagnosis from which smr_late applies", 0.0),
    ParamDef("mortality.disease_duration", "duration",
             "years since diagnosis at model entry (places smr_late on the model clock)", 0.0),
    ParamDef("mortality.remission_share", "probability",
             "share of the disease's excess mortality (ratio - 1) that remains in B-cell "
             "aplasia and drug-free remission after CAR-T (1 = no survival benefit)"),
    # Cancer.
    ParamDef("cancer.incidence_scale", "ratio",
             "multiplier on the shipped US first-cancer incidence by age and sex (1: as "
             "published; 0 switches modelled cancers off)", 1.0),
    ParamDef("cancer.sir.{d}", "ratio",
             "cancer incidence ratio on immunosuppression (only the excess over 1 is modelled)"),
    ParamDef("cancer.sir_remission", "ratio",
             "cancer incidence ratio in drug-free remission (only the excess over 1 is modelled)"),
    ParamDef("cancer.excess_mortality", "rate",
             "cancer-specific excess death rate per year after a cancer"),
    # CAR-T pathway.
    ParamDef("car_t.manufacturing.time", "duration", "vein-to-vein time on bridging therapy"),
    ParamDef("car_t.manufacturing.failure", "probability",
             "manufacturing failure (patient continues conventional therapy)"),
    ParamDef("car_t.crs.grade_1", "probability", "cytokine release syndrome grade 1"),
    ParamDef("car_t.crs.grade_2", "probability", "cytokine release syndrome grade 2"),
    ParamDef("car_t.crs.grade_3", "probability", "cytokine release syndrome grade >= 3"),
    ParamDef("car_t.icans.grade_1_2", "probability", "ICANS grade 1-2"),
    ParamDef("car_t.icans.grade_3_4", "probability", "ICANS grade 3-4"),
    ParamDef("car_t.licats.grade_1", "probability",
             "LICATS worst grade 1 (self-limiting) during B-cell aplasia", 0.0),
    ParamDef("car_t.licats.grade_2", "probability",
             "LICATS worst grade 2 (steroids > 1 week or inner organ)", 0.0),
    ParamDef("car_t.licats.grade_3", "probability",
             "LICATS worst grade 3 (new or prolonged hospitalisation)", 0.0),
    ParamDef("car_t.early_infection", "probability",
             "infection needing hospital admission in the first months"),
    ParamDef("car_t.treatment_death", "probability", "treatment-related death per infusion"),
    ParamDef("car_t.aplasia.time", "duration", "duration of B-cell aplasia after infusion"),
    ParamDef("car_t.aplasia.infections", "rate",
             "serious infections per year during B-cell aplasia"),
    ParamDef("car_t.ivig.probability", "probability",
             "patients given immunoglobulin replacement during B-cell aplasia"),
    ParamDef("car_t.response.{d}", "probability", "drug-free remission after infusion"),
    ParamDef("car_t.remission.infections", "rate",
             "serious infections per year in drug-free remission"),
    ParamDef("car_t.relapse.rate", "rate",
             "relapse hazard per year from drug-free remission (constant, cure-fraction and "
             "waning shapes)"),
    ParamDef("car_t.relapse.shape", "positive", "Weibull shape of time to relapse", 1.0),
    ParamDef("car_t.relapse.scale", "duration", "Weibull scale of time to relapse", 10.0),
    ParamDef("car_t.relapse.cure_fraction", "probability",
             "share of responders who never relapse (cure-fraction shape)", 0.0),
    ParamDef("car_t.relapse.ramp", "duration",
             "years over which protection wanes to the full relapse hazard (waning shape)", 0.0),
    ParamDef("car_t.retreatment.probability", "probability", "relapsed patients re-infused", 0.0),
    ParamDef("car_t.retreatment.response", "probability",
             "drug-free remission after re-infusion", 0.0),
    ParamDef("car_t.retreatment.max_age", "duration",
             "oldest age at which a relapse is re-treated (years of age)", 120.0),
    ParamDef("car_t.retreatment.window", "duration",
             "years after the FIRST infusion within which a relapse is re-treated", 120.0),
    ParamDef("car_t.t_cell_malignancy.probability", "probability",
             "CAR-T-associated T-cell malignancy per infusion (lifetime)"),
    ParamDef("car_t.t_cell_malignancy.onset_median", "duration",
             "median time from infusion to a T-cell malignancy (exponential onset)"),
    ParamDef("car_t.t_cell_malignancy.excess_mortality", "rate",
             "excess death rate per year after a T-cell malignancy"),
    ParamDef("car_t.second_cancer.excess_rate", "rate",
             "other second cancers per year after infusion, over background", 0.0),
    # Costs.
    ParamDef("costs.car_t.product", "cost", "CAR-T product (one-off per first infusion)",
             includes=("product",)),
    ParamDef("costs.car_t.retreatment_product", "cost",
             "product charge of a re-infusion (stored cells or re-manufacture)",
             includes=("product",)),
    ParamDef("costs.car_t.episode", "cost",
             "apheresis, bridging, lymphodepletion and infusion admission, excluding product",
             includes=("apheresis", "lymphodepletion", "infusion_episode", "hospital")),
    ParamDef("costs.car_t.monitoring", "cost", "monitoring per year in drug-free remission",
             includes=("monitoring",)),
    ParamDef("costs.ivig", "cost", "immunoglobulin replacement per year",
             includes=("immunoglobulin",)),
    ParamDef("costs.{d}.active.drugs", "cost", "immunosuppressive drugs per year, active disease",
             includes=("drugs",)),
    ParamDef("costs.{d}.active.care", "cost", "other disease care per year, active disease",
             includes=ALL_CAUSE_CARE),
    ParamDef("costs.{d}.low_activity.drugs", "cost", "drugs per year, low disease activity",
             includes=("drugs",)),
    ParamDef("costs.{d}.low_activity.care", "cost", "other care per year, low disease activity",
             includes=ALL_CAUSE_CARE),
    ParamDef("costs.crs.grade_1", "cost", "management of CRS grade 1", includes=("crs",)),
    ParamDef("costs.crs.grade_2", "cost", "management of CRS grade 2", includes=("crs",)),
    ParamDef("costs.crs.grade_3", "cost", "management of CRS grade >= 3", includes=("crs",)),
    ParamDef("costs.icans.grade_1_2", "cost", "management of ICANS grade 1-2",
             includes=("icans",)),
    ParamDef("costs.icans.grade_3_4", "cost", "management of ICANS grade 3-4",
             includes=("icans",)),
    ParamDef("costs.licats.grade_1", "cost", "management of LICATS grade 1", 0.0,
             includes=("licats",)),
    ParamDef("costs.licats.grade_2", "cost", "management of LICATS grade 2", 0.0,
             includes=("licats",)),
    ParamDef("costs.licats.grade_3", "cost", "management of LICATS grade 3 (hospitalisation)",
             0.0, includes=("licats", "hospital")),
    ParamDef("costs.infection", "cost", "serious infection (hospital admission)",
             includes=("serious_infections", "hospital")),
    ParamDef("costs.flare.mild", "cost", "mild flare", includes=("flares",)),
    ParamDef("costs.flare.moderate", "cost", "moderate flare", includes=("flares",)),
    ParamDef("costs.flare.severe", "cost", "severe flare", includes=("flares",)),
    ParamDef("costs.cancer.initial", "cost", "first-year treatment of a cancer (one-off)",
             includes=("cancer_care",)),
    ParamDef("costs.cancer.annual", "cost", "ongoing cancer care per year",
             includes=("cancer_care", "end_of_life")),
    ParamDef("costs.t_cell_malignancy.initial", "cost",
             "first-year treatment of a T-cell malignancy (one-off)", includes=("cancer_care",)),
    ParamDef("costs.t_cell_malignancy.annual", "cost", "ongoing care per year after it",
             includes=("cancer_care", "end_of_life")),
    # Utilities and QALY losses.
    ParamDef("utilities.{d}.active", "utility", "active refractory disease"),
    ParamDef("utilities.{d}.low_activity", "utility", "low disease activity on therapy"),
    ParamDef("utilities.{d}.remission", "utility", "drug-free remission"),
    ParamDef("utilities.cancer", "utility", "after a cancer diagnosis"),
    ParamDef("utilities.t_cell_malignancy", "utility", "after a T-cell malignancy"),
    ParamDef("qaly_loss.crs.grade_1", "qaly_loss", "one-off QALY loss, CRS grade 1"),
    ParamDef("qaly_loss.crs.grade_2", "qaly_loss", "one-off QALY loss, CRS grade 2"),
    ParamDef("qaly_loss.crs.grade_3", "qaly_loss", "one-off QALY loss, CRS grade >= 3"),
    ParamDef("qaly_loss.icans.grade_1_2", "qaly_loss", "one-off QALY loss, ICANS grade 1-2"),
    ParamDef("qaly_loss.icans.grade_3_4", "qaly_loss", "one-off QALY loss, ICANS grade 3-4"),
    ParamDef("qaly_loss.infection", "qaly_loss", "one-off QALY loss, serious infection"),
    ParamDef("qaly_loss.flare.mild", "qaly_loss", "one-off QALY loss, mild flare"),
    ParamDef("qaly_loss.flare.moderate", "qaly_loss", "one-off QALY loss, moderate flare"),
    ParamDef("qaly_loss.flare.severe", "qaly_loss", "one-off QALY loss, severe flare"),
    ParamDef("qaly_loss.licats.grade_1", "qaly_loss", "one-off QALY loss, LICATS grade 1", 0.0),
    ParamDef("qaly_loss.licats.grade_2", "qaly_loss", "one-off QALY loss, LICATS grade 2", 0.0),
    ParamDef("qaly_loss.licats.grade_3", "qaly_loss", "one-off QALY loss, LICATS grade 3", 0.0),
    ParamDef("qaly_loss.car_t.procedure", "qaly_loss",
             "one-off QALY loss of lymphodepletion and the infusion admission"),
)


CELL_THERAPIES = ("car_t", "car_t_allogeneic", "t_cell_engager")
"""B-cell-depleting therapies after which a patient may be in drug-free remission: they
share what describes that state (its utility, mortality share, infections, monitoring,
immunoglobulin cover) and the costs and QALY losses of CRS and ICANS."""
CAR_T_PRODUCTS = ("car_t", "car_t_allogeneic")
"""Products with an integrated CAR transgene: they share the T-cell malignancy's course."""
_SHARED = {
    "mortality.remission_share": CELL_THERAPIES,
    "cancer.sir_remission": CELL_THERAPIES,
    "utilities.{d}.remission": (*CELL_THERAPIES, "ahsct"),
    "car_t.remission.infections": CELL_THERAPIES,
    "car_t.ivig.probability": CAR_T_PRODUCTS,
    "costs.car_t.monitoring": CELL_THERAPIES,
    "costs.ivig": CELL_THERAPIES,
    "car_t.t_cell_malignancy.onset_median": CAR_T_PRODUCTS,
    "car_t.t_cell_malignancy.excess_mortality": CAR_T_PRODUCTS,
    "costs.t_cell_malignancy.initial": CAR_T_PRODUCTS,
    "costs.t_cell_malignancy.annual": CAR_T_PRODUCTS,
    "utilities.t_cell_malignancy": CAR_T_PRODUCTS,
}
_SHARED_PREFIXES = ("costs.crs.", "costs.icans.", "qaly_loss.crs.", "qaly_loss.icans.")
_CAR_T_PREFIXES = ("car_t.", "costs.car_t.", "qaly_loss.car_t.", "costs.licats.",
                   "qaly_loss.licats.")


def strategies_using(name: str) -> tuple[str, ...]:
    """Which strategies use the (unexpanded) parameter ``name``: () for every scenario."""
    if name in _SHARED:
        return _SHARED[name]
    if name.startswith(_SHARED_PREFIXES):
        return CELL_THERAPIES
    if name.startswith(_CAR_T_PREFIXES):
        return ("car_t",)
    return ()


def clinical_parameters() -> tuple[ParamDef, ...]:
    """Every parameter of the two original strategies (conventional immunosuppression and
    autologous CAR-T), ``{d}`` expanded, each marked with the strategies that use it."""
    return expand(tuple(ParamDef(p.name, p.kind, p.description, p.default, p.includes,
                                 strategies_using(p.name)) for p in _DEFS))


CLINICAL_PARAMETERS = clinical_parameters()
"""The parameters of the default scenario (immunosuppression and autologous CAR-T)."""
ALL_PARAMETERS = CLINICAL_PARAMETERS + LIBRARY_PARAMETERS
"""Every parameter a clinical scenario can set, whichever strategies it compares."""
PARAMETER_BY_NAME = {p.name: p for p in ALL_PARAMETERS}
AGE_ADJUSTMENTS = ("multiplicative", "none")
STRUCTURAL_KEYS = {"car_t.relapse.model": RELAPSE_MODELS,
                   "utilities.age_adjustment": AGE_ADJUSTMENTS}
"""Text-valued inputs (choices, not numbers)."""
CHOICE_DEFAULTS = {"car_t.relapse.model": "constant",
                   "utilities.age_adjustment": "multiplicative"}
"""The choice made when a scenario names none: utilities are age-adjusted by default
(general-population EQ-5D norms by age and sex, multiplicatively; NICE 2022 manual, ICER)."""
