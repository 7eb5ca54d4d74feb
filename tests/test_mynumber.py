"""The individual number check digit."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from pprl.mynumber import check_digit, check_digits, is_valid


def test_known_valid_number():
    assert is_valid("123456789018")
    assert not is_valid("123456789012")


def test_rejects_non_digits_and_wrong_length():
    for bad in ["12345678901", "1234567890123", "12345678901a", "１２３４５６７８９０１８", ""]:
        assert not is_valid(bad)


payloads = st.text(alphabet="0123456789", min_size=11, max_size=11)


@given(payloads)
def test_check_digit_makes_number_valid(payload):
    assert is_valid(payload + str(check_digit(payload)))


@given(payloads, st.integers(0, 9))
def test_exactly_one_check_digit_is_valid(payload, digit):
    assert is_valid(payload + str(digit)) == (digit == check_digit(payload))


@given(st.lists(payloads, min_size=1, max_size=20))
def test_vectorized_matches_scalar(items):
    arr = np.array([[int(c) for c in p] for p in items])
    assert list(check_digits(arr)) == [check_digit(p) for p in items]
