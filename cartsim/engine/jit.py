"""How the kernel is compiled (numba), in one place.

* ``cache=True``: compiled code is kept on disk next to the package (or in
  numba's user cache directory where that is read-only, or NUMBA_CACHE_DIR), so
  only the first process after installation compiles;
* ``_nrt=False``: no reference counting. Nothing in the kernel allocates, and
  counting references to the arrays passed between its functions cost more
  than their arithmetic;
* ``error_model="numpy"``: IEEE results instead of checks for division by zero
  (the kernel never divides by zero where it matters, as the reference engine
  shows);
* leaf functions are called only from compiled code, so they need no Python
  wrappers (``no_cpython_wrapper``), which are large for their arguments and
  slow to compile.

This module imports numba: only the kernel modules import it, and only code
that runs the compiled engine imports them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from numba import njit

F = TypeVar("F", bound=Callable[..., Any])

_ENTRY: dict[str, Any] = {"cache": True, "_nrt": False, "error_model": "numpy"}
_LEAF: dict[str, Any] = {**_ENTRY, "no_cpython_wrapper": True, "no_cfunc_wrapper": True}


def entry(func: F) -> F:
    """A kernel function called from Python."""
    return njit(**_ENTRY)(func)  # type: ignore[no-any-return]


def leaf(func: F) -> F:
    """A kernel function called only from other kernel functions."""
    return njit(**_LEAF)(func)  # type: ignore[no-any-return]


def checked(func: F) -> F:
    """A compiled helper called from Python with ordinary checks (tests, tools)."""
    return njit(cache=True)(func)  # type: ignore[return-value]
