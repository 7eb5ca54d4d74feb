"""Verification and matching on a Dask cluster (``--workers N`` / ``--scheduler ADDRESS``).

The driver (the process running ``pprl verify`` / ``pprl match``) plans the work and
submits small task descriptions; workers read the encoding files themselves from
shared storage (a local path every worker can see, or an fsspec URL), one Parquet row
group slice at a time, and run the same kernels as the single-process engine.

Partitioning (verify) — no process ever holds the register's or the claims' CLKs whole:

1. **Join stage, by pseudonym range.** Map tasks read row ranges of the register and
   of every claims file and cut them into ``P`` pieces by the range of the pseudonym's
   8-byte join key (a keyed hash, so ranges fill evenly). Partition task ``p`` joins the
   claims of range ``p`` with the register records of range ``p`` — all records with one
   pseudonym meet there — scores the claimed pairs and finds claims that share a number
   but score as different people.
2. **Search stages, by block-key range, one per block key.** The same map-and-cut on the
   block-key values; partition task ``p`` searches, for each claim of range ``p``, its
   two best register records and its two most similar other claims in its block.

The driver keeps only per-claim arrays (no CLKs): it folds the per-key results with the
kernel's own rule (:func:`fold_best`), then runs the global steps (``decide``, the
cross-check flags, findings, summary) with the functions of :mod:`pprl.verify`, so the
findings are identical to the single-process engine's (tests compare every column).

Integrity: every map task checks the file's metadata and that its digest claim is the
one the driver read; one task per file recomputes the content digest over the whole
file, streaming (:func:`pprl.store.streamed_digest`); no output is written unless all
of them pass.

Matching cuts file A into row ranges; each worker holds file B (or A, for
``--dedupe``), because without keyed blocking every record of B is a candidate.

This module is imported only when a cluster is asked for; the default engine never
imports dask.
"""

from __future__ import annotations

import contextlib
import operator
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pprl.compare import dice_indexed
from pprl.compare.keyed import topk_by_block_keys
from pprl.errors import InputError, IntegrityError, PprlError
from pprl.store import (
    TOKEN_BYTES,
    Encodings,
    _block_column,
    _fixed_to_numpy,
    _from_table,
    check_metadata,
    read_encodings,
    streamed_digest,
    unreadable,
)

DEFAULT_PARTITION_ROWS = 1 << 20
ALLOWED_FAILURES = 3

# ----------------------------------------------------------------------------- storage


def is_url(path: str | Path) -> bool:
    """True for fsspec URLs (``s3://...``, ``file://...``): read through fsspec."""
    return "://" in str(path)


@contextlib.contextmanager
def _open(path: str | Path) -> Iterator[Any]:
    """A local path as is, or an open fsspec file for a URL."""
    if not is_url(path):
        yield str(path)
        return
    import fsspec

    with fsspec.open(str(path), "rb") as f:
        yield f


def load_encodings(path: str | Path) -> Encodings:
    """Read and fully check an encoding file from a path or an fsspec URL."""
    if not is_url(path):
        return read_encodings(path)
    with _open(path) as f:
        try:
            table = pq.read_table(f)
        except (pa.ArrowException, OSError) as exc:
            raise IntegrityError(f"{path}: not a readable Parquet file "
                                 f"({str(exc).splitlines()[0][:120]})") from None
    return _from_table(table, Path(str(path)))


def read_outline(path: str | Path) -> Encodings:
    """An encoding file as the driver needs it: rows, pseudonym join keys and metadata.

    CLKs and block-key values stay on the workers (``clks`` has zero rows, ``tokens``
    only the 8-byte join key, block keys are empty arrays), so the driver's memory does
    not grow with the CLKs. Read one row group at a time; the content digest is checked
    by a worker (:func:`check_file`).
    """
    if not is_url(path) and not Path(path).is_file():
        raise InputError(f"{path}: file not found")
    with _open(path) as f:
        try:
            pf = pq.ParquetFile(f)
            meta = check_metadata(path, pf.schema_arrow, pf.metadata.num_rows)
            n = pf.metadata.num_rows
            rows, keys, has = np.empty(n, np.int64), np.empty((n, 8), np.uint8), np.empty(n, bool)
            at = 0
            for rg in range(pf.num_row_groups):
                table = pf.read_row_group(rg, columns=["row", "token"])
                stop = at + table.num_rows
                token = table.column("token")
                rows[at:stop] = table.column("row").to_numpy()
                keys[at:stop] = _fixed_to_numpy(token, TOKEN_BYTES, copy=False)[:, :8]
                has[at:stop] = ~np.asarray(token.is_null().to_numpy(zero_copy_only=False))
                at = stop
        except (pa.ArrowException, OSError, KeyError) as exc:
            raise IntegrityError(f"{path}: not a readable encoding file "
                                 f"({str(exc).splitlines()[0][:120]})") from None
    words = int(meta.get("nbits", 0)) // 64
    empty = (np.empty(0, np.uint64), np.empty(0, bool))
    return Encodings(rows=rows, tokens=keys, has_token=has, clks=np.empty((0, words), np.uint64),
                     block_keys={name: empty for name in meta.get("block_keys", [])},
                     meta=meta, path=Path(str(path)))


def check_file(path: str, digest: str) -> None:
    """Check a whole encoding file against the driver's digest, streaming (runs on a worker)."""
    with _open(path) as f:
        try:
            pf = pq.ParquetFile(f)
            meta = check_metadata(path, pf.schema_arrow, pf.metadata.num_rows)
            actual = streamed_digest(pf, meta, path)
        except (pa.ArrowException, OSError) as exc:
            raise unreadable(path, exc) from None
    if meta.get("digest") != digest:
        raise IntegrityError(f"{path}: the file changed while it was being verified")
    if actual != digest:
        raise IntegrityError(f"{path}: content digest mismatch: the file was modified after "
                             "encoding")


def row_ranges(path: str | Path, partition_rows: int) -> list[tuple[int, int, int, int]]:
    """Partitions of a file: ``(row_group, first_row_of_group, start, stop)``.

    Ranges never cross a row group, so a task reads exactly one row group.
    """
    with _open(path) as f:
        md = pq.ParquetFile(f).metadata
    out, offset = [], 0
    for rg in range(md.num_row_groups):
        n = md.row_group(rg).num_rows
        pieces = max(1, -(-n // partition_rows))
        bounds = np.linspace(0, n, pieces + 1).round().astype(int)
        out += [(rg, offset, offset + int(a), offset + int(b))
                for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]
        offset += n
    return out



# ----------------------------------------------------------------------- worker caches

_CACHE: dict[str, Any] = {}
_CACHE_LOCK = threading.Lock()


def _cached(key: tuple, build: Any) -> Any:
    """One cached object per kind of key per worker process (the last one built).

    Keeping only the latest entry bounds worker memory to one register (or file pair).
    """
    kind = key[0]
    with _CACHE_LOCK:
        hit = _CACHE.get(kind)
        if hit is not None and hit[0] == key:
            return hit[1]
        _CACHE.pop(kind, None)
        value = build()
        _CACHE[kind] = (key, value)
        return value


def _read_columns(path: str, rg: int, columns: tuple[str, ...], digest: str
                  ) -> tuple[pa.Table, dict[str, Any]]:
    """Some columns of one row group, after checking the file's metadata and its digest
    claim against the driver's (cached: the last one read by this worker process)."""
    def build() -> tuple[pa.Table, dict[str, Any]]:
        """Open the file, check its metadata, read the row group's columns."""
        with _open(path) as f:
            try:
                pf = pq.ParquetFile(f)
                meta = check_metadata(path, pf.schema_arrow, pf.metadata.num_rows)
                table = pf.read_row_group(rg, columns=list(columns))
            except (pa.ArrowException, OSError) as exc:
                raise unreadable(path, exc) from None
        if meta.get("digest") != digest:
            raise IntegrityError(f"{path}: the file changed while it was being verified")
        return table, meta
    return _cached(("columns", path, rg, columns, digest), build)


_KERNEL_LOCK = threading.Lock()


@contextlib.contextmanager
def _whole_worker() -> Iterator[int]:
    """Run a partition task alone in this worker process, its kernels on all the worker's
    threads; yields that thread count.

    A worker started with ``--nthreads N`` runs up to N tasks at once, and the numba and
    C kernels are multi-threaded themselves: N tasks × N kernel threads would
    oversubscribe the cores. So partition tasks take turns (map tasks, plain numpy, still
    run side by side) and each uses N threads.
    """
    import numba
    from distributed import get_worker

    try:
        n = int(get_worker().state.nthreads)
    except (ValueError, AttributeError):  # called outside a worker (tests, benchmarks)
        n = 1
    with _KERNEL_LOCK:
        numba.set_num_threads(max(1, min(n, numba.config.NUMBA_NUM_THREADS)))
        yield n


# ------------------------------------------------------------------ verify: partitions

JOIN = "join"  # the stage of the pseudonym join; every other stage is a block-key name


def partition_of(keys: np.ndarray, parts: int) -> np.ndarray:
    """Partition of each uint64 key: which of ``parts`` equal ranges its top 32 bits fall in.

    Pseudonym join keys and block-key values are keyed hashes, so the ranges fill evenly;
    all records sharing a key (one number, one block) land in the same partition.
    """
    top = np.asarray(keys, dtype=np.uint64) >> np.uint64(32)
    return ((top * np.uint64(parts)) >> np.uint64(32)).astype(np.int64)


@dataclass(frozen=True)
class SplitTask:
    """One map task: rows ``[start, stop)`` of a row group, cut for one stage.

    ``offset`` numbers the rows within the stage's side: register rows, or the claims
    files concatenated in order.
    """

    path: str
    digest: str
    row_group: int
    group_start: int
    start: int
    stop: int
    offset: int
    stage: str
    parts: int


Piece = dict[str, np.ndarray]


def split_rows(task: SplitTask) -> list[Piece]:
    """Read one row range and cut it into ``task.parts`` pieces by key range.

    Join stage: records with a pseudonym, as ``idx``, ``token`` (32 bytes) and ``clk``,
    cut by the pseudonym's join key. Block-key stage: records with that key, as ``idx``,
    ``value`` and ``clk``, cut by the key's value. Records keep their file order inside
    a piece, which keeps the kernels' tie-breaking identical to the single-process engine.
    """
    column = "token" if task.stage == JOIN else f"block_{task.stage}"
    group, meta = _read_columns(task.path, task.row_group, (column, "clk"), task.digest)
    table = group.slice(task.start - task.group_start, task.stop - task.start)
    nbytes = int(meta.get("nbits", 0)) // 8
    if task.stage == JOIN:
        token = table.column("token")
        keep = np.flatnonzero(~np.asarray(token.is_null().to_numpy(zero_copy_only=False)))
        payload = {"token": _fixed_to_numpy(token, TOKEN_BYTES, copy=False)[keep]}
        keys = np.ascontiguousarray(payload["token"][:, :8]).view("<u8").ravel()
    else:
        values, valid = _block_column(table, task.stage, Path(task.path))
        keep = np.flatnonzero(valid)
        payload = {"value": values[keep]}
        keys = payload["value"]
    clks = _fixed_to_numpy(table.column("clk"), nbytes, copy=False).view("<u8")
    part = partition_of(keys, task.parts)
    order = np.argsort(part, kind="stable")
    bounds = np.searchsorted(part[order], np.arange(task.parts + 1))
    pieces = []
    for p in range(task.parts):
        sel = order[bounds[p]:bounds[p + 1]]
        rows = keep[sel]  # one gather of the CLKs, straight from the Arrow buffer
        pieces.append({"idx": task.offset + rows.astype(np.int64), "clk": clks[rows],
                       **{name: col[sel] for name, col in payload.items()}})
    return pieces


def _concat(pieces: Sequence[Piece], words: int) -> Piece:
    """The pieces of one partition as one piece, in the order given (file order)."""
    if not pieces:
        return {"idx": np.empty(0, np.int64), "clk": np.empty((0, words), np.uint64),
                "token": np.empty((0, TOKEN_BYTES), np.uint8), "value": np.empty(0, np.uint64)}
    return {name: np.concatenate([p[name] for p in pieces]) for name in pieces[0]}


def _piece_encodings(piece: Piece) -> Encodings:
    """A join piece as :class:`Encodings`, so the single-process join functions run on it."""
    n = len(piece["idx"])
    return Encodings(rows=piece["idx"], tokens=piece["token"], has_token=np.ones(n, bool),
                     clks=piece["clk"])


def join_partition(ref_pieces: Sequence[Piece], claim_pieces: Sequence[Piece], words: int,
                   different_people: float) -> Piece:
    """Join one pseudonym range: claimed register record and score for each claim, and the
    claims in it that share a number but score as different people.

    Every record with a given pseudonym is in the same partition, so this is the
    single-process join (:func:`pprl.verify.join_with_index`) on a slice of the keys.
    """
    from pprl.verify import join_with_index, shared_number_pairs, token_index, token_keys

    with _whole_worker():
        ref = _piece_encodings(_concat(ref_pieces, words))
        claims = _piece_encodings(_concat(claim_pieces, words))
        claimed, _ = join_with_index(ref, *token_index(ref), claims)
        score = np.full(len(claims), np.nan)
        has = claimed >= 0
        if has.any():
            score[has] = dice_indexed(claims.clks, ref.clks, np.flatnonzero(has), claimed[has])
        a, b = shared_number_pairs(claims.clks, claims.has_token, token_keys(claims),
                                   different_people)
    return {"q": claims.rows, "claimed": np.where(has, ref.rows[np.maximum(claimed, 0)], -1)
            if len(ref) else np.full(len(claims), -1, np.int64),
            "score": score, "a": claims.rows[a], "b": claims.rows[b]}


def _top2(queries: Piece, refs: Piece, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Best two references in the query's block (global indices, -1 none) and their scores.

    The single-process engine searches with ``k=1`` and excludes one record (the claimed
    one, or the claim itself); the best record that is not the excluded one is always
    among these two, with the same tie-breaking (lowest index first).
    """
    nq, nr = len(queries["idx"]), len(refs["idx"])
    r2, s2 = topk_by_block_keys(
        queries["clk"], refs["clk"],
        [(queries["value"], np.ones(nq, bool), refs["value"], np.ones(nr, bool))],
        k=2, threshold=threshold)
    return np.where(r2 >= 0, refs["idx"][np.maximum(r2, 0)] if nr else -1, -1), s2


def search_partition(ref_pieces: Sequence[Piece], claim_pieces: Sequence[Piece],
                     near_pieces: Sequence[Piece] | None, words: int, search_score: float,
                     same_person: float) -> Piece:
    """Search one block-key range: each claim's two best register records in its block,
    and (for the cross-checks) each claim's two most similar claims in its block.

    ``near_pieces`` None means the same claims as ``claim_pieces``.
    """
    with _whole_worker():
        claims = _concat(claim_pieces, words)
        r, s = _top2(claims, _concat(ref_pieces, words), search_score)
        near = claims if near_pieces is None else _concat(near_pieces, words)
        n, ns = _top2(near, near, same_person)
    return {"q": claims["idx"], "r": r, "s": s, "nq": near["idx"], "n": n, "ns": ns}


def fold_best(best: np.ndarray, best_s: np.ndarray, best_key: np.ndarray, q: np.ndarray,
              r2: np.ndarray, s2: np.ndarray, exclude: np.ndarray, key: int) -> None:
    """Fold one block key's two best records per query into the running best, in place.

    The rule of the single-process kernel searching keys one after another: a higher
    score wins; on a tie the key searched first (lower ``key``) keeps its record.
    ``exclude[q]`` is the record never returned for query ``q``.
    """
    skip = (r2[:, 0] >= 0) & (r2[:, 0] == exclude[q])
    r = np.where(skip, r2[:, 1], r2[:, 0])
    s = np.where(skip, s2[:, 1], s2[:, 0])
    cur_s, cur_key = best_s[q], best_key[q]
    better = (r >= 0) & ((s > cur_s) | ((s == cur_s) & (key < cur_key)))
    best[q[better]], best_s[q[better]], best_key[q[better]] = r[better], s[better], key


# ---------------------------------------------------------------------- verify (driver)


@contextlib.contextmanager
def dask_client(workers: int | None = None, scheduler: str | None = None,
                connect_timeout: float = 30.0) -> Iterator[Any]:
    """A Dask client: to ``scheduler``, or to a local cluster of ``workers`` processes.

    The local cluster (1 thread per worker, loopback only, no dashboard) is started here
    and closed on exit. Connection problems become a one-line :class:`PprlError`.
    """
    import dask
    from distributed import Client, LocalCluster

    if (workers is None) == (scheduler is None):
        raise InputError("give either --workers N or --scheduler ADDRESS, not both")
    if workers is not None and workers < 1:
        raise InputError(f"--workers must be at least 1, got {workers}")
    with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}):
        if scheduler is not None:
            try:
                client = Client(scheduler, timeout=connect_timeout)
            except (OSError, TimeoutError) as exc:
                raise PprlError(f"cannot reach the Dask scheduler at {scheduler}: "
                                f"{str(exc).splitlines()[0][:160]}") from None
            with client:
                yield client
            return
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                          host="127.0.0.1", dashboard_address=None) as cluster, \
                Client(cluster) as client:
            yield client


def _gather(client: Any, futures: list[Any], what: str) -> list[Any]:
    """Results of all futures, or a one-line :class:`PprlError` when workers kept dying."""
    from distributed.scheduler import KilledWorker

    try:
        return client.gather(futures)
    except KilledWorker as exc:
        raise PprlError(f"{what}: a task failed because its worker died "
                        f"{ALLOWED_FAILURES + 1} times (out of memory?): {exc.args[0]}") from None
    except (OSError, TimeoutError) as exc:
        raise PprlError(f"{what}: lost the connection to the Dask cluster: "
                        f"{str(exc).splitlines()[0][:160]}") from None


def _key_names(ref: Encodings, enc: Encodings, blocking: Sequence[str] | None) -> list[str]:
    """The block keys to search within, with the single-process engine's errors."""
    from pprl.verify import block_key_names

    chosen = block_key_names(ref, enc, blocking)
    if not chosen:
        raise InputError(f"{enc.path}: no block keys shared with the reference; encode both "
                         "with a schema that defines block_keys (e.g. jp-resident)")
    return chosen


@dataclass
class _Plan:
    """What the driver submits: the files, their numbering and the stages."""

    reference: str
    ref: Encodings
    claims: list[str]
    encs: list[Encodings]
    offsets: list[int]              # first claim index of each claims file
    names: list[list[str]]          # block keys searched, per claims file, in order
    joined: list[str]               # block keys of the claim-to-claim search, in order
    parts: int
    map_rows: int


def _splits(path: str, enc: Encodings, stage: str, plan: _Plan, offset: int
            ) -> list[SplitTask]:
    """The map tasks of one file for one stage."""
    return [SplitTask(path, enc.meta["digest"], rg, first, start, stop, offset + start, stage,
                      plan.parts) for rg, first, start, stop in row_ranges(path, plan.map_rows)]


def _pieces(client: Any, tasks: list[SplitTask], prefix: str, parts: int, priority: int
            ) -> list[list[Any]]:
    """Submit the map tasks; ``pieces[p]`` holds partition ``p``'s piece of each, in order.

    The pieces stay on the workers that cut them until the partition's task fetches them.
    """
    maps = [client.submit(split_rows, t, pure=False, key=f"{prefix}-split-{i}",
                          priority=priority) for i, t in enumerate(tasks)]
    return [[client.submit(operator.getitem, m, p, pure=False, key=f"{prefix}-piece-{i}-{p}",
                           priority=priority) for i, m in enumerate(maps)] for p in range(parts)]


def _submit_join(client: Any, plan: _Plan, prefix: str, th: Any, priority: int) -> list[Any]:
    """The join stage: one task per pseudonym range (futures of :func:`join_partition`)."""
    words = plan.ref.clks.shape[1]
    ref = _pieces(client, _splits(plan.reference, plan.ref, JOIN, plan, 0),
                  f"{prefix}-ref", plan.parts, priority)
    tasks = [t for path, enc, off in zip(plan.claims, plan.encs, plan.offsets, strict=True)
             for t in _splits(path, enc, JOIN, plan, off)]
    claims = _pieces(client, tasks, f"{prefix}-claims", plan.parts, priority)
    return [client.submit(join_partition, ref[p], claims[p], words, th.different_people,
                          pure=False, key=f"{prefix}-join-{p}", priority=priority)
            for p in range(plan.parts)]


def _submit_search(client: Any, plan: _Plan, key: str, prefix: str, th: Any, priority: int
                   ) -> list[Any]:
    """One block key's search stage: one task per block-value range
    (futures of :func:`search_partition`)."""
    words = plan.ref.clks.shape[1]
    ref = _pieces(client, _splits(plan.reference, plan.ref, key, plan, 0),
                  f"{prefix}-ref", plan.parts, priority)
    files = list(zip(plan.claims, plan.encs, plan.offsets, plan.names, strict=True))
    search = [(p, e, o) for p, e, o, names in files if key in names]
    near = [(p, e, o) for p, e, o, _ in files if key in plan.joined]
    claims = _pieces(client, [t for p, e, o in search for t in _splits(p, e, key, plan, o)],
                     f"{prefix}-claims", plan.parts, priority)
    others = None if near == search else _pieces(
        client, [t for p, e, o in near for t in _splits(p, e, key, plan, o)],
        f"{prefix}-near", plan.parts, priority)
    return [client.submit(search_partition, ref[p], claims[p],
                          None if others is None else others[p], words, th.search_score,
                          th.same_person, pure=False, key=f"{prefix}-search-{p}",
                          priority=priority)
            for p in range(plan.parts)]


def _plan(reference: str | Path, claims: Sequence[str | Path], blocking: Sequence[str] | None,
          partition_rows: int, processes: int) -> _Plan:
    """Read the outlines, refuse bad inputs, choose partitions and stages."""
    from pprl.verify import _check_inputs

    ref = read_outline(reference)
    encs = [read_outline(c) for c in claims]
    _check_inputs(ref, encs)
    names = [_key_names(ref, enc, blocking) for enc in encs]
    joined = _joined_names(encs, blocking)
    total = len(ref) + sum(len(e) for e in encs)
    parts = max(-(-total // partition_rows), 4 * processes, 1)
    map_rows = max(1, min(partition_rows, -(-total // parts)))
    offsets = np.cumsum([0] + [len(e) for e in encs])[:-1].tolist()
    return _Plan(str(reference), ref, [str(c) for c in claims], encs, offsets, names, joined,
                 parts, map_rows)


def _joined_names(encs: Sequence[Encodings], blocking: Sequence[str] | None) -> list[str]:
    """The block keys of the claim-to-claim search: :func:`pprl.verify._joined_blocks`'s."""
    names = [n for n in encs[0].block_keys if all(n in e.block_keys for e in encs)] if encs else []
    return [n for n in names if n in blocking] if blocking is not None else names


class _PerClaim:
    """The driver's per-claim arrays (claims files concatenated), filled stage by stage."""

    def __init__(self, plan: _Plan) -> None:
        n = sum(len(e) for e in plan.encs)
        self.plan = plan
        self.claimed, self.score = np.full(n, -1, np.int64), np.full(n, np.nan)
        self.cand, self.cand_s, self.cand_key = (np.full(n, -1, np.int64), np.full(n, -1.0),
                                                 np.full(n, 1 << 30))
        self.near, self.near_s, self.near_key = (np.full(n, -1, np.int64), np.full(n, -1.0),
                                                 np.full(n, 1 << 30))
        self.file_of = np.repeat(np.arange(len(plan.encs)), [len(e) for e in plan.encs])
        self.own = np.arange(n, dtype=np.int64)  # a claim never is its own nearest claim
        self.pairs: list[tuple[np.ndarray, np.ndarray]] = []

    def add_join(self, out: Piece) -> None:
        """One pseudonym range's claimed records, scores and shared-number pairs."""
        self.claimed[out["q"]], self.score[out["q"]] = out["claimed"], out["score"]
        self.pairs.append((out["a"], out["b"]))

    def add_search(self, key: str, out: Piece) -> None:
        """Fold one block-key range's top-2 into the best alternatives and nearest claims
        (after the join: the claimed record is the one excluded)."""
        rank = np.array([names.index(key) if key in names else -1 for names in self.plan.names])
        q = out["q"]
        ranks = rank[self.file_of[q]]  # the key's place in each query's file's order
        for value in np.unique(ranks):
            sel = ranks == value
            if value >= 0:
                fold_best(self.cand, self.cand_s, self.cand_key, q[sel], out["r"][sel],
                          out["s"][sel], self.claimed, int(value))
        if key in self.plan.joined:
            fold_best(self.near, self.near_s, self.near_key, out["nq"], out["n"], out["ns"],
                      self.own, self.plan.joined.index(key))

    def results(self, th: Any) -> tuple[list[Any], Any]:
        """Decided :class:`pprl.verify.ClaimsResult` per claims file, and the cross-check
        inputs for :func:`pprl.verify.apply_cross_checks`."""
        from pprl.verify import ClaimsResult, decide

        cand_score = np.where(self.cand >= 0, self.cand_s, np.nan)
        results = []
        for enc, off in zip(self.plan.encs, self.plan.offsets, strict=True):
            sl = slice(off, off + len(enc))
            res = ClaimsResult(enc, self.claimed[sl], self.score[sl], self.cand[sl],
                               cand_score[sl])
            decide(res, th)
            results.append(res)
        empty = np.empty(0, np.int64)
        a = np.concatenate([p[0] for p in self.pairs]) if self.pairs else empty
        b = np.concatenate([p[1] for p in self.pairs]) if self.pairs else empty
        return results, (a, b, self.near if self.plan.joined else None)


def _run_stages(client: Any, plan: _Plan, th: Any, say: Any, timings: dict[str, float]
                ) -> _PerClaim:
    """Run the join and every block-key search on the cluster and gather their per-claim
    results in stage order.

    Every stage is submitted at once, earlier stages with higher priority: a worker
    cuts a later stage's pieces only when no earlier-stage task is ready for it (e.g.
    while it fetches a partition's pieces), so the stages overlap without waiting for
    the driver, and pieces rarely pile up beyond the next stage.
    """
    run = f"pprl-verify-{uuid.uuid4().hex[:12]}"  # distinct keys for concurrent runs
    files = [(plan.reference, plan.ref), *zip(plan.claims, plan.encs, strict=True)]
    checks = [client.submit(check_file, path, enc.meta["digest"], pure=False,
                            key=f"{run}-check-{i}") for i, (path, enc) in enumerate(files)]
    stages = [JOIN, *dict.fromkeys([k for names in plan.names for k in names] + plan.joined)]
    in_flight: dict[int, list[Any]] = {}

    def submit(i: int) -> None:
        """Submit stage ``i`` (earlier stages have higher priority)."""
        if i < len(stages):
            prefix, prio = f"{run}-{stages[i]}", len(stages) - i
            in_flight[i] = (_submit_join(client, plan, prefix, th, prio) if i == 0 else
                            _submit_search(client, plan, stages[i], prefix, th, prio))

    acc = _PerClaim(plan)
    for i in range(len(stages)):  # all at once: workers never wait for the driver
        submit(i)
    for i, stage in enumerate(stages):
        t = time.perf_counter()
        say("joining claims to the register on the cluster" if stage == JOIN else
            f"searching the blocks of {stage} on the cluster")
        outs = _gather(client, in_flight.pop(i), "verify")
        for out in outs:
            if stage == JOIN:
                acc.add_join(out)
            else:
                acc.add_search(stage, out)
        timings["join" if stage == JOIN else f"search:{stage}"] = time.perf_counter() - t
    _gather(client, checks, "verify")  # every file's content digest, before any output
    return acc


def verify_distributed(reference: str | Path, claims: Sequence[str | Path], *,
                       thresholds: Any = None, blocking: Sequence[str] | None = None,
                       progress: Any = None, workers: int | None = None,
                       scheduler: str | None = None,
                       partition_rows: int = DEFAULT_PARTITION_ROWS,
                       connect_timeout: float = 30.0) -> Any:
    """:func:`pprl.verify.verify` with the join, the searches and the claim-to-claim
    comparisons run on a Dask cluster, partitioned by pseudonym and block-key ranges."""
    from pprl.verify import Thresholds, finish, schema_thresholds

    say = progress or (lambda stage: None)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    say("reading encoding files")
    with dask_client(workers, scheduler, connect_timeout) as client:
        processes = len(client.nthreads()) or 1  # partition tasks run one per process
        plan = _plan(reference, claims, blocking, partition_rows, processes)
        th = thresholds if isinstance(thresholds, Thresholds) else schema_thresholds(
            plan.ref, thresholds)
        timings["read"] = time.perf_counter() - t0
        acc = _run_stages(client, plan, th, say, timings)
    results, cross = acc.results(th)
    return finish(results, plan.ref, plan.encs, th, blocking, timings, say, cross)


# ------------------------------------------------------------------------------ match


@dataclass(frozen=True)
class MatchTask:
    """One match task: files, digests, a row range of A and the options."""

    a: str
    a_digest: str
    b: str | None
    b_digest: str | None
    start: int
    stop: int
    threshold: float
    top_k: int | None
    blocking: str


def _load_pair(task: MatchTask) -> tuple[Encodings, Encodings | None, Any]:
    """Files A and B (checked) and their blocking, once per worker process."""
    from pprl.compare.blocking import BlockKeys
    from pprl.match import make_blocking

    def build() -> tuple[Encodings, Encodings | None, Any]:
        """Load both files with their digest checks and build the blocking once."""
        a = load_encodings(task.a)
        b = load_encodings(task.b) if task.b is not None else None
        if a.meta.get("digest") != task.a_digest or (
                b is not None and b.meta.get("digest") != task.b_digest):
            raise IntegrityError(f"{task.a}: an input changed while it was being matched")
        blk = make_blocking(task.blocking, a, b)
        if isinstance(blk, BlockKeys) and blk.ref_keys is None:
            blk = BlockKeys(blk.query_keys, blk.query_keys, aligned=blk.aligned)
        return a, b, blk
    return _cached(("pair", task.a, task.a_digest, task.b, task.b_digest, task.blocking), build)


def match_partition(task: MatchTask) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate pairs of A rows ``[start, stop)``: (q, r, score) in file indices."""
    from pprl.compare import concat_candidates, iter_candidates
    from pprl.compare.blocking import BlockKeys

    a, b, blk = _load_pair(task)
    refs = a.clks if b is None else b.clks
    if isinstance(blk, BlockKeys):
        blk = BlockKeys(blk.query_keys[task.start:task.stop], blk.ref_keys, aligned=blk.aligned)
    with _whole_worker() as threads:
        cand = concat_candidates(list(iter_candidates(
            a.clks[task.start:task.stop], refs, task.threshold, top_k=task.top_k,
            workers=threads, blocking=blk)))
    q, r, s = cand.q + task.start, cand.r, cand.score
    if b is None:
        keep = q < r
        q, r, s = q[keep], r[keep], s[keep]
    return q.astype(np.int64), r.astype(np.int64), s


def _key_column(values: np.ndarray) -> np.ndarray:
    """Block-key values as :func:`pprl.match.key_matrix` turns them into int64 keys."""
    from pprl.compare.blocking import MISSING

    col = values.view(np.int64).copy()
    col[col == MISSING] = MISSING + 1
    return col


def match_block_partition(a_pieces: Sequence[Piece], b_pieces: Sequence[Piece] | None,
                          words: int, threshold: float) -> tuple[np.ndarray, ...]:
    """Every pair sharing this block key in one key range with a score ≥ ``threshold``:
    ``(a_index, b_index, score)``; with ``b_pieces`` None, pairs ``i < j`` within A."""
    from pprl.compare import concat_candidates, iter_candidates
    from pprl.compare.blocking import BlockKeys

    a = _concat(a_pieces, words)
    b = a if b_pieces is None else _concat(b_pieces, words)
    empty = np.empty(0, np.int64)
    if not len(a["idx"]) or not len(b["idx"]):
        return empty, empty, np.empty(0)
    blk = BlockKeys(_key_column(a["value"])[:, None], _key_column(b["value"])[:, None],
                    aligned=True)
    with _whole_worker() as threads:
        cand = concat_candidates(list(iter_candidates(
            a["clk"], b["clk"], threshold, workers=threads, blocking=blk)))
    q, r = a["idx"][cand.q], b["idx"][cand.r]
    keep = q < r if b_pieces is None else np.ones(len(q), bool)
    return q[keep], r[keep], cand.score[keep]


def _keyed_names(a: Encodings, b: Encodings | None, spec: str) -> list[str] | None:
    """The block keys of ``--blocking keys[:NAMES]`` (already validated), else None."""
    kind, _, names_text = spec.partition(":")
    if kind != "keys":
        return None
    files = [a] if b is None else [a, b]
    common = [n for n in a.block_keys if all(n in f.block_keys for f in files)]
    return [n.strip() for n in names_text.split(",") if n.strip()] or common


def _match_by_blocks(client: Any, a_path: str, a: Encodings, b_path: str | None,
                     b: Encodings | None, names: list[str], threshold: float,
                     partition_rows: int) -> tuple[np.ndarray, ...]:
    """Keyed-block matching on the cluster: per block key, A and B cut by key range, one
    task per range; the pairs of all keys are merged (a pair sharing several keys once)."""
    processes = len(client.nthreads()) or 1
    total = len(a) + (len(b) if b is not None else 0)
    parts = max(-(-total // partition_rows), 4 * processes, 1)
    plan = _Plan(a_path, a, [], [], [], [], [], parts,
                 max(1, min(partition_rows, -(-total // parts))))
    words = a.clks.shape[1]
    run = f"pprl-match-{uuid.uuid4().hex[:12]}"
    futures = []
    for k, name in enumerate(names):
        prio = len(names) - k
        a_p = _pieces(client, _splits(a_path, a, name, plan, 0), f"{run}-{name}-a", parts, prio)
        b_p = None if b is None or b_path is None else _pieces(
            client, _splits(b_path, b, name, plan, 0), f"{run}-{name}-b", parts, prio)
        futures += [client.submit(match_block_partition, a_p[p], None if b_p is None else b_p[p],
                                  words, threshold, pure=False, key=f"{run}-{name}-pairs-{p}",
                                  priority=prio) for p in range(parts)]
    checks = [client.submit(check_file, path, enc.meta["digest"], pure=False,
                            key=f"{run}-check-{i}")
              for i, (path, enc) in enumerate([(a_path, a)] + ([(b_path, b)] if b else []))]
    outs = _gather(client, futures, "match")
    _gather(client, checks, "match")
    q, r, s = (np.concatenate([o[i] for o in outs]) for i in range(3))
    width = np.int64(len(b) if b is not None else len(a))
    _, first = np.unique(q * width + r, return_index=True)
    return q[first], r[first], s[first]


def match_distributed(a_path: str | Path, b_path: str | Path | None, opts: Any, *,
                      workers: int | None = None, scheduler: str | None = None,
                      partition_rows: int = 1 << 15, connect_timeout: float = 30.0) -> pa.Table:
    """:func:`pprl.match.match_files` with the candidate search run on a Dask cluster.

    With keyed blocking (``--blocking keys``) both files are cut by block-key range, so
    no worker holds a whole file; otherwise (no blocking, LSH) A is cut into row ranges
    and every worker holds B (or A, for ``--dedupe``).
    """
    from pprl.match import checked_blocking, links_table

    if opts.blocking.partition(":")[0] == "keys":  # the driver needs only rows and metadata
        a, b = read_outline(a_path), read_outline(b_path) if b_path is not None else None
        checked_blocking(a, b, opts)  # refuse bad files or options before starting a cluster
        names = _keyed_names(a, b, opts.blocking) or []
        with dask_client(workers, scheduler, connect_timeout) as client:
            q, r, s = _match_by_blocks(client, str(a_path), a, None if b_path is None
                                       else str(b_path), b, names, opts.threshold,
                                       partition_rows)
        return links_table(a, b, q, r, s, opts)
    a = load_encodings(a_path)
    b = load_encodings(b_path) if b_path is not None else None
    checked_blocking(a, b, opts)
    n = len(a)
    step = max(512, partition_rows // 512 * 512)
    tasks = [MatchTask(str(a_path), a.meta.get("digest", ""),
                       None if b_path is None else str(b_path),
                       None if b is None else b.meta.get("digest", ""), s, min(s + step, n),
                       opts.threshold, opts.top_k, opts.blocking) for s in range(0, n, step)]
    with dask_client(workers, scheduler, connect_timeout) as client:
        run = uuid.uuid4().hex[:12]
        futures = [client.submit(match_partition, t, pure=False, key=f"pprl-match-{run}-{t.start}")
                   for t in tasks]
        outs = _gather(client, futures, "match")
    if outs:
        q, r, s = (np.concatenate([o[i] for o in outs]) for i in range(3))
    else:
        q, r, s = np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
    return links_table(a, b, q, r, s, opts)
