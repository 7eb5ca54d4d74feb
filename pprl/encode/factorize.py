"""Distinct values of a column and the code points the numba kernels read.

Identity data repeats heavily (surnames, given names, birth dates, postcodes), so the
encoder validates, formats, tokenizes and hashes each *distinct* value once and maps
the results back to the records through ``inv``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pprl.encode.kernels import factorize_spans

__all__ = ["codepoints", "factorize", "first_row"]


def codepoints(values: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """UTF-32 code points of ``values`` (one buffer) with each value's start and length.

    Values are joined with NUL separators so one C-level join/encode and one numpy scan
    give all the boundaries; if a value itself contains NUL, lengths come from ``len``.
    Raises ``TypeError`` when a value is not a ``str``.
    """
    m = len(values)
    if m:
        cps = np.frombuffer(
            "\x00".join(values).encode("utf-32-le", "surrogatepass"), dtype=np.uint32
        )
        seps = np.flatnonzero(cps == 0)
        if len(seps) == m - 1:
            starts = np.empty(m, dtype=np.int64)
            starts[0] = 0
            starts[1:] = seps + 1
            lens = np.empty(m, dtype=np.int64)
            lens[:-1] = seps - starts[:-1]
            lens[-1] = len(cps) - starts[-1]
            return cps, starts, lens
    lens = np.fromiter(map(len, values), dtype=np.int64, count=m)
    starts = np.zeros(m, dtype=np.int64)
    if m > 1:
        np.cumsum(lens[:-1], out=starts[1:])
    cps = np.frombuffer("".join(values).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return cps, starts, lens


def factorize(col: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """Distinct values of ``col`` (first-seen order) and each record's index into them.

    Strings are hashed by the numba kernel over their code points; a column holding
    anything else is factorized with a Python dict.
    """
    try:
        cps, starts, lens = codepoints(col)
    except TypeError:  # not all str: hash them in Python
        index: dict[str, int] = {}
        for v in col:
            if v not in index:
                index[v] = len(index)
        inv = np.fromiter(map(index.__getitem__, col), dtype=np.int32, count=len(col))
        return list(index), inv
    inv, first = factorize_spans(cps, starts, lens)
    return list(map(col.__getitem__, first.tolist())), inv


def first_row(inv: np.ndarray, value_idx: int) -> int:
    """0-based index of the first record whose distinct-value index is ``value_idx``."""
    return int(np.flatnonzero(inv == value_idx)[0])
