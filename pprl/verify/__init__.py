"""Claimed-link verification: the central matcher's main job.

For every claim record (a party's record together with the individual number it was
linked to, both encoded), :func:`verify` answers: does the registered person behind
that number look like this record, and does somebody else in the register look like
it clearly better? It works on encoding files only; the matcher never holds the secret.

Steps, in the order data flows:

1. **join** each claim to the register on the link-key pseudonym
   (no pseudonym -> ``invalid_number``; no register record -> ``unknown_number``);
2. **score** the claimed pair (Dice of the CLKs);
3. **search** the register for the best match other than the claimed record, within
   keyed blocks (see :mod:`pprl.compare.keyed`), giving ``candidate_ref_row``,
   ``candidate_score`` and ``margin = candidate_score - score``;
4. **decide** ``confirmed`` / ``review`` / ``suspect`` from the score and the margin
   together (:class:`Thresholds`), with the reasons that drove the decision;
5. **cross-check** records against each other: one number claimed by different people,
   one person claimed under several numbers, and alternatives that are themselves
   claimed by another record.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pprl import __version__
from pprl.compare import dice_indexed, dice_pairs
from pprl.compare.keyed import block_pair_count, topk_by_block_keys
from pprl.errors import InputError
from pprl.store import Encodings, check_compatible, read_encodings
from pprl.verify.model import (
    REASONS,
    STATUSES,
    InputInfo,
    Reason,
    Status,
    Thresholds,
    VerifySummary,
)

Progress = Callable[[str], None]

# Status codes and reason bits; strings are made only for output.
CONFIRMED, REVIEW, SUSPECT, UNKNOWN, INVALID = (int(s) for s in Status)
BIT = {r.label: np.uint16(r.value) for r in Reason}


@dataclass
class ClaimsResult:
    """Per-claim arrays for one claims file (index = position in the file).

    ``status`` holds codes into :data:`STATUSES`, ``reasons`` bitmasks over
    :data:`REASONS`; both are filled by :func:`decide` and :func:`cross_check`.
    """

    enc: Encodings
    claimed: np.ndarray            # register index of the claimed record, -1 none
    score: np.ndarray              # claimed Dice, NaN none
    cand: np.ndarray               # register index of best alternative, -1 none
    cand_score: np.ndarray         # NaN none
    status: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int8))
    reasons: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.uint16))


__all__ = ["REASONS", "STATUSES", "InputInfo", "Reason", "Status", "Thresholds",
           "VerifyResult", "VerifySummary", "block_pair_count", "verify", "write_outputs"]

CrossInputs = tuple[np.ndarray, np.ndarray, "np.ndarray | None"]
"""(a, b, near): the claim-to-claim comparisons :func:`apply_cross_checks` needs."""


def token_keys(enc: Encodings) -> np.ndarray:
    """First 8 bytes of each pseudonym as uint64: a join key; full tokens confirm matches."""
    return np.ascontiguousarray(enc.tokens[:, :8]).view("<u8").ravel()


def join_on_tokens(ref: Encodings, claims: Encodings) -> tuple[np.ndarray, np.ndarray]:
    """Register index for each claim's pseudonym (-1 if none), and the duplicate count.

    When the register holds a pseudonym more than once (a data error there), the claim
    is joined to every such record and the caller keeps the best-scoring one; the
    returned ``multi`` array marks those claims.
    """
    order, sorted_keys = token_index(ref)
    return join_with_index(ref, order, sorted_keys, claims)


def token_index(ref: Encodings) -> tuple[np.ndarray, np.ndarray]:
    """Register rows with a pseudonym, sorted by join key: (row order, sorted keys)."""
    rkeys = token_keys(ref)
    ridx = np.flatnonzero(ref.has_token)
    order = ridx[np.argsort(rkeys[ridx], kind="stable")]
    return order, rkeys[order]


def join_with_index(ref: Encodings, order: np.ndarray, sorted_keys: np.ndarray,
                    claims: Encodings) -> tuple[np.ndarray, np.ndarray]:
    """:func:`join_on_tokens` against a prebuilt :func:`token_index` (reusable per worker)."""
    ckeys = token_keys(claims)
    lo = np.searchsorted(sorted_keys, ckeys, "left")
    hi = np.searchsorted(sorted_keys, ckeys, "right")
    claimed = np.full(len(claims), -1, dtype=np.int64)
    multi = np.zeros(len(claims), dtype=bool)
    single = claims.has_token & (hi - lo == 1)
    cand = order[np.minimum(lo, max(len(order) - 1, 0))] if len(order) else lo * 0
    exact = single & _same_tokens(ref.tokens, cand, claims.tokens) if len(order) else single
    claimed[exact] = cand[exact]
    for i in np.flatnonzero(claims.has_token & (hi - lo > 1)):
        members = [r for r in order[lo[i]:hi[i]] if (ref.tokens[r] == claims.tokens[i]).all()]
        if not members:
            continue
        scores = dice_pairs(np.repeat(claims.clks[i:i + 1], len(members), axis=0),
                            ref.clks[members])
        claimed[i] = members[int(np.argmax(scores))]
        multi[i] = len(members) > 1
    return claimed, multi


def _same_tokens(ref_tokens: np.ndarray, cand: np.ndarray, claim_tokens: np.ndarray,
                 block: int = 1 << 20) -> np.ndarray:
    """Whether ``ref_tokens[cand[i]] == claim_tokens[i]`` in full, compared block by block
    (the join keys are only the first 8 bytes; gathering all tokens at once would copy
    them twice)."""
    out = np.empty(len(cand), dtype=bool)
    for start in range(0, len(cand), block):
        stop = start + block
        out[start:stop] = (ref_tokens[cand[start:stop]] == claim_tokens[start:stop]).all(axis=1)
    return out


def block_key_names(ref: Encodings, claims: Encodings, names: Sequence[str] | None
                    ) -> list[str]:
    """The block keys to search within: ``names``, or every key both files carry (in the
    claims file's order); refuses chosen keys that a file lacks."""
    common = [n for n in claims.block_keys if n in ref.block_keys]
    chosen = common if names is None else [n for n in names if n in common]
    if names is not None and len(chosen) != len(names):
        missing = sorted(set(names) - set(common))
        raise InputError(f"block key(s) {', '.join(missing)} are not in both encoding files "
                         f"(available: {', '.join(common) or 'none'})")
    return chosen


def block_keys_for(ref: Encodings, claims: Encodings, names: Sequence[str] | None
                   ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """The (query values, valid, ref values, valid) of the block keys both files carry."""
    return [(*claims.block_keys[n], *ref.block_keys[n])
            for n in block_key_names(ref, claims, names)]


def score_and_search(ref: Encodings, claims: Encodings, th: Thresholds,
                     blocking: Sequence[str] | None) -> ClaimsResult:
    """Join, score the claimed pairs and find the best alternative for every claim."""
    claimed, _ = join_on_tokens(ref, claims)
    score = np.full(len(claims), np.nan)
    has = claimed >= 0
    if has.any():
        score[has] = dice_indexed(claims.clks, ref.clks, np.flatnonzero(has), claimed[has])
    keys = block_keys_for(ref, claims, blocking)
    if not keys:
        raise InputError(f"{claims.path}: no block keys shared with the reference; encode both "
                         "with a schema that defines block_keys (e.g. jp-resident)")
    cand, cand_score = topk_by_block_keys(claims.clks, ref.clks, keys, k=1,
                                          threshold=th.search_score, exclude=claimed)
    cs = cand_score[:, 0].copy()
    cs[cand[:, 0] < 0] = np.nan
    return ClaimsResult(claims, claimed, score, cand[:, 0].copy(), cs)


def decide(res: ClaimsResult, th: Thresholds) -> None:
    """Set status and reasons of every claim from its score and margin (vectorized)."""
    n = len(res.enc)
    status = np.full(n, CONFIRMED, dtype=np.int8)
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
    for mask, code in ((invalid, "no_valid_number"), (unknown, "no_register_record"),
                       (low, "low_score"), (weak, "weak_score"),
                       (better, "better_match_elsewhere"), (close, "thin_evidence"),
                       (ok & ~suspect & ~review, "match")):
        reasons[mask] |= BIT[code]
    status[review] = REVIEW
    status[suspect] = SUSPECT
    status[unknown] = UNKNOWN
    status[invalid] = INVALID
    res.status, res.reasons = status, reasons


def _pairs_within_groups(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All index pairs (i < j) of equal keys, vectorized; groups are small."""
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


def cross_check(results: list[ClaimsResult], ref: Encodings, th: Thresholds,
                blocking: Sequence[str] | None) -> dict[str, int]:
    """Flag records whose story conflicts with another record's, across all claims files.

    Compares claims with claims (:func:`shared_number_pairs`, :func:`nearest_other_claim`)
    and applies the flags with :func:`apply_cross_checks`. Returns how many records got
    each cross-check reason.
    """
    if not results:
        return {}
    clks = results[0].enc.clks if len(results) == 1 else np.concatenate(
        [r.enc.clks for r in results])  # no copy of the CLKs for a single claims file
    has = np.concatenate([r.enc.has_token for r in results])
    keys = np.concatenate([token_keys(r.enc) for r in results])
    a, b = shared_number_pairs(clks, has, keys, th.different_people)
    joined = _joined_blocks(results, blocking)
    near = nearest_other_claim(clks, joined, th.same_person) if joined else None
    return apply_cross_checks(results, th, a, b, near)


def shared_number_pairs(clks: np.ndarray, has: np.ndarray, keys: np.ndarray,
                        different_people: float) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (i, j) of claims with the same pseudonym key whose CLKs score below
    ``different_people``: one number used for two people."""
    valid = np.flatnonzero(has)
    a, b = _pairs_within_groups(keys[valid])
    a, b = valid[a], valid[b]
    if len(a):
        differ = dice_indexed(clks, clks, a, b) < different_people
        a, b = a[differ], b[differ]
    return a, b


def nearest_other_claim(clks: np.ndarray,
                        keys: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
                        same_person: float) -> np.ndarray:
    """For each claim, the most similar other claim sharing a block key with a score of at
    least ``same_person`` (-1 for none): candidates for one person under several numbers."""
    near, _ = topk_by_block_keys(clks, clks, keys, k=1, threshold=same_person,
                                 exclude=np.arange(len(clks)))
    return near[:, 0]


def apply_cross_checks(results: list[ClaimsResult], th: Thresholds, a: np.ndarray,
                       b: np.ndarray, near: np.ndarray | None) -> dict[str, int]:
    """Set the cross-check reasons from the claim-to-claim comparisons.

    ``a``, ``b`` are the pairs of :func:`shared_number_pairs` and ``near`` the result of
    :func:`nearest_other_claim` (None when no block key is shared), all indexing the
    claims files concatenated in order. Needs no CLKs, so the Dask engine can compute
    the comparisons on its workers and apply them here.
    """
    has = np.concatenate([r.enc.has_token for r in results])
    keys = np.concatenate([token_keys(r.enc) for r in results])
    score = np.nan_to_num(np.concatenate([r.score for r in results]), nan=-1.0)
    flags = np.zeros(len(has), dtype=np.uint16)
    escalate = np.zeros(len(has), dtype=bool)
    # one number, different people
    if len(a):
        flags[a] |= BIT["number_shared_by_different_people"]
        flags[b] |= BIT["number_shared_by_different_people"]
        escalate[np.where(score[a] < score[b], a, b)] = True
    # one person, several numbers
    if near is not None:
        i = np.flatnonzero(near >= 0)
        j = near[i]
        hit = has[i] & has[j] & (keys[i] != keys[j])
        i, j = i[hit], j[hit]
        flags[i] |= BIT["person_under_several_numbers"]
        escalate[i[score[i] < score[j]]] = True
    # the record this claim more likely belongs to is claimed by another record
    claimed_refs = np.concatenate([r.claimed for r in results])
    cands = np.concatenate([r.cand for r in results])
    is_claimed = np.zeros(max(int(claimed_refs.max(initial=-1)), int(cands.max(initial=-1))) + 1,
                          dtype=bool)  # by register index: O(n), unlike a set of indices
    is_claimed[claimed_refs[claimed_refs >= 0]] = True
    margin = np.concatenate([r.cand_score for r in results]) - score
    contested = (cands >= 0) & ~(margin <= th.margin_review)  # close or better; NaN counts
    contested[contested] &= is_claimed[cands[contested]]
    flags[contested] |= BIT["alternative_claimed_by_other_record"]
    _apply_flags(results, flags, escalate)
    return {code: int(((flags & BIT[code]) > 0).sum()) for code in REASONS[7:]
            if (flags & BIT[code]).any()}


def _joined_blocks(results: list[ClaimsResult], blocking: Sequence[str] | None):
    """Block keys over all claims files together, for comparing claims with each other."""
    names = [n for n in results[0].enc.block_keys
             if all(n in r.enc.block_keys for r in results)] if results else []
    if blocking is not None:
        names = [n for n in names if n in blocking]
    out = []
    for n in names:
        vals = np.concatenate([r.enc.block_keys[n][0] for r in results])
        ok = np.concatenate([r.enc.block_keys[n][1] for r in results])
        out.append((vals, ok, vals, ok))
    return out


def _apply_flags(results: list[ClaimsResult], flags: np.ndarray, escalate: np.ndarray) -> None:
    """Add cross-check reasons; a confirmed claim that is the weaker of two conflicting
    records goes to review (one of the two links must be wrong)."""
    start = 0
    for res in results:
        end = start + len(res.enc)
        res.reasons |= flags[start:end]
        up = escalate[start:end] & (res.status == CONFIRMED)
        res.status[up] = REVIEW
        res.reasons[up] &= ~BIT["match"]
        start = end


def _labels(codes: np.ndarray, names: Sequence[str]) -> pa.Array:
    """String column from integer codes, built by arrow (no Python string per row)."""
    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)),
                                          pa.array(list(names), pa.string())).cast(pa.string())


def reason_texts(masks: np.ndarray) -> pa.Array:
    """``code;code`` strings for reason bitmasks, in :data:`REASONS` order."""
    uniq, inverse = np.unique(masks, return_inverse=True)
    texts = [";".join(c for c in REASONS if int(m) & int(BIT[c])) for m in uniq]
    return _labels(inverse.reshape(-1), texts)


def findings_table(res: ClaimsResult, ref: Encodings) -> pa.Table:
    """One row per claim: the findings format of the CLI contract."""
    n = len(res.enc)
    name = res.enc.path.name if res.enc.path else res.enc.label
    ref_rows = ref.rows

    def rows_of(idx: np.ndarray) -> pa.Array:
        return pa.array(np.where(idx >= 0, ref_rows[np.maximum(idx, 0)] if len(ref_rows) else 0, 0),
                        type=pa.int64(), mask=idx < 0)

    def floats(x: np.ndarray) -> pa.Array:
        return pa.array(np.nan_to_num(x), type=pa.float64(), mask=np.isnan(x))

    return pa.table({
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
    })


@dataclass
class VerifyResult:
    """Everything a verification run produced, before it is written."""

    findings: pa.Table
    summary: VerifySummary
    per_claims: list[tuple[str, pa.Table]]
    reference_view: pa.Table


def schema_thresholds(enc: Encodings, overrides: dict[str, float] | None = None) -> Thresholds:
    """Thresholds for files of this schema: the built-in defaults, then the schema's
    ``pprl.verify`` values (tuned for it), with ``overrides`` (e.g. CLI options) on top."""
    try:
        return Thresholds.for_schema(enc.meta.get("schema"), overrides)
    except ValueError as exc:
        raise InputError(str(exc)) from None


def verify(reference: str | Path, claims: Sequence[str | Path], *,
           thresholds: Thresholds | dict[str, float] | None = None,
           blocking: Sequence[str] | None = None,
           progress: Progress | None = None, threads: int | None = None,
           workers: int | None = None, scheduler: str | None = None) -> VerifyResult:
    """Verify every claim record of ``claims`` against the ``reference`` register.

    ``thresholds`` is a full :class:`Thresholds`, or a dict overriding some of the
    schema's tuned defaults (see :func:`schema_thresholds`). ``workers`` (a local Dask
    cluster of that many processes) or ``scheduler`` (a running Dask scheduler's address)
    run the join, scoring and search on a cluster (:mod:`pprl.distributed`), with
    identical findings; without either, everything runs here and dask is not imported.
    ``threads`` is the number of kernel threads in this process (default: all cores); a
    Dask worker uses its own ``--nthreads``.
    """
    if threads is not None and (workers is not None or scheduler is not None):
        raise InputError("threads sets the kernel threads of one process; Dask workers use "
                         "their own --nthreads: give threads or workers/scheduler, not both")
    if workers is not None or scheduler is not None:
        from pprl.distributed import verify_distributed

        return verify_distributed(reference, claims, thresholds=thresholds, blocking=blocking,
                                  progress=progress, workers=workers, scheduler=scheduler)
    with _kernel_threads(threads):
        return _verify_here(reference, claims, thresholds, blocking, progress)


@contextlib.contextmanager
def _kernel_threads(threads: int | None) -> Iterator[None]:
    """Run the numba kernels on ``threads`` threads (None: leave numba's setting)."""
    if threads is None:
        yield
        return
    if threads < 1:
        raise InputError(f"threads must be at least 1, got {threads}")
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        yield
    finally:
        numba.set_num_threads(before)


def _verify_here(reference: str | Path, claims: Sequence[str | Path],
                 thresholds: Thresholds | dict[str, float] | None,
                 blocking: Sequence[str] | None, progress: Progress | None) -> VerifyResult:
    """The local engine: every step in this process."""
    say = progress or (lambda stage: None)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    say("reading encoding files")
    ref = read_encodings(reference)
    claim_encs = [read_encodings(c) for c in claims]
    _check_inputs(ref, claim_encs)
    th = thresholds if isinstance(thresholds, Thresholds) else schema_thresholds(ref, thresholds)
    timings["read"] = time.perf_counter() - t0
    results = []
    for enc in claim_encs:
        t = time.perf_counter()
        say(f"scoring and searching {enc.label}")
        res = score_and_search(ref, enc, th, blocking)
        decide(res, th)
        results.append(res)
        timings[f"score_search:{enc.label}"] = time.perf_counter() - t
    return finish(results, ref, claim_encs, th, blocking, timings, say)


def _release_clks(encodings: Sequence[Encodings]) -> None:
    """Drop CLK arrays once every comparison is done: findings need rows and labels only,
    and at national scale the CLKs are most of the memory."""
    for enc in encodings:
        enc.clks = np.empty((0, enc.clks.shape[1]), dtype=enc.clks.dtype)  # not a view


def finish(results: list[ClaimsResult], ref: Encodings, claim_encs: list[Encodings],
           th: Thresholds, blocking: Sequence[str] | None, timings: dict[str, float],
           say: Progress, cross: CrossInputs | None = None) -> VerifyResult:
    """The global steps after per-claim scoring and search: cross-record checks, findings
    tables, per-party views and the summary (shared by the local and Dask engines).

    The register's CLK array is released before the cross-record checks (they compare
    claims with claims), the claims' after them. ``cross`` holds claim-to-claim
    comparisons already made elsewhere (the Dask engine's workers); without it they are
    made here.
    """
    t = time.perf_counter()
    say("cross-record checks")
    _release_clks([ref])  # every claim has been compared with the register
    if cross is None:
        flag_counts = cross_check(results, ref, th, blocking)
    else:
        flag_counts = apply_cross_checks(results, th, *cross)
    timings["cross_check"] = time.perf_counter() - t
    say("building findings")
    _release_clks([*claim_encs, *(r.enc for r in results)])
    tables = [findings_table(r, ref) for r in results]
    findings = pa.concat_tables(tables)
    summary = _summary(findings, ref, claim_encs, th, blocking, flag_counts, timings)
    per_claims = [(r.enc.label, table) for r, table in zip(results, tables, strict=True)]
    return VerifyResult(findings, summary, per_claims, reference_view(findings))


def _check_inputs(ref: Encodings, claim_encs: list[Encodings]) -> None:
    """Refuse incomparable or misused inputs before any work."""
    if not claim_encs:
        raise InputError("give at least one --claims file")
    if len(ref) == 0:
        raise InputError(f"{ref.path}: the reference file holds no records")
    if not ref.has_token.any():
        raise InputError(f"{ref.path}: the reference has no link-key pseudonyms; encode the "
                         "register with its link key (e.g. --link-key my_number)")
    for enc in claim_encs:
        check_compatible(ref, enc)
        if enc.meta.get("digest") and enc.meta.get("digest") == ref.meta.get("digest"):
            raise InputError(f"{enc.path}: the claims file is the reference file itself")


def party_view(table: pa.Table, with_scores: bool = True) -> pa.Table:
    """What a claims party receives: its own rows, status, reason and (unless withheld) score.

    Register rows are never included: they belong to the register holder. Withholding
    scores (``with_scores=False``) stops a claims party from learning how similar its
    records are to records it cannot see.
    """
    columns = ["claim_row", "status", "score", "reason"] if with_scores else [
        "claim_row", "status", "reason"]
    return table.select(columns)


def reference_view(findings: pa.Table) -> pa.Table:
    """What the reference party receives: its rows named in a finding, and why.

    For each non-confirmed claim: the register row that was claimed and, where found,
    the register row that is likely the true owner, with the claim it relates to.
    """
    t = findings.filter(pc.not_equal(findings.column("status"), "confirmed"))
    parts = []
    for role, column in (("claimed", "claimed_ref_row"), ("likely_true_owner", "candidate_ref_row")):
        sub = t.filter(pc.is_valid(t.column(column)))
        parts.append(pa.table({
            "ref_row": sub.column(column),
            "role": _labels(np.zeros(sub.num_rows, np.int8), [role]),
            "claims_party": sub.column("claims_party"),
            "claim_row": sub.column("claim_row"),
            "status": sub.column("status"),
        }))
    return pa.concat_tables(parts)


def _value_counts(column: pa.ChunkedArray) -> dict[str, int]:
    """{value: count} of a string column, counted by arrow."""
    counts = pc.value_counts(column)
    return dict(zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(),
                    strict=True))


def _summary(findings: pa.Table, ref: Encodings, claim_encs: list[Encodings], th: Thresholds,
             blocking: Sequence[str] | None, flag_counts: dict[str, int],
             timings: dict[str, float]) -> VerifySummary:
    """Counts per status and reason, thresholds, inputs and timings (JSON-able)."""
    by_status = _value_counts(findings.column("status"))
    counts = {st: int(by_status.get(st, 0)) for st in STATUSES}
    reasons: dict[str, int] = {}
    for text, n in _value_counts(findings.column("reason")).items():
        for code in filter(None, text.split(";")):
            reasons[code] = reasons.get(code, 0) + n
    inputs = [_input_info(ref, "reference")] + [_input_info(e, "claims") for e in claim_encs]
    warnings = []
    unknown = findings.filter(pc.equal(findings.column("status"), "unknown_number"))
    unknown_by_party = _value_counts(unknown.column("claims_party")) if unknown.num_rows else {}
    for enc in claim_encs:
        n_unknown = unknown_by_party.get(enc.label, 0)
        if len(enc) and n_unknown > 0.5 * len(enc):
            warnings.append(f"{n_unknown} of {len(enc)} claims of {enc.label} have numbers not in "
                            "the reference: is the reference really the register?")
    dup = _duplicate_count(ref)
    if dup:
        warnings.append(f"the reference holds {dup} pseudonym(s) more than once; claims on them "
                        "were scored against the best-matching record")
    return VerifySummary(
        pprl_version=__version__,
        claims=findings.num_rows,
        counts=counts,
        reasons=dict(sorted(reasons.items(), key=lambda kv: -kv[1])),
        thresholds=th,
        blocking=list(blocking) if blocking is not None else sorted(ref.block_keys),
        inputs=inputs,
        timings=timings,
        warnings=warnings,
    )


def _duplicate_count(ref: Encodings) -> int:
    keys = token_keys(ref)[ref.has_token]
    _, c = np.unique(keys, return_counts=True)
    return int((c > 1).sum())


def _input_info(enc: Encodings, role: str) -> InputInfo:
    return InputInfo(file=str(enc.path), role=role, party=enc.label, records=len(enc),
                     digest=enc.meta.get("digest"), key_fingerprint=enc.meta.get("key_fingerprint"),
                     schema=enc.meta.get("schema_name"),
                     schema_digest=enc.meta.get("schema_digest"))


def _safe_name(label: str) -> str:
    """A file-name-safe version of a party label."""
    keep = "".join(c if c.isalnum() or c in "-_." else "_" for c in label)
    return keep.strip("._") or "party"


def write_outputs(result: VerifyResult, out_dir: str | Path, *, party_scores: bool = True,
                  formats: Sequence[str] = ("parquet", "csv")) -> list[Path]:
    """Write findings, per-party views, summary.json and report.html into ``out_dir``.

    ``party_scores=False`` withholds scores from the claims parties' views. The findings
    are written once per format in ``formats`` (``parquet``, ``csv``); the parties' views
    as CSV when ``csv`` is among them, else as Parquet.

    Everything is first written to a temporary folder beside ``out_dir`` and moved into
    place only when all of it succeeded, so a failed run leaves no partial results.
    """
    import json
    import shutil
    import tempfile

    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from pprl.report import render_report

    bad = sorted(set(formats) - {"parquet", "csv"})
    if bad or not formats:
        raise InputError(f"findings formats are parquet and csv, not {', '.join(bad) or 'none'}")
    suffix = "csv" if "csv" in formats else "parquet"

    def write(table: pa.Table, path: Path) -> None:
        if path.suffix == ".csv":
            pacsv.write_csv(table, path)
        else:
            pq.write_table(table, path)

    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for fmt in dict.fromkeys(formats):
            write(result.findings, tmp / f"findings.{fmt}")
        parties = tmp / "parties"
        parties.mkdir()
        used: set[str] = set()
        for label, table in result.per_claims:
            name = _safe_name(label)
            while name in used:
                name += "_"
            used.add(name)
            write(party_view(table, party_scores), parties / f"{name}.{suffix}")
        ref_label = _safe_name(result.summary.reference.party)
        write(result.reference_view, parties / f"{ref_label}.reference.{suffix}")
        (tmp / "summary.json").write_text(json.dumps(result.summary.to_json(), ensure_ascii=False, indent=2),
                                          encoding="utf-8")
        (tmp / "report.html").write_text(render_report(result.findings, result.summary),
                                         encoding="utf-8")
        written = sorted(p.relative_to(tmp) for p in tmp.rglob("*") if p.is_file())
        out.mkdir(exist_ok=True)
        if (out / "parties").exists():
            shutil.rmtree(out / "parties")
        for stale in ("parquet", "csv"):  # a findings file of an earlier run's format
            if stale not in formats:
                (out / f"findings.{stale}").unlink(missing_ok=True)
        for rel in written:
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp / rel).replace(out / rel)
        return [out / rel for rel in written]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
