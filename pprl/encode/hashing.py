"""Per-field keys and per-token hash tables, exactly as clkhash derives them.

Each distinct token is hashed once: keyed BLAKE2b (``blakeHash``) gives a table of
16-bit shorts per token, HMAC-SHA1/HMAC-MD5 (``doubleHash``) a pair ``(h1, h2)`` per
token. The numba kernels turn those into bit positions.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Sequence
from hashlib import blake2b, md5, sha1

import numpy as np
from clkhash.key_derivation import generate_key_lists
from clkhash.schema import Schema

from pprl.errors import InputError

__all__ = ["BLAKE_MAX_KEY_BYTES", "blake_table", "derive_keys", "double_table"]

BLAKE_MAX_KEY_BYTES = 64  # BLAKE2b takes keys of at most 64 bytes


def derive_keys(schema: Schema, secret: str) -> list[tuple[bytes, ...]]:
    """One key tuple per field of ``schema``, from ``secret`` with the schema's KDF
    settings (clkhash's ``generate_key_lists``).

    Raises :class:`InputError` when a ``blakeHash`` field would get a key BLAKE2b
    cannot take (clkhash fails there with a bare ``ValueError``).
    """
    keys = generate_key_lists(
        secret,
        len(schema.fields),
        key_size=schema.kdf_key_size,
        salt=schema.kdf_salt,
        info=schema.kdf_info,
        kdf=schema.kdf_type,
        hash_algo=schema.kdf_hash,
    )
    for f, k in zip(schema.fields, keys, strict=True):
        fhp = f.hashing_properties
        if fhp is not None and fhp.hash_type == "blakeHash" and len(k[0]) > BLAKE_MAX_KEY_BYTES:
            raise InputError(
                f"schema {schema!r}: field {f.identifier!r} uses blakeHash, which needs "
                f"keys of at most {BLAKE_MAX_KEY_BYTES} bytes (kdf keySize is {len(k[0])})"
            )
    return [tuple(bytes(x) for x in k) for k in keys]


def blake_table(
    strings: Sequence[str], kmax: int, key: bytes, enc: str, tok_kmax: Callable[[], np.ndarray]
) -> np.ndarray:
    """uint16 table: row t holds the 16-bit-short stream clkhash derives for token t.

    A BLAKE2b block gives 32 shorts; a token needs ``ceil(k / 32)`` blocks for its
    largest k. When some token needs more than one, ``tok_kmax()`` tells which, so the
    others are hashed once (their unused blocks are left zero and never read).
    """
    width = max(1, (kmax + 31) // 32)
    parts: list[bytes] = []
    append = parts.append
    # A keyed BLAKE2b state copied and fed the token equals blake2b(token, key=, salt=).
    bases = [blake2b(key=key, salt=str(i).encode()) for i in range(width)]
    if width == 1:
        copy = bases[0].copy
        for s in strings:
            h = copy()
            h.update(s.encode(enc))
            append(h.digest())
    else:
        zero = bytes(64)
        blocks = np.maximum((tok_kmax() + 31) // 32, 1).tolist()
        for s, nb in zip(strings, blocks, strict=True):
            b = s.encode(enc)
            for i in range(width):
                if i < nb:
                    h = bases[i].copy()
                    h.update(b)
                    append(h.digest())
                else:
                    append(zero)
    buf = b"".join(parts)
    arr = np.frombuffer(buf, dtype=np.uint16)  # clkhash unpacks struct "32H": native order
    return arr.reshape(len(strings), 32 * width)


def double_table(
    strings: Sequence[str], keys: Sequence[bytes], hash_l: int, enc: str, non_singular: bool
) -> tuple[np.ndarray, np.ndarray]:
    """(h1, h2) per token: HMAC-SHA1 and HMAC-MD5 mod l, as clkhash's double hashing."""
    key_sha1, key_md5 = bytes(keys[0]), bytes(keys[1])
    digest = hmac.digest
    from_bytes = int.from_bytes
    h1 = np.empty(len(strings), dtype=np.int64)
    h2 = np.empty(len(strings), dtype=np.int64)
    for t, s in enumerate(strings):
        b = s.encode(enc)
        a = from_bytes(digest(key_sha1, b, sha1), "big") % hash_l
        c = from_bytes(digest(key_md5, b, md5), "big") % hash_l
        if non_singular:
            i = 0
            while c == 0:
                c = from_bytes(digest(key_md5, b + chr(i).encode(), md5), "big") % hash_l
                i += 1
        h1[t] = a
        h2[t] = c
    return h1, h2
