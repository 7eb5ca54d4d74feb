"""Japanese header aliases, missing-column and reversed-mapping errors, the cp932 hint."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pprl.columns import matched_column_map, resolve_columns
from pprl.errors import InputError
from pprl.fullname import FULL_NAMES
from pprl.headers import (
    ALIASES,
    HeaderMatcher,
    alias_field,
    check_column_map,
    normalize_header,
    shown_headers,
)
from pprl.read import read_csv
from pprl.schema import load_schema

RESIDENT = load_schema("jp-resident")
BANK = load_schema("jp-bank-holder")
FIELDS = [
    "my_number",
    "family_name_kanji",
    "given_name_kanji",
    "family_name_kana",
    "given_name_kana",
    "date_of_birth",
    "sex",
    "postcode",
    "address",
]
JAPANESE = ["個人番号", "姓", "名", "姓カナ", "名カナ", "生年月日", "性別", "郵便番号", "住所"]
ROW = ["123456789018", "山田", "太郎", "ヤマダ", "タロウ", "1980-01-02", "M", "100-0001", "東京都"]


def write(path: Path, header: list[str], rows: list[list[str]], encoding: str = "utf-8") -> Path:
    with open(path, "w", encoding=encoding, newline="") as fh:
        csv.writer(fh).writerows([header, *rows])
    return path


def test_every_schema_field_has_aliases_and_they_are_disjoint() -> None:
    names = set(RESIDENT.fields) | set(BANK.fields)
    names |= {s for parts in BANK.sources.values() for s in parts}
    assert names <= set(ALIASES)
    normalized = [normalize_header(a) for aliases in ALIASES.values() for a in aliases]
    assert len(normalized) == len(set(normalized)), "an alias names two fields"
    assert not set(normalized) & {normalize_header(f) for f in names}


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("個人番号", "my_number"),
        ("マイナンバー", "my_number"),
        ("個人番号（マイナンバー）", "my_number"),
        ("個人番号(マイナンバー)", "my_number"),
        ("\ufeff個人番号", "my_number"),
        ("氏", "family_name_kanji"),
        ("ｾｲ", "family_name_kana"),
        ("姓（カナ）", "family_name_kana"),
        ("メイ", "given_name_kana"),
        ("〒", "postcode"),
        ("住\u3000所", "address"),
        (" 生年月日 ", "date_of_birth"),
        ("口座名義カナ", "account_holder_kana"),
        ("氏名", "full_name_kanji"),
        ("氏名（カナ）", "full_name_kana"),
        ("ﾌﾘｶﾞﾅ", "full_name_kana"),
        ("ふりがな", "full_name_kana"),
        ("住所2", None),
    ],
)
def test_alias_field(header: str, field: str | None) -> None:
    assert alias_field(header) == field


@given(st.sampled_from(sorted(ALIASES)), st.data())
def test_aliases_survive_width_space_and_case_variants(field: str, data: st.DataObject) -> None:
    alias = data.draw(st.sampled_from(ALIASES[field]))
    pad = data.draw(st.sampled_from(["", " ", "\u3000", "\ufeff", "\t"]))
    variant = pad + alias.replace("（", "(").replace("）", ")") + pad
    assert alias_field(variant) == field
    assert HeaderMatcher("f.csv", ["x", variant], {}).find(field) == variant


def test_japanese_headers_resolve_like_canonical(tmp_path: Path) -> None:
    canonical = read_csv(write(tmp_path / "c.csv", FIELDS, [ROW]))
    japanese = read_csv(write(tmp_path / "j.csv", JAPANESE, [ROW], "cp932"))
    assert resolve_columns(japanese, RESIDENT, {}) == resolve_columns(canonical, RESIDENT, {})
    assert matched_column_map(japanese, RESIDENT, {}) == dict(zip(FIELDS, JAPANESE, strict=True))


def test_bank_holder_built_from_japanese_kana_parts(tmp_path: Path) -> None:
    data = read_csv(write(tmp_path / "j.csv", JAPANESE, [ROW]))
    assert resolve_columns(data, BANK, {})["account_holder_kana"] == ["ヤマダ タロウ"]


def test_precedence_explicit_then_canonical_then_alias(tmp_path: Path) -> None:
    header = [*FIELDS, "個人番号", "番号"]
    row = [*ROW, "999999999999", "888888888888"]
    data = read_csv(write(tmp_path / "p.csv", header, [row]))
    assert resolve_columns(data, RESIDENT, {})["my_number"] == ["123456789018"]
    explicit = resolve_columns(data, RESIDENT, {"my_number": "番号"})
    assert explicit["my_number"] == ["888888888888"]


def test_explicitly_claimed_header_is_not_matched_by_alias() -> None:
    matcher = HeaderMatcher("f.csv", ["姓", "氏"], {"given_name_kanji": "氏"})
    assert matcher.find("family_name_kanji") == "姓"
    assert matcher.find("given_name_kanji") == "氏"


def test_two_alias_headers_for_one_field_name_both(tmp_path: Path) -> None:
    data = read_csv(
        write(tmp_path / "a.csv", ["姓", *JAPANESE[:1], "氏", *JAPANESE[2:]], [[ROW[1], *ROW]])
    )
    with pytest.raises(InputError, match=r"a\.csv: headers '姓' and '氏' both name schema field "):
        resolve_columns(data, RESIDENT, {})


def test_every_missing_column_is_named_at_once_with_headers_present(tmp_path: Path) -> None:
    header = ["個人番号", "漢字", "読み", "生年月日", "性別", "郵便番号", "住所", "x"]
    data = read_csv(write(tmp_path / "m.csv", header, [ROW[:8]]))
    with pytest.raises(InputError) as info:
        resolve_columns(data, RESIDENT, {})
    message = str(info.value)
    assert "\n" not in message and "m.csv" in message
    for name in ("family_name_kanji", "given_name_kanji", "family_name_kana", "given_name_kana"):
        assert f"'{name}'" in message
    assert "my_number" not in message.split("headers present")[0]
    assert "headers present: '個人番号', '漢字', '読み'" in message
    assert "(or, for both, a full-name column 'full_name_kanji')" in message


def test_missing_link_key_and_unmatched_explicit_mapping_are_named(tmp_path: Path) -> None:
    data = read_csv(write(tmp_path / "m.csv", FIELDS[1:], [ROW[1:]]))
    with pytest.raises(InputError, match=r"missing column for schema field 'my_number' \(the link"):
        resolve_columns(data, RESIDENT, {})
    with pytest.raises(InputError, match=r"--column my_number='番号' names no header"):
        resolve_columns(data, RESIDENT, {"my_number": "番号"})


def test_headers_in_errors_are_escaped_and_cut() -> None:
    header = [f"h{i}\x1b[31m" + "x" * 100 for i in range(30)]
    text = shown_headers(header)
    assert "\x1b" not in text and "(+10 more)" in text
    assert len(text) < 20 * 50
    assert shown_headers([]) == "none"


def test_reversed_mapping_is_detected() -> None:
    known = set(FIELDS)
    with pytest.raises(InputError, match="did you mean --column my_number=個人番号"):
        check_column_map({"個人番号": "my_number"}, known, "jp-resident")
    with pytest.raises(InputError, match=r"did you mean --column family_name_kanji=SEI\?"):
        check_column_map({"姓": "SEI"}, known, "jp-resident")
    with pytest.raises(InputError, match="'surname' is not a field of schema") as info:
        check_column_map({"surname": "x"}, known, "jp-resident")
    assert "did you mean" not in str(info.value)
    check_column_map({"my_number": "個人番号"}, known, "jp-resident")


def test_reversed_mapping_with_unprintable_header_is_escaped() -> None:
    with pytest.raises(InputError) as info:
        check_column_map({"a\x1bb": "sex"}, set(FIELDS), "jp-resident")
    assert "\x1b" not in str(info.value) and "did you mean --column sex='a\\x1bb'" in str(
        info.value
    )


def test_shift_jis_failure_suggests_cp932(tmp_path: Path) -> None:
    path = write(tmp_path / "w.csv", JAPANESE, [[*ROW[:1], "髙橋", "①", *ROW[3:]]], "cp932")
    with pytest.raises(InputError, match="not valid sjis.*try --encoding cp932"):
        read_csv(path, encoding="sjis")
    assert read_csv(path, encoding="cp932").columns["姓"] == ["髙橋"]
    with pytest.raises(InputError) as info:
        read_csv(write(tmp_path / "l.csv", ["a"], [["é"]], "latin-1"), encoding="utf-8")
    assert "cp932" not in str(info.value)


def test_auto_detection_failure_on_cp932_bytes_suggests_cp932(tmp_path: Path) -> None:
    path = tmp_path / "n.csv"
    path.write_bytes(b"a,b\n\x81\x40,x\n")  # valid cp932 (an ideographic space), not UTF-8
    with pytest.raises(InputError, match="pass --encoding cp932 if it is a Japanese"):
        read_csv(path)
    bad = tmp_path / "b.csv"
    bad.write_bytes(b"a,b\n\x81 ,x\n")  # neither UTF-8 nor cp932
    with pytest.raises(InputError) as info:
        read_csv(bad)
    assert "cp932 if" not in str(info.value)


# --- full names in one column (pprl.fullname) ---------------------------------------------
COMBINED = ["個人番号", "氏名", "氏名カナ", "生年月日", "性別", "郵便番号", "住所"]
COMBINED_ROWS = [
    ["123456789018", "山田　太郎", "ﾔﾏﾀﾞ ﾀﾛｳ", "1980-01-02", "M", "100-0001", "東京都"],
    ["123456789018", "髙橋花子", "タカハシハナコ", "1980-01-02", "F", "100-0001", "東京都"],
]


def test_full_name_columns_are_split_without_column_options(tmp_path: Path) -> None:
    data = read_csv(write(tmp_path / "c.csv", COMBINED, COMBINED_ROWS, "cp932"))
    got = resolve_columns(data, RESIDENT, {})
    assert list(got["family_name_kanji"]) == ["山田", "髙橋"]
    assert list(got["given_name_kanji"]) == ["太郎", "花子"]
    assert list(got["family_name_kana"]) == ["ヤマダ", "タカハシ"]
    assert list(got["given_name_kana"]) == ["タロウ", "ハナコ"]
    assert list(got["date_of_birth"]) == ["1980-01-02"] * 2


def test_bank_holder_name_is_the_full_kana_column_as_it_is(tmp_path: Path) -> None:
    data = read_csv(write(tmp_path / "c.csv", COMBINED, COMBINED_ROWS))
    assert list(resolve_columns(data, BANK, {})["account_holder_kana"]) == [
        "ﾔﾏﾀﾞ ﾀﾛｳ",
        "タカハシハナコ",
    ]


def test_split_columns_win_over_a_full_name_column(tmp_path: Path) -> None:
    header = [*COMBINED, "姓", "名"]
    rows = [[*r, "東", "京子"] for r in COMBINED_ROWS]
    data = read_csv(write(tmp_path / "b.csv", header, rows))
    got = resolve_columns(data, RESIDENT, {})
    assert list(got["family_name_kanji"]) == ["東", "東"]
    assert list(got["family_name_kana"]) == ["ヤマダ", "タカハシ"]  # no split kana columns
    explicit = resolve_columns(data, RESIDENT, {"full_name_kanji": "氏名"})
    assert list(explicit["family_name_kanji"]) == ["山田", "髙橋"]


def test_one_split_column_beside_a_full_name_is_refused(tmp_path: Path) -> None:
    data = read_csv(write(tmp_path / "o.csv", [*COMBINED, "姓"], [[*COMBINED_ROWS[0], "山田"]]))
    with pytest.raises(InputError) as info:
        resolve_columns(data, RESIDENT, {})
    message = str(info.value)
    assert "\n" not in message and "o.csv" in message
    assert "'姓' holds 'family_name_kanji' but no header holds 'given_name_kanji'" in message
    assert "--column full_name_kanji=氏名" in message
    ok = resolve_columns(data, RESIDENT, {"full_name_kanji": "氏名"})
    assert list(ok["given_name_kanji"]) == ["太郎"]


@pytest.mark.parametrize(
    ("column_map", "expect"),
    [
        (
            {"family_name_kanji": "氏名", "given_name_kanji": "氏名"},
            r"fields 'family_name_kanji' and 'given_name_kanji' both read the column '氏名'; "
            r"a full name in one column is split by pprl: map it with --column "
            r"full_name_kanji=氏名 instead",
        ),
        (
            {"family_name_kana": "氏名カナ", "given_name_kana": "氏名カナ"},
            r"--column full_name_kana=氏名カナ instead",
        ),
        (
            {
                "family_name_kanji": "氏名",
                "family_name_kana": "氏名",
                "given_name_kana": "氏名カナ",
            },
            r"fields 'family_name_kanji' and 'family_name_kana' both read the column '氏名'; "
            r"map each field to its own column",
        ),
        (
            {"full_name_kanji": "氏名", "given_name_kanji": "氏名"},
            r"--column full_name_kanji='氏名' and --column given_name_kanji='氏名' both given",
        ),
    ],
)
def test_one_column_for_two_name_fields_is_refused(
    tmp_path: Path, column_map: dict[str, str], expect: str
) -> None:
    data = read_csv(write(tmp_path / "d.csv", COMBINED, COMBINED_ROWS))
    with pytest.raises(InputError, match=r"d\.csv: .*" + expect):
        resolve_columns(data, RESIDENT, column_map)


def test_canonical_headers_for_two_name_fields_are_refused(tmp_path: Path) -> None:
    """--column given_name_kanji=family_name_kanji: the canonical header already feeds
    family_name_kanji, so both fields would read it."""
    data = read_csv(write(tmp_path / "c.csv", FIELDS, [ROW]))
    with pytest.raises(InputError, match="both read the column 'family_name_kanji'"):
        resolve_columns(data, RESIDENT, {"given_name_kanji": "family_name_kanji"})


def test_full_name_fields_are_known_only_to_schemas_with_names() -> None:
    known = {"my_number", "account_holder_kana", "date_of_birth"}
    with pytest.raises(InputError, match="'full_name_kanji' is not a field"):
        check_column_map({"full_name_kanji": "氏名"}, known, "jp-bank-holder")


def test_full_name_columns_pair_up_with_known_aliases() -> None:
    for fn in FULL_NAMES:
        assert fn.name in ALIASES and fn.family in ALIASES and fn.given in ALIASES


def test_a_full_name_mapping_to_an_absent_header_is_named(tmp_path: Path) -> None:
    data = read_csv(write(tmp_path / "a.csv", COMBINED, COMBINED_ROWS))
    with pytest.raises(InputError) as info:
        resolve_columns(data, RESIDENT, {"full_name_kanji": "名前X"})
    assert "'given_name_kanji' (or, for both, a full-name column 'full_name_kanji') " in str(
        info.value
    )
    assert "--column full_name_kanji='名前X' names no header" in str(info.value)
