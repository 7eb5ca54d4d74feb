"""Party labels: what a data holder may call itself, and which file its results go to.

A label names a party in encoding files, findings and per-party result files, so it
must be safe as a file name on every system, in a spreadsheet cell and on a terminal:
Unicode letters, marks and digits plus ``-``, ``_`` and ``.``, at most 64 characters, not
starting with a character a spreadsheet reads as a formula (``= + - @``) or with ``.``.
``協会けんぽ`` and ``insurer-01`` are fine labels; ``a/b``, ``=HYPERLINK(...)``,
``..`` and labels with spaces or control characters are refused.

Two parties must never share a result file: :func:`view_stems` maps labels to file
stems and refuses labels that would collide on a case-insensitive file system,
including with the register holder's ``<label>.reference`` view.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from pprl.errors import InputError

MAX_LABEL = 64
FORMULA_LEAD = frozenset("=+-@")
PUNCTUATION = frozenset("-_.")
REFERENCE_SUFFIX = ".reference"


def shown(text: str, limit: int = 40) -> str:
    """``text`` for an error message: control characters escaped, long text cut."""
    cut = text if len(text) <= limit else text[:limit] + "…"
    return repr(cut)


# Unicode's Default_Ignorable_Code_Point ranges: characters a renderer shows as nothing
# (fillers, variation selectors, joiners, tags), so two labels differing only in them
# look the same on screen.
_IGNORABLE = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160),
    (0x17B4, 0x17B5), (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E),
    (0x2060, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)  # fmt: skip


def invisible(ch: str) -> bool:
    """True for a default-ignorable character (shown as nothing by a renderer)."""
    code = ord(ch)
    return any(lo <= code <= hi for lo, hi in _IGNORABLE)


def _allowed(ch: str) -> bool:
    if invisible(ch):
        return False
    return ch in PUNCTUATION or unicodedata.category(ch)[0] in "LMN"


def validate_label(label: object, *, what: str = "party label") -> str:
    """Return ``label`` if it is a valid party label, else raise a one-line InputError."""
    if not isinstance(label, str) or not label:
        raise InputError(f"{what} is missing or empty")
    if len(label) > MAX_LABEL:
        raise InputError(f"{what} {shown(label)} is longer than {MAX_LABEL} characters")
    if label[0] in FORMULA_LEAD or label[0] == ".":
        raise InputError(
            f"{what} {shown(label)} starts with {shown(label[0])}: labels must not start "
            "with '=', '+', '-', '@' or '.'"
        )
    bad = next((ch for ch in label if not _allowed(ch)), None)
    if bad is not None:
        raise InputError(
            f"{what} {shown(label)} contains {shown(bad)}: use letters, digits, '-', '_' or '.'"
        )
    if unicodedata.normalize("NFC", label) != label:
        raise InputError(f"{what} {shown(label)} is not in Unicode NFC form")
    return label


def _fold(name: str) -> str:
    """How a case-insensitive, normalizing file system compares names."""
    return unicodedata.normalize("NFKC", name).casefold()


def view_stems(claims_labels: Iterable[str], reference_label: str) -> tuple[dict[str, str], str]:
    """File stems of the per-party views: ({claims label: stem}, reference stem).

    Every label is validated; a claims label appearing several times (one party, several
    files) gets one stem. Refuses labels whose files would collide, compared the way a
    case-insensitive file system compares them, the reference view's ``.reference``
    suffix included.
    """
    reference = validate_label(reference_label, what="reference party label")
    stems: dict[str, str] = {}
    taken: dict[str, str] = {_fold(reference + REFERENCE_SUFFIX): reference + REFERENCE_SUFFIX}
    for label in claims_labels:
        if label in stems:
            continue
        validate_label(label, what="claims party label")
        key = _fold(label)
        if key in taken:
            raise InputError(
                f"claims party label {shown(label)} would share a result file with "
                f"{shown(taken[key])}: give each party a distinct label"
            )
        taken[key] = label
        stems[label] = label
    return stems, reference + REFERENCE_SUFFIX
