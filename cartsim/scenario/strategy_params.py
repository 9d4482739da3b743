"""The parameters of the library strategies beyond autologous CAR-T.

Each is required only when its strategy is in ``[run] strategies``; a scenario
that compares only conventional therapy and autologous CAR-T never sees them.
Names follow the clinical model's roots: a strategy's own inputs under its key
(``ahsct.trm``), its costs under ``costs.<key>`` and its one-off QALY losses
under ``qaly_loss.<key>``. Inputs that describe a state shared with another
strategy (drug-free remission, CRS and ICANS, life on conventional therapy)
are the clinical model's own (:mod:`cartsim.scenario.clinical_schema`), so
every arm describes that state identically. No parameter here has a default:
the shipped scenario files give each with its source and status.
"""

from __future__ import annotations

from cartsim.scenario.param_def import ParamDef, expand

LIBRARY_ROOTS = ("car_t_allogeneic", "t_cell_engager", "ahsct", "biologic", "ivig")
"""Top-level tables of the library strategies' own parameters."""

_ALLO = ("car_t_allogeneic",)
_TCE = ("t_cell_engager",)
_AHSCT = ("ahsct",)
_BIOLOGIC = ("biologic_add_on",)
_IVIG = ("ivig",)
_EPISODE = ("infusion_episode", "hospital")


def _p(name: str, kind: str, description: str, strategies: tuple[str, ...],
       includes: tuple[str, ...] = ()) -> ParamDef:
    return ParamDef(name, kind, description, None, includes, strategies)


_DEFS: tuple[ParamDef, ...] = (
    # Allogeneic (off-the-shelf) CD19 CAR-T: no apheresis or manufacturing wait.
    _p("car_t_allogeneic.lymphodepletion", "probability",
       "patients given lymphodepleting chemotherapy before an allogeneic infusion", _ALLO),
    _p("car_t_allogeneic.crs.grade_1", "probability", "CRS grade 1 (allogeneic)", _ALLO),
    _p("car_t_allogeneic.crs.grade_2", "probability", "CRS grade 2 (allogeneic)", _ALLO),
    _p("car_t_allogeneic.crs.grade_3", "probability", "CRS grade >= 3 (allogeneic)", _ALLO),
    _p("car_t_allogeneic.icans.grade_1_2", "probability", "ICANS grade 1-2 (allogeneic)", _ALLO),
    _p("car_t_allogeneic.icans.grade_3_4", "probability", "ICANS grade 3-4 (allogeneic)", _ALLO),
    _p("car_t_allogeneic.early_infection", "probability",
       "infection needing admission after an allogeneic infusion", _ALLO),
    _p("car_t_allogeneic.treatment_death", "probability",
       "treatment-related death per allogeneic infusion", _ALLO),
    _p("car_t_allogeneic.gvhd", "probability",
       "graft-versus-host disease after an allogeneic infusion", _ALLO),
    _p("car_t_allogeneic.aplasia.time", "duration",
       "B-cell aplasia after an allogeneic infusion", _ALLO),
    _p("car_t_allogeneic.response", "probability",
       "drug-free remission after an allogeneic infusion (all diseases)", _ALLO),
    _p("car_t_allogeneic.relapse.rate", "rate",
       "relapse hazard per year from drug-free remission after allogeneic CAR-T", _ALLO),
    _p("car_t_allogeneic.retreatment.probability", "probability",
       "relapsed patients given a second allogeneic dose", _ALLO),
    _p("car_t_allogeneic.retreatment.response", "probability",
       "drug-free remission after a second allogeneic dose", _ALLO),
    _p("car_t_allogeneic.retreatment.max_age", "duration",
       "oldest age at which a relapse gets a second allogeneic dose", _ALLO),
    _p("car_t_allogeneic.t_cell_malignancy.probability", "probability",
       "CAR-associated T-cell malignancy per allogeneic infusion", _ALLO),
    _p("costs.car_t_allogeneic.product", "cost",
       "allogeneic CAR-T product per dose (first or second)", _ALLO, ("product",)),
    _p("costs.car_t_allogeneic.episode", "cost",
       "allogeneic infusion episode (administration, monitoring stay), excluding product",
       _ALLO, ("infusion_episode", "hospital", "lodging")),
    _p("costs.car_t_allogeneic.lymphodepletion", "cost",
       "lymphodepleting chemotherapy before an allogeneic infusion", _ALLO,
       ("lymphodepletion", "infusion_episode")),
    _p("costs.car_t_allogeneic.gvhd", "cost", "treatment of graft-versus-host disease", _ALLO,
       ("hospital",)),
    _p("qaly_loss.car_t_allogeneic.procedure", "qaly_loss",
       "one-off QALY loss of an allogeneic infusion admission", _ALLO),
    _p("qaly_loss.car_t_allogeneic.lymphodepletion", "qaly_loss",
       "one-off QALY loss of lymphodepleting chemotherapy", _ALLO),
    _p("qaly_loss.car_t_allogeneic.gvhd", "qaly_loss",
       "one-off QALY loss of graft-versus-host disease", _ALLO),
    # T-cell engager: an inpatient step-up course, repeatable on relapse.
    _p("t_cell_engager.crs.grade_1", "probability", "CRS grade 1 per course", _TCE),
    _p("t_cell_engager.crs.grade_2", "probability", "CRS grade 2 per course", _TCE),
    _p("t_cell_engager.crs.grade_3", "probability", "CRS grade >= 3 per course", _TCE),
    _p("t_cell_engager.icans", "probability", "ICANS (grade 1-2) per course", _TCE),
    _p("t_cell_engager.early_infection", "probability",
       "serious infection during a course and its B-cell aplasia", _TCE),
    _p("t_cell_engager.treatment_death", "probability", "treatment-related death per course",
       _TCE),
    _p("t_cell_engager.aplasia.time", "duration", "B-cell aplasia after a course", _TCE),
    _p("t_cell_engager.ivig.probability", "probability",
       "patients given immunoglobulin cover during B-cell aplasia", _TCE),
    _p("t_cell_engager.response", "probability", "drug-free remission after the first course",
       _TCE),
    _p("t_cell_engager.relapse.rate", "rate",
       "relapse hazard per year from drug-free remission after a course", _TCE),
    _p("t_cell_engager.repeat.probability", "probability",
       "relapsed patients given another course (within the policy)", _TCE),
    _p("t_cell_engager.repeat.response", "probability",
       "drug-free remission after a repeat course", _TCE),
    _p("t_cell_engager.repeat.max_courses", "positive",
       "most courses a patient receives (policy; a whole number from 1 to 5)", _TCE),
    _p("t_cell_engager.repeat.max_age", "duration",
       "oldest age at which a relapse gets another course (policy)", _TCE),
    _p("costs.t_cell_engager.course_drug", "cost", "T-cell engager drug per course", _TCE,
       ("product",)),
    _p("costs.t_cell_engager.admission", "cost",
       "inpatient step-up admission and maintenance-dose visit per course", _TCE, _EPISODE),
    _p("qaly_loss.t_cell_engager.course", "qaly_loss",
       "one-off QALY loss of a course's admission", _TCE),
    # Autologous haematopoietic stem-cell transplantation (SSc only).
    _p("ahsct.max_age", "duration", "oldest age at which a transplant is offered", _AHSCT),
    _p("ahsct.ineligible", "probability",
       "patients refused a transplant on organ criteria (DLCO, pulmonary hypertension, "
       "renal function)", _AHSCT),
    _p("ahsct.mobilisation.time", "duration",
       "stem-cell mobilisation and collection to transplant, on conventional therapy", _AHSCT),
    _p("ahsct.trm", "probability", "transplant-related death (one-off)", _AHSCT),
    _p("ahsct.trm_onset_median", "duration",
       "median time from transplant to a transplant-related death (exponential onset)",
       _AHSCT),
    _p("ahsct.mortality_hr.year_2", "ratio",
       "hazard ratio on the SSc mortality ratio in year 2 after transplant", _AHSCT),
    _p("ahsct.mortality_hr.late", "ratio",
       "hazard ratio on the SSc mortality ratio from year 3 after transplant", _AHSCT),
    _p("ahsct.progression.rate", "rate",
       "loss of the transplant's benefit (back to conventional therapy) per year", _AHSCT),
    _p("ahsct.recovery.infections", "rate",
       "serious infections per year in the first year after transplant", _AHSCT),
    _p("ahsct.remission.infections", "rate",
       "serious infections per year in drug-free remission after transplant", _AHSCT),
    _p("costs.ahsct.transplant", "cost",
       "mobilisation, conditioning, transplant admission and first-year follow-up", _AHSCT,
       ("apheresis", "infusion_episode", "hospital", "outpatient")),
    _p("costs.ahsct.monitoring", "cost", "follow-up per year after the transplant year",
       _AHSCT, ("monitoring",)),
    _p("qaly_loss.ahsct.transplant", "qaly_loss",
       "one-off QALY loss of mobilisation, conditioning and the transplant admission", _AHSCT),
    # Biologic add-on to conventional therapy (SLE only).
    _p("biologic.to_low_activity_ratio", "ratio",
       "rate ratio on reaching low disease activity while on the biologic", _BIOLOGIC),
    _p("biologic.severe_flare_ratio", "ratio",
       "rate ratio on severe flares while on the biologic", _BIOLOGIC),
    _p("biologic.discontinuation", "rate", "stopping the biologic, per year", _BIOLOGIC),
    _p("costs.biologic.annual", "cost", "the biologic per year",
       _BIOLOGIC, ("drugs",)),
    # IVIG maintenance added to conventional therapy (IIM only).
    _p("ivig.to_low_activity_ratio", "ratio",
       "rate ratio on reaching low disease activity while on IVIG", _IVIG),
    _p("ivig.severe_flare_ratio", "ratio", "rate ratio on severe flares while on IVIG", _IVIG),
    _p("ivig.discontinuation", "rate", "stopping IVIG, per year", _IVIG),
    _p("costs.ivig_therapy.annual", "cost", "maintenance IVIG (2 g/kg every 4 weeks) per year",
       _IVIG, ("immunoglobulin",)),
)

LIBRARY_PARAMETERS = expand(_DEFS)
"""Every library strategy's own parameters (no ``{d}`` among them today)."""

LIBRARY_CATEGORICAL_SETS = (
    ("car_t_allogeneic.crs", tuple(f"car_t_allogeneic.crs.grade_{g}" for g in (1, 2, 3))),
    ("car_t_allogeneic.icans", ("car_t_allogeneic.icans.grade_1_2",
                                "car_t_allogeneic.icans.grade_3_4")),
    ("t_cell_engager.crs", tuple(f"t_cell_engager.crs.grade_{g}" for g in (1, 2, 3))),
)
"""Mutually exclusive outcomes of one chance node: their point values must sum to <= 1."""

MAX_COURSES = 5
"""Courses of a T-cell engager the pathway can hold (t_cell_engager.repeat.max_courses)."""
