"""The CPU backend's top-k-by-block-keys scan: a numba kernel, parallel over queries,
``llvm.ctpop`` popcounts, keeping the best ``k`` references per query.

Imported lazily by :class:`pprl.compare.backend.CpuBackend` (numba is slow to import).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numba import njit, prange, types
from numba.extending import intrinsic

from pprl.compare.keyplan import key_ranges
from pprl.compare.types import BlockKeyLike, F64Array, I64Array, U32Array, U64Matrix
from pprl.numba_cache import CACHE


@intrinsic
def _popcount64(typingctx: Any, x: Any) -> Any:  # noqa: ARG001 - numba's intrinsic signature
    """Hardware popcount of a uint64 (LLVM ``ctpop``)."""
    sig = types.uint64(types.uint64)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.ctpop(args[0])

    return sig, codegen


@njit(parallel=True, cache=CACHE)  # type: ignore[misc, unused-ignore]
def _topk_in_ranges(
    q_clks: U64Matrix,
    q_pop: I64Array,
    q_idx: I64Array,
    r_clks: U64Matrix,
    r_pop: I64Array,
    r_sorted: I64Array,
    lo: I64Array,
    hi: I64Array,
    exclude: I64Array,
    threshold: float,
    out_r: I64Array,
    out_s: F64Array,
) -> None:
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
                inter += _popcount64(q_clks[q, w] & r_clks[r, w])  # type: ignore[call-arg, unused-ignore]
            s = 2.0 * inter / denom
            # enters only above the k-th kept score: on a tie the earlier visit stays
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
            while pos > 0 and (
                out_s[q, pos - 1] < s or (out_s[q, pos - 1] == s and out_r[q, pos - 1] > r)
            ):
                out_s[q, pos] = out_s[q, pos - 1]
                out_r[q, pos] = out_r[q, pos - 1]
                pos -= 1
            out_s[q, pos] = s
            out_r[q, pos] = r


def topk_numba(
    queries: U64Matrix,
    refs: U64Matrix,
    q_pop: U32Array,
    r_pop: U32Array,
    keys: Sequence[BlockKeyLike],
    exclude: I64Array,
    threshold: float,
    out_r: I64Array,
    out_s: F64Array,
) -> None:
    """Fill ``out_r``/``out_s`` (n_queries, k), initialised to -1/-1.0, key by key."""
    qp, rp = q_pop.astype(np.int64), r_pop.astype(np.int64)
    for plan in key_ranges(keys):
        _topk_in_ranges(
            queries,
            qp,
            plan.q_idx,
            refs,
            rp,
            plan.r_sorted,
            plan.lo,
            plan.hi,
            exclude,
            float(threshold),
            out_r,
            out_s,
        )
