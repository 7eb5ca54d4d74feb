"""Japanese addresses to a compact matching key: 東京都千代田区霞ケ関1-2-3メゾン東京101.

The key is for matching, not for display. Steps (one small function each): NFKC and
variant-kanji folding; whitespace removed (between two digit runs it becomes a hyphen);
dashes classified as hyphen or long-vowel mark; kanji numerals in block numbers to
digits; ヶ/ケ/が/ガ/ヵ between kanji folded to ケ and の/ノ between kanji to ノ;
丁目/番(地)/号/の to the hyphenated ``1-2-3`` form; 号室/室 after a room number dropped;
大字 dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ._chars import DASHES, is_blank, nfkc
from .kana import KATAKANA
from .kanji import fold_variants
from .numerals import KANJI_NUMERAL_CLASS, kanji_to_int

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

_KANJI_NUMERAL = re.compile(KANJI_NUMERAL_CLASS)
_GA_OR_NO = re.compile("[ヶケヵがガのノ]")
_GA_BETWEEN_KANJI = re.compile(f"(?<={_KANJI})[ヶケヵがガ](?={_KANJI})")
_NO_BETWEEN_KANJI = re.compile(f"(?<={_KANJI})[のノ](?={_KANJI})")

# 丁目 and 番(地)(の) after a digit become a hyphen (the digits stay: 1丁目 → 1-)
_CHOME = re.compile("(?<=[0-9])丁目")
_BANCHI = re.compile("(?<=[0-9])番地?(?!町)の?")
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
    value = value.strip()
    if _GAPS.search(value) is None:
        return value
    return _GAPS.sub("", _GAP_BETWEEN_DIGITS.sub("-", value))


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
    if _KANJI_NUMERAL.search(value) is None:
        return value
    value = _NUMERAL_BEFORE_SUFFIX.sub(_numeral, value)
    return _NUMERAL_AFTER_BLOCK.sub(_numeral, value)


def _place_name_kana(value: str) -> str:
    """Fold ヶ/ケ/が/ガ/ヵ between kanji to ケ (霞が関 → 霞ケ関), の/ノ to ノ (虎の門 → 虎ノ門)."""
    if _GA_OR_NO.search(value) is None:
        return value
    value = _GA_BETWEEN_KANJI.sub("ケ", value)
    return _NO_BETWEEN_KANJI.sub("ノ", value)


def _block_numbers(value: str) -> str:
    """丁目/番(地)/号/の to hyphens: 1丁目2番3号, 1丁目2番地3 → 1-2-3; 2番地の3 → 2-3.

    Also drops 号室/室 after a room number and stray hyphens. One rewrite can expose
    another (1-番 → 1番 → 1), so the rules run to a fixpoint; every rule only deletes
    characters or replaces a suffix character by a hyphen, so the loop terminates.
    A rule runs only when the character it needs is there (the same result, sooner).
    """
    while True:
        cleaned = value
        if "丁目" in cleaned:
            cleaned = _CHOME.sub("-", cleaned)
        if "番" in cleaned:
            cleaned = _BANCHI.sub("-", cleaned)
        if "の" in cleaned:
            cleaned = _NO_BETWEEN_DIGITS.sub("-", cleaned)
        if "室" in cleaned:
            cleaned = _ROOM.sub("", cleaned)
        if "号" in cleaned:
            cleaned = _GO.sub("", cleaned)
        if "-" in cleaned:
            if "--" in cleaned:
                cleaned = _MULTI_HYPHEN.sub("-", cleaned)
            cleaned = _DANGLING_HYPHEN.sub("", cleaned)
        if cleaned == value:
            return value
        value = cleaned


def address(value: str) -> str | None:
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


# --- many values at once: one normalization per digit template --------------------
#
# Addresses are nearly all distinct, but their text around the block numbers is not:
# a million synthetic addresses have about 1,400 *templates* once each digit run is
# replaced by one '0' (東京都千代田区永田町0丁目0番0号). :func:`many_addresses` normalizes
# each template once and puts the value's own digit runs back, which is exact because
# nothing in :func:`address` looks at a digit's value or at how long a digit run is:
#
# * ``_clean_characters``: ASCII digits are NFKC-inert (a starter that never composes,
#   decomposes or reorders, so NFKC of ``x + digits + y`` is NFKC(x) + digits + NFKC(y));
#   full-width digits (U+FF10..U+FF19) become exactly their ASCII digit the same way,
#   which is why they count as run characters and are put back as ASCII. The voiced-mark
#   translation, the dropped marks, ``fold_variants`` (a kanji table), ヶ → ケ and
#   ``upper`` map characters one by one and leave digits alone.
# * The rules: no pattern consumes a digit (the consumed parts are whitespace, '#',
#   dashes, kanji numerals, kana, kanji, 丁目/番/地/の/号/室, 大字 and '-'); digits are
#   only looked at one character at a time, as "is (not) a digit", in a look-behind,
#   a look-ahead (``[0-9]``, ``[^\W\d_]``) or ``text[end] in "0123456789"``. No pattern
#   can match an empty string, so none matches inside a digit run, and a run of any
#   length reads like a run of one. So every rule makes the same rewrites, in the same
#   places relative to the runs, on the value and on its template, and the fixpoint
#   loop stops after the same round.
# * The one rule that writes digits is ``_block_numerals`` (一丁目 → 1丁目); NFKC writes
#   digits too (① → 1). Both are caught by counting: no rule and no cleaning step
#   deletes a digit, so a template whose normalization holds exactly one digit per run
#   created none, and its digits are the runs, in order (no rule reorders text). Any
#   other template is normalized value by value, as is a value without digits.
#
# tests/test_normalize_address_template.py checks this against :func:`address` on
# generated hostile addresses.

DIGIT_RUN = "[0-9\uff10-\uff19]+"  # ASCII or full-width digits
_DIGIT_RUNS = re.compile(f"({DIGIT_RUN})")
_ASCII_DIGIT = re.compile("[0-9]")
_WIDE_DIGITS = str.maketrans(
    "\uff10\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19", "0123456789"
)


def normalized_template(template: str, runs: int) -> str | None:
    """:func:`address` of a digit template (each of a value's ``runs`` digit runs
    replaced by one '0'), or None when it does not hold exactly ``runs`` ASCII digits,
    one per run (a rule or NFKC made digits): such a template cannot be filled."""
    normalized = address(template)
    if normalized is None or len(_ASCII_DIGIT.findall(normalized)) != runs:
        return None
    return normalized


def _template_format(template: str, runs: int) -> str | None:
    """The normalized ``template`` as a %-format with one ``%s`` per digit run, or None."""
    normalized = normalized_template(template, runs)
    return None if normalized is None else _ASCII_DIGIT.sub("%s", normalized.replace("%", "%%"))


def many_addresses(values: Iterable[str]) -> list[str | None]:
    """``[address(v) for v in values]``, with one rule pass per digit template (see above)."""
    formats: dict[str, str | None] = {}
    out: list[str | None] = []
    append = out.append
    for value in values:
        parts = _DIGIT_RUNS.split(value)
        if len(parts) == 1:  # no digits: nothing to share
            append(address(value))
            continue
        runs = parts[1::2]
        template = "0".join(parts[0::2])
        if template in formats:
            fmt = formats[template]
        else:
            fmt = formats[template] = _template_format(template, len(runs))
        if fmt is None:
            append(address(value))
            continue
        if not "".join(runs).isascii():
            runs = [run.translate(_WIDE_DIGITS) for run in runs]
        append(fmt % tuple(runs))
    return out
