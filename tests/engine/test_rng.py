"""The counter-based random numbers (``cartsim.rng``): Philox4x32-10 against the
published known answers, and the statistical quality the model relies on.

The model uses each uniform once, by inverse CDF, and relies on (1) each
number being uniform on (0, 1] and (2) numbers of different keys being
independent: consecutive patients, uses of a purpose, PSA draws, purposes
with similar names and seeds. Each property is checked at 4 standard errors
with fixed seeds (never tuned): a chi-square statistic on 1,000 bins against
its mean k − 1 and SD sqrt(2(k − 1)), and a correlation against its SD 1/√n.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from cartsim.rng import Streams, draw_uniforms, philox4x32, philox_key, uniforms

N = 1_000_000
BINS = 1_000

# Random123 tests/kat_vectors, the three "philox4x32 10" lines (counter words,
# key words, expected output words), as quoted verbatim by several public
# re-implementations' test suites (checked against DEShawResearch/random123).
KAT = [
    ((0x00000000, 0x00000000, 0x00000000, 0x00000000), (0x00000000, 0x00000000),
     (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF),
     (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


@pytest.mark.parametrize(("counter", "key", "expected"), KAT)
def test_philox4x32_10_matches_the_random123_known_answers(counter, key, expected):
    out = philox4x32(tuple(np.array([w], dtype=np.uint64) for w in counter), key)
    assert tuple(int(w[0]) for w in out) == expected


def test_a_uniform_is_built_from_the_first_two_output_words():
    """u = 1 − (x >> 11)·2^−53 with x = out[0] + 2^32·out[1], counter (patient lo, patient
    hi, use, draw): checked by hand for one key and counter."""
    key = philox_key(20240601, "death")
    patient, use, draw = 5 + (3 << 32), 2, 7
    out = philox4x32(tuple(np.array([w], dtype=np.uint64) for w in
                           (patient & 0xFFFFFFFF, patient >> 32, use, draw)), key)
    x = int(out[0][0]) + (int(out[1][0]) << 32)
    assert float(uniforms(key, patient, use, draw)) == 1.0 - (x >> 11) * 2.0**-53
    column = Streams(20240601, draw=7).column("death", 2, patient, patient + 1)
    assert float(column[0]) == 1.0 - (x >> 11) * 2.0**-53


def test_uniforms_lie_in_the_half_open_unit_interval():
    u = Streams(1).column("death", 0, 0, N)
    assert u.min() > 0.0 and u.max() <= 1.0
    # The extreme counters still give numbers in (0, 1].
    top = uniforms(philox_key(1, "x"), np.array([0, 2**64 - 1], dtype=np.uint64), 2**32 - 1,
                   2**32 - 1)
    assert np.all((top > 0.0) & (top <= 1.0))


def _chi_square(u: np.ndarray) -> float:
    counts = np.bincount(np.minimum((u * BINS).astype(np.int64), BINS - 1), minlength=BINS)
    expected = u.size / BINS
    return float(np.sum((counts - expected) ** 2) / expected)


def _assert_uniform(u: np.ndarray, what: str) -> None:
    df = BINS - 1
    chi2 = _chi_square(u)
    assert abs(chi2 - df) <= 4 * math.sqrt(2 * df), f"{what}: chi-square {chi2:.1f}, df {df}"
    # The mean and variance of U(0, 1): 1/2 (SD sqrt(1/12)/√n), 1/12.
    assert abs(u.mean() - 0.5) <= 4 * math.sqrt(1 / 12 / u.size), what


def _assert_uncorrelated(a: np.ndarray, b: np.ndarray, what: str) -> None:
    r = float(np.corrcoef(a, b)[0, 1])
    assert abs(r) <= 4 / math.sqrt(a.size), f"{what}: correlation {r:.5f} (n = {a.size})"


def test_uniformity_along_every_axis_of_the_key():
    """Chi-square on 1,000 bins over a million numbers varying only the patient, only the
    use, only the draw, and only the purpose."""
    s = Streams(20240601)
    _assert_uniform(s.column("relapse", 0, 0, N), "consecutive patients")
    key = philox_key(20240601, "relapse")
    _assert_uniform(uniforms(key, 17, np.arange(N, dtype=np.uint64), 0), "consecutive uses")
    _assert_uniform(draw_uniforms(20240601, "param:car_t.relapse.rate", np.arange(N)),
                    "consecutive draws")
    by_purpose = np.array([float(uniforms(philox_key(20240601, f"flare_{i}"), 3, 0, 0))
                           for i in range(20_000)])
    df = BINS // 50 - 1  # 20,000 numbers: 20 bins of 1,000 expected each
    counts = np.bincount((by_purpose * 20).astype(np.int64), minlength=20)
    chi2 = float(np.sum((counts - 1000.0) ** 2) / 1000.0)
    assert abs(chi2 - df) <= 4 * math.sqrt(2 * df), f"purposes: chi-square {chi2:.1f}"


def test_no_correlation_between_neighbouring_keys():
    """Serial correlation between numbers whose keys differ in one place only: the
    next patient, the next use, the next draw, a purpose with a similar name, the next
    seed; and pairs of consecutive patients fill the unit square evenly."""
    n = 200_000
    s = Streams(7)
    u = s.column("death", 0, 0, n + 1)
    _assert_uncorrelated(u[:-1], u[1:], "patient i vs i + 1")
    _assert_uncorrelated(s.column("death", 0, 0, n), s.column("death", 1, 0, n), "use 0 vs 1")
    _assert_uncorrelated(Streams(7, draw=3).column("death", 0, 0, n),
                         Streams(7, draw=4).column("death", 0, 0, n), "draw 3 vs 4")
    _assert_uncorrelated(s.column("flare_mild", 0, 0, n), s.column("flare_moderate", 0, 0, n),
                         "similar purposes")
    _assert_uncorrelated(s.column("death", 0, 0, n), Streams(8).column("death", 0, 0, n),
                         "seed 7 vs 8")
    _assert_uncorrelated(s.column("relapse", 0, 0, n),
                         s.unsynchronised("car_t").column("relapse", 0, 0, n), "CRN salt")
    draws = draw_uniforms(7, "param:x", np.arange(n + 1))
    _assert_uncorrelated(draws[:-1], draws[1:], "parameter draw k vs k + 1")
    # Pairs of consecutive patients on a 32 x 32 grid: chi-square with 1,023 df.
    cells = (np.minimum((u[:-1] * 32).astype(np.int64), 31) * 32
             + np.minimum((u[1:] * 32).astype(np.int64), 31))
    counts = np.bincount(cells, minlength=1024)
    expected = n / 1024
    chi2 = float(np.sum((counts - expected) ** 2) / expected)
    assert abs(chi2 - 1023) <= 4 * math.sqrt(2 * 1023), f"pairs: chi-square {chi2:.1f}"


def test_keys_depend_on_seed_and_purpose_only():
    assert philox_key(1, "death") == philox_key(1, "death")
    assert len({philox_key(s, p) for s in range(50) for p in ("death", "relapse", "crs")}) == 150
    with pytest.raises(ValueError, match="non-negative"):
        Streams(1, draw=-1)
