"""Generic text and the identity normalizer."""

from __future__ import annotations

from ._chars import collapse_whitespace, is_blank, nfkc


def text(value: str) -> str | None:
    """Generic free text: NFKC, strip, collapse whitespace runs to one space.

    For fields without a dedicated normalizer; full-width ASCII and half-width kana
    are folded by NFKC, nothing else is changed.
    """
    if is_blank(value):
        return None
    return collapse_whitespace(nfkc(value)) or None


def none(value: str) -> str | None:
    """Identity normalizer: the value unchanged, except empty/whitespace-only → None.

    For fields that are already canonical (e.g. pre-normalized by the data holder).
    """
    if is_blank(value):
        return None
    return value
