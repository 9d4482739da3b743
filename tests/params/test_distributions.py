"""Verification of cartsim.params.distributions (VERIFICATION E2).

Order: exact conversions and known values, then Monte Carlo checks whose tolerance
is 4 standard errors of the estimate (any seed passes with probability > 0.9999),
then hypothesis properties.
"""

import copy
import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from cartsim.errors import ParameterError
from cartsim.params.distributions import (
    Beta,
    Dirichlet,
    Distribution,
    Fixed,
    Gamma,
    LogNormal,
    Normal,
    Triangular,
    Uniform,
    make_distribution,
)

PROPERTY = settings(max_examples=80, deadline=None, database=None)
K = 20_000  # PSA draws
Z95 = 1.959963984540054
METADATA = {"value": 0.3, "unit": "years", "per": "year", "source": "trial", "status": "E",
            "note": "n", "description": "d"}


def assert_moments_within_4se(x: np.ndarray, mean: float, sd: float) -> None:
    """Sample mean and SD within 4 Monte Carlo SEs of the analytic values.

    SE(mean) = sd/sqrt(K).  SE(sample sd) = sd sqrt((kurtosis - 1) / (4K)) by the
    delta method; for normal data (kurtosis 3) it is the familiar sd/sqrt(2K), and
    using the sample kurtosis keeps the tolerance honest for skewed families.
    """
    n = x.size
    kurtosis = np.mean((x - x.mean()) ** 4) / x.var() ** 2
    assert abs(x.mean() - mean) <= 4.0 * sd / math.sqrt(n)
    assert abs(x.std(ddof=1) - sd) <= 4.0 * sd * math.sqrt((kurtosis - 1.0) / (4.0 * n))


# ----------------------------------------------------- E2: the five PSA families

E2 = {
    "beta": (Beta.from_moments(0.3, 0.05), 0.0, 1.0),
    "gamma": (Gamma.from_moments(20_000.0, 4_000.0), 0.0, math.inf),
    "lognormal": (LogNormal.from_ci(0.6, 0.4, 0.9), 0.0, math.inf),
    "normal": (Normal(10.0, 2.0), -math.inf, math.inf),
}


def test_e2a_method_of_moments_recovers_mean_and_se_exactly():
    beta, gamma = E2["beta"][0], E2["gamma"][0]
    assert beta.mean == pytest.approx(0.3, rel=1e-12)
    assert beta.sd == pytest.approx(0.05, rel=1e-12)
    assert gamma.mean == pytest.approx(20_000.0, rel=1e-12)
    assert gamma.sd == pytest.approx(4_000.0, rel=1e-12)
    assert (gamma.shape, gamma.scale) == pytest.approx((25.0, 800.0), rel=1e-12)
    lognormal = E2["lognormal"][0]
    assert lognormal.meanlog == pytest.approx(math.log(0.6), rel=1e-12)
    assert lognormal.sdlog == pytest.approx((math.log(0.9) - math.log(0.4)) / (2 * Z95),
                                            rel=1e-12)
    assert lognormal.mean == pytest.approx(math.exp(math.log(0.6) + lognormal.sdlog**2 / 2),
                                           rel=1e-12)
    natural = LogNormal.from_moments(0.6, 0.12)
    assert (natural.mean, natural.sd) == pytest.approx((0.6, 0.12), rel=1e-12)
    assert (Normal.from_moments(10.0, 2.0).mean, Normal(10.0, 2.0).sd) == (10.0, 2.0)
    # The CI is reproduced on the log scale: its geometric midpoint sits at the median.
    lo, hi = lognormal.interval(0.95)
    assert math.sqrt(lo * hi) == pytest.approx(0.6, rel=1e-12)
    assert hi / lo == pytest.approx(0.9 / 0.4, rel=1e-12)


@pytest.mark.parametrize("family", list(E2))
def test_e2b_sample_moments_within_4_mcse(family):
    dist, _, _ = E2[family]
    x = dist.sample(K, rng=np.random.default_rng(11))
    assert x.shape == (K,)
    assert_moments_within_4se(x, dist.mean, dist.sd)


@pytest.mark.parametrize("family", list(E2))
def test_e2c_support_respected(family):
    dist, low, high = E2[family]
    x = dist.sample(K, rng=np.random.default_rng(12))
    assert np.all(np.isfinite(x))
    assert np.all((x >= low) & (x <= high))
    if family == "lognormal":
        assert np.all(x > 0.0)


def test_e2_dirichlet_moments_and_rows():
    d = Dirichlet([10, 20, 30])
    x = d.sample(K, rng=np.random.default_rng(13))
    assert x.shape == (K, 3)
    assert np.all((x >= 0.0) & (x <= 1.0))
    assert np.max(np.abs(x.sum(axis=1) - 1.0)) <= 1e-12
    np.testing.assert_allclose(d.mean, [1 / 6, 1 / 3, 1 / 2], rtol=1e-12)
    for j in range(3):  # each margin is Beta(a_j, a0 - a_j)
        margin = Beta(d.alphas[j], 60.0 - d.alphas[j])
        assert d.sd[j] == pytest.approx(margin.sd, rel=1e-12)
        assert_moments_within_4se(x[:, j], d.mean[j], d.sd[j])


@pytest.mark.parametrize(("build", "message"), [
    (lambda: Beta.from_moments(0.3, 0.5), r"infeasible Beta: SE² must be < mean\(1-mean\)"),
    (lambda: Beta.from_moments(0.5, 0.5), "infeasible Beta"),  # se² == m(1-m) exactly
    (lambda: Beta.from_moments(0.3, 0.0), "Beta se must be > 0; got 0.0"),
    (lambda: Beta.from_moments(1.2, 0.1), "Beta mean must be > 0 and < 1; got 1.2"),
    (lambda: Gamma.from_moments(100.0, 0.0), "Gamma se must be > 0; got 0.0"),
    (lambda: Gamma.from_moments(100.0, -5.0), "Gamma se must be > 0; got -5.0"),
    (lambda: Gamma.from_moments(0.0, 5.0), "Gamma mean must be > 0"),
    (lambda: LogNormal.from_ci(0.6, 0.9, 0.4), "upper must be > 0.9; got 0.4"),
    (lambda: LogNormal.from_ci(1.0, 0.4, 0.9), "estimate must be >= 0.4 and <= 0.9; got 1.0"),
    (lambda: LogNormal.from_ci(0.6, 0.0, 0.9), "lower must be > 0"),
    (lambda: LogNormal.from_ci(0.6, 0.4, 0.9, level=95), "level must be > 0 and < 1"),
])
def test_e2d_infeasible_inputs_raise(build, message):
    with pytest.raises(ParameterError, match=message):
        build()


# ------------------------------------------------------------- known values

def test_jeffreys_constructors():
    assert Beta.from_counts(8, 8) == Beta(8.5, 0.5)
    assert Beta.from_counts(0, 10) == Beta(0.5, 10.5)
    assert Gamma.from_counts(0, 19) == Gamma(0.5, 1 / 19)
    assert Dirichlet.from_counts([3, 0, 7]) == Dirichlet((3.5, 0.5, 7.5))
    with pytest.raises(ParameterError, match="events must be >= 0 and <= 8"):
        Beta.from_counts(9, 8)
    with pytest.raises(ParameterError, match="exposure must be > 0"):
        Gamma.from_counts(2, 0)


REFERENCE = [  # (ours, the same distribution in scipy.stats)
    (Beta(2.5, 7.0), stats.beta(2.5, 7.0)),
    (Beta(0.5, 0.5), stats.beta(0.5, 0.5)),
    (Gamma(126.6, 3555.0), stats.gamma(126.6, scale=3555.0)),
    (Gamma(0.5, 1 / 19), stats.gamma(0.5, scale=1 / 19)),
    (LogNormal(0.131, 0.04), stats.lognorm(0.04, scale=math.exp(0.131))),
    (Normal(10.0, 2.0), stats.norm(10.0, 2.0)),
    (Uniform(-1.0, 3.0), stats.uniform(-1.0, 4.0)),
    (Triangular(1.0, 2.0, 5.0), stats.triang(0.25, loc=1.0, scale=4.0)),
    (Triangular(0.0, 0.0, 1.0), stats.triang(0.0, loc=0.0, scale=1.0)),
]


@pytest.mark.parametrize(("ours", "ref"), REFERENCE, ids=lambda d: repr(d)[:30])
def test_ppf_mean_sd_match_scipy(ours, ref):
    q = np.array([0.001, 0.025, 0.3, 0.5, 0.77, 0.975, 0.999])
    np.testing.assert_allclose(ours.ppf(q), ref.ppf(q), rtol=1e-10)
    assert ours.mean == pytest.approx(ref.mean(), rel=1e-12)
    assert ours.sd == pytest.approx(ref.std(), rel=1e-10)
    assert ours.interval(0.9) == pytest.approx(ref.interval(0.9), rel=1e-10)


def test_fixed_and_degenerate_normal():
    q = np.array([0.0, 0.3, 1.0])
    assert Fixed(4.2).ppf(q).tolist() == [4.2, 4.2, 4.2]
    assert (Fixed(4.2).mean, Fixed(4.2).sd) == (4.2, 0.0)
    assert Normal(3.0, 0.0).ppf(q).tolist() == [3.0, 3.0, 3.0]
    assert Normal(3.0, 0.0).interval() == (3.0, 3.0)


def test_normal_interval_known_value():
    lo, hi = Normal(10.0, 2.0).interval(0.95)
    assert (lo, hi) == pytest.approx((10.0 - 2.0 * Z95, 10.0 + 2.0 * Z95), rel=1e-12)


def test_describe_and_params():
    assert Beta(8.5, 0.5).describe() == "Beta(8.5, 0.5)"
    assert Gamma(126.6, 3555.0).describe() == "Gamma(shape=126.6, scale=3555)"
    assert LogNormal(0.131, 0.04).describe() == "LogNormal(meanlog=0.131, sdlog=0.04)"
    assert Gamma(25.0, 20_000.0).describe() == "Gamma(shape=25, scale=20000)"
    assert Dirichlet([10, 20, 30]).describe() == "Dirichlet(10, 20, 30)"
    assert Fixed(0.3).describe() == "Fixed(0.3)"
    assert Normal(10, 2).params() == {"mean": 10.0, "sd": 2.0}
    assert [Beta.name, Gamma.name, LogNormal.name, Dirichlet.name] == [
        "beta", "gamma", "lognormal", "dirichlet"]


ALL = [Beta(2.0, 3.0), Gamma(2.0, 0.5), LogNormal(0.1, 0.3), Normal(1.0, 2.0), Uniform(0, 1),
       Triangular(0.0, 0.2, 1.0), Fixed(7.0), Dirichlet([1.0, 2.0, 0.5])]


@pytest.mark.parametrize("dist", ALL, ids=repr)
def test_sample_is_ppf_of_the_generators_uniforms(dist):
    rng = np.random.default_rng(21)
    twin = copy.deepcopy(rng)
    x = dist.sample(500, rng=rng)
    shape = (500, len(dist.alphas)) if isinstance(dist, Dirichlet) else 500
    np.testing.assert_array_equal(x, dist.ppf(twin.random(shape)))
    assert rng.random() == twin.random()  # both consumed exactly the same stream


@pytest.mark.parametrize("dist", ALL, ids=repr)
def test_params_round_trip_through_make_distribution(dist):
    assert isinstance(dist, Distribution)
    assert make_distribution({"dist": dist.name, **dist.params()}) == dist


def test_dirichlet_uses_gamma_quantiles_of_uniforms():
    d, u = Dirichlet([0.7, 2.0, 5.0]), np.random.default_rng(22).random((100, 3))
    g = stats.gamma.ppf(u, [0.7, 2.0, 5.0])
    np.testing.assert_allclose(d.ppf_rows(u), g / g.sum(axis=1, keepdims=True), rtol=1e-12)
    lo, hi = d.interval(0.95)
    np.testing.assert_allclose(lo, [Beta(a, 7.7 - a).interval()[0] for a in d.alphas], rtol=1e-12)
    assert np.all(lo < d.mean) and np.all(d.mean < hi)


def test_dirichlet_rows_defined_when_gammas_underflow():
    d = Dirichlet([1e-3, 1e-3, 1e-3])
    x = d.ppf_rows(np.array([[1e-12, 1e-10, 1e-11], [0.0, 0.0, 0.0], [0.5, 0.5, 0.5]]))
    assert np.all(np.isfinite(x))
    np.testing.assert_allclose(x.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert x[0].argmax() == 1  # the largest uniform wins, as it would in exact arithmetic


# ------------------------------------------------------------- validation

@pytest.mark.parametrize(("build", "message"), [
    (lambda: Gamma(-1, 1.0), "Gamma shape must be > 0; got -1"),
    (lambda: Beta(math.nan, 1.0), "Beta alpha must be > 0; got nan"),
    (lambda: Beta(1.0, math.inf), "Beta beta must be finite; got inf"),
    (lambda: Beta("2", 1.0), "Beta alpha must be a real number; got '2'"),
    (lambda: LogNormal(0.0, -0.1), "LogNormal sdlog must be > 0; got -0.1"),
    (lambda: Normal(1.0, -1.0), "Normal sd must be >= 0; got -1.0"),
    (lambda: Uniform(2.0, 1.0), "Uniform high must be > 2; got 1.0"),
    (lambda: Triangular(0.0, 3.0, 2.0), "Triangular mode must be >= 0 and <= 2; got 3.0"),
    (lambda: Fixed(math.inf), "Fixed value must be finite"),
    (lambda: Dirichlet([1.0]), "Dirichlet alphas must have >= 2 entries"),
    (lambda: Dirichlet([1.0, -2.0]), r"Dirichlet alphas\[1\] must be > 0; got -2.0"),
    (lambda: Dirichlet("ab"), "Dirichlet alphas must be a non-empty 1-D sequence"),
])
def test_invalid_parameters_raise(build, message):
    with pytest.raises(ParameterError, match=message):
        build()


def test_invalid_method_arguments_raise_value_error():
    with pytest.raises(ValueError, match="probabilities"):
        Beta(2.0, 2.0).ppf([0.5, 1.5])
    with pytest.raises(ValueError, match="interval level"):
        Normal(0.0, 1.0).interval(1.0)
    with pytest.raises(ValueError, match="shape"):
        Dirichlet([1.0, 2.0]).ppf_rows(np.full((4, 3), 0.5))


# ---------------------------------------------------------------- factory

@pytest.mark.parametrize(("spec", "expected"), [
    ({"dist": "beta", "mean": 0.3, "se": 0.05, **METADATA}, Beta.from_moments(0.3, 0.05)),
    ({"dist": "beta", "events": 8, "n": 8, "source": "x"}, Beta(8.5, 0.5)),
    ({"dist": "beta", "alpha": 2, "beta": 3}, Beta(2.0, 3.0)),
    ({"dist": "gamma", "mean": 20000, "se": 4000, "unit": "USD"}, Gamma(25.0, 800.0)),
    ({"dist": "gamma", "events": 0, "exposure": 19, "per": "year"}, Gamma(0.5, 1 / 19)),
    ({"dist": "lognormal", "mean": 0.6, "se": 0.1}, LogNormal.from_moments(0.6, 0.1)),
    ({"dist": "lognormal", "estimate": 0.6, "lower": 0.4, "upper": 0.9, **METADATA},
     LogNormal.from_ci(0.6, 0.4, 0.9)),
    ({"dist": "lognormal", "estimate": 0.6, "lower": 0.4, "upper": 0.9, "level": 0.9},
     LogNormal.from_ci(0.6, 0.4, 0.9, level=0.9)),
    ({"dist": "normal", "mean": 10, "se": 2}, Normal(10.0, 2.0)),
    ({"dist": "uniform", "low": 1, "high": 2, "note": "range"}, Uniform(1.0, 2.0)),
    ({"dist": "triangular", "low": 0, "mode": 1, "high": 4}, Triangular(0.0, 1.0, 4.0)),
    ({"dist": "dirichlet", "alphas": [10, 20, 30]}, Dirichlet((10.0, 20.0, 30.0))),
    ({"dist": "dirichlet", "counts": [1, 0]}, Dirichlet((1.5, 0.5))),
    ({"dist": "Fixed", "value": 0.25, "source": "label"}, Fixed(0.25)),
])
def test_make_distribution_builds_and_ignores_metadata(spec, expected):
    assert make_distribution(spec) == expected


@pytest.mark.parametrize(("spec", "message"), [
    ({"dist": "gama", "mean": 1.0, "se": 0.1}, "unknown distribution 'gama'; did you mean 'gamma'"),
    ({"dist": "betta", "mean": 0.3, "se": 0.1}, "did you mean 'beta'"),
    ({"mean": 1.0}, "unknown distribution None"),
    ({"dist": "beta", "mean": 0.3},
     re.escape("beta distribution: missing se; accepted keys: alpha, beta | mean, se | events, n")),
    ({"dist": "normal", "mean": 1.0, "sd": 1.0, "shape": 2.0}, "unexpected shape"),
    ({"dist": "lognormal", "estimate": 1.0, "upper": 2.0}, r"missing lower; .*\[level\]"),
    ({"dist": "gamma", "mean": 100.0, "se": -1.0}, "Gamma se must be > 0"),
])
def test_make_distribution_reports_bad_specs(spec, message):
    with pytest.raises(ParameterError, match=message):
        make_distribution(spec)


# -------------------------------------------------------------- properties

@PROPERTY
@given(st.floats(0.01, 0.99), st.floats(1e-4, 1.0))
def test_beta_from_moments_round_trip(m, ratio):
    se = ratio * math.sqrt(m * (1.0 - m)) * 0.999  # strictly feasible
    b = Beta.from_moments(m, se)
    assert (b.mean, b.sd) == pytest.approx((m, se), rel=1e-9)


@PROPERTY
@given(st.floats(1e-3, 1e6), st.floats(1e-3, 10.0))
def test_gamma_and_lognormal_from_moments_round_trip(m, cv):
    for dist in (Gamma.from_moments(m, cv * m), LogNormal.from_moments(m, cv * m)):
        assert (dist.mean, dist.sd) == pytest.approx((m, cv * m), rel=1e-9)


dists = st.one_of(
    st.builds(Beta, st.floats(0.05, 50.0), st.floats(0.05, 50.0)),
    st.builds(Gamma, st.floats(0.05, 500.0), st.floats(1e-3, 1e4)),
    st.builds(LogNormal, st.floats(-5.0, 5.0), st.floats(0.01, 3.0)),
    st.builds(Normal, st.floats(-1e3, 1e3), st.floats(0.0, 100.0)),
    st.builds(lambda a, w: Uniform(a, a + w), st.floats(-10.0, 10.0), st.floats(0.01, 10.0)),
    st.builds(lambda a, f, w: Triangular(a, a + f * w, a + w), st.floats(-10.0, 10.0),
              st.floats(0.0, 1.0), st.floats(0.01, 10.0)),
)


# q >= 1e-16 is all a PSA can produce (rng.random() is a multiple of 2**-53); scipy's
# betaincinv returns NaN for some q below ~1e-89, which therefore never matters.
probabilities = st.one_of(st.just(0.0), st.floats(1e-16, 1.0))


@PROPERTY
@given(dists, probabilities, probabilities)
def test_ppf_is_monotone(dist, q1, q2):
    lo, hi = sorted((q1, q2))
    x = dist.ppf([lo, hi])
    assert dist.ppf(0.0) <= x[0] <= x[1] <= dist.ppf(1.0)  # monotone, inside the support


@PROPERTY
@given(st.lists(st.floats(0.01, 100.0), min_size=2, max_size=6), st.data())
def test_dirichlet_rows_sum_to_one(alphas, data):
    k = len(alphas)
    u = np.array(data.draw(st.lists(st.floats(0.0, 1.0), min_size=k, max_size=k)))
    x = Dirichlet(alphas).ppf_rows(u[None, :])
    assert np.all((x >= 0.0) & (x <= 1.0))
    assert abs(x.sum() - 1.0) <= 1e-12
