"""The numpy fallback backend: every kernel in plain numpy (``np.bitwise_count``).

Used automatically when the C extension cannot be loaded, or on request
(``PPRL_KERNEL=numpy``, ``select_kernel("numpy")``, ``get_backend("numpy")``).  It
computes the same integer intersections and the same IEEE double
``2.0 * inter / (pa + pb)`` as the C kernel, visits the same popcount window, and
breaks ties the same way, so it returns the same pairs and bit-identical scores;
it is about two orders of magnitude slower.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from pprl.compare.keyplan import key_ranges
from pprl.compare.types import (
    BlockKeyLike,
    Candidates,
    F64Array,
    I64Array,
    PreparedRefs,
    SearchParams,
    U32Array,
    U64Matrix,
)

ELEMENTS = 1 << 21  # uint64 words per temporary AND matrix (16 MiB)


def _popcount_rows(x: U64Matrix) -> NDArray[np.int64]:
    """Popcount of every row (int64)."""
    out: NDArray[np.int64] = np.bitwise_count(x).sum(axis=1, dtype=np.int64)
    return out


def _dice(inter: NDArray[np.int64], den: NDArray[np.int64]) -> F64Array:
    """``2.0 * inter / den`` in double, 0.0 where ``den`` is 0 (the kernel's formula)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        s = (2.0 * inter.astype(np.float64)) / den.astype(np.float64)
    return np.where(den == 0, 0.0, s)


def query_windows(
    qpop: U32Array, prep: PreparedRefs, params: SearchParams
) -> tuple[I64Array, I64Array]:
    """Sorted-reference window ``[lo, hi)`` of every query, exactly as the C kernel's
    ``query_window`` computes it (same double arithmetic and truncations)."""
    nq = qpop.shape[0]
    p = qpop.astype(np.int64)
    t = params.threshold
    if t > 0:
        d = (2 * p).astype(np.float64) * (1.0 / t - 1.0)
        delta = np.where(d >= prep.bits, prep.bits, np.trunc(np.minimum(d, prep.bits))).astype(
            np.int64
        )
        vlo, vhi = p - delta, p + delta + 1
        if t < 2.0:
            tight = p.astype(np.float64) * t / (2.0 - t) - 1.0
            vlo = np.where(tight > vlo, np.trunc(tight), vlo).astype(np.int64)
        vlo = np.maximum(vlo, 0)
        vhi = np.minimum(vhi, prep.bits + 1)
        lo, hi = prep.start[vlo], prep.start[vhi]
    else:
        lo, hi = np.zeros(nq, np.int64), np.full(nq, prep.n, np.int64)
    if params.dedupe:
        lo = np.maximum(lo, params.q_base + np.arange(nq, dtype=np.int64) + 1)
    if t > 0:  # an empty query cannot reach a positive threshold
        hi = np.where(p == 0, lo, hi)
    return lo.astype(np.int64), hi.astype(np.int64)


def best_k(q: I64Array, r: I64Array, s: F64Array, k: int) -> NDArray[np.bool_]:
    """Mask of each query's ``k`` best pairs (score desc, then lower ref), duplicates of a
    (q, r) pair counted once; the kept entries are in (q, score desc, r) order of ``order``."""
    order = np.lexsort((r, -s, q))
    qs, rs = q[order], r[order]
    new = np.ones(qs.size, dtype=bool)
    new[1:] = (qs[1:] != qs[:-1]) | (rs[1:] != rs[:-1])
    order = order[new]
    qs = q[order]
    first = np.flatnonzero(np.concatenate([[True], qs[1:] != qs[:-1]]))
    rank = np.arange(qs.size) - np.repeat(first, np.diff(np.concatenate([first, [qs.size]])))
    keep = np.zeros(q.size, dtype=bool)
    keep[order[rank < k]] = True
    return keep


class NumpyBackend:
    """Pure-numpy kernels: the fallback when ``pprl.compare._kernel`` cannot load."""

    name = "numpy"

    def popcounts(self, clks: U64Matrix) -> U32Array:
        """Row popcounts."""
        out = np.empty(clks.shape[0], dtype=np.uint32)
        step = max(1, ELEMENTS // max(1, clks.shape[1]))
        for i in range(0, clks.shape[0], step):
            out[i : i + step] = _popcount_rows(clks[i : i + step])
        return out

    def dice_rows(self, a: U64Matrix, b: U64Matrix) -> F64Array:
        """Dice of aligned rows."""
        pa, pb = _popcount_rows(a), _popcount_rows(b)
        return _dice(_popcount_rows(a & b), pa + pb)

    def dice_index(
        self,
        a: U64Matrix,
        b: U64Matrix,
        qi: I64Array,
        rj: I64Array,
        pop_a: U32Array,
        pop_b: U32Array,
    ) -> F64Array:
        """Dice of the index pairs ``(a[qi[k]], b[rj[k]])``."""
        if qi.size and (
            qi.min() < 0 or qi.max() >= a.shape[0] or rj.min() < 0 or rj.max() >= b.shape[0]
        ):
            raise IndexError("pair index out of range")
        out = np.empty(qi.shape[0], dtype=np.float64)
        step = max(1, ELEMENTS // max(1, a.shape[1]))
        for i in range(0, qi.shape[0], step):
            x, y = qi[i : i + step], rj[i : i + step]
            inter = _popcount_rows(a[x] & b[y])
            out[i : i + step] = _dice(inter, pop_a[x].astype(np.int64) + pop_b[y].astype(np.int64))
        return out

    def search(
        self, refs: PreparedRefs, q: U64Matrix, qpop: U32Array, qid: I64Array, params: SearchParams
    ) -> list[Candidates]:
        """Candidates of the query block against the prepared refs (see ``Backend.search``)."""
        nq, n = q.shape[0], refs.n
        if nq == 0 or n == 0:
            return []
        lo, hi = query_windows(qpop, refs, params)
        rows = refs.rows()
        rpop = refs.rpop[:n].astype(np.int64)
        qp = qpop.astype(np.int64)
        parts: list[Candidates] = []
        i = 0
        while i < nq:
            # as many queries as fit the element budget over their union window
            j, a, b = i, int(lo[i]), int(hi[i])
            while j < nq:
                a2, b2 = min(a, int(lo[j])), max(b, int(hi[j]))
                if j > i and (j - i + 1) * max(0, b2 - a2) * refs.words > ELEMENTS:
                    break
                a, b, j = a2, b2, j + 1
            if b > a:
                inter = np.bitwise_count(q[i:j, None, :] & rows[None, a:b, :]).sum(
                    axis=2, dtype=np.int64
                )
                score = _dice(inter, qp[i:j, None] + rpop[None, a:b])
                pos = np.arange(a, b)
                ok = (score >= params.threshold) & (pos >= lo[i:j, None]) & (pos < hi[i:j, None])
                qq, pp = np.nonzero(ok)
                qo, ro, so = qid[i + qq], refs.rid[a + pp], score[qq, pp]
                if params.top_k:
                    keep = best_k(qo, ro, so, params.top_k)
                    qo, ro, so = qo[keep], ro[keep], so[keep]
                if params.dedupe:
                    qo, ro = np.minimum(qo, ro), np.maximum(qo, ro)
                if qo.size:
                    parts.append(Candidates(qo.astype(np.int64), ro.astype(np.int64), so))
            i = j
        return parts

    def topk_by_block_keys(
        self,
        queries: U64Matrix,
        refs: U64Matrix,
        keys: Sequence[BlockKeyLike],
        *,
        k: int,
        threshold: float,
        exclude: I64Array,
    ) -> tuple[I64Array, F64Array]:
        """Best ``k`` refs per query among refs sharing a block key (see ``Backend``)."""
        nq = queries.shape[0]
        out_r = np.full((nq, k), -1, dtype=np.int64)
        out_s = np.full((nq, k), -1.0, dtype=np.float64)
        qp = self.popcounts(queries).astype(np.int64)
        rp = self.popcounts(refs).astype(np.int64)
        batch = max(1, ELEMENTS // max(1, queries.shape[1]))
        for plan in key_ranges(keys):
            counts = plan.hi - plan.lo
            ends = np.cumsum(counts)
            t0 = 0
            while t0 < plan.q_idx.size:
                # queries [t0, t1) whose pairs fit one batch (at least one query)
                base = int(ends[t0 - 1]) if t0 else 0
                t1 = max(t0 + 1, int(np.searchsorted(ends, base + batch, side="right")))
                c = counts[t0:t1]
                total = int(c.sum())
                if total:
                    qi = np.repeat(plan.q_idx[t0:t1], c)
                    offs = np.arange(total) - np.repeat(np.cumsum(c) - c, c)
                    rj = plan.r_sorted[np.repeat(plan.lo[t0:t1], c) + offs]
                    den = qp[qi] + rp[rj]
                    inter = _popcount_rows(queries[qi] & refs[rj])
                    s = _dice(inter, den)
                    ok = (rj != exclude[qi]) & (den != 0) & (s >= threshold)
                    self._merge(out_r, out_s, qi[ok], rj[ok], s[ok], k)
                t0 = t1
        return out_r, out_s

    @staticmethod
    def _merge(
        out_r: I64Array, out_s: F64Array, q: I64Array, r: I64Array, s: F64Array, k: int
    ) -> None:
        """Fold new pairs, in visit order, into the per-query best-k tables: the CPU
        kernel's sequential rule, vectorised over queries (one step per visit rank)."""
        if q.size == 0:
            return
        order = np.argsort(q, kind="stable")  # keeps the visit order within a query
        q, r, s = q[order], r[order], s[order]
        first = np.flatnonzero(np.concatenate([[True], q[1:] != q[:-1]]))
        counts = np.diff(np.concatenate([first, [q.size]]))
        cols = np.arange(k)
        for step in range(int(counts.max())):
            at = first[counts > step] + step
            qs, rs, ss = q[at], r[at], s[at]
            lr, ls = out_r[qs], out_s[qs]
            enter = (ss > ls[:, k - 1]) & ~(lr == rs[:, None]).any(axis=1)
            if not enter.any():
                continue
            qs, rs, ss, lr, ls = qs[enter], rs[enter], ss[enter], lr[enter], ls[enter]
            above = (ls > ss[:, None]) | ((ls == ss[:, None]) & (lr < rs[:, None]) & (lr >= 0))
            pos = above[:, : k - 1].sum(axis=1)[:, None]
            prev = np.maximum(cols - 1, 0)[None, :]
            new_r = np.where(
                cols < pos,
                lr,
                np.where(
                    cols == pos,
                    rs[:, None],
                    np.take_along_axis(lr, np.broadcast_to(prev, lr.shape), axis=1),
                ),
            )
            new_s = np.where(
                cols < pos,
                ls,
                np.where(
                    cols == pos,
                    ss[:, None],
                    np.take_along_axis(ls, np.broadcast_to(prev, ls.shape), axis=1),
                ),
            )
            out_r[qs], out_s[qs] = new_r, new_s

    def greedy_mask(
        self, q: I64Array, r: I64Array, score: F64Array, nq: int, nr: int, max_rounds: int = 64
    ) -> NDArray[np.bool_]:
        """Greedy 1:1 matching: the sequential algorithm (score desc, then q, r, position);
        ``max_rounds`` does not apply (no parallel rounds here)."""
        keep = np.zeros(q.shape[0], dtype=bool)
        if q.size and (q.min() < 0 or q.max() >= nq or r.min() < 0 or r.max() >= nr):
            raise IndexError("record index out of range")
        used_q = np.zeros(nq, dtype=bool)
        used_r = np.zeros(nr, dtype=bool)
        order = np.lexsort((np.arange(q.size), r, q, -score))
        for e, qe, re_ in zip(order.tolist(), q[order].tolist(), r[order].tolist(), strict=True):
            if not used_q[qe] and not used_r[re_]:
                keep[e] = used_q[qe] = used_r[re_] = True
        return keep
