"""Japanese postcodes (郵便番号) to seven ASCII digits."""

from __future__ import annotations

import re

from ._chars import DASH_CLASS, is_blank, nfkc

_NOISE = re.compile(rf"^(?:郵便番号|〒)[:\s]*|{DASH_CLASS}|\s")
_SEVEN = re.compile(r"[0-9]{7}")


def postcode(value: str) -> str | None:
    """Return ``NNNNNNN`` from 〒100-0001, １００－０００１, 100 0001, 1000001; else None.

    〒 (and 〶, folded by NFKC), the word 郵便番号, hyphens and spaces are removed.
    Anything but exactly seven digits is rejected (no zero-padding of 6-digit values).
    """
    if value.isascii() and value.isdigit() and len(value) == 7:
        return value  # already clean
    if len(value) == 8 and value[3] == "-" and value.isascii():  # the usual 100-0001
        digits = value[:3] + value[4:]
        if digits.isdigit():
            return digits
    if is_blank(value):
        return None
    digits = _NOISE.sub("", nfkc(value).strip())
    return digits if _SEVEN.fullmatch(digits) else None
