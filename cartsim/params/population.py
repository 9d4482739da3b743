"""The eligible-population figures shipped for `cartsim budget` (``budget_population.toml``).

Per disease: prevalence per 100,000, the refractory share and the share eligible for the
new strategies, each with its source and status; per country: the population; and a
default uptake by year. Read once per process; a scenario's ``[budget]`` table may replace
any figure (:mod:`cartsim.scenario.budget`).
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from importlib import resources

from cartsim.errors import ParameterError

SHIPPED = "budget_population.toml"
FIGURES = ("prevalence_per_100k", "refractory_share", "eligible_share")


@dataclass(frozen=True)
class Sourced:
    value: float
    source: str
    status: str


@dataclass(frozen=True)
class PopulationData:
    countries: dict[str, Sourced]
    diseases: dict[str, dict[str, Sourced]]
    """Disease -> figure (``FIGURES``) -> value with source."""
    uptake: tuple[float, ...]
    uptake_source: str


@functools.cache
def population_data() -> PopulationData:
    """The shipped figures (ParameterError if the file is malformed)."""
    text = resources.files("cartsim.data").joinpath(SHIPPED).read_text(encoding="utf-8")
    raw = tomllib.loads(text)
    try:
        countries = {k: Sourced(float(v["population"]), str(v["source"]), str(v["status"]))
                     for k, v in raw["country"].items()}
        diseases = {d: {f: Sourced(float(v[f]), str(v[f"{f.split('_')[0]}_source"]),
                                   str(v[f"{f.split('_')[0]}_status"])) for f in FIGURES}
                    for d, v in raw["disease"].items()}
        uptake = tuple(float(x) for x in raw["uptake"]["years"])
        source = str(raw["uptake"]["source"])
    except (KeyError, TypeError, ValueError) as err:
        msg = f"{SHIPPED}: malformed ({err})"
        raise ParameterError(msg) from err
    return PopulationData(countries, diseases, uptake, source)
