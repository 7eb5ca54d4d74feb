"""Linking two encoding files (or one file with itself) by Dice similarity.

``pprl match`` is the plain record-linkage mode of the matcher: no link keys needed,
every pair of records at or above a threshold is a candidate, and by default the
candidates are solved into 1:1 links (greedy by descending score, as anonlink does).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from pprl.compare import concat_candidates, iter_candidates
from pprl.compare.blocking import MISSING, BlockKeys, LshBlocking
from pprl.errors import InputError
from pprl.solve import greedy_solve
from pprl.store import Encodings, check_compatible, read_encodings


@dataclass(frozen=True)
class MatchOptions:
    """How to match: threshold, output mode and blocking.

    ``blocking`` is ``"none"``, ``"lsh"`` or ``"keys"`` / ``"keys:NAME,NAME"`` (the keyed
    block keys stored in both encoding files).
    """

    threshold: float = 0.8
    top_k: int | None = None
    all_candidates: bool = False
    blocking: str = "none"
    threads: int | None = None


def key_matrix(enc: Encodings, names: list[str]) -> np.ndarray:
    """(n, len(names)) int64 block-key matrix; missing keys are ``MISSING``."""
    cols = []
    for name in names:
        values, valid = enc.block_keys[name]
        col = values.view(np.int64).copy()
        col[col == MISSING] = MISSING + 1
        col[~valid] = MISSING
        cols.append(col)
    return np.stack(cols, axis=1) if cols else np.empty((len(enc), 0), np.int64)


def make_blocking(spec: str, a: Encodings, b: Encodings | None):
    """Build the blocking strategy named by ``spec`` for these files (None for no blocking)."""
    if spec in ("", "none"):
        return None
    if spec == "lsh":
        return LshBlocking()
    kind, _, names_text = spec.partition(":")
    if kind != "keys":
        raise InputError(f"--blocking '{spec}': expected none, lsh, keys or keys:NAME,NAME")
    files = [a] if b is None else [a, b]
    common = [n for n in a.block_keys if all(n in f.block_keys for f in files)]
    names = [n.strip() for n in names_text.split(",") if n.strip()] or common
    missing = [n for n in names if n not in common]
    if missing or not names:
        raise InputError(f"--blocking '{spec}': block key(s) {', '.join(missing) or '(none)'} not "
                         f"in the encoding file(s) (available: {', '.join(common) or 'none'})")
    qk = key_matrix(a, names)
    return BlockKeys(qk, None if b is None else key_matrix(b, names), aligned=True)


def checked_blocking(a: Encodings, b: Encodings | None, opts: MatchOptions):
    """Check that the files and options can be matched; return the blocking to use."""
    if b is not None:
        check_compatible(a, b)
    if not 0.0 <= opts.threshold <= 1.0:
        raise InputError(f"--threshold must be between 0 and 1, got {opts.threshold}")
    blocking = make_blocking(opts.blocking, a, b)
    if opts.top_k is not None and (blocking is not None or b is None):
        raise InputError("--top-k works only when matching two files without blocking")
    return blocking


def match_files(a_path: str | Path, b_path: str | Path | None, opts: MatchOptions, *,
                workers: int | None = None, scheduler: str | None = None) -> pa.Table:
    """Match file A with file B (or A with itself when ``b_path`` is None).

    Returns a table ``a_row, b_row, score`` of the 1:1 links (default), every candidate
    pair (``all_candidates``) or the ``top_k`` best per A record, in the parties' own row
    numbers, sorted by descending score. ``workers`` (a local Dask cluster of that
    many processes) or ``scheduler`` (a running scheduler's address) run the search on a
    cluster (:mod:`pprl.distributed`) with identical results; ``opts.threads`` is the
    thread count of the single-process engine.
    """
    if workers is not None or scheduler is not None:
        from pprl.distributed import match_distributed

        return match_distributed(a_path, b_path, opts, workers=workers, scheduler=scheduler)
    a = read_encodings(a_path)
    b = read_encodings(b_path) if b_path is not None else None
    blocking = checked_blocking(a, b, opts)
    chunks = iter_candidates(a.clks, None if b is None else b.clks, opts.threshold,
                             top_k=opts.top_k, workers=opts.threads, dedupe=b is None,
                             blocking=blocking)
    cand = concat_candidates(list(chunks))
    return links_table(a, b, cand.q, cand.r, cand.score, opts)


def links_table(a: Encodings, b: Encodings | None, q: np.ndarray, r: np.ndarray,
                s: np.ndarray, opts: MatchOptions) -> pa.Table:
    """Candidate pairs as ``a_row, b_row, score`` in the parties' row numbers, sorted by
    descending score; solved 1:1 unless every candidate or the top k were asked for."""
    if b is not None and not opts.all_candidates and opts.top_k is None:
        q, r, s = greedy_solve(q, r, s)
    order = np.lexsort((r, q, -s))
    other = a if b is None else b
    return pa.table({"a_row": pa.array(a.rows[q[order]], pa.int64()),
                     "b_row": pa.array(other.rows[r[order]], pa.int64()),
                     "score": pa.array(s[order], pa.float64())})


def write_links(table: pa.Table, out: str | Path, csv: bool = False) -> Path:
    """Write links atomically as Parquet (or CSV when ``csv`` or the name ends in .csv)."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from pprl.store import atomic_path

    path = Path(out)
    with atomic_path(path) as tmp:
        if csv or path.suffix.lower() == ".csv":
            pacsv.write_csv(table, tmp)
        else:
            pq.write_table(table, tmp)
    return path
