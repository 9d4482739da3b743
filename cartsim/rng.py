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

DEFAULT_WIDTH = 32
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

    def _key(self, purpose: str) -> int:
        return purpose_key(self.salt + purpose)

    def _bit_generator(self, purpose: str) -> np.random.PCG64:
        seq = np.random.SeedSequence(self.seed, spawn_key=(self.draw, self._key(purpose)))
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
            self.seed, spawn_key=(self.draw, self._key(purpose), _OVERFLOW_TAG, patient)
        )
        gen = np.random.Generator(np.random.PCG64(seq))
        return float(1.0 - gen.random(index - width + 1)[-1])


class PatientUniforms:
    """One patient's numbers for every purpose, consumed column by column.

    ``next(purpose)`` returns the patient's next number for that purpose. The
    first use fetches the patient's row of the purpose's block, stored reversed
    so that ``list.pop()`` (the cheapest way to consume it) yields column 0, 1,
    2 ...; past the row's end numbers come from the overflow stream.
    """

    __slots__ = ("_chunk", "_index", "_patient", "_rows", "_used")

    def __init__(self, chunk: ChunkUniforms, patient: int) -> None:
        self._chunk = chunk
        self._patient = patient
        self._index = patient - chunk.start
        self._rows: dict[str, list[float]] = {}
        self._used: dict[str, int] = {}

    def next(self, purpose: str) -> float:
        try:
            return self._rows[purpose].pop()
        except KeyError:
            row = self._chunk.block(purpose)[self._index, ::-1].tolist()
            self._rows[purpose] = row
            return row.pop()
        except IndexError:
            k = self._used.get(purpose, purpose_width(purpose))
            self._used[purpose] = k + 1
            return self._chunk.streams.overflow(purpose, self._patient, k)


class ChunkUniforms:
    """Blocks of uniforms for a contiguous chunk of patients, made lazily by purpose."""

    def __init__(self, streams: Streams, start: int, stop: int) -> None:
        self.streams = streams
        self.start = start
        self.stop = stop
        self._blocks: dict[str, np.ndarray] = {}

    def block(self, purpose: str) -> np.ndarray:
        block = self._blocks.get(purpose)
        if block is None:
            block = self.streams.block(purpose, self.start, self.stop)
            self._blocks[purpose] = block
        return block

    def patient(self, patient: int) -> PatientUniforms:
        return PatientUniforms(self, patient)
