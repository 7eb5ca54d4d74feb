"""Encoding files: what a data holder sends to the matcher.

An encoding file is a Parquet file with one row per input record:

* ``row``   int64, the 0-based data row of the party's CSV;
* ``token`` fixed_size_binary(32), the keyed link-key pseudonym, null when the record
  had no valid link key;
* ``clk``   fixed_size_binary(l/8), the CLK exactly as clkhash serializes it;
* ``block_<name>`` uint64, one column per keyed block key, null when a part is missing.

The Parquet key-value metadata ``pprl`` holds a JSON object with the format version,
schema (document and digest), key fingerprint, party label, record count and a blake3
digest of all column contents. :func:`read_encodings` checks every part of it and
refuses truncated, edited or inconsistent files.

Files are written to a temporary name and renamed, so a failed run leaves nothing.
"""

from __future__ import annotations

import base64
import json
import os
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
from pprl.errors import InputError, IntegrityError, MismatchError
from pprl.resultset import output_file

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "METADATA_KEY",
    "TOKEN_BYTES",
    "Encodings",
    "Outline",
    "RowRange",
    "atomic_path",
    "bit_statistics",
    "block_column",
    "check_compatible",
    "check_file",
    "check_metadata",
    "content_digest",
    "duplicate_tokens",
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
FORMAT_VERSION = 1
METADATA_KEY = b"pprl"
TOKEN_BYTES = 32


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


DIGEST_BLOCK = 1 << 16  # rows per update: bounded temporaries for masked columns


def _buffer(array: np.ndarray, dtype: str | type) -> memoryview:
    """The bytes of an array in a fixed dtype, without a copy when it already is one."""
    flat = np.ascontiguousarray(array, dtype=dtype).reshape(-1)
    return flat.view(np.uint8).data


def content_digest(enc: Encodings) -> str:
    """blake3 over every column's bytes, in a fixed order; detects any edit of the data.

    Hashes the arrays in place (large CLK arrays are never copied) and masks null
    tokens and block keys block by block.
    """
    h = blake3()
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


def to_table(enc: Encodings) -> pa.Table:
    """Arrow table of an :class:`Encodings` with the pprl metadata attached."""
    nbytes = enc.clks.shape[1] * 8
    arrays = {
        "row": pa.array(enc.rows, type=pa.int64()),
        "token": _fixed_binary(enc.tokens, TOKEN_BYTES, enc.has_token),
        "clk": _fixed_binary(enc.clks.astype("<u8", copy=False).view(np.uint8), nbytes),
    }
    for name, (values, valid) in enc.block_keys.items():
        arrays[f"block_{name}"] = pa.array(values, type=pa.uint64(), mask=~valid)
    meta = dict(enc.meta)
    meta.update(
        format=FORMAT,
        format_version=FORMAT_VERSION,
        count=len(enc),
        nbits=enc.nbits,
        block_keys=sorted(enc.block_keys),
        digest=content_digest(enc),
    )
    meta.setdefault("pprl_version", __version__)
    table = pa.table(arrays)
    return table.replace_schema_metadata({METADATA_KEY: json.dumps(meta, ensure_ascii=False)})


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
    keys keep zstd and dictionaries.
    """
    table = to_table(enc)
    plain = ("clk", "token")
    others = [name for name in table.column_names if name not in plain]
    with atomic_path(path, force=force, inputs=inputs) as tmp:
        pq.write_table(
            table,
            tmp,
            row_group_size=row_group_size,
            compression={name: "none" if name in plain else "zstd" for name in table.column_names},
            use_dictionary=others,
            write_statistics=others,
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
            meta = check_metadata(p, pf.schema_arrow, pf.metadata.num_rows)
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
            meta = check_metadata(path, pf.schema_arrow, pf.metadata.num_rows)
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
            meta = check_metadata(path, pf.schema_arrow, pf.metadata.num_rows)
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
                meta = check_metadata(path, pf.schema_arrow, pf.metadata.num_rows)
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


def check_metadata(p: str | os.PathLike[str], schema: pa.Schema, num_rows: int) -> dict[str, Any]:
    """The pprl metadata of an encoding file, checked against its columns and row count."""
    raw_meta = (schema.metadata or {}).get(METADATA_KEY)
    if raw_meta is None:
        raise InputError(f"{p}: not a pprl encoding file (no pprl metadata)")
    try:
        meta = json.loads(raw_meta)
    except json.JSONDecodeError:
        raise IntegrityError(f"{p}: pprl metadata is damaged") from None
    if not isinstance(meta, dict):
        raise IntegrityError(f"{p}: pprl metadata is damaged (not a JSON object)")
    if meta.get("format") != FORMAT:
        raise InputError(f"{p}: not a pprl encoding file (format {meta.get('format')!r})")
    if meta.get("format_version") != FORMAT_VERSION:
        raise InputError(
            f"{p}: encoding file format version {meta.get('format_version')} is not "
            f"supported (this pprl reads version {FORMAT_VERSION})"
        )
    names = set(schema.names)
    for column in ("row", "token", "clk", *(f"block_{b}" for b in meta.get("block_keys", []))):
        if column not in names:
            raise IntegrityError(f"{p}: column '{column}' is missing")
    if meta.get("count") != num_rows:
        raise IntegrityError(
            f"{p}: metadata says {meta.get('count')} records, file has "
            f"{num_rows} (truncated or edited)"
        )
    nbits = int(meta.get("nbits", 0))
    clk_type = schema.field("clk").type
    if not pa.types.is_fixed_size_binary(clk_type) or clk_type.byte_width * 8 != nbits:
        raise IntegrityError(f"{p}: clk column width does not match nbits={nbits}")
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

    h = blake3()
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


def _read_clkhash_json(p: Path) -> Encodings:
    """Read clkhash's ``{"clks": [...]}``: no rows, tokens or fingerprint, so rows are 0..n-1."""
    try:
        clks_b64 = json.loads(p.read_text(encoding="utf-8"))["clks"]
        raw = [base64.b64decode(c, validate=True) for c in clks_b64]
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError):
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
    """Refuse to compare files made with different secrets, schemas or filter lengths."""
    la, lb = a.path or "first file", b.path or "second file"
    if a.nbits != b.nbits:
        raise MismatchError(f"{la} has {a.nbits}-bit CLKs but {lb} has {b.nbits}-bit CLKs")
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
