"""Dice candidate search over packed CLKs.

Packed CLKs are C-contiguous ``uint64`` arrays of shape ``(n, words)``.  The
search never builds an ``n x m`` matrix: references are sorted by popcount and
stored in blocks of 8 (word-major) so the C kernel only visits references whose
popcount can reach the threshold, and candidates stream out in bounded chunks.

Scores are computed exactly as anonlink does (``2.0 * inter / (pa + pb)`` in
double, compared ``>= threshold``), with anonlink's popcount window, so results
agree with ``anonlink.candidate_generation.find_candidate_pairs`` pair for pair.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np

from pprl.compare.backend import get_backend
from pprl.compare.blocking import Blocking, iter_blocked_candidates
from pprl.compare.scan import (
    DEFAULT_BUFFER,
    DEFAULT_CHUNK_QUERIES,
    TILE_REFS,
    as_clks,
    concat_candidates,
    iter_full,
    prepare_refs,
    tile_refs,
    top_k_per_query,
)
from pprl.compare.types import Candidates, PreparedRefs, empty_candidates

__all__ = [
    "DEFAULT_BUFFER",
    "DEFAULT_CHUNK_QUERIES",
    "TILE_REFS",
    "Candidates",
    "PreparedRefs",
    "as_clks",
    "concat_candidates",
    "dice_indexed",
    "dice_pairs",
    "empty_candidates",
    "find_candidates",
    "iter_candidates",
    "popcounts",
    "prepare_refs",
    "sort_candidates",
    "tile_refs",
    "top_k_per_query",
]


def popcounts(clks: np.ndarray, *, device: str = "cpu") -> np.ndarray:
    """Number of set bits of every CLK (uint32)."""
    return get_backend(device).popcounts(as_clks(clks))


def dice_pairs(
    a: np.ndarray, b: np.ndarray, *, chunk_rows: int = 1 << 16, device: str = "cpu"
) -> np.ndarray:
    """Dice coefficient of aligned rows ``a[i]``, ``b[i]`` (float64[n]).

    0.0 when both rows are empty (anonlink's convention).  Works in chunks of
    ``chunk_rows`` rows so inputs may be memory-mapped.
    """
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch: {a.shape} vs {b.shape}")
    backend = get_backend(device)
    out = np.empty(a.shape[0], dtype=np.float64)
    for s in range(0, a.shape[0], chunk_rows):
        e = min(s + chunk_rows, a.shape[0])
        out[s:e] = backend.dice_rows(as_clks(a[s:e]), as_clks(b[s:e]))
    return out


def dice_indexed(
    a: np.ndarray, b: np.ndarray, ia: np.ndarray, ib: np.ndarray, *, device: str = "cpu"
) -> np.ndarray:
    """Dice of the pairs ``(a[ia[k]], b[ib[k]])`` without gathering rows into copies.

    For scoring many claimed pairs of two large files: fancy-indexing both files first
    would copy every CLK twice.
    """
    ia = np.ascontiguousarray(ia, dtype=np.int64)
    ib = np.ascontiguousarray(ib, dtype=np.int64)
    if ia.shape != ib.shape:
        raise ValueError(f"index shape mismatch: {ia.shape} vs {ib.shape}")
    backend = get_backend(device)
    a, b = as_clks(a), as_clks(b)
    return backend.dice_index(a, b, ia, ib, backend.popcounts(a), backend.popcounts(b))


#: The most best references kept per query: beyond it the per-query buffers (a few
#: times k) would not fit in memory, and no review needs more candidates.
MAX_TOP_K = 1000


def _check_args(threshold: float, top_k: int | None, chunk_queries: int) -> int:
    """Validate common arguments; return top_k as int (0 = unlimited)."""
    if not np.isfinite(threshold):
        raise ValueError("threshold must be finite")
    if chunk_queries < 1:
        raise ValueError("chunk_queries must be >= 1")
    if top_k is None:
        return 0
    if not 1 <= top_k <= MAX_TOP_K:
        raise ValueError(f"top_k must be between 1 and {MAX_TOP_K}, or None")
    return int(top_k)


def iter_candidates(
    queries: np.ndarray,
    refs: np.ndarray | None,
    threshold: float,
    *,
    top_k: int | None = None,
    workers: int | None = None,
    chunk_queries: int = DEFAULT_CHUNK_QUERIES,
    dedupe: bool = False,
    blocking: Blocking | None = None,
    device: str = "cpu",
) -> Iterator[Candidates]:
    """Yield chunks of every (query, ref) pair with Dice >= ``threshold``.

    ``queries`` (n, words) and ``refs`` (m, words) are packed uint64 CLKs.
    ``top_k`` keeps only the k best refs per query (ties: lower ref index first).
    ``dedupe=True`` links a file with itself: pass ``refs=None`` (or the same
    array) and get each unordered pair once as (i, j) with i < j.
    ``blocking`` restricts comparisons to pairs sharing a block key (see
    :mod:`pprl.compare.blocking`); each pair is still reported once.
    Chunks are bounded (about ``chunk_queries`` queries' worth of pairs); order of
    pairs inside the stream is unspecified.  ``workers`` threads (default
    ``os.cpu_count()``) share the work; the kernel releases the GIL.
    """
    k = _check_args(threshold, top_k, chunk_queries)
    queries = as_clks(queries)
    if dedupe:
        if refs is not None and refs is not queries and not np.array_equal(as_clks(refs), queries):
            raise ValueError("dedupe=True compares a file with itself: pass refs=None")
        if k:
            raise ValueError("top_k is not supported with dedupe=True: use a threshold")
        refs = queries
    elif refs is None:
        raise ValueError("refs is required unless dedupe=True")
    refs = as_clks(refs)
    if queries.shape[1] != refs.shape[1]:
        raise ValueError(f"filter widths differ: {queries.shape[1]} vs {refs.shape[1]} words")
    nworkers = max(1, workers or os.cpu_count() or 1)
    if threshold > 1.0 or queries.shape[0] == 0 or refs.shape[0] == 0:
        return
    if blocking is not None:
        if k:
            raise ValueError(
                "top_k is not supported together with blocking: block, then keep the best per query"
            )
        yield from iter_blocked_candidates(
            queries,
            refs,
            threshold,
            blocking,
            dedupe=dedupe,
            workers=nworkers,
            chunk_queries=chunk_queries,
            device=device,
        )
        return
    yield from iter_full(queries, refs, threshold, k, dedupe, nworkers, chunk_queries, device)


def sort_candidates(c: Candidates) -> Candidates:
    """Order pairs as anonlink does: score descending, then query, then ref index."""
    order = np.lexsort((c.r, c.q, -c.score))
    return Candidates(c.q[order], c.r[order], c.score[order])


def find_candidates(
    queries: np.ndarray,
    refs: np.ndarray | None,
    threshold: float,
    **kwargs: object,
) -> Candidates:
    """All candidates of :func:`iter_candidates` in one ``(q, r, score)`` tuple.

    Sorted like anonlink's output (score descending, then q, then r), which is the
    order :func:`pprl.solve.greedy_solve` consumes.
    """
    parts = list(iter_candidates(queries, refs, threshold, **kwargs))  # type: ignore[arg-type]
    return sort_candidates(concat_candidates(parts))
