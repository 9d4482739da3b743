"""cartsim: patient-level simulation of one-time CD19 CAR-T versus lifelong
conventional immunosuppression in refractory autoimmune disease.

The library entry points are :func:`load_scenario` (read and validate a scenario
file) and :func:`run_scenario` (simulate every strategy on one cohort and value
the results). The ``cartsim`` command line wraps them.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from cartsim.errors import CartsimError, ParameterError, ScenarioError, SimulationError

if TYPE_CHECKING:
    from cartsim.api import RunResult, run_scenario
    from cartsim.scenario.load import load_scenario

try:
    __version__ = version("cartsim")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

# Imported on first use (PEP 562), so that `cartsim --help` and modules that need
# none of them do not pay for numpy, scipy and the engines.
_LAZY = {"RunResult": "cartsim.api", "run_scenario": "cartsim.api",
         "load_scenario": "cartsim.scenario.load"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    msg = f"module 'cartsim' has no attribute {name!r}"
    raise AttributeError(msg)

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
