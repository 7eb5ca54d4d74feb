"""Engines: run the plans of the verification core (:mod:`pprl.verify.plan`) and of
matching (:mod:`pprl.match_core`).

* :mod:`pprl.engines.local` — one process: every stage as one whole-file partition;
* :mod:`pprl.engines.dask` — a Dask cluster: the same plan as many key-range partitions,
  imported only when a cluster is asked for.

Engines depend on the core, never the reverse (``tests/test_architecture.py``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime

from pprl.errors import InputError

__all__ = ["kernel_threads", "started_at"]


def started_at() -> str:
    """Now as ISO 8601 UTC (seconds), for a run's summary."""
    return datetime.now(UTC).isoformat(timespec="seconds")


@contextlib.contextmanager
def kernel_threads(threads: int | None) -> Iterator[int]:
    """Run the numba kernels with ``threads`` threads (None: as configured, by default
    every core) and restore the previous count afterwards; yields the count used."""
    import numba

    previous = numba.get_num_threads()
    if threads is not None and threads < 1:
        raise InputError(f"threads must be at least 1, got {threads}")
    limit = int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]
    n = previous if threads is None else max(1, min(threads, limit))
    numba.set_num_threads(n)
    try:
        yield n
    finally:
        numba.set_num_threads(previous)
