"""Step 5: cross-check records against each other.

* one number claimed by different people (``number_shared_by_different_people``);
* one person claimed under several numbers (``person_under_several_numbers``);
* an alternative that another record claims (``alternative_claimed_by_other_record``).

The claim-to-claim comparisons are made where the CLKs are (:func:`shared_number_pairs`
in the join's partitions, the nearest other claim in the search's);
:func:`apply_cross_checks` needs only their per-claim results.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pprl.compare import dice_indexed
from pprl.verify.decide import ClaimsResult, reason_bit
from pprl.verify.model import CROSS_CHECK_REASONS, Reason, Status, Thresholds

__all__ = ["apply_cross_checks", "pairs_within_groups", "shared_number_pairs"]


def pairs_within_groups(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All index pairs (i, j) of equal keys, i before j in file order; groups are small."""
    order = np.argsort(keys, kind="stable")
    sk = keys[order]
    starts = np.flatnonzero(np.r_[True, sk[1:] != sk[:-1]])
    sizes = np.diff(np.r_[starts, len(sk)])
    a_list, b_list = [], []
    for size in np.unique(sizes[sizes > 1]):
        s = starts[sizes == size]
        ii, jj = np.triu_indices(int(size), 1)
        a_list.append(order[(s[:, None] + ii[None, :]).ravel()])
        b_list.append(order[(s[:, None] + jj[None, :]).ravel()])
    if not a_list:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(a_list), np.concatenate(b_list)


def shared_number_pairs(
    clks: np.ndarray, number: np.ndarray, different_people: float
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (i, j) of claims with the same number (equal ``number`` ids, -1 none) whose
    CLKs score below ``different_people``: one number used for two people."""
    valid = np.flatnonzero(number >= 0)
    a, b = pairs_within_groups(number[valid])
    a, b = valid[a], valid[b]
    if len(a):
        differ = dice_indexed(clks, clks, a, b) < different_people
        a, b = a[differ], b[differ]
    return a, b


def apply_cross_checks(
    results: Sequence[ClaimsResult],
    th: Thresholds,
    number: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    near: np.ndarray | None,
) -> dict[str, int]:
    """Set the cross-check reasons; return how many records got each one.

    All arrays index the claims files concatenated in order: ``number`` identifies each
    claim's number (equal ids, equal pseudonyms; -1 none), ``a``, ``b`` are the pairs of
    :func:`shared_number_pairs`, ``near`` each claim's most similar other claim (-1 none;
    None when no block key is shared). A confirmed claim that is the weaker of two
    conflicting records goes to review (one of the two links must be wrong).
    """
    score = np.nan_to_num(np.concatenate([r.score for r in results]), nan=-1.0)
    flags = np.zeros(len(number), dtype=np.uint16)
    escalate = np.zeros(len(number), dtype=bool)
    if len(a):  # one number, different people
        flags[a] |= reason_bit(Reason.NUMBER_SHARED_BY_DIFFERENT_PEOPLE)
        flags[b] |= reason_bit(Reason.NUMBER_SHARED_BY_DIFFERENT_PEOPLE)
        escalate[np.where(score[a] < score[b], a, b)] = True
    if near is not None:  # one person, several numbers
        i = np.flatnonzero(near >= 0)
        j = near[i]
        hit = (number[i] >= 0) & (number[j] >= 0) & (number[i] != number[j])
        i, j = i[hit], j[hit]
        flags[i] |= reason_bit(Reason.PERSON_UNDER_SEVERAL_NUMBERS)
        escalate[i[score[i] < score[j]]] = True
    # the record this claim more likely belongs to is claimed by another record
    claimed_refs = np.concatenate([r.claimed for r in results])
    cands = np.concatenate([r.cand for r in results])
    is_claimed = np.zeros(
        max(int(claimed_refs.max(initial=-1)), int(cands.max(initial=-1))) + 1, dtype=bool
    )  # by register index: O(n), unlike a set of indices
    is_claimed[claimed_refs[claimed_refs >= 0]] = True
    margin = np.concatenate([r.cand_score for r in results]) - score
    contested = (cands >= 0) & ~(margin <= th.margin_review)  # close or better; NaN counts
    contested[contested] &= is_claimed[cands[contested]]
    flags[contested] |= reason_bit(Reason.ALTERNATIVE_CLAIMED_BY_OTHER_RECORD)
    _apply_flags(results, flags, escalate)
    counts = {}
    for reason in Reason:
        if reason & CROSS_CHECK_REASONS:
            n = int(((flags & reason_bit(reason)) > 0).sum())
            if n:
                counts[reason.label] = n
    return counts


def _apply_flags(results: Sequence[ClaimsResult], flags: np.ndarray, escalate: np.ndarray) -> None:
    """Add cross-check reasons; escalate confirmed claims marked in ``escalate``."""
    start = 0
    for res in results:
        end = start + len(res.enc)
        res.reasons |= flags[start:end]
        up = escalate[start:end] & (res.status == Status.CONFIRMED)
        res.status[up] = Status.REVIEW
        res.reasons[up] &= ~reason_bit(Reason.MATCH)
        start = end
