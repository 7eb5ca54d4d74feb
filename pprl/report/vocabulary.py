"""Colours and plain-language meanings shared by the report's text and its plots.

Every status, reason and threshold of :mod:`pprl.verify.model` has an entry here (a
test checks it), so the report never shows a code without saying what it means.
"""

from __future__ import annotations

from pprl.verify.model import CROSS_CHECK_REASONS, Reason, Status

#: One colour per status, used in every plot and in the status badges.
STATUS_COLORS: dict[Status, str] = {
    Status.CONFIRMED: "#2e7d32",
    Status.REVIEW: "#ef8f00",
    Status.SUSPECT: "#c62828",
    Status.UNKNOWN_NUMBER: "#607d8b",
    Status.INVALID_NUMBER: "#6a1b9a",
}

#: What each status means, shown in the header glossary and the counts table.
STATUS_MEANINGS: dict[Status, str] = {
    Status.CONFIRMED: "the claimed register record matches the claim record well and no "
    "other register record matches better",
    Status.REVIEW: "the evidence is mixed; a person should look at this link",
    Status.SUSPECT: "the claimed register record matches poorly and/or another register "
    "record matches clearly better; likely a wrong link",
    Status.UNKNOWN_NUMBER: "the claimed number is not in the register",
    Status.INVALID_NUMBER: "the number failed its check digit or was missing",
}

#: What each reason code means, shown beside the reason counts.
REASON_MEANINGS: dict[Reason, str] = {
    Reason.MATCH: "the claimed register record matches well and no other record comes close",
    Reason.WEAK_SCORE: "the claimed pair's similarity is below the confirm threshold (often "
    "a changed surname or a move)",
    Reason.LOW_SCORE: "the claimed pair's similarity is below the suspect threshold: the "
    "claimed person hardly matches",
    Reason.BETTER_MATCH_ELSEWHERE: "another register record matches the claim record clearly "
    "better than the claimed one (likely the true owner)",
    Reason.THIN_EVIDENCE: "another register record matches about as well as the claimed one "
    "(twins, namesakes with the same birth date): the encodings cannot "
    "tell them apart",
    Reason.NUMBER_SHARED_BY_DIFFERENT_PEOPLE: "the same number is claimed for records that "
    "look like different people",
    Reason.PERSON_UNDER_SEVERAL_NUMBERS: "the same person appears to be claimed under "
    "several numbers",
    Reason.ALTERNATIVE_CLAIMED_BY_OTHER_RECORD: "the better-matching register record is "
    "itself claimed by another claim record",
    Reason.NUMBER_CLAIMED_BY_MANY_RECORDS: "more claim records carry this number than one "
    "person or family could (a placeholder number such as 000000000000?): no link on it "
    "is confirmed",
    Reason.NO_REGISTER_RECORD: "no register record carries this number",
    Reason.NO_VALID_NUMBER: "the number was missing or failed its check digit",
}

#: What each threshold decides, shown in the thresholds table.
THRESHOLD_MEANINGS: dict[str, str] = {
    "confirm_score": "a claimed pair scoring at least this, with nobody else close, is "
    "confirmed; below it the claim needs review",
    "suspect_score": "a claimed pair scoring below this is suspect (low_score)",
    "margin_suspect": "another register record scoring this much more than the claimed one "
    "makes the claim suspect (better_match_elsewhere)",
    "margin_review": "another register record scoring within this of the claimed one (margin "
    "above it) sends the claim to review (thin_evidence)",
    "search_score": "alternatives scoring below this are not reported (no candidate, no margin)",
    "same_person": "two claim records scoring above this are taken for one person (cross-checks)",
    "different_people": "two claim records sharing a number and scoring below this are taken "
    "for two people (cross-checks)",
    "confirm_below": "a claim whose estimated mislink probability is below this is confirmed "
    "(where the run estimated one)",
    "suspect_above": "a claim whose estimated mislink probability is at least this is suspect; "
    "between the two cut points it goes to review",
}


def is_cross_check(reason: Reason) -> bool:
    """True for reasons from comparing claims with each other, not with the register."""
    return bool(reason & CROSS_CHECK_REASONS)


#: Titles of the two reason groups, in display order.
REGISTER_GROUP = "claim vs register"
CROSS_CHECK_GROUP = "cross-checks between claims"


def reason_group(reason: Reason) -> str:
    """The group a reason is shown under: :data:`REGISTER_GROUP` or :data:`CROSS_CHECK_GROUP`."""
    return CROSS_CHECK_GROUP if is_cross_check(reason) else REGISTER_GROUP
