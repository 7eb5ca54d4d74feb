"""Typed values exchanged between the comparison core and its backends.

Kept free of any backend so that every module (search, blocking, keyed, the
backends themselves) can import it without an import cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, TypeAlias

import numpy as np
from numpy.typing import NDArray

U64Matrix: TypeAlias = NDArray[np.uint64]
"""Packed CLKs: C-contiguous ``(n, words)`` uint64."""
U32Array: TypeAlias = NDArray[np.uint32]
I64Array: TypeAlias = NDArray[np.int64]
F64Array: TypeAlias = NDArray[np.float64]

LANES = 8
"""References per block of the kernel's word-major layout."""


class Candidates(NamedTuple):
    """A chunk of candidate pairs: parallel arrays (query index, ref index, Dice score)."""

    q: I64Array
    r: I64Array
    score: F64Array


def empty_candidates() -> Candidates:
    """An empty chunk with the right dtypes."""
    return Candidates(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float64))


class BlockKeyPair(NamedTuple):
    """One block key of both files: a (query, reference) pair is compared when its values match.

    ``query_valid``/``ref_valid`` are boolean masks; a record whose key is not valid
    (e.g. a missing date of birth) is in no block of this key.  Plain 4-tuples in this
    order are accepted wherever a ``BlockKeyPair`` is.
    """

    query_values: NDArray[np.int64]
    query_valid: NDArray[np.bool_]
    ref_values: NDArray[np.int64]
    ref_valid: NDArray[np.bool_]


BlockKeyLike: TypeAlias = (
    BlockKeyPair | tuple[NDArray[np.int64], NDArray[np.bool_], NDArray[np.int64], NDArray[np.bool_]]
)


@dataclass(frozen=True)
class PreparedRefs:
    """References sorted by popcount, in 8-wide word-major blocks, ready for the kernel."""

    rblk: U64Matrix  # uint64 (nblocks, words, 8)
    rpop: U32Array  # uint32 (nblocks*8,) sorted, padding 0
    rpopd: F64Array  # float64: rpop, then popcounts of each ref's second half of words
    rid: I64Array  # int64 (n,) original index of each sorted position
    start: I64Array  # int64 (bits+2,) first sorted position with popcount >= v
    words: int
    bits: int

    @property
    def n(self) -> int:
        """Number of references."""
        return int(self.rid.shape[0])

    def rows(self) -> U64Matrix:
        """The references as row-major ``(n, words)`` in sorted order (a copy)."""
        return np.ascontiguousarray(self.rblk.transpose(0, 2, 1).reshape(-1, self.words)[: self.n])


@dataclass(frozen=True)
class SearchParams:
    """How one query block is searched against prepared references.

    ``top_k`` 0 means every pair ``>= threshold``; ``dedupe`` means query ``i`` is the
    sorted reference ``q_base + i`` and only looks at later positions (pairs are then
    reported as ``(min, max)`` of the two ids); ``buffer`` bounds the pairs per piece.
    """

    threshold: float
    top_k: int = 0
    dedupe: bool = False
    q_base: int = 0
    buffer: int = 1 << 16
