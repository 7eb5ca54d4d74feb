"""Helpers for the service tests: tokens, headers and small encoding files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pprl.store import Encodings, write_encodings


def operator_token(service) -> str:
    return (service.data / "operator.token").read_text().strip()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def encoding_file(
    path: Path,
    party: str,
    role: str,
    fingerprint: str = "a" * 16,
    schema_digest: str = "b" * 32,
    schema_name: str = "jp-resident",
    n: int = 20,
    seed: int = 0,
) -> Path:
    """A small, valid encoding file (random CLKs and pseudonyms)."""
    rng = np.random.default_rng(seed)
    enc = Encodings(
        rows=np.arange(n, dtype=np.int64),
        tokens=rng.integers(0, 256, (n, 32), dtype=np.uint8),
        has_token=np.ones(n, bool),
        clks=rng.integers(0, 2**63, (n, 16), dtype=np.uint64),
        meta={
            "party": party,
            "role": role,
            "key_fingerprint": fingerprint,
            "schema_digest": schema_digest,
            "schema_name": schema_name,
        },
    )
    return write_encodings(enc, path)
