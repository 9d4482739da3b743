"""Age-adjusted utilities (``Valuation.utility_age_norm``, vocabulary addition 3):
a constant norm changes nothing, a one-step norm matches its closed form, and
one-off QALY losses are not adjusted."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cartsim.cohort import Cohort
from cartsim.engine.simpy_engine import simulate_simpy
from cartsim.errors import ParameterError
from cartsim.outcomes.accounting import Rates, value_log
from cartsim.outcomes.age_norm import adjusted_sojourns
from cartsim.params.life_table import read_life_table
from cartsim.params.survival import Exponential
from cartsim.pathway.model import Mortality, Pathway, State, Transition, Valuation
from cartsim.rng import Streams

R = 0.03
U = 0.7


def _people(n: int = 600) -> Cohort:
    rng = np.random.default_rng(11)
    ages = rng.uniform(18.0, 95.0, n)
    return Cohort(tuple(map(str, range(n))), ("all",) * n, ages, rng.random(n) < 0.5)


def _pathway() -> Pathway:
    return Pathway("s", "sick", {
        "sick": State("sick", mortality=Mortality(life_table_ratio=2.0),
                      transitions=(Transition("improve", "well", Exponential(0.3)),),
                      remission=False),
        "well": State("well", mortality=Mortality(life_table_ratio=1.0),
                      transitions=(Transition("worsen", "sick", Exponential(0.2)),)),
    })


def _valuation(norm=None) -> Valuation:
    return Valuation({"sick": {"drugs": 1000.0}, "well": {}}, {"sick": 0.55, "well": 0.83},
                     event_costs={}, event_qaly_loss={"worsen": 0.05}, utility_age_norm=norm)


def _value(log, people, norm):
    return value_log(log, {"all": _pathway()}, {"all": _valuation(norm)}, people.group, Rates(R, R),
                     age=people.age, female=people.female).columns


def test_a_constant_norm_leaves_qalys_unchanged_exactly():
    people = _people()
    log = simulate_simpy({"all": _pathway()}, people, life_table=read_life_table(),
                         horizon=math.inf, streams=Streams(3))
    plain = _value(log, people, None)
    flat = _value(log, people, {"female": (0.86,) * 101, "male": (0.91,)})
    for name, column in plain.items():
        np.testing.assert_array_equal(flat[name], column, err_msg=name)


def test_a_one_step_norm_over_a_known_sojourn_matches_the_closed_form():
    """One state, no death, horizon 10: the sojourn is [0, 10) for everyone. Norm
    0.9 before age 50 and 0.8 from 50 (women), so for entry age a0 < 50 with
    s = 50 − a0 < 10: QALY = u (1 − e^{−rs})/r + u (0.8/0.9)(e^{−rs} − e^{−10r})/r."""
    ages = np.array([40.0, 41.25, 44.5, 49.999, 50.0, 55.5, 45.0, 45.0])
    female = np.array([True] * 6 + [False, True])
    n = ages.size
    people = Cohort(tuple(map(str, range(n))), ("all",) * n, ages, female)
    pathway = Pathway("s", "alive", {"alive": State("alive")})
    log = simulate_simpy({"all": pathway}, people, life_table=None, horizon=10.0,
                         streams=Streams(1))
    norm = {"female": (0.9,) * 50 + (0.8,), "male": (0.95,) * 45 + (0.7,)}
    val = Valuation({"alive": {}}, {"alive": U}, utility_age_norm=norm)
    cols = value_log(log, {"all": pathway}, {"all": val}, people.group, Rates(R, R),
                     age=ages, female=female).columns
    for i in range(n):
        step, before, after = (50.0, 0.9, 0.8) if female[i] else (45.0, 0.95, 0.7)
        s = step - ages[i]
        if 0.0 < s < 10.0:
            disc = U * -math.expm1(-R * s) / R + U * (after / before) * (
                math.exp(-R * s) - math.exp(-10 * R)) / R
            undisc = U * s + U * (after / before) * (10.0 - s)
        else:  # the whole sojourn in one band: multiplier 1
            disc, undisc = U * -math.expm1(-10 * R) / R, U * 10.0
        assert cols["qaly"][i] == pytest.approx(disc, rel=1e-12), i
        assert cols["qaly_undisc"][i] == pytest.approx(undisc, rel=1e-12), i
        assert cols["ly_undisc"][i] == 10.0


def test_one_off_qaly_losses_are_not_age_adjusted():
    """QALYs = the adjusted sojourns minus the unadjusted losses (e^{−rt} each)."""
    people = _people(300)
    log = simulate_simpy({"all": _pathway()}, people, life_table=read_life_table(),
                         horizon=40.0, streams=Streams(4))
    norm = {"female": tuple(np.linspace(0.95, 0.6, 101)), "male": (0.9,) * 60 + (0.7,)}
    cols = _value(log, people, norm)
    states = np.asarray(log.state_names)[log.sojourn_state]
    utility = np.where(states == "sick", 0.55, 0.83)
    p = log.sojourn_patient
    soj, soj_undisc = adjusted_sojourns(norm, people.age[p], people.female[p],
                                        log.sojourn_start, log.sojourn_end, utility, R)
    worsen = log.event_code == log.event_code_of("worsen")
    loss = np.bincount(log.event_patient[worsen], weights=0.05 * np.exp(
        -R * log.event_time[worsen]), minlength=people.n)
    expected = np.bincount(p, weights=soj, minlength=people.n) - loss
    np.testing.assert_allclose(cols["qaly"], expected, rtol=1e-12, atol=1e-12)
    undisc = np.bincount(p, weights=soj_undisc, minlength=people.n) - 0.05 * np.bincount(
        log.event_patient[worsen], minlength=people.n)
    np.testing.assert_allclose(cols["qaly_undisc"], undisc, rtol=1e-12, atol=1e-12)
    assert np.any(np.abs(cols["qaly"] - _value(log, people, None)["qaly"]) > 1e-3)


def test_valuing_an_age_norm_needs_ages_and_a_valid_norm():
    people = _people(20)
    log = simulate_simpy({"all": _pathway()}, people, life_table=read_life_table(),
                         horizon=5.0, streams=Streams(4))
    with pytest.raises(ValueError, match="age and sex"):
        value_log(log, {"all": _pathway()}, {"all": _valuation({"female": (0.8,),
                                                                 "male": (0.8,)})},
                  people.group, Rates(R, R))
    with pytest.raises(ParameterError, match="utility_age_norm"):
        _valuation({"female": (0.8, 0.0), "male": (0.8,)})
    with pytest.raises(ParameterError, match="utility_age_norm"):
        _valuation({"female": (0.8,)})
