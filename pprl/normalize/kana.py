"""Kana conversions: hiragana → katakana, iteration marks, long vowels, small kana.

Input is expected to be NFKC-normalized already (half-width katakana and voiced marks
are composed by NFKC, see ``_chars.nfkc``).
"""

from __future__ import annotations

import re
import unicodedata

from ._chars import DASHES, WAVES

_HIRA_TO_KATA: dict[int, int | str] = {
    c: c + 0x60 for c in range(0x3041, 0x3097)
}  # ぁ..ゖ → ァ..ヶ
_HIRA_TO_KATA.update({0x309D: 0x30FD, 0x309E: 0x30FE})  # ゝゞ → ヽヾ
_HIRA_TO_KATA[0x309F] = "ヨリ"  # ゟ (yori ligature)
_HIRA_TO_KATA[0x30FF] = "コト"  # ヿ (koto ligature)

# Obsolete kana that people type for the modern vowel in names.
_ARCHAIC = str.maketrans({"ヰ": "イ", "ヱ": "エ"})

_SMALL_TO_LARGE = str.maketrans(
    {
        "ァ": "ア", "ィ": "イ", "ゥ": "ウ", "ェ": "エ", "ォ": "オ",
        "ッ": "ツ", "ャ": "ヤ", "ュ": "ユ", "ョ": "ヨ", "ヮ": "ワ",
        "ヵ": "カ", "ヶ": "ケ",
        "ㇰ": "ク", "ㇱ": "シ", "ㇲ": "ス", "ㇳ": "ト", "ㇴ": "ヌ", "ㇵ": "ハ",
        "ㇶ": "ヒ", "ㇷ": "フ", "ㇸ": "ヘ", "ㇹ": "ホ", "ㇺ": "ム", "ㇻ": "ラ",
        "ㇼ": "リ", "ㇽ": "ル", "ㇾ": "レ", "ㇿ": "ロ",
    }
)  # fmt: skip

KATAKANA = "\u30a1-\u30fa\u30fd\u30fe\u31f0-\u31ff"
_ITERATION = re.compile(f"([{KATAKANA}])([ヽヾ]+)")
_LONG_AFTER_KANA = re.compile(f"(?<=[{KATAKANA}])[{re.escape(DASHES + WAVES)}]+")
_ANY_LONG = re.compile(f"[{re.escape(DASHES + WAVES)}]")


def hiragana_to_katakana(value: str) -> str:
    """Convert hiragana (incl. ゝゞ and ゟ) to katakana; other characters pass through.

    Names are recorded in either script (さとう / サトウ); katakana is the canonical one.
    """
    return value.translate(_HIRA_TO_KATA)


def fold_archaic_kana(value: str) -> str:
    """Fold ヰ → イ and ヱ → エ, which survive only as spelling variants in names."""
    return value.translate(_ARCHAIC)


def small_to_large(value: str) -> str:
    """Replace small katakana by the large ones (ャ → ヤ, ッ → ツ, ヵ → カ).

    Bank account names (全銀 format) have no small kana, so ヤマザキ ショウ is stored as
    ﾔﾏｻﾞｷ ｼﾖｳ; folding both sides lets them match.
    """
    return value.translate(_SMALL_TO_LARGE)


def _voiced(char: str) -> str:
    """Return the voiced form of a katakana (カ → ガ), or ``char`` when none exists."""
    composed = unicodedata.normalize("NFC", _unvoiced(char) + "\u3099")
    return composed if len(composed) == 1 else _unvoiced(char)


def _unvoiced(char: str) -> str:
    """Return ``char`` without voiced / semi-voiced mark (ガ → カ, パ → ハ)."""
    return unicodedata.normalize("NFD", char)[0]


def _expand(match: re.Match[str]) -> str:
    """Expand a run of ヽ/ヾ after a katakana into repeated characters."""
    base, marks = match.group(1), match.group(2)
    out = [base]
    for mark in marks:
        out.append(_voiced(base) if mark == "ヾ" else _unvoiced(base))
    return "".join(out)


def expand_iteration_marks(value: str) -> str:
    """Spell out kana iteration marks: サヽキ → ササキ, ミスヾ → ミスズ.

    The marks are an abbreviation only; expanding them makes both spellings compare equal.
    A mark not preceded by a katakana is left alone.
    """
    return _ITERATION.sub(_expand, value)


def unify_long_vowels_after_kana(value: str) -> str:
    """Turn hyphens, dashes and wave dashes directly after a katakana into ー.

    Used for fields that mix kanji and kana (e.g. foreign names in the kanji field).
    """
    return _LONG_AFTER_KANA.sub(lambda match: "ー" * len(match.group(0)), value)


def unify_all_long_vowels(value: str) -> str:
    """Turn every hyphen, dash and wave dash into ー (pure-kana fields such as フリガナ)."""
    return _ANY_LONG.sub("ー", value)
