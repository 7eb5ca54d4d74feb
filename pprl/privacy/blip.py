"""BLIP noise, generator v2: each CLK bit flips with probability f = 1/(1+e^epsilon).

The noise of a record depends only on the key and the record's own pre-flip CLK: its
random stream is the keyed BLAKE3 extended output of the CLK bytes,
``blake3(clk, key=key).digest(...)``, read from the start:

1. the first 8 bytes, as a little-endian unsigned 64-bit integer U, give the number of
   flips k by inverse CDF: k is the number of entries of :func:`flip_count_cdf` that
   are <= U (k ~ Binomial(l, f));
2. the following bytes, two at a time (little-endian 16-bit draws d), give the
   positions: a draw is rejected when ``d >= 65536 - 65536 % l`` (so ``d % l`` is
   uniform) or when position ``d % l`` was flipped already; otherwise that bit flips,
   until k distinct positions have flipped. Bit p is bit ``7 - p % 8`` of byte ``p // 8``
   of the CLK bytes (clkhash's order).

A uniform k-subset with k ~ Binomial(l, f) is exactly "each bit independently with
probability f". The sampler uses integers only, so every CPU gives the same bits; the
CDF table is computed with 60-digit decimal arithmetic (deterministic everywhere), so
each flip count's probability is within 2^-63 of the exact binomial.

Generator v1 (before pprl recorded the generator in its files) drew a 16-bit threshold
test per bit with f rounded to 1/65536; files made with it cannot be compared with v2
files (the same record no longer gets the same noise on both sides), see
:func:`pprl.store.check_compatible`.
"""

from __future__ import annotations

import math
import sys
from decimal import Context, Decimal, localcontext
from functools import lru_cache

import numba
import numpy as np
from blake3 import blake3

from pprl.encode.blake3_kernel import (
    BLOCK_LEN,
    CHUNK_LEN,
    LANES,
    OUT_ROWS,
    STATE_ROWS,
    compress,
    key_words,
    root_states_words,
    set_counter,
)
from pprl.numba_cache import CACHE

__all__ = [
    "BLIP_CONTEXT",
    "BLIP_GENERATOR",
    "blip",
    "flip_count_cdf",
    "flip_probability",
]

BLIP_GENERATOR = "v2"
"""The generator id written to encoding files (metadata field ``blip``)."""
BLIP_CONTEXT = "pprl 2026-11 blip v2"
"""The blake3 derive-key context of the BLIP key."""
MAX_NBITS = 1 << 16  # positions are drawn 16 bits at a time
_PRECISION = 60  # decimal digits of the CDF computation
_TWO64 = 1 << 64


def flip_probability(epsilon: float) -> float:
    """BLIP / randomized response: each bit flips with probability 1 / (1 + e^epsilon)."""
    return 1.0 / (1.0 + math.exp(epsilon))


@lru_cache(maxsize=16)
def flip_count_cdf(nbits: int, epsilon: float) -> np.ndarray:
    """The sampler's table: ``floor(2^64 * P(K <= k))`` for k = 0, 1, ... with
    K ~ Binomial(nbits, f), up to (not including) the first k whose value reaches
    2^64 - 1; a draw above every entry means k = len(table).

    f = 1/(1+e^epsilon) and every probability are computed in 60-digit decimal
    arithmetic (correctly rounded, so the same on every platform); the table's own
    rounding is below 2^-64 per entry.
    """
    if not 0 < nbits <= MAX_NBITS:
        raise ValueError(f"nbits must be between 1 and {MAX_NBITS}, got {nbits}")
    if not (math.isfinite(epsilon) and epsilon >= 0):
        raise ValueError(f"epsilon must be a non-negative number, got {epsilon}")
    with localcontext(Context(prec=_PRECISION, Emin=-(10**9), Emax=10**9)):
        f = 1 / (1 + Decimal(epsilon).exp())
        q = 1 - f
        ratio = f / q
        pmf = q**nbits
        cdf = Decimal(0)
        scale = Decimal(_TWO64)
        table: list[int] = []
        for k in range(nbits + 1):
            cdf += pmf
            value = int((cdf * scale).to_integral_value(rounding="ROUND_FLOOR"))
            if value >= _TWO64 - 1:
                break
            table.append(value)
            pmf = pmf * ratio * (nbits - k) / (k + 1)
    out = np.array(table, dtype=np.uint64)
    out.flags.writeable = False
    return out


@numba.njit(cache=CACHE, nogil=True)
def _consume(block, j, h, k, nbits, src, dst):  # type: ignore[no-untyped-def]  # pragma: no cover - compiled
    """Place up to ``k`` flips into ``dst`` (the CLK ``src`` with the flips so far) from
    the 16-bit draws ``h``, ``h + 1``, ... 31 of one 64-byte XOF block: word ``w`` of
    the block is ``block[w * LANES + j]``. Returns the flips still to place."""
    limit = 65536 - 65536 % nbits
    mask = nbits - 1
    pow2 = nbits & mask == 0
    while k > 0 and h < 32:
        d = np.int64((block[(h >> 1) * LANES + j] >> np.uint32(16 * (h & 1))) & np.uint32(0xFFFF))
        h += 1
        if pow2:
            p = d & mask
        elif d >= limit:
            continue  # d % nbits would favour small positions
        else:
            p = d % nbits
        byte = p >> 3
        bit = np.uint8(1 << (7 - (p & 7)))
        if (dst[byte] ^ src[byte]) & bit:
            continue  # flipped already
        dst[byte] ^= bit
        k -= 1
    return k


@numba.njit(cache=CACHE, nogil=True)
def _flip_count(block, j, cdf):  # type: ignore[no-untyped-def]  # pragma: no cover - compiled
    """k from the first 8 bytes of the record's first XOF block (inverse CDF)."""
    u = np.uint64(block[j]) | (np.uint64(block[LANES + j]) << np.uint64(32))
    return np.int64(np.searchsorted(cdf, u, side="right"))


@numba.njit(cache=CACHE, nogil=True)
def _blip_lanes(kw, clks, words, cdf, nbits):  # type: ignore[no-untyped-def]  # pragma: no cover - compiled
    """BLIP v2 of every row of ``clks`` (n, bytes) uint8, in place; rows of at most one
    chunk, ``words`` the same memory as little-endian uint32. ``LANES`` records at a
    time: a group's pre-flip rows are kept aside, then XOF blocks are made for the whole
    group, one at a time, while one of its records needs more draws."""
    n, nbytes = clks.shape
    st = np.zeros(STATE_ROWS * LANES, np.uint32)
    block = np.empty(OUT_ROWS * LANES, np.uint32)
    left = np.empty(LANES, np.int64)
    before = np.empty((LANES, nbytes), np.uint8)
    for first in range(0, n, LANES):
        lanes = min(LANES, n - first)
        before[:lanes] = clks[first : first + lanes]
        root_states_words(kw, words, nbytes, first, st, block)
        set_counter(st, 0)
        compress(st, block)
        pending = 0
        for j in range(lanes):
            k = _flip_count(block, j, cdf)
            left[j] = _consume(block, j, 4, k, nbits, before[j], clks[first + j])
            pending += left[j] > 0
        t = 0
        while pending:
            t += 1
            set_counter(st, t)
            compress(st, block)
            pending = 0
            for j in range(lanes):
                if left[j] > 0:
                    left[j] = _consume(block, j, 0, left[j], nbits, before[j], clks[first + j])
                    pending += left[j] > 0


def _blip_long(key: bytes, clks: np.ndarray, cdf: np.ndarray, nbits: int) -> None:
    """The same generator for CLKs longer than one chunk (l > 8192 bits), record by
    record with the ``blake3`` package's XOF; each block is laid out as lane 0 of a
    lane group so the same code consumes it."""
    block = np.zeros(OUT_ROWS * LANES, np.uint32)
    for i in range(clks.shape[0]):
        before = clks[i].copy()
        h = blake3(before.tobytes(), key=key)
        t = 0
        left = -1
        while left != 0:
            block[::LANES] = np.frombuffer(h.digest(length=BLOCK_LEN, seek=t * BLOCK_LEN), "<u4")
            if t == 0:
                left = _consume(block, 0, 4, _flip_count(block, 0, cdf), nbits, before, clks[i])
            else:
                left = _consume(block, 0, 0, left, nbits, before, clks[i])
            t += 1


def blip(clks: np.ndarray, epsilon: float, key: bytes, *, inplace: bool = False) -> np.ndarray:
    """Flip each bit of each CLK (uint64 (n, l/64)) with probability f = 1/(1+e^epsilon),
    with generator v2 (module docstring): deterministic for a given key and pre-flip CLK,
    unpredictable without the key. ``inplace`` noises ``clks`` itself (C-contiguous) and
    returns it, saving a copy of the CLKs."""
    n, words = clks.shape
    nbits = words * 64
    if nbits > MAX_NBITS:
        raise ValueError(f"BLIP supports CLKs of at most {MAX_NBITS} bits, got {nbits}")
    cdf = flip_count_cdf(nbits, float(epsilon))
    if not inplace:
        clks = np.array(clks, dtype=clks.dtype, order="C")
    elif not clks.flags.c_contiguous or not clks.flags.writeable:
        raise ValueError("blip(inplace=True) needs a writeable C-contiguous array")
    if n == 0:
        return clks
    raw = clks.view(np.uint8).reshape(n, words * 8)
    if words * 8 > CHUNK_LEN:
        _blip_long(key, raw, cdf, nbits)
    elif sys.byteorder == "little":
        _blip_lanes(key_words(key), raw, raw.view(np.uint32), cdf, nbits)
    else:  # the XOF input is the CLK bytes: give the kernel their little-endian words
        _blip_lanes(key_words(key), raw, raw.view("<u4").astype(np.uint32), cdf, nbits)
    return clks
