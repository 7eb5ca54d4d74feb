"""Run the encoder's field jobs in several processes, OR-ing their bits into one array.

Every process (this one included) takes the next job from one shared queue, so the
load balances itself, and ORs its fields into its own output buffer: this process
writes straight into the result, each worker into a ``multiprocessing.shared_memory``
segment that this process ORs in at the end. Workers run in a
``concurrent.futures.ProcessPoolExecutor`` with an explicit start method: ``fork``
where the platform has it (the columns and the compiled kernels are shared, nothing
is pickled), else ``forkserver`` (else ``spawn``), where the task is pickled once per
worker.

A job that raises a :class:`~pprl.errors.PprlError` in a worker raises it here; any
other failure of a worker, or its death, raises one :class:`WorkerError`. Segments are
unlinked in every case, also on ``KeyboardInterrupt``.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.context import BaseContext
from multiprocessing.shared_memory import SharedMemory
from multiprocessing.sharedctypes import Synchronized
from typing import Protocol, TypeVar, cast

import numpy as np

from pprl.errors import PprlError

__all__ = ["START_METHODS", "Task", "WorkerError", "idle_cpus", "mp_context", "run_jobs"]

R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)

#: start methods in order of preference (the first the platform offers is used)
START_METHODS: tuple[str, ...] = ("fork", "forkserver", "spawn")

_START_WAIT_S = 0.1  # longest this process waits for the workers' first jobs
_SHM_DIR = "/dev/shm"  # where Linux keeps shared-memory segments (a size-limited tmpfs)


class WorkerError(PprlError):
    """An encoder worker process failed unexpectedly or died."""


class Task(Protocol[R_co]):
    """One job: OR its bits into ``out``; return a failure to report, or None.

    Must be picklable where the start method is not ``fork``.
    """

    def __call__(self, job: int, out: np.ndarray) -> R_co | None: ...


def idle_cpus() -> int:
    """CPUs this process may use that are not already busy (the default process count).

    A second process only pays off when a core is free: on a loaded machine forking
    just adds contention, so the 1-minute load average (which includes this process
    when it is busy) is subtracted from the usable CPUs.
    """
    try:
        ncpu = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        ncpu = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        load = 0.0
    return max(1, min(ncpu, int(ncpu + 1.0 - load)))


def mp_context() -> BaseContext:
    """The multiprocessing context of the first start method in :data:`START_METHODS`
    that this platform offers."""
    available = multiprocessing.get_all_start_methods()
    method = next((m for m in START_METHODS if m in available), "spawn")
    return multiprocessing.get_context(method)


class _Queue:
    """Job ids in the order they are taken, with a cursor shared by all processes."""

    def __init__(self, order: Sequence[int], cursor: Synchronized[int]) -> None:
        self.order = tuple(order)
        self.cursor = cursor

    def take(self) -> int | None:
        """The next job id, or None when all were taken."""
        with self.cursor.get_lock():
            i = self.cursor.value
            if i >= len(self.order):
                return None
            self.cursor.value = i + 1
        return self.order[i]

    def taken(self) -> int:
        """How many jobs were taken so far."""
        return min(int(self.cursor.value), len(self.order))

    def close(self) -> None:
        """Let no process take another job (those running finish)."""
        with self.cursor.get_lock():
            self.cursor.value = len(self.order)


# (failures, whether any job ran): what one process's share of the queue gave
Drained = tuple[list[R], bool]


def _drain(
    task: Task[R],
    take: Callable[[], int | None],
    out: np.ndarray,
    on_done: Callable[[int], None] | None,
) -> Drained[R]:
    """Run the jobs ``take()`` gives into ``out`` until it gives None."""
    failures: list[R] = []
    ran = False
    while (job := take()) is not None:
        ran = True
        res = task(job, out)
        if res is not None:
            failures.append(res)
        if on_done is not None:
            on_done(job)
    return failures, ran


# set in each worker process by _init_worker: the task and the shared queue
_WORKER_STATE: tuple[Task[object], _Queue] | None = None


def _init_worker(task: Task[object], queue: _Queue) -> None:
    """Worker initializer (runs once per worker process).

    Ctrl-C reaches the whole process group: an idle worker ignores it (this process
    shuts the pool down), a worker running jobs stops (see :func:`_worker_drain`).
    """
    global _WORKER_STATE
    _WORKER_STATE = (task, queue)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _close(shm: SharedMemory) -> None:
    """Unmap a segment; if an exception's traceback still holds an array over it, the
    mapping is left to the garbage collector (or the process's exit)."""
    try:
        shm.close()
    except BufferError:
        pass


def _worker_drain(segment: str, shape: tuple[int, int]) -> Drained[object]:
    """In a worker: run jobs from the shared queue into the named segment."""
    assert _WORKER_STATE is not None, "worker not initialized"
    task, queue = _WORKER_STATE
    shm = SharedMemory(name=segment)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return _drain(task, queue.take, np.ndarray(shape, dtype=np.uint64, buffer=shm.buf), None)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _close(shm)


def _shm_free_bytes() -> int | None:
    """Free space for shared memory, where it is a size-limited file system (Linux)."""
    try:
        st = os.statvfs(_SHM_DIR)
    except (AttributeError, OSError):
        return None
    return st.f_bavail * st.f_frsize


def _result(fut: Future[Drained[R]]) -> Drained[R]:
    """A worker's result; its failure as one clean error."""
    try:
        return fut.result()
    except PprlError:
        raise
    except BrokenProcessPool as e:
        raise WorkerError(
            "an encoder worker process died unexpectedly (killed, or out of memory?)"
        ) from e
    except Exception as e:
        raise WorkerError(f"an encoder worker process failed: {type(e).__name__}") from e


def run_jobs(
    task: Task[R],
    jobs: Sequence[int],
    out: np.ndarray,
    *,
    processes: int,
    on_done: Callable[[int], None] | None = None,
) -> list[R]:
    """Run ``task(job, buffer)`` for every job and OR all buffers into ``out``.

    ``out`` is a C-contiguous ``uint64`` 2-D array. Jobs are taken in the given order
    (put the most expensive first). With ``processes`` > 1 and more than one job,
    ``processes - 1`` workers help this process (fewer where shared memory is short).
    ``on_done(job)`` is called in this process after each job it ran itself. Returns
    the tasks' non-None results.
    """
    nworkers = min(processes, len(jobs)) - 1
    if nworkers > 0:
        free = _shm_free_bytes()
        if free is not None:
            nworkers = min(nworkers, int(0.9 * free) // max(out.nbytes, 1))
    if nworkers <= 0:
        it = iter(jobs)
        return _drain(task, lambda: next(it, None), out, on_done)[0]
    return _run_parallel(task, jobs, out, nworkers, on_done)


def _run_parallel(
    task: Task[R],
    jobs: Sequence[int],
    out: np.ndarray,
    nworkers: int,
    on_done: Callable[[int], None] | None,
) -> list[R]:
    """This process and ``nworkers`` workers drain one queue; see :func:`run_jobs`."""
    ctx = mp_context()
    queue = _Queue(jobs, ctx.Value("q", 0))
    shape = (int(out.shape[0]), int(out.shape[1]))
    segments: list[SharedMemory] = []
    executor: ProcessPoolExecutor | None = None
    clean = False
    try:
        for _ in range(nworkers):
            segments.append(SharedMemory(create=True, size=max(out.nbytes, 1)))
        executor = ProcessPoolExecutor(
            nworkers, mp_context=ctx, initializer=_init_worker, initargs=(task, queue)
        )
        # the workers run ``task`` too: what they return is its R
        futures = cast(
            "list[Future[Drained[R]]]",
            [executor.submit(_worker_drain, s.name, shape) for s in segments],
        )
        # Work items reach the workers through the executor's threads, which need the
        # GIL: give them a moment (bounded) before this process starts its own jobs.
        deadline = time.monotonic() + _START_WAIT_S
        while queue.taken() < nworkers and time.monotonic() < deadline:
            time.sleep(0.0005)
        failures, _ = _drain(task, queue.take, out, on_done)
        for fut, seg in zip(futures, segments, strict=True):
            theirs, ran = _result(fut)
            failures.extend(theirs)
            if ran:
                out |= np.ndarray(shape, dtype=np.uint64, buffer=seg.buf)
        clean = True
        return failures
    finally:
        if not clean:
            queue.close()
        if executor is not None:
            # after a failure, don't wait for the workers' last jobs (they take no more)
            executor.shutdown(wait=clean, cancel_futures=True)
        for seg in segments:
            _close(seg)
            try:
                seg.unlink()
            except FileNotFoundError:  # removed by someone else: nothing left to free
                pass
