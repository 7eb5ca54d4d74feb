"""Reading a party's CSV file: encoding detection, header mapping, strict row checks.

Rows are numbered from 0 over data records (the header is not a row, blank lines are
not records). That number is the ``row`` stored in encoding files and returned in every
finding, so each party can map results back to its own records.
"""

from __future__ import annotations

import codecs
import csv
import errno
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pprl.errors import InputError

if TYPE_CHECKING:
    from _csv import Reader as _CsvReader

_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff66-\uff9f]")
_CSV_FIELD_LIMIT = 1 << 20


@dataclass(frozen=True)
class CsvData:
    """A CSV file read into columns of strings."""

    path: Path
    encoding: str
    header: tuple[str, ...]
    columns: dict[str, list[str]]
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


def iter_csv(
    path: str | Path, encoding: str | None = None, chunk_rows: int | None = None
) -> Iterator[CsvData]:
    """Stream a CSV file with a header row as chunks of ``chunk_rows`` records.

    Every data row must have exactly as many fields as the header; a row that does not,
    or bytes that are not valid in the file's encoding, are an error naming the file,
    the 0-based data row and the line number. Memory stays bounded by the chunk size.
    """
    p = require_regular_file(path)
    used = detect_encoding(p, encoding)
    label = "utf-8" if used == "utf-8-sig" else used
    csv.field_size_limit(_CSV_FIELD_LIMIT)
    try:
        with open(p, encoding=used, newline="", errors="strict") as fh:
            yield from _read_chunks(csv.reader(fh, strict=True), p, label, chunk_rows)
    except UnicodeDecodeError as exc:
        hint = (
            " (cp932, the Windows superset of Shift_JIS, is what Japanese exports use: "
            "try --encoding cp932)"
            if codecs.lookup(used).name.startswith("shift_jis")
            else ""
        )
        raise InputError(
            f"{p}: not valid {label} ({exc.reason} at byte {exc.start} of a read "
            f"block); pass --encoding{hint}"
        ) from None
    except UnicodeError:  # a codec that fails without a position ('undefined', idna)
        raise InputError(f"{p}: cannot be decoded with --encoding '{label}'") from None
    except OSError as exc:
        raise InputError(f"{p}: cannot read ({exc.strerror})") from None


def _read_chunks(
    reader: _CsvReader, p: Path, label: str, chunk_rows: int | None
) -> Iterator[CsvData]:
    """Group CSV records into :class:`CsvData` chunks, checking every row's width."""
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise InputError(f"{p}: empty file (no header row)") from None
    except csv.Error as exc:
        raise InputError(f"{p}: malformed header ({exc})") from None
    _check_header(header, p)
    width, nrows, first = len(header), 0, 0
    values: list[list[str]] = [[] for _ in header]
    try:
        for record in reader:
            if not record or (len(record) == 1 and record[0] == ""):
                continue
            if len(record) != width:
                raise InputError(
                    f"{p}: row {nrows} (line {reader.line_num}): expected {width} fields, "
                    f"found {len(record)}"
                )
            for column, value in zip(values, record, strict=True):
                column.append(value)
            nrows += 1
            if chunk_rows and nrows - first == chunk_rows:
                yield CsvData(
                    p,
                    label,
                    tuple(header),
                    dict(zip(header, values, strict=True)),
                    nrows - first,
                    first,
                )
                values, first = [[] for _ in header], nrows
    except csv.Error as exc:
        raise InputError(
            f"{p}: row {nrows} (line {reader.line_num}): malformed CSV ({exc})"
        ) from None
    if nrows - first or nrows == 0:
        yield CsvData(
            p, label, tuple(header), dict(zip(header, values, strict=True)), nrows - first, first
        )


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
        mapping[canonical.strip()] = actual.strip()
    return mapping
