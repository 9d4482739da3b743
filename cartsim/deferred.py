"""Heavy third-party modules, imported on first use.

``scipy.special`` and ``scipy.optimize`` cost about 0.2 s each to import, more
than everything `cartsim --help`, `check` or `params` otherwise do. Modules that
need them import these stand-ins instead, which load the real module the first
time one of its names is used (and then cost one attribute lookup).
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType
from typing import Any


class DeferredModule:
    """Stands for a module and imports it when one of its attributes is first read."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:
        if self._module is None:
            self._module = import_module(self._name)
        return getattr(self._module, attr)


special: Any = DeferredModule("scipy.special")
optimize: Any = DeferredModule("scipy.optimize")


def brentq(*args: Any, **kwargs: Any) -> Any:
    """``scipy.optimize.brentq``, imported on first call."""
    return optimize.brentq(*args, **kwargs)
