"""numba kernels of the CLK encoder: token ids, bit setting, gathers, factorization.

All are compiled with ``nogil=True`` and cached on disk where
:mod:`pprl.numba_cache` finds a writable place. Bit layout: clkhash uses
big-endian ``bitarray`` objects, so bit ``p`` of a filter is bit ``7 - p % 8`` of byte
``p // 8``; the ``uint64`` rows written here hold exactly those bytes (little-endian
words), so ``row.tobytes()`` equals clkhash's ``bitarray.tobytes()``.
"""

from __future__ import annotations

import numba
import numpy as np

from pprl.numba_cache import CACHE

__all__ = [
    "MODE_PER_FEATURE",
    "MODE_PER_TOKEN",
    "MODE_TABLE",
    "factorize_spans",
    "ngram_ids",
    "or_gather",
    "set_bits_blake",
    "set_bits_double",
]

# How the kernels choose k (insertions) for a token occurrence; see ``k_of``.
MODE_PER_TOKEN = 0  # bitsPerToken: ``param`` for every token
MODE_PER_FEATURE = 1  # bitsPerFeature: ``param`` spread over a value's tokens
MODE_TABLE = 2  # any other strategy: precomputed ``ks`` per occurrence


@numba.njit(cache=CACHE, nogil=True)
def ngram_ids(
    cps: np.ndarray, starts: np.ndarray, lens: np.ndarray, n: int, positional: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """Give every n-gram occurrence of every value a dense token id (first-seen order).

    ``cps`` holds the concatenated code points of all values, value ``v`` at
    ``starts[v]:starts[v] + lens[v]``. Values are padded with ``n - 1`` spaces on both
    sides exactly as clkhash's NgramComparison does. Returns (ptr, tok, rep_v, rep_s):
    CSR offsets per value, token id per occurrence, and for each distinct token one
    (value, start) occurrence so Python can rebuild the token string.
    """
    m = lens.shape[0]
    ptr = np.zeros(m + 1, np.int64)
    for v in range(m):
        L = lens[v]
        t = 0
        if L > 0:
            t = L + n - 1
        ptr[v + 1] = ptr[v] + t
    total = ptr[m]
    tok = np.empty(total, np.int32)
    cap = 1024
    mask = np.uint64(cap - 1)
    keys = np.zeros(cap, np.uint64)
    ids = np.full(cap, -1, np.int32)
    rep_v = np.empty(total, np.int32)
    rep_s = np.empty(total, np.int32)
    nd = 0
    pad = n - 1
    mul = np.uint64(0x9E3779B97F4A7C15)
    sh = np.uint64(24)
    for v in range(m):
        L = lens[v]
        base = starts[v]
        for s in range(ptr[v + 1] - ptr[v]):
            key = np.uint64(0)
            for c in range(n):
                p = s + c - pad
                if p < 0 or p >= L:
                    ch = np.uint64(32)
                else:
                    ch = np.uint64(cps[base + p])
                key = (key << np.uint64(21)) | ch
            if positional:
                key = key | (np.uint64(s + 1) << np.uint64(42))
            i = ((key * mul) >> sh) & mask
            while True:
                cur = ids[i]
                if cur < 0:
                    ids[i] = nd
                    keys[i] = key
                    rep_v[nd] = v
                    rep_s[nd] = s
                    tok[ptr[v] + s] = nd
                    nd += 1
                    if 2 * nd > cap:  # grow and rehash
                        ncap = cap * 4
                        nmask = np.uint64(ncap - 1)
                        nkeys = np.zeros(ncap, np.uint64)
                        nids = np.full(ncap, -1, np.int32)
                        for q in range(cap):
                            if ids[q] >= 0:
                                k2 = keys[q]
                                r = ((k2 * mul) >> sh) & nmask
                                while nids[r] >= 0:
                                    r = (r + np.uint64(1)) & nmask
                                nids[r] = ids[q]
                                nkeys[r] = k2
                        cap = ncap
                        mask = nmask
                        keys = nkeys
                        ids = nids
                    break
                if keys[i] == key:
                    tok[ptr[v] + s] = cur
                    break
                i = (i + np.uint64(1)) & mask
    return ptr, tok, rep_v[:nd], rep_s[:nd]


@numba.njit(cache=CACHE, nogil=True)
def bit_in_word(pos: int | np.int64) -> np.uint64:  # pragma: no cover - compiled
    """Mask of big-endian bit ``pos`` (bitarray layout) inside its little-endian uint64 word."""
    b = pos & 63
    return np.uint64(1) << np.uint64((b & 56) | (7 - (b & 7)))


@numba.njit(cache=CACHE, nogil=True, inline="always")
def k_of(
    mode: int, param: int, ks: np.ndarray, a: int, t: int, jj: int
) -> int:  # pragma: no cover - compiled
    """k of the jj-th of t tokens of a value whose first occurrence is at ``a``.

    mode 0: bitsPerToken (``param``); mode 1: bitsPerFeature (``param`` spread as
    clkhash's BitsPerFeatureStrategy: the first ``param % t`` tokens get one more);
    mode 2: precomputed ``ks`` per occurrence (any other strategy).
    """
    if mode == MODE_PER_TOKEN:
        return param
    if mode == MODE_PER_FEATURE:
        base = param // t
        return base + 1 if jj < param - base * t else base
    return ks[a + jj]  # type: ignore[no-any-return]  # an int64


@numba.njit(cache=CACHE, nogil=True)
def set_bits_blake(
    ptr: np.ndarray,
    tok: np.ndarray,
    mode: int,
    param: int,
    ks: np.ndarray,
    shorts: np.ndarray,
    hash_l: int,
    dest: np.ndarray,
    src: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """blakeHash: OR the bits of value ``src[r]`` into ``dest[r]`` for every row r.

    Token t's i-th index is ``shorts[t, i] % l`` (clkhash's 16-bit slices of the
    keyed BLAKE2b output; l is a power of two so ``%`` is a mask).
    """
    lmask = np.int64(hash_l - 1)
    for r in range(src.shape[0]):
        v = src[r]
        a = ptr[v]
        t = ptr[v + 1] - a
        for jj in range(t):
            tk = tok[a + jj]
            for h in range(k_of(mode, param, ks, a, t, jj)):
                pos = np.int64(shorts[tk, h]) & lmask
                dest[r, pos >> 6] |= bit_in_word(pos)


@numba.njit(cache=CACHE, nogil=True)
def set_bits_double(
    ptr: np.ndarray,
    tok: np.ndarray,
    mode: int,
    param: int,
    ks: np.ndarray,
    h1: np.ndarray,
    h2: np.ndarray,
    hash_l: int,
    dest: np.ndarray,
    src: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """doubleHash: OR the bits ``(h1 + i * h2) % l`` of value ``src[r]`` into ``dest[r]``."""
    for r in range(src.shape[0]):
        v = src[r]
        a = ptr[v]
        t = ptr[v + 1] - a
        for jj in range(t):
            tk = tok[a + jj]
            pos = h1[tk]
            b = h2[tk]
            for _ in range(k_of(mode, param, ks, a, t, jj)):  # (h1 + i * h2) % l
                dest[r, pos >> 6] |= bit_in_word(pos)
                pos += b
                if pos >= hash_l:
                    pos -= hash_l


@numba.njit(cache=CACHE, nogil=True)
def or_gather(
    out: np.ndarray, rows: np.ndarray, inv: np.ndarray
) -> None:  # pragma: no cover - compiled
    """``out[r] |= rows[inv[r]]`` for every record ``r`` (a field's contribution)."""
    n, w = out.shape
    for r in range(n):
        src = inv[r]
        for j in range(w):
            out[r, j] |= rows[src, j]


@numba.njit(cache=CACHE, nogil=True)
def factorize_spans(
    cps: np.ndarray, starts: np.ndarray, lens: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """Dense ids for the strings (code-point spans) of a column, in first-seen order.

    Returns (inv, first): ``inv[r]`` is record r's distinct-value id and ``first[d]``
    the first record holding distinct value d. Open addressing on an FNV-1a hash of
    the code points, compared span by span.
    """
    n = lens.shape[0]
    inv = np.empty(n, np.int32)
    first = np.empty(n, np.int64)
    cap = 1024
    mask = np.uint64(cap - 1)
    ids = np.full(cap, -1, np.int32)
    hashes = np.zeros(cap, np.uint64)
    nd = 0
    for r in range(n):
        a = starts[r]
        L = lens[r]
        h = np.uint64(0xCBF29CE484222325)
        for q in range(a, a + L):
            h = (h ^ np.uint64(cps[q])) * np.uint64(0x100000001B3)
        h = h ^ np.uint64(L)
        i = (h * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(24) & mask
        while True:
            d = ids[i]
            if d < 0:
                ids[i] = nd
                hashes[i] = h
                first[nd] = r
                inv[r] = nd
                nd += 1
                if 2 * nd > cap:  # grow and rehash
                    ncap = cap * 4
                    nmask = np.uint64(ncap - 1)
                    nids = np.full(ncap, -1, np.int32)
                    nhashes = np.zeros(ncap, np.uint64)
                    for q in range(cap):
                        if ids[q] >= 0:
                            hq = hashes[q]
                            k = (hq * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(24) & nmask
                            while nids[k] >= 0:
                                k = (k + np.uint64(1)) & nmask
                            nids[k] = ids[q]
                            nhashes[k] = hq
                    cap = ncap
                    mask = nmask
                    ids = nids
                    hashes = nhashes
                break
            if hashes[i] == h:
                o = first[d]
                ob = starts[o]
                same = lens[o] == L
                if same:
                    for q in range(L):
                        if cps[ob + q] != cps[a + q]:
                            same = False
                            break
                if same:
                    inv[r] = d
                    break
            i = (i + np.uint64(1)) & mask
    return inv, first[:nd]
