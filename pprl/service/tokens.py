"""Access tokens: 256 random bits, stored only as a keyed hash, compared in constant time.

The hash key is the server key (``DIR/server.key``, 0600, made on first start), so a copy
of the database alone cannot be used to test guessed tokens. A token is scoped to one
role (``operator``, ``reference`` or ``claims``) and, for parties, one campaign and party.
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

from blake3 import blake3

from pprl.errors import InputError

KEY_FILE = "server.key"
PREFIX = "pprl-token-"
TOKEN_BYTES = 32  # 256 random bits (the issue asks for >= 192)
MAX_TOKEN_CHARS = 200
ROLES = ("operator", "reference", "claims")


def new_token() -> str:
    """A fresh token: the prefix and 256 random bits, URL-safe base64."""
    return PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(key: bytes, token: str) -> str:
    """The keyed blake3 hash stored for ``token`` (64 hex characters)."""
    return blake3(token.encode("utf-8", "surrogatepass"), key=key).hexdigest()


def same_hash(a: str, b: str) -> bool:
    """Constant-time comparison of two stored hashes."""
    return hmac.compare_digest(a.encode("ascii"), b.encode("ascii"))


def write_secret_file(path: Path, text: str) -> None:
    """Create ``path`` with mode 0600 holding ``text``; never replaces an existing file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            fd = -1
            f.write(text + "\n")
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        if fd >= 0:
            os.close(fd)
        path.unlink(missing_ok=True)
        raise


def load_server_key(data: Path) -> bytes:
    """The server key under ``data``, made (0600) on first start."""
    path = data / KEY_FILE
    if not path.exists():
        write_secret_file(path, secrets.token_hex(32))
    if path.stat().st_mode & 0o077:
        raise InputError(f"{path}: readable by others; run chmod 600 on it")
    text = path.read_text(encoding="ascii", errors="replace").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise InputError(f"{path}: not a server key (64 hex characters)")
    return key


def read_token_file(path: Path) -> str:
    """The token in ``path`` (one line), refused with one line when missing or malformed;
    the message never shows the file's content."""
    try:
        if path.stat().st_size > MAX_TOKEN_CHARS + 2:
            raise InputError(f"{path}: not a pprl token file (too long)")
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a pprl token file") from None
    if not text.startswith(PREFIX) or any(ch.isspace() for ch in text):
        raise InputError(f"{path}: not a pprl token file")
    return text
