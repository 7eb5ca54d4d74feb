"""Reading a party's CSV file: encoding detection, header mapping, strict row checks.

Rows are numbered from 0 over data records (the header is not a row, blank lines are
not records). That number is the ``row`` stored in encoding files and returned in every
finding, so each party can map results back to its own records.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from pprl.errors import InputError

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


def decode_bytes(data: bytes, path: Path, encoding: str | None = None) -> tuple[str, str]:
    """Decode file bytes: the given encoding, else UTF-8 (with or without BOM), else CP932.

    CP932 (Windows Shift_JIS) is accepted without ``--encoding`` only when the bytes
    decode cleanly as CP932 and contain Japanese text; anything else is refused with a
    message naming the file and the first undecodable byte.
    """
    if encoding:
        try:
            return data.decode(encoding), encoding
        except LookupError:
            raise InputError(f"{path}: unknown text encoding '{encoding}'") from None
        except UnicodeDecodeError as exc:
            raise InputError(f"{path}: not valid {encoding} at byte {exc.start}") from None
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as exc:
        utf8_error = exc
    try:
        text = data.decode("cp932")
    except UnicodeDecodeError:
        text = ""
    if text and _JAPANESE.search(text):
        return text, "cp932"
    raise InputError(
        f"{path}: not UTF-8 (invalid byte at offset {utf8_error.start}) and not recognizable as "
        "CP932/Shift_JIS; pass --encoding")


def read_csv(path: str | Path, encoding: str | None = None) -> CsvData:
    """Read a whole CSV file with a header row into string columns.

    Every data row must have exactly as many fields as the header; a row that does not
    is an error naming the file, the 0-based data row and the line number.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{p}: file not found") from None
    except OSError as exc:
        raise InputError(f"{p}: cannot read ({exc.strerror})") from None
    text, used = decode_bytes(data, p, encoding)
    csv.field_size_limit(_CSV_FIELD_LIMIT)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise InputError(f"{p}: empty file (no header row)") from None
    except csv.Error as exc:
        raise InputError(f"{p}: malformed header ({exc})") from None
    header = [h.strip() for h in header]
    _check_header(header, p)
    values: list[list[str]] = [[] for _ in header]
    width = len(header)
    nrows = 0
    try:
        for record in reader:
            if not record or (len(record) == 1 and record[0] == ""):
                continue
            if len(record) != width:
                raise InputError(
                    f"{p}: row {nrows} (line {reader.line_num}): expected {width} fields, "
                    f"found {len(record)}")
            for column, value in zip(values, record, strict=True):
                column.append(value)
            nrows += 1
    except csv.Error as exc:
        raise InputError(f"{p}: row {nrows} (line {reader.line_num}): malformed CSV ({exc})") from None
    return CsvData(p, used, tuple(header), dict(zip(header, values, strict=True)), nrows)


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
