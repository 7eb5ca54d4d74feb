"""Shared character classes and low-level helpers for the normalizers.

Everything here is a pure function or a precompiled constant, so the normalizers
stay cheap when the encoder calls them once per distinct value.
"""

from __future__ import annotations

import re
import unicodedata

# Stand-alone (spacing) voiced / semi-voiced marks. NFKC turns them into
# "space + combining mark", which would split ｶ゛ into two tokens, so they are mapped
# to the combining marks first and NFKC then composes カ + ゛ into ガ.
_SPACING_MARKS = str.maketrans({"\u309b": "\u3099", "\u309c": "\u309a"})

# Removed after NFKC: variation selectors (standard and ideographic, IVS), which only
# select a glyph (葛 with or without an IVS must not distinguish two names); combining
# voiced marks that did not compose with the preceding character; and invisible format
# characters that copy and paste leave in a value (soft hyphen, zero-width space and
# joiners, word joiner, a byte-order mark inside the text): \u200b石井 is 石井.
_DROPPED_AFTER_NFKC = re.compile(
    "[\ufe00-\ufe0f\U000e0100-\U000e01ef\u3099\u309a\u00ad\u200b-\u200d\u2060\ufeff]"
)

# Dash-like characters that people type for a hyphen or a long-vowel mark. After
# NFKC, full-width ｰ/－ are already ー/-; the rest survive NFKC.
DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2500\u2501\u30fc\ufe63\uff0d\uff70"
DASH_CLASS = "[" + re.escape(DASHES) + "]"

# Wave dashes / tildes, used for long vowels in kana names only.
WAVES = "~\u301c\u3030\uff5e"

_BLANK = re.compile(r"\s+")


def is_blank(value: str | None) -> bool:
    """True for None, the empty string and whitespace-only strings (incl. U+3000).

    Every normalizer maps such input to None, so missing values are counted, not encoded.
    """
    return value is None or not value.strip()


def nfkc(value: str) -> str:
    """NFKC-normalize ``value`` after turning spacing voiced marks into combining ones.

    NFKC folds full-width ASCII, half-width katakana (ｶﾞ → ガ) and compatibility
    ideographs. Variation selectors and voiced marks that could not compose are removed.
    """
    if "\u309b" in value or "\u309c" in value:
        value = value.translate(_SPACING_MARKS)
    return _DROPPED_AFTER_NFKC.sub("", unicodedata.normalize("NFKC", value))


def remove_whitespace(value: str) -> str:
    """Drop every whitespace character (ASCII and Unicode, incl. the ideographic space)."""
    return _BLANK.sub("", value)


def collapse_whitespace(value: str) -> str:
    """Strip ``value`` and collapse each whitespace run to one ASCII space."""
    return _BLANK.sub(" ", value).strip()
