"""The packaged case-series evidence: every record sourced, priors exact, data drives priors."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cartsim.errors import ScenarioError
from cartsim.params.distributions import Beta, Gamma
from cartsim.params.evidence import (
    STATUSES,
    Count,
    Finding,
    Proportion,
    Rate,
    Summary,
    jeffreys_prior,
    load_evidence,
    pool,
    use_evidence,
)
from cartsim.scenario.load import load_scenario

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "scenarios" / "base.toml"
SHIPPED_TEXT = (ROOT / "cartsim" / "data" / "case_series.toml").read_text(encoding="utf-8")
EVIDENCE = load_evidence()


@pytest.mark.parametrize("address", sorted(EVIDENCE.records))
def test_every_record_names_its_source_and_status(address):
    record = EVIDENCE.records[address]
    assert record.source.strip()
    assert record.status in STATUSES
    assert record.report in EVIDENCE.reports
    assert record.group in ("all", "sle", "iim", "ssc")


def test_records_hold_what_the_dossier_reports_for_mueller_2024():
    """PARAMETERS.md §1.1 / §7: 8 SLE, 3 IIM, 4 SSc; all responded; CRS 10 grade 1 + 1
    grade 2; ICANS 1; one infection admission; follow-up median 15 (4-29) months."""
    r = EVIDENCE.records
    assert [r[f"muller2024.{d}.patients"].count for d in ("sle", "iim", "ssc")] == [8, 3, 4]
    assert all(isinstance(r[f"muller2024.{d}.patients"], Count) for d in ("sle", "iim", "ssc"))
    assert {d: r[f"muller2024.{d}.response"].describe() for d in ("sle", "iim", "ssc")} == \
        {"sle": "8 of 8", "iim": "3 of 3", "ssc": "4 of 4"}
    grade_1, grade_2 = r["muller2024.all.crs_grade_1"], r["muller2024.all.crs_grade_2"]
    assert r["muller2024.all.crs"].events == grade_1.events + grade_2.events == 11
    assert r["muller2024.all.icans"].events == r["muller2024.all.infection_admission"].events == 1
    follow = r["muller2024.all.follow_up"]
    assert isinstance(follow, Summary)
    assert (follow.median, follow.low, follow.high, follow.unit) == (15, 4, 29, "months")
    assert r["muller2024.all.b_cell_aplasia"].status == "U"          # unverified recollection
    assert isinstance(r["muller2024.all.cytopenia"], Finding)


def test_reports_about_the_same_patients_are_declared():
    """Mackensen 2022's 5 SLE and Auth 2024's SSc are inside Mueller 2024 (dossier §1.5)."""
    assert EVIDENCE.share_patients("mackensen2022", "muller2024")
    assert EVIDENCE.share_patients("muller2024", "auth2024")           # symmetric
    assert not EVIDENCE.share_patients("muller2024", "feng2025")


@given(n=st.integers(1, 500), data=st.data())
def test_jeffreys_beta_is_exact_for_any_counts(n, data):
    x = data.draw(st.integers(0, n))
    prior = jeffreys_prior(Proportion("r.g.i", "", "s", "E", events=x, n=n))
    assert prior == Beta(x + 0.5, n - x + 0.5)


def test_jeffreys_gamma_for_events_over_exposure_in_any_unit():
    rate = Rate("r.g.i", "", "s", "E", events=0, exposure_years=18.75)
    assert jeffreys_prior(rate) == Gamma(0.5, 1 / 18.75)
    # Per month: the same evidence spread over 12 x the exposure in person-months.
    assert jeffreys_prior(rate, periods_per_year=12.0) == Gamma(0.5, 1 / (18.75 * 12))


def test_pooling_adds_independent_reports_and_refuses_the_same_patients():
    r = EVIDENCE.records
    pooled = pool([r["muller2024.sle.response"], r["feng2025.sle.response"]], EVIDENCE)
    assert (pooled.events, pooled.n) == (8 + 12, 8 + 15)
    with pytest.raises(ValueError, match="same patients"):
        pool([r["muller2024.sle.response"], r["mackensen2022.sle.response"]], EVIDENCE)
    with pytest.raises(ValueError, match="only proportions"):
        pool([r["muller2024.sle.response"], r["muller2024.all.relapse"]], EVIDENCE)


def test_base_scenario_priors_are_the_jeffreys_priors_of_the_data():
    s = load_scenario(BASE)
    p = s.parameters
    assert p["car_t.response.sle"].distribution == Beta(45.5, 19.5)       # pooled DORIS 45/64
    assert p["car_t.response.ssc"].distribution == Beta(7.5, 1.5)  # Auth 6/6 + rese-cel 1/2
    assert p["car_t.response.iim"].distribution == Beta(10.5, 1.5)  # Muller 3/3 + rese-cel 7/8
    assert p["car_t.treatment_death"].distribution == Beta(1.5, 144.5)    # pooled 1/145
    assert p["car_t.relapse.rate"].distribution == Gamma(1.5, 1 / 100)   # 1 relapse, ~100 PY
    assert "evidence nordmann_gomes2025.sle.doris_remission" in p["car_t.response.sle"].source
    # The point value is the prior's mean, so the base case and the PSA agree.
    assert p["car_t.response.sle"].value == pytest.approx(45.5 / 65, abs=1e-12)


def test_changing_a_count_changes_the_prior(tmp_path):
    """The data drive the prior: 40 of 64 instead of 45 of 64 gives Beta(40.5, 24.5)."""
    old = '[facts.nordmann_gomes2025.sle.doris_remission]\nkind = "proportion"\nevents = 45\n'
    assert old in SHIPPED_TEXT
    path = tmp_path / "evidence.toml"
    path.write_text(SHIPPED_TEXT.replace(old, old.replace("events = 45", "events = 40")),
                    encoding="utf-8")
    shipped = load_scenario(BASE)
    with use_evidence(load_evidence(path)):
        changed = load_scenario(BASE)
    assert changed.parameters["car_t.response.sle"].distribution == Beta(40.5, 24.5)
    assert "40 of 64" in changed.parameters["car_t.response.sle"].source
    assert changed.canonical_hash != shipped.canonical_hash
    assert load_scenario(BASE).parameters["car_t.response.sle"].distribution == Beta(45.5, 19.5)


def test_a_parameter_without_value_takes_the_prior_mean_and_status(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(f'extends = "{BASE.as_posix()}"\n[car_t.response.sle]\ndist = "beta"\n'
                    'evidence = "feng2025.sle.response"\n', encoding="utf-8")
    p = load_scenario(path).parameters["car_t.response.sle"]
    assert p.value == pytest.approx(12.5 / 16, rel=1e-12)
    assert p.status == "R"


def test_bad_evidence_keys_in_a_scenario_are_all_reported(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(f'extends = "{BASE.as_posix()}"\n'
                    '[car_t.response.sle]\ndist = "beta"\nevidence = "muller2024.sle.respons"\n'
                    '[car_t.response.iim]\ndist = "beta"\nevidence = ["muller2024.sle.response",'
                    ' "mackensen2022.sle.response"]\n'
                    '[car_t.response.ssc]\ndist = "beta"\nalpha = 1\n'
                    'evidence = "auth2024.ssc.response"\n'
                    '[car_t.early_infection]\ndist = "beta"\nevidence = "muller2024.all.relapse"\n'
                    '[car_t.relapse.rate]\ndist = "beta"\nevidence = "muller2024.all.relapse"\n',
                    encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    text = str(caught.value)
    assert "5 problems" in text
    assert "car_t.response.sle.evidence" in text
    assert "did you mean 'muller2024.sle.response'" in text
    assert "car_t.response.iim.evidence" in text and "same patients" in text
    assert "car_t.response.ssc.evidence" in text and "remove alpha" in text
    assert "car_t.early_infection.evidence" in text and "is a rate" in text
    assert 'car_t.relapse.rate.dist: must be "gamma"' in text


def test_a_bad_evidence_file_lists_every_problem(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(
        'schema = 1\n[reports.a]\ncitation = "A"\nsame_patients = ["b"]\n'
        '[facts.a.sle.x]\nkind = "proportion"\nevents = 9\nn = 8\nsource = "s"\nstatus = "R"\n'
        '[facts.a.sle.y]\nkind = "rate"\nevents = 1\nexposure_years = 0\nstatus = "Q"\n'
        '[facts.a.sle.z]\nkind = "fraction"\nsource = "s"\nstatus = "R"\n'
        '[facts.c.all.w]\nkind = "count"\ncount = 1\nsource = "s"\nstatus = "R"\n',
        encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_evidence(path)
    paths = {p.path for p in caught.value.problems}
    assert {"reports.a.same_patients", "facts.a.sle.x.events", "facts.a.sle.y.exposure_years",
            "facts.a.sle.y.source", "facts.a.sle.y.status", "facts.a.sle.z.kind",
            "facts.c"} <= paths

