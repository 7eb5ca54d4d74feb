"""Blocking: compare only record pairs that share a block key.

Two strategies, both producing per-record key matrices ``(n, K)`` of int64
(``MISSING`` marks an unused slot):

* :class:`BlockKeys` -- keys computed elsewhere at encoding time (keyed hashes
  of e.g. birth year + sex), possibly several per record.
* :class:`LshBlocking` -- Hamming / bit-sampling LSH on the CLK bits (like
  blocklib's lambda-fold): ``bands`` signatures of ``bits_per_band`` sampled bit
  positions each; records sharing any signature are compared.  Needs nothing but
  the encodings; seeded, so both parties derive the same positions.

A pair sharing several keys is reported once: only from the block of the
smallest key the two records share.  Small blocks are expanded into index pairs
and scored with one kernel call per batch; big blocks go through the full
popcount-filtered search kernel.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from pprl.compare.backend import get_backend
from pprl.compare.scan import as_clks, concat_candidates, iter_full, ordered_results
from pprl.compare.types import Candidates

MISSING = np.iinfo(np.int64).min
BIG_BLOCK = 1 << 16  # pairs; blocks at least this big use the search kernel
PAIR_BATCH = 1 << 20  # pairs per small-block batch


class Blocking(Protocol):
    """A blocking strategy: per-record block keys for both files."""

    @property
    def aligned(self) -> bool:
        """True if key column a can only equal key column a of the other file."""
        ...

    def keys(self, queries: np.ndarray, refs: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Return (query_keys, ref_keys) int64 matrices; refs None means dedupe."""
        ...


def _as_key_matrix(keys: np.ndarray | Iterable[Any]) -> np.ndarray:
    """Coerce keys to a 2-D int64 matrix (bytes keys are hashed to int64)."""
    arr = np.asarray(keys)
    if arr.dtype.kind in "SOU":
        arr = keys_from_bytes(arr.reshape(-1)).reshape(arr.shape)
    arr = arr.astype(np.int64, copy=False)
    return np.ascontiguousarray(arr.reshape(arr.shape[0], -1))


def keys_from_bytes(keys: Iterable[bytes | str | None]) -> np.ndarray:
    """Map byte-string block keys to int64 (BLAKE2b, 8 bytes); None -> MISSING."""
    out = []
    for k in keys:
        if k is None:
            out.append(MISSING)
            continue
        raw = k.encode() if isinstance(k, str) else bytes(k)
        v = int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "little", signed=True)
        out.append(v if v != MISSING else MISSING + 1)
    return np.asarray(out, dtype=np.int64)


@dataclass(frozen=True)
class BlockKeys:
    """Precomputed block keys: ``(n,)`` or ``(n, K)`` ints (or bytes) per file.

    Set ``aligned=True`` when key column a only ever matches column a (e.g. each
    column is a different key recipe); it makes duplicate suppression cheaper.
    """

    query_keys: np.ndarray
    ref_keys: np.ndarray | None = None
    aligned: bool = False

    def keys(self, queries: np.ndarray, refs: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Return the stored keys as int64 matrices, checking row counts."""
        qk = _as_key_matrix(self.query_keys)
        rk = (
            qk
            if refs is None
            else _as_key_matrix(self.ref_keys if self.ref_keys is not None else [])
        )
        if qk.shape[0] != queries.shape[0] or (refs is not None and rk.shape[0] != refs.shape[0]):
            raise ValueError("block keys must have one row per record")
        return qk, rk


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spread signatures over the int64 key space."""
    x = x.astype(np.uint64, copy=True)
    with np.errstate(over="ignore"):
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    out = x.view(np.int64)
    out[out == MISSING] = MISSING + 1
    return out


@dataclass(frozen=True)
class LshBlocking:
    """Bit-sampling LSH: ``bands`` signatures of ``bits_per_band`` sampled bits.

    Two records with Dice similarity d have roughly Hamming agreement h on the
    sampled bits; they share a band with probability 1 - (1 - h^k)^L.  More bands
    raise pair completeness, more bits per band raise the reduction ratio.
    """

    bands: int = 24
    bits_per_band: int = 24
    seed: int = 0
    aligned: bool = True

    def positions(self, bits: int) -> np.ndarray:
        """Sampled bit positions (bands, bits_per_band), deterministic in the seed."""
        if not 1 <= self.bits_per_band <= 64:
            raise ValueError("bits_per_band must be in 1..64")
        rng = np.random.default_rng(self.seed)
        return np.stack(
            [rng.choice(bits, self.bits_per_band, replace=False) for _ in range(self.bands)]
        )

    def signatures(self, clks: np.ndarray) -> np.ndarray:
        """Band keys (n, bands) int64 for packed CLKs."""
        pos = self.positions(clks.shape[1] * 64)
        weights = np.left_shift(np.uint64(1), np.arange(self.bits_per_band, dtype=np.uint64))
        out = np.empty((clks.shape[0], self.bands), dtype=np.int64)
        for b, p in enumerate(pos):
            bitsel = (clks[:, p // 64] >> (p % 64).astype(np.uint64)) & np.uint64(1)
            sig = (bitsel * weights).sum(axis=1, dtype=np.uint64)
            with np.errstate(over="ignore"):
                salted = sig ^ (np.uint64(b + 1) * np.uint64(0x9E3779B97F4A7C15))
            out[:, b] = _mix64(salted)
        return out

    def keys(self, queries: np.ndarray, refs: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Band signatures of both files."""
        qk = self.signatures(queries)
        return qk, (qk if refs is None else self.signatures(refs))


@dataclass(frozen=True)
class _Index:
    """Records grouped by key: sorted keys, record ids, and per-key ranges."""

    keys: np.ndarray  # unique keys
    starts: np.ndarray
    sizes: np.ndarray
    recs: np.ndarray  # record ids ordered by (key, record)


def _index(keymat: np.ndarray) -> _Index:
    """Group record ids by key (duplicate keys within a record count once)."""
    n, k = keymat.shape
    flat = keymat.reshape(-1)
    rec = np.repeat(np.arange(n, dtype=np.int64), k)
    ok = flat != MISSING
    flat, rec = flat[ok], rec[ok]
    order = np.lexsort((rec, flat))
    flat, rec = flat[order], rec[order]
    if flat.size:
        keep = np.ones(flat.size, dtype=bool)
        keep[1:] = (flat[1:] != flat[:-1]) | (rec[1:] != rec[:-1])
        flat, rec = flat[keep], rec[keep]
    keys, starts, sizes = np.unique(flat, return_index=True, return_counts=True)
    return _Index(keys, starts.astype(np.int64), sizes.astype(np.int64), rec)


def _min_shared_key(
    qk: np.ndarray, rk: np.ndarray, qi: np.ndarray, rj: np.ndarray, aligned: bool
) -> np.ndarray:
    """Smallest key that records qi[k] and rj[k] share (per pair)."""
    best = np.full(qi.shape[0], np.iinfo(np.int64).max, dtype=np.int64)
    a_keys, b_keys = qk[qi], rk[rj]
    cols = range(qk.shape[1])
    combos = (
        ((a, a) for a in cols) if aligned else ((a, b) for a in cols for b in range(rk.shape[1]))
    )
    for a, b in combos:
        ka = a_keys[:, a]
        hit = (ka == b_keys[:, b]) & (ka != MISSING)
        np.minimum(best, np.where(hit, ka, best), out=best)
    return best


def _expand(
    qidx: _Index, ridx: _Index, qsel: np.ndarray, rsel: np.ndarray
) -> tuple[np.ndarray, ...]:
    """All (query, ref, key) pairs of the given common blocks (vectorised)."""
    sq, sr = qidx.sizes[qsel], ridx.sizes[rsel]
    cnt = sq * sr
    blk = np.repeat(np.arange(cnt.shape[0]), cnt)
    first = np.concatenate([[0], np.cumsum(cnt)[:-1]])
    t = np.arange(int(cnt.sum()), dtype=np.int64) - first[blk]
    qi = qidx.recs[qidx.starts[qsel][blk] + t // sr[blk]]
    rj = ridx.recs[ridx.starts[rsel][blk] + t % sr[blk]]
    return qi, rj, qidx.keys[qsel][blk]


def _batches(cnt: np.ndarray, limit: int) -> Iterator[np.ndarray]:
    """Split block positions into consecutive batches of at most ~limit pairs."""
    start, acc = 0, 0
    for i, c in enumerate(cnt.tolist()):
        if acc and acc + c > limit:
            yield np.arange(start, i)
            start, acc = i, 0
        acc += c
    if start < cnt.shape[0]:
        yield np.arange(start, cnt.shape[0])


def iter_blocked_candidates(
    queries: np.ndarray,
    refs: np.ndarray,
    threshold: float,
    blocking: Blocking,
    *,
    dedupe: bool = False,
    workers: int = 1,
    chunk_queries: int = 512,
    device: str = "cpu",
) -> Iterator[Candidates]:
    """Candidate chunks restricted to pairs sharing a block key (each pair once)."""
    qk, rk = blocking.keys(queries, None if dedupe else refs)
    qidx = _index(qk)
    ridx = qidx if dedupe else _index(rk)
    common, qsel, rsel = np.intersect1d(
        qidx.keys, ridx.keys, assume_unique=True, return_indices=True
    )
    cnt = qidx.sizes[qsel] * ridx.sizes[rsel]
    big = cnt >= BIG_BLOCK
    backend = get_backend(device)
    qpop = backend.popcounts(queries)
    rpop = qpop if dedupe else backend.popcounts(refs)

    def small(sel: np.ndarray) -> Candidates:
        """Score one batch of small blocks via index pairs."""
        qi, rj, key = _expand(qidx, ridx, qsel[sel], rsel[sel])
        keep = qi < rj if dedupe else np.ones(qi.shape[0], dtype=bool)
        qi, rj, key = qi[keep], rj[keep], key[keep]
        keep = _min_shared_key(qk, rk, qi, rj, blocking.aligned) == key
        qi, rj = qi[keep], rj[keep]
        score = backend.dice_index(queries, refs, qi, rj, qpop, rpop)
        hit = score >= threshold
        return Candidates(qi[hit], rj[hit], score[hit])

    small_pos = np.flatnonzero(~big)
    jobs = ((small_pos[b],) for b in _batches(cnt[small_pos], PAIR_BATCH))
    for chunk in ordered_results(jobs, small, workers):
        if chunk.q.shape[0]:
            yield chunk
    for pos in np.flatnonzero(big).tolist():
        yield from _big_block(
            queries,
            refs,
            qk,
            rk,
            qidx,
            ridx,
            int(qsel[pos]),
            int(rsel[pos]),
            threshold,
            blocking.aligned,
            dedupe,
            workers,
            chunk_queries,
            device,
        )


def _big_block(
    queries: np.ndarray,
    refs: np.ndarray,
    qk: np.ndarray,
    rk: np.ndarray,
    qidx: _Index,
    ridx: _Index,
    qs: int,
    rs: int,
    threshold: float,
    aligned: bool,
    dedupe: bool,
    workers: int,
    chunk_queries: int,
    device: str,
) -> Iterator[Candidates]:
    """Run the popcount-filtered kernel on one large block, mapping ids back."""
    qrec = qidx.recs[qidx.starts[qs] : qidx.starts[qs] + qidx.sizes[qs]]
    rrec = ridx.recs[ridx.starts[rs] : ridx.starts[rs] + ridx.sizes[rs]]
    key = qidx.keys[qs]
    sub_q = np.ascontiguousarray(queries[qrec])
    sub_r = sub_q if dedupe else np.ascontiguousarray(refs[rrec])
    for c in iter_full(sub_q, sub_r, threshold, 0, dedupe, workers, chunk_queries, device):
        qi, rj = qrec[c.q], rrec[c.r]
        keep = _min_shared_key(qk, rk, qi, rj, aligned) == key
        if keep.any():
            yield Candidates(qi[keep], rj[keep], c.score[keep])


def blocked_pairs(
    queries: np.ndarray,
    refs: np.ndarray | None,
    blocking: Blocking,
    *,
    dedupe: bool = False,
    workers: int | None = None,
) -> Candidates:
    """Every pair the blocking lets through (no threshold), e.g. to measure it."""
    queries = as_clks(queries)
    refs = queries if dedupe or refs is None else as_clks(refs)
    parts = list(
        iter_blocked_candidates(
            queries, refs, -np.inf, blocking, dedupe=dedupe, workers=workers or 1
        )
    )
    return concat_candidates(parts)


def pair_completeness(
    cand_q: np.ndarray, cand_r: np.ndarray, true_q: np.ndarray, true_r: np.ndarray
) -> float:
    """Fraction of true pairs (true_q[i], true_r[i]) present among the candidate pairs."""
    if len(true_q) == 0:
        return 1.0
    cand = np.unique(np.asarray(cand_q, np.int64) * (1 << 32) + np.asarray(cand_r, np.int64))
    true = np.unique(np.asarray(true_q, np.int64) * (1 << 32) + np.asarray(true_r, np.int64))
    return float(np.isin(true, cand, assume_unique=True).mean())


def reduction_ratio(
    n_candidates: int, n: int, m: int | None = None, *, dedupe: bool = False
) -> float:
    """1 - candidate pairs / all pairs (n*m, or n(n-1)/2 when deduplicating)."""
    total = n * (n - 1) // 2 if dedupe else n * (m if m is not None else n)
    return 1.0 - n_candidates / total if total else 0.0
