"""The unblocked search engine: reference layout, cache tiles, the thread pool.

References are sorted by popcount and stored in blocks of 8 (word-major) so the
kernel only visits references whose popcount can reach the threshold; queries are
searched in blocks on a thread pool (the kernels release the GIL) against
cache-sized tiles of the references, and candidates stream out in bounded chunks.
Used by :mod:`pprl.compare.search` and :mod:`pprl.compare.blocking` (big blocks).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from pprl.compare.backend import Backend, get_backend
from pprl.compare.types import LANES, Candidates, PreparedRefs, SearchParams, empty_candidates

DEFAULT_CHUNK_QUERIES = 512
DEFAULT_BUFFER = 1 << 16
TILE_REFS = 4096  # refs per cache tile: 4096 x 128 B = 512 KiB, fits a 1 MiB L2


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
        rest[:n] = get_backend().popcounts(np.ascontiguousarray(padded[:n, words // 2 :]))
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
        rpop = prep.rpop[b0 * LANES : b1 * LANES]
        rpopd = np.concatenate(
            [
                prep.rpopd[b0 * LANES : b1 * LANES],
                prep.rpopd[nb_all + b0 * LANES : nb_all + b1 * LANES],
            ]
        )
        start = np.searchsorted(rpop[: t1 - t0], np.arange(prep.bits + 2), side="left")
        tiles.append(
            (
                t0,
                PreparedRefs(
                    prep.rblk[b0:b1],
                    rpop,
                    rpopd,
                    prep.rid[t0:t1],
                    start.astype(np.int64),
                    prep.words,
                    prep.bits,
                ),
            )
        )
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
    backend: Backend,
    prep: PreparedRefs,
    q: np.ndarray,
    qpop: np.ndarray,
    qid: np.ndarray,
    threshold: float,
    top_k: int,
    dedupe: bool,
    q_base: int,
    buffer: int,
) -> list[Candidates]:
    """Search one query block against prepared refs on ``backend``; return its pieces."""
    return backend.search(
        prep, q, qpop, qid, SearchParams(float(threshold), top_k, dedupe, q_base, buffer)
    )


def concat_candidates(parts: list[Candidates]) -> Candidates:
    """Concatenate chunks (empty list -> empty chunk)."""
    if not parts:
        return empty_candidates()
    if len(parts) == 1:
        return parts[0]
    return Candidates(*(np.concatenate([p[i] for p in parts]) for i in range(3)))


def ordered_results(
    jobs: Iterator[tuple[Any, ...]], fn: Callable[..., Any], workers: int
) -> Iterator[Any]:
    """Run ``fn(*job)`` on a thread pool, yielding results in job order.

    At most ``2 * workers`` jobs are in flight, so memory stays bounded.
    """
    if workers <= 1:
        for job in jobs:
            yield fn(*job)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: list[Future[Any]] = []
        for job in jobs:
            pending.append(pool.submit(fn, *job))
            if len(pending) >= 2 * workers:
                yield pending.pop(0).result()
        for fut in pending:
            yield fut.result()


def iter_full(
    queries: np.ndarray,
    refs: np.ndarray,
    threshold: float,
    k: int,
    dedupe: bool,
    workers: int,
    chunk_queries: int,
    device: str,
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
            parts += _search_block(
                backend,
                tile,
                sorted_q[s:e],
                qpops[s:e],
                qids[s:e],
                threshold,
                k,
                dedupe,
                s - t0 if dedupe else 0,
                DEFAULT_BUFFER,
            )
        if k and len(tiles) > 1:
            parts = [top_k_per_query(concat_candidates(parts), k)]
        return parts

    jobs = ((s, min(s + chunk_queries, n)) for s in range(0, n, chunk_queries))
    for pieces in ordered_results(jobs, run, workers):
        yield from pieces
