"""cartsim.engine: the compiled kernel and the simpy reference engine (imported by the
studies that run them; this package itself stays light)."""

from cartsim.limits import ENGINES

__all__ = ["ENGINES"]
