"""Step 5: cross-check records against each other.

* one number claimed by different people (``number_shared_by_different_people``);
* one number claimed by more records than any real use explains
  (``number_claimed_by_many_records``);
* one person claimed under several numbers (``person_under_several_numbers``);
* an alternative that another record claims (``alternative_claimed_by_other_record``).

The claim-to-claim comparisons are made where the CLKs are (:func:`shared_number_pairs`
in the join's partitions, the nearest other claim in the search's);
:func:`apply_cross_checks` needs only their per-claim results.

Claims sharing a number are compared in time and memory linear in their count, however
many share one (a placeholder number, one number keyed for a whole family): see
:class:`GroupLimits`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pprl.compare import dice_indexed
from pprl.verify.decide import ClaimsResult, reason_bit
from pprl.verify.model import CROSS_CHECK_REASONS, Reason, Status, Thresholds

__all__ = [
    "GROUP_LIMITS",
    "GroupLimits",
    "apply_cross_checks",
    "apply_flags",
    "cross_check_flags",
    "flag_counts",
    "many_records",
    "pairs_within_groups",
    "shared_number_pairs",
]


@dataclass(frozen=True)
class GroupLimits:
    """How the claims that share one number (a *group*) are compared with each other.

    * ``exact``: a group of at most this many claims compares every two of them (at most
      ``exact * (exact - 1) / 2`` comparisons, 28 for 8): the check as it always was.
    * Above ``exact``, each claim is compared with two representatives of its group
      only: the claim scoring best against the claimed register record (the number's
      likely owner; the first in file order on a tie) and the claim least like it (when
      one scores below ``different_people`` against it). At most ``2 * (size - 1)``
      comparisons, so the check is linear in the number of claims sharing a number.
    * ``many``: every claim of a group of more than this many claims (across all claims
      files) gets ``number_claimed_by_many_records`` and is at least ``review``.
    """

    exact: int = 8
    many: int = 50

    def __post_init__(self) -> None:
        for name in ("exact", "many"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"group limit {name} must be a whole number >= 1, not {value!r}")
        if self.exact > self.many:
            raise ValueError(f"group limit exact ({self.exact}) must not exceed many ({self.many})")


GROUP_LIMITS = GroupLimits()
"""The limits every engine uses."""


def _runs(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Equal keys as runs: (positions sorted by key, file order within a run; run
    starts; run sizes)."""
    order = np.argsort(keys, kind="stable")
    sk = keys[order]
    starts = np.flatnonzero(np.r_[True, sk[1:] != sk[:-1]]) if len(sk) else np.empty(0, np.int64)
    sizes = np.diff(np.r_[starts, len(sk)])
    return order, starts, sizes


def _all_pairs(
    order: np.ndarray, starts: np.ndarray, sizes: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Every pair (i, j), i before j in file order, within each of the given runs."""
    a_list, b_list = [np.empty(0, np.int64)], [np.empty(0, np.int64)]
    for size in np.unique(sizes[sizes > 1]):
        s = starts[sizes == size]
        ii, jj = np.triu_indices(int(size), 1)
        a_list.append(order[(s[:, None] + ii[None, :]).ravel()])
        b_list.append(order[(s[:, None] + jj[None, :]).ravel()])
    return np.concatenate(a_list), np.concatenate(b_list)


def pairs_within_groups(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All index pairs (i, j) of equal keys, i before j in file order.

    Quadratic in the size of a group: for groups known to be small only
    (:func:`shared_number_pairs` uses it up to :attr:`GroupLimits.exact`).
    """
    return _all_pairs(*_runs(keys))


def _ordered(i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The pairs with the earlier record first (so a tie escalates the later one)."""
    return np.minimum(i, j), np.maximum(i, j)


def shared_number_pairs(
    clks: np.ndarray,
    number: np.ndarray,
    different_people: float,
    score: np.ndarray | None = None,
    limits: GroupLimits = GROUP_LIMITS,
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (i, j), i before j, of claims with the same number (equal ``number`` ids,
    -1 none) whose CLKs score below ``different_people``: one number used for two people.

    Groups of up to ``limits.exact`` claims: every two are compared. Larger groups: each
    claim is compared with the group's two representatives (:class:`GroupLimits`); the
    first is the claim with the best ``score`` (each claim's score against its claimed
    register record, NaN none; None: the first claim of the group). So there are at
    most ``max((limits.exact - 1) / 2, 2)`` comparisons, and pairs, per claim.
    """
    valid = np.flatnonzero(number >= 0)
    order, starts, sizes = _runs(number[valid])
    small = (sizes > 1) & (sizes <= limits.exact)
    a, b = _all_pairs(order, starts[small], sizes[small])
    a, b = valid[a], valid[b]
    if len(a):
        differ = dice_indexed(clks, clks, a, b) < different_people
        a, b = a[differ], b[differ]
    large = sizes > limits.exact
    if large.any():
        ra, rb = _representative_pairs(
            clks, valid[order], starts[large], sizes[large], score, different_people
        )
        a, b = np.concatenate([a, ra]), np.concatenate([b, rb])
    return a, b


def _representative_pairs(
    clks: np.ndarray,
    members: np.ndarray,
    starts: np.ndarray,
    sizes: np.ndarray,
    score: np.ndarray | None,
    different_people: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The pairs of the large groups that score as different people, each claim compared
    with its group's two representatives only.

    ``members``: claim positions grouped by number, in file order within a group;
    ``starts``/``sizes``: the large groups in it. Time and memory linear in their size.
    """
    idx = members[_expand(starts, sizes)]  # the large groups' claims, group by group
    group = np.repeat(np.arange(len(starts)), sizes)
    first_of = np.r_[0, np.cumsum(sizes)[:-1]]
    # representative 1: the best score against the claimed record, earliest on a tie
    if score is None:
        rep = idx[first_of]
    else:
        best = np.nan_to_num(score[idx], nan=-np.inf)
        rep = idx[np.lexsort((idx, -best, group))[first_of]]
    other = idx != rep[group]
    i, g = idx[other], group[other]
    d = dice_indexed(clks, clks, i, rep[g])
    differ = d < different_people
    pairs = [_ordered(i[differ], rep[g][differ])]
    # representative 2: the claim least like the first (when one differs), earliest on a tie
    far = np.full(len(starts), -1, np.int64)
    if differ.any():
        ci, cg, cd = i[differ], g[differ], d[differ]
        rank = np.lexsort((ci, cd, cg))
        head = rank[np.r_[True, cg[rank][1:] != cg[rank][:-1]]]
        far[cg[head]] = ci[head]
        two = (far[g] >= 0) & (i != far[g])  # the first representative met it already
        i2, f2 = i[two], far[g][two]
        hit = dice_indexed(clks, clks, i2, f2) < different_people
        pairs.append(_ordered(i2[hit], f2[hit]))
    return np.concatenate([p[0] for p in pairs]), np.concatenate([p[1] for p in pairs])


def _expand(starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Positions ``starts[g] .. starts[g] + sizes[g] - 1`` of every run, run by run."""
    offsets: np.ndarray = np.repeat(starts - np.r_[0, np.cumsum(sizes)[:-1]], sizes)
    return offsets + np.arange(int(sizes.sum()), dtype=np.int64)


def many_records(number: np.ndarray, limits: GroupLimits = GROUP_LIMITS) -> np.ndarray:
    """Which claims share their number (equal ``number`` ids, -1 none) with more than
    ``limits.many`` claims in all (themselves included)."""
    has = number >= 0
    sizes = np.bincount(number[has], minlength=1)
    out = np.zeros(len(number), dtype=bool)
    out[has] = sizes[number[has]] > limits.many
    return out


def apply_cross_checks(
    results: Sequence[ClaimsResult],
    th: Thresholds,
    number: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    near: np.ndarray | None,
    limits: GroupLimits = GROUP_LIMITS,
) -> dict[str, int]:
    """Set the cross-check reasons (:func:`cross_check_flags`) and escalate; return how
    many records got each one."""
    flags, escalate = cross_check_flags(results, th, number, a, b, near, limits)
    apply_flags(results, flags, escalate)
    return flag_counts(flags)


def flag_counts(flags: np.ndarray) -> dict[str, int]:
    """How many records got each cross-check reason."""
    counts = {}
    for reason in Reason:
        if reason & CROSS_CHECK_REASONS:
            n = int(((flags & reason_bit(reason)) > 0).sum())
            if n:
                counts[reason.label] = n
    return counts


def cross_check_flags(
    results: Sequence[ClaimsResult],
    th: Thresholds,
    number: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    near: np.ndarray | None,
    limits: GroupLimits = GROUP_LIMITS,
) -> tuple[np.ndarray, np.ndarray]:
    """The cross-check reasons of every claim and which confirmed claims they escalate
    to review (:func:`apply_flags` applies them): (flags, escalate).

    All arrays index the claims files concatenated in order: ``number`` identifies each
    claim's number (equal ids, equal pseudonyms; -1 none), ``a``, ``b`` are the pairs of
    :func:`shared_number_pairs`, ``near`` each claim's most similar other claim (-1 none;
    None when no block key is shared). A confirmed claim that is the weaker of two
    conflicting records goes to review (one of the two links must be wrong), and so does
    every confirmed claim whose number more than ``limits.many`` claims carry (a
    placeholder or shared number: no single link can be trusted); a claim scoring below
    ``suspect_score`` against its claimed record is ``suspect`` already (:func:`decide`).
    """
    score = np.nan_to_num(np.concatenate([r.score for r in results]), nan=-1.0)
    flags = np.zeros(len(number), dtype=np.uint16)
    escalate = np.zeros(len(number), dtype=bool)
    if len(a):  # one number, different people
        flags[a] |= reason_bit(Reason.NUMBER_SHARED_BY_DIFFERENT_PEOPLE)
        flags[b] |= reason_bit(Reason.NUMBER_SHARED_BY_DIFFERENT_PEOPLE)
        escalate[np.where(score[a] < score[b], a, b)] = True
    many = many_records(number, limits)  # one number, more claims than people use one
    flags[many] |= reason_bit(Reason.NUMBER_CLAIMED_BY_MANY_RECORDS)
    escalate |= many
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
    return flags, escalate


def apply_flags(results: Sequence[ClaimsResult], flags: np.ndarray, escalate: np.ndarray) -> None:
    """Add cross-check reasons; escalate confirmed claims marked in ``escalate``."""
    start = 0
    for res in results:
        end = start + len(res.enc)
        res.reasons |= flags[start:end]
        up = escalate[start:end] & (res.status == Status.CONFIRMED)
        res.status[up] = Status.REVIEW
        res.reasons[up] &= ~reason_bit(Reason.MATCH)
        start = end
