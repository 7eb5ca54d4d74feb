"""Greedy 1:1 solving equals anonlink; multi-party grouping."""

from __future__ import annotations

from array import array

import numpy as np
import pytest
from anonlink.solving import greedy_solve as anonlink_greedy
from anonlink.solving import pairs_from_groups
from hypothesis import given, settings
from hypothesis import strategies as st

from pprl import solve
from pprl.compare import find_candidates
from pprl.compare.synthetic import linked_pair


def anonlink_matches(q: np.ndarray, r: np.ndarray, s: np.ndarray) -> list[tuple[int, int]]:
    """anonlink's greedy matches, fed in anonlink's candidate order."""
    order = np.lexsort((r, q, -s))
    q, r, s = q[order], r[order], s[order]
    cands = (
        array("d", s.tolist()),
        (array("I", [0] * len(q)), array("I", [1] * len(q))),
        (array("I", q.tolist()), array("I", r.tolist())),
    )
    return sorted(pairs_from_groups(anonlink_greedy(cands)))


def random_candidates(seed: int, n: int, nq: int, nr: int, levels: int) -> tuple[np.ndarray, ...]:
    """Unique random pairs with coarse scores (many ties)."""
    rng = np.random.default_rng(seed)
    q, r = rng.integers(0, nq, n), rng.integers(0, nr, n)
    _, u = np.unique(q * nr + r, return_index=True)
    q, r = q[u], r[u]
    s = rng.integers(0, levels, q.size) / levels
    perm = rng.permutation(q.size)
    return q[perm], r[perm], s[perm]


@settings(max_examples=150, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.integers(1, 80),
    st.integers(1, 20),
    st.integers(1, 20),
    st.integers(1, 6),
)
def test_greedy_equals_anonlink(seed: int, n: int, nq: int, nr: int, levels: int) -> None:
    q, r, s = random_candidates(seed, n, nq, nr, levels)
    mq, mr, _ = solve.greedy_solve(q, r, s)
    assert sorted(zip(mq.tolist(), mr.tolist(), strict=True)) == anonlink_matches(q, r, s)


def test_greedy_sequential_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    """With one round the rest goes through the sorted sequential scan: same answer."""
    q, r, s = random_candidates(3, 3000, 300, 300, 7)
    ref = anonlink_matches(q, r, s)
    monkeypatch.setattr(solve, "MAX_ROUNDS", 1)
    mq, mr, _ = solve.greedy_solve(q, r, s)
    assert sorted(zip(mq.tolist(), mr.tolist(), strict=True)) == ref


def test_greedy_long_chain() -> None:
    """q_i-r_i and r_i-q_{i+1} with increasing scores: a worst case for rounds."""
    n = 500
    q = np.concatenate([np.arange(n), np.arange(1, n)])
    r = np.concatenate([np.arange(n), np.arange(n - 1)])
    s = np.concatenate([np.arange(n) * 2.0, np.arange(n - 1) * 2.0 + 1]) / (4 * n)
    mq, mr, _ = solve.greedy_solve(q, r, s)
    assert sorted(zip(mq.tolist(), mr.tolist(), strict=True)) == anonlink_matches(q, r, s)


def test_greedy_output_sorted_and_one_to_one() -> None:
    a, b, truth = linked_pair(400, seed=2)
    c = find_candidates(a, b, 0.6)
    mq, mr, ms = solve.greedy_solve(c.q, c.r, c.score)
    assert len(set(mq.tolist())) == mq.size and len(set(mr.tolist())) == mr.size
    assert np.all(np.diff(ms) <= 0)
    linked = np.flatnonzero(truth >= 0)
    found = dict(zip(mr.tolist(), mq.tolist(), strict=True))
    recall = np.mean([found.get(j) == truth[j] for j in linked])
    assert recall > 0.95


def test_greedy_duplicates_and_empty() -> None:
    q, r, s = solve.greedy_solve([0, 0, 1], [0, 0, 0], [0.9, 0.9, 0.95])
    assert q.tolist() == [1] and r.tolist() == [0] and s.tolist() == [0.95]
    q, r, s = solve.greedy_solve([], [], [])
    assert q.size == r.size == s.size == 0


def test_greedy_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        solve.greedy_solve([0], [0], [float("nan")])
    with pytest.raises(ValueError):
        solve.greedy_solve([0, 1], [0], [0.5])
    with pytest.raises(ValueError):
        solve.greedy_solve([-1], [0], [0.5])


def test_groups_three_files() -> None:
    links = [
        (0, 1, np.array([0, 2]), np.array([1, 0])),
        (1, 2, np.array([1]), np.array([3])),
        (0, 2, np.array([4]), np.array([0])),
    ]
    got = solve.groups(links, sizes=[5, 2, 4])
    assert got == [[(0, 0), (1, 1), (2, 3)], [(0, 2), (1, 0)], [(0, 4), (2, 0)]]


def test_groups_no_links() -> None:
    assert solve.groups([], sizes=[3, 3]) == []
