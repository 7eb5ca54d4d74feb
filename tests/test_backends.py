"""Every compare backend (each C kernel path and the numpy fallback) gives the same
results as a pure-Python reference: candidates, top-k, keyed top-k, Dice, greedy 1:1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pprl import solve
from pprl.compare import (
    Backend,
    BlockKeyPair,
    CpuBackend,
    NumpyBackend,
    available_kernels,
    dice_indexed,
    dice_pairs,
    find_candidates,
    get_backend,
    kernel_info,
    select_kernel,
)
from pprl.compare.keyed import block_pair_count, topk_by_block_keys
from pprl.compare.synthetic import linked_pair

PATHS = available_kernels()


@pytest.fixture(params=PATHS)
def path(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run a test on every kernel path, numpy fallback included; restore the best after."""
    select_kernel(request.param)
    yield request.param
    select_kernel("auto")


def popc(x: np.ndarray) -> int:
    return sum(int(w).bit_count() for w in x.tolist())


def py_dice(x: np.ndarray, y: np.ndarray) -> float:
    """Dice as the kernels define it (same double operations)."""
    den = popc(x) + popc(y)
    return (2.0 * float(popc(x & y))) / float(den) if den else 0.0


def py_candidates(a: np.ndarray, b: np.ndarray, t: float) -> list[tuple[int, int, float]]:
    return sorted(
        (i, j, s) for i in range(len(a)) for j in range(len(b)) if (s := py_dice(a[i], b[j])) >= t
    )


def py_topk(a: np.ndarray, b: np.ndarray, t: float, k: int) -> dict[int, list[tuple[int, float]]]:
    """Each query's k best refs: score desc, then lower ref index."""
    out: dict[int, list[tuple[int, float]]] = {}
    for i, j, s in py_candidates(a, b, t):
        out.setdefault(i, []).append((j, s))
    return {i: sorted(v, key=lambda p: (-p[1], p[0]))[:k] for i, v in out.items()}


def clk_sets(draw: st.DrawFn, n: int, words: int) -> np.ndarray:
    """n filters of `words` words from few distinct bit patterns, so near and exact
    duplicates (and exact-threshold scores) are common; empty filters included."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 2**63, (3, words), dtype=np.int64).view(np.uint64)
    density = draw(st.sampled_from([0.0, 0.1, 0.4, 0.7]))
    noise = rng.random((n, words * 64)) < density
    x = base[rng.integers(0, 3, n)] & np.packbits(noise, axis=1, bitorder="little").view("<u8")
    x[rng.random(n) < 0.3] = base[0]
    return np.ascontiguousarray(x)


@st.composite
def two_files(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    words = draw(st.sampled_from([1, 2, 3, 16]))
    return (
        clk_sets(draw, draw(st.integers(1, 14)), words),
        clk_sets(draw, draw(st.integers(1, 14)), words),
    )


THRESHOLDS = st.sampled_from([0.0, 0.3, 0.5, 2 / 3, 0.75, 0.8, 1.0])


@settings(max_examples=40, deadline=None)
@given(two_files(), THRESHOLDS)
def test_candidates_equal_python_reference_on_every_path(files, t: float) -> None:
    a, b = files
    want = py_candidates(a, b, t)
    for p in PATHS:
        select_kernel(p)
        c = find_candidates(a, b, t)
        got = sorted(zip(c.q.tolist(), c.r.tolist(), c.score.tolist(), strict=True))
        assert got == want, p  # same pairs, bit-identical scores
    select_kernel("auto")


@settings(max_examples=30, deadline=None)
@given(two_files(), st.sampled_from([0.0, 0.5, 0.8]), st.integers(1, 3))
def test_top_k_equals_python_reference_on_every_path(files, t: float, k: int) -> None:
    a, b = files
    want = py_topk(a, b, t, k)
    for p in PATHS:
        select_kernel(p)
        c = find_candidates(a, b, t, top_k=k)
        got: dict[int, list[tuple[int, float]]] = {}
        for i, j, s in zip(c.q.tolist(), c.r.tolist(), c.score.tolist(), strict=True):
            got.setdefault(i, []).append((j, s))
        assert {i: sorted(v, key=lambda x: (-x[1], x[0])) for i, v in got.items()} == want, p
    select_kernel("auto")


@settings(max_examples=25, deadline=None)
@given(two_files(), st.sampled_from([0.0, 0.5, 0.8]))
def test_dedupe_equals_python_reference_on_every_path(files, t: float) -> None:
    a = np.concatenate(files) if files[0].shape[1] == files[1].shape[1] else files[0]
    want = [(i, j, s) for i, j, s in py_candidates(a, a, t) if i < j]
    for p in PATHS:
        select_kernel(p)
        c = find_candidates(a, None, t, dedupe=True)
        assert sorted(zip(c.q.tolist(), c.r.tolist(), c.score.tolist(), strict=True)) == want, p
    select_kernel("auto")


@st.composite
def keyed_case(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, list, np.ndarray]:
    a, b = draw(two_files())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    keys = []
    for _ in range(draw(st.integers(1, 3))):
        vals = draw(st.integers(1, 4))
        keys.append(
            BlockKeyPair(
                rng.integers(0, vals, len(a)),
                rng.random(len(a)) < 0.8,
                rng.integers(0, vals, len(b)),
                rng.random(len(b)) < 0.8,
            )
        )
    exclude = rng.integers(-1, len(b), len(a))
    return a, b, keys, exclude


def py_keyed_topk(a, b, keys, exclude, t: float, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The documented rule, step by step: keys in order, refs of a key in index order;
    a ref enters the k best (kept by score desc, then index) only above the k-th score."""
    out_r = np.full((len(a), k), -1, np.int64)
    out_s = np.full((len(a), k), -1.0)
    for i in range(len(a)):
        kept: list[tuple[int, float]] = []
        for qv, qok, rv, rok in keys:
            for j in range(len(b)):
                if not (qok[i] and rok[j] and qv[i] == rv[j]) or j == exclude[i]:
                    continue
                if popc(a[i]) + popc(b[j]) == 0 or any(j == x for x, _ in kept):
                    continue
                s = py_dice(a[i], b[j])
                if s < t or (len(kept) == k and s <= kept[-1][1]):
                    continue
                kept = sorted([*kept, (j, s)], key=lambda p: (-p[1], p[0]))[:k]
        for m, (j, s) in enumerate(kept):
            out_r[i, m], out_s[i, m] = j, s
    return out_r, out_s


def test_keyed_tie_rule_examples() -> None:
    """One key: the k best by (score desc, index asc); k=1 over keys: the first key's record."""
    a = np.array([[0b1111]], np.uint64)
    b = np.array([[0b1111], [0b1111], [0b1111]], np.uint64)
    one = [BlockKeyPair(np.array([1]), np.array([True]), np.array([1, 1, 1]), np.array([True] * 3))]
    first_key_has_2 = [
        BlockKeyPair(np.array([1]), np.array([True]), np.array([0, 0, 1]), np.array([True] * 3)),
        BlockKeyPair(np.array([1]), np.array([True]), np.array([1, 1, 0]), np.array([True] * 3)),
    ]
    for device in ("cpu", "numpy"):
        assert topk_by_block_keys(a, b, one, k=2, device=device)[0].tolist() == [[0, 1]]
        assert topk_by_block_keys(a, b, first_key_has_2, k=1, device=device)[0].tolist() == [[2]]


@settings(max_examples=40, deadline=None)
@given(keyed_case(), st.sampled_from([0.0, 0.5, 0.8]), st.integers(1, 3))
def test_topk_by_block_keys_equals_python_reference(case, t: float, k: int) -> None:
    a, b, keys, exclude = case
    want_r, want_s = py_keyed_topk(a, b, keys, exclude, t, k)
    for device in ("cpu", "numpy"):
        got_r, got_s = topk_by_block_keys(
            a, b, keys, k=k, threshold=t, exclude=exclude, device=device
        )
        assert got_r.tolist() == want_r.tolist(), device
        assert got_s.tolist() == want_s.tolist(), device
    # plain 4-tuples are accepted as well
    tuples = [tuple(key) for key in keys]
    got_r, _ = topk_by_block_keys(a, b, tuples, k=k, threshold=t, exclude=exclude, device="numpy")
    assert got_r.tolist() == want_r.tolist()
    assert block_pair_count(keys) == block_pair_count(tuples)


def test_backends_satisfy_the_protocol() -> None:
    assert isinstance(get_backend("numpy"), Backend)
    assert isinstance(get_backend("numpy"), NumpyBackend)
    if "portable" in PATHS:
        assert isinstance(CpuBackend(), Backend)
    with pytest.raises(ValueError):
        get_backend("tpu")


def test_dice_on_every_path(path: str) -> None:
    a, b, _ = linked_pair(300, seed=4)
    a[0] = b[0] = 0
    want = [py_dice(x, y) for x, y in zip(a, b, strict=True)]
    assert dice_pairs(a, b, chunk_rows=50).tolist() == want
    rng = np.random.default_rng(1)
    ia, ib = rng.integers(0, 300, 500), rng.integers(0, 300, 500)
    assert dice_indexed(a, b, ia, ib).tolist() == [
        py_dice(a[i], b[j]) for i, j in zip(ia, ib, strict=True)
    ]
    with pytest.raises(IndexError):
        dice_indexed(a, b, np.array([0, 300]), np.array([0, 0]))
    with pytest.raises(IndexError):
        dice_indexed(a, b, np.array([-1]), np.array([0]))


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 300))
def test_greedy_on_every_path(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    q, r = rng.integers(0, 40, n), rng.integers(0, 40, n)
    s = rng.integers(0, 5, n) / 4.0  # many ties
    masks = []
    for p in PATHS:
        select_kernel(p)
        masks.append(solve.greedy_mask(q, r, s).tolist())
    select_kernel("auto")
    assert all(m == masks[0] for m in masks)


def test_select_kernel_numpy_and_back() -> None:
    assert select_kernel("numpy") == "numpy"
    assert kernel_info() == "numpy"
    assert isinstance(get_backend(), NumpyBackend)
    best = select_kernel("auto")
    assert kernel_info() == best
    assert best == PATHS[-1]


_FALLBACK = """
import json, sys
sys.modules["pprl.compare._kernel"] = None  # the extension cannot be imported
import numpy as np
import pprl.compare as c
from pprl import solve
from pprl.compare.keyed import topk_by_block_keys
from pprl.compare.synthetic import linked_pair
a, b, _ = linked_pair(200, seed=3)
f = c.find_candidates(a, b, 0.6)
keys = [(np.arange(200) % 7, np.ones(200, bool), np.arange(200) % 7, np.ones(200, bool))]
kr, ks = topk_by_block_keys(a, b, keys, k=2, threshold=0.3)
m = solve.greedy_mask(f.q, f.r, f.score)
try:
    c.select_kernel("avx2")
    refused = False
except RuntimeError:
    refused = True
print(json.dumps({"info": c.kernel_info(), "paths": list(c.available_kernels()),
                  "cand": [f.q.tolist(), f.r.tolist(), f.score.tolist()],
                  "keyed": [kr.tolist(), ks.tolist()], "greedy": m.tolist(), "refused": refused}))
"""


def _run(code: str, **env: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=dict(os.environ, **env),
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_numpy_fallback_when_extension_cannot_load() -> None:
    """Without the extension the package imports, runs on numpy, and agrees with C."""
    fallback = _run(_FALLBACK)
    assert fallback["info"] == "numpy" and fallback["paths"] == ["numpy"]
    assert fallback["refused"]
    native = _run(_FALLBACK.replace('sys.modules["pprl.compare._kernel"] = None', ""))
    assert native["info"] != "numpy"
    assert len(native["cand"][0]) > 0
    for key in ("cand", "keyed", "greedy"):
        assert fallback[key] == native[key], key


def test_env_selects_numpy() -> None:
    code = "import pprl.compare as c; print(c.kernel_info())"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=dict(os.environ, PPRL_KERNEL="numpy"),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert out.stdout.strip() == "numpy"
