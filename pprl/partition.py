"""Cutting encoding files into key-range partitions: the map side of every plan.

A plan (:mod:`pprl.verify.plan`, :mod:`pprl.match_core`) cuts each file it needs into
row ranges (:class:`SplitTask`, a picklable descriptor); :func:`split_rows` reads one
range and cuts it into ``parts`` :class:`Piece` s by the range of a key — the
pseudonym's 8-byte join key, or a block key's value. Keys are keyed hashes, so the
ranges fill evenly, and all records sharing a key (one number, one block) land in the
same partition, whichever file or row range they come from.

Nothing here knows about an engine: the local engine makes one whole-file piece per
side (:func:`whole_piece`), the Dask engine runs :func:`split_rows` on its workers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pprl.store import (
    TOKEN_BYTES,
    Encodings,
    block_column,
    fixed_to_numpy,
    read_row_group,
    row_ranges,
)

__all__ = [
    "FileRef",
    "Layout",
    "Piece",
    "SplitTask",
    "concat_pieces",
    "layout",
    "partition_of",
    "split_rows",
    "split_tasks",
    "whole_piece",
]


def partition_of(keys: np.ndarray, parts: int) -> np.ndarray:
    """Partition of each uint64 key: which of ``parts`` equal ranges its top 32 bits fall in.

    Pseudonym join keys and block-key values are keyed hashes, so the ranges fill evenly;
    all records sharing a key land in the same partition.
    """
    top = np.asarray(keys, dtype=np.uint64) >> np.uint64(32)
    return ((top * np.uint64(parts)) >> np.uint64(32)).astype(np.int64)


@dataclass(frozen=True)
class FileRef:
    """An input file as tasks name it: where, which content, and where its records start
    on its side (the register, or several files concatenated)."""

    path: str
    digest: str
    records: int
    offset: int = 0


@dataclass(frozen=True)
class Layout:
    """How many key-range partitions a run uses and how many rows a map task reads."""

    parts: int
    map_rows: int


def layout(total_rows: int, partition_rows: int, processes: int) -> Layout:
    """Partitions for ``total_rows`` records: at most about ``partition_rows`` per
    partition, and at least four per worker process (so a slow one does not hold the
    run up); map tasks read about one partition's worth of rows."""
    parts = max(-(-total_rows // max(1, partition_rows)), 4 * max(1, processes), 1)
    return Layout(parts, max(1, min(partition_rows, -(-total_rows // parts))))


@dataclass
class Piece:
    """Some records of one side of a partition, in file order.

    ``idx`` numbers the records on their side (register rows, or the claims files
    concatenated in order); ``key`` holds the partitioning key: (n, 32) uint8 pseudonyms,
    or (n,) uint64 block-key values. ``valid`` marks the records that have the key;
    None means all of them (pieces cut by :func:`split_rows` hold only those).
    ``attrs`` holds, per block key a plan asked for besides the key (the verification's
    per-attribute evidence), its (uint64 values, valid mask) for these records.
    """

    idx: np.ndarray
    clk: np.ndarray
    key: np.ndarray
    valid: np.ndarray | None = None
    attrs: tuple[tuple[np.ndarray, np.ndarray], ...] = ()

    def __len__(self) -> int:
        return int(self.idx.shape[0])

    def has_key(self) -> np.ndarray:
        """The ``valid`` mask, all True when every record has the key."""
        return np.ones(len(self), bool) if self.valid is None else self.valid


@dataclass(frozen=True)
class SplitTask:
    """One map task: rows ``[start, stop)`` of a row group, cut by one key.

    ``block`` names the block key to cut by; None cuts by the pseudonym. ``offset`` is
    the ``idx`` of the file's first record on its side. ``attrs`` are block keys read
    along (:attr:`Piece.attrs`).
    """

    path: str
    digest: str
    row_group: int
    group_start: int
    start: int
    stop: int
    offset: int
    block: str | None
    parts: int
    attrs: tuple[str, ...] = ()


def split_tasks(
    path: str,
    digest: str,
    block: str | None,
    offset: int,
    lay: Layout,
    attrs: tuple[str, ...] = (),
) -> list[SplitTask]:
    """The map tasks of one file for one key (``attrs``: block keys read along)."""
    return [
        SplitTask(
            path,
            digest,
            r.row_group,
            r.group_start,
            r.start,
            r.stop,
            offset + r.start,
            block,
            lay.parts,
            attrs,
        )
        for r in row_ranges(path, lay.map_rows)
    ]


def split_rows(task: SplitTask) -> list[Piece]:
    """Read one row range and cut it into ``task.parts`` pieces by key range.

    Only records with the key are kept. Records keep their file order inside a piece,
    which keeps the kernels' tie-breaking identical to a single whole-file partition.
    """
    column = "token" if task.block is None else f"block_{task.block}"
    extra = tuple(f"block_{a}" for a in task.attrs if f"block_{a}" != column)
    group, meta = read_row_group(task.path, task.row_group, (column, "clk", *extra), task.digest)
    table = group.slice(task.start - task.group_start, task.stop - task.start)
    nbytes = int(meta.get("nbits", 0)) // 8
    if task.block is None:
        token = table.column("token")
        keep = np.flatnonzero(~np.asarray(token.is_null().to_numpy(zero_copy_only=False)))
        key = fixed_to_numpy(token, TOKEN_BYTES, copy=False)[keep]
        hashed = np.ascontiguousarray(key[:, :8]).view("<u8").ravel()
    else:
        values, valid = block_column(table, task.block, task.path)
        keep = np.flatnonzero(valid)
        key = hashed = values[keep]
    clks = fixed_to_numpy(table.column("clk"), nbytes, copy=False).view("<u8")
    attrs = [block_column(table, a, task.path) for a in task.attrs]
    part = partition_of(hashed, task.parts)
    order = np.argsort(part, kind="stable")
    bounds = np.searchsorted(part[order], np.arange(task.parts + 1))
    pieces = []
    for p in range(task.parts):
        sel = order[bounds[p] : bounds[p + 1]]
        rows = keep[sel]  # one gather of the CLKs, straight from the Arrow buffer
        pieces.append(
            Piece(
                task.offset + rows.astype(np.int64),
                clks[rows],
                key[sel],
                attrs=tuple((v[rows], ok[rows]) for v, ok in attrs),
            )
        )
    return pieces


def whole_piece(
    enc: Encodings, block: str | None, offset: int = 0, attrs: Sequence[str] = ()
) -> Piece:
    """A whole file as one piece (the local engine's single partition); copies nothing.
    ``attrs``: block keys to carry along (a key the file lacks is missing everywhere)."""
    idx = np.arange(offset, offset + len(enc), dtype=np.int64)
    carried = tuple(
        enc.block_keys.get(a) or (np.zeros(len(enc), np.uint64), np.zeros(len(enc), bool))
        for a in attrs
    )
    if block is None:
        return Piece(idx, enc.clks, enc.tokens, enc.has_token, carried)
    values, valid = enc.block_keys[block]
    return Piece(idx, enc.clks, values, valid, carried)


def concat_pieces(pieces: Sequence[Piece], words: int, block: str | None) -> Piece:
    """The pieces of one partition as one piece, in the order given (file order).

    A single piece is returned as it is (no copy).
    """
    if len(pieces) == 1:
        return pieces[0]
    if not pieces:
        key = np.empty((0, TOKEN_BYTES), np.uint8) if block is None else np.empty(0, np.uint64)
        return Piece(np.empty(0, np.int64), np.empty((0, words), np.uint64), key)
    valid = (
        None
        if all(p.valid is None for p in pieces)
        else np.concatenate([p.has_key() for p in pieces])
    )
    width = len(pieces[0].attrs)
    return Piece(
        np.concatenate([p.idx for p in pieces]),
        np.concatenate([p.clk for p in pieces]),
        np.concatenate([p.key for p in pieces]),
        valid,
        tuple(
            (
                np.concatenate([p.attrs[j][0] for p in pieces]),
                np.concatenate([p.attrs[j][1] for p in pieces]),
            )
            for j in range(width)
        ),
    )
