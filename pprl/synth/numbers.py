"""Synthetic My Numbers: unique valid numbers, transposition neighbours, invalid typos."""

from __future__ import annotations

import numpy as np

from pprl.mynumber import WEIGHTS, check_digits

PAYLOAD_SPACE = 10**11
_POW = 10 ** np.arange(11, -1, -1, dtype=np.int64)


def to_digits(numbers: np.ndarray) -> np.ndarray:
    """(n,) int64 12-digit numbers -> (n, 12) int8 digit matrix, most significant first."""
    return ((numbers[:, None] // _POW) % 10).astype(np.int8)


def from_digits(digits: np.ndarray) -> np.ndarray:
    """(n, 12) digit matrix -> (n,) int64 numbers."""
    return digits.astype(np.int64) @ _POW


def with_check_digit(payloads: np.ndarray) -> np.ndarray:
    """Append the check digit to (n,) int64 11-digit payloads (digit loop, no (n, 11) matrix)."""
    total = np.zeros(len(payloads), dtype=np.int64)
    rest = payloads.astype(np.int64)
    for w in WEIGHTS[::-1]:  # least significant payload digit has the last weight
        total += (rest % 10) * int(w)
        rest = rest // 10
    remainder = total % 11
    return payloads * 10 + np.where(remainder <= 1, 0, 11 - remainder)


def member(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """Vectorized membership test against a sorted array (faster than ``np.isin``)."""
    if not len(sorted_set):
        return np.zeros(len(values), dtype=bool)
    idx = np.minimum(np.searchsorted(sorted_set, values), len(sorted_set) - 1)
    return np.asarray(sorted_set[idx] == values)


def unique_numbers(
    rng: np.random.Generator, n: int, exclude: np.ndarray | None = None, presorted: bool = False
) -> np.ndarray:
    """``n`` distinct valid numbers in random order, none in ``exclude``.

    Collisions in a space of 10^11 are rare, so we draw all at once, find duplicates
    with one sort and redraw only those positions.
    """
    if exclude is None:
        taken = np.empty(0, dtype=np.int64)
    else:
        taken = exclude if presorted else np.sort(exclude)
    out = with_check_digit(rng.integers(0, PAYLOAD_SPACE, n))
    redo = member(out, taken)
    while True:
        s = np.sort(out)
        dup_values = s[1:][s[1:] == s[:-1]]
        if len(dup_values):
            is_dup = member(out, np.unique(dup_values))
            first = np.zeros(n, dtype=bool)  # keep one occurrence of each duplicated value
            _, keep_idx = np.unique(out[is_dup], return_index=True)
            first[np.flatnonzero(is_dup)[keep_idx]] = True
            redo |= is_dup & ~first
        if not redo.any():
            return out
        k = int(redo.sum())
        out[redo] = with_check_digit(rng.integers(0, PAYLOAD_SPACE, k))
        redo = member(out, taken)


def transposition_partner(numbers: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For each number, a valid number that differs by one adjacent-digit swap, else -1.

    A swap of unequal adjacent digits keeps the check digit valid only in a minority
    of positions, so we test all 11 positions vectorized and pick a random valid one.
    """
    d = to_digits(numbers)
    n = len(numbers)
    valid = np.zeros((n, 11), dtype=bool)
    for i in range(11):
        s = d.copy()
        s[:, [i, i + 1]] = s[:, [i + 1, i]]
        valid[:, i] = (d[:, i] != d[:, i + 1]) & (check_digits(s[:, :11]) == s[:, 11])
    score = np.where(valid, rng.random((n, 11)), -1.0)
    pos = score.argmax(axis=1)
    s = d.copy()
    rows = np.arange(n)
    s[rows, pos], s[rows, pos + 1] = d[rows, pos + 1], d[rows, pos]
    return np.where(valid.any(axis=1), from_digits(s), -1)


def transposition_pairs(rng: np.random.Generator, n_pairs: int, exclude: np.ndarray) -> np.ndarray:
    """(n_pairs, 2) distinct valid numbers that are adjacent-swap neighbours of each other."""
    taken = np.sort(exclude)
    pairs = np.empty((0, 2), dtype=np.int64)
    while len(pairs) < n_pairs:
        a = unique_numbers(rng, 8 * (n_pairs - len(pairs)) + 64, taken, presorted=True)
        b = transposition_partner(a, rng)
        ok = (b >= 0) & ~member(b, taken)
        new = np.concatenate([pairs, np.stack([a[ok], b[ok]], axis=1)])
        flat = new.ravel()
        _, counts = np.unique(flat, return_counts=True)
        if counts.max(initial=1) > 1:  # a number used twice: keep the first pair only
            seen: set[int] = set()
            keep = []
            for x, y in new.tolist():
                keep.append(x not in seen and y not in seen)
                seen.update((x, y))
            new = new[np.asarray(keep)]
        pairs = new
    return pairs[:n_pairs]


def invalid_variants(numbers: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A one-digit typo of each number that fails the check digit."""
    d = to_digits(numbers)
    rows = np.arange(len(numbers))
    pos = rng.integers(0, 12, len(numbers))
    d[rows, pos] = (d[rows, pos] + rng.integers(1, 10, len(numbers))) % 10
    still = check_digits(d[:, :11]) == d[:, 11]
    d[still, 11] = (d[still, 11] + rng.integers(1, 10, int(still.sum()))) % 10
    return from_digits(d)
