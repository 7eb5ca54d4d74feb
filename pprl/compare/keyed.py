"""Candidate search within keyed blocks: compare a query only with references that share
one of its block keys.

Block keys are keyed hashes of normalized attributes (e.g. the date of birth), computed
by the data holders at encoding time and stored in the encoding files, so the matcher
can block without learning the attributes. References are sorted by key once; each
query then scans only its key's contiguous range. The scan is a numba kernel (parallel
over queries, ``llvm.ctpop`` popcounts) that keeps the best ``k`` references per query.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange, types
from numba.extending import intrinsic


@intrinsic
def _popcount64(typingctx, x):  # noqa: ARG001 - numba's intrinsic signature
    """Hardware popcount of a uint64 (LLVM ``ctpop``)."""
    sig = types.uint64(types.uint64)

    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])

    return sig, codegen


@njit(cache=True)
def _popcounts(x: np.ndarray) -> np.ndarray:
    out = np.empty(x.shape[0], dtype=np.int64)
    for i in range(x.shape[0]):
        c = 0
        for w in range(x.shape[1]):
            c += _popcount64(x[i, w])
        out[i] = c
    return out


def popcounts(clks: np.ndarray) -> np.ndarray:
    """Number of set bits of each packed CLK row."""
    return _popcounts(np.ascontiguousarray(clks, dtype=np.uint64))


@njit(parallel=True, cache=True)
def _topk_in_ranges(q_clks, q_pop, q_idx, r_clks, r_pop, r_sorted, lo, hi, exclude,
                    threshold, out_r, out_s):
    k = out_r.shape[1]
    words = q_clks.shape[1]
    for t in prange(q_idx.shape[0]):
        q = q_idx[t]
        pq = q_pop[q]
        for j in range(lo[t], hi[t]):
            r = r_sorted[j]
            if r == exclude[q]:
                continue
            denom = pq + r_pop[r]
            if denom == 0:
                continue
            inter = 0
            for w in range(words):
                inter += _popcount64(q_clks[q, w] & r_clks[r, w])
            s = 2.0 * inter / denom
            if s < threshold or s <= out_s[q, k - 1]:
                continue
            # skip a reference already kept (several block keys may find it)
            seen = False
            for m in range(k):
                if out_r[q, m] == r:
                    seen = True
                    break
            if seen:
                continue
            pos = k - 1
            while pos > 0 and (out_s[q, pos - 1] < s
                               or (out_s[q, pos - 1] == s and out_r[q, pos - 1] > r)):
                out_s[q, pos] = out_s[q, pos - 1]
                out_r[q, pos] = out_r[q, pos - 1]
                pos -= 1
            out_s[q, pos] = s
            out_r[q, pos] = r


def topk_by_block_keys(queries: np.ndarray, refs: np.ndarray,
                       keys: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
                       *, k: int = 1, threshold: float = 0.0,
                       exclude: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Best ``k`` references for every query among references sharing a block key.

    ``keys`` holds, per block key, ``(query_values, query_valid, ref_values, ref_valid)``;
    a pair is compared when any one key matches (the union of the blocks). ``exclude[q]``
    names one reference never returned for query ``q`` (e.g. the claimed record), -1 for
    none. Returns ``(ref_index, score)`` arrays of shape (n_queries, k), best first,
    index -1 and score -1.0 where fewer than ``k`` references reach ``threshold``.
    Ties are broken towards the lower reference index, so results are deterministic.
    """
    nq = queries.shape[0]
    out_r = np.full((nq, k), -1, dtype=np.int64)
    out_s = np.full((nq, k), -1.0, dtype=np.float64)
    if nq == 0 or refs.shape[0] == 0:
        return out_r, out_s
    q_pop, r_pop = popcounts(queries), popcounts(refs)
    excl = np.full(nq, -1, dtype=np.int64) if exclude is None else exclude.astype(np.int64)
    for q_val, q_ok, r_val, r_ok in keys:
        r_idx = np.flatnonzero(r_ok)
        order = r_idx[np.argsort(r_val[r_idx], kind="stable")]
        sorted_vals = r_val[order]
        q_idx = np.flatnonzero(q_ok)
        q_idx = q_idx[np.argsort(q_val[q_idx], kind="stable")]
        lo = np.searchsorted(sorted_vals, q_val[q_idx], side="left")
        hi = np.searchsorted(sorted_vals, q_val[q_idx], side="right")
        _topk_in_ranges(queries, q_pop, q_idx, refs, r_pop, order.astype(np.int64), lo, hi,
                        excl, float(threshold), out_r, out_s)
    return out_r, out_s


def block_pair_count(keys: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]) -> int:
    """Number of (query, reference) comparisons the blocks imply, counting each key separately."""
    total = 0
    for q_val, q_ok, r_val, r_ok in keys:
        r_sorted = np.sort(r_val[r_ok])
        q = q_val[q_ok]
        total += int((np.searchsorted(r_sorted, q, "right") - np.searchsorted(r_sorted, q, "left")).sum())
    return total
