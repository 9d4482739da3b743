"""cartsim: patient-level simulation of one-time CD19 CAR-T versus lifelong
conventional immunosuppression in refractory autoimmune disease.

The library entry points are :func:`load_scenario` (read and validate a scenario
file) and :func:`run_scenario` (simulate every strategy on one cohort and value
the results). The ``cartsim`` command line wraps them.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from cartsim.api import RunResult, run_scenario
from cartsim.errors import CartsimError, ParameterError, ScenarioError, SimulationError
from cartsim.scenario.load import load_scenario

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
    "__version__",
    "load_scenario",
    "run_scenario",
]
