"""The fast address normalizer gives exactly what the earlier one gave, on hand-built
and generated addresses. The earlier implementation is kept below as the oracle."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pprl.normalize import address
from pprl.normalize._chars import DASHES, is_blank
from pprl.normalize.kana import KATAKANA
from pprl.normalize.kanji import variant_pairs
from pprl.normalize.numerals import KANJI_NUMERAL_CLASS, kanji_to_int

# pprl.normalize._chars.nfkc and pprl.normalize.kanji.fold_variants as they were (plus
# the one deliberate change since: invisible format characters are dropped too)
_SPACING_MARKS = str.maketrans({"\u309b": "\u3099", "\u309c": "\u309a"})
_LEFTOVER_MARKS = re.compile("[\u3099\u309a]")
_VARIATION_SELECTORS = re.compile("[\ufe00-\ufe0f\U000e0100-\U000e01ef]")
_INVISIBLE = re.compile("[\u00ad\u200b-\u200d\u2060\ufeff]")


def nfkc(value: str) -> str:
    text = unicodedata.normalize("NFKC", value.translate(_SPACING_MARKS))
    text = _VARIATION_SELECTORS.sub("", text)
    return _INVISIBLE.sub("", _LEFTOVER_MARKS.sub("", text))


def fold_variants(value: str) -> str:
    return value.translate({ord(v): c for v, c, _ in variant_pairs()})


_KANJI = "[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f々〆]"

_GAP_BETWEEN_DIGITS = re.compile(r"(?<=[0-9])[\s#]+(?=[0-9])")
_GAPS = re.compile(r"[\s#]+")
_DASH_RUN = re.compile(f"[{re.escape(DASHES)}]+")
_KATAKANA_CHAR = re.compile(f"[{KATAKANA}]")

# Kanji numerals that are block numbers: followed by a block suffix (一丁目, 二番, 三号,
# 二十三番地, 三の四, 一-) or following one at the end of a block (二番三). Numerals in
# place names (八王子, 三鷹, 九段, 十日町, 八丁堀) have neither and are kept.
_BLOCK_SUFFIX = f"丁目|番|号|条|線|地割|-|の{KANJI_NUMERAL_CLASS}"
_NUMERAL_BEFORE_SUFFIX = re.compile(f"{KANJI_NUMERAL_CLASS}+(?={_BLOCK_SUFFIX})")
_NUMERAL_AFTER_BLOCK = re.compile(f"(?<=[目番地号の-]){KANJI_NUMERAL_CLASS}+(?![^\\W\\d_])")

_GA_BETWEEN_KANJI = re.compile(f"(?<={_KANJI})[ヶケヵがガ](?={_KANJI})")
_NO_BETWEEN_KANJI = re.compile(f"(?<={_KANJI})[のノ](?={_KANJI})")

_CHOME = re.compile("([0-9]+)丁目")
_BANCHI = re.compile("([0-9]+)番地?(?!町)の?")
_NO_BETWEEN_DIGITS = re.compile("(?<=[0-9])の(?=[0-9])")
_ROOM = re.compile("(?<=[0-9])号?室")
_GO = re.compile("(?<=[0-9])号(?![棟館])")
_MULTI_HYPHEN = re.compile("-{2,}")
_DANGLING_HYPHEN = re.compile("(?<=[0-9])-+(?![0-9A-Z])|^-+")


def _clean_characters(value: str) -> str:
    """NFKC, variant kanji folded (澤 → 沢), ヶ → ケ, ASCII letters upper-cased."""
    return fold_variants(nfkc(value)).replace("ヶ", "ケ").upper()


def _drop_oaza(value: str) -> str:
    """Remove 大字 (oaza), which is omitted as often as written.

    Repeated because removing one can join 大 and 字 into another (大大字字).
    """
    while "大字" in value:
        value = value.replace("大字", "")
    return value


def _remove_gaps(value: str) -> str:
    """Remove whitespace and '#'; between two digit runs they become a hyphen (1-2-3 101)."""
    return _GAPS.sub("", _GAP_BETWEEN_DIGITS.sub("-", value.strip()))


def _dash_run(match: re.Match[str]) -> str:
    """Classify one run of dashes as long-vowel marks or as a single hyphen.

    After katakana a run is a long vowel (コ-ポ → コーポ) unless it precedes a digit and
    is not written with ー itself (ハイツ−101 is a hyphen, センター1 keeps its ー).
    """
    text, start, end = match.string, match.start(), match.end()
    run = match.group(0)
    after_kana = start > 0 and _KATAKANA_CHAR.match(text[start - 1]) is not None
    before_digit = end < len(text) and text[end] in "0123456789"
    if after_kana and (not before_digit or run == "ー" * len(run)):
        return "ー" * len(run)
    return "-"


def _classify_dashes(value: str) -> str:
    """Dashes after katakana become ー (コ-ポ → コーポ); all others become '-' (1−2−3)."""
    return _DASH_RUN.sub(_dash_run, value)


def _numeral(match: re.Match[str]) -> str:
    """Digits for a kanji-numeral match, or the match unchanged if it is malformed."""
    number = kanji_to_int(match.group(0))
    return match.group(0) if number is None else str(number)


def _block_numerals(value: str) -> str:
    """Kanji numerals in block numbers to digits (一丁目二番三号 → 1丁目2番3号)."""
    value = _NUMERAL_BEFORE_SUFFIX.sub(_numeral, value)
    return _NUMERAL_AFTER_BLOCK.sub(_numeral, value)


def _place_name_kana(value: str) -> str:
    """Fold ヶ/ケ/が/ガ/ヵ between kanji to ケ (霞が関 → 霞ケ関), の/ノ to ノ (虎の門 → 虎ノ門)."""
    value = _GA_BETWEEN_KANJI.sub("ケ", value)
    return _NO_BETWEEN_KANJI.sub("ノ", value)


def _block_numbers(value: str) -> str:
    """丁目/番(地)/号/の to hyphens: 1丁目2番3号, 1丁目2番地3 → 1-2-3; 2番地の3 → 2-3.

    Also drops 号室/室 after a room number and stray hyphens. One rewrite can expose
    another (1-番 → 1番 → 1), so the rules run to a fixpoint; every rule only deletes
    characters or replaces a suffix character by a hyphen, so the loop terminates.
    """
    while True:
        cleaned = _CHOME.sub(r"\1-", value)
        cleaned = _BANCHI.sub(r"\1-", cleaned)
        cleaned = _NO_BETWEEN_DIGITS.sub("-", cleaned)
        cleaned = _GO.sub("", _ROOM.sub("", cleaned))
        cleaned = _DANGLING_HYPHEN.sub("", _MULTI_HYPHEN.sub("-", cleaned))
        if cleaned == value:
            return value
        value = cleaned


def old_address(value: str) -> str | None:
    """Normalize a postal address to a compact, hyphenated matching key.

    Keeps prefecture, municipality and town text; folds widths, variant kanji and
    ヶ/ケ/が; rewrites block numbers (1丁目2番3号, 1丁目2番地3, 一丁目二番三号, 1−2−3)
    to ``1-2-3``; keeps building and room after the block (メゾン東京101号室 → メゾン東京101);
    removes spaces. Returns None for blank input.
    """
    if is_blank(value):
        return None
    value = _drop_oaza(_remove_gaps(_clean_characters(value)))
    value = _classify_dashes(value)
    value = _place_name_kana(_block_numerals(value))
    value = _block_numbers(value)
    return value or None


# ---------------------------------------------------------------------- the tests

PIECES = [
    "東京都", "千代田区", "霞", "が", "ヶ", "ケ", "ヵ", "ガ", "関", "の", "ノ", "大字", "大", "字",
    "一", "二", "十", "百", "〇", "三", "丁目", "番", "番地", "地", "号", "号室", "室", "町", "棟",
    "館", "条", "線", "地割", "-", "−", "ー", "ｰ", "－", "--", "~", " ", "　", "#", "\t",
    "1", "12", "３", "0", "A", "b", "ｂ", "コ", "ポ", "ﾊ", "ﾞ", "゛", "\u3099", "\ufe00",
    "髙", "澤", "﨑", "メゾン", "センター", "八王子", "\x00", "", "_",
]  # fmt: skip

ADDRESS = st.lists(st.sampled_from(PIECES), max_size=14).map("".join)


@settings(max_examples=3000, deadline=None)
@given(ADDRESS)
def test_same_as_before_on_address_pieces(value: str) -> None:
    assert address(value) == old_address(value)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=30))
def test_same_as_before_on_any_text(value: str) -> None:
    assert address(value) == old_address(value)


@pytest.mark.parametrize(
    "value",
    [
        "神奈川県横浜市中区元町5丁目12番24号",
        "福岡県福岡市博多区中洲3丁目28番14号 グランドハイツ402",
        "東京都千代田区霞が関一丁目二番三号　メゾン東京１０１号室",
        "北海道札幌市中央区北一条西二丁目1番地",
        "岩手県盛岡市大字本宮字小林1-2",
        "1-番", "1番地町", "1丁目丁目2", "--1--", "大大字字", "関ヶ原町大字関ヶ原1の2",
        "八王子市八丁堀三の四", "コ-ポ1-2", "ハイツ−101", "センター1",
    ],
)  # fmt: skip
def test_same_as_before_on_examples(value: str) -> None:
    assert address(value) == old_address(value)


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.sampled_from([*PIECES, "゜", "\U000e0100", "ｶ", "か"])).map("".join))
def test_nfkc_and_variant_fold_same_as_before(value: str) -> None:
    from pprl.normalize._chars import nfkc as new_nfkc
    from pprl.normalize.kanji import fold_variants as new_fold

    assert new_nfkc(value) == nfkc(value)
    assert new_fold(value) == fold_variants(value)


@given(st.text())
def test_nfkc_same_as_before_on_any_text(value: str) -> None:
    from pprl.normalize._chars import nfkc as new_nfkc

    assert new_nfkc(value) == nfkc(value)
