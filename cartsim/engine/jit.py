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
* ``nogil=True``: the kernel releases the GIL, so parts of a run's slots simulate
  on threads at once (``compiled.run_plan``);
* leaf functions are called only from compiled code, so they need no Python
  wrappers (``no_cpython_wrapper``), which are large for their arguments and
  slow to compile.

Numba keys a function's cache on its own source file only, so a kernel function
would keep running stale code after a change to a function it calls in another
file (or to the codes it reads from ``flatten``). Here every kernel function's
cache is keyed on the text of all the files the kernel is compiled from
(``KERNEL_SOURCES``), whichever of numba's cache directories it uses.

This module imports numba: only the kernel modules import it, and only code
that runs the compiled engine imports them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from numba import njit
from numba.core import caching

_HERE = Path(__file__).resolve().parent
KERNEL_SOURCES = (*(_HERE / name for name in (
    "jit.py", "kernel.py", "kernel_curves.py", "kernel_mortality.py", "kernel_times.py",
    "kernel_types.py", "kernel_value.py", "flatten.py", "recurring.py")),
    _HERE.parent / "rng.py")
"""Every file whose text the compiled kernel depends on (code, or constants it reads)."""


def _kernel_stamp() -> bytes:
    digest = hashlib.sha256()
    for path in KERNEL_SOURCES:
        digest.update(path.read_bytes())
    return digest.digest()


_STAMP = _kernel_stamp()


class _WholeKernelStamp:
    """For functions of the kernel's files: the cache is stale when any of them changes."""

    def get_source_stamp(self) -> Any:
        return (super().get_source_stamp(), _STAMP)  # type: ignore[misc]

    @classmethod
    def from_function(cls, py_func: Any, py_file: str) -> Any:
        if Path(py_file).resolve() not in KERNEL_SOURCES:
            return None
        return super().from_function(py_func, py_file)  # type: ignore[misc]


def _stamped(base: type) -> Any:  # numba's list is typed narrower than its classes
    return type(f"Kernel{base.__name__}", (_WholeKernelStamp, base), {})


if not any(getattr(c, "__name__", "").startswith("Kernel")
           for c in caching.CacheImpl._locator_classes):
    caching.CacheImpl._locator_classes[:0] = [
        _stamped(caching.UserProvidedCacheLocator), _stamped(caching.InTreeCacheLocator),
        _stamped(caching.UserWideCacheLocator)]

F = TypeVar("F", bound=Callable[..., Any])

_ENTRY: dict[str, Any] = {"cache": True, "_nrt": False, "error_model": "numpy", "nogil": True}
_LEAF: dict[str, Any] = {**_ENTRY, "no_cpython_wrapper": True, "no_cfunc_wrapper": True}


def entry(func: F) -> F:
    """A kernel function called from Python."""
    return njit(**_ENTRY)(func)


def leaf(func: F) -> F:
    """A kernel function called only from other kernel functions."""
    return njit(**_LEAF)(func)


def checked(func: F) -> F:
    """A compiled helper called from Python with ordinary checks (tests, tools)."""
    return njit(cache=True)(func)  # type: ignore[return-value]

