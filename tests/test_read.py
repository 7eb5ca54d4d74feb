"""CSV reading: encodings, header mapping, malformed rows."""

from __future__ import annotations

import pytest

from pprl.errors import InputError
from pprl.read import parse_column_map, read_csv

TEXT = "my_number,family_name_kanji\n123456789018,髙橋\n000000000019,山﨑\n"


@pytest.mark.parametrize(
    "encoding,expected",
    [("utf-8", "utf-8"), ("utf-8-sig", "utf-8"), ("cp932", "cp932"), ("shift_jis", "cp932")],
)
def test_detects_encodings(tmp_path, encoding, expected):
    path = tmp_path / "in.csv"
    text = TEXT.replace("髙", "高").replace("﨑", "崎") if encoding == "shift_jis" else TEXT
    path.write_bytes(text.encode(encoding))
    data = read_csv(path)
    assert data.encoding == expected
    assert data.nrows == 2
    assert data.columns["my_number"] == ["123456789018", "000000000019"]


def test_cp932_keeps_ibm_extension_kanji(tmp_path):
    path = tmp_path / "in.csv"
    path.write_bytes(TEXT.encode("cp932"))
    assert read_csv(path).columns["family_name_kanji"] == ["髙橋", "山﨑"]


def test_undetectable_encoding_is_an_error(tmp_path):
    path = tmp_path / "in.csv"
    path.write_bytes("name\nJosé Müller\n".encode("latin-1"))
    with pytest.raises(InputError, match="--encoding"):
        read_csv(path)
    assert read_csv(path, encoding="latin-1").columns["name"] == ["José Müller"]


def test_wrong_explicit_encoding(tmp_path):
    path = tmp_path / "in.csv"
    path.write_bytes(TEXT.encode("cp932"))
    with pytest.raises(InputError, match="not valid utf-8"):
        read_csv(path, encoding="utf-8")


def test_short_row_names_row_and_line(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("a,b\n1,2\n3\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"row 1 \(line 3\): expected 2 fields, found 1"):
        read_csv(path)


def test_blank_lines_are_not_rows(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("a,b\n1,2\n\n3,4\n\n", encoding="utf-8")
    assert read_csv(path).columns["a"] == ["1", "3"]


def test_duplicate_and_empty_header(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("a,a\n1,2\n", encoding="utf-8")
    with pytest.raises(InputError, match="twice"):
        read_csv(path)
    path.write_text("a,\n1,2\n", encoding="utf-8")
    with pytest.raises(InputError, match="no name"):
        read_csv(path)


def test_empty_file(tmp_path):
    path = tmp_path / "in.csv"
    path.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        read_csv(path)


def test_column_map():
    assert parse_column_map(["sex=gender", " date_of_birth = dob "]) == {
        "sex": "gender",
        "date_of_birth": "dob",
    }
    with pytest.raises(InputError):
        parse_column_map(["sex"])
