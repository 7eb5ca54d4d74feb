"""Verification and matching on a Dask cluster (``--workers N`` / ``--scheduler ADDRESS``).

The driver (the process running ``pprl verify`` / ``pprl match``) plans partitions and
submits one small task description per partition; workers read the encoding files
themselves from shared storage (a local path every worker can see, or an fsspec URL),
run the same kernels as the single-process engine (the token join, ``dice_pairs``, the
keyed-block top-1 kernel of :mod:`pprl.compare.keyed`, ``iter_candidates``) and send
back per-claim arrays only. The driver then runs the global steps (``decide``,
``cross_check``, findings, summary) with the functions of :mod:`pprl.verify`, so the
findings are identical to the single-process engine's.

Partitioning (verify): claims are cut into row ranges inside Parquet row groups
(``partition_rows`` claims at most). Each worker loads the register once (cached per
worker process, keyed by file and digest), builds the pseudonym index and the sorted
block indexes once, and then answers any claims partition: join, claimed-pair score,
best alternative. Matching cuts file A into row ranges the same way; each worker holds
file B (or A, for ``--dedupe``).

Integrity: the driver checks each claims file fully (it needs the claims for the
cross-record checks) and the register's metadata; every worker that loads the register
checks its content digest over the whole file, and every claims partition a worker reads
is compared with the driver's copy by a digest of the slice.

This module is imported only when a cluster is asked for; the default engine never
imports dask.
"""

from __future__ import annotations

import contextlib
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
from blake3 import blake3

from pprl.compare import dice_indexed
from pprl.compare.keyed import _topk_in_ranges, popcounts
from pprl.errors import InputError, IntegrityError, PprlError
from pprl.store import (
    TOKEN_BYTES,
    Encodings,
    _block_column,
    _fixed_to_numpy,
    _from_table,
    check_metadata,
    read_encodings,
)

DEFAULT_PARTITION_ROWS = 1 << 17
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


def read_register_outline(path: str | Path) -> Encodings:
    """The register as the driver needs it: rows, pseudonym join keys and metadata.

    CLKs and block-key values stay on the workers (``clks`` has zero rows, ``tokens``
    only the 8-byte join key, block keys are empty arrays), so the driver's memory does
    not grow with the CLKs of the register. The full digest is checked by each worker.
    """
    if not is_url(path) and not Path(path).is_file():
        raise InputError(f"{path}: file not found")
    with _open(path) as f:
        try:
            pf = pq.ParquetFile(f)
            meta = check_metadata(path, pf.schema_arrow, pf.metadata.num_rows)
            table = pf.read(columns=["row", "token"])
        except (pa.ArrowException, OSError, KeyError) as exc:
            raise IntegrityError(f"{path}: not a readable encoding file "
                                 f"({str(exc).splitlines()[0][:120]})") from None
    words = int(meta.get("nbits", 0)) // 64
    token = table.column("token")
    empty = (np.empty(0, np.uint64), np.empty(0, bool))
    return Encodings(
        rows=table.column("row").to_numpy().astype(np.int64, copy=False),
        tokens=np.ascontiguousarray(_fixed_to_numpy(token, TOKEN_BYTES)[:, :8]),
        has_token=~np.asarray(token.is_null().to_numpy(zero_copy_only=False)),
        clks=np.empty((0, words), np.uint64),
        block_keys={name: empty for name in meta.get("block_keys", [])},
        meta=meta, path=Path(str(path)))


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


def slice_digest(enc: Encodings, start: int, stop: int, names: Sequence[str]) -> str:
    """blake3 of one claims slice (rows, pseudonyms, CLKs, chosen block keys)."""
    h = blake3()
    has = enc.has_token[start:stop]
    h.update(np.ascontiguousarray(enc.rows[start:stop], dtype="<i8").tobytes())
    h.update(np.where(has[:, None], enc.tokens[start:stop], 0).astype(np.uint8).tobytes())
    h.update(np.ascontiguousarray(enc.clks[start:stop], dtype="<u8").tobytes())
    for name in names:
        values, valid = enc.block_keys[name]
        h.update(np.where(valid[start:stop], values[start:stop], 0).astype("<u8").tobytes())
    return h.hexdigest()


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


def _read_group(path: str, rg: int, digest: str | None) -> tuple[Encodings, dict[str, Any]]:
    """One row group of an encoding file as :class:`Encodings` (cached: the last one)."""
    def build() -> tuple[Encodings, dict[str, Any]]:
        """Read the row group and check the file's metadata and digest claim."""
        with _open(path) as f:
            pf = pq.ParquetFile(f)
            meta = check_metadata(path, pf.schema_arrow, pf.metadata.num_rows)
            table = pf.read_row_group(rg)
        if digest is not None and meta.get("digest") != digest:
            raise IntegrityError(f"{path}: the file changed while it was being verified")
        nbits = int(meta.get("nbits", 0))
        token = table.column("token")
        enc = Encodings(
            rows=table.column("row").to_numpy().astype(np.int64, copy=False),
            tokens=_fixed_to_numpy(token, TOKEN_BYTES),
            has_token=~np.asarray(token.is_null().to_numpy(zero_copy_only=False)),
            clks=_fixed_to_numpy(table.column("clk"), nbits // 8).view("<u8")
            .reshape(table.num_rows, nbits // 64),
            block_keys={n: _block_column(table, n, Path(path)) for n in meta.get("block_keys", [])},
            meta=meta, path=Path(path))
        return enc, meta
    return _cached(("group", path, rg, digest), build)


def _slice(enc: Encodings, start: int, stop: int) -> Encodings:
    """Rows ``[start, stop)`` of an :class:`Encodings` (views, no copies)."""
    return Encodings(rows=enc.rows[start:stop], tokens=enc.tokens[start:stop],
                     has_token=enc.has_token[start:stop], clks=enc.clks[start:stop],
                     block_keys={n: (v[start:stop], ok[start:stop])
                                 for n, (v, ok) in enc.block_keys.items()},
                     meta=enc.meta, path=enc.path)


def _set_threads() -> None:
    """Let numba use as many threads as this Dask worker has (1 by default), not all cores."""
    import numba
    from distributed import get_worker

    try:
        n = get_worker().state.nthreads
    except (ValueError, AttributeError):
        return
    numba.set_num_threads(max(1, min(int(n), numba.config.NUMBA_NUM_THREADS)))


# --------------------------------------------------------------------- verify (worker)


@dataclass
class PreparedRegister:
    """A register loaded on a worker, with the indexes every claims partition needs."""

    enc: Encodings
    pop: np.ndarray
    token_order: np.ndarray
    token_sorted: np.ndarray
    blocks: dict[str, tuple[np.ndarray, np.ndarray]]


def prepare_register(enc: Encodings) -> PreparedRegister:
    """Sort the register once by pseudonym key and by each block key (as the kernels do)."""
    from pprl.verify import token_index

    order, token_sorted = token_index(enc)
    blocks = {}
    for name, (values, valid) in enc.block_keys.items():
        r_idx = np.flatnonzero(valid)
        border = r_idx[np.argsort(values[r_idx], kind="stable")].astype(np.int64)
        blocks[name] = (border, values[border])
    return PreparedRegister(enc, popcounts(enc.clks), order, token_sorted, blocks)


def _load_register(path: str, digest: str) -> PreparedRegister:
    """The prepared register of this worker process, loaded and checked once."""
    def build() -> PreparedRegister:
        """Load with the full digest check, compare with the driver's digest, index."""
        enc = load_encodings(path)
        if enc.meta.get("digest") != digest:
            raise IntegrityError(f"{path}: the register changed while it was being verified")
        return prepare_register(enc)
    return _cached(("register", path, digest), build)


def join_prepared(reg: PreparedRegister, claims: Encodings) -> np.ndarray:
    """:func:`pprl.verify.join_on_tokens` against the register's prepared pseudonym index."""
    from pprl.verify import join_with_index

    return join_with_index(reg.enc, reg.token_order, reg.token_sorted, claims)[0]


def topk1_prepared(reg: PreparedRegister, claims: Encodings, names: Sequence[str],
                   threshold: float, exclude: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`pprl.compare.keyed.topk_by_block_keys` with ``k=1`` on prepared block indexes.

    Same kernel, same key order and same scan order, so the same answer (ties included).
    """
    nq = len(claims)
    out_r = np.full((nq, 1), -1, dtype=np.int64)
    out_s = np.full((nq, 1), -1.0, dtype=np.float64)
    if nq == 0 or len(reg.enc) == 0:
        return out_r, out_s
    queries = np.ascontiguousarray(claims.clks)
    q_pop = popcounts(queries)
    excl = exclude.astype(np.int64)
    for name in names:
        q_val, q_ok = claims.block_keys[name]
        order, sorted_vals = reg.blocks[name]
        q_idx = np.flatnonzero(q_ok)
        q_idx = q_idx[np.argsort(q_val[q_idx], kind="stable")]
        lo = np.searchsorted(sorted_vals, q_val[q_idx], side="left")
        hi = np.searchsorted(sorted_vals, q_val[q_idx], side="right")
        _topk_in_ranges(queries, q_pop, q_idx, reg.enc.clks, reg.pop, order, lo, hi,
                        excl, float(threshold), out_r, out_s)
    return out_r, out_s


@dataclass(frozen=True)
class VerifyTask:
    """What one verify task needs: file names, digests, a row range and the options."""

    register: str
    register_digest: str
    claims: str
    claims_digest: str
    row_group: int
    group_start: int
    start: int
    stop: int
    names: tuple[str, ...]
    search_score: float


def verify_partition(task: VerifyTask) -> dict[str, Any]:
    """Join, score and search one claims partition on a worker; per-claim arrays back."""
    _set_threads()
    reg = _load_register(task.register, task.register_digest)
    group, _ = _read_group(task.claims, task.row_group, task.claims_digest)
    part = _slice(group, task.start - task.group_start, task.stop - task.group_start)
    claimed = join_prepared(reg, part)
    score = np.full(len(part), np.nan)
    has = claimed >= 0
    if has.any():
        score[has] = dice_indexed(part.clks, reg.enc.clks, np.flatnonzero(has), claimed[has])
    cand, cand_score = topk1_prepared(reg, part, task.names, task.search_score, claimed)
    cs = cand_score[:, 0].copy()
    cs[cand[:, 0] < 0] = np.nan
    return {"claimed": claimed, "score": score, "cand": cand[:, 0].copy(), "cand_score": cs,
            "digest": slice_digest(part, 0, len(part), task.names)}


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


def _claims_result(enc: Encodings, parts: list[tuple[tuple, dict]], names: Sequence[str]) -> Any:
    """Assemble the per-partition arrays of one claims file into a ClaimsResult."""
    from pprl.verify import ClaimsResult

    n = len(enc)
    claimed = np.full(n, -1, np.int64)
    score, cand_score = np.full(n, np.nan), np.full(n, np.nan)
    cand = np.full(n, -1, np.int64)
    for (_, _, start, stop), out in parts:
        if out["digest"] != slice_digest(enc, start, stop, names):
            raise IntegrityError(f"{enc.path}: rows {start}-{stop} read by a worker differ from "
                                 "the driver's copy (is the shared storage consistent?)")
        claimed[start:stop], score[start:stop] = out["claimed"], out["score"]
        cand[start:stop], cand_score[start:stop] = out["cand"], out["cand_score"]
    return ClaimsResult(enc, claimed, score, cand, cand_score)


def _key_names(ref: Encodings, enc: Encodings, blocking: Sequence[str] | None) -> list[str]:
    """The block keys to search within, with the single-process engine's errors."""
    common = [n for n in enc.block_keys if n in ref.block_keys]
    chosen = common if blocking is None else [n for n in blocking if n in common]
    if blocking is not None and len(chosen) != len(blocking):
        missing = sorted(set(blocking) - set(common))
        raise InputError(f"block key(s) {', '.join(missing)} are not in both encoding files "
                         f"(available: {', '.join(common) or 'none'})")
    if not chosen:
        raise InputError(f"{enc.path}: no block keys shared with the reference; encode both "
                         "with a schema that defines block_keys (e.g. jp-resident)")
    return chosen


def verify_distributed(reference: str | Path, claims: Sequence[str | Path], *,
                       thresholds: Any = None, blocking: Sequence[str] | None = None,
                       progress: Any = None, workers: int | None = None,
                       scheduler: str | None = None,
                       partition_rows: int = DEFAULT_PARTITION_ROWS,
                       connect_timeout: float = 30.0) -> Any:
    """:func:`pprl.verify.verify` with join, scoring and search run on a Dask cluster."""
    from pprl.verify import Thresholds, _check_inputs, decide, finish, schema_thresholds

    say = progress or (lambda stage: None)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    say("reading encoding files")
    ref = read_register_outline(reference)
    claim_encs = [load_encodings(c) for c in claims]
    _check_inputs(ref, claim_encs)
    th = thresholds if isinstance(thresholds, Thresholds) else schema_thresholds(ref, thresholds)
    names = [_key_names(ref, enc, blocking) for enc in claim_encs]
    timings["read"] = time.perf_counter() - t0
    with dask_client(workers, scheduler, connect_timeout) as client:
        t = time.perf_counter()
        say("scoring and searching on the cluster")
        jobs = []
        for enc, path, keys in zip(claim_encs, claims, names, strict=True):
            for rg, first, start, stop in row_ranges(path, partition_rows):
                jobs.append((enc, (rg, first, start, stop), VerifyTask(
                    str(reference), ref.meta["digest"], str(path), enc.meta["digest"],
                    rg, first, start, stop, tuple(keys), th.search_score)))
        run = uuid.uuid4().hex[:12]  # distinct keys for concurrent runs on one scheduler
        futures = [client.submit(verify_partition, task, pure=False,
                                 key=f"pprl-verify-{run}-{i}") for i, (_, _, task)
                   in enumerate(jobs)]
        outs = _gather(client, futures, "verify")
        timings["score_search"] = time.perf_counter() - t
    results = []
    for enc, keys in zip(claim_encs, names, strict=True):
        parts = [(p, o) for (e, p, _), o in zip(jobs, outs, strict=True) if e is enc]
        res = _claims_result(enc, parts, keys)
        decide(res, th)
        results.append(res)
    return finish(results, ref, claim_encs, th, blocking, timings, say)


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

    _set_threads()
    a, b, blk = _load_pair(task)
    refs = a.clks if b is None else b.clks
    if isinstance(blk, BlockKeys):
        blk = BlockKeys(blk.query_keys[task.start:task.stop], blk.ref_keys, aligned=blk.aligned)
    from distributed import get_worker

    cand = concat_candidates(list(iter_candidates(
        a.clks[task.start:task.stop], refs, task.threshold, top_k=task.top_k,
        workers=get_worker().state.nthreads, blocking=blk)))
    q, r, s = cand.q + task.start, cand.r, cand.score
    if b is None:
        keep = q < r
        q, r, s = q[keep], r[keep], s[keep]
    return q.astype(np.int64), r.astype(np.int64), s


def match_distributed(a_path: str | Path, b_path: str | Path | None, opts: Any, *,
                      workers: int | None = None, scheduler: str | None = None,
                      partition_rows: int = 1 << 15, connect_timeout: float = 30.0) -> pa.Table:
    """:func:`pprl.match.match_files` with the candidate search run on a Dask cluster."""
    from pprl.match import checked_blocking, links_table

    a = load_encodings(a_path)
    b = load_encodings(b_path) if b_path is not None else None
    checked_blocking(a, b, opts)  # refuse bad files or options before starting a cluster
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
