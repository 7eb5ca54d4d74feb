"""Japanese normalization for record linkage: one module per concern, pure functions.

Every normalizer takes a string and returns the canonical string, or None for blank
or unparseable input (so callers can count missing/invalid values). All are
idempotent: ``f(f(x)) == f(x)`` whenever ``f(x)`` is not None. See
docs/normalization.md for the rules and examples.
"""

from __future__ import annotations

from collections.abc import Callable

from .addresses import address
from .dates import date
from .gender import sex
from .generic import none, text
from .identifiers import my_number
from .names import name_kana, name_kana_bank, name_kanji
from .postcodes import postcode

NORMALIZERS: dict[str, Callable[[str], str | None]] = {
    "name_kanji": name_kanji,
    "name_kana": name_kana,
    "name_kana_bank": name_kana_bank,
    "date": date,
    "sex": sex,
    "postcode": postcode,
    "address": address,
    "my_number": my_number,
    "text": text,
    "none": none,
}

__all__ = [
    "NORMALIZERS",
    "address",
    "date",
    "my_number",
    "name_kana",
    "name_kana_bank",
    "name_kanji",
    "none",
    "postcode",
    "sex",
    "text",
]
