"""Candidate search within keyed blocks: compare a query only with references that share
one of its block keys.

Block keys are keyed hashes of normalized attributes (e.g. the date of birth), computed
by the data holders at encoding time and stored in the encoding files, so the matcher
can block without learning the attributes. References are sorted by key once; each
query then scans only its key's contiguous range (:mod:`pprl.compare.keyplan`). The scan
runs on the active backend: a numba kernel (parallel over queries) on the CPU backend,
numpy on the fallback.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pprl.compare.backend import get_backend
from pprl.compare.keyplan import block_pair_count
from pprl.compare.types import BlockKeyLike, BlockKeyPair, F64Array, I64Array, U64Matrix

__all__ = ["BlockKeyPair", "block_pair_count", "popcounts", "topk_by_block_keys"]


def popcounts(clks: np.ndarray) -> I64Array:
    """Number of set bits of each packed CLK row (int64)."""
    x = np.ascontiguousarray(clks, dtype=np.uint64)
    return get_backend().popcounts(x).astype(np.int64)


def topk_by_block_keys(
    queries: U64Matrix,
    refs: U64Matrix,
    keys: Sequence[BlockKeyLike],
    *,
    k: int = 1,
    threshold: float = 0.0,
    exclude: np.ndarray | None = None,
    device: str = "cpu",
) -> tuple[I64Array, F64Array]:
    """Best ``k`` references for every query among references sharing a block key.

    ``keys`` holds one :class:`~pprl.compare.types.BlockKeyPair` (or plain tuple
    ``(query_values, query_valid, ref_values, ref_valid)``) per block key; a pair is
    compared when any one key matches (the union of the blocks). ``exclude[q]``
    names one reference never returned for query ``q`` (e.g. the claimed record), -1 for
    none. Returns ``(ref_index, score)`` arrays of shape (n_queries, k), best first,
    index -1 and score -1.0 where fewer than ``k`` references reach ``threshold``.
    Ties are deterministic: towards the lower reference index within one key, and
    towards the earlier key across keys (see ``Backend.topk_by_block_keys``).
    """
    if k < 1:
        raise ValueError("k must be >= 1")
    nq = queries.shape[0]
    if nq == 0 or refs.shape[0] == 0:
        return np.full((nq, k), -1, dtype=np.int64), np.full((nq, k), -1.0, dtype=np.float64)
    q = np.ascontiguousarray(queries, dtype=np.uint64)
    r = np.ascontiguousarray(refs, dtype=np.uint64)
    if q.shape[1] != r.shape[1]:
        raise ValueError(f"filter widths differ: {q.shape[1]} vs {r.shape[1]} words")
    excl = (
        np.full(nq, -1, dtype=np.int64) if exclude is None else np.asarray(exclude, dtype=np.int64)
    )
    return get_backend(device).topk_by_block_keys(
        q, r, keys, k=k, threshold=float(threshold), exclude=excl
    )
