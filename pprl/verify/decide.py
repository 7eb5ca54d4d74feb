"""Step 4: decide ``confirmed`` / ``review`` / ``suspect`` from the claimed score and the
margin to the best alternative together (:class:`~pprl.verify.model.Thresholds`), with
the reasons that drove the decision (vectorized; codes from
:class:`~pprl.verify.model.Status` and :class:`~pprl.verify.model.Reason`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pprl.store import Outline
from pprl.verify.model import Reason, Status, Thresholds

__all__ = ["ClaimsResult", "decide", "reason_bit"]


def reason_bit(reason: Reason) -> np.uint16:
    """A reason as the uint16 bit stored in per-claim reason masks."""
    return np.uint16(reason.value)


@dataclass
class ClaimsResult:
    """Per-claim arrays for one claims file (index = position in the file).

    ``claimed`` and ``cand`` index the register; ``status`` holds :class:`Status` codes
    and ``reasons`` :class:`Reason` bitmasks, filled by :func:`decide` and the
    cross-checks; ``evidence`` the claimed pair's attribute states
    (:func:`pprl.verify.evidence.attribute_codes`; empty: none computed);
    ``probability`` each claim's mislink probability (NaN none; empty: none estimated,
    :mod:`pprl.verify.probability`).
    """

    enc: Outline
    claimed: np.ndarray  # register index of the claimed record, -1 none
    score: np.ndarray  # claimed Dice, NaN none
    cand: np.ndarray  # register index of the best alternative, -1 none
    cand_score: np.ndarray  # NaN none
    status: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int8))
    reasons: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.uint16))
    evidence: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.uint16))
    probability: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.float64))


def decide(res: ClaimsResult, th: Thresholds) -> None:
    """Set status and reasons of every claim from its score and margin."""
    n = len(res.enc)
    status = np.full(n, Status.CONFIRMED, dtype=np.int8)
    reasons = np.zeros(n, dtype=np.uint16)
    invalid = ~res.enc.has_token
    unknown = res.enc.has_token & (res.claimed < 0)
    ok = ~invalid & ~unknown
    score = np.where(ok, res.score, 1.0)
    margin = res.cand_score - score
    has_alt = ok & ~np.isnan(margin)
    low = ok & (score < th.suspect_score)
    weak = ok & ~low & (score < th.confirm_score)
    better = has_alt & (np.nan_to_num(margin, nan=-np.inf) >= th.margin_suspect)
    close = has_alt & ~better & (np.nan_to_num(margin, nan=-np.inf) > th.margin_review)
    suspect = low | better
    review = ~suspect & (weak | close)
    for mask, reason in (
        (invalid, Reason.NO_VALID_NUMBER),
        (unknown, Reason.NO_REGISTER_RECORD),
        (low, Reason.LOW_SCORE),
        (weak, Reason.WEAK_SCORE),
        (better, Reason.BETTER_MATCH_ELSEWHERE),
        (close, Reason.THIN_EVIDENCE),
        (ok & ~suspect & ~review, Reason.MATCH),
    ):
        reasons[mask] |= reason_bit(reason)
    status[review] = Status.REVIEW
    status[suspect] = Status.SUSPECT
    status[unknown] = Status.UNKNOWN_NUMBER
    status[invalid] = Status.INVALID_NUMBER
    res.status, res.reasons = status, reasons
