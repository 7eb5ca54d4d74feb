"""Dates (date of birth) to ISO ``YYYY-MM-DD``, from Gregorian and Japanese-era forms."""

from __future__ import annotations

import datetime as _dt
import re

from ._chars import DASHES, is_blank, nfkc
from .numerals import KANJI_NUMERAL_CLASS, kanji_to_int

# Era → (offset to add to the era year, last era year or None for the current era).
# Offsets follow the first-year convention: 明治1年 = 1868, 大正1年 = 1912, 昭和1年 = 1926,
# 平成1年 = 1989, 令和1年 = 2019. Day-level era boundaries are not checked.
ERAS: dict[str, tuple[int, int | None]] = {
    "明治": (1867, 45),
    "大正": (1911, 15),
    "昭和": (1925, 64),
    "平成": (1988, 31),
    "令和": (2018, None),
}
_ERA_ALIASES = {
    "M": "明治", "明": "明治",
    "T": "大正", "大": "大正",
    "S": "昭和", "昭": "昭和",
    "H": "平成", "平": "平成",
    "R": "令和", "令": "令和",
}  # fmt: skip

MIN_YEAR, MAX_YEAR = 1850, 2199  # outside: sentinels like 0001-01-01 or 9999-12-31

_SEP = f"(?:[./{re.escape(DASHES)}]|\\s)"
_YMD_SEP = rf"\s*(?:年|{_SEP})\s*(?P<month>\d{{1,2}})\s*(?:月|{_SEP})\s*(?P<day>\d{{1,2}})\s*日?"
_SUFFIX = r"(?:\s*生(?:まれ)?)?"
_TIME = r"(?:[T\s]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"

_ERA_NAMES = "|".join(sorted(list(ERAS) + list(_ERA_ALIASES), key=len, reverse=True))
_ERA_DATE = re.compile(
    rf"(?P<era>{_ERA_NAMES})\s*\.?\s*(?P<year>\d{{1,2}}|元){_YMD_SEP}{_SUFFIX}", re.IGNORECASE
)
_ERA_COMPACT = re.compile(
    rf"(?P<era>{_ERA_NAMES})\s*(?P<year>\d{{2}})(?P<month>\d{{2}})(?P<day>\d{{2}})", re.IGNORECASE
)
_GREGORIAN = re.compile(rf"(?P<year>\d{{4}}){_YMD_SEP}{_SUFFIX}{_TIME}")
_COMPACT = re.compile(r"(?P<year>\d{4})(?P<month>\d{2})(?P<day>\d{2})")
_KANJI_NUMBER = re.compile(KANJI_NUMERAL_CLASS + "+")


def _kanji_numbers_to_digits(value: str) -> str:
    """Replace kanji numerals (五十五, 二〇二四) by digits; 元 stays for the era parser."""

    def convert(match: re.Match[str]) -> str:
        number = kanji_to_int(match.group(0))
        return match.group(0) if number is None else str(number)

    return _KANJI_NUMBER.sub(convert, value)


def _iso(year: int, month: int, day: int) -> str | None:
    """ISO string for a valid calendar date in the accepted year range, else None."""
    if not MIN_YEAR <= year <= MAX_YEAR:
        return None
    try:
        return _dt.date(year, month, day).isoformat()
    except ValueError:
        return None


def _from_era(match: re.Match[str]) -> str | None:
    """Convert an era match (昭和55年5月3日, S55.5.3, H010203) to ISO, or None."""
    era = match.group("era")
    era = _ERA_ALIASES.get(era.upper(), _ERA_ALIASES.get(era, era))
    offset, last_year = ERAS[era]
    year = 1 if match.group("year") == "元" else int(match.group("year"))
    if year < 1 or (last_year is not None and year > last_year):
        return None
    return _iso(offset + year, int(match.group("month")), int(match.group("day")))


def _from_gregorian(match: re.Match[str]) -> str | None:
    """Convert a Gregorian match (1980-05-03, 1980/5/3, 1980年5月3日, 19800503) to ISO."""
    return _iso(int(match.group("year")), int(match.group("month")), int(match.group("day")))


def date(value: str) -> str | None:
    """Parse a date and return ISO ``YYYY-MM-DD``; None when it is not a valid date.

    Accepts ISO (optionally with a time part), ``YYYYMMDD``, slashes, dots, hyphens,
    ``1980年5月3日``, Japanese eras (明治/大正/昭和/平成/令和, M/T/S/H/R, 明/大/昭/平/令)
    with 元年, compact era forms (S550503), full-width digits and kanji numerals.
    Two-digit years are ambiguous and rejected. Invalid input returns None rather than
    raising, so callers can count unparseable dates.
    """
    if len(value) == 10 and value[4] == "-" and value[7] == "-" and value.isascii():
        year, month, day = value[:4], value[5:7], value[8:]
        if year.isdigit() and month.isdigit() and day.isdigit():  # already ISO: the usual case
            return _iso(int(year), int(month), int(day))
    if is_blank(value):
        return None
    text = _kanji_numbers_to_digits(nfkc(value).strip())
    for pattern, convert in (
        (_GREGORIAN, _from_gregorian),
        (_COMPACT, _from_gregorian),
        (_ERA_DATE, _from_era),
        (_ERA_COMPACT, _from_era),
    ):
        match = pattern.fullmatch(text)
        if match:
            return convert(match)
    return None
