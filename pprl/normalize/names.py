"""Person names: the kanji field, the kana (フリガナ) field and bank-account kana.

The output is a matching key, not a display form: separators are dropped, every kana
becomes full-width katakana and variant kanji are folded, so that 髙橋 太郎 / 高橋太郎 and
ｻﾄｳ / サトウ / さとう encode identically.
"""

from __future__ import annotations

import re

from ._chars import is_blank, nfkc
from .kana import (
    expand_iteration_marks,
    fold_archaic_kana,
    hiragana_to_katakana,
    small_to_large,
    unify_all_long_vowels,
    unify_long_vowels_after_kana,
)
from .kanji import fold_variants

# Separators between family and given name or inside foreign names: whitespace,
# middle dots (・ ･ · ‧ • ∙ ⋅), equals signs (ジャン＝ポール, ゠) and commas.
_SEPARATORS = re.compile("[\\s\u30fb\u00b7\u2027\u2022\u2219\u22c5=\u30a0,\u3001]+")


def _finish(value: str) -> str | None:
    """Final NFKC pass (removals can make new composable pairs) and empty → None."""
    value = nfkc(value)
    return value or None


def _common(value: str) -> str:
    """Steps shared by all name fields: NFKC, separators out, kana to katakana, upper-case."""
    value = _SEPARATORS.sub("", nfkc(value))
    value = hiragana_to_katakana(value)
    value = expand_iteration_marks(value)
    return fold_archaic_kana(value).upper()


def name_kanji(value: str) -> str | None:
    """Normalize a name written in kanji (氏名).

    NFKC, spaces and middle dots removed, variant kanji folded (髙 → 高, 﨑 → 崎),
    kana parts converted to katakana (山田はな → 山田ハナ) with long vowels unified after
    kana, Latin letters upper-cased. 々 is kept as written.
    """
    if is_blank(value):
        return None
    value = fold_variants(_common(value))
    return _finish(unify_long_vowels_after_kana(value))


def name_kana(value: str) -> str | None:
    """Normalize a kana reading (フリガナ) to full-width katakana.

    Half-width and hiragana become full-width katakana (ｻﾄｳ, さとう → サトウ), voiced
    marks are composed (ｶﾞ → ガ), spaces and dots removed, every dash or wave dash
    becomes the long-vowel mark ー, and ヰ/ヱ become イ/エ. Small kana are kept.
    """
    if is_blank(value):
        return None
    return _finish(unify_all_long_vowels(_common(value)))


def name_kana_bank(value: str) -> str | None:
    """Normalize a bank-account kana name (口座名義): ``name_kana`` plus small → large kana.

    The 全銀 character set has no small kana, so ﾔﾏｻﾞｷ ｼﾖｳ must match ヤマザキ ショウ;
    both become ヤマザキシヨウ.
    """
    normalized = name_kana(value)
    return None if normalized is None else small_to_large(normalized)
