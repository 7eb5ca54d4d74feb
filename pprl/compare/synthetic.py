"""Synthetic packed CLKs for tests and benchmarks (no identities involved).

:func:`realistic_clks` imitates clkhash filters: each record is a bag of tokens
(think name bigrams) drawn from a Zipf-like vocabulary, each token sets ``k``
hashed bit positions, so filters have ~20-40 % bits set and unrelated records
share bits the way real encodings do.  :func:`noisy_copies` makes correlated
variants (same entity, typos) by dropping/adding tokens and flipping bits.
"""

from __future__ import annotations

import numpy as np


def _token_positions(rng: np.random.Generator, vocab: int, bits: int, k: int) -> np.ndarray:
    """Bit positions each vocabulary token sets (vocab, k)."""
    return rng.integers(0, bits, size=(vocab, k))


def _pack(bitmat: np.ndarray) -> np.ndarray:
    """Pack a (n, bits) bool matrix into (n, bits/64) little-endian uint64 words."""
    packed = np.packbits(bitmat, axis=1, bitorder="little")
    return np.ascontiguousarray(packed).view("<u8").astype(np.uint64, copy=False)


def realistic_clks(
    n: int,
    *,
    bits: int = 1024,
    seed: int = 0,
    vocab: int = 3000,
    k: int = 20,
    tokens: tuple[int, int] = (12, 26),
) -> tuple[np.ndarray, np.ndarray]:
    """Return (clks, token_ids): n clkhash-like filters and the tokens behind them.

    ``tokens`` is the range of tokens per record; with k=20 hash positions per
    token a 1024-bit filter ends up roughly 20-40 % full.
    """
    if bits % 64:
        raise ValueError("bits must be a multiple of 64")
    rng = np.random.default_rng(seed)
    pos = _token_positions(np.random.default_rng(seed + 7_919), vocab, bits, k)
    ntok = rng.integers(tokens[0], tokens[1] + 1, size=n)
    width = int(tokens[1])
    zipf = 1.0 / np.arange(1, vocab + 1) ** 0.8
    tok = rng.choice(vocab, size=(n, width), p=zipf / zipf.sum())
    tok[np.arange(width)[None, :] >= ntok[:, None]] = -1
    out = np.empty((n, bits // 64), dtype=np.uint64)
    step = 20_000  # encode in slices to keep peak memory small
    for s in range(0, n, step):
        out[s : s + step] = _encode(tok[s : s + step], pos, bits)
    return out, tok


def _encode(tok: np.ndarray, pos: np.ndarray, bits: int) -> np.ndarray:
    """Set the bit positions of every present token (tok == -1 means absent)."""
    n, width = tok.shape
    bitmat = np.zeros((n, bits), dtype=bool)
    rows = np.repeat(np.arange(n, dtype=np.int32), width * pos.shape[1])
    cols = pos[np.where(tok >= 0, tok, 0)].reshape(-1)
    keep = np.repeat((tok >= 0).reshape(-1), pos.shape[1])
    bitmat[rows[keep], cols[keep]] = True
    return _pack(bitmat)


def noisy_copies(clks: np.ndarray, *, flip: float = 0.02, seed: int = 1) -> np.ndarray:
    """Correlated variants: each bit flipped with probability ``flip`` (set bits
    are cleared and clear bits set at rates keeping density about the same)."""
    rng = np.random.default_rng(seed)
    n, words = clks.shape
    bitmat = np.unpackbits(clks.view(np.uint8), axis=1, bitorder="little").astype(bool)
    density = bitmat.mean()
    clear = rng.random(bitmat.shape) < flip
    setp = flip * density / max(1e-9, 1.0 - density)
    add = rng.random(bitmat.shape) < setp
    out = (bitmat & ~clear) | (~bitmat & add)
    return _pack(out)


def random_clks(n: int, *, bits: int = 1024, density: float = 0.3, seed: int = 0) -> np.ndarray:
    """Independent random filters with the given bit density."""
    rng = np.random.default_rng(seed)
    return _pack(rng.random((n, bits)) < density)


def linked_pair(
    n: int, *, bits: int = 1024, overlap: float = 0.5, flip: float = 0.02, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two realistic files A (n) and B (n) where ``overlap`` of B are noisy copies of A.

    Returns (A, B, truth) with truth[j] = index in A of B's j-th record or -1.
    """
    rng = np.random.default_rng(seed + 1)
    a, _ = realistic_clks(n, bits=bits, seed=seed)
    b, _ = realistic_clks(n, bits=bits, seed=seed + 10_000)
    m = int(n * overlap)
    src = rng.permutation(n)[:m]
    dst = rng.permutation(n)[:m]
    b[dst] = noisy_copies(a[src], flip=flip, seed=seed + 2)
    truth = np.full(n, -1, dtype=np.int64)
    truth[dst] = src
    return a, b, truth
