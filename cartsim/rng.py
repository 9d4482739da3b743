"""Random numbers keyed by (draw, purpose, use, patient): common random numbers by design.

One root seed. The ``k``-th number a patient uses for a *purpose* (a name such
as "death", "relapse", "crs") in PSA draw ``d`` comes from the stream
``SeedSequence(seed, spawn_key=(d, purpose_key, k))``, at the position given by
the patient's index. Positions are reached with ``PCG64.advance``, so:

* patient ``i`` gets the same numbers whether the run has 10 or 10 million
  patients and whatever chunk, engine or worker simulates it (prefix
  stability, worker independence);
* a strategy that never uses a purpose never shifts another purpose's numbers,
  and strategies that use the same name share its numbers (common random
  numbers, synchronised by purpose rather than by call order);
* adding a purpose, a cost or a strategy changes no existing draw.

Purpose keys are a hash of the name (independent of Python's hash seed).
Uniforms are returned in (0, 1], so ``-log(u)`` is always finite.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np


@lru_cache(maxsize=4096)
def purpose_key(name: str) -> int:
    """Stable 32-bit key of a purpose name.

    >>> purpose_key("death") == purpose_key("death")
    True
    """
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:4], "little")


class Streams:
    """Uniform random numbers for one PSA draw (draw 0 for a deterministic run)."""

    def __init__(self, seed: int, draw: int = 0, salt: str = "") -> None:
        if seed < 0 or draw < 0:
            msg = f"seed and draw must be non-negative; got seed={seed}, draw={draw}"
            raise ValueError(msg)
        self.seed = int(seed)
        self.draw = int(draw)
        self.salt = salt

    def unsynchronised(self, strategy: str) -> Streams:
        """Streams private to one strategy: common random numbers switched off.

        Only for showing what CRN buys (VERIFICATION D10); results stay valid but
        noisier.
        """
        return Streams(self.seed, self.draw, salt=f"{strategy}/")

    def column(self, purpose: str, use: int, start: int, stop: int) -> np.ndarray:
        """The ``use``-th number of ``purpose`` for patients ``start .. stop-1``.

        >>> s = Streams(1)
        >>> bool((s.column("relapse", 0, 5, 8) == s.column("relapse", 0, 0, 8)[5:]).all())
        True
        """
        seq = np.random.SeedSequence(
            self.seed, spawn_key=(self.draw, purpose_key(self.salt + purpose), use))
        bits = np.random.PCG64(seq)
        bits.advance(start)  # one 64-bit output per double: lands on patient `start`
        return 1.0 - np.random.Generator(bits).random(stop - start)


class ChunkUniforms:
    """Numbers for a contiguous chunk of patients, made lazily per (purpose, use)."""

    def __init__(self, streams: Streams, start: int, stop: int) -> None:
        self.streams = streams
        self.start = start
        self.stop = stop
        self._columns: dict[tuple[str, int], np.ndarray] = {}
        self._lists: dict[tuple[str, int], list[float]] = {}

    def column(self, purpose: str, use: int) -> np.ndarray:
        key = (purpose, use)
        col = self._columns.get(key)
        if col is None:
            col = self.streams.column(purpose, use, self.start, self.stop)
            self._columns[key] = col
        return col

    def value(self, purpose: str, use: int, index: int) -> float:
        """One patient's number as a Python float (the simpy engine's fast path)."""
        key = (purpose, use)
        values = self._lists.get(key)
        if values is None:
            values = self.column(purpose, use).tolist()
            self._lists[key] = values
        return values[index]

    def patient(self, patient: int) -> PatientUniforms:
        return PatientUniforms(self, patient)


class PatientUniforms:
    """One patient's numbers: ``next(purpose)`` returns its next use of that purpose."""

    __slots__ = ("_chunk", "_index", "_used")

    def __init__(self, chunk: ChunkUniforms, patient: int) -> None:
        self._chunk = chunk
        self._index = patient - chunk.start
        self._used: dict[str, int] = {}

    def next(self, purpose: str) -> float:
        use = self._used.get(purpose, 0)
        self._used[purpose] = use + 1
        values = self._chunk._lists.get((purpose, use))  # inlined value(): the hot path
        if values is None:
            return self._chunk.value(purpose, use, self._index)
        return values[self._index]
