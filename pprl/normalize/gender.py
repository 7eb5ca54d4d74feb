"""Sex codes to "M" / "F"."""

from __future__ import annotations

from ._chars import is_blank, nfkc, remove_whitespace

# Japanese administrative convention (and ISO/IEC 5218): 1 = male, 2 = female.
# 0 (unknown) and 9 (not applicable) deliberately map to None.
_CODES = {
    "1": "M", "男": "M", "男性": "M", "M": "M", "MALE": "M", "MAN": "M", "おとこ": "M",
    "2": "F", "女": "F", "女性": "F", "F": "F", "FEMALE": "F", "WOMAN": "F", "おんな": "F",
}  # fmt: skip


def sex(value: str) -> str | None:
    """Map 1/2, 男/女, 男性/女性, M/F, male/female (any case, any width) to "M"/"F".

    Anything else, including 0/9 and free text, returns None.
    """
    if is_blank(value):
        return None
    return _CODES.get(remove_whitespace(nfkc(value)).upper())
