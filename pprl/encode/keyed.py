"""Keyed blake3 digests for many short messages: pseudonyms and block keys.

These are the per-record keyed hashes of the data holder's side. Each function returns
exactly what one ``blake3(message, key=key).digest(length)`` call per record would give,
so files stay identical whichever implementation runs underneath.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from blake3 import blake3

__all__ = ["block_key_hashes", "keyed_digests", "pseudonyms"]

SEPARATOR = "\x1f"  # between a block key's name and its parts


def keyed_digests(key: bytes, messages: Sequence[bytes], length: int) -> np.ndarray:
    """``blake3(m, key=key).digest(length)`` of every message, as an (n, length) uint8 array."""
    out = np.empty((len(messages), length), dtype=np.uint8)
    if len(messages):
        joined = b"".join(blake3(m, key=key).digest(length=length) for m in messages)
        out[:] = np.frombuffer(joined, dtype=np.uint8).reshape(-1, length)
    return out


def pseudonyms(key: bytes, values: Sequence[str]) -> np.ndarray:
    """32-byte keyed pseudonyms of normalized link-key values (UTF-8), (n, 32) uint8."""
    return keyed_digests(key, [v.encode("utf-8") for v in values], 32)


def block_key_hashes(
    key: bytes, name: str, parts: Sequence[tuple[np.ndarray, Sequence[str]]]
) -> tuple[np.ndarray, np.ndarray]:
    """Keyed 64-bit block keys of every record, and which records have one.

    ``parts[j] = (codes, table)``: record ``i``'s j-th part is ``table[codes[i]]``, or
    missing when ``codes[i] < 0``. A record with every part present gets the little-endian
    first 8 bytes of ``blake3(SEPARATOR.join([name, part_0, ...]).encode(), key=key)``;
    a record with any part missing gets 0 and ``valid`` False.
    """
    if not parts:
        raise ValueError("a block key needs at least one part")
    n = len(parts[0][0])
    codes = np.stack([np.asarray(c, dtype=np.int64) for c, _ in parts], axis=1)
    valid: np.ndarray = np.asarray((codes >= 0).all(axis=1))
    values = np.zeros(n, dtype=np.uint64)
    rows = np.flatnonzero(valid)
    if len(rows):
        combos, inverse = np.unique(codes[rows], axis=0, return_inverse=True)
        messages = [
            SEPARATOR.join([name, *(parts[j][1][c] for j, c in enumerate(combo))]).encode("utf-8")
            for combo in combos.tolist()
        ]
        digests = keyed_digests(key, messages, 8)
        values[rows] = np.ascontiguousarray(digests).view("<u8").ravel()[inverse.ravel()]
    return values, valid
