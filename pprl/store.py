"""Encoding files: what a data holder sends to the matcher.

An encoding file is a Parquet file with one row per input record:

* ``row``   int64, the 0-based data row of the party's CSV;
* ``token`` fixed_size_binary(32), the keyed link-key pseudonym, null when the record
  had no valid link key;
* ``clk``   fixed_size_binary(l/8), the CLK exactly as clkhash serializes it;
* ``block_<name>`` uint64, one column per keyed block key, null when a part is missing.

The Parquet key-value metadata ``pprl`` holds a JSON object with the format version,
schema (document and digest), key fingerprint, party label, role (``register`` or
``claims``), record count and a blake3 digest of the rest of the metadata and of all
column contents. Parquet keeps two copies of it in the footer (the key-value entry and
the serialized Arrow schema); both must be present and byte-for-byte equal.
:func:`read_encodings` checks every part of it and refuses truncated, edited or
inconsistent files: a removed or edited metadata field changes the digest.

Files are written to a temporary name and renamed, so a failed run leaves nothing.
"""

from __future__ import annotations

import base64
import binascii
import errno
import json
import os
import re
import shutil
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from blake3 import blake3

from pprl import __version__
from pprl.boundedjson import loads_bounded, read_bounded
from pprl.errors import InputError, IntegrityError, MismatchError, PprlError
from pprl.labels import validate_label
from pprl.resultset import output_file, scratch_path

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "METADATA_KEY",
    "ROLES",
    "TOKEN_BYTES",
    "Encodings",
    "Outline",
    "RowRange",
    "atomic_path",
    "bit_statistics",
    "blip_generator",
    "block_column",
    "check_compatible",
    "check_file",
    "check_metadata",
    "check_roles",
    "concat_encodings",
    "content_digest",
    "duplicate_tokens",
    "EncodingsWriter",
    "encodings_writer",
    "field_digests",
    "file_metadata",
    "fixed_to_numpy",
    "is_url",
    "open_input",
    "process_cache",
    "read_encodings",
    "read_outline",
    "read_row_group",
    "row_ranges",
    "streamed_digest",
    "to_table",
    "token_groups",
    "unreadable",
    "write_clkhash_json",
    "write_encodings",
]

FORMAT = "pprl-encodings"
FORMAT_VERSION = 2
"""2: the digest covers the metadata, files record their role, both copies must agree."""
METADATA_KEY = b"pprl"
ARROW_SCHEMA_KEY = b"ARROW:schema"
TOKEN_BYTES = 32
ROLES = ("register", "claims")
"""What a file is for: the register holder's reference, or a claims party's claims."""
MAX_NBITS = 1 << 16  # the schema's bound on clkConfig.l
MAX_METADATA_BYTES = 1 << 20
MAX_BLOCK_KEYS = 64
_HEX = re.compile(r"[0-9a-f]+")


@dataclass
class Encodings:
    """The contents of an encoding file, as numpy arrays.

    ``clks`` is uint64 (n, l/64); ``tokens`` is uint8 (n, 32) with ``has_token`` marking
    non-null pseudonyms; ``block_keys`` maps block-key name to (uint64 values, valid mask).
    """

    rows: np.ndarray
    tokens: np.ndarray
    has_token: np.ndarray
    clks: np.ndarray
    block_keys: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    def __len__(self) -> int:
        return int(self.rows.shape[0])

    @property
    def nbits(self) -> int:
        """CLK length in bits."""
        return int(self.clks.shape[1] * 64)

    @property
    def label(self) -> str:
        """The party label, or the file name when none was given."""
        return str(self.meta.get("party") or (self.path.name if self.path else "encodings"))

    @property
    def role(self) -> str | None:
        """``register``, ``claims``, or None when the file does not say."""
        role = self.meta.get("role")
        return str(role) if role is not None else None

    def outline(self) -> Outline:
        """This file's :class:`Outline` (shares the arrays, copies nothing)."""
        return Outline(
            rows=self.rows,
            has_token=self.has_token,
            meta=self.meta,
            path=self.path,
            block_key_names=tuple(self.block_keys),
        )


@dataclass
class Outline:
    """What a run's driver keeps of an encoding file: rows, which records carry a
    pseudonym, and the metadata; no CLKs, pseudonyms or block-key values, so its memory
    does not grow with the CLKs. :func:`read_outline` reads one from a file or URL;
    :meth:`Encodings.outline` gives the outline of a file already read."""

    rows: np.ndarray
    has_token: np.ndarray
    meta: dict[str, Any]
    path: Path | None = None
    block_key_names: tuple[str, ...] = ()

    def __len__(self) -> int:
        return int(self.rows.shape[0])

    @property
    def nbits(self) -> int:
        """CLK length in bits."""
        return int(self.meta.get("nbits", 0))

    @property
    def label(self) -> str:
        """The party label, or the file name when none was given."""
        return str(self.meta.get("party") or (self.path.name if self.path else "encodings"))

    @property
    def digest(self) -> str:
        """The content digest recorded in the file's metadata ("" when none)."""
        return str(self.meta.get("digest") or "")

    @property
    def role(self) -> str | None:
        """``register``, ``claims``, or None when the file does not say."""
        role = self.meta.get("role")
        return str(role) if role is not None else None


DIGEST_BLOCK = 1 << 16  # rows per update: bounded temporaries for masked columns


def _buffer(array: np.ndarray, dtype: str | type) -> memoryview:
    """The bytes of an array in a fixed dtype, without a copy when it already is one."""
    flat = np.ascontiguousarray(array, dtype=dtype).reshape(-1)
    return flat.view(np.uint8).data


def _metadata_bytes(meta: dict[str, Any]) -> bytes:
    """The canonical bytes of the metadata the digest covers: every field but the
    digest itself (format version, key fingerprint, schema and its digest, party,
    role, count, filter length, block keys, ...), keys sorted, no whitespace."""
    covered = {k: v for k, v in meta.items() if k != "digest"}
    text = json.dumps(covered, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8")


def _digest_start(meta: dict[str, Any]) -> blake3:
    """A blake3 hasher that has taken the covered metadata, length-prefixed so that
    no metadata can pass for column bytes."""
    covered = _metadata_bytes(meta)
    h = blake3()
    h.update(b"pprl-encodings metadata\0")
    h.update(len(covered).to_bytes(8, "little"))
    h.update(covered)
    return h


def content_digest(enc: Encodings, meta: dict[str, Any] | None = None) -> str:
    """blake3 over the metadata (all but the digest; ``meta``, default ``enc.meta``) and
    every column's bytes, in a fixed order; detects any edit of data or metadata.

    Hashes the arrays in place (large CLK arrays are never copied) and masks null
    tokens and block keys block by block.
    """
    h = _digest_start(enc.meta if meta is None else meta)
    h.update(_buffer(enc.rows, "<i8"))
    h.update(_buffer(enc.has_token, np.uint8))
    for start in range(0, len(enc), DIGEST_BLOCK):
        stop = start + DIGEST_BLOCK
        h.update(
            _buffer(np.where(enc.has_token[start:stop, None], enc.tokens[start:stop], 0), np.uint8)
        )
    h.update(_buffer(enc.clks, "<u8"))
    for name in sorted(enc.block_keys):
        values, valid = enc.block_keys[name]
        h.update(name.encode("utf-8"))
        h.update(_buffer(valid, np.uint8))
        h.update(_buffer(np.where(valid, values, 0), "<u8"))
    return h.hexdigest()


@contextmanager
def atomic_path(
    path: str | os.PathLike[str],
    *,
    force: bool = True,
    inputs: Sequence[str | os.PathLike[str]] = (),
) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it into place only on success.

    :func:`pprl.resultset.output_file`: an input of the run (``inputs``: the CSV, the
    key file) is never overwritten; an existing file only with ``force``; the temporary
    name is recognisable and a killed run's is removed by the next write.
    """
    with output_file(path, force=force, inputs=inputs) as tmp:
        yield tmp


def _fixed_binary(values: np.ndarray, width: int, valid: np.ndarray | None = None) -> pa.Array:
    """Build a fixed_size_binary arrow array from an (n, width) uint8 view, zero-copy."""
    n = values.shape[0]
    data = pa.py_buffer(np.ascontiguousarray(values).view(np.uint8).reshape(n * width))
    if valid is None or valid.all():
        return pa.Array.from_buffers(pa.binary(width), n, [None, data])
    mask = pa.array(valid, type=pa.bool_()).buffers()[1]
    return pa.Array.from_buffers(pa.binary(width), n, [mask, data], null_count=int(n - valid.sum()))


def _columns(enc: Encodings) -> dict[str, pa.Array]:
    """The Arrow columns of an encoding file, in file order (zero-copy where possible)."""
    nbytes = enc.clks.shape[1] * 8
    arrays = {
        "row": pa.array(enc.rows, type=pa.int64()),
        "token": _fixed_binary(enc.tokens, TOKEN_BYTES, enc.has_token),
        "clk": _fixed_binary(enc.clks.astype("<u8", copy=False).view(np.uint8), nbytes),
    }
    for name, (values, valid) in enc.block_keys.items():
        arrays[f"block_{name}"] = pa.array(values, type=pa.uint64(), mask=~valid)
    return arrays


def _file_meta(
    meta: dict[str, Any], count: int, nbits: int, block_keys: Sequence[str]
) -> dict[str, Any]:
    """The metadata an encoding file of ``count`` records records, all but the content
    digest: ``meta`` (the encoder's: party, role, schema, key fingerprint, ...) with the
    format fields and the per-field digests; refuses an invalid role or party label."""
    out = {k: v for k, v in meta.items() if k != "digest"}
    out.update(
        format=FORMAT,
        format_version=FORMAT_VERSION,
        count=count,
        nbits=nbits,
        block_keys=sorted(block_keys),
    )
    out.setdefault("pprl_version", __version__)
    if out.get("role") is not None and out["role"] not in ROLES:
        raise InputError(f"role must be one of {', '.join(ROLES)}, got {out['role']!r}")
    if out.get("party") is not None:
        validate_label(out["party"])
    out["field_digests"] = field_digests(out)
    return out


def to_table(enc: Encodings) -> pa.Table:
    """Arrow table of an :class:`Encodings` with the pprl metadata attached."""
    meta = _file_meta(enc.meta, len(enc), enc.nbits, list(enc.block_keys))
    meta["digest"] = content_digest(enc, meta)
    table = pa.table(_columns(enc))
    return table.replace_schema_metadata({METADATA_KEY: json.dumps(meta, ensure_ascii=False)})


_PLAIN = ("clk", "token")  # random-looking bytes: stored plain (see write_encodings)


def _parquet_options(names: Sequence[str]) -> dict[str, Any]:
    """The Parquet writer options of an encoding file with these columns."""
    others = [name for name in names if name not in _PLAIN]
    return {
        "compression": {name: "none" if name in _PLAIN else "zstd" for name in names},
        "use_dictionary": others,
        "write_statistics": others,
    }


def write_encodings(
    enc: Encodings,
    path: str | os.PathLike[str],
    row_group_size: int = 1 << 20,
    *,
    force: bool = True,
    inputs: Sequence[str | os.PathLike[str]] = (),
) -> Path:
    """Write an encoding file atomically (temp file, then rename; see :func:`atomic_path`
    for ``force`` and ``inputs``).

    CLKs and pseudonyms are random-looking bytes that neither compress nor repeat, so
    they are stored plain (no zstd, no dictionary, no min/max statistics): the file is
    about 5% larger and the CLK column reads about five times faster, which every
    comparison run (and every stage of the Dask engine) pays. Row numbers and block
    keys keep zstd and dictionaries. :class:`EncodingsWriter` writes the same bytes
    from chunks, in bounded memory.
    """
    table = to_table(enc)
    with atomic_path(path, force=force, inputs=inputs) as tmp:
        pq.write_table(
            table, tmp, row_group_size=row_group_size, **_parquet_options(table.column_names)
        )
    enc.meta = json.loads(table.schema.metadata[METADATA_KEY])
    return Path(path)


def write_clkhash_json(
    enc: Encodings,
    path: str | os.PathLike[str],
    *,
    force: bool = True,
    inputs: Sequence[str | os.PathLike[str]] = (),
) -> Path:
    """Write clkhash's ``{"clks": [base64, ...]}`` so anonlink tools can read the CLKs
    (``force``, ``inputs``: :func:`atomic_path`)."""
    raw = enc.clks.astype("<u8", copy=False).tobytes()
    width = enc.clks.shape[1] * 8
    clks = [
        base64.b64encode(raw[i * width : (i + 1) * width]).decode("ascii") for i in range(len(enc))
    ]
    with atomic_path(path, force=force, inputs=inputs) as tmp:
        tmp.write_text(json.dumps({"clks": clks}), encoding="utf-8")
    return Path(path)


# ------------------------------------------------------------------ writing from chunks

MEMORY_ROWS = 1 << 20
"""Records an :class:`EncodingsWriter` keeps in memory; a file with more is spilled."""
SPILL_BLOCK = 1 << 18  # records per read of a spilled column while digesting


def concat_encodings(parts: Sequence[Encodings]) -> Encodings:
    """Join chunk encodings of one file (same schema and secret) into one."""
    first = parts[0]
    if len(parts) == 1:
        return first
    return Encodings(
        rows=np.concatenate([p.rows for p in parts]),
        tokens=np.concatenate([p.tokens for p in parts]),
        has_token=np.concatenate([p.has_token for p in parts]),
        clks=np.concatenate([p.clks for p in parts]),
        block_keys={
            name: (
                np.concatenate([p.block_keys[name][0] for p in parts]),
                np.concatenate([p.block_keys[name][1] for p in parts]),
            )
            for name in first.block_keys
        },
        meta=first.meta,
    )


def _disk_full(exc: OSError) -> bool:
    """Whether an OS error (Python's or Arrow's, which carries no errno) is a full disk."""
    return exc.errno in (errno.ENOSPC, errno.EDQUOT) or "No space left on device" in str(exc)


class EncodingsWriter:
    """Writes one encoding file from its chunks (:meth:`add`) in bounded memory.

    Made by :func:`encodings_writer`, which owns the temporary file and the spill. The
    file is byte-for-byte the one :func:`write_encodings` writes for the chunks joined
    (:func:`concat_encodings`), but the content digest, which the metadata at the head
    of the Arrow schema must carry, covers each column over all records in turn: so a
    file with more than ``memory_rows`` records is first spilled to disk, one raw file
    per column in a scratch folder beside the output, then digested column by column
    and written row group by row group from the spill. Memory stays at one chunk plus
    one row group; the spill needs about the output's size again on the same disk.

    ``format="clkhash-json"`` writes clkhash's ``{"clks": [...]}`` as the chunks come
    (:func:`write_clkhash_json`'s bytes), with no spill.
    """

    def __init__(
        self,
        tmp: Path,
        spill: Path,
        *,
        format: str = "parquet",
        row_group_size: int = 1 << 20,
        memory_rows: int = MEMORY_ROWS,
    ) -> None:
        if format not in ("parquet", "clkhash-json"):
            raise InputError(f"format must be parquet or clkhash-json, got {format!r}")
        self.format = format
        self.count = 0
        self.meta: dict[str, Any] = {}
        self._tmp, self._spill = tmp, spill
        self._row_group_size, self._memory_rows = max(1, row_group_size), memory_rows
        self._held: list[Encodings] = []
        self._files: dict[str, IO[bytes]] = {}
        self._names: tuple[str, ...] = ()
        self._words = -1  # 64-bit words per CLK, once the first chunk is seen
        self._json: IO[str] | None = None

    # ----------------------------------------------------------------- taking chunks

    def add(self, part: Encodings) -> None:
        """Take the next chunk (rows in file order)."""
        if self._words < 0:
            self._words, self._names, self.meta = (
                part.clks.shape[1],
                tuple(part.block_keys),
                part.meta,
            )
            if self.format == "parquet":
                _file_meta(part.meta, 0, part.nbits, self._names)  # refuse a bad label now
        elif part.clks.shape[1] != self._words or tuple(part.block_keys) != self._names:
            raise ValueError("chunks of one encoding file must share CLK length and block keys")
        self.count += len(part)
        if self.format == "clkhash-json":
            self._add_json(part)
        elif self._files:
            self._append(part)
        else:
            self._held.append(part)
            if self.count > self._memory_rows:
                self._open_spill()
                for held in self._held:
                    self._append(held)
                self._held.clear()

    def _open_spill(self) -> None:
        self._spill.mkdir(mode=0o700)
        names = ["row", "has", "token", "clk"]
        names += [f"{kind}{i}" for i in range(len(self._names)) for kind in ("valid", "block")]
        for name in names:
            self._files[name] = open(self._spill / name, "wb")  # noqa: SIM115 (closed by close)

    def _append(self, part: Encodings) -> None:
        f = self._files
        f["row"].write(_buffer(part.rows, "<i8"))
        f["has"].write(_buffer(part.has_token, np.uint8))
        f["token"].write(_buffer(part.tokens, np.uint8))
        f["clk"].write(_buffer(part.clks, "<u8"))
        for i, name in enumerate(self._names):
            values, valid = part.block_keys[name]
            f[f"valid{i}"].write(_buffer(valid, np.uint8))
            f[f"block{i}"].write(_buffer(values, "<u8"))

    def _add_json(self, part: Encodings) -> None:
        if self._json is None:
            self._json = open(self._tmp, "w", encoding="utf-8")  # noqa: SIM115 (see discard)
            self._json.write('{"clks": [')
        raw = part.clks.astype("<u8", copy=False).tobytes()
        width = self._words * 8
        written = self.count - len(part)  # CLKs written before this chunk's
        for i in range(len(part)):
            clk = base64.b64encode(raw[i * width : (i + 1) * width]).decode("ascii")
            self._json.write(f'{", " if written + i else ""}"{clk}"')

    # ------------------------------------------------------------------ finishing

    def finish(self) -> None:
        """Write the file into the temporary path (every chunk has been added)."""
        if self._words < 0:
            raise ValueError("an encoding file needs at least one chunk, even an empty one")
        if self.format == "clkhash-json":
            assert self._json is not None
            self._json.write("]}")
            self._json.close()
            return
        if not self._files:  # small: as write_encodings
            enc = concat_encodings(self._held)
            self._held.clear()
            table = to_table(enc)
            pq.write_table(
                table,
                self._tmp,
                row_group_size=self._row_group_size,
                **_parquet_options(table.column_names),
            )
            self.meta = json.loads(table.schema.metadata[METADATA_KEY])
            return
        for f in self._files.values():
            f.close()
        meta = _file_meta(self.meta, self.count, self._words * 64, self._names)
        meta["digest"] = self._spill_digest(meta)
        self._write_from_spill(meta)
        self.meta = meta

    def _read(self, name: str, dtype: str | type, width: int = 1) -> Iterator[np.ndarray]:
        """A spilled column, ``SPILL_BLOCK`` records at a time ((n, width) when width > 1)."""
        with open(self._spill / name, "rb") as f:
            for start in range(0, self.count, SPILL_BLOCK):
                n = min(SPILL_BLOCK, self.count - start)
                block = np.fromfile(f, dtype=dtype, count=n * width)
                if len(block) != n * width:
                    raise OSError(errno.EIO, f"spill file {name} is short")
                yield block.reshape(n, width) if width > 1 else block

    def _spill_digest(self, meta: dict[str, Any]) -> str:
        """:func:`content_digest` of the spilled records: the same bytes, column by column."""
        h = _digest_start(meta)
        for rows in self._read("row", "<i8"):
            h.update(_buffer(rows, "<i8"))
        for has in self._read("has", np.uint8):
            h.update(_buffer(has, np.uint8))
        tokens = zip(
            self._read("has", np.bool_), self._read("token", np.uint8, TOKEN_BYTES), strict=True
        )
        for has, token in tokens:
            h.update(_buffer(np.where(has[:, None], token, 0), np.uint8))
        for clks in self._read("clk", "<u8", self._words):
            h.update(_buffer(clks, "<u8"))
        for name in sorted(self._names):
            i = self._names.index(name)
            h.update(name.encode("utf-8"))
            for valid in self._read(f"valid{i}", np.uint8):
                h.update(_buffer(valid, np.uint8))
            blocks = zip(
                self._read(f"valid{i}", np.bool_), self._read(f"block{i}", "<u8"), strict=True
            )
            for valid, values in blocks:
                h.update(_buffer(np.where(valid, values, 0), "<u8"))
        return h.hexdigest()

    def _write_from_spill(self, meta: dict[str, Any]) -> None:
        """Write the Parquet file one row group at a time from the spill."""
        size = self._row_group_size
        readers = {
            name: open(self._spill / name, "rb")  # noqa: SIM115 (closed below)
            for name in self._files
        }
        names = ["row", "token", "clk", *(f"block_{n}" for n in self._names)]
        schema = pa.schema(
            [
                pa.field("row", pa.int64()),
                pa.field("token", pa.binary(TOKEN_BYTES)),
                pa.field("clk", pa.binary(self._words * 8)),
                *(pa.field(f"block_{n}", pa.uint64()) for n in self._names),
            ],
            metadata={METADATA_KEY: json.dumps(meta, ensure_ascii=False)},
        )

        def take(name: str, dtype: str | type, count: int) -> np.ndarray:
            block = np.fromfile(readers[name], dtype=dtype, count=count)
            if len(block) != count:
                raise OSError(errno.EIO, f"spill file {name} is short")
            return block

        try:
            with pq.ParquetWriter(self._tmp, schema, **_parquet_options(names)) as writer:
                for start in range(0, self.count, size):
                    n = min(size, self.count - start)
                    part = Encodings(
                        rows=take("row", "<i8", n),
                        has_token=take("has", np.bool_, n),
                        tokens=take("token", np.uint8, n * TOKEN_BYTES).reshape(n, TOKEN_BYTES),
                        clks=take("clk", "<u8", n * self._words).reshape(n, self._words),
                        block_keys={
                            name: (take(f"block{i}", "<u8", n), take(f"valid{i}", np.bool_, n))
                            for i, name in enumerate(self._names)
                        },
                    )
                    table = pa.table(_columns(part))
                    writer.write_table(table, row_group_size=size)
        finally:
            for f in readers.values():
                f.close()

    def discard(self) -> None:
        """Close and remove the spill (and any open file); safe to call more than once."""
        self._held.clear()
        for f in self._files.values():
            try:
                f.close()
            except OSError:
                pass  # a full disk on the last flush: the folder goes anyway
        if self._json is not None:
            try:
                self._json.close()
            except OSError:
                pass
        shutil.rmtree(self._spill, ignore_errors=True)


@contextmanager
def encodings_writer(
    path: str | os.PathLike[str],
    *,
    format: str = "parquet",
    row_group_size: int = 1 << 20,
    memory_rows: int = MEMORY_ROWS,
    force: bool = True,
    inputs: Sequence[str | os.PathLike[str]] = (),
) -> Iterator[EncodingsWriter]:
    """An :class:`EncodingsWriter` for ``path``: add every chunk inside the block; the
    file is written and renamed into place when it ends (``writer.meta`` then holds the
    metadata written, ``writer.count`` the records). On any error or interrupt the
    temporary file and the spill are removed and ``path`` is left as it was; a killed
    run's are removed by the next write (:func:`atomic_path`). A full disk is one line.
    """
    with atomic_path(path, force=force, inputs=inputs) as tmp:
        writer = EncodingsWriter(
            tmp,
            scratch_path(path),
            format=format,
            row_group_size=row_group_size,
            memory_rows=memory_rows,
        )
        try:
            yield writer
            writer.finish()
        except OSError as exc:
            if not _disk_full(exc):
                raise
            raise InputError(
                f"cannot write {path}: no space left on device; nothing was written (a file "
                f"of over {memory_rows:,} records needs about twice its size free beside it)"
            ) from None
        finally:
            writer.discard()


def read_encodings(path: str | os.PathLike[str]) -> Encodings:
    """Read and check an encoding file (pprl Parquet, or clkhash JSON for interop).

    Parquet row groups are read one at a time into preallocated arrays, so reading
    needs little more memory than the result. Raises :class:`IntegrityError` for
    truncated, edited or inconsistent files and :class:`InputError` for files that are
    not encodings at all.
    """
    p = Path(str(path))
    if not is_url(path) and not p.is_file():
        raise InputError(f"{p}: file not found")
    if p.suffix.lower() == ".json" and not is_url(path):
        return _read_clkhash_json(p)
    with open_input(path) as source:
        try:
            pf = pq.ParquetFile(source)
            meta = file_metadata(pf, p)
            enc = _read_row_groups(pf, meta, p)
        except (pa.ArrowException, OSError) as exc:
            raise unreadable(p, exc) from None
    _check_digest(enc, p)
    return enc


# ----------------------------------------------------------- URLs, outlines, row ranges


def is_url(path: str | os.PathLike[str]) -> bool:
    """True for fsspec URLs (``s3://...``, ``file://...``): read through fsspec."""
    return "://" in str(path)


@contextmanager
def open_input(path: str | os.PathLike[str]) -> Iterator[str | IO[bytes]]:
    """A local path as is (Arrow opens it itself), or an open fsspec file for a URL.

    A URL that cannot be opened is a one-line :class:`InputError`.
    """
    if not is_url(path):
        yield str(path)
        return
    import fsspec

    try:
        opened = fsspec.open(str(path), "rb")
        f = opened.open()
    except (OSError, ValueError, ImportError) as exc:
        raise InputError(f"{path}: cannot open ({str(exc).splitlines()[0][:120]})") from None
    try:
        yield f
    finally:
        f.close()


def read_outline(path: str | os.PathLike[str]) -> Outline:
    """An encoding file's :class:`Outline` (rows, pseudonym presence, metadata), read one
    row group at a time; the content digest is checked by :func:`check_file`."""
    p = Path(str(path))
    if not is_url(path) and not p.is_file():
        raise InputError(f"{path}: file not found")
    with open_input(path) as source:
        try:
            pf = pq.ParquetFile(source)
            meta = file_metadata(pf, path)
            n = pf.metadata.num_rows
            rows, has = np.empty(n, np.int64), np.empty(n, bool)
            at = 0
            for rg in range(pf.num_row_groups):
                table = pf.read_row_group(rg, columns=["row", "token"])
                stop = at + table.num_rows
                rows[at:stop] = table.column("row").to_numpy()
                has[at:stop] = ~np.asarray(
                    table.column("token").is_null().to_numpy(zero_copy_only=False)
                )
                at = stop
        except (pa.ArrowException, OSError, KeyError) as exc:
            raise IntegrityError(
                f"{path}: not a readable encoding file ({str(exc).splitlines()[0][:120]})"
            ) from None
    return Outline(
        rows=rows,
        has_token=has,
        meta=meta,
        path=p,
        block_key_names=tuple(meta.get("block_keys", [])),
    )


def check_file(path: str, digest: str) -> None:
    """Check a whole encoding file against an expected digest, streaming (one column of one
    row group at a time, so a Dask worker can check a file it never holds whole)."""
    with open_input(path) as source:
        try:
            pf = pq.ParquetFile(source)
            meta = file_metadata(pf, path)
            actual = streamed_digest(pf, meta, path)
        except (pa.ArrowException, OSError) as exc:
            raise unreadable(path, exc) from None
    if meta.get("digest") != digest:
        raise IntegrityError(f"{path}: the file changed while it was being verified")
    if actual != digest:
        raise IntegrityError(
            f"{path}: content digest mismatch: the file was modified after encoding"
        )


@dataclass(frozen=True)
class RowRange:
    """Rows ``[start, stop)`` of a file, inside row group ``row_group`` whose first row is
    ``group_start``: a task reads exactly one row group."""

    row_group: int
    group_start: int
    start: int
    stop: int


def row_ranges(path: str | os.PathLike[str], partition_rows: int) -> list[RowRange]:
    """A file cut into ranges of at most about ``partition_rows`` rows that never cross
    a row group."""
    with open_input(path) as source:
        md = pq.ParquetFile(source).metadata
    out, offset = [], 0
    for rg in range(md.num_row_groups):
        n = md.row_group(rg).num_rows
        pieces = max(1, -(-n // max(1, partition_rows)))
        bounds = np.linspace(0, n, pieces + 1).round().astype(int)
        out += [
            RowRange(rg, offset, offset + int(a), offset + int(b))
            for a, b in zip(bounds[:-1], bounds[1:], strict=True)
            if b > a
        ]
        offset += n
    return out


_T = TypeVar("_T")
_CACHE: dict[str, tuple[tuple[object, ...], object]] = {}
_CACHE_LOCK = threading.Lock()


def process_cache(key: tuple[object, ...], build: Callable[[], _T]) -> _T:
    """One cached value per kind of key (``key[0]``) per process: the last one built.

    The lock guards the dictionary only; ``build`` (a Parquet read) runs outside it, so
    threads reading different row groups do not wait for each other. Two threads asking
    for the same missing key may both build it; the values are equal.
    """
    kind = str(key[0])
    with _CACHE_LOCK:
        hit = _CACHE.get(kind)
    if hit is not None and hit[0] == key:
        return hit[1]  # type: ignore[return-value]
    value = build()
    with _CACHE_LOCK:
        _CACHE[kind] = (key, value)
    return value


def read_row_group(
    path: str, row_group: int, columns: tuple[str, ...], digest: str
) -> tuple[pa.Table, dict[str, Any]]:
    """Some columns of one row group, after checking the file's metadata and that its
    digest claim is ``digest`` (cached per process: the row group read last)."""

    def build() -> tuple[pa.Table, dict[str, Any]]:
        with open_input(path) as source:
            try:
                pf = pq.ParquetFile(source)
                meta = file_metadata(pf, path)
                table = pf.read_row_group(row_group, columns=list(columns))
            except (pa.ArrowException, OSError) as exc:
                raise unreadable(path, exc) from None
        if meta.get("digest") != digest:
            raise IntegrityError(f"{path}: the file changed while it was being verified")
        return table, meta

    return process_cache(("columns", path, row_group, columns, digest), build)


def unreadable(p: str | os.PathLike[str], exc: BaseException) -> IntegrityError:
    """The one-line error for a file Arrow cannot read (first line of Arrow's message)."""
    return IntegrityError(
        f"{p}: not a readable Parquet file (truncated or damaged: {str(exc).splitlines()[0][:120]})"
    )


def file_metadata(pf: pq.ParquetFile, p: str | os.PathLike[str]) -> dict[str, Any]:
    """The checked pprl metadata of an open Parquet file.

    Parquet keeps the metadata twice in the footer: as the key-value entry ``pprl`` and
    inside the serialized Arrow schema (``ARROW:schema``, which Arrow prefers when
    reading). Both must be present and byte-for-byte equal, so an edit of either copy
    is refused; then :func:`check_metadata` checks every field.
    """
    footer = pf.metadata.metadata or {}
    plain = footer.get(METADATA_KEY)
    if plain is None:
        raise InputError(f"{p}: not a pprl encoding file (no pprl metadata)")
    arrow = footer.get(ARROW_SCHEMA_KEY)
    if arrow is None:
        raise IntegrityError(f"{p}: the Arrow schema copy of the pprl metadata is missing")
    try:
        copy = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(arrow, validate=True)))
    except (binascii.Error, ValueError, pa.ArrowException):
        raise IntegrityError(
            f"{p}: the Arrow schema copy of the pprl metadata is damaged"
        ) from None
    other = (copy.metadata or {}).get(METADATA_KEY)
    if other != plain:
        raise IntegrityError(f"{p}: {_copies_differ(plain, other)} (edited or damaged)")
    return check_metadata(p, copy, pf.metadata.num_rows)


def _copies_differ(plain: bytes, other: bytes | None) -> str:
    """Which part of the two footer copies of the metadata differs, as far as can be told."""
    if other is None:
        return "the Arrow schema copy of the pprl metadata is missing"
    try:
        a = loads_bounded(plain, "", max_bytes=MAX_METADATA_BYTES)
        b = loads_bounded(other, "", max_bytes=MAX_METADATA_BYTES)
    except PprlError:
        a = b = None
    if isinstance(a, dict) and isinstance(b, dict):
        for name in sorted(set(a) | set(b), key=str):
            if a.get(name, _MISSING) != b.get(name, _MISSING):
                return f"metadata field {_shown(name)} differs between the two footer copies"
    return "the two footer copies of the pprl metadata differ"


_MISSING = object()


def _field_digest(value: object) -> str:
    """16 hex characters of blake3 over a metadata value's canonical JSON."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return blake3(text.encode("utf-8")).hexdigest()[:16]


def field_digests(meta: dict[str, Any]) -> dict[str, str]:
    """A digest of each metadata field (all but the digests themselves), so a reader
    can name the field that was removed, added or changed after encoding."""
    return {
        name: _field_digest(value)
        for name, value in sorted(meta.items())
        if name not in ("digest", "field_digests")
    }


def _check_field_digests(p: str | os.PathLike[str], meta: dict[str, Any]) -> None:
    """Name the metadata field removed, added or changed since the file was written."""
    recorded = meta.get("field_digests")
    if not isinstance(recorded, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in recorded.items()
    ):
        raise _field_error(p, "field_digests", "is missing or damaged (edited or damaged)")
    actual = field_digests(meta)
    for name in sorted(set(recorded) | set(actual)):
        if name not in actual:
            raise _field_error(p, name, "is missing: it was removed after encoding")
        if name not in recorded:
            raise _field_error(p, name, "was added after encoding")
        if recorded[name] != actual[name]:
            raise _field_error(p, name, "was changed after encoding (edited or damaged)")


def _shown(value: object) -> str:
    """A metadata value for an error message: repr, cut to 40 characters."""
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "…"


def _field_error(p: str | os.PathLike[str], name: str, problem: str) -> IntegrityError:
    return IntegrityError(f"{p}: metadata field {_shown(name)} {problem}")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_hex(p: str | os.PathLike[str], meta: dict[str, Any], name: str, length: int) -> None:
    value = meta.get(name)
    if value is None:
        raise _field_error(p, name, "is missing (edited or damaged)")
    if not isinstance(value, str) or len(value) != length or not _HEX.fullmatch(value):
        raise _field_error(
            p, name, f"must be {length} lowercase hex characters, got {_shown(value)}"
        )


def _check_fields(p: str | os.PathLike[str], meta: dict[str, Any]) -> None:
    """Every field's presence and type, so no crafted value reaches the code that uses it."""
    for name in ("count", "nbits"):
        if name not in meta:
            raise _field_error(p, name, "is missing (edited or damaged)")
        if not _is_int(meta[name]) or meta[name] < 0:
            raise _field_error(p, name, f"must be a non-negative integer, got {_shown(meta[name])}")
    nbits = meta["nbits"]
    if not 64 <= nbits <= MAX_NBITS or nbits % 64:
        raise _field_error(
            p, "nbits", f"must be a multiple of 64 between 64 and {MAX_NBITS}, got {nbits}"
        )
    _check_hex(p, meta, "digest", 64)
    _check_hex(p, meta, "key_fingerprint", 16)
    _check_hex(p, meta, "schema_digest", 32)
    block_keys = meta.get("block_keys")
    if block_keys is None:
        raise _field_error(p, "block_keys", "is missing (edited or damaged)")
    if (
        not isinstance(block_keys, list)
        or len(block_keys) > MAX_BLOCK_KEYS
        or len(set(map(str, block_keys))) != len(block_keys)
        or not all(isinstance(b, str) and 0 < len(b) <= 64 and b.isprintable() for b in block_keys)
    ):
        raise _field_error(
            p,
            "block_keys",
            f"must be a list of at most {MAX_BLOCK_KEYS} distinct names, got {_shown(block_keys)}",
        )
    role = meta.get("role")
    if role is not None and role not in ROLES:
        raise _field_error(p, "role", f"must be one of {', '.join(ROLES)}, got {_shown(role)}")
    party = meta.get("party")
    if party is not None:
        try:
            validate_label(party, what="party label")
        except PprlError as exc:
            raise _field_error(
                p, "party", f"is not a valid {exc}; re-encode the file with a valid --party"
            ) from None
    for name in ("link_key", "schema_name", "pprl_version", "blip"):
        value = meta.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > 200):
            raise _field_error(p, name, f"must be a short text, got {_shown(value)}")
    document = meta.get("schema")
    if document is not None and not isinstance(document, dict):
        raise _field_error(p, "schema", f"must be a JSON object, got {_shown(document)}")


def _check_columns(p: str | os.PathLike[str], schema: pa.Schema, meta: dict[str, Any]) -> None:
    """The file holds exactly the encoding columns, each of its type."""
    expected = {
        "row": pa.int64(),
        "token": pa.binary(TOKEN_BYTES),
        "clk": pa.binary(meta["nbits"] // 8),
        **{f"block_{b}": pa.uint64() for b in meta["block_keys"]},
    }
    names = schema.names
    for column, kind in expected.items():
        if column not in names:
            raise IntegrityError(f"{p}: column '{column}' is missing")
        actual = schema.field(column).type
        if actual != kind:
            if column == "clk" and pa.types.is_fixed_size_binary(actual):
                raise IntegrityError(f"{p}: clk column width does not match nbits={meta['nbits']}")
            raise IntegrityError(f"{p}: column '{column}' has type {actual}, expected {kind}")
    extra = [n for n in names if n not in expected]
    if extra or len(names) != len(set(names)):
        shown = _shown(extra[0] if extra else names)
        raise IntegrityError(f"{p}: column {shown} is not part of an encoding file")


def check_metadata(p: str | os.PathLike[str], schema: pa.Schema, num_rows: int) -> dict[str, Any]:
    """The pprl metadata of an encoding file, checked against its columns and row count.

    Every field is checked for presence and type (crafted values are one-line
    :class:`IntegrityError`\\ s naming the file and field); the content digest, which
    covers all of it, is checked by the readers once the columns are read.
    """
    raw_meta = (schema.metadata or {}).get(METADATA_KEY)
    if raw_meta is None:
        raise InputError(f"{p}: not a pprl encoding file (no pprl metadata)")
    meta = loads_bounded(
        raw_meta, f"{p}: pprl metadata", max_bytes=MAX_METADATA_BYTES, error=IntegrityError
    )
    if not isinstance(meta, dict):
        raise IntegrityError(f"{p}: pprl metadata is damaged (not a JSON object)")
    if meta.get("format") != FORMAT:
        raise InputError(f"{p}: not a pprl encoding file (format {_shown(meta.get('format'))})")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        if not isinstance(version, int) or isinstance(version, bool):
            raise _field_error(p, "format_version", f"is missing or damaged ({_shown(version)})")
        if version < FORMAT_VERSION:
            raise InputError(
                f"{p}: encoding file format version {version} was written by an older pprl; "
                f"re-encode it with this pprl version (which reads version {FORMAT_VERSION})"
            )
        raise InputError(
            f"{p}: encoding file format version {version} was written by a newer pprl "
            f"(this pprl reads version {FORMAT_VERSION})"
        )
    _check_field_digests(p, meta)
    _check_fields(p, meta)
    _check_columns(p, schema, meta)
    if meta["count"] != num_rows:
        raise IntegrityError(
            f"{p}: metadata field 'count' says {meta['count']} records, the file has "
            f"{num_rows} (truncated or edited)"
        )
    return meta


def _empty_encodings(n: int, meta: dict[str, Any], p: Path) -> Encodings:
    """Preallocated arrays for ``n`` records of a file with this metadata."""
    nbits = int(meta["nbits"])
    return Encodings(
        rows=np.empty(n, np.int64),
        tokens=np.empty((n, TOKEN_BYTES), np.uint8),
        has_token=np.empty(n, bool),
        clks=np.empty((n, nbits // 64), "<u8"),
        block_keys={
            b: (np.empty(n, np.uint64), np.empty(n, bool)) for b in meta.get("block_keys", [])
        },
        meta=meta,
        path=p,
    )


def _fill(enc: Encodings, start: int, table: pa.Table, p: Path) -> None:
    """Copy one table (a row group, or a whole file) into ``enc`` from row ``start``."""
    stop = start + table.num_rows
    nbytes = enc.clks.shape[1] * 8
    enc.rows[start:stop] = table.column("row").to_numpy()
    token = table.column("token")
    enc.tokens[start:stop] = fixed_to_numpy(token, TOKEN_BYTES, copy=False)
    enc.has_token[start:stop] = ~np.asarray(token.is_null().to_numpy(zero_copy_only=False))
    enc.clks[start:stop] = fixed_to_numpy(table.column("clk"), nbytes, copy=False).view("<u8")
    for name, (values, valid) in enc.block_keys.items():
        values[start:stop], valid[start:stop] = block_column(table, name, p)


def _read_row_groups(pf: pq.ParquetFile, meta: dict[str, Any], p: Path) -> Encodings:
    """Read a Parquet encoding file row group by row group."""
    enc = _empty_encodings(pf.metadata.num_rows, meta, p)
    start = 0
    for i in range(pf.num_row_groups):
        group = pf.read_row_group(i)
        _fill(enc, start, group, p)
        start += group.num_rows
    return enc


def streamed_digest(pf: pq.ParquetFile, meta: dict[str, Any], p: str | os.PathLike[str]) -> str:
    """:func:`content_digest` of an open file, read one column of one row group at a time.

    The bytes hashed and their order are those of :func:`content_digest`; memory stays at
    one row group of one column whatever the file's size, so a Dask worker can check a
    national-scale file it never holds whole.
    """
    groups = range(pf.num_row_groups)
    nbytes = int(meta.get("nbits", 0)) // 8

    def column(rg: int, name: str) -> pa.ChunkedArray:
        return pf.read_row_group(rg, columns=[name]).column(name)

    def present(col: pa.ChunkedArray) -> np.ndarray:
        return ~np.asarray(col.is_null().to_numpy(zero_copy_only=False))

    h = _digest_start(meta)
    for rg in groups:
        h.update(_buffer(column(rg, "row").to_numpy(), "<i8"))
    for rg in groups:
        h.update(_buffer(present(column(rg, "token")), np.uint8))
    for rg in groups:
        token = column(rg, "token")
        tokens = fixed_to_numpy(token, TOKEN_BYTES, copy=False)
        h.update(_buffer(np.where(present(token)[:, None], tokens, 0), np.uint8))
    for rg in groups:
        h.update(_buffer(fixed_to_numpy(column(rg, "clk"), nbytes, copy=False).view("<u8"), "<u8"))
    for name in sorted(meta.get("block_keys", [])):
        h.update(name.encode("utf-8"))
        for rg in groups:
            _, valid = block_column(pf.read_row_group(rg, columns=[f"block_{name}"]), name, Path(p))
            h.update(_buffer(valid, np.uint8))
        for rg in groups:
            values, valid = block_column(
                pf.read_row_group(rg, columns=[f"block_{name}"]), name, Path(p)
            )
            h.update(_buffer(np.where(valid, values, 0), "<u8"))
    return h.hexdigest()


def _check_digest(enc: Encodings, p: Path) -> None:
    """Refuse an encoding whose content does not match the digest written with it."""
    if content_digest(enc) != enc.meta.get("digest"):
        raise IntegrityError(f"{p}: content digest mismatch: the file was modified after encoding")


def fixed_to_numpy(column: pa.ChunkedArray | pa.Array, width: int, copy: bool = True) -> np.ndarray:
    """(n, width) uint8 array of a fixed_size_binary column (null slots hold whatever
    bytes the file has; callers mask them). ``copy=False`` returns a read-only view."""
    if isinstance(column, pa.ChunkedArray):
        arr = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    else:
        arr = column
    n = len(arr)
    buf = arr.buffers()[1]
    data = np.frombuffer(buf, dtype=np.uint8, count=(arr.offset + n) * width)
    view = data[arr.offset * width :].reshape(n, width)
    return view.copy() if copy else view


def block_column(
    table: pa.Table, name: str, p: str | os.PathLike[str]
) -> tuple[np.ndarray, np.ndarray]:
    """(uint64 values, valid mask) of block key ``name`` in a table (a row group)."""
    column = f"block_{name}"
    if column not in table.column_names:
        raise IntegrityError(f"{p}: block key column '{column}' is missing")
    col = table.column(column)
    valid = ~np.asarray(col.is_null().to_numpy(zero_copy_only=False))
    values = col.fill_null(0).to_numpy().astype(np.uint64, copy=False)
    return values, valid


#: Largest clkhash JSON file read (about ten million 1024-bit CLKs): it is parsed whole.
MAX_CLKHASH_JSON_BYTES = 1 << 31


def _read_clkhash_json(p: Path) -> Encodings:
    """Read clkhash's ``{"clks": [...]}``: no rows, tokens or fingerprint, so rows are 0..n-1.

    Size and nesting depth are checked before parsing (:func:`loads_bounded`): a file
    nested thousands of levels deep is one line, never a ``RecursionError``."""
    raw_json = read_bounded(p, MAX_CLKHASH_JSON_BYTES, what="clkhash JSON file")
    document = loads_bounded(raw_json, str(p), max_bytes=MAX_CLKHASH_JSON_BYTES)
    try:
        clks_b64 = document["clks"]
        raw = [base64.b64decode(c, validate=True) for c in clks_b64]
    except (KeyError, TypeError, ValueError):
        raise InputError(
            f'{p}: not a clkhash JSON file (expected {{"clks": [base64, ...]}})'
        ) from None
    widths = {len(r) for r in raw}
    if len(widths) > 1 or (widths and next(iter(widths)) % 8):
        raise InputError(f"{p}: CLKs have differing or non-64-bit-multiple lengths")
    width = widths.pop() if widths else 128
    n = len(raw)
    clks = np.frombuffer(b"".join(raw), dtype="<u8").reshape(n, width // 8).copy()
    return Encodings(
        rows=np.arange(n, dtype=np.int64),
        tokens=np.zeros((n, TOKEN_BYTES), np.uint8),
        has_token=np.zeros(n, bool),
        clks=clks,
        meta={"format": "clkhash-json", "nbits": width * 8, "count": n},
        path=p,
    )


def check_compatible(a: Encodings | Outline, b: Encodings | Outline) -> None:
    """Refuse to compare files made with different secrets, schemas, filter lengths or
    BLIP noise generators.

    A pprl file always records its key fingerprint and schema digest (read checks it);
    one that records them against one that does not is refused too. Only clkhash's
    JSON, which has neither, is compared on the filter length alone.
    """
    la, lb = a.path or "first file", b.path or "second file"
    if a.nbits != b.nbits:
        raise MismatchError(f"{la} has {a.nbits}-bit CLKs but {lb} has {b.nbits}-bit CLKs")
    interop = "clkhash-json" in (a.meta.get("format"), b.meta.get("format"))
    for name, what in (("key_fingerprint", "key fingerprint"), ("schema_digest", "schema digest")):
        has_a, has_b = bool(a.meta.get(name)), bool(b.meta.get(name))
        if has_a != has_b and not interop:
            missing = lb if has_a else la
            raise MismatchError(
                f"{missing} records no {what}, so it cannot be checked against "
                f"{la if has_a else lb}; re-encode it with this pprl version"
            )
    fa, fb = a.meta.get("key_fingerprint"), b.meta.get("key_fingerprint")
    if fa and fb and fa != fb:
        raise MismatchError(
            f"{la} and {lb} were encoded with different secrets (key fingerprints {fa} and {fb})"
        )
    sa, sb = a.meta.get("schema_digest"), b.meta.get("schema_digest")
    if sa and sb and sa != sb:
        raise MismatchError(
            f"{la} and {lb} were encoded with different schemas "
            f"({a.meta.get('schema_name')} {sa[:12]} vs {b.meta.get('schema_name')} {sb[:12]})"
        )
    ga, gb = blip_generator(a.meta), blip_generator(b.meta)
    if ga and gb and ga != gb:
        raise MismatchError(
            f"{la} and {lb} were noised by different BLIP generators ({ga} and {gb}), so "
            "the same person no longer scores alike; re-encode both with the same pprl version"
        )


def blip_generator(meta: dict[str, Any]) -> str | None:
    """The BLIP noise generator of a file's CLKs: the ``blip`` metadata field that
    ``pprl encode`` writes since generator v2, ``"v1"`` for a file whose schema flips bits
    but that records none (written before), None for a file without BLIP."""
    recorded = meta.get("blip")
    if recorded:
        return str(recorded)
    document = meta.get("schema")
    ext = document.get("pprl") if isinstance(document, dict) else None
    hardening = ext.get("hardening") if isinstance(ext, dict) else None
    return "v1" if isinstance(hardening, dict) and "blip" in hardening else None


def check_roles(reference: Encodings | Outline, claims: Sequence[Encodings | Outline]) -> None:
    """Refuse a claims file given as the reference and a register file given as claims.

    A file that records no role (written by the library without one) passes: every
    file ``pprl encode`` writes records one, and the digest covers it.
    """
    if reference.role == "claims":
        raise InputError(
            f"{reference.path or 'the reference'}: is a claims file (party "
            f"{reference.label!r}, role claims), not a register: give the register's file, "
            "encoded with --role register, as --reference"
        )
    for enc in claims:
        if enc.role == "register":
            raise InputError(
                f"{enc.path or 'a claims file'}: is a register file (party {enc.label!r}, "
                "role register), not claims: give it as --reference, or re-encode the "
                "claims with --role claims"
            )


def bit_statistics(enc: Encodings, chunk: int = 1 << 16) -> dict[str, Any]:
    """Popcount and per-bit frequency statistics of the CLKs (what ``pprl inspect`` shows).

    Computed in chunks so memory stays bounded for files of any size.
    """
    n = len(enc)
    if n == 0:
        return {"records": 0}
    counts = np.zeros(enc.nbits, dtype=np.int64)
    popcounts = np.empty(n, dtype=np.int64)
    for start in range(0, n, chunk):
        bits = np.unpackbits(enc.clks[start : start + chunk].view(np.uint8), axis=1)
        popcounts[start : start + chunk] = bits.sum(axis=1, dtype=np.int64)
        counts += bits.sum(axis=0, dtype=np.int64)
    freq = counts / n
    return {
        "records": n,
        "with_link_key": int(enc.has_token.sum()),
        "without_link_key": int(n - enc.has_token.sum()),
        "duplicate_link_keys": duplicate_tokens(enc.tokens, enc.has_token),
        "popcount_mean": round(float(popcounts.mean()), 2),
        "popcount_min": int(popcounts.min()),
        "popcount_max": int(popcounts.max()),
        "fill_ratio": round(float(popcounts.mean() / enc.nbits), 4),
        "bit_frequency_min": round(float(freq.min()), 4),
        "bit_frequency_max": round(float(freq.max()), 4),
        "bits_never_set": int((counts == 0).sum()),
        "empty_clks": int((popcounts == 0).sum()),
    }


def token_groups(tokens: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """For each record, the position of the first record holding the same pseudonym
    (all 32 bytes compared), or -1 without one: equal ids mean equal pseudonyms.

    Sorts on the first 8 bytes (a keyed hash, so they practically never collide) and
    settles the rare runs of equal first bytes on the whole pseudonym.
    """
    n = tokens.shape[0]
    out = np.full(n, -1, dtype=np.int64)
    idx = np.flatnonzero(valid)
    if not len(idx):
        return out
    keys = np.ascontiguousarray(tokens[idx, :8]).view("<u8").ravel()
    order = np.argsort(keys, kind="stable")
    sk = keys[order]
    start = np.r_[True, sk[1:] != sk[:-1]]
    first = idx[order][np.maximum.accumulate(np.where(start, np.arange(len(sk)), 0))]
    out[idx[order]] = first
    runs = np.flatnonzero(~start)  # members of a run of equal first 8 bytes
    if len(runs):
        members = np.unique(np.concatenate([idx[order][runs], first[runs]]))
        view = np.ascontiguousarray(tokens[members]).view(np.dtype((np.void, TOKEN_BYTES)))
        _, inverse = np.unique(view.ravel(), return_inverse=True)
        lowest = np.full(int(inverse.max()) + 1, n, dtype=np.int64)
        np.minimum.at(lowest, inverse.ravel(), members)
        out[members] = lowest[inverse.ravel()]
    return out


def duplicate_tokens(tokens: np.ndarray, valid: np.ndarray) -> int:
    """How many distinct pseudonyms (all 32 bytes) occur on more than one record."""
    groups = token_groups(tokens, valid)
    groups = groups[groups >= 0]
    if not len(groups):
        return 0
    return int((np.bincount(groups) > 1).sum())
