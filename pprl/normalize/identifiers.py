"""Identifier numbers: the 12-digit individual number (マイナンバー)."""

from __future__ import annotations

import re

from ._chars import DASH_CLASS, is_blank, nfkc

_SEPARATORS = re.compile(rf"{DASH_CLASS}|\s")
_TWELVE = re.compile(r"[0-9]{12}")


def my_number(value: str) -> str | None:
    """Return the 12 ASCII digits of a My Number, or None when it is not 12 digits.

    Full-width digits are folded, spaces and hyphens removed (1234 5678 9012,
    １２３４－５６７８－９０１２). The check digit is not validated here; use
    ``pprl.mynumber.is_valid`` so that callers can count invalid numbers separately.
    """
    if len(value) == 12 and value.isascii() and value.isdigit():
        return value  # already clean: the common case, skip NFKC and the regex
    if is_blank(value):
        return None
    digits = _SEPARATORS.sub("", nfkc(value))
    return digits if _TWELVE.fullmatch(digits) else None
