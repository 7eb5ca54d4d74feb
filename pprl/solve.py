"""Turn candidate pairs into decisions: greedy 1:1 matching and multi-party groups.

:func:`greedy_solve` reproduces ``anonlink.solving.greedy_solve`` on two files:
pairs are taken in order of decreasing score (ties: lower query index, then
lower reference index -- the order anonlink's candidate generation emits), and a
pair is accepted when neither record is already matched.  It runs in C without
a global sort: each round accepts every "locally dominant" pair (the best pair
of both its records), which is exactly what the sequential algorithm would
accept; rare long chains finish with a sorted sequential scan.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pprl.compare.backend import get_backend

MAX_ROUNDS = 64


def _as_arrays(
    q: Sequence[int] | np.ndarray,
    r: Sequence[int] | np.ndarray,
    score: Sequence[float] | np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate and convert candidate arrays to contiguous int64/int64/float64."""
    qa = np.ascontiguousarray(q, dtype=np.int64)
    ra = np.ascontiguousarray(r, dtype=np.int64)
    sa = np.ascontiguousarray(score, dtype=np.float64)
    if not (qa.ndim == ra.ndim == sa.ndim == 1 and qa.shape == ra.shape == sa.shape):
        raise ValueError("q, r and score must be 1-D arrays of equal length")
    if np.isnan(sa).any():
        raise ValueError("scores must not be NaN")
    if qa.size and min(qa.min(), ra.min()) < 0:
        raise ValueError("record indices must be non-negative")
    return qa, ra, sa


def greedy_mask(
    q: Sequence[int] | np.ndarray,
    r: Sequence[int] | np.ndarray,
    score: Sequence[float] | np.ndarray,
) -> np.ndarray:
    """Boolean mask of the candidate pairs greedy 1:1 matching accepts.

    If a pair appears more than once, only its first occurrence is marked.
    """
    return _greedy_mask(*_as_arrays(q, r, score))


def _greedy_mask(qa: np.ndarray, ra: np.ndarray, sa: np.ndarray) -> np.ndarray:
    """greedy_mask on validated arrays, on the active backend (C, or the numpy fallback)."""
    if qa.size == 0:
        return np.zeros(0, dtype=bool)
    return get_backend().greedy_mask(qa, ra, sa, int(qa.max()) + 1, int(ra.max()) + 1, MAX_ROUNDS)


def greedy_solve(
    q: Sequence[int] | np.ndarray,
    r: Sequence[int] | np.ndarray,
    score: Sequence[float] | np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Greedy 1:1 matching of candidate pairs, like ``anonlink.solving.greedy_solve``.

    Input order does not matter.  Returns the accepted ``(q, r, score)`` sorted
    by score descending, then q, then r.
    """
    qa, ra, sa = _as_arrays(q, r, score)
    keep = _greedy_mask(qa, ra, sa)
    idx = np.flatnonzero(keep)
    if idx.size == 0:
        return qa[idx], ra[idx], sa[idx]
    # matched q are unique: bucket by q (cheap), then a stable sort by score only
    by_q = np.full(int(qa[idx].max()) + 1, -1, dtype=np.int64)
    by_q[qa[idx]] = idx
    idx = by_q[by_q >= 0]
    idx = idx[np.argsort(-sa[idx], kind="stable")]
    return qa[idx], ra[idx], sa[idx]


def _find(parent: np.ndarray) -> np.ndarray:
    """Resolve every node to its root by pointer jumping (vectorised)."""
    while True:
        grand = parent[parent]
        if np.array_equal(grand, parent):
            return parent
        parent = grand


def _union_all(parent: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Union the node pairs (a[i], b[i]) into ``parent`` (min-label propagation)."""
    while True:
        parent = _find(parent)
        ra, rb = parent[a], parent[b]
        differ = ra != rb
        if not differ.any():
            return parent
        lo, hi = np.minimum(ra[differ], rb[differ]), np.maximum(ra[differ], rb[differ])
        np.minimum.at(parent, hi, lo)


def groups(
    links: Sequence[tuple[int, int, np.ndarray, np.ndarray]],
    sizes: Sequence[int],
) -> list[list[tuple[int, int]]]:
    """Group records of several files into entities from pairwise 1:1 links.

    ``links`` holds ``(file_a, file_b, idx_a, idx_b)`` tuples (e.g. the greedy
    matches of each file pair), ``sizes`` the number of records per file.  Linked
    records are joined transitively (union-find); returns the groups with more
    than one record, each a sorted list of ``(file, record)``, groups ordered by
    their first member.  Transitive joining may put two records of the same file
    in one group; callers that need a strict one-per-file result should check.
    """
    offsets = np.concatenate([[0], np.cumsum(np.asarray(sizes, dtype=np.int64))])
    parent = np.arange(int(offsets[-1]), dtype=np.int64)
    if links:
        a = np.concatenate([offsets[fa] + np.asarray(ia, np.int64) for fa, _, ia, _ in links])
        b = np.concatenate([offsets[fb] + np.asarray(ib, np.int64) for _, fb, _, ib in links])
        parent = _union_all(parent, a, b)
    roots = _find(parent)
    counts = np.bincount(roots, minlength=roots.shape[0])
    members = np.flatnonzero(counts[roots] > 1)
    file_of = np.searchsorted(offsets, members, side="right") - 1
    result: dict[int, list[tuple[int, int]]] = {}
    for node, f in zip(members.tolist(), file_of.tolist(), strict=True):
        result.setdefault(int(roots[node]), []).append((f, node - int(offsets[f])))
    return [sorted(g) for _, g in sorted(result.items())]
