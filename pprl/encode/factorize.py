"""Distinct values of a column and the code points the numba kernels read.

Identity data repeats heavily (surnames, given names, birth dates, postcodes), so the
encoder validates, formats, tokenizes and hashes each *distinct* value once and maps
the results back to the records through ``inv``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import overload

import numpy as np

from pprl.encode.kernels import factorize_spans

__all__ = ["Factorized", "codepoints", "factorize", "first_row"]


class Factorized(Sequence[str]):
    """A column held as its distinct values and each record's index into them.

    It reads like a list of strings (``col[i]``, ``len``, iteration), so code written
    for plain lists keeps working, but stages that know about it (reading, normalizing,
    encoding, hashing) work on ``uniq`` once per distinct value and gather with
    ``inv``. ``inv`` is an int32 or int64 array of indices into ``uniq``.
    """

    __slots__ = ("inv", "uniq")

    def __init__(self, uniq: Sequence[str], inv: np.ndarray) -> None:
        self.uniq: list[str] = list(uniq)
        self.inv: np.ndarray = inv

    def __len__(self) -> int:
        return len(self.inv)

    @overload
    def __getitem__(self, i: int) -> str: ...
    @overload
    def __getitem__(self, i: slice) -> list[str]: ...
    def __getitem__(self, i: int | slice) -> str | list[str]:
        if isinstance(i, slice):
            return [self.uniq[j] for j in self.inv[i].tolist()]
        return self.uniq[int(self.inv[i])]

    def __iter__(self) -> Iterator[str]:
        return iter(self.tolist())

    def tolist(self) -> list[str]:
        """The values of every record as a list (materializes n strings)."""
        uniq = self.uniq
        return [uniq[j] for j in self.inv.tolist()]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Factorized | list | tuple):
            return len(self) == len(other) and self.tolist() == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Factorized({len(self.uniq)} distinct of {len(self)})"


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
    anything else is factorized with a Python dict. A :class:`Factorized` column is
    returned as it is (its ``uniq`` may hold repeats; that only costs a little work).
    """
    if isinstance(col, Factorized):
        return col.uniq, col.inv
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
