"""Blocking: block keys and LSH restrict pairs, report each pair once."""

from __future__ import annotations

import numpy as np
import pytest

from pprl.compare import blocking as bl
from pprl.compare import find_candidates
from pprl.compare.synthetic import linked_pair


def pairset(c) -> set[tuple[int, int]]:
    """Candidate chunk -> set of (q, r), asserting there are no duplicates."""
    s = set(zip(c.q.tolist(), c.r.tolist(), strict=True))
    assert len(s) == c.q.size
    return s


@pytest.fixture(scope="module")
def files() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two linked realistic files."""
    return linked_pair(1200, seed=5)


@pytest.mark.parametrize("aligned", [False, True])
def test_block_keys_equal_filtered_full_search(files, aligned: bool) -> None:
    a, b, _ = files
    rng = np.random.default_rng(1)
    qk, rk = rng.integers(0, 12, (len(a), 2)), rng.integers(0, 12, (len(b), 2))
    full = find_candidates(a, b, 0.45)
    got = find_candidates(a, b, 0.45, blocking=bl.BlockKeys(qk, rk, aligned=aligned))
    if aligned:
        exp = {(i, j) for i, j in pairset(full) if (qk[i] == rk[j]).any()}
    else:
        exp = {(i, j) for i, j in pairset(full) if set(qk[i]) & set(rk[j])}
    assert pairset(got) == exp
    scores = dict(
        zip(zip(full.q.tolist(), full.r.tolist(), strict=True), full.score.tolist(), strict=True)
    )
    assert all(
        scores[(i, j)] == s
        for i, j, s in zip(got.q.tolist(), got.r.tolist(), got.score.tolist(), strict=True)
    )


def test_big_blocks_use_kernel_and_agree(files, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b, _ = files
    rng = np.random.default_rng(2)
    qk, rk = rng.integers(0, 3, (len(a), 2)), rng.integers(0, 3, (len(b), 2))
    blk = bl.BlockKeys(qk, rk)
    small = pairset(find_candidates(a, b, 0.45, blocking=blk))
    monkeypatch.setattr(bl, "BIG_BLOCK", 10)
    big = pairset(find_candidates(a, b, 0.45, blocking=blk))
    assert big == small


def test_bytes_keys_and_missing(files) -> None:
    a, b, _ = files
    qk = np.array([b"1980F" if i % 2 else b"1981M" for i in range(len(a))], dtype=object)
    rk = np.array([b"1980F" if i % 3 else None for i in range(len(b))], dtype=object)
    got = pairset(find_candidates(a, b, 0.4, blocking=bl.BlockKeys(qk, rk)))
    assert got and all(i % 2 == 1 and j % 3 != 0 for i, j in got)


def test_lsh_is_subset_and_keeps_true_links(files) -> None:
    a, b, truth = files
    full = pairset(find_candidates(a, b, 0.7))
    lsh = bl.LshBlocking(bands=24, bits_per_band=24, seed=3)
    got = pairset(find_candidates(a, b, 0.7, blocking=lsh))
    assert got <= full
    linked = np.flatnonzero(truth >= 0)
    pairs = bl.blocked_pairs(a, b, lsh)
    pc = bl.pair_completeness(pairs.q, pairs.r, truth[linked], linked)
    rr = bl.reduction_ratio(pairs.q.size, len(a), len(b))
    assert pc > 0.95 and rr > 0.9


def test_lsh_deterministic_in_seed(files) -> None:
    a, _, _ = files
    k1 = bl.LshBlocking(seed=4).signatures(a[:50])
    k2 = bl.LshBlocking(seed=4).signatures(a[:50])
    k3 = bl.LshBlocking(seed=5).signatures(a[:50])
    assert np.array_equal(k1, k2) and not np.array_equal(k1, k3)


def test_dedupe_with_blocking(files) -> None:
    a, b, _ = files
    x = np.concatenate([a[:400], b[:400]])
    keys = np.arange(len(x)) % 4
    full = pairset(find_candidates(x, None, 0.5, dedupe=True))
    got = pairset(find_candidates(x, None, 0.5, dedupe=True, blocking=bl.BlockKeys(keys)))
    assert got == {(i, j) for i, j in full if keys[i] == keys[j]}
    assert all(i < j for i, j in got)


def test_metrics() -> None:
    assert (
        bl.pair_completeness(np.array([0, 1]), np.array([0, 2]), np.array([0, 1]), np.array([0, 1]))
        == 0.5
    )
    assert bl.reduction_ratio(10, 10, 10) == pytest.approx(0.9)
    assert bl.reduction_ratio(9, 10, dedupe=True) == pytest.approx(0.8)


def test_top_k_with_blocking_rejected(files) -> None:
    a, b, _ = files
    with pytest.raises(ValueError):
        find_candidates(a, b, 0.5, top_k=1, blocking=bl.LshBlocking())
