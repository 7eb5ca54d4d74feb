"""Step 5b: each claim's mislink probability, estimated without labels from the run's
own claims, and the statuses it decides.

The model (:func:`estimate_mislink`) is a two-class latent-class model, Fellegi–Sunter
style, fitted by EM to every claim with a claimed register record
(:func:`pprl.mixture.fit_latent_classes`): a claim is either a *correct link* or a
*mislink*, and within each class these features are taken as independent:

* the claimed pair's score, in :data:`SCORE_BINS` bins;
* the best other register record (the alternative): none found (above
  ``Thresholds.search_score``), far, near and agreeing alike, or close (within
  ``-margin_review`` or above) split by how the claimed record's evidence compares
  with the alternative's (:func:`compare_evidence`: birth date first, then the names;
  :data:`ALTERNATIVE_LEVELS`). For most mislinks the true owner is in the register,
  scores about as well as or better than the claimed record and agrees better; for a
  correct link a close alternative is a relative or a namesake, which the claimed
  record out-agrees (a maiden name keeps the birth date). The mislink class is held
  away from "close, claimed record agrees better" (:data:`NEVER_MISLINK`,
  ``impossible_pos`` of :func:`pprl.mixture.fit_latent_classes`): left free, EM makes
  "has a close alternative" the mislink class and takes those correct links with it
  (measured in docs/benchmarks.md, "The alternative's evidence");
* each cross-check signal (:data:`CROSS_CHECK_FEATURES`): set or not
  (``alternative_claimed_by_other_record`` is folded into the level above where the
  claimed record agrees better).

The best alternative's own score (binned) was tried as a further feature: it helped a
little on 10,000 claims but on 2,000 claims EM used it to make "has an alternative
scoring 0.6–0.8" a mislink class of its own (4% estimated mislinks, 1% true), so it is
left out.

The block-key agreement pattern (kanji, kana, birth date agree/differ/missing) is not
an independent feature: within each class it is what the claimed score is made of (a
maiden name lowers the score *because* the names differ), and fitted as independent
evidence it counts the same difference twice; EM then takes the correct links with a
changed name for a class of their own (measured in docs/benchmarks.md, "Calibrated
mislink probability"). The pattern enters through the **term-frequency adjustment**
(:func:`tf_offset`, Splink's): agreeing on a name is evidence of a correct link, less so
for a common name (佐藤, 鈴木) than for a rare one. If the names agree, the mislink
odds are multiplied by ``tf(v) / Σ_w tf(w)²``: ``tf(v)`` is the share of register
records carrying the claim's keyed name value ``v`` and ``Σ tf²`` the chance that two
random register records agree on a name (a correct link agrees on ``v`` with
probability ∝ ``tf(v)``; a namesake mislink with probability ∝ ``tf(v)²``, as the
number of namesakes grows with the name's frequency). Over correct links the factor
averages 1, so it moves probability between common and rare names without shifting
the total. Like Splink's term-frequency ``u`` values it is computed from the data
directly, not fitted: it is applied to the fitted model's odds. (Fitted inside EM as a
fixed offset it let EM settle on a class of correct links with a close namesake,
estimating 10% mislinks where there were 1%: measured.) It is clipped to
``1/TF_LIMIT .. TF_LIMIT``; with two name keys (kanji and kana, one name in two scripts)
the two adjustments are averaged, not multiplied.

Statuses (:func:`decide_by_probability`): below ``Thresholds.confirm_below`` a claim is
``confirmed``, from ``Thresholds.suspect_above`` on ``suspect`` (but ``review`` where the
only trouble is a close alternative, ``thin_evidence``), ``review`` between; a claim
scoring below ``Thresholds.suspect_score`` stays ``suspect``.
Where the run has fewer than :data:`MIN_CLAIMS` claims with a claimed record, or EM
finds no mislink class, no probability is estimated (the column is null) and the
statuses stay those of the score thresholds (:func:`pprl.verify.decide.decide`);
:attr:`MislinkEstimate.fallback` says why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pprl.mixture import LatentClassModel, fit_latent_classes
from pprl.verify.decide import ClaimsResult, reason_bit
from pprl.verify.evidence import evidence_rank
from pprl.verify.model import Reason, Status, Thresholds

__all__ = [
    "ALTERNATIVE_LEVELS",
    "CROSS_CHECK_FEATURES",
    "MIN_CLAIMS",
    "SCORE_BINS",
    "TF_LIMIT",
    "MislinkEstimate",
    "NEAR_FACTOR",
    "NEVER_MISLINK",
    "claim_features",
    "compare_evidence",
    "decide_by_probability",
    "estimate_mislink",
    "mislink_interval",
    "tf_offset",
]

SCORE_BINS = 20
"""Bins of the unit interval for the claimed score (width 0.05)."""
CROSS_CHECK_FEATURES: tuple[Reason, ...] = (
    Reason.NUMBER_SHARED_BY_DIFFERENT_PEOPLE,
    Reason.PERSON_UNDER_SEVERAL_NUMBERS,
    Reason.ALTERNATIVE_CLAIMED_BY_OTHER_RECORD,
    Reason.NUMBER_CLAIMED_BY_MANY_RECORDS,
)
"""The cross-check signals the model uses, one binary feature each."""
MIN_CLAIMS = 500
"""Fewest claims with a claimed register record for the model to be fitted."""
MIN_MISLINKS = 1.0
"""Fewest expected mislinks for the fit to count as having found a mislink class."""
TF_LIMIT = 20.0
"""Largest factor (and smallest, inverted) of the term-frequency adjustment."""
_START = {Status.CONFIRMED: 0.01, Status.REVIEW: 0.5, Status.SUSPECT: 0.9}
"""EM's starting mislink probability per status of the score thresholds."""


@dataclass(frozen=True)
class MislinkEstimate:
    """The mislink probability of every claim (NaN where there is no claimed register
    record, or where no model was fitted) and the model behind it.

    ``fallback`` says why no model was fitted (None when one was)."""

    probability: np.ndarray
    model: LatentClassModel | None
    fallback: str | None = None

    @property
    def expected(self) -> float:
        """The estimated number of mislinks among the claims: the sum of probabilities."""
        return float(np.nansum(self.probability))


def _bins(x: np.ndarray) -> np.ndarray:
    """The score bin of each value (NaN: 0)."""
    out: np.ndarray = np.clip(
        (np.nan_to_num(x) * SCORE_BINS + 1e-9).astype(np.int64), 0, SCORE_BINS - 1
    )
    return out


ALTERNATIVE_LEVELS: tuple[str, ...] = (
    "none",
    "far",
    "near, agree alike",
    "close, claimed record agrees better",
    "close, claimed record agrees better, alternative claimed elsewhere",
    "close, agree alike",
    "close, alternative agrees better",
)
"""The levels of the ``close_alternative`` feature (:func:`claim_features`)."""
NEVER_MISLINK = np.array([False, False, False, True, True, False, False])
"""The ``close_alternative`` levels the mislink class is held away from (a mislink's
claimed record does not agree with the claim better than its close alternative does)."""
NEAR_FACTOR = 2.0
"""An alternative scoring within ``NEAR_FACTOR * -margin_review`` of the claimed record,
but not within ``-margin_review``, is *near*; where its keys agree with the claim just as
the claimed record's do, that is a level of its own (a namesake with the same birth date
whose true owner moved scores a little below the claimed record)."""


def compare_evidence(claimed: np.ndarray, alternative: np.ndarray) -> np.ndarray:
    """Per claim: 1 where the claimed record's keys agree with the claim more strongly
    than the best alternative's do, -1 where less, 0 where alike
    (:func:`pprl.verify.evidence.evidence_rank`; attribute codes of
    :func:`pprl.verify.evidence.attribute_codes`, 0 where there is no record)."""
    out: np.ndarray = np.sign(evidence_rank(claimed) - evidence_rank(alternative)).astype(np.int64)
    return out


def claim_features(
    score: np.ndarray,
    cand_score: np.ndarray,
    reasons: np.ndarray,
    margin_review: float,
    compare: np.ndarray | None = None,
) -> tuple[list[np.ndarray], list[int], tuple[str, ...]]:
    """The model's features of each claim: (level codes per feature, level counts,
    names). ``cand_score`` is the best other register record's score (NaN: none found);
    ``reasons`` the reason masks holding the cross-check signals; ``margin_review`` the
    margin above which an alternative counts as close; ``compare`` the evidence
    comparison of the claimed record with the alternative (:func:`compare_evidence`;
    None: alike everywhere).

    A close alternative is split by ``compare`` (:data:`ALTERNATIVE_LEVELS`), and a near
    one whose keys agree alike is told from a far one (:data:`NEAR_FACTOR`); where the
    claimed record agrees better, whether the alternative is claimed by another record
    is part of that level, not of the ``alternative_claimed_by_other_record`` feature:
    a correct link with a close relative often has that relative among the claims too,
    so within the correct class the two are not independent."""
    margin = cand_score - score
    found = ~np.isnan(margin)
    close = found & (np.nan_to_num(margin) > margin_review)
    cmp = np.zeros(len(score), np.int64) if compare is None else np.asarray(compare, np.int64)
    near = found & ~close & (np.nan_to_num(margin) > NEAR_FACTOR * margin_review) & (cmp == 0)
    alt_claimed = (reasons & reason_bit(Reason.ALTERNATIVE_CLAIMED_BY_OTHER_RECORD)) > 0
    better = close & (cmp > 0)
    alternative = np.where(
        ~found,
        0,
        np.where(
            ~close,
            np.where(near, 2, 1),
            np.where(better, 3 + alt_claimed, np.where(cmp == 0, 5, 6)),
        ),
    )
    codes = [_bins(score), alternative.astype(np.int64)]
    levels = [SCORE_BINS, len(ALTERNATIVE_LEVELS)]
    names = ["score", "close_alternative"]
    for reason in CROSS_CHECK_FEATURES:
        flag = (reasons & reason_bit(reason)) > 0
        if reason is Reason.ALTERNATIVE_CLAIMED_BY_OTHER_RECORD:
            flag &= ~better
        codes.append(flag.astype(np.int64))
        levels.append(2)
        names.append(reason.label)
    return codes, levels, tuple(names)


def tf_offset(
    agree: Sequence[np.ndarray], freq: Sequence[np.ndarray], totals: Sequence[tuple[int, int]]
) -> np.ndarray:
    """The term-frequency adjustment of each claim's mislink log-odds.

    Per name key: ``agree`` marks the claims that agree with their claimed record on it,
    ``freq`` how many register records carry the claim's value, ``totals`` the register
    records carrying the key and the sum over its values of their count squared. A
    claim agreeing on value ``v`` gets ``log(tf(v) / Σ tf²)`` (clipped to
    ``±log TF_LIMIT``), averaged over the name keys it agrees on; 0 where it agrees on
    none."""
    n = len(agree[0]) if agree else 0
    total = np.zeros(n)
    keys = np.zeros(n)
    for ok, f, (records, squares) in zip(agree, freq, totals, strict=True):
        if records <= 0:
            continue
        use = ok & (f > 0)
        # tf(v) / sum tf^2 = (c / N) / (S / N^2) = c N / S
        ratio = f.astype(np.float64) * records / max(squares, 1)
        adj = np.log(np.clip(ratio, 1.0 / TF_LIMIT, TF_LIMIT))
        total += np.where(use, adj, 0.0)
        keys += use
    return np.where(keys > 0, total / np.maximum(keys, 1), 0.0)


def estimate_mislink(
    has: np.ndarray,
    score: np.ndarray,
    cand_score: np.ndarray,
    reasons: np.ndarray,
    status: np.ndarray,
    offset: np.ndarray | None = None,
    margin_review: float = Thresholds.margin_review,
    compare: np.ndarray | None = None,
) -> MislinkEstimate:
    """Fit the model to the claims with a claimed record (``has``) and give each its
    mislink probability. ``status`` (the score thresholds' decision) is EM's start;
    ``offset`` the term-frequency adjustment (:func:`tf_offset`); ``margin_review``
    where an alternative counts as close and ``compare`` how the claimed record's
    evidence compares with the alternative's (:func:`claim_features`)."""
    n = len(has)
    p = np.full(n, np.nan)
    idx = np.flatnonzero(has)
    if len(idx) < MIN_CLAIMS:
        why = (
            f"only {len(idx):,} claims with a claimed register record, fewer than "
            f"{MIN_CLAIMS:,}: too few to estimate mislink probabilities"
        )
        return MislinkEstimate(p, None, why)
    cmp = None if compare is None else compare[idx]
    codes, levels, names = claim_features(
        score[idx], cand_score[idx], reasons[idx], margin_review, cmp
    )
    start = np.full(len(idx), _START[Status.CONFIRMED])
    for st, value in _START.items():
        start[status[idx] == st] = value
    off = None if offset is None else offset[idx]
    never: list[np.ndarray | None] = [None] * len(codes)
    never[names.index("close_alternative")] = NEVER_MISLINK
    model = fit_latent_classes(codes, levels, start, names=names, impossible_pos=tuple(never))
    if model.prior * model.count < MIN_MISLINKS:
        return MislinkEstimate(p, None, "the claims show no mislink class")
    p[idx] = model.posterior(codes, off)
    return MislinkEstimate(p, model)


def mislink_interval(probability: np.ndarray, z: float = 1.959964) -> tuple[float, float, float]:
    """The expected number of mislinks among claims with these probabilities (NaN
    ignored) and a 95% interval: (expected, low, high).

    Taking each claim as an independent Bernoulli trial with its probability, the count
    of mislinks is Poisson-binomial: mean ``Σ p``, variance ``Σ p (1 - p)``. The interval
    is the normal approximation, kept at least 0 and at most the number of claims. It
    covers the randomness of which claims are mislinks given the model, not the error of
    the model itself (docs/verification.md)."""
    p = probability[~np.isnan(probability)]
    mean = float(p.sum())
    sd = float(np.sqrt((p * (1.0 - p)).sum()))
    return mean, max(0.0, mean - z * sd), min(float(len(p)), mean + z * sd)


def decide_by_probability(res: ClaimsResult, p: np.ndarray, th: Thresholds) -> None:
    """Set the status of every claim with a claimed record and a probability from it:
    ``confirmed`` below ``th.confirm_below``, ``suspect`` from ``th.suspect_above``,
    ``review`` between; unknown and invalid numbers keep theirs. A claim whose only
    trouble is ``thin_evidence`` (another register record scores about as well, not
    clearly better, and the claimed score is not low) goes to ``review`` however high
    its probability: the encodings cannot tell the two records apart (twins, namesakes
    with the same birth date), so a person must. A claim scoring below
    ``th.suspect_score`` (``low_score``) stays ``suspect`` whatever its probability: the
    claimed record hardly matches, and a model fitted to odd data (a placeholder
    number carried by thousands of claims) must not confirm it.

    Reasons stay those of the score thresholds where they fit the new status: a
    confirmed claim has ``match`` only; a claim that is not confirmed keeps the
    score-band reasons that hold (``low_score``, ``weak_score``,
    ``better_match_elsewhere``, ``thin_evidence``), and where none holds it gets the one
    nearest to the evidence: ``better_match_elsewhere`` when another register record
    scores at least as well, else ``weak_score``."""
    ok = ~np.isnan(p) & (res.status <= Status.SUSPECT)
    band = np.uint16(
        Reason.LOW_SCORE | Reason.WEAK_SCORE | Reason.BETTER_MATCH_ELSEWHERE | Reason.THIN_EVIDENCE
    )
    match = reason_bit(Reason.MATCH)
    thin = (res.reasons & reason_bit(Reason.THIN_EVIDENCE)) > 0
    low = (res.reasons & reason_bit(Reason.LOW_SCORE)) > 0
    confirm = ok & (p < th.confirm_below) & ~low
    suspect = ok & ~confirm & (((p >= th.suspect_above) & ~thin) | low)
    review = ok & ~confirm & ~suspect
    status = res.status.copy()
    reasons = res.reasons.copy()
    status[confirm] = Status.CONFIRMED
    reasons[confirm] = (reasons[confirm] & ~band) | match
    flagged = review | suspect
    status[review] = Status.REVIEW
    status[suspect] = Status.SUSPECT
    reasons[flagged] &= ~match
    bare = flagged & ((reasons & band) == 0)
    better = bare & ~(np.nan_to_num(res.cand_score, nan=-1.0) < np.nan_to_num(res.score))
    reasons[better] |= reason_bit(Reason.BETTER_MATCH_ELSEWHERE)
    reasons[bare & ~better] |= reason_bit(Reason.WEAK_SCORE)
    res.status, res.reasons = status, reasons
