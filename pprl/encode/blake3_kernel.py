"""Keyed BLAKE3 of many short messages in numba, bit-identical to the ``blake3`` package.

Covers what the data holder's per-record hashes need: keyed-hash mode (the ``KEYED_HASH``
flag, the key as the chaining value) for messages of at most one chunk (1024 bytes: one
to sixteen 64-byte blocks with ``CHUNK_START``/``CHUNK_END``/``ROOT``), and extended
output of any length (root output blocks with an incrementing counter). Longer messages
need the tree of chunks; :func:`keyed_hash` hands those to the ``blake3`` package.

Records are hashed ``LANES`` at a time: the compression function is written as
straight-line scalar code inside a loop over lanes, with every state word stored
lane-contiguous, so LLVM vectorizes it across records (SIMD) on any CPU numba targets.
Records are first ordered by their number of blocks so that lanes of one group mostly
do the same work; the result does not depend on that order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np
from blake3 import blake3

from pprl.numba_cache import CACHE

__all__ = [
    "BLOCK_LEN",
    "CHUNK_LEN",
    "LANES",
    "OUT_ROWS",
    "STATE_ROWS",
    "compress",
    "key_words",
    "keyed_hash",
    "keyed_hash_packed",
    "pack_messages",
    "root_states",
    "root_states_words",
    "set_counter",
]

CHUNK_LEN = 1024
BLOCK_LEN = 64
LANES = 64  # records per group: a multiple of every SIMD width (16 x uint32 in AVX-512)

CHUNK_START = 1
CHUNK_END = 2
ROOT = 8
KEYED_HASH = 16

_IV = np.array(
    [
        0x6A09E667,
        0xBB67AE85,
        0x3C6EF372,
        0xA54FF53A,
        0x510E527F,
        0x9B05688C,
        0x1F83D9AB,
        0x5BE0CD19,
    ],
    dtype=np.uint32,
)
IV0, IV1, IV2, IV3 = (np.uint32(x) for x in _IV[:4])


def key_words(key: bytes) -> np.ndarray:
    """A 32-byte key as the eight little-endian uint32 words of its chaining value."""
    if len(key) != 32:
        raise ValueError(f"a BLAKE3 key has 32 bytes, got {len(key)}")
    return np.frombuffer(key, dtype="<u4").astype(np.uint32)


@numba.njit
def _rotr(x, n):  # type: ignore[no-untyped-def]  # pragma: no cover - compiled
    return np.uint32((x >> np.uint32(n)) | (x << np.uint32(32 - n)))


@numba.njit
def _g(a, b, c, d, mx, my):  # type: ignore[no-untyped-def]  # pragma: no cover - compiled
    a = np.uint32(a + b + mx)
    d = _rotr(d ^ a, 16)
    c = np.uint32(c + d)
    b = _rotr(b ^ c, 12)
    a = np.uint32(a + b + my)
    d = _rotr(d ^ a, 8)
    c = np.uint32(c + d)
    b = _rotr(b ^ c, 7)
    return a, b, c, d


@numba.njit
def _round(s, m):  # type: ignore[no-untyped-def]  # pragma: no cover - compiled
    s0, s4, s8, s12 = _g(s[0], s[4], s[8], s[12], m[0], m[1])
    s1, s5, s9, s13 = _g(s[1], s[5], s[9], s[13], m[2], m[3])
    s2, s6, s10, s14 = _g(s[2], s[6], s[10], s[14], m[4], m[5])
    s3, s7, s11, s15 = _g(s[3], s[7], s[11], s[15], m[6], m[7])
    s0, s5, s10, s15 = _g(s0, s5, s10, s15, m[8], m[9])
    s1, s6, s11, s12 = _g(s1, s6, s11, s12, m[10], m[11])
    s2, s7, s8, s13 = _g(s2, s7, s8, s13, m[12], m[13])
    s3, s4, s9, s14 = _g(s3, s4, s9, s14, m[14], m[15])
    return (s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13, s14, s15)


@numba.njit
def _permute(m):  # type: ignore[no-untyped-def]  # pragma: no cover - compiled
    return (
        m[2], m[6], m[3], m[10], m[7], m[0], m[4], m[13],
        m[1], m[11], m[12], m[5], m[9], m[14], m[15], m[8],
    )  # fmt: skip


# Rows of a lane group's state buffer (flat uint32, row r of lane j at r * LANES + j).
CV = 0  # 8 rows: chaining value
MSG = 8  # 16 rows: message block words
COUNTER_LO = 24
COUNTER_HI = 25
BLOCK_LEN_ROW = 26
FLAGS = 27
STATE_ROWS = 28
OUT_ROWS = 16


@numba.njit(cache=CACHE, nogil=True)
def compress(st, out):  # type: ignore[no-untyped-def]  # pragma: no cover - compiled
    """The compression function of ``LANES`` records at once, from the state buffer
    ``st`` (``STATE_ROWS`` rows) into the 16 output words of each lane (``out``,
    ``OUT_ROWS`` rows; the first 8 are the next chaining value).

    Flat buffers with compile-time row offsets let LLVM prove which accesses are
    consecutive, so the lane loop is vectorized (one SIMD lane per record).
    """
    for j in range(LANES):
        s = (
            st[0 * LANES + j], st[1 * LANES + j], st[2 * LANES + j], st[3 * LANES + j],
            st[4 * LANES + j], st[5 * LANES + j], st[6 * LANES + j], st[7 * LANES + j],
            IV0, IV1, IV2, IV3,
            st[24 * LANES + j], st[25 * LANES + j], st[26 * LANES + j], st[27 * LANES + j],
        )  # fmt: skip
        w = (
            st[8 * LANES + j], st[9 * LANES + j], st[10 * LANES + j], st[11 * LANES + j],
            st[12 * LANES + j], st[13 * LANES + j], st[14 * LANES + j], st[15 * LANES + j],
            st[16 * LANES + j], st[17 * LANES + j], st[18 * LANES + j], st[19 * LANES + j],
            st[20 * LANES + j], st[21 * LANES + j], st[22 * LANES + j], st[23 * LANES + j],
        )  # fmt: skip
        s = _round(s, w)
        w = _permute(w)
        s = _round(s, w)
        w = _permute(w)
        s = _round(s, w)
        w = _permute(w)
        s = _round(s, w)
        w = _permute(w)
        s = _round(s, w)
        w = _permute(w)
        s = _round(s, w)
        w = _permute(w)
        s = _round(s, w)
        out[0 * LANES + j] = s[0] ^ s[8]
        out[1 * LANES + j] = s[1] ^ s[9]
        out[2 * LANES + j] = s[2] ^ s[10]
        out[3 * LANES + j] = s[3] ^ s[11]
        out[4 * LANES + j] = s[4] ^ s[12]
        out[5 * LANES + j] = s[5] ^ s[13]
        out[6 * LANES + j] = s[6] ^ s[14]
        out[7 * LANES + j] = s[7] ^ s[15]
        out[8 * LANES + j] = s[8] ^ st[0 * LANES + j]
        out[9 * LANES + j] = s[9] ^ st[1 * LANES + j]
        out[10 * LANES + j] = s[10] ^ st[2 * LANES + j]
        out[11 * LANES + j] = s[11] ^ st[3 * LANES + j]
        out[12 * LANES + j] = s[12] ^ st[4 * LANES + j]
        out[13 * LANES + j] = s[13] ^ st[5 * LANES + j]
        out[14 * LANES + j] = s[14] ^ st[6 * LANES + j]
        out[15 * LANES + j] = s[15] ^ st[7 * LANES + j]


@numba.njit(cache=CACHE, nogil=True)
def _load_block(data, start, stop, st, j):  # type: ignore[no-untyped-def]  # pragma: no cover - compiled
    """Message words of ``data[start:stop]`` (at most 64 bytes, zero-padded) into lane j."""
    size = stop - start
    full = size >> 2
    for w in range(full):
        p = start + 4 * w
        st[(MSG + w) * LANES + j] = (
            np.uint32(data[p])
            | (np.uint32(data[p + 1]) << np.uint32(8))
            | (np.uint32(data[p + 2]) << np.uint32(16))
            | (np.uint32(data[p + 3]) << np.uint32(24))
        )
    for w in range(full, 16):
        st[(MSG + w) * LANES + j] = 0
    for i in range(4 * full, size):
        w = MSG + (i >> 2)
        st[w * LANES + j] |= np.uint32(data[start + i]) << np.uint32(8 * (i & 3))


@numba.njit(cache=CACHE, nogil=True)
def root_states(kw, data, offsets, lengths, order, first, st, out):  # type: ignore[no-untyped-def]  # pragma: no cover - compiled
    """Load the root blocks of ``LANES`` messages ``order[first:first + LANES]`` into ``st``.

    Message ``r`` is ``data[offsets[r]:offsets[r] + lengths[r]]`` (at most one chunk);
    lanes past the end of ``order`` hash the empty message. Every block but the last is
    compressed into the lane's chaining value (``out`` is scratch); afterwards ``st``
    holds each lane's last block with its chaining value, length and ``ROOT`` flags and
    counter 0, ready for :func:`compress` (set the counter rows for later output blocks).
    """
    n = order.shape[0]
    nblocks = np.empty(LANES, np.int64)
    most = 1
    for j in range(LANES):
        k = 1
        if first + j < n:
            length = lengths[order[first + j]]
            if length > 0:
                k = (length + BLOCK_LEN - 1) // BLOCK_LEN
        nblocks[j] = k
        most = max(most, k)
        for w in range(8):
            st[(CV + w) * LANES + j] = kw[w]
        st[COUNTER_LO * LANES + j] = 0
        st[COUNTER_HI * LANES + j] = 0
    for b in range(most):
        for j in range(LANES):
            if b >= nblocks[j]:
                continue  # this lane's root block is loaded already
            length = 0
            start = 0
            if first + j < n:
                r = order[first + j]
                length = lengths[r]
                start = offsets[r]
            lo = min(b * BLOCK_LEN, length)
            hi = min(lo + BLOCK_LEN, length)
            _load_block(data, start + lo, start + hi, st, j)
            f = KEYED_HASH
            if b == 0:
                f |= CHUNK_START
            if b == nblocks[j] - 1:
                f |= CHUNK_END | ROOT
            st[BLOCK_LEN_ROW * LANES + j] = hi - lo
            st[FLAGS * LANES + j] = f
        if b < most - 1:
            compress(st, out)
            for j in range(LANES):
                if b < nblocks[j] - 1:
                    for w in range(8):
                        st[(CV + w) * LANES + j] = out[w * LANES + j]


@numba.njit(cache=CACHE, nogil=True)
def root_states_words(kw, words, nbytes, first, st, out):  # type: ignore[no-untyped-def]  # pragma: no cover - compiled
    """:func:`root_states` for rows ``first:first + LANES`` of ``words``: messages of one
    length ``nbytes`` (at most one chunk) given as little-endian uint32 words, zero past
    ``nbytes`` (a CLK array viewed as ``<u4``). Lanes past the last row hash zeros."""
    n, nw = words.shape
    nblocks = max(1, (nbytes + BLOCK_LEN - 1) // BLOCK_LEN)
    lanes = min(LANES, n - first)
    for j in range(LANES):
        for w in range(8):
            st[(CV + w) * LANES + j] = kw[w]
        st[COUNTER_LO * LANES + j] = 0
        st[COUNTER_HI * LANES + j] = 0
    for b in range(nblocks):
        lo = b * BLOCK_LEN
        size = min(BLOCK_LEN, nbytes - lo)
        flags = KEYED_HASH
        if b == 0:
            flags |= CHUNK_START
        if b == nblocks - 1:
            flags |= CHUNK_END | ROOT
        for w in range(16):
            at = 16 * b + w
            if at < nw:
                for j in range(lanes):
                    st[(MSG + w) * LANES + j] = words[first + j, at]
                for j in range(lanes, LANES):
                    st[(MSG + w) * LANES + j] = 0
            else:
                for j in range(LANES):
                    st[(MSG + w) * LANES + j] = 0
        for j in range(LANES):
            st[BLOCK_LEN_ROW * LANES + j] = max(size, 0)
            st[FLAGS * LANES + j] = flags
        if b < nblocks - 1:
            compress(st, out)
            for w in range(8):
                for j in range(LANES):
                    st[(CV + w) * LANES + j] = out[w * LANES + j]


@numba.njit(cache=CACHE, nogil=True)
def set_counter(st, t):  # type: ignore[no-untyped-def]  # pragma: no cover - compiled
    """Point every lane at root output block ``t`` (the XOF's 64-byte block index)."""
    for j in range(LANES):
        st[COUNTER_LO * LANES + j] = np.uint32(t & 0xFFFFFFFF)
        st[COUNTER_HI * LANES + j] = np.uint32(t >> 32)


@numba.njit(cache=CACHE, nogil=True)
def _hash_packed(kw, data, offsets, lengths, order, nwords):  # type: ignore[no-untyped-def]  # pragma: no cover - compiled
    """The first ``nwords`` output words (uint32, (n, nwords)) of every message."""
    n = order.shape[0]
    res = np.empty((lengths.shape[0], nwords), np.uint32)
    st = np.zeros(STATE_ROWS * LANES, np.uint32)
    out = np.empty(OUT_ROWS * LANES, np.uint32)
    for first in range(0, n, LANES):
        root_states(kw, data, offsets, lengths, order, first, st, out)
        for t in range((nwords + 15) // 16):
            set_counter(st, t)
            compress(st, out)
            for j in range(min(LANES, n - first)):
                row = order[first + j]
                for w in range(min(16, nwords - 16 * t)):
                    res[row, 16 * t + w] = out[w * LANES + j]
    return res


def by_blocks(lengths: np.ndarray) -> np.ndarray:
    """Message indices ordered by number of 64-byte blocks (stable), so lanes of one
    group compress the same number of blocks."""
    blocks = np.maximum((lengths + BLOCK_LEN - 1) // BLOCK_LEN, 1)
    if len(blocks) == 0 or (blocks == blocks[0]).all():
        return np.arange(len(lengths), dtype=np.int64)
    return np.argsort(blocks, kind="stable").astype(np.int64)


def _chunk_hashes(
    key: bytes, data: np.ndarray, offsets: np.ndarray, lengths: np.ndarray, length: int
) -> np.ndarray:
    """:func:`keyed_hash_packed` of messages of at most one chunk, all in numba."""
    if len(lengths) == 0 or length == 0:
        return np.empty((len(lengths), length), dtype=np.uint8)
    if len(data) == 0:
        data = np.zeros(1, np.uint8)
    nwords = (length + 3) // 4
    words = _hash_packed(key_words(key), data, offsets, lengths, by_blocks(lengths), nwords)
    raw = np.asarray(words, dtype="<u4").view(np.uint8)  # the digest bytes (a no-op on LE)
    return raw if length == 4 * nwords else np.ascontiguousarray(raw[:, :length])


def keyed_hash_packed(
    key: bytes, data: np.ndarray, offsets: np.ndarray, lengths: np.ndarray, length: int
) -> np.ndarray:
    """``blake3(data[o:o + l], key=key).digest(length)`` for every (offset, length),
    as an (n, length) uint8 array.

    Messages of at most one chunk (1024 bytes) are hashed in numba; longer ones by the
    ``blake3`` package (a tree of chunks, rare for per-record values).
    """
    if length < 0:
        raise ValueError(f"digest length must be non-negative, got {length}")
    data = np.ascontiguousarray(data, dtype=np.uint8)
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    lengths = np.ascontiguousarray(lengths, dtype=np.int64)
    if offsets.shape != lengths.shape or offsets.ndim != 1:
        raise ValueError("offsets and lengths must be 1-d arrays of one length")
    if len(lengths) and (
        lengths.min() < 0 or offsets.min() < 0 or (offsets + lengths).max() > len(data)
    ):
        raise ValueError("a message lies outside the data buffer")
    long = lengths > CHUNK_LEN
    if not long.any():
        return _chunk_hashes(key, data, offsets, lengths, length)
    out = np.empty((len(lengths), length), dtype=np.uint8)
    short = np.flatnonzero(~long)
    out[short] = _chunk_hashes(key, data, offsets[short], lengths[short], length)
    for i in np.flatnonzero(long).tolist():
        message = data[offsets[i] : offsets[i] + lengths[i]].tobytes()
        out[i] = np.frombuffer(blake3(message, key=key).digest(length=length), np.uint8)
    return out


def pack_messages(messages: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Messages as (flat uint8 buffer, offsets, lengths)."""
    lengths = np.fromiter(map(len, messages), dtype=np.int64, count=len(messages))
    offsets = np.zeros(len(messages), dtype=np.int64)
    if len(messages) > 1:
        np.cumsum(lengths[:-1], out=offsets[1:])
    data = np.frombuffer(b"".join(messages), dtype=np.uint8)
    return data, offsets, lengths


def keyed_hash(key: bytes, messages: Sequence[bytes], length: int) -> np.ndarray:
    """``blake3(m, key=key).digest(length)`` of every message, (n, length) uint8."""
    return keyed_hash_packed(key, *pack_messages(messages), length)
