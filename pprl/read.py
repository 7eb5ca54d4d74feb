"""Reading a party's CSV file: encoding detection, header mapping, strict row checks.

Rows are numbered from 0 over data records (the header is not a row, blank lines are
not records). That number is the ``row`` stored in encoding files and returned in every
finding, so each party can map results back to its own records.
"""

from __future__ import annotations

import codecs
import csv
import errno
import io
import os
import re
import stat
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from pprl.encode.factorize import Factorized
from pprl.errors import InputError

_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff66-\uff9f]")
_CSV_FIELD_LIMIT = 1 << 20


@dataclass(frozen=True)
class CsvData:
    """A CSV file read into columns of strings.

    A column is a list of strings or a :class:`~pprl.encode.factorize.Factorized`
    (distinct values and each record's index, which reads like a list of strings).
    """

    path: Path
    encoding: str
    header: tuple[str, ...]
    columns: Mapping[str, Sequence[str]]
    nrows: int
    first_row: int = 0  # data row number of this chunk's first record


SNIFF_BYTES = 1 << 22


_NOT_REGULAR = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def file_kind(mode: int) -> str:
    """What a file that is not a regular file is, in words ("a folder", "a FIFO"…)."""
    return next((word for test, word in _NOT_REGULAR if test(mode)), "a special file")


def require_regular_file(
    path: str | os.PathLike[str], what: str = "", allow_pipe: bool = False
) -> Path:
    """``path`` if it is an existing regular file this process may read; otherwise a
    one-line :class:`InputError`: "file not found", "not a regular file (a folder)" for
    a folder, FIFO, device or socket (never opened: a FIFO would block, ``/dev/zero``
    never ends), or "cannot read (Permission denied)". ``what`` prefixes the path (an
    option name such as ``--secret``); ``allow_pipe`` accepts a FIFO too (a secret
    passed as ``<(command)``, which its reader bounds)."""
    p = Path(path)
    name = f"{what} {p}" if what else str(p)
    try:
        mode = p.stat().st_mode
    except FileNotFoundError:
        raise InputError(f"{name}: file not found") from None
    except OSError as exc:
        raise InputError(f"{name}: cannot read ({exc.strerror})") from None
    if not (stat.S_ISREG(mode) or (allow_pipe and stat.S_ISFIFO(mode))):
        raise InputError(f"{name}: not a regular file ({file_kind(mode)})")
    if not os.access(p, os.R_OK):
        raise InputError(f"{name}: cannot read ({os.strerror(errno.EACCES)})")
    return p


def detect_encoding(path: Path, encoding: str | None = None) -> str:
    """The text encoding to read ``path`` with: the given one, else UTF-8 (BOM or not),
    else CP932, judged on the first 4 MiB (the rest is checked while reading)."""
    if encoding:
        try:
            info = codecs.lookup(encoding)
        except LookupError:
            raise InputError(f"{path}: --encoding '{encoding}' is not a known codec") from None
        # rot13, base64, zlib… are codecs too, but they do not decode bytes to text
        if not getattr(info, "_is_text_encoding", True):
            raise InputError(f"{path}: --encoding '{encoding}' is not a text encoding")
        return encoding
    with open(path, "rb") as fh:
        sample = fh.read(SNIFF_BYTES)
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=len(sample) < SNIFF_BYTES)
        return "utf-8-sig"
    except UnicodeDecodeError as exc:
        utf8_error = exc
    try:
        text = codecs.getincrementaldecoder("cp932")().decode(
            sample, final=len(sample) < SNIFF_BYTES
        )
    except UnicodeDecodeError:
        text = ""
    if text and _JAPANESE.search(text):
        return "cp932"
    hint = " (pass --encoding cp932 if it is a Japanese Windows export)" if text else ""
    raise InputError(
        f"{path}: not UTF-8 (invalid byte at offset {utf8_error.start}) and not recognizable as "
        f"CP932/Shift_JIS; pass --encoding{hint}"
    )


# Codecs in which the bytes of ',', '"', CR and LF only ever stand for those characters
# (never inside a multi-byte character), so a file can be cut into blocks at line ends
# and each block parsed on its own. Others (UTF-16, ISO-2022-JP...) are read by the csv
# module as a stream.
_BLOCK_CODECS = frozenset(
    {
        "utf-8", "utf-8-sig", "cp932", "shift_jis", "shift_jis_2004", "shift_jisx0213",
        "euc_jp", "euc_jis_2004", "euc_jisx0213", "ascii", "iso8859-1", "cp1252",
    }
)  # fmt: skip
_NATIVE_UTF8 = frozenset({"utf-8", "utf-8-sig"})  # Arrow reads (and validates) these itself

BLOCK_BYTES = 1 << 24  # bytes of the file parsed at a time by Arrow's threaded reader


def iter_csv(
    path: str | Path, encoding: str | None = None, chunk_rows: int | None = None
) -> Iterator[CsvData]:
    """Stream a CSV file with a header row as chunks of ``chunk_rows`` records.

    Every data row must have exactly as many fields as the header; a row that does not,
    or bytes that are not valid in the file's encoding, are an error naming the file,
    the 0-based data row and the line number. Memory stays bounded by the chunk size.

    Columns are :class:`~pprl.encode.factorize.Factorized` (distinct values in
    first-seen order and each record's index into them): the file is parsed block by
    block by Arrow's multithreaded reader, and a column's values become Python strings
    once per distinct value. Blocks Arrow cannot parse exactly as the ``csv`` module
    would (quoted fields, a block starting with a byte-order mark, codecs whose bytes
    are not ASCII-transparent) and any error are handed to the ``csv`` module, which
    reads the rest of the file with the same rules, row numbers and messages.
    """
    p = require_regular_file(path)
    used = detect_encoding(p, encoding)
    label = "utf-8" if used == "utf-8-sig" else used
    csv.field_size_limit(_CSV_FIELD_LIMIT)
    try:
        with open(p, "rb") as fh:
            yield from _Reader(fh, p, used, label, chunk_rows).chunks()
    except UnicodeDecodeError as exc:
        raise InputError(_decode_message(p, used, label, exc, " of a read block")) from None
    except UnicodeError:  # a codec that fails without a position ('undefined', idna)
        raise InputError(f"{p}: cannot be decoded with --encoding '{label}'") from None
    except OSError as exc:
        raise InputError(f"{p}: cannot read ({exc.strerror})") from None


def _decode_message(p: Path, used: str, label: str, exc: UnicodeDecodeError, where: str) -> str:
    """The one-line error for bytes that are not valid in the file's encoding."""
    hint = (
        " (cp932, the Windows superset of Shift_JIS, is what Japanese exports use: "
        "try --encoding cp932)"
        if codecs.lookup(used).name.startswith("shift_jis")
        else ""
    )
    return (
        f"{p}: not valid {label} ({exc.reason} at byte {exc.start}{where}); pass --encoding{hint}"
    )


def _line_ends(data: bytes) -> int:
    """Line ends in ``data`` as the csv module counts them (CR LF is one)."""
    return data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")


class _Reader:
    """One pass over a CSV file: Arrow for clean blocks, the csv module after a block
    it cannot take exactly (see :func:`iter_csv`)."""

    def __init__(
        self, fh: BinaryIO, p: Path, used: str, label: str, chunk_rows: int | None
    ) -> None:
        self.fh, self.p, self.used, self.label = fh, p, used, label
        self.chunk_rows = chunk_rows
        self.codec = codecs.lookup(used).name
        self.header: list[str] = []
        self.nrows = 0  # data rows read so far
        self.first = 0  # data row of the pending chunk's first record
        self.pending: list[pa.Table] = []
        self.pending_rows = 0

    # --- the header --------------------------------------------------------------
    def _read_header(self, buf: bytes) -> int | None:
        """Parse the header from the file's first bytes; the byte offset where data
        starts, or None when the header is not one plain line (the csv module reads
        such a file)."""
        if self.codec not in _BLOCK_CODECS:
            return None
        ends = [i for i in (buf.find(b"\n"), buf.find(b"\r")) if i >= 0]
        if not ends:
            return None
        end = min(ends)
        stop = end + 2 if buf[end : end + 2] == b"\r\n" else end + 1
        if end == 0 or (stop == len(buf) and buf[-1:] == b"\r"):
            return None  # a blank first line, or a CR whose LF may follow
        try:
            line = buf[:end].decode(self.used)
        except UnicodeDecodeError as exc:
            raise InputError(
                _decode_message(self.p, self.used, self.label, exc, ", line 1")
            ) from None
        try:
            header = next(csv.reader([line], strict=True))
        except csv.Error:
            return None  # e.g. a quoted newline in a header name
        self.header = [h.strip() for h in header]
        _check_header(self.header, self.p)
        return stop

    # --- chunks --------------------------------------------------------------------
    def _chunk(self, columns: Mapping[str, Sequence[str]], n: int) -> CsvData:
        data = CsvData(self.p, self.label, tuple(self.header), columns, n, self.first)
        self.first += n
        return data

    def _take(self, n: int) -> CsvData:
        """The first ``n`` pending Arrow rows as a chunk."""
        table = pa.concat_tables(self.pending) if len(self.pending) > 1 else self.pending[0]
        head, rest = table.slice(0, n), table.slice(n)
        self.pending = [rest] if rest.num_rows else []
        self.pending_rows = rest.num_rows
        return self._chunk(_ArrowColumns(self.header, head), n)

    def chunks(self) -> Iterator[CsvData]:
        buf = self.fh.read(BLOCK_BYTES)
        if not buf:
            raise InputError(f"{self.p}: empty file (no header row)")
        start = self._read_header(buf)
        if start is None:  # the csv module reads the whole file
            yield from self._csv_rest(0, 0)
            return
        offset = start  # byte offset of the next block
        buf = buf[start:]
        eof = False
        while not eof:
            block, buf, eof = self._next_block(buf)
            if not block:
                continue
            table = self._parse(block, offset)
            if table is None:  # the csv module takes over from this block on
                yield from self._csv_rest(offset, self._lines_before(offset))
                return
            offset += len(block)
            self.pending.append(table)
            self.pending_rows += table.num_rows
            self.nrows += table.num_rows
            while self.chunk_rows and self.pending_rows >= self.chunk_rows:
                yield self._take(self.chunk_rows)
        if self.pending_rows:
            yield self._take(self.pending_rows)
        elif self.nrows == 0:
            empty = {h: Factorized([], np.zeros(0, dtype=np.int32)) for h in self.header}
            yield self._chunk(empty, 0)

    def _next_block(self, buf: bytes) -> tuple[bytes, bytes, bool]:
        """(whole lines to parse, the bytes after them, end of file reached)."""
        need = len(buf) < BLOCK_BYTES
        while True:
            if need:
                more = self.fh.read(BLOCK_BYTES)
                if not more:
                    return buf, b"", True
                buf += more
            cut = buf.rfind(b"\n") + 1
            if not cut:  # CR line ends only: cut after a CR that no LF follows
                cr = buf.rfind(b"\r")
                cut = cr + 1 if 0 <= cr < len(buf) - 1 else 0
            if cut:
                return buf[:cut], buf[cut:], False
            need = True  # no line end yet

    def _lines_before(self, offset: int) -> int:
        """Line ends in the file before byte ``offset`` (counted again only for an error
        or a hand-over to the csv module, so clean files are never counted)."""
        here = self.fh.tell()
        self.fh.seek(0)
        lines, left, last = 0, offset, b""
        while left > 0:
            piece = self.fh.read(min(left, BLOCK_BYTES))
            if not piece:
                break
            lines += _line_ends(piece) - (last == b"\r" and piece[:1] == b"\n")
            last, left = piece[-1:], left - len(piece)
        self.fh.seek(here)
        return lines

    def _decode_error(self, offset: int, exc: UnicodeDecodeError) -> InputError:
        line = self._lines_before(offset + exc.start) + 1
        where = f", line {line}"
        exc.start += offset
        return InputError(_decode_message(self.p, self.used, self.label, exc, where))

    def _locate_decode_error(
        self, offset: int, encoding: str, exc: UnicodeDecodeError, lines_read: int
    ) -> InputError:
        """The error for bytes after ``offset`` the csv module could not decode, naming
        the byte offset in the file and its line: found again by decoding the file in
        blocks of whole lines (codecs in :data:`_BLOCK_CODECS`), else named by the
        ``lines_read`` the csv module had parsed (it decodes ahead, so the offset in
        its read block means nothing to the user)."""
        if self.codec in _BLOCK_CODECS:
            later = "utf-8" if self.used == "utf-8-sig" else self.used
            self.fh.seek(offset)
            buf, at, eof = b"", offset, False
            while not eof:
                block, buf, eof = self._next_block(buf)
                try:
                    block.decode(encoding if at == offset else later)
                except UnicodeDecodeError as found:
                    return self._decode_error(at, found)
                at += len(block)
        return InputError(
            f"{self.p}: not valid {self.label} ({exc.reason} after line {lines_read}); "
            "pass --encoding"
        )

    def _parse(self, block: bytes, offset: int) -> pa.Table | None:
        """Arrow's parse of a block of whole lines, or None when the csv module must
        read it (and the rest): quotes, a leading byte-order mark, a parse error or a
        field over the size limit. Bytes not valid in the encoding are an error naming
        the byte offset in the file and the line."""
        if b'"' in block or block.startswith(b"\xef\xbb\xbf"):
            return None
        if self.codec not in _NATIVE_UTF8:
            try:
                block = block.decode(self.used).encode("utf-8")
            except UnicodeDecodeError as exc:
                raise self._decode_error(offset, exc) from None
        width = len(self.header)
        names = [f"f{i}" for i in range(width)]
        try:
            table = pacsv.read_csv(
                pa.py_buffer(block),
                read_options=pacsv.ReadOptions(column_names=names, block_size=1 << 20),
                parse_options=pacsv.ParseOptions(quote_char=False, ignore_empty_lines=True),
                convert_options=pacsv.ConvertOptions(
                    column_types=dict.fromkeys(names, pa.string()),
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
            )
        except pa.ArrowInvalid:
            if self.codec in _NATIVE_UTF8:
                try:
                    block.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise self._decode_error(offset, exc) from None
            return None
        for column in table.columns:  # bytes bound characters: count those only when needed
            if len(column) and pc.max(pc.binary_length(column)).as_py() > _CSV_FIELD_LIMIT:
                if pc.max(pc.utf8_length(column)).as_py() > _CSV_FIELD_LIMIT:
                    return None
        return table

    def _csv_rest(self, offset: int, line: int) -> Iterator[CsvData]:
        """Read the file from byte ``offset`` (at a line start, after ``line`` lines) with
        the csv module, continuing the pending chunk and the row count."""
        self.fh.seek(offset)
        encoding = "utf-8" if offset and self.used == "utf-8-sig" else self.used
        text = io.TextIOWrapper(self.fh, encoding=encoding, newline="", errors="strict")
        reader = csv.reader(text, strict=True)
        if offset == 0:
            try:
                self.header = [h.strip() for h in next(reader)]
            except StopIteration:
                raise InputError(f"{self.p}: empty file (no header row)") from None
            except csv.Error as exc:
                raise InputError(f"{self.p}: malformed header ({exc})") from None
            _check_header(self.header, self.p)
        width = len(self.header)
        values: list[list[str]] = [[] for _ in self.header]
        if self.pending_rows:
            table = pa.concat_tables(self.pending)
            values = [table.column(i).to_pylist() for i in range(width)]
        self.pending, self.pending_rows = [], 0
        chunk_rows = self.chunk_rows
        nrows = self.nrows
        try:
            for record in reader:
                if not record or (len(record) == 1 and record[0] == ""):
                    continue
                if len(record) != width:
                    raise InputError(
                        f"{self.p}: row {nrows} (line {line + reader.line_num}): expected "
                        f"{width} fields, found {len(record)}"
                    )
                for column, value in zip(values, record, strict=True):
                    column.append(value)
                nrows += 1
                if chunk_rows and nrows - self.first == chunk_rows:
                    yield self._chunk(dict(zip(self.header, values, strict=True)), chunk_rows)
                    values = [[] for _ in self.header]
        except csv.Error as exc:
            raise InputError(
                f"{self.p}: row {nrows} (line {line + reader.line_num}): malformed CSV ({exc})"
            ) from None
        except UnicodeDecodeError as exc:
            # decoded ahead of the parser: find the byte in the file, not in a read block
            raise self._locate_decode_error(offset, encoding, exc, line + reader.line_num) from None
        finally:
            text.detach()
        self.nrows = nrows
        if nrows - self.first or nrows == 0:
            yield self._chunk(dict(zip(self.header, values, strict=True)), nrows - self.first)


class _ArrowColumns(Mapping[str, Sequence[str]]):
    """A chunk's columns, each factorized from Arrow when first asked for (columns no
    schema field uses are never turned into Python strings)."""

    def __init__(self, header: Sequence[str], table: pa.Table) -> None:
        self._header = list(header)
        self._table = table
        self._done: dict[str, Factorized] = {}

    def __getitem__(self, name: str) -> Factorized:
        if name not in self._done:
            if name not in self._header:
                raise KeyError(name)
            self._done[name] = _factorized(self._table.column(self._header.index(name)))
        return self._done[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._header)

    def __len__(self) -> int:
        return len(self._header)


class ArrowFactorized(Factorized):
    """A :class:`Factorized` column read by Arrow: dictionary-encoded when first used
    (or, several at once on threads, by :func:`factorize_columns`), its distinct values
    held as an Arrow string array (``arrow``) that becomes Python strings only when
    ``uniq`` is first read, so a stage that works on Arrow buffers (the link key's check
    digits and pseudonyms, addresses) never makes a Python string per value."""

    __slots__ = ("_arrow", "_inv", "_source", "_uniq")

    def __init__(self, dictionary: pa.Array, inv: np.ndarray) -> None:  # noqa: D107
        self._source: pa.ChunkedArray | pa.Array | None = None
        self._arrow: pa.Array | None = dictionary
        self._inv: np.ndarray | None = inv
        self._uniq: list[str] | None = None

    @classmethod
    def of_column(cls, column: pa.ChunkedArray | pa.Array) -> ArrowFactorized:
        """A string column, to be dictionary-encoded when first used."""
        self = cls.__new__(cls)
        self._source, self._arrow, self._inv, self._uniq = column, None, None, None
        return self

    @property
    def pending(self) -> bool:
        """Whether the column is not dictionary-encoded yet."""
        return self._source is not None

    def encode(self) -> None:
        """Dictionary-encode the column (distinct values in first-seen order), once."""
        source = self._source
        if source is None:
            return
        if isinstance(source, pa.ChunkedArray):
            source = source.combine_chunks()
        encoded = pc.dictionary_encode(source)
        self._arrow, self._inv = encoded.dictionary, encoded.indices.to_numpy()
        self._source = None

    @property
    def arrow(self) -> pa.Array:
        """The distinct values as an Arrow string array."""
        self.encode()
        assert self._arrow is not None
        return self._arrow

    @property
    def inv(self) -> np.ndarray:
        self.encode()
        assert self._inv is not None
        return self._inv

    @inv.setter
    def inv(self, values: np.ndarray) -> None:
        self._inv = values

    @property
    def uniq(self) -> list[str]:
        if self._uniq is None:
            self._uniq = self.arrow.to_pylist()
        return self._uniq

    @uniq.setter
    def uniq(self, values: list[str]) -> None:
        self._uniq = values

    def __len__(self) -> int:
        source = self._source
        return len(source) if source is not None else len(self.inv)


def factorize_columns(columns: Iterable[object], threads: int) -> None:
    """Dictionary-encode the pending Arrow columns among ``columns``, on up to
    ``threads`` threads (Arrow releases the GIL, so they run on as many cores)."""
    todo = {id(c): c for c in columns if isinstance(c, ArrowFactorized) and c.pending}
    if threads <= 1 or len(todo) <= 1:
        for column in todo.values():
            column.encode()
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(min(threads, len(todo))) as pool:
        list(pool.map(ArrowFactorized.encode, todo.values()))


def _factorized(column: pa.ChunkedArray) -> Factorized:
    """A string column as its distinct values (first-seen order) and record indices,
    dictionary-encoded when first used."""
    return ArrowFactorized.of_column(column)


def read_csv(path: str | Path, encoding: str | None = None) -> CsvData:
    """Read a whole CSV file with a header row into string columns (see :func:`iter_csv`)."""
    return next(iter(iter_csv(path, encoding, chunk_rows=None)))


def _check_header(header: list[str], path: Path) -> None:
    """Refuse empty or duplicate column names: either would make field mapping ambiguous."""
    seen: set[str] = set()
    for i, name in enumerate(header):
        if not name:
            raise InputError(f"{path}: header column {i + 1} has no name")
        if name in seen:
            raise InputError(f"{path}: header names column '{name}' twice")
        seen.add(name)


def parse_column_map(pairs: list[str] | None) -> dict[str, str]:
    """Parse ``--column canonical=actual`` options into {canonical: actual}."""
    mapping: dict[str, str] = {}
    for pair in pairs or []:
        canonical, sep, actual = pair.partition("=")
        if not sep or not canonical.strip() or not actual.strip():
            raise InputError(f"--column '{pair}': expected canonical=actual")
        field, header = canonical.strip(), actual.strip()
        if mapping.get(field, header) != header:
            raise InputError(
                f"--column {field!r} given twice ({mapping[field]!r} and {header!r}): map "
                "each field to one header"
            )
        mapping[field] = header
    return mapping
