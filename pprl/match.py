"""Linking two encoding files (or one file with itself) by Dice similarity.

``pprl match`` is the plain record-linkage mode of the matcher: no link keys needed,
every pair of records at or above a threshold is a candidate, and by default the
candidates are solved into 1:1 links (greedy by descending score, as anonlink does).

This module is the public entry point: :func:`match_files` picks the engine
(:mod:`pprl.engines.local`, or :mod:`pprl.engines.dask` for a cluster), which runs the
plans of :mod:`pprl.match_core`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from pprl.match_core import MatchOptions, key_matrix, links_table

if TYPE_CHECKING:
    from pprl.engines.dask import TlsFiles

__all__ = ["MatchOptions", "key_matrix", "links_table", "match_files", "write_links"]


def match_files(
    a_path: str | Path,
    b_path: str | Path | None,
    opts: MatchOptions,
    *,
    progress: Callable[[str], None] | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    tls: TlsFiles | None = None,
) -> pa.Table:
    """Match file A with file B (or A with itself when ``b_path`` is None).

    Returns a table ``a_row, b_row, score`` of the 1:1 links (default), every candidate
    pair (``all_candidates``) or the ``top_k`` best per A record, in the parties' own row
    numbers, sorted by descending score. ``workers`` (a local Dask cluster of that many
    processes) or ``scheduler`` (a running scheduler's address) run the search on a
    cluster with identical results; ``opts.threads`` are the kernel threads of the
    single-process engine; ``tls`` (:class:`pprl.engines.dask.TlsFiles`) connects to
    the cluster over TLS. Paths may be fsspec URLs.
    """
    if workers is not None or scheduler is not None:
        from pprl.engines.dask import match_dask

        return match_dask(
            a_path, b_path, opts, progress=progress, workers=workers, scheduler=scheduler, tls=tls
        )
    if tls is not None:
        from pprl.errors import InputError

        raise InputError("TLS applies to a Dask cluster: give --workers or --scheduler too")
    from pprl.engines.local import match_local

    return match_local(a_path, b_path, opts, progress=progress)


def write_links(
    table: pa.Table,
    out: str | Path,
    csv: bool = False,
    *,
    force: bool = True,
    inputs: Sequence[str | Path] = (),
) -> Path:
    """Write links atomically as Parquet (or CSV when ``csv`` or the name ends in .csv;
    spreadsheet-safe, :func:`pprl.csvout.write_csv`).

    ``inputs`` (the encoding files matched) are never overwritten; an existing file is
    replaced only with ``force`` (:func:`pprl.store.atomic_path`)."""
    import pyarrow.parquet as pq

    from pprl.csvout import write_csv
    from pprl.store import atomic_path

    path = Path(out)
    with atomic_path(path, force=force, inputs=inputs) as tmp:
        if csv or path.suffix.lower() == ".csv":
            write_csv(table, tmp)
        else:
            pq.write_table(table, tmp)
    return path
