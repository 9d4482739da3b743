"""The [capacity] table: accepted forms, every problem reported at once (file, dotted
key, value, expectation, did-you-mean), and no effect on scenarios without it."""

from __future__ import annotations

import math

import pytest

from cartsim.errors import ScenarioError
from cartsim.scenario.load import load_scenario

BAD = """
[capacity]
replications = 0
colour = 1
[capacity.arrivals]
rate = { value = 30, per = "year" }
per_year = [1, 2]
[capacity.manufacturing]
slots_per_mnth = 2
[capacity.apheresis]
chairs = 1.5
time = { value = 1, unit = "days", dist = "gamma" }
time_distribution = "lognormal"
[capacity.treatment_centre]
beds = 0
stay = { value = 0, unit = "days" }
"""


def problems_of(cap, text: str, overrides=()) -> dict[str, str]:
    with pytest.raises(ScenarioError) as info:
        cap.scenario(text, overrides)
    return {p.path: p.render() for p in info.value.problems}


def test_shipped_capacity_scenario_is_valid_and_sourced(cap):
    s = load_scenario(cap.shipped)
    spec = s.capacity
    assert spec is not None and spec.replications >= 1
    assert spec.arrivals.rate is not None and spec.arrivals.rate > 0
    assert not math.isinf(spec.slots_per_month)
    assert spec.stay == pytest.approx(15 / 365.25)
    for figure in spec.figures:
        assert figure.source and figure.status, figure.name


def test_every_problem_is_reported_at_once(cap):
    found = problems_of(cap, BAD)
    expected = {
        "capacity.colour": "unknown key",
        "capacity.replications": "must be >= 1",
        "capacity.arrivals.rate": "cannot be combined with per_year",
        "capacity.manufacturing.slots_per_mnth": "did you mean 'slots_per_month'",
        "capacity.manufacturing.slots_per_month": "missing",
        "capacity.apheresis.chairs": "whole number of chairs",
        "capacity.apheresis.time.dist": "capacity figures are fixed",
        "capacity.apheresis.time_distribution": "must be one of fixed, exponential",
        "capacity.treatment_centre.beds": "must be > 0",
        "capacity.treatment_centre.stay.value": "must be > 0",
    }
    assert set(found) == set(expected)
    for path, text in expected.items():
        assert text in found[path], found[path]
    assert "got 1.5" in found["capacity.apheresis.chairs"]


@pytest.mark.parametrize(("text", "path", "message"), [
    ("[capacity]\n", "capacity.arrivals", "missing"),
    ("[capacity.arrivals]\nrate = 10\n", "capacity.arrivals.years", "missing"),
    ("[capacity.arrivals]\nper_year = []\n", "capacity.arrivals.per_year", "list of referral"),
    ("[capacity.arrivals]\nper_year = [3, -1]\n", "capacity.arrivals.per_year.1", ">= 0"),
    ("[capacity.arrivals]\nper_year = [0, 0]\n", "capacity.arrivals.per_year", "at least one"),
    ("[capacity.arrivals]\nrate = \"30\"\nyears = 2\n", "capacity.arrivals.rate", "not text"),
    ("[capacity.arrivals]\nrate = 10\nyears = { value = 6, unit = \"weeks\", low = 1 }\n",
     "capacity.arrivals.years.low", "unknown key"),
    ("[capacity]\nreplications = 10000\n[capacity.arrivals]\nrate = 1000\nyears = 100\n",
     "capacity.replications", "the cap is"),
    ("[capacity.arrivals]\nrate = 5\nyears = 1\n[capacity.treatment_centre]\nbeds = \"lots\"\n",
     "capacity.treatment_centre.beds", '"unlimited"'),
    ("[capacity.arrivals]\nrate = 5\nyears = 1\n[capacity.apheresis]\nchair = 1\n",
     "capacity.apheresis.chair", "did you mean 'chairs'"),
    ("[capacity.arrivals]\nrate = 5\nyears = 1\n[cohort]\nfile = \"patients.csv\"\n",
     "cohort.file", "cannot be used with [capacity]"),
])
def test_one_bad_value_names_its_key(cap, text, path, message):
    text = text if text.startswith("[capacity]") else "[capacity]\n" + text
    found = problems_of(cap, text)
    assert path in found, found
    assert message in found[path]


def test_capacity_needs_the_clinical_model(kv_text, write_toml):
    path = write_toml(kv_text + "\n[capacity.arrivals]\nrate = 5\nyears = 1\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert any(p.path == "capacity" and "cart_vs_is" in p.render()
               for p in info.value.problems)


def test_unlimited_counts_and_overrides(cap):
    text = ("[capacity]\n[capacity.arrivals]\nrate = 5\nyears = 1\n[capacity.treatment_centre]\n"
            "beds = { value = \"unlimited\", source = \"test\" }\n"
            "[capacity.manufacturing]\nslots_per_month = { value = 2, source = \"s\" }\n")
    s = cap.scenario(text)
    assert math.isinf(s.capacity.beds) and s.capacity.slots_per_month == 2
    assert math.isinf(s.capacity.apheresis_chairs)  # a stage left out is unlimited
    s2 = cap.scenario(text, ('capacity.manufacturing.slots_per_month="unlimited"',
                             "capacity.arrivals.rate=12"))
    assert math.isinf(s2.capacity.slots_per_month) and s2.capacity.arrivals.rate == 12
    assert s2.canonical_hash != s.canonical_hash


def test_scenarios_without_capacity_are_unchanged(cap):
    """No [capacity]: nothing parsed and the hash is that of the same file without
    the section; adding it changes the hash."""
    base = load_scenario(cap.base)
    assert base.capacity is None
    plain = cap.scenario("")
    assert plain.capacity is None and plain.canonical_hash == base.canonical_hash
    assert cap.scenario(cap.small).canonical_hash != base.canonical_hash
