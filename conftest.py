"""Test-session settings for the whole repository.

* OpenBLAS runs on one thread in tests. On the 2-core development machine its second
  thread makes small factorisations 30-60 times slower (an SVD of 5,000 x 22: 3 ms on
  one thread, 100-180 ms on two), which made the EVPPI tests most of a minute; the
  tests compare with tolerances that no thread count approaches. It must be set before
  numpy loads OpenBLAS, hence here, first; an explicit setting in the environment wins.
* Doctests (``--doctest-modules`` on cartsim/) run from the repository root, where
  their examples' paths (``scenarios/base.toml``) are, wherever pytest was started.
"""

from __future__ import annotations

import os
import sys

if "numpy" not in sys.modules:  # too late otherwise: numpy has loaded OpenBLAS
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent


@pytest.fixture(autouse=True)
def _doctests_run_from_the_repository_root(request: pytest.FixtureRequest,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    if isinstance(request.node, pytest.DoctestItem):
        monkeypatch.chdir(ROOT)
