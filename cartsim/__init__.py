"""cartsim: patient-level simulation of one-time CD19 CAR-T versus lifelong
conventional immunosuppression in refractory autoimmune disease.

The Python API (:mod:`cartsim.api`) runs the same studies as the command line and
returns results that hold their arrays and tables: :func:`run`, :func:`psa`,
:func:`dsa`, :func:`sweep`, :func:`threshold`, :func:`compare`, :func:`validate`,
:func:`capacity` and :func:`budget`. :func:`load_scenario` reads and validates a scenario file;
:func:`run_scenario` is the low-level call (per-patient arrays, no tables);
:func:`example_scenario` is a tiny scenario to try things on.

>>> import cartsim
>>> cartsim.run(cartsim.example_scenario(), patients=100).tables()[0]
'summary'
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from cartsim.api import (
    budget,
    capacity,
    compare,
    dsa,
    example_scenario,
    load_scenario,
    psa,
    run,
    run_scenario,
    sweep,
    threshold,
    validate,
)
from cartsim.errors import CartsimError, ParameterError, ScenarioError, SimulationError
from cartsim.study.result import RunResult
from cartsim.table import Table

try:
    __version__ = version("cartsim")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "CartsimError",
    "ParameterError",
    "RunResult",
    "ScenarioError",
    "SimulationError",
    "Table",
    "__version__",
    "budget",
    "capacity",
    "compare",
    "dsa",
    "example_scenario",
    "load_scenario",
    "psa",
    "run",
    "run_scenario",
    "sweep",
    "threshold",
    "validate",
]
