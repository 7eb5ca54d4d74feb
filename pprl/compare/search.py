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
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from pprl.compare.backend import Backend, get_backend

if TYPE_CHECKING:
    from pprl.compare.blocking import Blocking

LANES = 8
DEFAULT_CHUNK_QUERIES = 512
DEFAULT_BUFFER = 1 << 16
TILE_REFS = 4096  # refs per cache tile: 4096 x 128 B = 512 KiB, fits a 1 MiB L2


class Candidates(NamedTuple):
    """A chunk of candidate pairs: parallel arrays (query index, ref index, Dice score)."""

    q: np.ndarray  # int64
    r: np.ndarray  # int64
    score: np.ndarray  # float64


def empty_candidates() -> Candidates:
    """An empty chunk with the right dtypes."""
    return Candidates(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float64))


def as_clks(x: object) -> np.ndarray:
    """Return ``x`` as a C-contiguous (n, words) uint64 array (bytes rows are accepted).

    Accepts a 2-D integer array of 64-bit words, or a sequence of equal-length
    ``bytes`` (e.g. ``bitarray.tobytes()``) whose length is a multiple of 8.
    """
    if isinstance(x, np.ndarray):
        if x.ndim != 2:
            raise ValueError(f"packed CLKs must be 2-D (n, words), got shape {x.shape}")
        if x.dtype != np.uint64:
            if x.dtype.itemsize != 8 or x.dtype.kind not in "ui":
                raise TypeError(f"packed CLKs must be uint64, got {x.dtype}")
            x = x.view(np.uint64)
        return np.ascontiguousarray(x)
    rows = list(x)  # type: ignore[call-overload]
    if not rows:
        raise ValueError("cannot infer the filter width from an empty sequence of bytes")
    width = len(rows[0])
    if width % 8 or any(len(r) != width for r in rows):
        raise ValueError("CLK byte strings must all have the same length, a multiple of 8")
    return np.frombuffer(b"".join(rows), dtype="<u8").reshape(len(rows), width // 8).copy()


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


@dataclass(frozen=True)
class PreparedRefs:
    """References sorted by popcount, in 8-wide word-major blocks, ready for the kernel."""

    rblk: np.ndarray  # uint64 (nblocks, words, 8)
    rpop: np.ndarray  # uint32 (nblocks*8,) sorted, padding 0
    rpopd: np.ndarray  # float64: rpop, then popcounts of each ref's second half of words
    rid: np.ndarray  # int64 (n,) original index of each sorted position
    start: np.ndarray  # int64 (bits+2,) first sorted position with popcount >= v
    words: int
    bits: int

    @property
    def n(self) -> int:
        """Number of references."""
        return int(self.rid.shape[0])


def prepare_refs(refs: np.ndarray, pops: np.ndarray, ids: np.ndarray | None = None) -> PreparedRefs:
    """Sort refs by popcount and lay them out in blocks of 8 for the kernel."""
    n, words = refs.shape
    order = np.argsort(pops, kind="stable")
    nblocks = (n + LANES - 1) // LANES
    padded = np.zeros((nblocks * LANES, words), dtype=np.uint64)
    np.take(refs, order, axis=0, out=padded[:n])
    rblk = np.ascontiguousarray(padded.reshape(nblocks, LANES, words).transpose(0, 2, 1))
    rpop = np.zeros(nblocks * LANES, dtype=np.uint32)
    rpop[:n] = pops[order]
    bits = words * 64
    start = np.searchsorted(rpop[:n], np.arange(bits + 2), side="left").astype(np.int64)
    rid = order.astype(np.int64) if ids is None else np.asarray(ids, dtype=np.int64)[order]
    rest = np.zeros(nblocks * LANES, dtype=np.float64)  # for the kernel's half-way early exit
    if n and words > 1:
        rest[:n] = get_backend().popcounts(np.ascontiguousarray(padded[:n, words // 2:]))
    rpopd = np.concatenate([rpop.astype(np.float64), rest])
    return PreparedRefs(rblk, rpop, rpopd, np.ascontiguousarray(rid), start, words, bits)


def tile_refs(prep: PreparedRefs, size: int) -> list[tuple[int, PreparedRefs]]:
    """Split prepared refs into cache-sized tiles of consecutive sorted positions.

    Returns (first sorted position, tile) pairs.  A query block walks every tile
    while the tile stays in L2, instead of streaming all references from memory
    once per group of queries (which makes large reference files memory-bound).
    """
    n = prep.n
    if n <= size:
        return [(0, prep)]
    size = max(LANES, size - size % LANES)
    nb_all = prep.rblk.shape[0] * LANES
    tiles = []
    for t0 in range(0, n, size):
        t1 = min(t0 + size, n)
        b0, b1 = t0 // LANES, (t1 + LANES - 1) // LANES
        rpop = prep.rpop[b0 * LANES: b1 * LANES]
        rpopd = np.concatenate([prep.rpopd[b0 * LANES: b1 * LANES],
                                prep.rpopd[nb_all + b0 * LANES: nb_all + b1 * LANES]])
        start = np.searchsorted(rpop[: t1 - t0], np.arange(prep.bits + 2), side="left")
        tiles.append((t0, PreparedRefs(prep.rblk[b0:b1], rpop, rpopd, prep.rid[t0:t1],
                                       start.astype(np.int64), prep.words, prep.bits)))
    return tiles


def top_k_per_query(c: Candidates, k: int) -> Candidates:
    """Keep each query's k best pairs (score desc, then lower ref index)."""
    if c.q.size == 0:
        return c
    order = np.lexsort((c.r, -c.score, c.q))
    q = c.q[order]
    first = np.flatnonzero(np.concatenate([[True], q[1:] != q[:-1]]))
    rank = np.arange(q.size) - np.repeat(first, np.diff(np.concatenate([first, [q.size]])))
    keep = order[rank < k]
    return Candidates(c.q[keep], c.r[keep], c.score[keep])


def _search_block(
    backend: Backend, prep: PreparedRefs, q: np.ndarray, qpop: np.ndarray, qid: np.ndarray,
    threshold: float, top_k: int, dedupe: bool, q_base: int, buffer: int,
) -> list[Candidates]:
    """Run the resumable kernel over one query block until done; return its pieces.

    Each kernel call fills fresh buffers that become a piece as they are (no copy,
    no concatenation: at low thresholds the output is large); sparse pieces are
    compacted so they do not pin a whole buffer.
    """
    cap = max(buffer, 4 * top_k, 4 * LANES)  # the kernel works on groups of 4 queries
    parts: list[Candidates] = []
    qpos, rpos = 0, -1
    while qpos < q.shape[0]:
        oq, orr, osc = np.empty(cap, np.int64), np.empty(cap, np.int64), np.empty(cap, np.float64)
        count, qpos, rpos = backend.search(
            q=q, qpop=qpop, qid=qid, rblk=prep.rblk, rpop=prep.rpop, rpopd=prep.rpopd,
            rid=prep.rid, start=prep.start, words=prep.words, bits=prep.bits,
            threshold=float(threshold), dedupe=dedupe, q_base=q_base, top_k=top_k,
            oq=oq, or_=orr, os=osc, qpos=qpos, rpos=rpos,
        )
        if count:
            piece = Candidates(oq[:count], orr[:count], osc[:count])
            if count < cap // 2:
                piece = Candidates(*(x.copy() for x in piece))
            parts.append(piece)
    return parts


def concat_candidates(parts: list[Candidates]) -> Candidates:
    """Concatenate chunks (empty list -> empty chunk)."""
    if not parts:
        return empty_candidates()
    if len(parts) == 1:
        return parts[0]
    return Candidates(*(np.concatenate([p[i] for p in parts]) for i in range(3)))


def _check_args(threshold: float, top_k: int | None, chunk_queries: int) -> int:
    """Validate common arguments; return top_k as int (0 = unlimited)."""
    if not np.isfinite(threshold):
        raise ValueError("threshold must be finite")
    if chunk_queries < 1:
        raise ValueError("chunk_queries must be >= 1")
    if top_k is None:
        return 0
    if top_k < 1:
        raise ValueError("top_k must be >= 1 or None")
    return int(top_k)


def _ordered_results(jobs: Iterator[tuple], fn: Callable, workers: int) -> Iterator:
    """Run ``fn(*job)`` on a thread pool, yielding results in job order.

    At most ``2 * workers`` jobs are in flight, so memory stays bounded.
    """
    if workers <= 1:
        for job in jobs:
            yield fn(*job)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: list[Future] = []
        for job in jobs:
            pending.append(pool.submit(fn, *job))
            if len(pending) >= 2 * workers:
                yield pending.pop(0).result()
        for fut in pending:
            yield fut.result()


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
            raise ValueError("top_k is not supported together with blocking: block, then keep the best per query")
        from pprl.compare.blocking import iter_blocked_candidates

        yield from iter_blocked_candidates(
            queries, refs, threshold, blocking, dedupe=dedupe, workers=nworkers,
            chunk_queries=chunk_queries, device=device,
        )
        return
    yield from _iter_full(queries, refs, threshold, k, dedupe, nworkers, chunk_queries, device)


def _iter_full(
    queries: np.ndarray, refs: np.ndarray, threshold: float, k: int, dedupe: bool,
    workers: int, chunk_queries: int, device: str,
) -> Iterator[Candidates]:
    """Unblocked search: prepare refs once, stream query blocks through the pool."""
    backend = get_backend(device)
    rpops = backend.popcounts(refs)
    prep = prepare_refs(refs, rpops)
    if dedupe:
        # queries are the refs in sorted order; each looks only at later positions
        sorted_q = np.ascontiguousarray(refs[prep.rid])
        qpops = np.ascontiguousarray(prep.rpop[: prep.n])
        qids = prep.rid
    else:
        # sorted queries: neighbours share their popcount window (grouped kernel)
        all_pops = backend.popcounts(queries)
        qids = np.argsort(all_pops, kind="stable").astype(np.int64)
        sorted_q, qpops = np.ascontiguousarray(queries[qids]), np.ascontiguousarray(all_pops[qids])
    n = sorted_q.shape[0]

    tiles = tile_refs(prep, TILE_REFS)

    def run(s: int, e: int) -> list[Candidates]:
        """Search query rows [s, e) against every ref tile."""
        parts: list[Candidates] = []
        for t0, tile in tiles:
            parts += _search_block(backend, tile, sorted_q[s:e], qpops[s:e], qids[s:e],
                                   threshold, k, dedupe, s - t0 if dedupe else 0, DEFAULT_BUFFER)
        if k and len(tiles) > 1:
            parts = [top_k_per_query(concat_candidates(parts), k)]
        return parts

    jobs = ((s, min(s + chunk_queries, n)) for s in range(0, n, chunk_queries))
    for pieces in _ordered_results(jobs, run, workers):
        yield from pieces


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
