"""Verification of cartsim.params.survival and survival_shapes.

Order: closed-form known values, then Monte Carlo checks whose tolerance is 4
standard errors of the estimate (so any seed passes with probability > 0.9999),
then hypothesis properties.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, special

from cartsim.errors import ParameterError
from cartsim.params.survival import (
    Exponential,
    Fixed,
    Gompertz,
    LogLogistic,
    LogNormal,
    Never,
    SurvivalModel,
    Weibull,
)
from cartsim.params.survival_shapes import (
    CureMixture,
    LinearRamp,
    PiecewiseExponential,
    Window,
    make_survival,
)

PROPERTY = settings(max_examples=60, deadline=None, database=None)
N = 200_000  # Monte Carlo sample size


def uniforms(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random(n)  # [0, 1): u = 0 is a valid input


def assert_mean_within_4se(x: np.ndarray, expected: float) -> None:
    """Sample mean within 4 Monte Carlo standard errors of `expected`."""
    se = x.std(ddof=1) / math.sqrt(x.size)
    assert abs(x.mean() - expected) <= 4.0 * se + 1e-12 * abs(expected)


# ---------------------------------------------------------------- known values

WEIBULL = Weibull(shape=1.5, scale=8.0)
DISCOUNT = 0.035


def test_weibull_mean_and_median_closed_form():
    assert WEIBULL.mean() == pytest.approx(8.0 * math.gamma(1.0 + 1.0 / 1.5), rel=1e-12)
    assert WEIBULL.mean() == pytest.approx(7.2220, abs=1e-4)
    assert WEIBULL.median() == pytest.approx(8.0 * math.log(2.0) ** (1.0 / 1.5), rel=1e-12)
    assert WEIBULL.median() == pytest.approx(6.2658, abs=1e-4)


def test_weibull_empirical_cdf_at_median():
    t = WEIBULL.times_from_uniforms(uniforms(N, 1))
    assert abs(np.mean(t <= WEIBULL.median()) - 0.5) <= 4.0 * math.sqrt(0.25 / N)


def test_weibull_discounted_expectation():
    # E[(1 - e^{-rT}) / r] = integral of e^{-rt} S(t) dt: discounted life-years.
    exact, _ = integrate.quad(lambda t: math.exp(-DISCOUNT * t) * float(WEIBULL.survival(t)),
                              0.0, math.inf, epsabs=1e-12)
    assert exact == pytest.approx(6.0715, abs=1e-3)
    t = WEIBULL.times_from_uniforms(uniforms(N, 2))
    assert_mean_within_4se(-np.expm1(-DISCOUNT * t) / DISCOUNT, exact)


def test_weibull_shape_one_is_exponential():
    u = np.append(uniforms(10_000, 3), [1.0, 1e-300])
    for mu in (0.01, 0.3, 7.0):
        w, e = Weibull(shape=1.0, scale=1.0 / mu), Exponential(mu)
        np.testing.assert_allclose(w.times_from_uniforms(u), e.times_from_uniforms(u),
                                   rtol=1e-12, atol=0)
        assert w.time_from_uniform(0.123) == pytest.approx(e.time_from_uniform(0.123), rel=1e-12)


@pytest.mark.parametrize("model", [
    Gompertz(0.08, 0.01), Gompertz(2.0, 3.0), Gompertz(1e-5, 0.1),  # last: asymptotic branch
    LogLogistic(4.0, 3.0), LogNormal(1.0, 0.6),
    PiecewiseExponential((0.0, 1.0, 3.0), (0.2, 0.0, 0.5)), LinearRamp(0.2, 2.0),
    LinearRamp(0.7, 0.0), Window(1.0, 5.0), Weibull(0.7, 2.0),
], ids=repr)
def test_closed_form_mean_equals_integral_of_survival(model):
    exact, _ = integrate.quad(lambda t: float(model.survival(t)), 0.0, math.inf,
                              epsabs=1e-13, epsrel=1e-11, limit=200)
    assert model.mean() == pytest.approx(exact, rel=1e-7)


def test_linear_ramp_cumulative_hazard_is_integral_of_hazard():
    m = LinearRamp(rate=0.3, ramp=2.5)
    for t in (0.0, 0.4, 1.7, 2.5, 2.6, 10.0, 40.0):
        area, _ = integrate.quad(lambda s: float(m.hazard(s)), 0.0, t, points=[2.5] if t > 2.5
                                 else None, epsabs=1e-13, epsrel=1e-13)
        assert float(m.cumulative_hazard(t)) == pytest.approx(area, rel=1e-9, abs=1e-12)
    assert m.hazard([0.0, 1.25, 2.5, 9.0]).tolist() == pytest.approx([0.0, 0.15, 0.3, 0.3],
                                                                      rel=1e-12)


def test_numerical_hazard_matches_closed_form():
    t = np.array([0.5, 3.0, 12.0])
    closed = 1.5 / 8.0 * (t / 8.0) ** 0.5
    np.testing.assert_allclose(WEIBULL.hazard(t), closed, rtol=1e-5)
    assert float(Gompertz(0.1, 0.02).hazard(5.0)) == pytest.approx(0.02 * math.exp(0.5), rel=1e-5)


def test_edge_uniforms_give_support_ends():
    assert Exponential(0.5).time_from_uniform(1.0) == 0.0
    assert math.copysign(1.0, Exponential(0.5).time_from_uniform(1.0)) == 1.0  # not -0.0
    assert Exponential(0.5).time_from_uniform(0.0) == math.inf
    assert Exponential(0.0).time_from_uniform(1.0) == math.inf  # never: no lower end
    assert Fixed(2.0).time_from_uniform(1.0) == 2.0
    assert Fixed(2.0).time_from_uniform(0.0) == 2.0
    assert Window(1.0, 5.0).time_from_uniform(0.0) == 5.0
    assert Window(0.3, 5.0).time_from_uniform(0.0) == math.inf
    assert Never().time_from_uniform(0.5) == math.inf
    assert LogNormal(0.0, 1.0).time_from_uniform(1.0) == 0.0
    assert float(Window(0.4, 0.0).survival(0.0)) == pytest.approx(0.6, rel=1e-15)
    assert set(Window(0.4, 0.0).times_from_uniforms(uniforms(1_000, 9)).tolist()) == {0.0, math.inf}


def test_gompertz_known_values():
    b = 0.02 / 0.1  # E[T] = e^b E1(b) / shape
    assert Gompertz(0.1, 0.02).mean() == pytest.approx(math.exp(b) * special.exp1(b) / 0.1,
                                                       rel=1e-12)
    g = Gompertz(shape=-0.5, rate=0.2)  # defective: never happens with prob. S(inf)
    p_never = math.exp(0.2 / -0.5)  # S(inf)
    assert g.time_from_uniform(p_never * 0.999) == math.inf
    assert math.isfinite(g.time_from_uniform(p_never * 1.001))
    assert float(g.survival(1e6)) == pytest.approx(p_never, rel=1e-12)
    assert g.mean() == math.inf


def test_piecewise_exponential_known_values():
    m = PiecewiseExponential(breaks=(0.0, 1.0, 3.0), rates=(0.2, 0.0, 0.5))
    assert m.cumulative_hazard([0.5, 1.0, 2.0, 3.0, 5.0]).tolist() == pytest.approx(
        [0.1, 0.2, 0.2, 0.2, 1.2], rel=1e-12)
    # H is flat on [1, 3): the smallest t with H(t) >= 0.2 is 1, just above it is 3+.
    assert m.inverse_cumulative_hazard([0.2, 0.2 + 1e-9]).tolist() == pytest.approx(
        [1.0, 3.0 + 2e-9], rel=1e-9)
    assert PiecewiseExponential((0.0, 2.0), (0.0, 0.1)).time_from_uniform(1.0) == 2.0
    # -ln(0.5) lands exactly on the flat stretch: both paths must return its start, 1.
    flat = PiecewiseExponential((0.0, 1.0, 3.0), (math.log(2.0), 0.0, 0.5))
    assert flat.time_from_uniform(0.5) == 1.0
    assert float(flat.times_from_uniforms(0.5)) == 1.0


# ----------------------------------------------------- every family, same checks

FAMILIES = [
    Exponential(0.3), Weibull(1.5, 8.0), Weibull(0.6, 2.0), Gompertz(0.09, 0.01),
    Gompertz(-0.4, 0.3), Gompertz(0.0, 0.4), LogLogistic(4.0, 3.0), LogLogistic(0.8, 1.0),
    LogNormal(1.0, 0.5), PiecewiseExponential((0.0, 1.0, 3.0), (0.2, 0.05, 0.5)),
    Fixed(2.0), Never(), CureMixture(0.3, Weibull(1.2, 3.0)), LinearRamp(0.2, 2.0),
    Window(0.3, 5.0), Window(1.0, 5.0),
]
WITH_MEAN = [m for m in FAMILIES if math.isfinite(m.mean())
             and not (isinstance(m, LogLogistic) and m.shape <= 2.0)]  # need a variance
EDGE_U = [0.0, 5e-324, 1e-300, 1e-9, 0.5, 1.0 - 1e-12, np.nextafter(1.0, 0.0), 1.0]


@pytest.mark.parametrize("model", FAMILIES, ids=repr)
def test_survival_starts_at_one(model):
    assert float(model.survival(0.0)) == 1.0
    assert float(model.cumulative_hazard(-1.0)) == 0.0


@pytest.mark.parametrize("model", FAMILIES, ids=repr)
def test_scalar_path_equals_vector_path(model):
    u = np.concatenate([EDGE_U, uniforms(2_000, 4)])
    vector = model.times_from_uniforms(u)
    scalar = np.array([model.time_from_uniform(float(x)) for x in u])
    assert isinstance(model.time_from_uniform(0.5), float)
    np.testing.assert_allclose(scalar, vector, rtol=1e-12, atol=0)


@pytest.mark.parametrize("model", FAMILIES, ids=repr)
def test_inverse_of_cumulative_hazard_is_identity_on_support(model):
    t = model.times_from_uniforms(np.linspace(1e-6, 1.0 - 1e-6, 2_001))
    t = t[np.isfinite(t) & (t > 0.0)]
    np.testing.assert_allclose(model.inverse_cumulative_hazard(model.cumulative_hazard(t)), t,
                               rtol=1e-9, atol=0)


@pytest.mark.parametrize("model", FAMILIES, ids=repr)
def test_uniform_path_solves_survival_equals_u(model):
    u = np.linspace(0.01, 0.99, 99)
    t = model.times_from_uniforms(u)
    finite = np.isfinite(t)
    if isinstance(model, Fixed):  # a point mass: S jumps over every u
        assert np.all(t == model.time)
        return
    np.testing.assert_allclose(model.survival(t[finite]), u[finite], rtol=1e-9)
    # Never-events happen exactly where u is below the model's S(inf).
    assert np.all(u[~finite] <= float(model.survival(1e12)) + 1e-12)


@pytest.mark.parametrize("model", WITH_MEAN, ids=repr)
def test_sample_mean_matches_closed_form(model):
    t = model.times_from_uniforms(uniforms(N, 5))
    assert_mean_within_4se(t, model.mean())


@pytest.mark.parametrize("model", FAMILIES, ids=repr)
@pytest.mark.parametrize("factor", [1.0 / 12.0, 2.5, 365.25])
def test_scaled_multiplies_times(model, factor):
    u = np.concatenate([EDGE_U, uniforms(1_000, 6)])
    scaled = model.scaled(factor)
    assert type(scaled) is type(model)
    np.testing.assert_allclose(scaled.times_from_uniforms(u), factor * model.times_from_uniforms(u),
                               rtol=1e-12, atol=0)


def test_scaled_converts_units():
    assert Weibull(1.2, 30.0).scaled(1.0 / 12.0).scale == pytest.approx(2.5, rel=1e-15)
    assert Exponential(0.6).scaled(1.0 / 12.0).rate == pytest.approx(7.2, rel=1e-15)
    assert LogNormal(1.0, 0.5).scaled(math.e).meanlog == pytest.approx(2.0, rel=1e-15)
    assert PiecewiseExponential((0.0, 6.0), (0.5, 0.1)).scaled(0.5) == PiecewiseExponential(
        (0.0, 3.0), (1.0, 0.2))
    with pytest.raises(ParameterError, match="factor must be > 0"):
        Exponential(1.0).scaled(0.0)


# ------------------------------------------------------------------- mixtures

def test_cure_mixture_fraction_and_base_distribution():
    pi, base = 0.35, Weibull(1.3, 4.0)
    t = CureMixture(pi, base).times_from_uniforms(uniforms(N, 7))
    cured = np.isinf(t)
    assert abs(cured.mean() - pi) <= 4.0 * math.sqrt(pi * (1.0 - pi) / N)
    assert_mean_within_4se(t[~cured], base.mean())


def test_cure_mixture_survival_formula():
    m, base = CureMixture(0.2, Exponential(0.5)), Exponential(0.5)
    t = np.array([0.0, 1e-9, 0.3, 2.0, 50.0, 2000.0])
    np.testing.assert_allclose(m.survival(t), 0.2 + 0.8 * base.survival(t), rtol=1e-13)
    assert m.mean() == math.inf
    assert CureMixture(0.0, base).mean() == pytest.approx(2.0, rel=1e-15)
    assert m.scaled(2.0) == CureMixture(0.2, Exponential(0.25))


def test_window_probability_and_uniform_timing():
    p, w = 0.3, 5.0
    t = Window(p, w).times_from_uniforms(uniforms(N, 8))
    happened = np.isfinite(t)
    assert abs(happened.mean() - p) <= 4.0 * math.sqrt(p * (1.0 - p) / N)
    assert t[happened].min() >= 0.0
    assert t[happened].max() <= w
    assert_mean_within_4se(t[happened], w / 2.0)
    # Uniform on [0, w]: variance w^2/12; its estimate has SE sqrt((m4 - s^4)/n), m4 = w^4/80.
    n = happened.sum()
    assert abs(t[happened].var() - w * w / 12.0) <= 4.0 * math.sqrt(
        (w**4 / 80.0 - (w * w / 12.0) ** 2) / n)


# -------------------------------------------------------------- properties

finite_pos = st.floats(0.05, 20.0)
bases = st.one_of(st.builds(Exponential, st.floats(0.0, 5.0)),
                  st.builds(Weibull, st.floats(0.3, 6.0), finite_pos))


@st.composite
def piecewise(draw):
    widths = draw(st.lists(st.floats(0.01, 5.0), max_size=4))
    breaks = np.concatenate([[0.0], np.cumsum(widths)]).tolist()
    rates = draw(st.lists(st.floats(0.0, 3.0), min_size=len(breaks), max_size=len(breaks)))
    return PiecewiseExponential(breaks, rates)


models = st.one_of(
    st.builds(Exponential, st.floats(0.0, 10.0)),
    st.builds(Weibull, st.floats(0.3, 10.0), finite_pos),
    # |shape| >= 1e-6: below that shape * h underflows, a regime no model uses.
    st.builds(Gompertz, st.one_of(st.just(0.0), st.floats(1e-6, 2.0), st.floats(-2.0, -1e-6)),
              st.floats(0.01, 5.0)),
    st.builds(LogLogistic, st.floats(0.3, 10.0), finite_pos),
    st.builds(LogNormal, st.floats(-3.0, 3.0), st.floats(0.05, 3.0)),
    piecewise(),
    st.builds(Fixed, st.floats(0.01, 50.0)),
    st.just(Never()),
    st.builds(CureMixture, st.floats(0.0, 1.0), bases),
    st.builds(LinearRamp, st.floats(0.0, 5.0), st.floats(0.0, 10.0)),
    st.builds(Window, st.floats(0.0, 1.0), st.floats(0.01, 20.0)),
)


@PROPERTY
@given(models, st.floats(0.0, 100.0), st.floats(0.0, 100.0))
def test_survival_is_non_increasing(model, t1, t2):
    lo, hi = sorted((t1, t2))
    s = model.survival([0.0, lo, hi])
    assert s[0] == 1.0
    assert s[1] >= s[2]


@PROPERTY
@given(models, st.lists(st.floats(0.0, 1.0), min_size=1, max_size=20))
def test_scalar_equals_vector_property(model, us):
    vector = model.times_from_uniforms(us)
    scalar = [model.time_from_uniform(u) for u in us]
    np.testing.assert_allclose(scalar, vector, rtol=1e-12, atol=0)
    assert np.all(vector >= 0.0)


@PROPERTY
@given(models, st.floats(1e-6, 1.0 - 1e-6))
def test_inverse_roundtrip_property(model, u):
    t = float(model.times_from_uniforms(u))
    assert t >= 0.0
    if math.isfinite(t) and t > 0.0:
        back = float(model.inverse_cumulative_hazard(model.cumulative_hazard(t)))
        assert back == pytest.approx(t, rel=1e-9)


@PROPERTY
@given(st.floats(0.0, 1.0), st.floats(0.0, 10.0), st.floats(0.0, 10.0))
def test_exponential_time_non_increasing_in_rate(u, r1, r2):
    lo, hi = sorted((r1, r2))
    assert Exponential(lo).time_from_uniform(u) >= Exponential(hi).time_from_uniform(u)


@PROPERTY
@given(st.floats(0.0, 1.0), st.floats(0.2, 5.0), st.floats(0.01, 50.0), st.floats(0.01, 50.0))
def test_weibull_time_non_increasing_as_scale_falls(u, shape, s1, s2):
    lo, hi = sorted((s1, s2))
    assert Weibull(shape, lo).time_from_uniform(u) <= Weibull(shape, hi).time_from_uniform(u)


# ------------------------------------------------------------- validation

@pytest.mark.parametrize(("build", "message"), [
    (lambda: Weibull(shape=-1, scale=2.0), "Weibull shape must be > 0; got -1"),
    (lambda: Weibull(shape=1.0, scale=math.inf), "Weibull scale must be finite; got inf"),
    (lambda: Exponential(rate=math.nan), "Exponential rate must be >= 0; got nan"),
    (lambda: Exponential(rate="fast"), "Exponential rate must be a real number"),
    (lambda: Gompertz(shape=0.1, rate=0.0), "Gompertz rate must be > 0"),
    (lambda: LogNormal(meanlog=0.0, sdlog=0.0), "LogNormal sdlog must be > 0; got 0"),
    (lambda: Fixed(time=-1.0), "Fixed time must be >= 0; got -1.0"),
    (lambda: CureMixture(1.5, Exponential(1.0)), "cure_fraction must be >= 0 and <= 1; got 1.5"),
    (lambda: CureMixture(0.5, 0.3), "base must be a SurvivalModel"),
    (lambda: LinearRamp(rate=0.1, ramp=-2.0), "LinearRamp ramp must be >= 0; got -2.0"),
    (lambda: Window(probability=1.2, window=1.0), "Window probability must be >= 0 and <= 1"),
    (lambda: PiecewiseExponential((1.0, 2.0), (0.1, 0.2)), r"breaks\[0\] == 0"),
    (lambda: PiecewiseExponential((0.0, 2.0, 2.0), (0.1, 0.2, 0.3)), "strictly increasing"),
    (lambda: PiecewiseExponential((0.0, 2.0), (0.1,)), r"len\(breaks\) == len\(rates\)"),
    (lambda: PiecewiseExponential((0.0, 2.0), (0.1, -0.2)), r"rates\[1\] must be >= 0"),
])
def test_invalid_arguments_raise_parameter_error(build, message):
    with pytest.raises(ParameterError, match=message):
        build()


@pytest.mark.parametrize("call", [
    lambda: Exponential(1.0).time_from_uniform(1.5),
    lambda: CureMixture(0.5, Exponential(1.0)).time_from_uniform(-0.1),
    lambda: Weibull(1.0, 1.0).times_from_uniforms([0.5, math.nan]),
    lambda: Weibull(1.0, 1.0).inverse_cumulative_hazard(-1.0),
])
def test_invalid_uniforms_or_hazards_raise_value_error(call):
    with pytest.raises(ValueError, match=r"must lie in|must be >= 0"):
        call()


# ---------------------------------------------------------------- factory

@pytest.mark.parametrize(("name", "params", "expected"), [
    ("exponential", {"rate": 0.2}, Exponential(0.2)),
    ("Weibull", {"shape": 1.5, "scale": 8}, Weibull(1.5, 8.0)),
    ("gompertz", {"shape": 0.1, "rate": 0.01}, Gompertz(0.1, 0.01)),
    ("loglogistic", {"shape": 2, "scale": 3}, LogLogistic(2.0, 3.0)),
    ("lognormal", {"meanlog": 1, "sdlog": 0.5}, LogNormal(1.0, 0.5)),
    ("piecewise_exponential", {"breaks": [0, 1], "rates": [0.1, 0.2]},
     PiecewiseExponential((0.0, 1.0), (0.1, 0.2))),
    ("fixed", {"time": 0.25}, Fixed(0.25)),
    ("never", {}, Never()),
    ("linear_ramp", {"rate": 0.1, "ramp": 2}, LinearRamp(0.1, 2.0)),
    ("window", {"probability": 0.01, "window": 15}, Window(0.01, 15.0)),
])
def test_make_survival_builds_models(name, params, expected):
    model = make_survival(name, **params)
    assert isinstance(model, SurvivalModel)
    assert model == expected


def test_make_survival_reports_bad_input():
    with pytest.raises(ParameterError, match="did you mean 'weibull'"):
        make_survival("weibul", shape=1.0, scale=1.0)
    with pytest.raises(ParameterError, match="missing scale; expected arguments: shape, scale"):
        make_survival("weibull", shape=1.0)
    with pytest.raises(ParameterError, match="unexpected scale"):
        make_survival("exponential", rate=1.0, scale=2.0)
    with pytest.raises(ParameterError, match="Weibull shape must be > 0"):
        make_survival("weibull", shape=0.0, scale=1.0)
