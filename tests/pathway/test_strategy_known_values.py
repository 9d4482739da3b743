"""Known values of the library strategies, each from a closed form on a simplified
version of its shipped scenario (life table off or constant, cancer off, nothing
else competing), checked at 4 standard errors with fixed seeds.

Each run simulates a few thousand patients of two strategies with the compiled
engine (well under a second each)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from cartsim.engine.events import EventLog
from cartsim.scenario.load import load_scenario
from cartsim.study.runner import run_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def scenario_with(tmp_path: Path, parent: str, body: str, overrides: list[str],
                  life_table_q: float | None = None):
    """A variant of a shipped scenario (``extends`` it by absolute path) with ``body``
    appended, a constant life table beside it if asked, and ``--set`` overrides."""
    text = f'extends = "{(SCENARIOS / parent).as_posix()}"\n{body}'
    if life_table_q is not None:
        rows = "\n".join(f"{a},{life_table_q},{life_table_q}" for a in range(111))
        (tmp_path / "flat.csv").write_text(f"age,qx_female,qx_male\n{rows}\n")
    path = tmp_path / "variant.toml"
    path.write_text(text, encoding="utf-8")
    return load_scenario(path, overrides)


def first_event_time(log: EventLog, event: str) -> np.ndarray:
    """Per patient, the time of the first ``event`` (inf if none)."""
    out = np.full(log.n_patients, math.inf)
    if event not in log.event_names:
        return out
    hit = log.event_code == log.event_code_of(event)
    np.minimum.at(out, log.event_patient[hit], log.event_time[hit])
    return out


def event_count(log: EventLog, event: str) -> np.ndarray:
    if event not in log.event_names:
        return np.zeros(log.n_patients, dtype=np.int64)
    hit = log.event_code == log.event_code_of(event)
    return np.bincount(log.event_patient[hit], minlength=log.n_patients)


def within_4se(observed: np.ndarray, expected: float) -> None:
    se = observed.std(ddof=1) / math.sqrt(observed.size)
    assert abs(observed.mean() - expected) <= 4 * se, (observed.mean(), expected, se)


# --- AHSCT ------------------------------------------------------------------------------

AHSCT_SIMPLE = ["run.strategies=['immunosuppression', 'ahsct']", "cancer.incidence_scale=0",
                "ahsct.ineligible=0", "ahsct.max_age=200"]


def test_ahsct_transplant_related_death_share_matches_its_closed_form(tmp_path):
    """With no other death (life table off) and no loss of benefit, the share of patients
    dying of the transplant by the horizon H is p (1 - exp(-lam (H - T))), lam = ln 2 /
    median, T the transplant's time (after mobilisation)."""
    p, horizon = 0.06, 3.0
    s = scenario_with(tmp_path, "ssc_ahsct.toml", "", [
        *AHSCT_SIMPLE, 'run.life_table="none"', f"run.horizon={horizon}",
        f"ahsct.trm={p}", "ahsct.progression.rate=0"])
    r = run_scenario(s, patients=4000, seed=11, curves=False)
    trm = r.outcomes["ahsct"].columns["n_treatment_related_death"]
    lam = math.log(2.0) / s.parameters["ahsct.trm_onset_median"].value
    t_tx = s.parameters["ahsct.mobilisation.time"].value
    within_4se(trm, p * -math.expm1(-lam * (horizon - t_tx)))


def test_ahsct_event_free_survival_at_scot_time_points_matches_the_hazard_schedule(tmp_path):
    """Constant background hazard mu (a flat life table): event-free survival at SCOT's 54
    and 72 months is exp(-mu R(t)) x (1 - p(1 - exp(-lam (t - T)))) x exp(-rho (t - T)),
    R(t) the integral of the mortality ratio: the SMR s until a year after the transplant
    at T, max(s h2, 1) in the next year, then max(s h_late, 1) (the floor binds here)."""
    q, s_ratio, h2, h_late, p, rho = 0.05, 4.0, 0.5, 0.1, 0.06, 0.02
    s = scenario_with(tmp_path, "ssc_ahsct.toml", "", [
        *AHSCT_SIMPLE, 'run.life_table="flat.csv"', "run.horizon=7",
        f"mortality.ssc.smr={s_ratio}", f"ahsct.mortality_hr.year_2={h2}",
        f"ahsct.mortality_hr.late={h_late}", f"ahsct.trm={p}", f"ahsct.progression.rate={rho}",
        "ahsct.mobilisation.time=365.25"], life_table_q=q)
    t_tx = s.parameters["ahsct.mobilisation.time"].value
    assert t_tx == pytest.approx(1.0)  # the file's unit (days) is kept by --set
    r = run_scenario(s, patients=3000, seed=5, curves=False)
    log = r.logs["ahsct"]
    relapse = first_event_time(log, "relapse")
    mu = -math.log1p(-q)
    lam = math.log(2.0) / s.parameters["ahsct.trm_onset_median"].value
    for months in (54, 72):
        t = months / 12
        ratio_area = s_ratio * (t_tx + 1) + max(s_ratio * h2, 1.0) + max(
            s_ratio * h_late, 1.0) * (t - t_tx - 2)
        expected = (math.exp(-mu * ratio_area) * (1 - p * -math.expm1(-lam * (t - t_tx)))
                    * math.exp(-rho * (t - t_tx)))
        event_free = ((log.end_time > t) & (relapse > t)).astype(float)
        within_4se(event_free, expected)


def test_ahsct_is_refused_above_the_age_limit_and_to_the_ineligible(tmp_path):
    """The eligibility guard sends patients older than ahsct.max_age to conventional
    therapy without a draw; of the rest, a share ahsct.ineligible is refused."""
    s = scenario_with(tmp_path, "ssc_ahsct.toml", "", [
        "run.strategies=['immunosuppression', 'ahsct']", "ahsct.max_age=45",
        "ahsct.ineligible=0.3", "run.horizon=1"])
    r = run_scenario(s, patients=3000, seed=2, curves=False)
    mobilised = r.outcomes["ahsct"].columns["n_mobilisation"] > 0
    refused = r.outcomes["ahsct"].columns["n_ahsct_ineligible"]
    old = r.cohort.age > 45
    assert not mobilised[old].any() and not refused[old].any()
    within_4se(refused[~old].astype(float), 0.3)


# --- T-cell engager -----------------------------------------------------------------------

TCE_SIMPLE = ["run.strategies=['immunosuppression', 't_cell_engager']",
              'run.life_table="none"', "run.horizon=30", "cancer.incidence_scale=0",
              "t_cell_engager.treatment_death=0", "t_cell_engager.repeat.max_age=200",
              "t_cell_engager.relapse.rate=50", "t_cell_engager.aplasia.time=0.01"]


@pytest.mark.parametrize("max_courses", [1, 3])
def test_tce_courses_follow_the_policy_and_never_exceed_it(tmp_path, max_courses):
    """With a relapse certain within the horizon and no death, the number of courses is
    1 + r1 q + r1 q r2 q + ... up to the policy's limit (r1, r2 first and repeat
    responses, q the repeat probability); no patient ever has more than the limit."""
    r1, r2, q = 0.6, 0.5, 0.8
    s = scenario_with(tmp_path, "next_generation.toml", "", [
        *TCE_SIMPLE, f"t_cell_engager.response={r1}", f"t_cell_engager.repeat.response={r2}",
        f"t_cell_engager.repeat.probability={q}",
        f"t_cell_engager.repeat.max_courses={max_courses}"])
    r = run_scenario(s, patients=3000, seed=8, curves=False)
    cols = r.outcomes["t_cell_engager"].columns
    courses = cols["n_tce_course"] + cols["n_tce_repeat_course"]
    assert courses.max() <= max_courses
    assert (cols["n_tce_course"] == 1).all()
    expected = 1.0 + sum(r1 * q * (r2 * q) ** j for j in range(max_courses - 1))
    within_4se(courses.astype(float), expected)
    if max_courses > 1:
        assert courses.max() == max_courses  # the limit binds for some patients


def test_tce_repeat_course_is_charged_as_retreatment_and_aplasia_gets_ig_cover(tmp_path):
    """A repeat course's drug is a re-treatment charge; immunoglobulin cover costs the
    covered share x the yearly cost x the aplasia's length (undiscounted, no death)."""
    s = scenario_with(tmp_path, "next_generation.toml", "", [
        *TCE_SIMPLE[:-1], "t_cell_engager.aplasia.time=146.1", "costs.ivig=60000",
        "t_cell_engager.ivig.probability=0.5", "run.discount=0",
        "t_cell_engager.repeat.max_courses=2", "t_cell_engager.repeat.probability=1",
        "t_cell_engager.response=1", "t_cell_engager.repeat.response=1"])
    r = run_scenario(s, patients=200, seed=3, curves=False)
    cols = r.outcomes["t_cell_engager"].columns
    drug = s.parameters["costs.t_cell_engager.course_drug"].value
    np.testing.assert_allclose(cols["cost_product_undisc"], drug, rtol=1e-12)
    np.testing.assert_allclose(cols["cost_retreatment_product_undisc"], drug, rtol=1e-12)
    ig, aplasia = s.parameters["costs.ivig"].value, s.parameters[
        "t_cell_engager.aplasia.time"].value
    assert aplasia == pytest.approx(0.4)  # 146.1 days
    np.testing.assert_allclose(cols["cost_immunoglobulin_undisc"], 2 * 0.5 * ig * aplasia,
                               rtol=1e-9)


# --- Add-on therapies -----------------------------------------------------------------

@pytest.mark.parametrize(("parent", "key", "strategy", "cost", "column", "group"), [
    ("sle_biologics.toml", "biologic", "biologic_add_on", "costs.biologic.annual",
     "cost_drugs_undisc", "sle"),
    ("iim_ivig.toml", "ivig", "ivig", "costs.ivig_therapy.annual",
     "cost_immunoglobulin_undisc", "iim"),
])
def test_time_on_an_add_on_is_its_discontinuation_closed_form(tmp_path, parent, key,
                                                              strategy, cost, column, group):
    """Only stopping ends the add-on (no death, no cancer): mean undiscounted years on it
    by the horizon H is (1 - exp(-delta H)) / delta, read from its yearly cost of 1 (the
    conventional drugs, in the same category for a biologic, cost 0 here)."""
    delta, horizon = 0.3, 5.0
    s = scenario_with(tmp_path, parent, "", [
        f"run.strategies=['immunosuppression', '{strategy}']", 'run.life_table="none"',
        f"run.horizon={horizon}", "cancer.incidence_scale=0", "run.discount=0",
        f"{key}.discontinuation={delta}", f"{cost}=1",
        f"costs.{group}.active.drugs=0", f"costs.{group}.low_activity.drugs=0"])
    r = run_scenario(s, patients=3000, seed=4, curves=False)
    within_4se(r.outcomes[strategy].columns[column], -math.expm1(-delta * horizon) / delta)
    assert not r.outcomes["immunosuppression"].columns[column].any()


# --- Allogeneic CAR-T --------------------------------------------------------------------

def test_allogeneic_car_t_is_infused_at_once_and_gvhd_follows_survival_of_the_infusion(
        tmp_path):
    """Off the shelf: every patient is infused at time 0 (no manufacturing wait or
    failure); GvHD, drawn after the treatment-death node, occurs in (1 - d) x g."""
    d, g = 0.1, 0.3
    s = scenario_with(tmp_path, "next_generation.toml", "", [
        "run.strategies=['immunosuppression', 'car_t_allogeneic']", "run.horizon=1",
        f"car_t_allogeneic.treatment_death={d}", f"car_t_allogeneic.gvhd={g}"])
    r = run_scenario(s, patients=3000, seed=6, curves=False)
    log = r.logs["car_t_allogeneic"]
    assert (first_event_time(log, "infusion") == 0.0).all()
    assert (event_count(log, "lymphodepletion") == 1).all()
    within_4se(event_count(log, "gvhd").astype(float), (1 - d) * g)
