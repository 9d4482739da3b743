"""Run independent jobs on local processes or on a Dask cluster, results as they finish.

Used by the runner (chunks of patients), the PSA and threshold analysis over PSA
draws. Every job is a pure
function of its arguments (a chunk of draws, each on its own random-number
streams), so where and in which order jobs run never changes a result; callers
reduce in draw order.

* ``workers`` = 1: jobs run in this process, in order.
* ``workers`` > 1: a ``fork`` process pool. Workers ignore Ctrl-C; the parent
  terminates them on any exception, KeyboardInterrupt included (cpython #125886).
* ``scheduler`` = an address such as ``tcp://host:8786``: jobs are Dask tasks
  (``distributed``, imported only then). A job and its result travel pickled
  between this process and cartsim's own code on the workers, exactly as with the
  process pool; nothing read from a file is ever unpickled. Each task first checks
  that its worker runs the same cartsim, numpy, scipy and numba versions as this process
  (draws would otherwise not be reproducible). On any exception the outstanding
  tasks are cancelled and the client closed; the cluster itself is left running.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from cartsim.errors import CartsimError, SimulationError, UsageError

CONNECT_TIMEOUT = 10.0
"""Seconds to wait for a Dask scheduler to answer."""
Mapper = Callable[[Callable[[Any], Any], Sequence[Any]], Generator[Any, None, None]]


def max_workers() -> int:
    return (os.cpu_count() or 1) * 4


def check_workers(workers: int) -> None:
    if workers < 1 or workers > max_workers():
        msg = f"--workers must be between 1 and {max_workers()}; got {workers}"
        raise UsageError(msg)


def chunk_size(jobs: int, slots: int) -> int:
    """Draws per task: about four tasks per worker, at most 64 draws each."""
    return max(1, min(64, jobs // (slots * 4) or 1))


def software_versions() -> dict[str, str]:
    """What a draw's result depends on besides its inputs (numba compiles the engine)."""
    import numpy as np
    import scipy

    # Read from the installed metadata, as cartsim.__version__ is: importing the package
    # root from here would make a cycle (the root imports the API, which imports this).
    try:
        cartsim = version("cartsim")
    except PackageNotFoundError:  # a source tree that is not installed
        cartsim = "0.0.0+unknown"
    return {"cartsim": cartsim, "numpy": np.__version__, "scipy": scipy.__version__,
            "numba": version("numba")}


def _ignore_interrupts() -> None:
    # Workers leave Ctrl-C to the parent, which stops the pool (cpython #125886).
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _serial_map(func: Callable[[Any], Any], jobs: Sequence[Any]) -> Generator[Any, None, None]:
    for job in jobs:
        yield func(job)


def _pool_map(workers: int, func: Callable[[Any], Any], jobs: Sequence[Any]
              ) -> Generator[Any, None, None]:
    if workers == 1 or len(jobs) <= 1:
        yield from _serial_map(func, jobs)
        return
    pool = multiprocessing.get_context("fork").Pool(min(workers, len(jobs)),
                                                    initializer=_ignore_interrupts)
    try:
        yield from pool.imap_unordered(func, jobs)
        pool.close()
    except BaseException:  # KeyboardInterrupt, a failed job, or the caller giving up
        pool.terminate()
        raise
    finally:
        pool.join()


def local_map(workers: int) -> Mapper:
    """``mapper(func, jobs)`` on ``workers`` local processes (in this one for 1),
    results in the order jobs finish."""
    check_workers(workers)
    return partial(_pool_map, workers)


def _checked(func: Callable[[Any], Any], versions: dict[str, str], job: Any) -> Any:
    """Run one job on a Dask worker, refusing if its software differs from the client's."""
    here = software_versions()
    if here != versions:
        diff = ", ".join(f"{k} {here.get(k)} (client {v})" for k, v in versions.items()
                         if here.get(k) != v)
        msg = (f"a Dask worker runs {diff}; install the same versions on every worker so "
               "that draws are reproducible")
        raise SimulationError(msg)
    return func(job)


def _dask_map(client: Any, func: Callable[[Any], Any], jobs: Sequence[Any]
              ) -> Generator[Any, None, None]:
    from distributed import as_completed

    futures = client.map(partial(_checked, func, software_versions()), list(jobs), pure=False)
    try:
        for future in as_completed(futures, loop=client.loop):
            try:
                result = future.result()  # a failed task re-raises its exception here
            except CartsimError:
                raise
            except Exception as err:  # a worker lost, a task that cannot be run
                msg = (f"a Dask task failed: {type(err).__name__}: {err}; draws that "
                       "finished are kept in the checkpoint (rerun with --resume)")
                raise SimulationError(msg) from err
            yield result
    except BaseException:
        client.cancel(futures)
        raise


def check_scheduler(address: str) -> None:
    """UsageError unless Dask is installed and ``address`` is a reachable scheduler
    (checked before anything is written)."""
    _reachable(address)


def _reachable(address: str) -> Any:
    try:
        import distributed
        from distributed.comm.addressing import parse_address, parse_host_port
    except ImportError as err:
        msg = ("--scheduler needs Dask's 'distributed' package, which is not installed: "
               "pip install 'cartsim[dask]'")
        raise UsageError(msg) from err
    try:
        scheme, location = parse_address(address)
        host, port = parse_host_port(location) if scheme == "tcp" else (None, None)
    except (ValueError, TypeError) as err:
        msg = f"--scheduler {address!r} is not a Dask address such as tcp://host:8786 ({err})"
        raise UsageError(msg) from err
    if host is not None:
        # Fail fast and quietly: a Client that cannot connect complains again when it
        # is garbage-collected.
        try:
            socket.create_connection((host, port), timeout=CONNECT_TIMEOUT).close()
        except OSError as err:
            msg = f"cannot reach the Dask scheduler at {address}: {err}"
            raise UsageError(msg) from err
    return distributed


def _connect(address: str) -> Any:
    distributed = _reachable(address)
    try:
        return distributed.Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError) as err:
        msg = f"cannot connect to the Dask scheduler at {address}: {err}"
        raise UsageError(msg) from err


@contextmanager
def parallel_map(workers: int = 1, scheduler: str | None = None
                 ) -> Iterator[tuple[int, Mapper]]:
    """``(slots, mapper)``: ``mapper(func, jobs)`` yields ``func(job)`` for every job,
    in the order jobs finish; ``slots`` is how many run at once (to size chunks).
    Close the iterator (``contextlib.closing``) so an early exit stops the workers."""
    if scheduler is None:
        check_workers(workers)
        yield workers, partial(_pool_map, workers)
        return
    client = _connect(scheduler)
    try:
        slots = max(1, sum(client.nthreads().values()))
        yield slots, partial(_dask_map, client)
    finally:
        client.close()
