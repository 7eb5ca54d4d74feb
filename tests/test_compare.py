"""Comparison core: equality with anonlink, kernel paths, chunking, top-k, dedupe."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from anonlink.candidate_generation import find_candidate_pairs
from anonlink.similarities import dice_coefficient_accelerated
from bitarray import bitarray
from hypothesis import given, settings
from hypothesis import strategies as st

from pprl.compare import (
    available_kernels,
    dice_pairs,
    find_candidates,
    iter_candidates,
    kernel_info,
    select_kernel,
)
from pprl.compare import scan as search_mod
from pprl.compare.synthetic import linked_pair, random_clks, realistic_clks
from pprl.encode import clks_to_bitarrays

PATHS = available_kernels()


@pytest.fixture(params=PATHS)
def kernel_path(request: pytest.FixtureRequest):
    """Run a test once per kernel path this CPU supports, then restore the best one."""
    select_kernel(request.param)
    yield request.param
    select_kernel("auto")


def to_bitarrays(clks: np.ndarray) -> list[bitarray]:
    """Packed uint64 rows -> anonlink's bitarray records (same bytes; bit order does not
    change popcounts, so Dice is the same)."""
    return clks_to_bitarrays(clks)


def anonlink_pairs(a: np.ndarray, b: np.ndarray, threshold: float) -> list[tuple[int, int, float]]:
    """anonlink's candidate pairs as a sorted list of (q, r, score)."""
    sims, _, (r0, r1) = find_candidate_pairs(
        [to_bitarrays(a), to_bitarrays(b)], dice_coefficient_accelerated, threshold
    )
    return sorted(zip(r0, r1, sims, strict=True))


def ours(c) -> list[tuple[int, int, float]]:
    """Our candidates as a sorted list of (q, r, score)."""
    return sorted(zip(c.q.tolist(), c.r.tolist(), c.score.tolist(), strict=True))


def assert_same(got: list, ref: list) -> None:
    """Same pairs, scores within 1e-9 (they are in fact bit-identical)."""
    assert [(q, r) for q, r, _ in got] == [(q, r) for q, r, _ in ref]
    assert np.allclose([s for *_, s in got], [s for *_, s in ref], rtol=0, atol=1e-9)


@pytest.mark.parametrize("threshold", [0.5, 0.6, 2 / 3, 0.75, 0.8, 0.9, 1.0])
def test_realistic_matches_anonlink(kernel_path: str, threshold: float) -> None:
    a, b, _ = linked_pair(700, seed=11)
    b = np.concatenate([b, a[:5]])  # exact copies, so that threshold 1.0 finds pairs too
    ref = anonlink_pairs(a, b, threshold)
    got = ours(find_candidates(a, b, threshold))
    assert len(ref) >= 5, "the data must give pairs at every threshold"
    assert_same(got, ref)


@pytest.mark.parametrize("threshold", [0.3, 0.45, 0.8])
def test_random_matches_anonlink(kernel_path: str, threshold: float) -> None:
    a = np.concatenate([random_clks(300, density=d, seed=i) for i, d in enumerate((0.1, 0.3, 0.5))])
    b = np.concatenate([random_clks(250, density=d, seed=9 + i) for i, d in enumerate((0.2, 0.4))])
    got = ours(find_candidates(a, b, threshold))
    assert_same(got, anonlink_pairs(a, b, threshold))
    if threshold < 0.5:
        assert got, "test should exercise some candidates"


def test_scores_are_bit_identical_to_anonlink() -> None:
    a, b, _ = linked_pair(400, seed=3)
    ref = anonlink_pairs(a, b, 0.5)
    got = ours(find_candidates(a, b, 0.5))
    assert got == ref


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.sampled_from([0.5, 0.6, 2 / 3, 0.7, 0.75, 0.8, 5 / 6, 0.9, 1.0]),
    st.integers(1, 3),
)
def test_threshold_boundary_small_filters(seed: int, threshold: float, words: int) -> None:
    """Narrow filters make exact-threshold scores common; membership must match anonlink."""
    rng = np.random.default_rng(seed)
    base = random_clks(20, bits=64 * words, density=0.3, seed=seed)
    flips = rng.random((40, 64 * words)) < 0.05
    bits = np.unpackbits(base[rng.integers(0, 20, 40)].view(np.uint8), axis=1, bitorder="little")
    other = np.packbits(bits ^ flips, axis=1, bitorder="little").view("<u8")
    for path in PATHS:
        select_kernel(path)
        assert_same(
            ours(find_candidates(base, other, threshold)), anonlink_pairs(base, other, threshold)
        )
    select_kernel("auto")


def test_threshold_zero_includes_empty_filters(kernel_path: str) -> None:
    a = random_clks(30, bits=128, density=0.2, seed=1)
    a[3] = 0
    b = random_clks(20, bits=128, density=0.2, seed=2)
    b[5] = 0
    got = ours(find_candidates(a, b, 0.0))
    assert len(got) == 30 * 20
    assert_same(got, anonlink_pairs(a, b, 0.0))


def test_threshold_above_one_is_empty() -> None:
    a, b, _ = linked_pair(50, seed=1)
    assert find_candidates(a, b, 1.01).q.size == 0


@pytest.mark.parametrize("words", [1, 3, 8, 16, 17, 32])
def test_all_paths_agree_on_any_width(words: int) -> None:
    a, _ = realistic_clks(150, bits=64 * words, seed=words, k=max(1, words))
    b = np.concatenate([a[:60] ^ random_clks(60, bits=64 * words, density=0.02, seed=7), a[60:]])
    results = []
    for path in PATHS:
        select_kernel(path)
        results.append(ours(find_candidates(a, b, 0.6)))
    select_kernel("auto")
    assert all(r == results[0] for r in results)
    assert_same(results[0], anonlink_pairs(a, b, 0.6))


def test_chunking_and_resume(monkeypatch: pytest.MonkeyPatch, kernel_path: str) -> None:
    """Tiny output buffers force the kernel to stop and resume mid-query."""
    a, b, _ = linked_pair(300, seed=4)
    ref = ours(find_candidates(a, b, 0.4))
    monkeypatch.setattr(search_mod, "DEFAULT_BUFFER", 8)
    chunks = list(iter_candidates(a, b, 0.4, chunk_queries=7, workers=2))
    assert len(chunks) > 1
    merged = search_mod.concat_candidates(chunks)
    assert ours(merged) == ref


def test_find_candidates_is_sorted_like_anonlink() -> None:
    a, b, _ = linked_pair(300, seed=8)
    c = find_candidates(a, b, 0.5)
    sims, _, (r0, r1) = find_candidate_pairs(
        [to_bitarrays(a), to_bitarrays(b)], dice_coefficient_accelerated, 0.5
    )
    assert c.q.tolist() == list(r0) and c.r.tolist() == list(r1)
    assert c.score.tolist() == list(sims)


@pytest.mark.parametrize("k", [1, 2, 5])
def test_top_k_matches_anonlink(kernel_path: str, k: int) -> None:
    a, b, _ = linked_pair(300, seed=21)
    threshold = 0.45
    c = find_candidates(a, b, threshold, top_k=k)
    sims, (i0, i1) = dice_coefficient_accelerated([to_bitarrays(a), to_bitarrays(b)], threshold, k)
    ref: dict[int, list[tuple[float, int]]] = {}
    for s, i, j in zip(sims, i0, i1, strict=True):
        ref.setdefault(i, []).append((s, j))
    got: dict[int, list[tuple[float, int]]] = {}
    for s, i, j in zip(c.score.tolist(), c.q.tolist(), c.r.tolist(), strict=True):
        got.setdefault(i, []).append((s, j))
    assert got.keys() == ref.keys()
    for i in ref:
        assert sorted(s for s, _ in got[i]) == sorted(s for s, _ in ref[i])
        assert len(got[i]) <= k
        kth = min(s for s, _ in ref[i])
        # pairs strictly above the k-th score are not subject to tie-breaking
        assert {p for p in got[i] if p[0] > kth} == {p for p in ref[i] if p[0] > kth}


def test_top_k_ties_prefer_lower_ref_index() -> None:
    a = random_clks(1, bits=128, density=0.4, seed=2)
    b = np.repeat(a, 5, axis=0)
    c = find_candidates(a, b, 0.5, top_k=2)
    assert c.r.tolist() == [0, 1]


def test_dedupe_matches_anonlink_upper_triangle(kernel_path: str) -> None:
    a, b, _ = linked_pair(250, seed=5)
    x = np.concatenate([a, b])
    ref = [(i, j, s) for i, j, s in anonlink_pairs(x, x, 0.5) if i < j]
    got = ours(find_candidates(x, None, 0.5, dedupe=True))
    assert_same(got, ref)


def test_dedupe_rejects_other_refs_and_top_k() -> None:
    a, b, _ = linked_pair(20, seed=5)
    with pytest.raises(ValueError):
        find_candidates(a, b, 0.5, dedupe=True)
    with pytest.raises(ValueError):
        find_candidates(a, None, 0.5, dedupe=True, top_k=1)


def test_dice_pairs_matches_definition(kernel_path: str) -> None:
    a, b, _ = linked_pair(500, seed=9)
    a[0] = 0
    b[0] = 0
    a[1] = 0
    got = dice_pairs(a, b, chunk_rows=64)
    ba, bb = to_bitarrays(a), to_bitarrays(b)
    exp = [
        0.0 if x.count() + y.count() == 0 else 2 * (x & y).count() / (x.count() + y.count())
        for x, y in zip(ba, bb, strict=True)
    ]
    assert got.tolist() == exp
    assert got[0] == 0.0 and got[1] == 0.0


def test_accepts_bytes_rows() -> None:
    a, b, _ = linked_pair(50, seed=2)
    rows_a = [r.tobytes() for r in a]
    rows_b = [r.tobytes() for r in b]
    assert ours(find_candidates(rows_a, rows_b, 0.6)) == ours(find_candidates(a, b, 0.6))


def test_width_mismatch_and_bad_args() -> None:
    a = random_clks(4, bits=128, seed=1)
    b = random_clks(4, bits=192, seed=1)
    with pytest.raises(ValueError):
        find_candidates(a, b, 0.5)
    with pytest.raises(ValueError):
        find_candidates(a, a, 0.5, top_k=0)
    with pytest.raises(ValueError):
        find_candidates(a, a, float("nan"))


def test_kernel_info_and_env_override() -> None:
    assert kernel_info() in PATHS
    env = dict(os.environ, PPRL_KERNEL="portable")
    out = subprocess.run(
        [sys.executable, "-c", "import pprl.compare as c; print(c.kernel_info())"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "portable"


def test_unknown_kernel_name() -> None:
    with pytest.raises(ValueError):
        select_kernel("sse9")


@pytest.mark.parametrize("mode", ["all", "top_k", "dedupe"])
def test_cache_tiles_do_not_change_results(monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    """Splitting the refs into many tiles (and merging top-k across them) is invisible."""
    a, b, _ = linked_pair(400, seed=13)
    kwargs = {"top_k": 3} if mode == "top_k" else {}
    refs = None if mode == "dedupe" else b
    if mode == "dedupe":
        kwargs = {"dedupe": True}
    ref = ours(find_candidates(a, refs, 0.45, **kwargs))
    monkeypatch.setattr(search_mod, "TILE_REFS", 40)
    assert ours(find_candidates(a, refs, 0.45, **kwargs)) == ref
    assert ref


def test_dice_indexed_equals_gathered_dice_pairs() -> None:
    from pprl.compare import dice_indexed

    rng = np.random.default_rng(3)
    a, b = random_clks(300, seed=1), random_clks(200, seed=2)
    ia, ib = rng.integers(0, 300, 1000), rng.integers(0, 200, 1000)
    np.testing.assert_allclose(
        dice_indexed(a, b, ia, ib), dice_pairs(a[ia], b[ib]), rtol=0, atol=1e-12
    )
    with pytest.raises(ValueError):
        dice_indexed(a, b, ia, ib[:5])
