"""Conversion between pprl's packed ``uint64`` CLKs and clkhash's ``bitarray`` objects.

clkhash uses big-endian ``bitarray`` objects, so bit ``p`` of a filter is bit
``7 - p % 8`` of byte ``p // 8``. pprl's ``uint64`` rows hold exactly those bytes
(little-endian words), so ``arr[i].tobytes() == clk_i.tobytes()``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from bitarray import bitarray

from pprl.errors import InputError

__all__ = ["bitarrays_to_clks", "clks_to_bitarrays"]


def clks_to_bitarrays(clks: np.ndarray) -> list[bitarray]:
    """Convert packed uint64 CLKs to clkhash-style big-endian bitarrays (for interop)."""
    arr = np.ascontiguousarray(clks, dtype="<u8")
    out = []
    for row in arr:
        ba = bitarray(endian="big")
        ba.frombytes(row.tobytes())
        out.append(ba)
    return out


def bitarrays_to_clks(bas: Sequence[bitarray]) -> np.ndarray:
    """Convert clkhash bitarrays (length a multiple of 64) to a packed uint64 array."""
    if not len(bas):
        return np.zeros((0, 0), dtype=np.uint64)
    nbits = len(bas[0])
    if nbits % 64:
        raise InputError(f"bitarray length {nbits} is not a multiple of 64")
    buf = bytearray()
    for i, ba in enumerate(bas):
        if len(ba) != nbits:
            raise InputError(f"bitarray {i} has length {len(ba)}, expected {nbits}")
        if ba.endian() != "big":
            ba = bitarray(ba, endian="big")
        buf += ba.tobytes()
    return np.frombuffer(bytes(buf), dtype="<u8").reshape(len(bas), nbits // 64).copy()
