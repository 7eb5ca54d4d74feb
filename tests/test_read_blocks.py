"""The block reader (Arrow, with the csv module for what Arrow cannot take) reads every
file exactly as the csv module does: same header, rows, chunks, and the same errors."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pprl.read
from pprl.encode.factorize import Factorized
from pprl.errors import InputError
from pprl.read import iter_csv, read_csv


def oracle(path: Path, encoding: str, chunk_rows: int | None) -> list[tuple[int, int, dict]]:
    """The csv-module reader this module replaced: (first_row, nrows, columns) per chunk."""
    csv.field_size_limit(1 << 20)
    out = []
    with open(path, encoding=encoding, newline="", errors="strict") as fh:
        reader = csv.reader(fh, strict=True)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise InputError("empty file") from None
        except csv.Error as exc:
            raise InputError(f"malformed header ({exc})") from None
        if len(set(header)) != len(header) or not all(header):
            raise InputError("bad header")
        width, nrows, first = len(header), 0, 0
        values: list[list[str]] = [[] for _ in header]
        try:
            for record in reader:
                if not record or (len(record) == 1 and record[0] == ""):
                    continue
                if len(record) != width:
                    raise InputError(
                        f"P: row {nrows} (line {reader.line_num}): expected {width} fields, "
                        f"found {len(record)}"
                    )
                for column, value in zip(values, record, strict=True):
                    column.append(value)
                nrows += 1
                if chunk_rows and nrows - first == chunk_rows:
                    out.append((first, nrows - first, dict(zip(header, values, strict=True))))
                    values, first = [[] for _ in header], nrows
        except csv.Error as exc:
            raise InputError(
                f"P: row {nrows} (line {reader.line_num}): malformed CSV ({exc})"
            ) from None
    if nrows - first or nrows == 0:
        out.append((first, nrows - first, dict(zip(header, values, strict=True))))
    return out


def ours(path: Path, encoding: str | None, chunk_rows: int | None) -> list[tuple[int, int, dict]]:
    return [
        (c.first_row, c.nrows, {k: list(v) for k, v in c.columns.items()})
        for c in iter_csv(path, encoding, chunk_rows)
    ]


def outcome(fn, *args):
    try:
        return fn(*args)
    except InputError as exc:
        return ("error", str(exc).split(": ", 1)[1])  # after the file name


FIELD = st.text(alphabet=st.sampled_from(list('ab髙 ,"\n\r\x00\ufeff1')), max_size=6)
ENDS = st.sampled_from(["\n", "\r\n", "\r"])


@st.composite
def csv_text(draw):
    width = draw(st.integers(1, 3))
    header = [f"h{i}" for i in range(width)]
    lines = [",".join(header)]
    for _ in range(draw(st.integers(0, 12))):
        kind = draw(st.integers(0, 9))
        if kind == 0:
            lines.append("")  # blank line
        elif kind == 1:
            lines.append(",".join(draw(st.lists(FIELD, min_size=1, max_size=4))))  # raw
        else:
            fields = draw(st.lists(FIELD, min_size=width, max_size=width))
            lines.append(
                ",".join(
                    f.replace("\n", "").replace("\r", "").replace('"', "")
                    if draw(st.booleans())
                    else '"' + f.replace('"', '""') + '"'
                    for f in fields
                )
            )
    end = draw(ENDS)
    text = end.join(lines) + draw(st.sampled_from(["", end]))
    return text


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    text=csv_text(),
    chunk=st.sampled_from([None, 1, 2, 5]),
    block=st.sampled_from([8, 16, 64, 1 << 20]),
    bom=st.booleans(),
)
def test_block_reader_reads_like_the_csv_module(
    tmp_path_factory, monkeypatch, text, chunk, block, bom
):
    monkeypatch.setattr(pprl.read, "BLOCK_BYTES", block)
    path = tmp_path_factory.mktemp("r") / "in.csv"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    expected = outcome(oracle, path, "utf-8-sig", chunk)
    got = outcome(ours, path, None, chunk)
    assert got == expected


@pytest.mark.parametrize("encoding", ["cp932", "euc_jp", "utf-16"])
def test_other_codecs(tmp_path, monkeypatch, encoding):
    monkeypatch.setattr(pprl.read, "BLOCK_BYTES", 16)
    kanji = "高" if encoding == "euc_jp" else "髙"
    text = "姓,名\r\n" + f"{kanji}橋,太郎\r\n\r\n山田,花子\r\n" * 5
    path = tmp_path / "in.csv"
    path.write_bytes(text.encode(encoding))
    assert ours(path, encoding, 3) == oracle(path, encoding, 3)


def test_columns_are_factorized_in_first_seen_order(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("a,b\nx,1\ny,1\nx,2\n", encoding="utf-8")
    col = read_csv(path).columns["a"]
    assert isinstance(col, Factorized)
    assert col.uniq == ["x", "y"] and col.inv.tolist() == [0, 1, 0]


def test_invalid_utf8_names_byte_and_line(tmp_path):
    path = tmp_path / "in.csv"
    path.write_bytes(b"a,b\n1,2\n3,\xff\n")
    with pytest.raises(
        InputError, match=r"not valid utf-8 \(invalid start byte at byte 10, line 3\)"
    ):
        read_csv(path, encoding="utf-8")


def test_field_size_limit(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("a,b\n1,2\n3," + "x" * ((1 << 20) + 1) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"row 1 \(line 3\): malformed CSV \(field larger"):
        read_csv(path)


def test_invalid_cp932_names_line_with_crlf_line_ends(tmp_path):
    path = tmp_path / "in.csv"
    path.write_bytes("姓,名\r\n髙橋,太郎\r\n\r\n".encode("cp932") + b"\x81 ,x\r\n")
    with pytest.raises(InputError, match=r"not valid cp932 \(.* at byte 20, line 4\)"):
        read_csv(path, encoding="cp932")
