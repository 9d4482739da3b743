"""Agreement of results computed by different code paths: 1e-12 relative.

The engines (simpy, compiled, and any later one) and a run cut into other
chunks compute the same numbers through different code: numpy's SIMD kernels
(AVX-512 exp and log, say) and libm round differently in the last bit, and an
array's length can change which kernel runs. So such results are compared at
``RTOL`` = 1e-12 relative, far above those last-bit differences (about 1e-16,
a few times that after sums) and far below any real change, and everything
that is not a float (event counts, states, codes, causes, sequence numbers,
patient ids, names) exactly.

Results of the *same* code path on the same shapes (one seed run twice, worker
counts with the same chunks, Dask against local with the same draws, the CRN
invariances) are compared exactly instead, not with these helpers.

Test modules cannot import each other (``--import-mode=importlib``): the
``agree`` fixture of ``tests/conftest.py`` hands this module out.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

RTOL = 1e-12
"""Relative tolerance between code paths (README, "Engine rules")."""


def _patient_note(patient: np.ndarray | None, i: int) -> str:
    return f" (patient {int(patient[i])})" if patient is not None else ""


def mismatch(actual: Any, expected: Any, *, rtol: float = RTOL, atol: float = 0.0,
             patient: np.ndarray | None = None) -> str | None:
    """What differs between two arrays, or None if they agree.

    Floats agree where equal (infinities and NaN included) or within ``rtol`` of
    the larger magnitude (or ``atol``); every other dtype must be equal.
    ``patient[i]`` names the patient of row ``i`` in the message.
    """
    a, b = np.asarray(actual), np.asarray(expected)
    if a.shape != b.shape:
        return f"shapes differ: {a.shape} vs {b.shape}"
    if a.size == 0:
        return None
    floats = a.dtype.kind == "f" or b.dtype.kind == "f"
    if not floats:
        bad = np.flatnonzero((a != b).ravel())
        if bad.size == 0:
            return None
        i = int(bad[0])
        first, second = a.ravel()[i].item(), b.ravel()[i].item()
        return (f"{bad.size} of {a.size} values differ (exact comparison); first at row "
                f"{i}{_patient_note(patient, i)}: {first!r} vs {second!r}")
    x, y = a.astype(float).ravel(), b.astype(float).ravel()
    same = (x == y) | (np.isnan(x) & np.isnan(y))
    with np.errstate(invalid="ignore", over="ignore"):
        gap = np.where(same, 0.0, np.abs(x - y))
        scale = np.maximum(np.abs(x), np.abs(y))
        bad = ~same & ~(gap <= np.maximum(rtol * scale, atol))
        if not bad.any():
            return None
        rel = np.where(bad, gap / np.where(scale > 0.0, scale, 1.0), 0.0)
    rel = np.where(np.isnan(rel), np.inf, rel)
    i = int(np.argmax(rel))
    where = f"row {i}{_patient_note(patient, i)}"
    return (f"{int(bad.sum())} of {a.size} values differ by more than {rtol:g} relative; "
            f"largest at {where}: {float(x[i])!r} vs {float(y[i])!r} "
            f"(relative difference {rel[i]:.3g})")


def assert_agree(actual: Any, expected: Any, what: str, *, rtol: float = RTOL,
                 atol: float = 0.0, patient: np.ndarray | None = None) -> None:
    """Fail with a message naming ``what``, the row (and patient) and the largest
    difference unless the arrays agree (see :func:`mismatch`)."""
    problem = mismatch(actual, expected, rtol=rtol, atol=atol, patient=patient)
    assert problem is None, f"{what}: {problem}"


def _log_patients(log: Any, name: str) -> np.ndarray | None:
    """The patient of each row of an event-log array, by the array's prefix."""
    if name.startswith("sojourn_"):
        return log.sojourn_patient
    if name.startswith("event_"):
        return log.event_patient
    if name.startswith("recurring_"):
        rows = log.recurring_sojourn
        if rows.size and rows.max() < log.sojourn_patient.size:
            return log.sojourn_patient[rows]
        return None
    return np.arange(log.n_patients)  # end_time, cause: one row per patient


def assert_logs_agree(actual: Any, expected: Any, what: str = "log", *,
                      rtol: float = RTOL) -> None:
    """Two event logs: the same rows (patients, states, codes, causes, sequence
    numbers and recurring counts exactly) at times within ``rtol``; every problem
    is listed."""
    problems = []
    for f in dataclasses.fields(actual):
        x, y = getattr(actual, f.name), getattr(expected, f.name)
        if isinstance(x, np.ndarray):
            problem = mismatch(x, y, rtol=rtol, patient=_log_patients(expected, f.name))
        else:
            problem = None if x == y else f"{x!r} vs {y!r}"
        if problem:
            problems.append(f"{what}.{f.name}: {problem}")
    assert not problems, "\n".join(problems)


def assert_outcomes_agree(actual: Any, expected: Any, what: str = "outcomes", *,
                          rtol: float = RTOL) -> None:
    """Two sets of per-patient outcome columns (row i = patient i): the same columns,
    counts exactly, amounts within ``rtol``; every problem is listed."""
    assert set(actual.columns) == set(expected.columns), \
        f"{what}: columns differ: {sorted(set(actual.columns) ^ set(expected.columns))}"
    patients = np.arange(len(next(iter(expected.columns.values()), ())))
    problems = [f"{what}.{name}: {p}" for name, values in expected.columns.items()
                if (p := mismatch(actual.columns[name], values, rtol=rtol,
                                  patient=patients))]
    assert not problems, "\n".join(problems)


# --- written tables --------------------------------------------------------------

_NUMBER = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?")


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def csv_mismatches(actual: Path, expected: Path, *, rtol: float) -> list[str]:
    """Cells of two CSV files that disagree: equal text, or numbers within ``rtol`` of
    the larger, or within ``rtol`` times the column's largest magnitude (a difference
    of nearly equal amounts, such as an increment, carries their rounding, not its
    own)."""
    with actual.open(newline="", encoding="utf-8") as f:
        rows_a = list(csv.reader(f))
    with expected.open(newline="", encoding="utf-8") as f:
        rows_b = list(csv.reader(f))
    name = expected.name
    if not rows_b or rows_a[:1] != rows_b[:1]:
        return [f"{name}: header {rows_a[:1]} vs {rows_b[:1]}"]
    if len(rows_a) != len(rows_b):
        return [f"{name}: {len(rows_a) - 1} rows vs {len(rows_b) - 1}"]
    header = rows_b[0]
    scale = [max((abs(v) for row in rows_b[1:] if (v := _float(row[j])) is not None
                  and math.isfinite(v)), default=0.0) for j in range(len(header))]
    out = []
    for line, (ra, rb) in enumerate(zip(rows_a[1:], rows_b[1:], strict=True), start=2):
        if len(ra) != len(rb):
            out.append(f"{name} line {line}: {len(ra)} cells vs {len(rb)}")
            continue
        for j, (a, b) in enumerate(zip(ra, rb, strict=True)):
            if a == b:
                continue
            x, y = _float(a), _float(b)
            ok = x is not None and y is not None and (
                abs(x - y) <= rtol * max(abs(x), abs(y), scale[j]))
            if not ok:
                out.append(f"{name} line {line}, {header[j]}: {a!r} vs {b!r}")
    return out


def _last_digit(token: str) -> float:
    """One unit in the last printed digit of a number as written (1,234.50 -> 0.01)."""
    mantissa, _, exponent = token.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 10.0 ** (int(exponent or 0) - decimals)


def text_mismatches(actual: Path, expected: Path) -> list[str]:
    """Lines of two text renderings (Markdown tables) that disagree: the same words,
    and numbers that differ by at most one unit in their last printed digit (a
    last-bit difference can round the other way at the printed precision)."""
    lines_a = actual.read_text(encoding="utf-8").splitlines()
    lines_b = expected.read_text(encoding="utf-8").splitlines()
    if len(lines_a) != len(lines_b):
        return [f"{expected.name}: {len(lines_a)} lines vs {len(lines_b)}"]
    out = []
    for i, (a, b) in enumerate(zip(lines_a, lines_b, strict=True), start=1):
        if a == b:
            continue
        words_a, words_b = _NUMBER.split(a), _NUMBER.split(b)
        nums_a, nums_b = _NUMBER.findall(a), _NUMBER.findall(b)
        ok = words_a == words_b and len(nums_a) == len(nums_b) and all(
            abs(float(p.replace(",", "")) - float(q.replace(",", "")))
            <= 1.000001 * max(_last_digit(p), _last_digit(q))
            for p, q in zip(nums_a, nums_b, strict=True))
        if not ok:
            out.append(f"{expected.name} line {i}:\n  {a}\n  {b}")
    return out


def assert_folders_agree(actual: Path, expected: Path, *, rtol: float = RTOL,
                         skip: Iterable[str] = ("run.json",)) -> None:
    """Two results folders hold the same files; CSV tables agree cell by cell at
    ``rtol`` (:func:`csv_mismatches`), Markdown to the printed digit
    (:func:`text_mismatches`), any other file byte for byte. Every problem is listed."""
    skipped = set(skip)
    names_a = sorted(p.name for p in actual.iterdir() if p.name not in skipped)
    names_b = sorted(p.name for p in expected.iterdir() if p.name not in skipped)
    assert names_a == names_b, f"files differ: {sorted(set(names_a) ^ set(names_b))}"
    problems: list[str] = []
    for name in names_b:
        a, b = actual / name, expected / name
        if b.is_dir():
            continue
        if name.endswith(".csv"):
            problems += csv_mismatches(a, b, rtol=rtol)
        elif name.endswith(".md"):
            problems += text_mismatches(a, b)
        elif a.read_bytes() != b.read_bytes():
            problems.append(f"{name}: bytes differ")
    assert not problems, "\n".join(problems[:20])
