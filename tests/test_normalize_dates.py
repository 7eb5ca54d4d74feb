"""Dates: Gregorian and Japanese-era forms to ISO YYYY-MM-DD."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pprl.normalize import date

SAME_DAY = [
    "1980-05-03",
    "19800503",
    "1980/5/3",
    "1980/05/03",
    "1980.5.3",
    "1980年5月3日",
    "1980年05月03日生",
    "１９８０年５月３日",
    "１９８０／０５／０３",
    "昭和55年5月3日",
    "昭和５５年５月３日",
    "昭和五十五年五月三日",
    "一九八〇年五月三日",
    "S55.5.3",
    "s55.05.03",
    "S55/5/3",
    "S550503",
    "昭55.5.3",
    "1980-05-03T00:00:00",
    "1980-05-03 12:34:56",
]


@pytest.mark.parametrize("value", SAME_DAY)
def test_same_day(value: str) -> None:
    """All spellings of 3 May 1980 give 1980-05-03."""
    assert date(value) == "1980-05-03"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("明治1年1月25日", "1868-01-25"),
        ("M45.7.29", "1912-07-29"),
        ("大正元年7月30日", "1912-07-30"),
        ("T15.12.24", "1926-12-24"),
        ("昭和元年12月25日", "1926-12-25"),
        ("昭和64年1月7日", "1989-01-07"),
        ("平成元年1月8日", "1989-01-08"),
        ("H31.4.30", "2019-04-30"),
        ("令和元年5月1日", "2019-05-01"),
        ("R6.2.29", "2024-02-29"),
        ("㍻2年3月4日", "1990-03-04"),
        ("平成１２年１２月３１日", "2000-12-31"),
    ],
)
def test_era_dates(value: str, expected: str) -> None:
    """Era names, abbreviations and 元年 map with the documented year offsets."""
    assert date(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "1980-02-30",
        "2023-02-29",
        "1980-13-01",
        "0000-00-00",
        "9999-12-31",
        "80/5/3",  # two-digit year is ambiguous
        "昭和65年1月1日",  # 昭和 ended in its 64th year
        "大正16年1月1日",
        "平成0年1月1日",
        "X55.5.3",
        "tomorrow",
        "1980",
        "1980-05",
    ],
)
def test_invalid_is_none(value: str) -> None:
    """Invalid or ambiguous dates return None instead of raising."""
    assert date(value) is None


@given(st.dates(min_value=dt.date(1926, 12, 25), max_value=dt.date(1989, 1, 7)))
def test_showa_roundtrip(day: dt.date) -> None:
    """Every 昭和 date in any supported spelling equals its ISO form."""
    era_year = day.year - 1925
    iso = day.isoformat()
    spellings = [
        iso,
        f"{day.year}{day.month:02d}{day.day:02d}",
        f"{day.year}/{day.month}/{day.day}",
        f"{day.year}年{day.month}月{day.day}日",
        f"昭和{era_year}年{day.month}月{day.day}日",
        f"S{era_year}.{day.month}.{day.day}",
        f"S{era_year:02d}{day.month:02d}{day.day:02d}",
    ]
    assert {date(s) for s in spellings} == {iso}
    assert date(iso) == iso


@given(st.dates(min_value=dt.date(2019, 5, 1), max_value=dt.date(2099, 12, 31)))
def test_reiwa_roundtrip(day: dt.date) -> None:
    """令和 dates use offset 2018."""
    assert date(f"令和{day.year - 2018}年{day.month}月{day.day}日") == day.isoformat()
    assert date(f"R{day.year - 2018}.{day.month}.{day.day}") == day.isoformat()
