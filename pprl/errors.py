"""Errors that reach users.

Every error pprl raises for bad input is a :class:`PprlError` whose message is one
line naming the file, row or field at fault. The CLI prints it and exits non-zero.
Messages never contain secret material.
"""

from __future__ import annotations


class PprlError(Exception):
    """A user-facing error: one line, names the file/row/field, never a secret."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


class InputError(PprlError):
    """Malformed or unreadable input data (CSV, encoding file, schema)."""


class IntegrityError(PprlError):
    """An encoding file is truncated, tampered with or internally inconsistent."""


class MismatchError(PprlError):
    """Two inputs cannot be compared: different secret, schema or filter length."""
