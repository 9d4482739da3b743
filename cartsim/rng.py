"""Random numbers keyed by (seed, draw, purpose, use, patient): common random numbers by design.

Every uniform is a pure function of its key, computed by a counter-based
generator, Philox4x32-10 (Salmon, Moraes, Dror & Shaw, "Parallel random
numbers: as easy as 1, 2, 3", SC'11; the Random123 library):

* the 64-bit Philox key is the first 8 bytes of SHA-256 over
  ``f"{seed}/{salt}{purpose}"`` (words little-endian: key = (bytes 0-3, bytes
  4-7)), computed once per purpose in Python. A purpose is a name ("death",
  "relapse", "crs", "param:car_t.relapse.rate"); ``salt`` is empty except when
  common random numbers are switched off (a strategy's name);
* the 128-bit counter is (patient low 32 bits, patient high 32 bits, use,
  draw): the ``use``-th number of that purpose for that patient in PSA draw
  ``draw`` (draw 0 is the deterministic run);
* the uniform is 1 - (x >> 11) * 2**-53 with x = out[0] + 2**32 * out[1], the
  first two output words: in (0, 1], so ``-log(u)`` is always finite.

So patient ``i`` gets the same numbers whether the run has 10 or 10 million
patients and whatever chunk, engine, thread or worker simulates it; draw ``d``
is the same whatever the number of draws; strategies that use the same purpose
share its numbers (common random numbers, synchronised by purpose rather than
by call order); adding a purpose, a cost or a strategy changes no existing
number. This module is the numpy implementation (vectorised over counters);
the compiled engine computes the same function inside its kernel, and a test
checks they agree bit for bit.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np

PHILOX_M0, PHILOX_M1 = 0xD2511F53, 0xCD9E8D57
"""Philox4x32 multipliers (Random123 ``philox.h``)."""
PHILOX_W0, PHILOX_W1 = 0x9E3779B9, 0xBB67AE85
"""Philox4x32 key increments (Weyl sequence: golden ratio, sqrt(3) - 1)."""
PHILOX_ROUNDS = 10
_MASK32 = np.uint64(0xFFFFFFFF)
_SHIFT32 = np.uint64(32)


@lru_cache(maxsize=8192)
def philox_key(seed: int, purpose: str) -> tuple[int, int]:
    """The two 32-bit key words of a purpose under a root seed.

    >>> philox_key(1, "death") == philox_key(1, "death") != philox_key(2, "death")
    True
    """
    digest = hashlib.sha256(f"{int(seed)}/{purpose}".encode()).digest()
    return int.from_bytes(digest[0:4], "little"), int.from_bytes(digest[4:8], "little")


def philox4x32(counter: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
               key: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Philox4x32-10 of each counter (four arrays of 32-bit words) under ``key``.

    Products of two 32-bit words are exact in uint64, so each round is the
    reference algorithm word for word.

    >>> out = philox4x32(tuple(np.zeros(1, np.uint64) for _ in range(4)), (0, 0))
    >>> [f"{int(w[0]):08x}" for w in out]
    ['6627e8d5', 'e169c58d', 'bc57ac4c', '9b00dbd8']
    """
    c0, c1, c2, c3 = (np.asarray(w, dtype=np.uint64) for w in counter)
    k0, k1 = np.uint64(key[0]), np.uint64(key[1])
    m0, m1 = np.uint64(PHILOX_M0), np.uint64(PHILOX_M1)
    w0, w1 = np.uint64(PHILOX_W0), np.uint64(PHILOX_W1)
    for _ in range(PHILOX_ROUNDS):
        p0 = m0 * c0
        p1 = m1 * c2
        c0, c1, c2, c3 = ((p1 >> _SHIFT32) ^ c1 ^ k0, p1 & _MASK32,
                          (p0 >> _SHIFT32) ^ c3 ^ k1, p0 & _MASK32)
        k0 = (k0 + w0) & _MASK32
        k1 = (k1 + w1) & _MASK32
    return c0, c1, c2, c3


def uniforms(key: tuple[int, int], patient: np.ndarray | int, use: np.ndarray | int,
             draw: np.ndarray | int) -> np.ndarray:
    """Uniforms in (0, 1] for counters (patient, use, draw) under a purpose's key
    (arguments broadcast against each other)."""
    patient, use, draw = np.broadcast_arrays(np.asarray(patient, dtype=np.uint64),
                                             np.asarray(use, dtype=np.uint64),
                                             np.asarray(draw, dtype=np.uint64))
    out = philox4x32((patient & _MASK32, patient >> _SHIFT32, use, draw), key)
    bits = out[0] | (out[1] << _SHIFT32)
    return 1.0 - (bits >> np.uint64(11)).astype(np.float64) * 2.0**-53


def draw_uniforms(seed: int, purpose: str, draws: np.ndarray) -> np.ndarray:
    """Patient 0's first number of ``purpose`` in each of ``draws`` (one per PSA draw:
    how parameter values are drawn)."""
    return uniforms(philox_key(seed, purpose), 0, 0, np.asarray(draws, dtype=np.uint64))


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

    def key(self, purpose: str) -> tuple[int, int]:
        """The Philox key of ``purpose`` in these streams (seed and salt)."""
        return philox_key(self.seed, self.salt + purpose)

    def column(self, purpose: str, use: int, start: int, stop: int) -> np.ndarray:
        """The ``use``-th number of ``purpose`` for patients ``start .. stop-1``.

        >>> s = Streams(1)
        >>> bool((s.column("relapse", 0, 5, 8) == s.column("relapse", 0, 0, 8)[5:]).all())
        True
        """
        return uniforms(self.key(purpose), np.arange(start, stop, dtype=np.uint64), use,
                        self.draw)


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
