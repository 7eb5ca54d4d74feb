"""Public API of pprl.normalize: names, blank handling and idempotence of every normalizer."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pprl.normalize as norm
from pprl.normalize import NORMALIZERS
from pprl.normalize.kanji import variant_pairs

EXPECTED_KEYS = {
    "name_kanji", "name_kana", "name_kana_bank", "date", "sex", "postcode",
    "address", "my_number", "text", "none",
}  # fmt: skip

# Characters people actually put in Japanese identity fields, plus awkward neighbours.
_SPECIAL = (
    " \u3000\t・･·＝=ーｰ－-‐―−〜～゛゜ﾞﾟヽヾゝゞ々〒#丁目番地号室のノヶケが"
    "〇一二三四五六七八九十百千元年月日明治大正昭和平成令和MTSHR男女性.／/"
    "\u3099\u309a\ufe00\U000e0100"
)
JAPANESE_CHARS = st.one_of(
    st.characters(min_codepoint=0x3041, max_codepoint=0x30FF),  # hiragana, katakana
    st.characters(min_codepoint=0xFF01, max_codepoint=0xFF9F),  # full-width ASCII, half-width kana
    st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),  # CJK unified ideographs
    st.characters(min_codepoint=0x30, max_codepoint=0x39),  # ASCII digits
    st.characters(min_codepoint=0x20, max_codepoint=0x7E),  # ASCII
    st.sampled_from(_SPECIAL),
    st.sampled_from([v for v, _, _ in variant_pairs()]),
)
JAPANESE_TEXT = st.text(alphabet=JAPANESE_CHARS, max_size=24)


def test_registry_keys_and_functions() -> None:
    """NORMALIZERS has exactly the documented keys, mapped to the re-exported functions."""
    assert set(NORMALIZERS) == EXPECTED_KEYS
    for key, func in NORMALIZERS.items():
        if key != "none":
            assert getattr(norm, key) is func
    assert NORMALIZERS["none"] is norm.none


@pytest.mark.parametrize("key", sorted(EXPECTED_KEYS))
@pytest.mark.parametrize("blank", ["", " ", "\u3000", " \t\n\u3000 "])
def test_blank_is_none(key: str, blank: str) -> None:
    """Empty and whitespace-only input is None for every normalizer."""
    assert NORMALIZERS[key](blank) is None


def test_none_is_identity() -> None:
    """The "none" normalizer returns non-blank input unchanged."""
    assert NORMALIZERS["none"](" 山田 ") == " 山田 "


@pytest.mark.parametrize("key", sorted(EXPECTED_KEYS))
@settings(max_examples=300, deadline=None)
@given(value=JAPANESE_TEXT)
def test_idempotent_and_total(key: str, value: str) -> None:
    """No normalizer raises; each is idempotent and never returns an empty string."""
    func = NORMALIZERS[key]
    once = func(value)
    if once is not None:
        assert once != ""
        assert func(once) == once


def test_text_collapses_spaces() -> None:
    """text(): NFKC, strip and collapse whitespace runs."""
    assert norm.text("  ＡＢＣ\u3000\u3000def ") == "ABC def"
    assert norm.text("ﾃｽﾄ") == "テスト"


def test_invisible_format_characters_do_not_make_another_name() -> None:
    """Copy and paste leaves zero-width spaces, joiners, soft hyphens and byte-order marks
    in values; they must not make 石井 another name (found by the round-13 attack)."""
    from pprl.normalize import NORMALIZERS

    for junk in ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"):
        assert NORMALIZERS["name_kanji"](f"{junk}石{junk}井") == NORMALIZERS["name_kanji"]("石井")
        assert NORMALIZERS["name_kana"](f"ｲｼ{junk}ｲ") == NORMALIZERS["name_kana"]("イシイ")
        assert NORMALIZERS["address"](f"東京都{junk}千代田区1丁目2番3号") == "東京都千代田区1-2-3"
