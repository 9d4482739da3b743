"""Reference tables shipped with cartsim: general-population values the model is built on.

* ``us_cancer_incidence.csv`` - first invasive cancer per person-year by age and sex
  (the background that the excess incidence of a disease multiplies);
* ``us_eq5d_norms.csv`` - general-population EQ-5D by age and sex (age-adjusted utilities);
* ``us_cpi_medical_care.csv`` - the medical-care CPI-U by year (price-year inflation).

Each file's header comment gives its source, status and derivation. The readers are
cached: a table is read once per process.
"""

from __future__ import annotations

import csv
import functools
from importlib import resources

from cartsim.errors import ParameterError

CANCER_INCIDENCE = "us_cancer_incidence.csv"
EQ5D_NORMS = "us_eq5d_norms.csv"
CPI_MEDICAL = "us_cpi_medical_care.csv"
SEXES = ("female", "male")


def _rows(name: str) -> list[dict[str, str]]:
    text = resources.files("cartsim.data").joinpath(name).read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return list(csv.DictReader(lines))


@functools.cache
def read_age_table(name: str) -> dict[str, tuple[float, ...]]:
    """A by-age table as ``{"female": (v_0, v_1, ...), "male": (...)}``, one value per
    whole year of age from 0 (the last value applies beyond the last age)."""
    rows = _rows(name)
    ages = [int(r["age"]) for r in rows]
    if ages != list(range(len(ages))):
        msg = f"{name}: ages must run 0, 1, 2, ... without gaps"
        raise ParameterError(msg)
    return {sex: tuple(float(r[sex]) for r in rows) for sex in SEXES}


def cancer_incidence() -> dict[str, tuple[float, ...]]:
    """US first-cancer incidence per person-year by single age and sex."""
    return read_age_table(CANCER_INCIDENCE)


def eq5d_norms() -> dict[str, tuple[float, ...]]:
    """US general-population EQ-5D by single age and sex."""
    return read_age_table(EQ5D_NORMS)


@functools.cache
def cpi_medical_care() -> dict[int, float]:
    """Medical-care CPI-U annual averages by year."""
    return {int(r["year"]): float(r["index"]) for r in _rows(CPI_MEDICAL)}


def inflation_factor(from_year: int, to_year: int) -> float:
    """Multiplier taking a cost in ``from_year`` prices to ``to_year`` prices.

    >>> inflation_factor(2024, 2024)
    1.0
    >>> round(inflation_factor(2017, 2024), 4)
    1.1862
    """
    cpi = cpi_medical_care()
    missing = [y for y in (from_year, to_year) if y not in cpi]
    if missing:
        msg = (f"no medical-care CPI for {', '.join(map(str, missing))}: the shipped table "
               f"covers {min(cpi)}-{max(cpi)}")
        raise ParameterError(msg)
    return cpi[to_year] / cpi[from_year]
