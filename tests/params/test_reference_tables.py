"""The shipped reference tables hold the published numbers their headers cite."""

import math

import pytest

from cartsim.errors import ParameterError
from cartsim.params.reference_tables import (
    cancer_incidence,
    cpi_medical_care,
    eq5d_norms,
    inflation_factor,
)


def test_cpi_ratios_match_published_annual_medical_inflation():
    # BLS annual-average medical-care inflation, 2017-2024 (the header's cross-check).
    published = {2017: 0.0251, 2018: 0.0197, 2019: 0.0283, 2020: 0.0411, 2021: 0.0123,
                 2022: 0.0405, 2023: 0.0046, 2024: 0.0269}
    cpi = cpi_medical_care()
    for year, rate in published.items():
        assert cpi[year] / cpi[year - 1] - 1 == pytest.approx(rate, abs=0.00006)


def test_inflation_factor_is_the_index_ratio_and_refuses_unknown_years():
    assert inflation_factor(2019, 2024) == pytest.approx(563.841 / 498.413, rel=1e-12)
    assert inflation_factor(2024, 2019) * inflation_factor(2019, 2024) == pytest.approx(1.0)
    with pytest.raises(ParameterError, match="1999"):
        inflation_factor(1999, 2024)


def test_eq5d_norms_are_fryback_2007_table_3():
    norms = eq5d_norms()
    expected = {"male": (0.89, 0.88, 0.86, 0.87, 0.85), "female": (0.89, 0.87, 0.84, 0.84, 0.82)}
    for sex, values in expected.items():
        assert tuple(norms[sex][a] for a in (40, 50, 60, 70, 80)) == values
        assert norms[sex][20] == norms[sex][35]  # flat before the survey's first age


def test_cancer_incidence_reproduces_the_devcan_interval_probabilities():
    # Without competing deaths, 1 - exp(-sum of the hazard over an interval) is the
    # DevCan probability of a first cancer in it (birth-49, 50-59, 60-69).
    rates = cancer_incidence()
    published = {"male": (0.034, 0.067, 0.151), "female": (0.054, 0.060, 0.100)}
    for sex, (p49, p59, p69) in published.items():
        r = rates[sex]
        for lo, hi, p in ((0, 50, p49), (50, 60, p59), (60, 70, p69)):
            assert 1 - math.exp(-sum(r[lo:hi])) == pytest.approx(p, rel=1e-4)  # 7-decimal rates
        assert r[47] == pytest.approx(0.0035)  # NCI: about 350 per 100,000 at 45-49
        assert len(r) == 101
