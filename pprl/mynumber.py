"""The Japanese individual number (マイナンバー, 12 digits) and its check digit.

The check digit is the 12th digit. With the first 11 digits read right to left as
P1..P11 and weights Qn = n + 1 for n <= 6 and n - 5 for n >= 7, the check digit is
``11 - (sum(Pn * Qn) mod 11)``, or 0 when the remainder is 0 or 1
(個人番号の指定に関する省令 第5条).
"""

from __future__ import annotations

import re

import numpy as np

_DIGITS12 = re.compile(r"[0-9]{12}")
# Weights for the 11 payload digits, left to right (P11 ... P1).
WEIGHTS = np.array([6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2], dtype=np.int64)


def check_digit(payload: str) -> int:
    """Return the check digit for an 11-digit payload string."""
    if len(payload) != 11 or not payload.isdigit():
        raise ValueError("payload must be 11 ASCII digits")
    total = sum(int(d) * int(w) for d, w in zip(payload, WEIGHTS, strict=True))
    remainder = total % 11
    return 0 if remainder <= 1 else 11 - remainder


def is_valid(number: str) -> bool:
    """True when ``number`` is 12 ASCII digits with a correct check digit."""
    if not _DIGITS12.fullmatch(number):
        return False
    return check_digit(number[:11]) == int(number[11])


def check_digits(payloads: np.ndarray) -> np.ndarray:
    """Vectorized check digits for an (n, 11) integer array of payload digits."""
    remainder = (payloads.astype(np.int64) @ WEIGHTS) % 11
    return np.where(remainder <= 1, 0, 11 - remainder)
