"""Planning of keyed-block search, shared by every backend: which reference range each
query scans for one block key.

References are sorted by key value once; each query then scans the contiguous range of
references with its value.  No compute here, only sorting and ``searchsorted``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple

import numpy as np

from pprl.compare.types import BlockKeyLike, BlockKeyPair, I64Array


class KeyRanges(NamedTuple):
    """For one block key: queries with a valid key (sorted by value) and their ranges.

    Query ``q_idx[t]`` is compared with references ``r_sorted[lo[t]:hi[t]]``.
    """

    q_idx: I64Array
    r_sorted: I64Array
    lo: I64Array
    hi: I64Array


def as_block_key_pair(key: BlockKeyLike) -> BlockKeyPair:
    """Accept a ``BlockKeyPair`` or a plain ``(q_values, q_valid, r_values, r_valid)`` tuple."""
    if isinstance(key, BlockKeyPair):
        return key
    if len(key) != 4:
        raise ValueError("a block key is (query_values, query_valid, ref_values, ref_valid)")
    return BlockKeyPair(*key)


def key_ranges(keys: Sequence[BlockKeyLike]) -> Iterator[KeyRanges]:
    """The scan plan of every block key, in order."""
    for key in keys:
        q_val, q_ok, r_val, r_ok = as_block_key_pair(key)
        r_idx = np.flatnonzero(r_ok)
        order = r_idx[np.argsort(r_val[r_idx], kind="stable")]
        sorted_vals = r_val[order]
        q_idx = np.flatnonzero(q_ok)
        q_idx = q_idx[np.argsort(q_val[q_idx], kind="stable")]
        lo = np.searchsorted(sorted_vals, q_val[q_idx], side="left")
        hi = np.searchsorted(sorted_vals, q_val[q_idx], side="right")
        yield KeyRanges(
            q_idx.astype(np.int64), order.astype(np.int64), lo.astype(np.int64), hi.astype(np.int64)
        )


def block_pair_count(keys: Sequence[BlockKeyLike]) -> int:
    """Number of (query, reference) comparisons the blocks imply, counting each key separately."""
    total = 0
    for key in keys:
        q_val, q_ok, r_val, r_ok = as_block_key_pair(key)
        r_sorted = np.sort(r_val[r_ok])
        q = q_val[q_ok]
        total += int(
            (np.searchsorted(r_sorted, q, "right") - np.searchsorted(r_sorted, q, "left")).sum()
        )
    return total
