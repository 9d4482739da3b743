"""Random numbers keyed by (draw, purpose, patient): common random numbers by design.

One root seed. For each (draw, purpose) a PCG64 stream is built from
``SeedSequence(seed, spawn_key=(draw, purpose_key))``; patient ``i`` owns row
``i`` of a ``(patients, width)`` matrix of uniforms drawn from that stream, and
uses its columns in order (column ``k`` is the patient's ``k``-th use of the
purpose). Rows are cut out with ``PCG64.advance``, so patient ``i`` gets the
same numbers whether the run has 10 or 10 million patients, whatever chunk or
worker simulates it (prefix stability), and a strategy that never uses a
purpose never shifts another purpose's numbers (stream isolation).

Purpose keys are a hash of the purpose *name*, so strategies that use the same
name ("death", "relapse") share numbers, and adding a new purpose changes
nothing else. Uniforms are returned in (0, 1]: ``-log(u)`` is always finite.

The rare patient who needs more than ``width`` numbers for one purpose gets the
extra ones from an overflow stream keyed by (draw, purpose, patient), which is
just as reproducible.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np

DEFAULT_WIDTH = 16
WIDTHS = {"death": 2}
"""Columns per patient by purpose. "death" needs the budget and the cause."""

_OVERFLOW_TAG = 1


@lru_cache(maxsize=4096)
def purpose_key(name: str) -> int:
    """Stable 32-bit key of a purpose name (independent of Python's hash seed)."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:4], "little")


def purpose_width(name: str) -> int:
    return WIDTHS.get(name, DEFAULT_WIDTH)


class Streams:
    """Uniform random numbers for one PSA draw (draw 0 for a deterministic run)."""

    def __init__(self, seed: int, draw: int = 0) -> None:
        if seed < 0 or draw < 0:
            msg = f"seed and draw must be non-negative; got seed={seed}, draw={draw}"
            raise ValueError(msg)
        self.seed = int(seed)
        self.draw = int(draw)

    def _bit_generator(self, purpose: str) -> np.random.PCG64:
        seq = np.random.SeedSequence(self.seed, spawn_key=(self.draw, purpose_key(purpose)))
        return np.random.PCG64(seq)

    def block(self, purpose: str, start: int, stop: int) -> np.ndarray:
        """Uniforms in (0, 1] for patients ``start .. stop-1``, shape (n, width)."""
        width = purpose_width(purpose)
        bits = self._bit_generator(purpose)
        # One 64-bit output per double, so skipping start*width outputs lands
        # exactly on patient `start`'s row.
        bits.advance(start * width)
        gen = np.random.Generator(bits)
        return 1.0 - gen.random((stop - start, width))

    def overflow(self, purpose: str, patient: int, index: int) -> float:
        """The patient's ``index``-th number (index >= width) for ``purpose``."""
        width = purpose_width(purpose)
        seq = np.random.SeedSequence(
            self.seed, spawn_key=(self.draw, purpose_key(purpose), _OVERFLOW_TAG, patient)
        )
        gen = np.random.Generator(np.random.PCG64(seq))
        return float(1.0 - gen.random(index - width + 1)[-1])


class PatientUniforms:
    """One patient's numbers for every purpose, consumed column by column.

    The engine asks ``next(purpose)``; the object keeps a counter per purpose.
    Rows come from blocks fetched once per chunk of patients.
    """

    __slots__ = ("_counters", "_patient", "_rows", "_streams")

    def __init__(self, streams: Streams, patient: int, rows: dict[str, list[float]]) -> None:
        self._streams = streams
        self._patient = patient
        self._rows = rows
        self._counters: dict[str, int] = {}

    def next(self, purpose: str) -> float:
        k = self._counters.get(purpose, 0)
        self._counters[purpose] = k + 1
        row = self._rows.get(purpose)
        if row is not None and k < len(row):
            return row[k]
        return self._streams.overflow(purpose, self._patient, k)


class ChunkUniforms:
    """Blocks of uniforms for a contiguous chunk of patients, fetched lazily by purpose."""

    def __init__(self, streams: Streams, start: int, stop: int) -> None:
        self.streams = streams
        self.start = start
        self.stop = stop
        self._blocks: dict[str, list[list[float]]] = {}

    def rows_for(self, patient: int, purposes: tuple[str, ...]) -> dict[str, list[float]]:
        i = patient - self.start
        out: dict[str, list[float]] = {}
        for purpose in purposes:
            block = self._blocks.get(purpose)
            if block is None:
                block = self.streams.block(purpose, self.start, self.stop).tolist()
                self._blocks[purpose] = block
            out[purpose] = block[i]
        return out

    def patient(self, patient: int, purposes: tuple[str, ...]) -> PatientUniforms:
        return PatientUniforms(self.streams, patient, self.rows_for(patient, purposes))
