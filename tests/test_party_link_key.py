"""The My Number link key checked and pseudonymized from Arrow buffers
(pprl.party.my_number_tokens) gives the tokens and the report that normalizing the
column and pseudonymizing it value by value gives; the ISO fast path of the date
normalizer equals its general parser."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pprl.party
from pprl.keys import load_secret, write_secret
from pprl.mynumber import check_digit
from pprl.normalize import date
from pprl.party import EncodeReport, encode_csv, link_key_tokens, my_number_tokens, normalize_codes
from pprl.read import ArrowFactorized
from pprl.schema import load_schema

KEY = bytes(range(32))


def _valid(payload: str) -> str:
    return payload + str(check_digit(payload))


NUMBERS = st.one_of(
    st.text("0123456789", min_size=11, max_size=11).map(_valid),  # valid
    st.text("0123456789", min_size=12, max_size=12),  # mostly a bad check digit
    st.text("0123456789", min_size=10, max_size=13),  # wrong length
    st.text("0123456789", min_size=11, max_size=11)
    .map(_valid)
    .map(lambda v: f"{v[:4]}-{v[4:8]}-{v[8:]}"),  # hyphenated
    st.text("0123456789", min_size=11, max_size=11)
    .map(_valid)
    .map(lambda v: v.translate(str.maketrans("0123456789", "０１２３４５６７８９"))),
    st.sampled_from(
        [
            "",
            " ",
            "\u3000",
            "abcdefghijkl",
            "12345678901a",
            " 123456789018",
            "12345678901:",
            "/12345678901",
            "１２３４",
            "1234567890１",
        ]
    ),  # fmt: skip
    st.text(max_size=14),
)


def _reference(values: list[str]) -> tuple[np.ndarray, np.ndarray, EncodeReport]:
    report = EncodeReport()
    column, _ = normalize_codes(values, "my_number")
    tokens, valid = link_key_tokens(column, "my_number", KEY, report)
    return tokens, valid, report


def _as_arrow(values: list[str]) -> ArrowFactorized:
    encoded = pc.dictionary_encode(pa.array(values, type=pa.string()))
    return ArrowFactorized(encoded.dictionary, encoded.indices.to_numpy())


@settings(max_examples=400, deadline=None)
@given(st.lists(NUMBERS, max_size=40))
def test_tokens_and_report_equal_the_normalized_path(values: list[str]) -> None:
    values = [v.replace("\ud800", "") for v in values]
    tokens, valid, report = _reference(values)
    for column in (values, _as_arrow(values)):
        got_report = EncodeReport()
        got_tokens, got_valid = my_number_tokens(column, KEY, got_report)
        np.testing.assert_array_equal(got_tokens, tokens)
        np.testing.assert_array_equal(got_valid, valid)
        assert got_report.missing_link_key_rows == report.missing_link_key_rows
        assert got_report.invalid_link_key_rows == report.invalid_link_key_rows


def test_hand_built_rows() -> None:
    good = _valid("12345678901")
    bad = good[:11] + str((int(good[11]) + 1) % 10)
    values = [good, bad, "", "1234-5678-901" + good[-1], "12345", good, " "]
    report = EncodeReport()
    tokens, valid = my_number_tokens(_as_arrow(values), KEY, report)
    assert valid.tolist() == [True, False, False, True, False, True, False]
    assert report.invalid_link_key_rows == [1]  # 12 digits, bad check digit
    assert report.missing_link_key_rows == [2, 4, 6]  # blank or not 12 digits
    assert tokens[0].any() and not tokens[1].any()
    assert (tokens[0] == tokens[3]).all() and (tokens[0] == tokens[5]).all()


@pytest.mark.parametrize("strict", [False, True])
def test_encode_same_with_and_without_the_byte_path(tmp_path, monkeypatch, strict) -> None:
    """The whole encoding (and --strict's refusal) is the same as when the link key is
    normalized like any other field."""
    secret = load_secret(write_secret(tmp_path / "k"))
    path = tmp_path / "in.csv"
    header = "my_number,family_name_kanji,given_name_kanji,family_name_kana,given_name_kana,"
    header += "date_of_birth,sex,postcode,address"
    good = _valid("98765432109")
    rows = [
        f"{good},山田,太郎,ヤマダ,タロウ,1980-01-01,1,100-0001,東京都千代田区1-2-3",
        f"{good[:4]}-{good[4:8]}-{good[8:]},山田,花子,ヤマダ,ハナコ,1980-02-03,2,100-0001,東京都",
        ",山田,,ヤマダ,,1980-01-01,1,100-0001,東京都千代田区1-2-3",
        f"{good[:11]}{(int(good[11]) + 1) % 10},山田,花子,ヤマダ,ハナコ,1980-02-03,2,,",
    ]
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    schema = load_schema("jp-resident")

    def run():
        try:
            return encode_csv(path, schema, secret, processes=1, strict=strict)
        except Exception as exc:  # noqa: BLE001 - compared below
            return str(exc)

    direct = run()
    monkeypatch.setattr(pprl.party, "_needs_normalized", lambda schema, name: True)
    normalized = run()
    if strict:
        assert isinstance(direct, str) and direct == normalized
        return
    (enc, rep), (enc0, rep0) = direct, normalized
    np.testing.assert_array_equal(enc.tokens, enc0.tokens)
    np.testing.assert_array_equal(enc.has_token, enc0.has_token)
    np.testing.assert_array_equal(enc.clks, enc0.clks)
    assert enc.meta == enc0.meta
    assert rep.missing_link_key_rows == rep0.missing_link_key_rows == [2]
    assert rep.invalid_link_key_rows == rep0.invalid_link_key_rows == [3]
    assert enc.has_token.tolist() == [True, True, False, False]


@settings(max_examples=2000, deadline=None)
@given(
    st.text("0123456789", min_size=4, max_size=4),
    st.text("0123456789", min_size=2, max_size=2),
    st.text("0123456789", min_size=2, max_size=2),
)
def test_iso_fast_path_equals_the_parser(year: str, month: str, day: str) -> None:
    value = f"{year}-{month}-{day}"
    # with a trailing space the value is not 10 characters: the general parser reads it
    assert date(value) == date(value + " ")
