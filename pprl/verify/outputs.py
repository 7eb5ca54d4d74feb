"""Step 6: what a run hands back: the findings table, each party's view, the register
holder's view, the summary, and the files they are written to.

What each role receives (docs/protocol.md says the same for people):

* the matcher operator: the full findings (every claim, every column);
* each claims party: one view holding the rows of all its claims files and nothing
  else, named by its label (:func:`party_view`): reasons that would reveal another
  party's records are withheld, and with ``with_scores=False`` also the reasons that
  reveal score bands and the per-attribute evidence;
* the register holder: its register rows involved in a non-confirmed claim, with the
  role and the claim's status, paired by an opaque case id, but not which party or
  claim (:func:`reference_view`, :func:`with_cases`).

Views are written to ``parties/<stem>.csv|parquet`` with the stems of
:func:`pprl.labels.view_stems`, so two parties never share a file.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from blake3 import blake3

from pprl import __version__
from pprl.csvout import write_csv
from pprl.errors import InputError
from pprl.labels import validate_label, view_stems
from pprl.resultset import file_digest, result_set
from pprl.store import Outline
from pprl.verify.decide import ClaimsResult, reason_bit
from pprl.verify.evidence import evidence_texts
from pprl.verify.model import (
    CROSS_CHECK_REASONS,
    STATUSES,
    InputInfo,
    MislinkSummary,
    Reason,
    Status,
    Thresholds,
    VerifySummary,
)
from pprl.verify.probability import MislinkEstimate, mislink_interval

__all__ = [
    "OTHER_RECORD_CONFLICT",
    "SCORE_BAND_REASONS",
    "Delivery",
    "VerifyResult",
    "build_summary",
    "case_ids",
    "case_key",
    "check_party_labels",
    "deliveries",
    "findings_table",
    "input_info",
    "party_view",
    "party_views",
    "reason_texts",
    "reference_view",
    "same_party_reasons",
    "with_cases",
    "write_outputs",
]

SCORE_BAND_REASONS = (
    Reason.LOW_SCORE | Reason.WEAK_SCORE | Reason.THIN_EVIDENCE | Reason.BETTER_MATCH_ELSEWHERE
)
"""Reasons that say where a claim's score or its best alternative's lies relative to the
thresholds: withheld from claims parties together with the scores."""

OTHER_RECORD_CONFLICT = "conflict_with_other_record"
"""The reason a claims party's view gives, with scores shown, for a claim raised to
``review`` only by a conflict with a record in another party's file: it says that the
status comes from a conflict, not which party, record or kind of conflict."""

PARTY_KEY = b"pprl.party"
VIEW_KEY = b"pprl.view"


@dataclass
class VerifyResult:
    """Everything a verification run produced, before it is written.

    ``same_party`` holds, per findings row, the cross-check reasons (bits of
    :data:`~pprl.verify.model.CROSS_CHECK_REASONS`) that hold with a record of the same
    claims party (:func:`same_party_reasons`); None when unknown, in which case no
    cross-check reason reaches a party's view.
    """

    findings: pa.Table
    summary: VerifySummary
    per_claims: list[tuple[str, pa.Table]]
    reference_view: pa.Table
    same_party: np.ndarray | None = None


def _labels(codes: np.ndarray, names: Sequence[str]) -> pa.Array:
    """String column from integer codes, built by arrow (no Python string per row)."""
    return pa.DictionaryArray.from_arrays(
        pa.array(codes.astype(np.int32)), pa.array(list(names), pa.string())
    ).cast(pa.string())


def reason_texts(masks: np.ndarray) -> pa.Array:
    """``code;code`` strings for reason bitmasks, in :class:`Reason` bit order."""
    uniq, inverse = np.unique(masks, return_inverse=True)
    texts = [";".join(r.label for r in Reason if int(m) & r.value) for m in uniq]
    return _labels(inverse.reshape(-1), texts)


def findings_table(
    res: ClaimsResult, ref: Outline, confirm_score: float = Thresholds.confirm_score
) -> pa.Table:
    """One row per claim: the findings format of the CLI contract. ``evidence`` explains
    the claimed pair attribute by attribute (:mod:`pprl.verify.evidence`; null without
    a claimed record); ``confirm_score`` is the run's, which its rules use.
    ``mislink_probability`` is the claim's estimated probability of being a mislink
    (:mod:`pprl.verify.probability`; null without a claimed record or a model)."""
    n = len(res.enc)
    prob = res.probability if len(res.probability) == n else np.full(n, np.nan)
    codes = res.evidence if len(res.evidence) == n else np.zeros(n, np.uint16)
    name = res.enc.path.name if res.enc.path else res.enc.label
    ref_rows = ref.rows

    def rows_of(idx: np.ndarray) -> pa.Array:
        return pa.array(
            np.where(idx >= 0, ref_rows[np.maximum(idx, 0)] if len(ref_rows) else 0, 0),
            type=pa.int64(),
            mask=idx < 0,
        )

    def floats(x: np.ndarray) -> pa.Array:
        return pa.array(np.nan_to_num(x), type=pa.float64(), mask=np.isnan(x))

    return pa.table(
        {
            "claims_file": _labels(np.zeros(n, np.int8), [name]),
            "claims_party": _labels(np.zeros(n, np.int8), [res.enc.label]),
            "claim_row": pa.array(res.enc.rows, type=pa.int64()),
            "status": _labels(res.status, STATUSES),
            "score": floats(res.score),
            "reason": reason_texts(res.reasons),
            "candidate_ref_row": rows_of(res.cand),
            "candidate_score": floats(res.cand_score),
            "margin": floats(res.cand_score - res.score),
            "claimed_ref_row": rows_of(res.claimed),
            "evidence": evidence_texts(codes, res.score, res.cand_score, confirm_score),
            "mislink_probability": floats(prob),
        }
    )


def same_party_reasons(
    party: np.ndarray,
    claimed: np.ndarray,
    cand: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    near: np.ndarray | None,
) -> np.ndarray:
    """Per claim, the cross-check reasons that a record of the claim's own party backs.

    All arrays index the claims files concatenated (the findings' row order): ``party``
    a party id per claim (equal ids, equal labels), ``claimed`` and ``cand`` the register
    index of the claimed record and of the best alternative (-1 none), ``a``, ``b`` the
    pairs that set ``number_shared_by_different_people``, ``near`` each claim's most
    similar other claim (-1 none; None when not searched). A bit is set when the
    partner behind that reason (the other claim of a pair, the nearest claim, or a claim
    claiming the alternative) belongs to the same party; the bits are meaningful only
    where the findings hold the reason.
    """
    n = len(party)
    own = np.zeros(n, dtype=np.uint16)
    if len(a):
        same = party[a] == party[b]
        bit = reason_bit(Reason.NUMBER_SHARED_BY_DIFFERENT_PEOPLE)
        own[a[same]] |= bit
        own[b[same]] |= bit
    if near is not None:
        i = np.flatnonzero(near >= 0)
        i = i[party[i] == party[near[i]]]
        own[i] |= reason_bit(Reason.PERSON_UNDER_SEVERAL_NUMBERS)
    width = int(party.max(initial=0)) + 1
    has = claimed >= 0
    held = np.unique(claimed[has].astype(np.int64) * width + party[has])  # (record, party)
    c = np.flatnonzero(cand >= 0)
    key = cand[c].astype(np.int64) * width + party[c]
    pos = np.minimum(np.searchsorted(held, key), max(len(held) - 1, 0))
    hit = held[pos] == key if len(held) else np.zeros(len(c), dtype=bool)
    own[c[hit]] |= reason_bit(Reason.ALTERNATIVE_CLAIMED_BY_OTHER_RECORD)
    return own


def reason_masks(reason: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """:class:`Reason` bitmasks of a ``code;code`` column (the inverse of
    :func:`reason_texts`)."""
    if isinstance(reason, pa.ChunkedArray):
        reason = reason.combine_chunks()
    if len(reason) == 0:
        return np.zeros(0, dtype=np.uint16)
    coded = pc.dictionary_encode(reason)
    masks = [
        sum(int(Reason.from_label(code)) for code in filter(None, str(text).split(";")))
        for text in coded.dictionary.to_pylist()
    ]
    indices: np.ndarray = coded.indices.to_numpy(zero_copy_only=False)
    out: np.ndarray = np.asarray(masks, dtype=np.uint16)[indices]
    return out


def view_reasons(masks: np.ndarray, same_party: np.ndarray, with_scores: bool) -> pa.Array:
    """The reasons a claims party may see, as ``code;code`` strings.

    Cross-check reasons stay only where a record of the party itself backs them
    (``same_party``); without scores the score-band reasons go too. With scores, a claim
    left with no reason (one raised to ``review`` only by a conflict with another
    party's record: every other status has a reason of its own) says
    :data:`OTHER_RECORD_CONFLICT`; without scores it says nothing, as the code would
    tell a raised claim (score above ``confirm_score``) from a weak one.
    """
    cross = np.uint16(CROSS_CHECK_REASONS)
    shown = (masks & ~cross) | (masks & cross & same_party)
    if not with_scores:
        shown &= ~np.uint16(SCORE_BAND_REASONS)
    if with_scores:
        conflict = (shown == 0) & ((masks & cross) != 0)
    else:
        conflict = np.zeros(len(masks), dtype=bool)
    keys = shown.astype(np.int64) | (conflict.astype(np.int64) << 32)
    uniq, inverse = np.unique(keys, return_inverse=True)
    texts = []
    for key in uniq.tolist():
        codes = [r.label for r in Reason if key & r.value]
        if key >> 32:
            codes.append(OTHER_RECORD_CONFLICT)
        texts.append(";".join(codes))
    return _labels(inverse.reshape(-1), texts)


def _named(table: pa.Table, party: str, view: str) -> pa.Table:
    """``table`` with its party and view kind in the schema metadata (kept by Parquet)."""
    return table.replace_schema_metadata(
        {PARTY_KEY: party.encode("utf-8"), VIEW_KEY: view.encode("utf-8")}
    )


def party_view(
    findings: pa.Table,
    party: str,
    with_scores: bool = True,
    same_party: np.ndarray | None = None,
) -> pa.Table:
    """What claims party ``party`` receives: the findings rows of its own claims files
    (all of them) and nothing else: ``party, claims_file, claim_row, status, score,
    reason, evidence, mislink_probability, case``.

    Register rows are never included: they belong to the register holder. Cross-check
    reasons appear only where the other record is in the party's own files
    (``same_party``, aligned with ``findings``; None: never), see :func:`view_reasons`.
    Withholding scores (``with_scores=False``) also withholds the score-band reasons
    (:data:`SCORE_BAND_REASONS`), the evidence and the mislink probability (as
    fine-grained as a score), so a claims party does not learn how
    similar its records are to records it cannot see. The evidence is about the claimed
    pair only (the party's record and the register record its own number points to),
    never about another register record or another party's record. ``case`` (where the
    findings have one, :func:`with_cases`) is the id of each non-confirmed claim's case,
    the one the register holder's view gives the same register rows, so the two can
    speak of one case through the operator without naming rows to each other.
    """
    mine = pc.equal(findings.column("claims_party"), pa.scalar(party, pa.string()))
    keep = np.asarray(mine.to_numpy(zero_copy_only=False), dtype=bool)
    rows = findings.filter(pa.array(keep))
    own = (
        np.asarray(same_party, dtype=np.uint16)[keep]
        if same_party is not None
        else np.zeros(rows.num_rows, dtype=np.uint16)
    )
    reason = view_reasons(reason_masks(rows.column("reason")), own, with_scores)
    columns: dict[str, pa.Array | pa.ChunkedArray] = {
        "party": _labels(np.zeros(rows.num_rows, np.int8), [party]),
        "claims_file": rows.column("claims_file"),
        "claim_row": rows.column("claim_row"),
        "status": rows.column("status"),
    }
    if with_scores:
        columns["score"] = rows.column("score")
    columns["reason"] = reason
    if with_scores and "evidence" in rows.column_names:
        columns["evidence"] = rows.column("evidence")
    if with_scores and "mislink_probability" in rows.column_names:
        columns["mislink_probability"] = rows.column("mislink_probability")
    if "case" in rows.column_names:
        columns["case"] = rows.column("case")
    return _named(pa.table(columns), party, "claims")


def party_views(result: VerifyResult, with_scores: bool = True) -> dict[str, pa.Table]:
    """{claims party label: its view}, one per party, in the order of the claims files."""
    labels = dict.fromkeys(label for label, _ in result.per_claims)
    return {
        label: party_view(result.findings, label, with_scores, result.same_party)
        for label in labels
    }


CASE_LETTERS = "BCDFGHJKLMNPQRSTVWXZ"
"""The letters of a case id: consonants only, so an id never spells a word, a number or
a date a spreadsheet would convert."""
CASE_HALF = 4  # letters either side of the hyphen: BKQT-MXRZ
CASE_PATTERN = rf"^[{CASE_LETTERS}]{{{CASE_HALF}}}-[{CASE_LETTERS}]{{{CASE_HALF}}}$"
CASE_CONTEXT = b"pprl 2026-11 case ids"


def case_key(ref: Outline, claims: Sequence[Outline]) -> bytes | None:
    """The key a run's case ids are drawn with: a hash of the content digests of every
    input file (the register's and each claims file's, in order), so a run gives the
    same ids whatever engine runs it, and no party can compute them: none holds the
    other parties' files. None when an input records no digest (a clkhash file): the
    ids are then drawn at random."""
    digests = [e.digest for e in (ref, *claims)]
    if not all(digests):
        return None
    return blake3(b"\0".join([CASE_CONTEXT, *(d.encode("ascii") for d in digests)])).digest()


def _case_texts(n: int, key: bytes) -> np.ndarray:
    """``n`` distinct case ids drawn uniformly from the 20**8 possible, in order from the
    keyed BLAKE3 stream of ``key``, as text."""
    space = len(CASE_LETTERS) ** (2 * CASE_HALF)
    if n > space // 4:
        raise InputError(f"{n:,} cases are more than case ids can name apart")
    stream = blake3(CASE_CONTEXT, key=key)
    used = 0

    def draw(k: int) -> np.ndarray:
        nonlocal used
        words = np.frombuffer(stream.digest(length=8 * k, seek=used), dtype="<u8")
        used += 8 * k
        return (words % np.uint64(space)).astype(np.int64)

    ids = draw(n)
    while True:  # the (rare) repeats drawn again, the first of each kept
        _, first = np.unique(ids, return_index=True)
        again = np.ones(n, dtype=bool)
        again[first] = False
        if not again.any():
            break
        ids[again] = draw(int(again.sum()))
    base = len(CASE_LETTERS)
    digits = (ids[:, None] // base ** np.arange(2 * CASE_HALF - 1, -1, -1)) % base
    letters = np.array(list(CASE_LETTERS))[digits]
    dash = np.full((n, 1), "-")
    parts = np.concatenate([letters[:, :CASE_HALF], dash, letters[:, CASE_HALF:]], axis=1)
    return np.ascontiguousarray(parts).view(f"<U{2 * CASE_HALF + 1}").reshape(-1)


def case_ids(findings: pa.Table, key: bytes | None = None) -> pa.Array:
    """Per findings row, the opaque id of its case; null for a confirmed claim.

    A case is what the register holder can act on: non-confirmed claims with the same
    claimed register row, the same likely true owner (``candidate_ref_row``) and the
    same status are one case, whichever party, file or row they come from; a claim with
    neither register row is a case of its own (the register holder never sees it).
    Ids are distinct, drawn from a keyed stream (``key``: :func:`case_key`; None: a
    random key) in the order of the cases' register rows and status, the cases without
    register rows last: with one key, the register holder's ids depend on nothing but
    its cases, and they say nothing but which claims and register rows belong
    together: not the party, the file, the claim row or how many claims a case holds.
    """
    n = findings.num_rows
    status = findings.column("status").cast(pa.string())
    open_ = np.asarray(
        pc.not_equal(status, Status.CONFIRMED.label).to_numpy(zero_copy_only=False), dtype=bool
    )

    def rows(name: str) -> np.ndarray:
        col = pc.fill_null(findings.column(name).cast(pa.int64()), -1)
        return np.asarray(col.to_numpy(), dtype=np.int64).reshape(-1)

    claimed, owner = rows("claimed_ref_row"), rows("candidate_ref_row")
    code = pc.index_in(status, value_set=pa.array(STATUSES, pa.string()))
    status_code = np.asarray(pc.fill_null(code, -1).to_numpy(), dtype=np.int64).reshape(-1)
    at = np.flatnonzero(open_)
    # group key (claimed, status) x owner; a claim with neither row its own group, and
    # drawn last, so the ids the register holder sees depend on its cases alone
    first = (claimed[at] + 1) * (len(STATUSES) + 1) + status_code[at] + 1
    alone = (claimed[at] < 0) & (owner[at] < 0)
    second = np.where(alone, at, owner[at] + 1)
    order = np.lexsort((second, first, alone))
    a, b = first[order], second[order]
    new = np.ones(len(at), dtype=bool)
    new[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    which = np.empty(len(at), dtype=np.int64)
    which[order] = np.cumsum(new) - 1
    count = int(new.sum())
    texts = _case_texts(count, key if key is not None else secrets.token_bytes(32))
    out = np.full(n, "", dtype=texts.dtype if count else "<U1")
    out[at] = texts[which]
    return pa.array(out, type=pa.string(), mask=~open_)


def with_cases(findings: pa.Table, key: bytes | None = None) -> pa.Table:
    """``findings`` with its ``case`` column (:func:`case_ids`), added last; a table
    that has one already is returned as it is."""
    if "case" in findings.column_names:
        return findings
    return findings.append_column("case", case_ids(findings, key))


def reference_view(findings: pa.Table, party: str) -> pa.Table:
    """What the register holder ``party`` receives: its register rows named in a
    non-confirmed claim, ``party, ref_row, role, status, case``.

    ``role`` is ``claimed`` (the claim's number points at this row) or
    ``likely_true_owner`` (this row looks more like the claim's record); ``status`` the
    claim's status; ``case`` pairs the claimed row with the likely owner of the same
    claims (:func:`case_ids`; findings without a ``case`` column get one here). One row
    per (case, role), sorted by case id, which is random: the register holder learns
    which of its rows belong together, not which party or claim, nor how many claims
    (the operator, who holds the findings, brings the parties of a case together).
    """
    t = with_cases(findings)
    t = t.filter(pc.is_valid(t.column("case")))
    if t.num_rows:  # the claims of one case name the same rows: keep one claim per case
        codes = pc.dictionary_encode(t.column("case").combine_chunks()).indices
        _, first = np.unique(np.asarray(codes.to_numpy()), return_index=True)
        t = t.take(pa.array(np.sort(first)))
    parts = []
    for role, column in (
        ("claimed", "claimed_ref_row"),
        ("likely_true_owner", "candidate_ref_row"),
    ):
        sub = t.filter(pc.is_valid(t.column(column)))
        parts.append(
            pa.table(
                {
                    "ref_row": sub.column(column).cast(pa.int64()),
                    "role": _labels(np.zeros(sub.num_rows, np.int8), [role]),
                    "status": sub.column("status").cast(pa.string()),
                    "case": sub.column("case").cast(pa.string()),
                }
            )
        )
    rows = pa.concat_tables(parts).sort_by([("case", "ascending"), ("role", "ascending")])
    view = pa.table(
        {
            "party": _labels(np.zeros(rows.num_rows, np.int8), [party]),
            "ref_row": rows.column("ref_row"),
            "role": rows.column("role"),
            "status": rows.column("status"),
            "case": rows.column("case"),
        }
    )
    return _named(view, party, "reference")


@dataclass(frozen=True)
class Delivery:
    """One party's result file: who receives it, as what, its name under ``parties/``
    and its content."""

    party: str
    role: str  # "claims" or "reference"
    name: str
    table: pa.Table


def deliveries(
    result: VerifyResult, with_scores: bool = True, suffix: str = "csv"
) -> list[Delivery]:
    """Every party's view with its file name (:func:`pprl.labels.view_stems`): one per
    claims party, then the register holder's. Labels that are invalid or would share a
    file are refused (``verify`` refused them already, before any work)."""
    views = party_views(result, with_scores)
    reference = result.summary.reference.party
    stems, ref_stem = view_stems(views, reference)
    out = [
        Delivery(label, "claims", f"{stems[label]}.{suffix}", view) for label, view in views.items()
    ]
    out.append(Delivery(reference, "reference", f"{ref_stem}.{suffix}", result.reference_view))
    return out


def check_party_labels(ref: Outline, claims: Sequence[Outline]) -> None:
    """Refuse, before any work, party labels that are invalid (files encoded before
    labels were checked, or crafted) or whose views would share a file."""
    for enc, role in [(ref, "reference"), *((c, "claims") for c in claims)]:
        try:
            validate_label(enc.label, what=f"{enc.path}: {role} party label")
        except InputError as exc:
            raise InputError(f"{exc}; re-encode the file with a valid --party") from None
    view_stems([c.label for c in claims], ref.label)


def _value_counts(column: pa.ChunkedArray) -> dict[str, int]:
    """{value: count} of a string column, counted by arrow."""
    counts = pc.value_counts(column)
    return dict(
        zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True)
    )


def input_info(enc: Outline, role: str) -> InputInfo:
    """One input file as the summary records it."""
    return InputInfo(
        file=str(enc.path),
        role=role,
        party=enc.label,
        records=len(enc),
        digest=enc.meta.get("digest"),
        key_fingerprint=enc.meta.get("key_fingerprint"),
        schema=enc.meta.get("schema_name"),
        schema_digest=enc.meta.get("schema_digest"),
    )


def build_summary(
    findings: pa.Table,
    ref: Outline,
    claims: Sequence[Outline],
    th: Thresholds,
    blocking: Sequence[str],
    duplicates: int,
    timings: dict[str, float],
    started_at: str,
    estimate: MislinkEstimate | None = None,
) -> VerifySummary:
    """Counts per status and reason, thresholds, inputs, timings and warnings.

    ``blocking`` are the block keys searched; ``duplicates`` how many pseudonyms the
    register holds more than once (all 32 bytes compared); ``estimate`` the run's
    mislink probabilities (summarised as the expected number of mislinks).
    """
    by_status = _value_counts(findings.column("status"))
    counts = {st: int(by_status.get(st, 0)) for st in STATUSES}
    reasons: dict[str, int] = {}
    for text, n in _value_counts(findings.column("reason")).items():
        for code in filter(None, text.split(";")):
            reasons[code] = reasons.get(code, 0) + n
    inputs = [input_info(ref, "reference")] + [input_info(e, "claims") for e in claims]
    warnings = []
    unknown = findings.filter(pc.equal(findings.column("status"), "unknown_number"))
    unknown_by_party = _value_counts(unknown.column("claims_party")) if unknown.num_rows else {}
    for enc in claims:
        n_unknown = unknown_by_party.get(enc.label, 0)
        if len(enc) and n_unknown > 0.5 * len(enc):
            warnings.append(
                f"{n_unknown} of {len(enc)} claims of {enc.label} have numbers not in "
                "the reference: is the reference really the register?"
            )
    if duplicates:
        warnings.append(
            f"the reference holds {duplicates} pseudonym(s) more than once; claims "
            "on them were scored against the best-matching record"
        )
    mislinks = None
    if estimate is not None:
        p = estimate.probability
        if estimate.fallback is None:
            expected, low, high = mislink_interval(p)
            mislinks = MislinkSummary(int((~np.isnan(p)).sum()), expected, low, high)
        else:
            mislinks = MislinkSummary(0, 0.0, 0.0, 0.0, estimate.fallback)
    return VerifySummary(
        pprl_version=__version__,
        claims=findings.num_rows,
        counts=counts,
        reasons=dict(sorted(reasons.items(), key=lambda kv: -kv[1])),
        thresholds=th,
        blocking=list(blocking),
        inputs=inputs,
        timings=timings,
        warnings=warnings,
        started_at=started_at,
        mislinks=mislinks,
    )


def write_outputs(
    result: VerifyResult,
    out_dir: str | Path,
    *,
    party_scores: bool = True,
    formats: Sequence[str] = ("parquet", "csv"),
    force: bool = False,
    inputs: Sequence[str | Path] = (),
) -> list[Path]:
    """Write findings, per-party views, summary.json and report.html into ``out_dir``.

    ``party_scores=False`` withholds scores from the claims parties' views. The findings
    are written once per format in ``formats`` (``parquet``, ``csv``); the parties' views
    as CSV when ``csv`` is among them, else as Parquet.

    The files are one result set (:mod:`pprl.resultset`): written in a temporary folder
    beside ``out_dir``, listed with their blake3 digests (and the party each view goes to)
    in ``manifest.json``, written last, and switched in with one rename. ``out_dir`` must
    be new, empty, or (with ``force``) pprl's own previous result set; anything else is
    refused and left untouched. ``inputs`` (the files the run read) are never replaced:
    an ``out_dir`` holding one is refused, even with ``force``.
    """
    import pyarrow.parquet as pq

    from pprl.report import render_report

    bad = sorted(set(formats) - {"parquet", "csv"})
    if bad or not formats:
        raise InputError(f"findings formats are parquet and csv, not {', '.join(bad) or 'none'}")
    suffix = "csv" if "csv" in formats else "parquet"

    def write(table: pa.Table, path: Path) -> None:
        if path.suffix == ".csv":
            write_csv(table, path)
        else:
            pq.write_table(table, path)

    out = Path(out_dir)
    with result_set(out, "verify", force=force, inputs=inputs) as rs:
        tmp = rs.path
        for fmt in dict.fromkeys(formats):
            write(result.findings, tmp / f"findings.{fmt}")
        parties = tmp / "parties"
        parties.mkdir()
        delivered = []
        for view in deliveries(result, party_scores, suffix):
            write(view.table, parties / view.name)
            rs.deliver(view.party, f"parties/{view.name}", view.role)
            delivered.append(
                {
                    "party": view.party,
                    "role": view.role,
                    "file": f"parties/{view.name}",
                    "blake3": file_digest(parties / view.name),
                }
            )
        summary = {**result.summary.to_json(), "parties": delivered}  # label -> file -> digest
        (tmp / "summary.json").write_text(
            json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8"
        )
        (tmp / "report.html").write_text(
            render_report(result.findings, result.summary), encoding="utf-8"
        )
    return [out / rel for rel in rs.files]
