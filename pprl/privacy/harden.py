"""Hardened CLK encoding: per-record salting, BLIP bit flipping, balancing, keyed permutation.

Everything here runs at the data holder, with the secret. Each step is deterministic for
a given secret and input, so re-encoding a file gives the same bytes (and an attacker
cannot average several encodings of the same record to strip the noise). Every key is
derived from the secret with its own blake3 context, so one use reveals nothing about
another. See docs/privacy.md for what each step defends and costs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
from blake3 import blake3

from pprl.encode import encode_clks
from pprl.keys import Secret
from pprl.privacy.blip import BLIP_CONTEXT, BLIP_GENERATOR, blip, flip_probability
from pprl.schema import Hardening, Schema

SALT_CONTEXT = "pprl 2026-11 clk salt v1"
PERMUTE_CONTEXT = "pprl 2026-11 bit permutation v1"

Progress = Callable[[int], None]

__all__ = [
    "BLIP_CONTEXT",
    "PERMUTE_CONTEXT",
    "SALT_CONTEXT",
    "balance",
    "bit_permutation",
    "blip",
    "derive_key",
    "flip_probability",
    "hardened_clks",
    "hardening_meta",
    "salt_secret",
    "salt_values",
    "salted_clks",
]


def derive_key(secret: Secret, context: str) -> bytes:
    """A 32-byte key for one hardening use, independent of every other key of the secret."""
    return blake3(secret.clk_secret.encode("ascii"), derive_key_context=context).digest()


def salt_secret(secret: Secret, salt_value: str) -> str:
    """The clkhash secret for one salt group: keyed blake3 of the normalized salt value.

    Records with different salt values are hashed under unrelated keys, so their CLKs
    share only chance bits: they are comparable only within the same salt value.
    """
    key = derive_key(secret, SALT_CONTEXT)
    return blake3(salt_value.encode("utf-8"), key=key).hexdigest()


def salt_values(h: Hardening, values: Sequence[str | None]) -> list[str]:
    """The salt of each record: the (sliced) normalized attribute, '' when missing."""
    return [(v or "")[h.salt_start : h.salt_stop] for v in values]


def salted_clks(
    schema: Schema,
    columns: Sequence[Sequence[str]],
    salts: Sequence[str],
    secret: Secret,
    workers: int | None = None,
    progress: Progress | None = None,
) -> np.ndarray:
    """Encode each salt group with its own derived secret (``encode_clks`` per group)."""
    n = len(salts)
    groups: dict[str, list[int]] = {}
    for i, s in enumerate(salts):
        groups.setdefault(s, []).append(i)
    out = np.zeros((n, schema.nbits // 64), dtype=np.uint64)
    for value, rows in groups.items():
        idx = np.asarray(rows, dtype=np.int64)
        sub = [[col[i] for i in rows] for col in columns]
        out[idx] = encode_clks(schema.clk, sub, salt_secret(secret, value), workers=workers)
        if progress is not None:
            progress(len(rows))
    return out


def bit_permutation(nbits: int, key: bytes) -> np.ndarray:
    """A keyed permutation of bit positions: positions sorted by keyed blake3 of their index."""
    stream = blake3(b"positions", key=key).digest(length=8 * nbits)
    return np.argsort(np.frombuffer(stream, dtype="<u8"), kind="stable")


def balance(clks: np.ndarray, permute_key: bytes | None = None) -> np.ndarray:
    """Append the complement bits (every record gets exactly l ones out of 2l), then
    optionally apply a keyed permutation so the halves are not apparent."""
    n = clks.shape[0]
    bits = np.unpackbits(np.ascontiguousarray(clks).view(np.uint8), axis=1)
    both = np.concatenate([bits, 1 - bits], axis=1)
    if permute_key is not None:
        both = both[:, bit_permutation(both.shape[1], permute_key)]
    return np.ascontiguousarray(np.packbits(both, axis=1)).view("<u8").reshape(n, -1)


def hardening_meta(schema: Schema) -> dict[str, str]:
    """What an encoding file must record about how its hardening was generated: the BLIP
    generator id (metadata field ``blip``) when the schema flips bits, so that files whose
    noise was drawn differently are refused together (:func:`pprl.store.check_compatible`)."""
    return {"blip": BLIP_GENERATOR} if schema.hardening.blip_epsilon is not None else {}


def hardened_clks(
    schema: Schema,
    columns: Sequence[Sequence[str]],
    normalized: dict[str, list[str | None]],
    raw: Mapping[str, Sequence[str]],
    secret: Secret,
    *,
    workers: int | None = None,
    progress: Progress | None = None,
) -> np.ndarray:
    """Encode CLKs with the schema's hardening: salting, then BLIP, then balancing.

    Without hardening this is exactly ``encode_clks`` (bit-identical to clkhash).
    BLIP comes before balancing so a balanced record keeps exactly l ones.
    """
    h = schema.hardening
    if h.salt_field:
        attr = normalized.get(h.salt_field) or raw.get(h.salt_field) or [""] * len(columns[0])
        clks = salted_clks(schema, columns, salt_values(h, attr), secret, workers, progress)
    else:
        clks = encode_clks(
            schema.clk, columns, secret.clk_secret, workers=workers, progress=progress
        )
    if h.blip_epsilon is not None:
        owned = clks.flags.c_contiguous and clks.flags.writeable  # made here: noise in place
        clks = blip(clks, h.blip_epsilon, derive_key(secret, BLIP_CONTEXT), inplace=owned)
    if h.balance:
        clks = balance(clks, derive_key(secret, PERMUTE_CONTEXT) if h.permute else None)
    return clks
