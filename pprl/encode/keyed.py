"""Keyed blake3 digests for many short messages: pseudonyms and block keys.

These are the per-record keyed hashes of the data holder's side. Each function returns
exactly what one ``blake3(message, key=key).digest(length)`` call per record would give,
so files stay identical whichever implementation runs underneath: the hashing runs in
numba (:mod:`pprl.encode.blake3_kernel`), many records per SIMD step, and text is turned
into UTF-8 by Arrow in one pass rather than value by value.
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np
import pyarrow as pa
from blake3 import blake3

from pprl.encode.blake3_kernel import (
    CHUNK_LEN,
    LANES,
    OUT_ROWS,
    STATE_ROWS,
    compress,
    key_words,
    keyed_hash,
    keyed_hash_packed,
    root_states,
    set_counter,
)
from pprl.numba_cache import CACHE

__all__ = ["block_key_hashes", "keyed_digests", "pseudonyms", "utf8_table"]

SEPARATOR = "\x1f"  # between a block key's name and its parts


def keyed_digests(key: bytes, messages: Sequence[bytes], length: int) -> np.ndarray:
    """``blake3(m, key=key).digest(length)`` of every message, as an (n, length) uint8 array."""
    return keyed_hash(key, messages, length)


def utf8_table(values: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The UTF-8 bytes of every value as (flat uint8 buffer, offsets, lengths).

    Raises ``UnicodeEncodeError`` for a value UTF-8 cannot encode (a lone surrogate),
    exactly as ``str.encode`` does.
    """
    try:
        arr = pa.array(values, type=pa.large_string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        for v in values:  # the same error str.encode gives, naming the culprit
            v.encode("utf-8")
        raise
    if arr.null_count:
        raise TypeError("expected text values, got None")
    n = len(arr)
    _, off_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(off_buf, dtype=np.int64, count=arr.offset + n + 1)[arr.offset :]
    data = (
        np.frombuffer(data_buf, dtype=np.uint8)
        if data_buf is not None and data_buf.size
        else np.zeros(0, np.uint8)
    )
    return data, offsets[:-1].copy(), np.diff(offsets)


def pseudonyms(key: bytes, values: Sequence[str]) -> np.ndarray:
    """32-byte keyed pseudonyms of normalized link-key values (UTF-8), (n, 32) uint8."""
    return keyed_hash_packed(key, *utf8_table(values), 32)


@numba.njit(cache=CACHE, nogil=True)
def _block_keys(kw, name, data, starts, lens, codes, base, counts):  # type: ignore[no-untyped-def]  # pragma: no cover - compiled
    """Block keys of every record: ``name SEP part_0 SEP part_1 ...`` assembled in a
    per-lane scratch buffer, ``LANES`` records per keyed-hash step.

    ``codes[i, j]`` is record i's code in part j's table, whose entries are
    ``base[j]:base[j] + counts[j]`` of (``starts``, ``lens``) into ``data``. Returns
    (values, valid, long, bad): ``long`` marks records whose message exceeds one chunk
    (not hashed here), ``bad`` is the first part with a code past its table, or -1.
    """
    n, k = codes.shape
    values = np.zeros(n, np.uint64)
    valid = np.zeros(n, np.bool_)
    long = np.zeros(n, np.bool_)
    scratch = np.empty(LANES * CHUNK_LEN, np.uint8)
    lane_ids = np.arange(LANES)
    offsets = lane_ids * CHUNK_LEN
    lengths = np.zeros(LANES, np.int64)
    rows = np.empty(LANES, np.int64)
    st = np.zeros(STATE_ROWS * LANES, np.uint32)
    out = np.empty(OUT_ROWS * LANES, np.uint32)
    nname = name.shape[0]
    i = 0
    while i < n:
        m = 0
        while m < LANES and i < n:
            ok = True
            size = nname
            for j in range(k):
                c = codes[i, j]
                if c >= counts[j]:
                    return values, valid, long, j
                if c < 0:
                    ok = False
                else:
                    size += 1 + lens[base[j] + c]
            valid[i] = ok
            if ok and size > CHUNK_LEN:
                long[i] = True
            elif ok:
                p = m * CHUNK_LEN
                for b in range(nname):
                    scratch[p + b] = name[b]
                p += nname
                for j in range(k):
                    e = base[j] + codes[i, j]
                    scratch[p] = 0x1F
                    p += 1
                    s = starts[e]
                    for b in range(lens[e]):
                        scratch[p + b] = data[s + b]
                    p += lens[e]
                lengths[m] = size
                rows[m] = i
                m += 1
            i += 1
        if m:
            root_states(kw, scratch, offsets, lengths, lane_ids[:m], 0, st, out)
            set_counter(st, 0)
            compress(st, out)
            for lane in range(m):
                lo = np.uint64(out[lane])
                hi = np.uint64(out[LANES + lane])
                values[rows[lane]] = lo | (hi << np.uint64(32))
    return values, valid, long, -1


def block_key_hashes(
    key: bytes, name: str, parts: Sequence[tuple[np.ndarray, Sequence[str]]]
) -> tuple[np.ndarray, np.ndarray]:
    """Keyed 64-bit block keys of every record, and which records have one.

    ``parts[j] = (codes, table)``: record ``i``'s j-th part is ``table[codes[i]]``, or
    missing when ``codes[i] < 0``. A record with every part present gets the little-endian
    first 8 bytes of ``blake3(SEPARATOR.join([name, part_0, ...]).encode(), key=key)``;
    a record with any part missing gets 0 and ``valid`` False.

    Each distinct part value is encoded once; the messages are assembled in numba.
    """
    if not parts:
        raise ValueError("a block key needs at least one part")
    codes = np.stack([np.asarray(c, dtype=np.int64) for c, _ in parts], axis=1)
    tables = [utf8_table(table) for _, table in parts]
    counts = np.array([len(t[1]) for t in tables], dtype=np.int64)
    base = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    shift = np.cumsum([0] + [len(t[0]) for t in tables[:-1]])
    data = np.concatenate([t[0] for t in tables] + [np.zeros(1, np.uint8)])
    starts = np.concatenate([t[1] + s for t, s in zip(tables, shift, strict=True)])
    lens = np.concatenate([t[2] for t in tables])
    name_bytes = np.frombuffer(name.encode("utf-8"), dtype=np.uint8)
    values, valid, long, bad = _block_keys(
        key_words(key), name_bytes, data, starts, lens, codes, base, counts
    )
    if bad >= 0:
        raise ValueError(f"block key {name!r}: part {bad} has a code past its table")
    for i in np.flatnonzero(long).tolist():  # a message over 1024 bytes: rare
        message = SEPARATOR.join(
            [name, *(t[c] for (_, t), c in zip(parts, codes[i].tolist(), strict=True))]
        )
        digest = blake3(message.encode("utf-8"), key=key).digest(length=8)
        values[i] = int.from_bytes(digest, "little")
    return values, valid
