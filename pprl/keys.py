"""Secret files and the keys derived from them.

A party's secret is 256 random bits written as 64 hex characters (``pprl keygen``).
It has four independent uses, each under its own key so that one use reveals
nothing about another:

* the CLK secret: the stripped file text, handed to clkhash, which derives its
  per-field keys with its own HKDF;
* the link-key pseudonym key: ``blake3.derive_key(PSEUDONYM_CONTEXT, secret)``;
* the block-key key: ``blake3.derive_key(BLOCK_CONTEXT, secret)``;
* the key fingerprint: ``blake3.derive_key(FINGERPRINT_CONTEXT, secret)``, shortened
  to 16 hex characters. Files made with the same secret carry the same fingerprint,
  so a matcher can check compatibility without learning the secret.
"""

from __future__ import annotations

import os
import re
import secrets as _secrets
import select
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

from blake3 import blake3

from pprl.errors import InputError

PSEUDONYM_CONTEXT = "pprl 2026-11 link-key pseudonym v1"
BLOCK_CONTEXT = "pprl 2026-11 block key v1"
FINGERPRINT_CONTEXT = "pprl 2026-11 key fingerprint v1"

SECRET_HEX_LENGTH = 64
FINGERPRINT_HEX_LENGTH = 16
MAX_KEY_FILE_BYTES = 1024
"""A secret file is 65 bytes; at most this much of any file is read (``/dev/zero``)."""
PIPE_WAIT_SECONDS = 30.0
"""How long a secret piped in (``--secret <(vault read ...)``) may take to arrive."""
_HEX = re.compile(r"[0-9a-fA-F]{64}")


def generate_secret() -> str:
    """Return a new random 256-bit secret as 64 lowercase hex characters."""
    return _secrets.token_hex(SECRET_HEX_LENGTH // 2)


def write_secret(path: str | os.PathLike[str]) -> Path:
    """Write a new secret to ``path`` with mode 0600; refuse to overwrite.

    The file is created with ``O_EXCL`` so an existing key is never replaced and
    the secret is never readable by other users, not even briefly.
    """
    out = Path(path)
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InputError(f"{out}: file exists; pprl keygen never overwrites a key") from None
    except OSError as exc:
        raise InputError(f"{out}: cannot create key file ({exc.strerror})") from None
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(generate_secret() + "\n")
    os.chmod(out, 0o600)
    return out


@dataclass(frozen=True)
class Secret:
    """A loaded secret. Its text is hidden from ``repr``/``str`` so it cannot leak into logs."""

    _text: str = field(repr=False)

    def __repr__(self) -> str:
        return f"Secret(fingerprint={self.fingerprint})"

    __str__ = __repr__

    @property
    def clk_secret(self) -> str:
        """The secret string given to clkhash for CLK encoding."""
        return self._text

    def _derive(self, context: str) -> bytes:
        return blake3(self._text.encode("ascii"), derive_key_context=context).digest()

    @property
    def pseudonym_key(self) -> bytes:
        """32-byte key for keyed blake3 pseudonyms of link keys."""
        return self._derive(PSEUDONYM_CONTEXT)

    @property
    def block_key(self) -> bytes:
        """32-byte key for keyed blocking keys."""
        return self._derive(BLOCK_CONTEXT)

    @property
    def fingerprint(self) -> str:
        """16 hex characters identifying the secret without revealing it."""
        return self._derive(FINGERPRINT_CONTEXT).hex()[:FINGERPRINT_HEX_LENGTH]


def key_file_exposure(path: str | os.PathLike[str]) -> str | None:
    """A one-line warning when a key file can be read or written by group or other
    users (its mode, never its content), else None. Pipes have no such mode: None."""
    p = Path(path)
    try:
        st = os.stat(p)
    except OSError:
        return None  # load_secret reports a missing or unreadable file
    if not stat.S_ISREG(st.st_mode) or not st.st_mode & 0o077:
        return None
    mode = stat.S_IMODE(st.st_mode)
    return (
        f"{p}: secret file is accessible to group or other users (mode {mode:04o}); "
        f"restrict it with 'chmod 600 {p}'"
    )


def _read_limited(p: Path) -> bytes:
    """At most MAX_KEY_FILE_BYTES + 1 bytes of a regular file or a pipe, waiting at most
    PIPE_WAIT_SECONDS for a pipe; devices, directories and sockets are refused unread."""
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise InputError(f"{p}: secret file not found") from None
    except OSError as exc:
        raise InputError(f"{p}: cannot read secret file ({exc.strerror})") from None
    pipe = stat.S_ISFIFO(st.st_mode)
    if not (stat.S_ISREG(st.st_mode) or pipe):
        raise InputError(f"{p}: not a regular file (a secret file is 64 hex characters)")
    try:
        # O_NONBLOCK: opening a FIFO nobody writes to must not wait forever
        fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise InputError(f"{p}: cannot read secret file ({exc.strerror})") from None
    chunks: list[bytes] = []
    size = 0
    deadline = time.monotonic() + PIPE_WAIT_SECONDS
    try:
        while size <= MAX_KEY_FILE_BYTES:
            if pipe:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([fd], [], [], left)[0]:
                    raise InputError(
                        f"{p}: no secret arrived within {PIPE_WAIT_SECONDS:.0f} s on this pipe"
                    )
            try:
                chunk = os.read(fd, MAX_KEY_FILE_BYTES + 1 - size)
            except BlockingIOError:
                continue  # a pipe's writer has not written yet: wait again
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise InputError(f"{p}: cannot read secret file ({exc.strerror})") from None
    finally:
        os.close(fd)
    if size > MAX_KEY_FILE_BYTES:
        raise InputError(
            f"{p}: larger than {MAX_KEY_FILE_BYTES} bytes, not a pprl secret file "
            "(expected 64 hex characters)"
        )
    return b"".join(chunks)


def load_secret(path: str | os.PathLike[str], *, strict: bool = False) -> Secret:
    """Read a secret file written by ``pprl keygen``.

    Raises :class:`InputError` naming the file (never its content) when it is
    missing, unreadable, not a regular file or pipe, larger than 1 KiB or not 64 hex
    characters; at most 1 KiB + 1 byte is ever read. With ``strict`` a key file that
    group or other users can access (:func:`key_file_exposure`) is refused too;
    without, callers should show that warning.
    """
    p = Path(path)
    if strict and (exposed := key_file_exposure(p)) is not None:
        raise InputError(f"{exposed} (--strict)")
    raw = _read_limited(p)
    try:
        text = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        raise InputError(f"{p}: not a pprl secret file (expected 64 hex characters)") from None
    if not _HEX.fullmatch(text):
        raise InputError(f"{p}: not a pprl secret file (expected 64 hex characters)")
    return Secret(text.lower())


def pseudonym(key: bytes, value: str) -> bytes:
    """Keyed 32-byte blake3 pseudonym of a normalized link-key value."""
    return blake3(value.encode("utf-8"), key=key).digest()
