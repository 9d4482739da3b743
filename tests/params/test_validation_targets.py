"""The shipped validation targets: every fact sourced, held-out facts really held out, bad
records refused with the record and field named."""

from __future__ import annotations

import copy
import re
import tomllib
import unicodedata
from pathlib import Path

import pytest

from cartsim.errors import ScenarioError
from cartsim.params.evidence import STATUSES, load_evidence
from cartsim.params.validation_targets import (
    DISEASES,
    KINDS,
    Target,
    interval,
    load_targets,
    parse_targets,
)

ROOT = Path(__file__).resolve().parents[2]
BASE_TEXT = (ROOT / "scenarios" / "base.toml").read_text(encoding="utf-8")
BASE = tomllib.loads(BASE_TEXT)
SHIPPED = load_targets()
IDS = [t.id for t in SHIPPED.targets]


def _plain(s: str) -> str:
    """Lower-case ASCII: 'Müller' and 'Mueller' compare equal, 'Dankó' matches 'Danko'."""
    for umlaut, ascii_ in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("Ä", "Ae"), ("Ö", "Oe"),
                           ("Ü", "Ue")):
        s = s.replace(umlaut, ascii_)
    return unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode().lower()


def _first_author_and_year(source: str) -> tuple[str, str]:
    author = re.split(r"[\s,]+", source.strip(), maxsplit=1)[0].strip(".;:()")
    year = re.search(r"\b(19|20)\d\d\b", source)
    assert year, f"no publication year in {source!r}"
    return author, year.group(0)


def _cited_in_base(author: str, year: str) -> bool:
    """Whether base.toml (sources and comments) names the author within 80 characters of the
    year, e.g. 'Dobloug GC et al., Ann Rheum Dis 2018' or 'Mueller 2024'."""
    text, name = _plain(BASE_TEXT), re.escape(_plain(author))
    return re.search(rf"{name}.{{0,80}}?{year}", text, re.DOTALL) is not None


def _base_key_exists(key: str) -> bool:
    node = BASE
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


@pytest.mark.parametrize("target_id", IDS)
def test_every_target_names_its_source_status_and_population(target_id):
    target = SHIPPED[target_id]
    assert target.source.strip() and target.population.strip() and target.comparability.strip()
    assert target.status in STATUSES
    assert target.kind in KINDS and target.disease in DISEASES
    if target.held_out:                  # the held-out check needs a first author and a year
        _first_author_and_year(target.source)


def test_the_file_covers_what_issue_12_asks_for():
    """Held-out survival per disease at >= 5 years, the Erlangen before/after costs,
    durability, and at least three independent held-out sources."""
    held = SHIPPED.held_out()
    for disease in ("sle", "iim", "ssc"):
        assert any(t.kind == "survival" and t.disease == disease and t.horizon_years >= 5
                   for t in held), disease
    assert any(t.horizon_years >= 20 and t.kind == "survival" for t in held)
    ratio = SHIPPED["erlangen2025.sle.cost_ratio_after_vs_before"]
    before = SHIPPED["erlangen2025.sle.annual_cost_before_car_t"]
    after = SHIPPED["erlangen2025.sle.annual_cost_after_car_t"]
    assert ratio.value == pytest.approx(after.value / before.value, abs=5e-4)
    assert ratio.value < 0.11 and ratio.strategy == "car_t"
    assert any(t.kind == "remission" for t in SHIPPED.targets)
    assert len({_first_author_and_year(t.source) for t in held}) >= 3


@pytest.mark.parametrize("target_id", IDS)
def test_used_by_priors_names_exist(target_id):
    """Each name is a base.toml parameter key or a case_series.toml address."""
    records = load_evidence().records
    for name in SHIPPED[target_id].used_by_priors:
        assert _base_key_exists(name) or name in records, name


@pytest.mark.parametrize("target_id", [t.id for t in SHIPPED.held_out()])
def test_held_out_targets_are_not_cited_by_the_base_scenario(target_id):
    author, year = _first_author_and_year(SHIPPED[target_id].source)
    assert not _cited_in_base(author, year), (author, year)


def test_the_citation_search_finds_sources_the_base_scenario_uses():
    """The check above would catch a fact whose source base.toml cites."""
    assert _cited_in_base("Dobloug", "2018")
    assert _cited_in_base("Müller", "2024")          # base.toml spells it Mueller
    assert not SHIPPED["dobloug2018.iim.survival_5y"].held_out
    assert not SHIPPED["muller2024.all.drug_free_15_months"].held_out


def test_intervals_come_from_the_reported_ci_or_the_counts():
    ci = SHIPPED["schiopu2012.iim.survival_10y"]
    assert interval(ci) == (0.48, 0.73)
    low, high = interval(SHIPPED["kattamuri2025.all.fatal_adverse_events"])
    assert low == 0.0 or low < 1e-4
    assert 0.02 < high < 0.04                        # Jeffreys 0 of 80
    assert interval(SHIPPED["tektonidou2017.sle.survival_10y"]) is None   # no n, no CI


GOOD = {
    "id": "test2020.sle.survival_5y", "kind": "survival", "disease": "sle",
    "strategy": "immunosuppression", "horizon_years": 5, "value": 0.9, "lower": 0.8,
    "upper": 0.95, "events": 90, "n": 100, "unit": "proportion alive", "population": "p",
    "comparability": "c", "source": "Test A. J Test 2020;1:1", "status": "R",
    "used_by_priors": [], "note": "",
}


def _file(**changes: object) -> dict:
    record = copy.deepcopy(GOOD)
    for key, value in changes.items():
        if value is None:
            record.pop(key)
        else:
            record[key] = value
    return {"schema": 1, "target": [record]}


def test_a_good_record_parses():
    target = parse_targets(_file(), "test").targets[0]
    assert isinstance(target, Target) and target.held_out and target.events == 90


@pytest.mark.parametrize(("changes", "field"), [
    ({"kind": "mortality"}, "kind"),
    ({"disease": "ra"}, "disease"),
    ({"strategy": "hsct"}, "strategy"),
    ({"status": "X"}, "status"),
    ({"source": None}, "source"),
    ({"source": "  "}, "source"),
    ({"population": None}, "population"),
    ({"used_by_priors": "mortality.sle.smr"}, "used_by_priors"),
    ({"used_by_priors": None}, "used_by_priors"),
    ({"value": 1.2}, "value"),
    ({"value": -0.1}, "value"),
    ({"horizon_years": 0}, "horizon_years"),
    ({"lower": 0.95, "upper": 0.99}, "lower <= value <= upper"),
    ({"upper": None}, "both lower and upper"),
    ({"events": 101}, "events"),
    ({"events": 5, "n": None}, "events"),
    ({"n": 0}, "n"),
    ({"currency": "USD"}, "currency"),
    ({"typo": 1}, "typo"),
    ({"id": "Bad Id"}, "id"),
    ({"age_mean": 40, "population_status": "R"}, "age_mean, age_sd and female together"),
    ({"age_mean": 40, "age_sd": 10, "female": 0.9}, "population_status"),
    ({"female": 1.5, "age_mean": 40, "age_sd": 10, "population_status": "R"}, "female"),
    ({"origin": "birth"}, "origin"),
    ({"origin": "entry", "conditional_on": 5}, "conditional_on"),
    ({"among": "responders"}, "among"),
    ({"bound": "lower"}, "bound"),
    ({"tolerance": 0.5}, "tolerance"),
])
def test_bad_records_are_refused_naming_the_record_and_field(changes, field):
    with pytest.raises(ScenarioError) as err:
        parse_targets(_file(**changes), "test")
    message = str(err.value)
    assert "target[0]" in message and field in message


def test_a_population_and_a_conditional_survival_parse():
    target = parse_targets(_file(age_mean=31, age_sd=12, female=0.93, origin="diagnosis",
                                 conditional_on=5, population_status="R/E", bound="upper"),
                           "test").targets[0]
    assert target.matched and target.conditional_on == 5 and target.bound == "upper"
    assert not parse_targets(_file(), "test").targets[0].matched


def test_cost_records_need_a_currency_and_no_events():
    cost = {"kind": "annual_cost", "value": 30000, "lower": None, "upper": None,
            "unit": "USD per year"}
    with pytest.raises(ScenarioError, match=r"currency"):
        parse_targets(_file(**cost, events=None, n=None), "test")
    with pytest.raises(ScenarioError, match=r"events.*only a proportion"):
        parse_targets(_file(**cost, currency="USD"), "test")
    with pytest.raises(ScenarioError, match=r"three-letter"):
        parse_targets(_file(**cost, currency="dollars", events=None), "test")
    assert parse_targets(_file(**cost, currency="USD", events=None, price_year=2019),
                         "test").targets[0].price_year == 2019


def test_duplicate_ids_and_a_bad_file_are_refused(tmp_path):
    doubled = _file()
    doubled["target"].append(copy.deepcopy(GOOD))
    with pytest.raises(ScenarioError, match=r"target\[1\].*earlier target"):
        parse_targets(doubled, "test")
    with pytest.raises(ScenarioError, match="schema"):
        parse_targets({"schema": 2, "target": [GOOD]}, "test")
    broken = tmp_path / "targets.toml"
    broken.write_text("schema = 1\n[[target]\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="TOML syntax"):
        load_targets(broken)
