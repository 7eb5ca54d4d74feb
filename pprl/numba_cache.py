"""Where numba caches pprl's compiled kernels, decided before any kernel is defined.

numba looks for a cache directory when a ``cache=True`` function is *defined*: first
``NUMBA_CACHE_DIR``, then ``__pycache__`` beside the source, then the user's cache
directory. A read-only install run by a service account without a writable home has
none of them, and numba then raises ``cannot cache function ...: no locator
available`` at import: every command would crash. This module, imported by each
module that defines cached kernels, checks those places the way numba does and, when
none is usable, points numba at a writable fallback (``$XDG_CACHE_HOME/pprl/numba``,
``~/.cache/pprl/numba``, then a private per-user directory in the temporary directory)
or, when there is none, turns caching off (:data:`CACHE` is False): kernels are then
compiled at every start, which is slower but correct.

A fallback in a shared temporary directory is used only when this user owns it and
nobody else can write to it: numba loads cached code from it, so a directory another
user controls would let that user run code as this one.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_KERNEL_DIRS = (_PACKAGE / "encode", _PACKAGE / "compare", _PACKAGE / "privacy")


def _usable(directory: Path) -> bool:
    """Whether numba could cache in ``directory``: it exists or can be made, and a
    file can be written in it (what numba's locators try)."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=directory).close()
    except (OSError, ValueError):
        return False
    return True


def _private(directory: Path) -> bool:
    """Whether ``directory`` (made mode 0700 if new) belongs to this user and no one
    else can write to it."""
    try:
        directory.mkdir(mode=0o700, parents=False, exist_ok=True)
        st = os.lstat(directory)
    except OSError:
        return False
    return (
        stat.S_ISDIR(st.st_mode)
        and st.st_uid == os.getuid()
        and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    )


def fallback_dirs() -> list[Path]:
    """pprl's own cache places, in order of preference."""
    out = []
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and os.path.isabs(xdg):
        out.append(Path(xdg) / "pprl" / "numba")
    home = os.environ.get("HOME")
    if home and os.path.isabs(home):
        out.append(Path(home) / ".cache" / "pprl" / "numba")
    out.append(Path(tempfile.gettempdir()) / f"pprl-numba-{os.getuid()}")
    return out


def configure() -> bool:
    """Make sure numba has somewhere to cache pprl's kernels; return whether caching is
    on. Leaves numba alone when its own choice works (``NUMBA_CACHE_DIR`` or the
    package's ``__pycache__``)."""
    chosen = os.environ.get("NUMBA_CACHE_DIR")
    if chosen and _usable(Path(chosen)):
        return True
    if all(_usable(d / "__pycache__") for d in _KERNEL_DIRS):
        return True
    for candidate in fallback_dirs():
        shared_tmp = candidate.parent == Path(tempfile.gettempdir())
        if (_private(candidate) if shared_tmp else True) and _usable(candidate):
            os.environ["NUMBA_CACHE_DIR"] = str(candidate)  # numba re-reads its config
            import numba

            numba.config.CACHE_DIR = str(candidate)  # type: ignore[attr-defined]
            return True
    return False


CACHE: bool = configure()
"""Whether pprl's kernels are compiled with ``cache=True``."""
