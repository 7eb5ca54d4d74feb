"""The Dask engine: the plans of the core run as many partitions on a Dask cluster
(``--workers N`` / ``--scheduler ADDRESS``).

The driver (the process running ``pprl verify`` / ``pprl match``) reads only the
files' outlines (:func:`pprl.store.read_outline`: rows, pseudonym presence, metadata),
makes the plan and submits small task descriptions; workers read the encoding files
themselves from shared storage (a local path every worker can see, or an fsspec URL),
one row-group slice at a time (:func:`pprl.partition.split_rows`), and run the core's
partition functions (:func:`pprl.verify.plan.join_partition`,
:func:`pprl.verify.plan.search_partition`, :func:`pprl.match_core.match_block_partition`,
:func:`pprl.match_core.match_rows`). The driver folds their outputs into the core's
:class:`~pprl.verify.plan.Accumulator` and finishes with :func:`pprl.verify.plan.finish`:
the same code as the local engine, so the findings are identical.

Integrity: every map task checks the file's metadata and that its digest claim is the
one the driver read; one task per file recomputes the content digest over the whole
file, streaming (:func:`pprl.store.check_file`); no output is written unless all of
them pass. Every wait is bounded: connecting (``connect_timeout``) and each stage
(``timeout``).

This module is imported only when a cluster is asked for; the local engine never
imports dask.
"""

from __future__ import annotations

import contextlib
import ipaddress
import operator
import os
import re
import ssl
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pyarrow as pa

from pprl.compare.blocking import BlockKeys, LshBlocking
from pprl.engines import kernel_threads, started_at
from pprl.errors import InputError, IntegrityError, PprlError
from pprl.match_core import (
    KeyedMatchPlan,
    MatchOptions,
    MatchTask,
    PairArrays,
    check_match,
    links_table,
    make_blocking,
    match_block_partition,
    match_rows,
    merge_pairs,
    row_tasks,
)
from pprl.partition import (
    FileRef,
    Layout,
    Piece,
    SplitTask,
    concat_pieces,
    layout,
    split_rows,
    split_tasks,
)
from pprl.store import (
    Encodings,
    check_file,
    process_cache,
    read_encodings,
    read_outline,
)
from pprl.verify.outputs import VerifyResult
from pprl.verify.plan import (
    Accumulator,
    JoinOutput,
    SearchOutput,
    SearchStage,
    StageProgress,
    ThresholdSpec,
    VerifyPlan,
    finish,
    join_partition,
    plan_verify,
    search_partition,
)

if TYPE_CHECKING:
    from distributed import Client, Future
    from distributed.security import Security

__all__ = [
    "ALLOWED_FAILURES",
    "DEFAULT_PARTITION_ROWS",
    "DEFAULT_TIMEOUT",
    "SCHEMES",
    "TlsFiles",
    "check_cluster",
    "check_tls",
    "check_scheduler_address",
    "dask_client",
    "max_local_workers",
    "security",
    "match_dask",
    "verify_dask",
]

DEFAULT_PARTITION_ROWS = 1 << 20
ALLOWED_FAILURES = 3
DEFAULT_TIMEOUT = 24 * 3600.0  # seconds one stage may take before the run gives up

_T = TypeVar("_T")


def _quiet(stage: str) -> None:
    """A progress callback that reports nothing."""


# ------------------------------------------------------------------------ the cluster


#: Scheduler address schemes pprl accepts (Dask's comms: plain TCP, TLS, in-process, UCX).
SCHEMES = ("tcp", "tls", "inproc", "ucx")
_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,252})")
#: Largest PEM file (CA, certificate or key) read: real ones are a few KiB.
MAX_PEM_BYTES = 1 << 20


def max_local_workers() -> int:
    """The most worker processes ``--workers`` may start on this machine: 4 per CPU, at
    most 256. A local worker is a whole Python process (about 150 MB before any data)
    running CPU-bound kernels, so more workers than that only compete for the same
    cores and multiply memory; a typo (200 for 20) must not fork hundreds of processes."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover (not Linux)
        cpus = os.cpu_count() or 1
    return max(1, min(256, 4 * cpus))


def check_scheduler_address(address: str) -> str:
    """``address`` if it is a Dask scheduler address pprl can use (``tcp://HOST:PORT``,
    ``tls://HOST:PORT``, ``ucx://HOST:PORT``, ``inproc://…``, or ``HOST:PORT`` for
    TCP); otherwise a one-line :class:`InputError` naming it. Checked before any file
    is read or any connection tried."""
    shown = repr(address[:200])
    scheme, sep, location = address.rpartition("://")
    if not sep:
        scheme, location = "tcp", address
    if scheme not in SCHEMES:
        raise InputError(
            f"--scheduler {shown}: unknown scheme '{scheme[:20]}' (use {', '.join(SCHEMES)})"
        )
    if not location or any(ch.isspace() or not ch.isprintable() for ch in location):
        raise InputError(f"--scheduler {shown}: not a scheduler address (tcp://HOST:PORT)")
    if scheme == "inproc":
        return address
    if location.startswith("["):  # [IPv6]:port
        host, bracket, rest = location[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
        try:
            if not bracket:
                raise ValueError("no closing bracket")
            ipaddress.IPv6Address(host)
        except ValueError:
            raise InputError(f"--scheduler {shown}: '{host[:60]}' is not an IPv6 address") from None
    else:
        host, colon, port_text = location.rpartition(":")
        if not colon:
            host, port_text = location, ""
        if not host or not _HOST.fullmatch(host) or not (sep or colon):
            raise InputError(
                f"--scheduler {shown}: not a scheduler address; expected "
                f"{scheme}://HOST:PORT (e.g. {scheme}://10.0.0.1:8786)"
            )
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise InputError(
            f"--scheduler {shown}: needs a port number 1-65535 (e.g. {scheme}://HOST:8786)"
        )
    return address


@dataclass(frozen=True)
class TlsFiles:
    """The PEM files of a TLS connection to a Dask cluster: the CA certificate that
    signed the cluster's certificates, this client's certificate and its private key
    (None when the certificate file holds the key too). A local cluster
    (``--workers``) uses the certificate for its scheduler and workers as well."""

    ca: str
    cert: str
    key: str | None = None


def _pem_file(path: str, option: str) -> str:
    """``path`` if it is a regular file of at most :data:`MAX_PEM_BYTES`; else one line."""
    from pprl.read import require_regular_file

    p = require_regular_file(path, option)
    if "\n" in str(path):
        raise InputError(f"{option} {path!r}: a file name with a line break cannot be used")
    if p.stat().st_size > MAX_PEM_BYTES:
        raise InputError(f"{option} {path}: larger than {MAX_PEM_BYTES} bytes: not a PEM file")
    return str(path)


def _ssl_reason(exc: Exception) -> str:
    """The short reason of an ssl error: ``[X509] PEM lib`` rather than a tuple repr."""
    reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None)
    return str(reason or str(exc).splitlines()[0][:120] or type(exc).__name__)


def check_tls(tls: TlsFiles) -> tuple[str, str, str | None]:
    """The (CA, certificate, key) paths of ``tls`` once each file has been loaded: a
    missing file, a file that is not PEM or a key that does not fit the certificate is
    a one-line :class:`InputError` naming the option and the file."""
    ca = _pem_file(tls.ca, "--tls-ca")
    cert = _pem_file(tls.cert, "--tls-cert")
    key = None if tls.key is None else _pem_file(tls.key, "--tls-key")
    try:
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise InputError(f"--tls-ca {ca}: not a PEM CA certificate ({_ssl_reason(exc)})") from None
    try:
        ctx.load_cert_chain(cert, key)
    except (ssl.SSLError, OSError, ValueError) as exc:
        which = f"--tls-cert {cert}" + ("" if key is None else f" / --tls-key {key}")
        raise InputError(
            f"{which}: not a PEM certificate with its private key ({_ssl_reason(exc)})"
        ) from None
    return ca, cert, key


def security(tls: TlsFiles) -> Security:
    """A :class:`distributed.security.Security` that requires encryption, built from
    ``tls`` (checked by :func:`check_tls` first)."""
    from distributed.security import Security

    ca, cert, key = check_tls(tls)
    return Security(
        tls_ca_file=ca,
        tls_client_cert=cert,
        tls_client_key=key,
        tls_scheduler_cert=cert,
        tls_scheduler_key=key,
        tls_worker_cert=cert,
        tls_worker_key=key,
        require_encryption=True,
    )


def _tls_configured() -> bool:
    """True when dask's own configuration (``distributed.comm.tls``, e.g. from
    ``DASK_DISTRIBUTED__COMM__TLS__CA_FILE``) sets up TLS for clients."""
    import dask

    return bool(
        dask.config.get("distributed.comm.tls.ca-file", None)
        and dask.config.get("distributed.comm.tls.client.cert", None)
    )


def check_cluster(workers: int | None, scheduler: str | None, tls: TlsFiles | None = None) -> None:
    """Refuse a cluster request pprl cannot honour, before any file is read: both or
    neither of ``workers`` and ``scheduler``, a worker count out of 1..
    :func:`max_local_workers`, a malformed scheduler address, a ``tls://`` scheduler
    without TLS files (or dask TLS configuration), TLS files with a non-TLS address."""
    if (workers is None) == (scheduler is None):
        raise InputError("give either --workers N or --scheduler ADDRESS, not both")
    if workers is not None:
        limit = max_local_workers()
        if not 1 <= workers <= limit:
            raise InputError(
                f"--workers must be between 1 and {limit} (4 per CPU) on this machine, "
                f"got {workers}"
            )
    if scheduler is not None:
        check_scheduler_address(scheduler)
        scheme = scheduler.rpartition("://")[0] or "tcp"
        if scheme == "tls" and tls is None and not _tls_configured():
            raise InputError(
                f"--scheduler {scheduler}: a tls:// scheduler needs --tls-ca and --tls-cert "
                "(and --tls-key unless the certificate file holds the key)"
            )
        if tls is not None and scheme != "tls":
            raise InputError(
                f"--scheduler {scheduler}: --tls-ca/--tls-cert need a tls:// scheduler address"
            )
    if tls is not None:
        check_tls(tls)


@contextlib.contextmanager
def dask_client(
    workers: int | None = None,
    scheduler: str | None = None,
    connect_timeout: float = 30.0,
    tls: TlsFiles | None = None,
) -> Iterator[Client]:
    """A Dask client: to ``scheduler``, or to a local cluster of ``workers`` processes;
    over TLS (encryption required) when ``tls`` is given.

    The local cluster (1 thread per worker, loopback only, no dashboard) is started here,
    waited for (at most ``connect_timeout`` seconds per worker start) and closed on exit.
    Connection problems become a one-line :class:`PprlError`.
    """
    import dask
    from distributed import Client, LocalCluster

    check_cluster(workers, scheduler, tls)
    sec = None if tls is None else security(tls)
    with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}):
        if scheduler is not None:
            try:
                client = Client(scheduler, timeout=connect_timeout, security=sec)
            except (OSError, TimeoutError, ValueError, TypeError) as exc:
                raise PprlError(
                    f"cannot reach the Dask scheduler at {scheduler}: "
                    f"{(str(exc).splitlines() or [type(exc).__name__])[0][:160]}"
                ) from None
            with client:
                yield client
            return
        assert workers is not None
        tls_args: dict[str, Any] = {} if sec is None else {"security": sec, "protocol": "tls://"}
        with (
            LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                **tls_args,
            ) as cluster,
            Client(cluster, timeout=connect_timeout, security=sec) as client,
        ):
            try:
                client.wait_for_workers(workers, timeout=connect_timeout * workers)
            except TimeoutError:
                raise PprlError(
                    f"the local Dask cluster did not start {workers} workers "
                    f"within {connect_timeout * workers:.0f} s"
                ) from None
            yield client


def _gather(
    client: Client, futures: Sequence[Future[Any]], what: str, timeout: float, kind: type[_T]
) -> list[_T]:
    """Results (each a ``kind``) of all futures within ``timeout`` seconds, or a one-line
    :class:`PprlError` when workers kept dying, the connection was lost or time ran out."""
    from distributed import wait
    from distributed.scheduler import KilledWorker

    try:
        wait(list(futures), timeout=timeout)
    except TimeoutError:
        raise PprlError(
            f"{what}: the cluster did not finish a stage within {timeout:.0f} s"
        ) from None
    try:
        results = list(client.gather(list(futures)))
    except KilledWorker as exc:
        raise PprlError(
            f"{what}: a task failed because its worker died "
            f"{ALLOWED_FAILURES + 1} times (out of memory?): {exc.args[0]}"
        ) from None
    except (OSError, TimeoutError) as exc:
        raise PprlError(
            f"{what}: lost the connection to the Dask cluster: {str(exc).splitlines()[0][:160]}"
        ) from None
    wrong = [type(r).__name__ for r in results if not isinstance(r, kind)]
    if wrong:
        raise PprlError(
            f"{what}: a task returned {wrong[0]}, not {kind.__name__} (mixed pprl "
            "versions on the cluster?)"
        )
    return results


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
    from distributed import get_worker

    try:
        n = int(get_worker().state.nthreads)
    except (ValueError, AttributeError):  # called outside a worker (tests, benchmarks)
        n = 1
    with _KERNEL_LOCK, kernel_threads(n):
        yield n


# ------------------------------------------------------------------ tasks (on workers)


def _join_task(
    ref: list[Piece], claims: list[Piece], words: int, different_people: float
) -> JoinOutput:
    """One pseudonym range of the join stage."""
    with _whole_worker():
        return join_partition(
            concat_pieces(ref, words, None), concat_pieces(claims, words, None), different_people
        )


def _search_task(
    ref: list[Piece],
    claims: list[Piece],
    near: list[Piece] | None,
    near_is_claims: bool,
    words: int,
    key: str,
    search_score: float,
    same_person: float,
) -> SearchOutput:
    """One block-value range of a search stage; ``near_is_claims``: the claim-to-claim
    search compares the same claims (``near`` is then None)."""
    with _whole_worker():
        queries = concat_pieces(claims, words, key)
        others = (
            queries
            if near_is_claims
            else (None if near is None else concat_pieces(near, words, key))
        )
        return search_partition(
            concat_pieces(ref, words, key), queries, others, search_score, same_person
        )


def _match_block_task(
    a: list[Piece], b: list[Piece] | None, words: int, key: str, threshold: float
) -> PairArrays:
    """One block-value range of one block key of keyed matching."""
    with _whole_worker() as threads:
        return match_block_partition(
            concat_pieces(a, words, key),
            None if b is None else concat_pieces(b, words, key),
            threshold,
            threads,
        )


def _load_checked(ref: FileRef) -> Encodings:
    """A whole file, checked against the driver's digest."""
    enc = read_encodings(ref.path)
    if enc.meta.get("digest") != ref.digest:
        raise IntegrityError(f"{ref.path}: an input changed while it was being matched")
    return enc


def _match_rows_task(task: MatchTask) -> PairArrays:
    """One row range of A against all of B (both files held once per worker process)."""

    def build() -> tuple[Encodings, Encodings | None, BlockKeys | LshBlocking | None]:
        a = _load_checked(task.a)
        b = None if task.b is None else _load_checked(task.b)
        choice = check_match(a.outline(), None if b is None else b.outline(), task.opts)
        return a, b, make_blocking(choice, a, b)

    a, b, blocking = process_cache(("pair", task.a, task.b, task.opts.blocking), build)
    with _whole_worker() as threads:
        return match_rows(a, b, blocking, task.start, task.stop, task.opts, threads)


# ------------------------------------------------------------------- driver: submitting


def _pieces(
    client: Client, tasks: list[SplitTask], prefix: str, parts: int, priority: int
) -> list[list[Future[object]]]:
    """Submit the map tasks; ``pieces[p]`` holds partition ``p``'s piece of each, in order.

    The pieces stay on the workers that cut them until the partition's task fetches them.
    """
    maps = [
        client.submit(split_rows, t, pure=False, key=f"{prefix}-split-{i}", priority=priority)
        for i, t in enumerate(tasks)
    ]
    return [
        [
            client.submit(
                operator.getitem, m, p, pure=False, key=f"{prefix}-piece-{i}-{p}", priority=priority
            )
            for i, m in enumerate(maps)
        ]
        for p in range(parts)
    ]


def _file_splits(
    files: Sequence[FileRef], block: str | None, lay: Layout, attrs: tuple[str, ...] = ()
) -> list[SplitTask]:
    """The map tasks of several files (concatenated in order) for one key, reading the
    block keys ``attrs`` along."""
    return [t for f in files for t in split_tasks(f.path, f.digest, block, f.offset, lay, attrs)]


def _submit_join(
    client: Client, plan: VerifyPlan, prefix: str, priority: int
) -> list[Future[object]]:
    """The join stage: one task per pseudonym range."""
    lay = plan.layout
    ref = _pieces(
        client,
        _file_splits([plan.reference], None, lay, plan.attrs),
        f"{prefix}-ref",
        lay.parts,
        priority,
    )
    claims = _pieces(
        client,
        _file_splits(plan.claims, None, lay, plan.attrs),
        f"{prefix}-claims",
        lay.parts,
        priority,
    )
    return [
        client.submit(
            _join_task,
            ref[p],
            claims[p],
            plan.words,
            plan.thresholds.different_people,
            pure=False,
            key=f"{prefix}-join-{p}",
            priority=priority,
        )
        for p in range(lay.parts)
    ]


def _submit_search(
    client: Client, plan: VerifyPlan, stage: SearchStage, prefix: str, priority: int
) -> list[Future[object]]:
    """One block key's search stage: one task per block-value range."""
    lay, key = plan.layout, stage.key
    search = [plan.claims[f] for f in stage.searching_files()]
    near = list(plan.claims) if stage.near_rank >= 0 else []
    ref = _pieces(
        client,
        _file_splits([plan.reference], key, lay, plan.attrs),
        f"{prefix}-ref",
        lay.parts,
        priority,
    )
    claims = _pieces(
        client, _file_splits(search, key, lay, plan.attrs), f"{prefix}-claims", lay.parts, priority
    )
    same = near == search
    others = (
        None
        if same or not near
        else _pieces(client, _file_splits(near, key, lay), f"{prefix}-near", lay.parts, priority)
    )
    th = plan.thresholds
    return [
        client.submit(
            _search_task,
            ref[p],
            claims[p],
            None if others is None else others[p],
            same,
            plan.words,
            key,
            th.search_score,
            th.same_person,
            pure=False,
            key=f"{prefix}-search-{p}",
            priority=priority,
        )
        for p in range(lay.parts)
    ]


def _check_files(client: Client, files: Sequence[FileRef], prefix: str) -> list[Future[object]]:
    """One streamed content-digest check per file."""
    return [
        client.submit(check_file, f.path, f.digest, pure=False, key=f"{prefix}-check-{i}")
        for i, f in enumerate(files)
    ]


def _run_stages(
    client: Client, plan: VerifyPlan, say: StageProgress, timings: dict[str, float], timeout: float
) -> Accumulator:
    """Run the join and every search stage on the cluster; fold their outputs in stage
    order.

    Every stage is submitted at once, earlier stages with higher priority: a worker cuts
    a later stage's pieces only when no earlier-stage task is ready for it, so the stages
    overlap without waiting for the driver.
    """
    run = f"pprl-verify-{uuid.uuid4().hex[:12]}"  # distinct keys for concurrent runs
    checks = _check_files(client, [plan.reference, *plan.claims], run)
    n = len(plan.searches) + 1
    join = _submit_join(client, plan, f"{run}-join", n)
    searches = [
        _submit_search(client, plan, stage, f"{run}-{i}", n - 1 - i)
        for i, stage in enumerate(plan.searches)
    ]
    acc = Accumulator(plan)
    t = time.perf_counter()
    say("joining claims to the register on the cluster")
    for out in _gather(client, join, "verify", timeout, JoinOutput):
        acc.add_join(out)
    timings["join"] = time.perf_counter() - t
    for stage, futures in zip(plan.searches, searches, strict=True):
        t = time.perf_counter()
        say(f"searching the blocks of {stage.key} on the cluster")
        for found in _gather(client, futures, "verify", timeout, SearchOutput):
            acc.add_search(stage, found)
        timings[f"search:{stage.key}"] = time.perf_counter() - t
    _gather(client, checks, "verify", timeout, type(None))  # every file's digest, before output
    return acc


def verify_dask(
    reference: str | Path,
    claims: Sequence[str | Path],
    *,
    thresholds: ThresholdSpec = None,
    blocking: Sequence[str] | None = None,
    progress: StageProgress | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    partition_rows: int = DEFAULT_PARTITION_ROWS,
    connect_timeout: float = 30.0,
    timeout: float = DEFAULT_TIMEOUT,
    tls: TlsFiles | None = None,
) -> VerifyResult:
    """:func:`pprl.verify.verify` on a Dask cluster: the core's plan, partitioned by
    pseudonym and block-key ranges of about ``partition_rows`` records; ``tls`` connects
    over TLS."""
    check_cluster(workers, scheduler, tls)  # before reading any file
    say = progress or _quiet
    start = started_at()
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    say("reading encoding files")
    ref = read_outline(reference)
    encs = [read_outline(c) for c in claims]
    total = len(ref) + sum(len(e) for e in encs)
    plan = plan_verify(
        ref,
        encs,
        thresholds=thresholds,
        blocking=blocking,  # refuse bad input
        layout=layout(total, partition_rows, 1),  # before starting a cluster
        paths=(str(reference), [str(c) for c in claims]),
    )
    with dask_client(workers, scheduler, connect_timeout, tls) as client:
        processes = len(client.nthreads()) or 1  # partition tasks run one per process
        plan = replace(plan, layout=layout(total, partition_rows, processes))
        timings["read"] = time.perf_counter() - t0
        acc = _run_stages(client, plan, say, timings, timeout)
    return finish(plan, acc, ref, encs, timings, say, start)


# ------------------------------------------------------------------------------ match


def _match_by_blocks(client: Client, plan: KeyedMatchPlan, timeout: float) -> PairArrays:
    """Keyed-block matching on the cluster: per block key, A and B cut by key range, one
    task per range; the pairs of all keys are merged (a pair sharing several keys once)."""
    lay = plan.layout
    run = f"pprl-match-{uuid.uuid4().hex[:12]}"
    futures = []
    for k, name in enumerate(plan.names):
        prio = len(plan.names) - k
        a_p = _pieces(client, _file_splits([plan.a], name, lay), f"{run}-{name}-a", lay.parts, prio)
        b_p = (
            None
            if plan.b is None
            else _pieces(
                client, _file_splits([plan.b], name, lay), f"{run}-{name}-b", lay.parts, prio
            )
        )
        futures += [
            client.submit(
                _match_block_task,
                a_p[p],
                None if b_p is None else b_p[p],
                plan.words,
                name,
                plan.threshold,
                pure=False,
                key=f"{run}-{name}-pairs-{p}",
                priority=prio,
            )
            for p in range(lay.parts)
        ]
    checks = _check_files(client, [plan.a] + ([plan.b] if plan.b is not None else []), run)
    outs = _gather(client, futures, "match", timeout, tuple)
    _gather(client, checks, "match", timeout, type(None))
    return merge_pairs(outs, plan.b.records if plan.b is not None else plan.a.records)


def match_dask(
    a_path: str | Path,
    b_path: str | Path | None,
    opts: MatchOptions,
    *,
    progress: StageProgress | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    partition_rows: int = 1 << 15,
    connect_timeout: float = 30.0,
    timeout: float = DEFAULT_TIMEOUT,
    tls: TlsFiles | None = None,
) -> pa.Table:
    """:func:`pprl.match.match_files` on a Dask cluster.

    With keyed blocking both files are cut by block-key range, so no worker holds a
    whole file; otherwise (no blocking, LSH) A is cut into row ranges and every worker
    holds B (or A, for dedupe). ``tls`` connects over TLS.
    """
    check_cluster(workers, scheduler, tls)  # before reading any file
    say = progress or _quiet
    say("reading encoding files")
    a = read_outline(a_path)
    b = read_outline(b_path) if b_path is not None else None
    choice = check_match(a, b, opts)  # refuse bad files or options before starting a cluster
    a_ref = FileRef(str(a_path), a.digest, len(a))
    b_ref = None if b is None or b_path is None else FileRef(str(b_path), b.digest, len(b))
    with dask_client(workers, scheduler, connect_timeout, tls) as client:
        say("searching candidate pairs on the cluster")
        if choice.kind == "keys":
            processes = len(client.nthreads()) or 1
            total = len(a) + (len(b) if b is not None else 0)
            plan = KeyedMatchPlan(
                a_ref,
                b_ref,
                choice.names,
                opts.threshold,
                a.nbits // 64,
                layout(total, partition_rows, processes),
            )
            q, r, s = _match_by_blocks(client, plan, timeout)
        else:
            run = uuid.uuid4().hex[:12]
            futures = [
                client.submit(_match_rows_task, t, pure=False, key=f"pprl-match-{run}-{t.start}")
                for t in row_tasks(a_ref, b_ref, opts, partition_rows)
            ]
            rows = _gather(client, futures, "match", timeout, tuple)
            q, r, s = (
                (np.concatenate([o[i] for o in rows]) for i in range(3))
                if rows
                else (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0))
            )
    return links_table(a, b, q, r, s, opts)
