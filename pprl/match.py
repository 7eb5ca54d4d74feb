"""Linking two encoding files (or one file with itself) by Dice similarity.

``pprl match`` is the plain record-linkage mode of the matcher: no link keys needed,
every pair of records at or above a threshold is a candidate, and by default the
candidates are solved into 1:1 links (greedy by descending score, as anonlink does).

Without a threshold (``MatchOptions(auto_threshold=True)``) the threshold is chosen
from the data (:mod:`pprl.threshold`): the search runs at a floor picked from a sample
of pairs, and the candidates are cut at the threshold with the best estimated F1;
:func:`threshold_estimate` reads the estimate back from the links table.

This module is the public entry point: :func:`match_files` picks the engine
(:mod:`pprl.engines.local`, or :mod:`pprl.engines.dask` for a cluster), which runs the
plans of :mod:`pprl.match_core`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from pprl.match_core import MatchOptions, key_matrix, links_table
from pprl.threshold import METADATA_KEY, ThresholdEstimate

if TYPE_CHECKING:
    from pprl.engines.dask import TlsFiles

__all__ = [
    "MatchOptions",
    "ThresholdEstimate",
    "key_matrix",
    "links_table",
    "match_files",
    "threshold_estimate",
    "write_links",
]

SAMPLE_ROWS = 2000
"""Rows of each file (from its first row group) whose pairs pick the search floor."""


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
    the cluster over TLS. Paths may be fsspec URLs. With ``opts.auto_threshold`` the
    threshold is chosen from the data (its estimate: :func:`threshold_estimate`).
    """
    if opts.auto_threshold:
        opts = replace(opts, threshold=_floor(a_path, b_path))
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


def _sample(path: str | Path) -> tuple[np.ndarray, int]:
    """Up to :data:`SAMPLE_ROWS` CLKs spread over a file's first row group, and the
    file's record count."""
    from pprl.store import fixed_to_numpy, read_outline, read_row_group

    outline = read_outline(path)
    if len(outline) == 0:
        return np.zeros((0, max(1, outline.nbits // 64)), np.uint64), 0
    table, _ = read_row_group(str(path), 0, ("clk",), outline.digest)
    clks = fixed_to_numpy(table.column("clk"), outline.nbits // 8).view("<u8")
    take = np.unique(np.linspace(0, clks.shape[0] - 1, min(SAMPLE_ROWS, clks.shape[0])).astype(int))
    return np.ascontiguousarray(clks[take]).astype(np.uint64, copy=False), len(outline)


def _floor(a_path: str | Path, b_path: str | Path | None) -> float:
    """The search floor for a threshold chosen from the data
    (:func:`pprl.threshold.search_floor` on samples of the files)."""
    from pprl.threshold import search_floor

    a_sample, n_a = _sample(a_path)
    if b_path is None:
        return search_floor(a_sample, None, n_a, None)
    b_sample, n_b = _sample(b_path)
    if a_sample.shape[1] != b_sample.shape[1]:
        return search_floor(a_sample, None, 0, None)  # the match refuses the files next
    return search_floor(a_sample, b_sample, n_a, n_b)


def threshold_estimate(table: pa.Table) -> ThresholdEstimate | None:
    """The threshold estimate a links table carries (None: an explicit threshold)."""
    meta = table.schema.metadata or {}
    text = meta.get(METADATA_KEY)
    return None if text is None else ThresholdEstimate.from_json(text)


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
