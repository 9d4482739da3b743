"""AgeSpecificHazard: a transition hazard by whole year of age (vocabulary addition 2)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cartsim.errors import ParameterError
from cartsim.params.survival import Exponential
from cartsim.params.survival_age import AgeSpecificHazard, rate_bands


def _both(rates: tuple[float, ...], multiplier: float = 1.0) -> AgeSpecificHazard:
    return AgeSpecificHazard({"female": rates, "male": rates}, multiplier)


def test_constant_table_gives_exactly_the_exponential_time():
    """One band: the time is E / (multiplier x rate), the exponential's arithmetic."""
    model = _both((0.1,) * 80, multiplier=0.7)
    expo = Exponential(0.7 * 0.1)
    for u in np.linspace(1e-6, 1.0, 101).tolist():
        for age in (0.0, 17.3, 79.9, 95.0):
            assert model.time_from_uniform_at(u, age, "female") == expo.time_from_uniform(u)


def test_time_waits_for_the_first_age_with_a_hazard():
    """Rate 0 before 40, 0.2 from 40: from age 35 the time is 5 + E / 0.2."""
    model = _both((0.0,) * 40 + (0.2,))
    for u in (0.9, 0.5, 0.01):
        e = -math.log(u)
        assert model.time_from_uniform_at(u, 35.0, "male") == pytest.approx(5.0 + e / 0.2,
                                                                            rel=1e-14)
    assert model.time_from_uniform_at(1.0, 35.0, "male") == 5.0  # no hazard until 40


def test_zero_hazard_never_happens_and_draws_nothing():
    assert _both((0.0, 0.0)).never
    assert _both((0.3,), multiplier=0.0).never
    assert not AgeSpecificHazard({"female": (0.0,), "male": (0.1,)}).never
    assert _both((0.0, 0.0)).time_from_uniform_at(0.5, 10.0, "female") == math.inf
    only_young = _both((0.2, 0.0))  # hazard only before age 1
    assert only_young.time_from_uniform_at(0.01, 0.5, "female") == math.inf


def test_sexes_have_their_own_rates():
    model = AgeSpecificHazard({"female": (0.1,), "male": (0.4,)})
    u = 0.3
    assert model.time_from_uniform_at(u, 50.0, "male") * 4 == pytest.approx(
        model.time_from_uniform_at(u, 50.0, "female"), rel=1e-14)


@settings(max_examples=200, deadline=None)
@given(rates=st.lists(st.floats(0.0, 2.0), min_size=1, max_size=30),
       age=st.floats(0.0, 40.0), u=st.floats(1e-9, 1.0), multiplier=st.floats(0.01, 5.0))
def test_time_inverts_the_cumulative_hazard(rates, age, u, multiplier):
    """H(T) = -ln u, the defining property of inverse-CDF sampling."""
    model = _both(tuple(rates), multiplier)
    t = model.time_from_uniform_at(u, age, "female")
    if math.isinf(t):
        assert model.cumulative_hazard_at(1e6, age, "female") < -math.log(u) + 1e-9
        return
    h = float(model.cumulative_hazard_at(t, age, "female"))
    assert h == pytest.approx(-math.log(u), rel=1e-9, abs=1e-12)


def test_bands_merge_equal_rates():
    assert rate_bands((0.1, 0.1, 0.2, 0.1), 1.0) == ((0, 2, 3), (0.1, 0.2, 0.1))


@pytest.mark.parametrize("rates, multiplier", [
    ({"female": (0.1,)}, 1.0),
    ({"female": (0.1,), "male": ()}, 1.0),
    ({"female": (-0.1,), "male": (0.1,)}, 1.0),
    ({"female": (math.nan,), "male": (0.1,)}, 1.0),
    ({"female": (0.1,), "male": (0.1,)}, -1.0),
])
def test_bad_tables_are_refused(rates, multiplier):
    with pytest.raises(ParameterError, match="AgeSpecificHazard"):
        AgeSpecificHazard(rates, multiplier)


def test_methods_without_age_say_what_to_use():
    model = _both((0.1,))
    with pytest.raises(TypeError, match="time_from_uniform_at"):
        model.time_from_uniform(0.5)
    with pytest.raises(ParameterError, match="per year of age"):
        model.scaled(1 / 12)


def test_a_table_checked_once_is_still_refused_at_every_construction():
    # the rates' checks are cached per table (a PSA builds the same table's hazard every
    # draw): a refused table stays refused, whatever its container
    bad = {"female": (0.1, -1.0), "male": (0.1,)}
    for rates in (bad, bad, {"female": [0.1, -1.0], "male": np.array([0.1])}):
        with pytest.raises(ParameterError, match="finite rates >= 0"):
            AgeSpecificHazard(rates)


def test_one_table_under_several_multipliers_keeps_each_multipliers_bands():
    rates = {"female": (0.1, 0.1, 0.25), "male": [0.3]}
    two, three = AgeSpecificHazard(rates, 2.0), AgeSpecificHazard(rates, 3.0)
    assert two.bands("female") == ((0, 2), (2.0 * 0.1, 2.0 * 0.25))
    assert three.bands("female") == ((0, 2), (3.0 * 0.1, 3.0 * 0.25))
    assert three.bands("male") == ((0,), (3.0 * 0.3,))
    assert two.rates == {"female": (0.1, 0.1, 0.25), "male": (0.3,)}
