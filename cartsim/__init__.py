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

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from cartsim.errors import CartsimError, ParameterError, ScenarioError, SimulationError

if TYPE_CHECKING:
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
    from cartsim.study.result import RunResult
    from cartsim.table import Table

try:
    __version__ = version("cartsim")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

# Imported on first use (PEP 562), so that `cartsim --help` and modules that need
# none of them do not pay for numpy, scipy and the engines.
_LAZY = {
    **dict.fromkeys(("budget", "capacity", "compare", "dsa", "example_scenario", "load_scenario",
                     "psa", "run", "run_scenario", "sweep", "threshold", "validate"),
                    "cartsim.api"),
    "RunResult": "cartsim.study.result", "Table": "cartsim.table",
}


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
