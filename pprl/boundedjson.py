"""JSON from untrusted files, parsed only when it is small and shallow enough.

Python's ``json`` parser recurses once per nesting level, so a document nested ten
thousand levels deep ends in a ``RecursionError`` (a traceback), and a huge document
costs memory and time before anything can be checked. :func:`loads_bounded` checks
the size and the nesting depth first, with a linear scan that does not recurse, and
only then parses. Schema files and encoding-file metadata are read through it.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from pprl.errors import InputError, PprlError

MAX_DEPTH = 32
"""Deepest nesting accepted: the built-in schemas nest 6 levels, their copy inside an
encoding file's metadata 7."""

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


def json_depth(text: str, limit: int = MAX_DEPTH) -> int:
    """How deeply ``text`` nests arrays and objects, counting brackets outside strings.

    Stops counting at ``limit + 1``: a deeper document is refused whatever its depth.
    Linear in the text's length; never recurses.
    """
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub('""', text)):
        if match.group() in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return deepest
        else:
            depth -= 1
    return deepest


def loads_bounded(
    text: str | bytes,
    where: str,
    *,
    max_bytes: int,
    max_depth: int = MAX_DEPTH,
    error: type[PprlError] = InputError,
) -> Any:
    """Parse JSON ``text`` after checking its size and depth; every failure is one
    ``error`` line starting with ``where`` (a file, or a file and field)."""
    size = len(text)
    if size > max_bytes:
        raise error(f"{where}: {size:,} bytes of JSON, more than the {max_bytes:,} accepted")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise error(f"{where}: not valid UTF-8 JSON") from None
    if json_depth(text, max_depth) > max_depth:
        raise error(f"{where}: JSON nested deeper than {max_depth} levels")
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        message = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
        raise error(f"{where}: not valid JSON ({message})") from None


def read_bounded(path: str | os.PathLike[str], max_bytes: int, what: str = "file") -> bytes:
    """At most ``max_bytes`` of a regular file; a larger or non-regular one is a one-line
    :class:`InputError` (so ``/dev/zero`` or a 10 GB file is never read whole)."""
    if not os.path.exists(path):
        raise InputError(f"{path}: {what} not found")
    if not os.path.isfile(path):  # a directory, FIFO or device: never opened
        raise InputError(f"{path}: not a regular file (expected a {what})")
    try:
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise InputError(f"{path}: cannot read {what} ({exc.strerror})") from None
    if len(data) > max_bytes:
        raise InputError(f"{path}: {what} is larger than {max_bytes:,} bytes")
    return data
