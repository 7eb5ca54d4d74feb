"""Short coded fields: sex, postcode and My Number."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pprl.mynumber import check_digit, is_valid
from pprl.normalize import my_number, postcode, sex
from pprl.normalize._chars import DASH_CLASS, is_blank, nfkc

FULL_WIDTH = str.maketrans("0123456789-", "０１２３４５６７８９－")


@pytest.mark.parametrize(
    "value", ["1", "１", "男", "男性", "M", "m", "male", "Male", "MALE", " 男 ", "ｍ"]
)
def test_sex_male(value: str) -> None:
    """1 = male in the Japanese convention; all male spellings give "M"."""
    assert sex(value) == "M"


@pytest.mark.parametrize("value", ["2", "２", "女", "女性", "F", "f", "female", "Female", "女性 "])
def test_sex_female(value: str) -> None:
    """2 = female; all female spellings give "F"."""
    assert sex(value) == "F"


@pytest.mark.parametrize("value", ["0", "9", "3", "不明", "X", "other", "12"])
def test_sex_unknown(value: str) -> None:
    """Unknown codes (incl. ISO 5218 0 and 9) are None."""
    assert sex(value) is None


@pytest.mark.parametrize(
    "value",
    ["1000001", "100-0001", "〒100-0001", "〒 100-0001", "１００－０００１", "〒１００ー０００１",
     "100 0001", "郵便番号100-0001", "〶100-0001"],
)  # fmt: skip
def test_postcode(value: str) -> None:
    """Postcode spellings give seven ASCII digits."""
    assert postcode(value) == "1000001"


@pytest.mark.parametrize("value", ["100-001", "10000011", "abc-defg", "〒", "100-000A"])
def test_postcode_invalid(value: str) -> None:
    """Anything but seven digits is None."""
    assert postcode(value) is None


@given(st.from_regex(r"[0-9]{7}", fullmatch=True))
def test_postcode_roundtrip(digits: str) -> None:
    """Hyphenated and full-width forms give the digits back."""
    hyphenated = f"〒{digits[:3]}-{digits[3:]}"
    assert postcode(hyphenated) == digits
    assert postcode(hyphenated.translate(FULL_WIDTH)) == digits


@pytest.mark.parametrize(
    "value",
    ["123456789018", "1234 5678 9018", "1234-5678-9018", "１２３４５６７８９０１８",
     "１２３４－５６７８－９０１８", " 1234\u30005678\u30009018 "],
)  # fmt: skip
def test_my_number(value: str) -> None:
    """Spaces/hyphens stripped, full-width folded, 12 digits returned."""
    assert my_number(value) == "123456789018"


@pytest.mark.parametrize("value", ["12345678901", "1234567890123", "12345678901X", "abc"])
def test_my_number_invalid(value: str) -> None:
    """Not 12 digits → None."""
    assert my_number(value) is None


def test_my_number_does_not_check_digit() -> None:
    """Check-digit validation is left to pprl.mynumber.is_valid."""
    payload = "12345678901"
    good = payload + str(check_digit(payload))
    bad = payload + str((check_digit(payload) + 1) % 10)
    assert my_number(bad) == bad and not is_valid(bad)
    assert is_valid(my_number(good.translate(FULL_WIDTH)) or "")


@given(st.from_regex(r"[0-9]{12}", fullmatch=True))
def test_my_number_roundtrip(digits: str) -> None:
    """Grouped, hyphenated and full-width forms give the digits back."""
    grouped = f"{digits[:4]} {digits[4:8]}-{digits[8:]}"
    assert my_number(grouped) == digits
    assert my_number(grouped.translate(FULL_WIDTH)) == digits


_OLD_NOISE = re.compile(rf"^(?:郵便番号|〒)[:\s]*|{DASH_CLASS}|\s")


def _old_postcode(value: str) -> str | None:
    """The postcode normalizer before its ASCII fast paths (the oracle)."""
    if is_blank(value):
        return None
    digits = _OLD_NOISE.sub("", nfkc(value).strip())
    return digits if re.fullmatch(r"[0-9]{7}", digits) else None


@given(st.text(alphabet=st.sampled_from(list("0123456789-ー－ 〒１a\u0660")), max_size=9))
def test_postcode_fast_paths_match_the_regex_path(value: str) -> None:
    assert postcode(value) == _old_postcode(value)
