"""Kana helpers and the kana name normalizers (フリガナ, bank account names)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pprl.normalize import name_kana, name_kana_bank
from pprl.normalize.kana import (
    expand_iteration_marks,
    hiragana_to_katakana,
    small_to_large,
    unify_all_long_vowels,
)

KANA = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=0x3041, max_codepoint=0x30FF),
        st.characters(min_codepoint=0xFF61, max_codepoint=0xFF9F),
        st.sampled_from(" \u3000・･ーｰ－-‐―−〜～゛゜"),
    ),
    max_size=20,
)


@pytest.mark.parametrize("value", ["ｻﾄｳ", "サトウ", "さとう", "ｻ ﾄ ｳ", "サ・トウ", "さとう\u3000"])
def test_sato_spellings_equal(value: str) -> None:
    """Half-width, full-width and hiragana spellings of one name are equal."""
    assert name_kana(value) == "サトウ"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ｶﾞ", "ガ"),
        ("ﾊﾟ", "パ"),
        ("ｳﾞｨｸﾄﾙ", "ヴィクトル"),
        ("か゛", "ガ"),  # spacing voiced mark
        ("ﾔﾏﾀﾞ ﾀﾛｳ", "ヤマダタロウ"),
        ("ｽﾐｽ･ｼﾞｮﾝ", "スミスジョン"),
        ("ジャン＝ポール", "ジャンポール"),
        ("ミラｰ", "ミラー"),
        ("ミラ－", "ミラー"),
        ("ミラ‐", "ミラー"),
        ("ミラ―", "ミラー"),
        ("ミラ−", "ミラー"),
        ("ミラ〜", "ミラー"),
        ("サヽキ", "ササキ"),
        ("みすゞ", "ミスズ"),
        ("ヰヱ", "イエ"),
        ("キョウコ", "キョウコ"),  # small kana kept outside bank names
        ("・", None),
    ],
)
def test_name_kana_examples(value: str, expected: str | None) -> None:
    """Targeted examples for name_kana."""
    assert name_kana(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ﾔﾏﾀﾞ ﾀﾛｳ", "ヤマダタロウ"),
        ("ﾔﾏｻﾞｷ ｼﾖｳ", "ヤマザキシヨウ"),
        ("ヤマザキ ショウ", "ヤマザキシヨウ"),
        ("ｷｯｶﾜ ｼｭﾝ", "キツカワシユン"),
        ("ファン", "フアン"),
        ("ヮヵヶ", "ワカケ"),
        ("ﾐﾗｰ", "ミラー"),
    ],
)
def test_name_kana_bank_examples(value: str, expected: str) -> None:
    """Bank names: small kana become large, so 全銀 spellings match."""
    assert name_kana_bank(value) == expected


@given(KANA)
def test_bank_is_large_kana_of_name_kana(value: str) -> None:
    """name_kana_bank is exactly small_to_large applied to name_kana."""
    kana = name_kana(value)
    assert name_kana_bank(value) == (None if kana is None else small_to_large(kana))


@given(KANA)
def test_kana_output_has_no_hiragana_or_half_width(value: str) -> None:
    """name_kana never returns hiragana, half-width kana, spaces or middle dots."""
    result = name_kana(value)
    if result is not None:
        assert not any("\u3041" <= c <= "\u3096" or c in "ゝゞゟ" for c in result)
        assert not any("\uff61" <= c <= "\uff9f" for c in result)
        assert not any(c.isspace() or c in "・･" for c in result)
        assert name_kana(result) == result


def test_helpers() -> None:
    """The building blocks behave as documented."""
    assert hiragana_to_katakana("さとう たろう") == "サトウ タロウ"
    assert small_to_large("ッャュョァ") == "ツヤユヨア"
    assert expand_iteration_marks("ハヽ") == "ハハ"
    assert expand_iteration_marks("ヽア") == "ヽア"
    assert unify_all_long_vowels("コ-ヒ〜") == "コーヒー"
