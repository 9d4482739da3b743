"""The GAM smoother's linear algebra runs on one OpenBLAS thread and gives the fit it
gives on the library's own threads (to rounding), restoring the thread count after."""

from __future__ import annotations

import numpy as np
import pytest

from cartsim.analysis import gam


def _sample() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(20240601)
    x = rng.gamma(2.0, 1.0, size=(600, 2))
    y = np.column_stack([np.sin(x[:, 0]) * 4.0 + x[:, 1] + rng.normal(size=600)
                         for _ in range(3)])
    return x, y


def test_fits_run_on_one_blas_thread_and_restore_the_count(monkeypatch):
    controls = gam._openblas_threads()
    if not controls:
        pytest.skip("no OpenBLAS found in this process (nothing to set)")
    before = [get() for _, get in controls]
    seen: list[list[int]] = []
    real = gam._design

    def spy(x: np.ndarray):  # the thread counts while the smoother factorises
        seen.append([get() for _, get in controls])
        return real(x)

    monkeypatch.setattr(gam, "_design", spy)
    gam.Smoother(_sample()[0])
    assert seen == [[1] * len(controls)]
    assert [get() for _, get in controls] == before


def test_serial_blas_changes_the_fit_only_by_rounding(monkeypatch):
    x, y = _sample()
    # both parameters (a 25-column tensor spline), then one (the 24-column spline)
    serial = [gam.Smoother(x).fit(y), gam.Smoother(x[:, :1]).fit(y)]
    monkeypatch.setattr(gam, "_serial_blas", _no_change)
    threaded = [gam.Smoother(x).fit(y), gam.Smoother(x[:, :1]).fit(y)]
    for a, b in zip(serial, threaded, strict=True):
        assert np.max(np.abs(a - b)) <= 1e-12 * np.max(np.abs(b))
    assert np.max(np.abs(serial[0] - serial[1])) > 0.1  # two different fits


class _NoChange:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *args: object) -> None:
        return None


def _no_change() -> _NoChange:
    return _NoChange()
