"""Kanji numerals (一二三…十百千, 〇) to integers, for dates and block numbers."""

from __future__ import annotations

KANJI_DIGITS = "〇一二三四五六七八九"
_DIGIT_VALUE = {c: i for i, c in enumerate(KANJI_DIGITS)} | {"零": 0}
_UNIT_VALUE = {"十": 10, "百": 100, "千": 1000}
KANJI_NUMERAL_CLASS = "[〇一二三四五六七八九十百千零]"


def kanji_to_int(numeral: str) -> int | None:
    """Read a kanji numeral: positional (二〇二四 → 2024) or with units (五十五 → 55).

    Returns None for strings that are not a well-formed numeral (e.g. 十十).
    """
    if not numeral:
        return None
    if not any(c in _UNIT_VALUE for c in numeral):
        digits = [_DIGIT_VALUE.get(c) for c in numeral]
        if any(d is None for d in digits):
            return None
        return int("".join(str(d) for d in digits))
    total, current, last_unit = 0, None, 10_000
    for char in numeral:
        if char in _UNIT_VALUE:
            unit = _UNIT_VALUE[char]
            if unit >= last_unit:
                return None
            total += (1 if current is None else current) * unit
            current, last_unit = None, unit
        elif char in _DIGIT_VALUE and current is None:
            current = _DIGIT_VALUE[char]
        else:
            return None
    return total + (current or 0)
