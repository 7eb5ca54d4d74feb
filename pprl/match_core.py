"""The matching core: options, blocking, plans and per-partition functions of ``pprl match``.

Two plans, each a set of picklable descriptors plus a pure partition function that any
engine runs:

* **row ranges** (:class:`MatchTask`, :func:`match_rows`): A cut into row ranges, each
  compared with the whole of B (or A, for dedupe) — no blocking, LSH, or keyed blocking
  in one process. The local engine runs it as one range covering A.
* **keyed blocks** (:class:`KeyedMatchPlan`, :func:`match_block_partition`): per block
  key, both files cut by block-value range (:mod:`pprl.partition`), so no worker holds a
  whole file; the pairs of all keys are merged (:func:`merge_pairs`).

Nothing here imports an engine (:mod:`pprl.engines`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from pprl.compare import concat_candidates, iter_candidates
from pprl.compare.blocking import MISSING, BlockKeys, LshBlocking
from pprl.compare.search import MAX_TOP_K
from pprl.errors import InputError
from pprl.partition import FileRef, Layout, Piece
from pprl.solve import greedy_solve
from pprl.store import Encodings, Outline, check_compatible

__all__ = [
    "BlockingChoice",
    "KeyedMatchPlan",
    "MatchOptions",
    "MatchTask",
    "PairArrays",
    "check_match",
    "key_column",
    "key_matrix",
    "links_table",
    "make_blocking",
    "match_block_partition",
    "match_rows",
    "merge_pairs",
]

PairArrays = tuple[np.ndarray, np.ndarray, np.ndarray]
"""Candidate pairs as (A index, B index, score) arrays."""


@dataclass(frozen=True)
class MatchOptions:
    """How to match: threshold, output mode, blocking and kernel threads.

    ``auto_threshold``: choose the threshold from the data (:mod:`pprl.threshold`);
    ``threshold`` is then the floor of the search (:func:`pprl.match.match_files` sets
    it). ``blocking`` is ``"none"``, ``"lsh"`` or ``"keys"`` / ``"keys:NAME,NAME"`` (the keyed
    block keys stored in both encoding files); ``threads`` the kernel threads of the
    single-process engine (default: all cores).
    """

    threshold: float = 0.8
    top_k: int | None = None
    all_candidates: bool = False
    blocking: str = "none"
    threads: int | None = None
    auto_threshold: bool = False


@dataclass(frozen=True)
class BlockingChoice:
    """A checked ``--blocking`` option: ``kind`` none, lsh or keys, and the key names."""

    kind: str
    names: tuple[str, ...] = ()


def _choose_blocking(spec: str, a: Outline, b: Outline | None) -> BlockingChoice:
    """Parse and check ``--blocking`` against the files' block keys."""
    if spec in ("", "none"):
        return BlockingChoice("none")
    if spec == "lsh":
        return BlockingChoice("lsh")
    kind, _, names_text = spec.partition(":")
    if kind != "keys":
        raise InputError(f"--blocking '{spec}': expected none, lsh, keys or keys:NAME,NAME")
    files = [a] if b is None else [a, b]
    common = [n for n in a.block_key_names if all(n in f.block_key_names for f in files)]
    names = [n.strip() for n in names_text.split(",") if n.strip()] or common
    missing = [n for n in names if n not in common]
    if missing or not names:
        raise InputError(
            f"--blocking '{spec}': block key(s) {', '.join(missing) or '(none)'} not "
            f"in the encoding file(s) (available: {', '.join(common) or 'none'})"
        )
    return BlockingChoice("keys", tuple(names))


def check_match(a: Outline, b: Outline | None, opts: MatchOptions) -> BlockingChoice:
    """Check that the files and options can be matched; return the blocking to use."""
    if b is not None:
        check_compatible(a, b)
    if not 0.0 <= opts.threshold <= 1.0:
        raise InputError(f"--threshold must be between 0 and 1, got {opts.threshold}")
    if opts.top_k is not None and not 1 <= opts.top_k <= MAX_TOP_K:
        raise InputError(f"--top-k must be between 1 and {MAX_TOP_K}, got {opts.top_k}")
    choice = _choose_blocking(opts.blocking, a, b)
    if opts.top_k is not None and (choice.kind != "none" or b is None):
        raise InputError("--top-k works only when matching two files without blocking")
    return choice


def key_column(values: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """uint64 block-key values as the int64 keys of :class:`BlockKeys`: a value equal to
    ``MISSING`` is moved off it, invalid ones become ``MISSING``."""
    col = values.view(np.int64).copy()
    col[col == MISSING] = MISSING + 1
    if valid is not None:
        col[~valid] = MISSING
    return col


def key_matrix(enc: Encodings, names: Sequence[str]) -> np.ndarray:
    """(n, len(names)) int64 block-key matrix; missing keys are ``MISSING``."""
    cols = [key_column(*enc.block_keys[name]) for name in names]
    return np.stack(cols, axis=1) if cols else np.empty((len(enc), 0), np.int64)


def make_blocking(
    choice: BlockingChoice, a: Encodings, b: Encodings | None
) -> BlockKeys | LshBlocking | None:
    """The blocking strategy of a checked choice for these files (None: no blocking).

    For a dedupe (``b`` None) keyed blocks have no reference keys: the kernel compares
    A with itself.
    """
    if choice.kind == "none":
        return None
    if choice.kind == "lsh":
        return LshBlocking()
    qk = key_matrix(a, choice.names)
    return BlockKeys(qk, None if b is None else key_matrix(b, choice.names), aligned=True)


def links_table(
    a: Outline, b: Outline | None, q: np.ndarray, r: np.ndarray, s: np.ndarray, opts: MatchOptions
) -> pa.Table:
    """Candidate pairs as ``a_row, b_row, score`` in the parties' row numbers, sorted by
    descending score; solved 1:1 unless every candidate or the top k were asked for.

    With ``opts.auto_threshold`` the pairs (found at the floor ``opts.threshold``) are
    cut at the threshold chosen from them, and the table's schema metadata carries the
    :class:`pprl.threshold.ThresholdEstimate` under ``pprl.threshold``."""
    estimate = None
    if opts.auto_threshold:
        from pprl.threshold import estimate_threshold

        estimate = estimate_threshold(
            q, r, s, floor=opts.threshold, n_a=len(a), n_b=None if b is None else len(b)
        )
        keep = s >= estimate.threshold
        q, r, s = q[keep], r[keep], s[keep]
    if b is not None and not opts.all_candidates and opts.top_k is None:
        q, r, s = greedy_solve(q, r, s)
    order = np.lexsort((r, q, -s))
    other = a if b is None else b
    table = pa.table(
        {
            "a_row": pa.array(a.rows[q[order]], pa.int64()),
            "b_row": pa.array(other.rows[r[order]], pa.int64()),
            "score": pa.array(s[order], pa.float64()),
        }
    )
    if estimate is not None:
        from pprl.threshold import METADATA_KEY

        table = table.replace_schema_metadata({METADATA_KEY: estimate.to_json()})
    return table


# ------------------------------------------------------------------ row-range plan


@dataclass(frozen=True)
class MatchTask:
    """One row-range task: files, the range ``[start, stop)`` of A and the options."""

    a: FileRef
    b: FileRef | None
    start: int
    stop: int
    opts: MatchOptions


def match_rows(
    a: Encodings,
    b: Encodings | None,
    blocking: BlockKeys | LshBlocking | None,
    start: int,
    stop: int,
    opts: MatchOptions,
    threads: int | None,
) -> PairArrays:
    """Candidate pairs of A rows ``[start, stop)`` (file indices); with ``b`` None, the
    pairs ``i < j`` within A, each once."""
    if b is None and start == 0 and stop == len(a):  # the whole file: the kernel's dedupe
        cand = concat_candidates(
            list(
                iter_candidates(
                    a.clks,
                    None,
                    opts.threshold,
                    top_k=opts.top_k,
                    workers=threads,
                    dedupe=True,
                    blocking=blocking,
                )
            )
        )
        return cand.q.astype(np.int64), cand.r.astype(np.int64), cand.score
    refs = a.clks if b is None else b.clks
    if isinstance(blocking, BlockKeys):  # a range of A against all of B (or of A)
        refs_keys = blocking.query_keys if blocking.ref_keys is None else blocking.ref_keys
        blocking = BlockKeys(blocking.query_keys[start:stop], refs_keys, aligned=blocking.aligned)
    cand = concat_candidates(
        list(
            iter_candidates(
                a.clks[start:stop],
                refs,
                opts.threshold,
                top_k=opts.top_k,
                workers=threads,
                blocking=blocking,
            )
        )
    )
    q, r, s = cand.q + start, cand.r, cand.score
    if b is None:
        keep = q < r
        q, r, s = q[keep], r[keep], s[keep]
    return q.astype(np.int64), r.astype(np.int64), s


def row_tasks(
    a: FileRef, b: FileRef | None, opts: MatchOptions, partition_rows: int
) -> list[MatchTask]:
    """A cut into row ranges of about ``partition_rows`` (a multiple of 512 rows)."""
    step = max(512, partition_rows // 512 * 512)
    return [MatchTask(a, b, s, min(s + step, a.records), opts) for s in range(0, a.records, step)]


# ------------------------------------------------------------------ keyed-block plan


@dataclass(frozen=True)
class KeyedMatchPlan:
    """Keyed-block matching: per block key in ``names``, A and B (None: dedupe) cut by
    block-value range into ``layout.parts`` partitions."""

    a: FileRef
    b: FileRef | None
    names: tuple[str, ...]
    threshold: float
    words: int
    layout: Layout


def match_block_partition(
    a: Piece, b: Piece | None, threshold: float, threads: int | None
) -> PairArrays:
    """Every pair sharing this block key in one key range with a score ≥ ``threshold``:
    ``(a_index, b_index, score)``; with ``b`` None, pairs ``i < j`` within A."""
    other = a if b is None else b
    empty = np.empty(0, np.int64)
    if not len(a) or not len(other):
        return empty, empty, np.empty(0)
    blk = BlockKeys(
        key_column(a.key, a.valid)[:, None],
        key_column(other.key, other.valid)[:, None],
        aligned=True,
    )
    cand = concat_candidates(
        list(iter_candidates(a.clk, other.clk, threshold, workers=threads, blocking=blk))
    )
    q, r = a.idx[cand.q], other.idx[cand.r]
    keep = q < r if b is None else np.ones(len(q), bool)
    return q[keep], r[keep], cand.score[keep]


def merge_pairs(outs: Sequence[PairArrays], width: int) -> PairArrays:
    """The pairs of every key and partition, each pair once (``width``: B's size)."""
    if not outs:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
    q, r, s = (np.concatenate([o[i] for o in outs]) for i in range(3))
    _, first = np.unique(q * np.int64(width) + r, return_index=True)
    return q[first], r[first], s[first]
