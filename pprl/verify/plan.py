"""A verification run as a plan: picklable stage and partition descriptors plus pure
per-partition functions, which every engine runs the same way.

Stages, in order:

1. **join** (:func:`join_partition`), partitioned by pseudonym range: each claim's
   claimed register record, score and per-attribute evidence
   (:mod:`~pprl.verify.evidence`: the pieces carry the evidence block keys), which
   claims share a number, the pairs of them
   that score as different people (at most a few per claim, however many share one
   number), and the register's duplicate pseudonyms. All records with one pseudonym are
   in the same partition.
2. **search**, one stage per block key (:class:`SearchStage`, :func:`search_partition`),
   partitioned by block-value range: each claim's two best register records and two
   most similar other claims in its block.

An engine cuts the files into partitions (:mod:`pprl.partition`), runs the partition
functions wherever it likes, and feeds their outputs, in stage order, to one
:class:`Accumulator`; :func:`finish` then decides, cross-checks and builds the findings.
The local engine runs every stage as one whole-file partition; the Dask engine runs the
same plan as many partitions on a cluster. Both give identical findings.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from pprl.errors import InputError
from pprl.partition import FileRef, Layout, Piece
from pprl.store import (
    Encodings,
    Outline,
    check_compatible,
    check_roles,
    duplicate_tokens,
    token_groups,
)
from pprl.verify.cross_checks import (
    GROUP_LIMITS,
    GroupLimits,
    apply_flags,
    cross_check_flags,
    shared_number_pairs,
)
from pprl.verify.decide import ClaimsResult, decide
from pprl.verify.evidence import State, attribute_codes, evidence_keys, key_states
from pprl.verify.join import join_claims
from pprl.verify.model import Thresholds
from pprl.verify.outputs import (
    VerifyResult,
    build_summary,
    case_key,
    check_party_labels,
    findings_table,
    reference_view,
    same_party_reasons,
    with_cases,
)
from pprl.verify.probability import (
    MislinkEstimate,
    compare_evidence,
    decide_by_probability,
    estimate_mislink,
    tf_offset,
)
from pprl.verify.score import score_claimed
from pprl.verify.search import NO_KEY, fold_best, joined_names, search_names, top2

__all__ = [
    "Accumulator",
    "FileRef",
    "JoinOutput",
    "SearchOutput",
    "SearchStage",
    "StageProgress",
    "ThresholdSpec",
    "VerifyPlan",
    "check_inputs",
    "finish",
    "join_partition",
    "mislink_step",
    "plan_verify",
    "resolve_thresholds",
    "schema_thresholds",
    "search_partition",
]

StageProgress = Callable[[str], None]
"""Called with a short description of each stage of a run as it starts."""

ThresholdSpec = Thresholds | Mapping[str, float | None] | None
"""What a caller may pass as thresholds: a full :class:`Thresholds` (used as given), a
mapping of overrides applied on top of the schema's tuned values, or None (the
schema's values)."""


def resolve_thresholds(ref: Outline | Encodings, spec: ThresholdSpec) -> Thresholds:
    """The thresholds of a run on files of ``ref``'s schema.

    A :class:`Thresholds` is used exactly as given (every field: the schema's tuned
    values do not apply). Otherwise the built-in defaults, then the schema's
    ``pprl.verify`` values, then the given overrides (None values ignored), via
    :meth:`Thresholds.for_schema`. Bad values are a one-line :class:`InputError`.
    """
    if isinstance(spec, Thresholds):
        return spec
    tuned = schema_thresholds(ref)
    try:
        base = Thresholds().with_overrides(tuned)
    except ValueError as exc:  # each value is valid: two of them contradict each other
        raise InputError(f"{ref.path}: schema field pprl.verify: {exc}") from None
    try:
        return base.with_overrides(spec)
    except (ValueError, TypeError) as exc:
        raise InputError(str(exc)) from None


def schema_thresholds(ref: Outline | Encodings) -> dict[str, float]:
    """The ``pprl.verify`` thresholds of the schema embedded in ``ref``'s metadata,
    each checked: a crafted or damaged schema (``pprl`` that is not an object, an
    unknown name, '0.9' as text, NaN, a score outside 0-1) is one :class:`InputError`
    naming the file and the field."""
    where = f"{ref.path}: schema field"
    schema = ref.meta.get("schema")
    if schema is None:
        return {}
    if not isinstance(schema, Mapping):
        raise InputError(f"{where} schema must be an object, not {type(schema).__name__}")
    section = schema.get("pprl")
    if section is None:
        return {}
    if not isinstance(section, Mapping):
        raise InputError(f"{where} pprl must be an object, not {type(section).__name__}")
    tuned = section.get("verify")
    if tuned is None:
        return {}
    if not isinstance(tuned, Mapping):
        raise InputError(f"{where} pprl.verify must be an object, not {type(tuned).__name__}")
    known = Thresholds.names()
    values: dict[str, float] = {}
    for name, value in tuned.items():
        if name not in known:
            raise InputError(
                f"{where} pprl.verify.{name}: unknown threshold (known: {', '.join(known)})"
            )
        problem = Thresholds.value_problem(name, value)
        if problem:
            raise InputError(f"{where} pprl.verify.{name} {problem}")
        values[name] = float(value)
    return values


def check_inputs(ref: Outline, claims: Sequence[Outline]) -> None:
    """Refuse incomparable or misused inputs before any work."""
    if not claims:
        raise InputError("give at least one --claims file")
    check_roles(ref, claims)
    if len(ref) == 0:
        raise InputError(f"{ref.path}: the reference file holds no records")
    if not ref.has_token.any():
        raise InputError(
            f"{ref.path}: the reference has no link-key pseudonyms; encode the "
            "register with its link key (e.g. --link-key my_number)"
        )
    for enc in claims:
        check_compatible(ref, enc)
        if enc.digest and enc.digest == ref.digest:
            raise InputError(f"{enc.path}: the claims file is the reference file itself")
    check_party_labels(ref, claims)


@dataclass(frozen=True)
class SearchStage:
    """The search within one block key.

    ``ranks[f]`` is the key's place in claims file ``f``'s search order (-1: the file
    does not search it); ``near_rank`` its place in the claim-to-claim search order
    (-1: not used there). The ranks settle ties exactly as one search over all keys.
    """

    key: str
    ranks: tuple[int, ...]
    near_rank: int

    def searching_files(self) -> list[int]:
        """The claims files that search this key against the register."""
        return [f for f, rank in enumerate(self.ranks) if rank >= 0]


@dataclass(frozen=True)
class VerifyPlan:
    """Everything an engine needs to run a verification, and nothing it must not hold:
    file references, thresholds, the search stages, the partition layout and the
    evidence keys: (block key, attribute) pairs compared on each claimed pair and on
    each claim's best alternative, which the join and search stages' pieces carry
    (:attr:`attrs`)."""

    reference: FileRef
    claims: tuple[FileRef, ...]
    searches: tuple[SearchStage, ...]
    thresholds: Thresholds
    words: int
    layout: Layout
    evidence: tuple[tuple[str, str], ...] = ()

    @property
    def attrs(self) -> tuple[str, ...]:
        """The block keys the join and search stages' pieces carry, in evidence order."""
        return tuple(k for k, _ in self.evidence)

    @property
    def claims_total(self) -> int:
        return sum(c.records for c in self.claims)

    @property
    def blocking(self) -> list[str]:
        """The block keys searched, in stage order."""
        return [s.key for s in self.searches]


def plan_verify(
    ref: Outline,
    claims: Sequence[Outline],
    *,
    thresholds: ThresholdSpec,
    blocking: Sequence[str] | None,
    layout: Layout,
    paths: tuple[str, Sequence[str]] | None = None,
) -> VerifyPlan:
    """Check the inputs and plan the stages.

    Each claims file searches the block keys it shares with the register (or
    ``blocking``), in its own order; the claim-to-claim search uses the keys every
    claims file carries. ``paths`` are the (reference, claims) locations tasks read, when
    they differ from the outlines' paths (URLs).
    """
    check_inputs(ref, claims)
    th = resolve_thresholds(ref, thresholds)
    names = [search_names(ref, enc, blocking) for enc in claims]
    joined = joined_names(claims, blocking)
    keys = list(dict.fromkeys([k for file_names in names for k in file_names] + joined))
    stages = tuple(
        SearchStage(
            k,
            tuple(n.index(k) if k in n else -1 for n in names),
            joined.index(k) if k in joined else -1,
        )
        for k in keys
    )
    ref_path, claim_paths = (
        paths if paths is not None else (str(ref.path), [str(c.path) for c in claims])
    )
    offsets = np.cumsum([0] + [len(c) for c in claims])[:-1].tolist()
    shared = [k for k in ref.block_key_names if all(k in c.block_key_names for c in claims)]
    return VerifyPlan(
        reference=FileRef(ref_path, ref.digest, len(ref), 0),
        claims=tuple(
            FileRef(p, c.digest, len(c), int(o))
            for p, c, o in zip(claim_paths, claims, offsets, strict=True)
        ),
        searches=stages,
        thresholds=th,
        words=ref.nbits // 64,
        layout=layout,
        evidence=evidence_keys(ref.meta, shared),
    )


# ------------------------------------------------------------------ partition functions


@dataclass
class JoinOutput:
    """One pseudonym range's join: per claim (``q``, claims index) its claimed register
    record (-1 none), score (NaN none), evidence key states (``pattern``,
    :func:`~pprl.verify.evidence.key_states`; 0 none) and number id (equal ids, equal
    pseudonyms; -1 none); the pairs of claims sharing a number but scoring as different people; how
    many pseudonyms the register's records here hold more than once."""

    q: np.ndarray
    claimed: np.ndarray
    score: np.ndarray
    number: np.ndarray
    a: np.ndarray
    b: np.ndarray
    duplicates: int
    pattern: np.ndarray


def join_partition(
    ref: Piece, claims: Piece, different_people: float, limits: GroupLimits = GROUP_LIMITS
) -> JoinOutput:
    """Join one pseudonym range (pieces keyed by the 32-byte pseudonym).

    Its shared-number pairs are linear in the claims here, however many share a number
    (:func:`~pprl.verify.cross_checks.shared_number_pairs`). The evidence compares the
    block keys both pieces carry (:attr:`~pprl.partition.Piece.attrs`)."""
    claimed = join_claims(ref.key, ref.has_key(), ref.clk, claims.key, claims.has_key(), claims.clk)
    score = score_claimed(claims.clk, ref.clk, claimed)
    pattern = np.zeros(len(claims), dtype=np.uint16)
    has = np.flatnonzero(claimed >= 0)
    if len(has) and claims.attrs:
        pattern[has] = key_states(claims.attrs, ref.attrs, has, claimed[has])
    groups = token_groups(claims.key, claims.has_key())
    a, b = shared_number_pairs(claims.clk, groups, different_people, score, limits)
    return JoinOutput(
        q=claims.idx,
        claimed=np.where(claimed >= 0, ref.idx[np.maximum(claimed, 0)], -1)
        if len(ref)
        else np.full(len(claims), -1, np.int64),
        score=score,
        number=np.where(groups >= 0, claims.idx[np.maximum(groups, 0)], -1),
        a=claims.idx[a],
        b=claims.idx[b],
        duplicates=duplicate_tokens(ref.key, ref.has_key()),
        pattern=pattern,
    )


@dataclass
class SearchOutput:
    """One block-value range's search: for each claim ``q`` its two best register
    records ``r`` and scores ``s``; for each claim ``nq`` its two most similar other
    claims ``n`` and scores ``ns`` (empty when the key is not used for that).

    The register's value frequencies in this range, for the term-frequency adjustment
    (:func:`~pprl.verify.probability.tf_offset`): ``freq`` how many register records
    carry each claim ``q``'s value (0: the claim lacks the key), ``ref_records`` how
    many register records here carry the key and ``ref_squares`` the sum over their
    values of the count squared. A value's records are all in one range, so the sums
    over ranges are the register's.

    ``pattern``: the evidence key states (:func:`~pprl.verify.evidence.key_states`) of
    each claim ``q`` against each of its two records ``r`` (0 where none, or where the
    pieces carry no evidence keys)."""

    q: np.ndarray
    r: np.ndarray
    s: np.ndarray
    nq: np.ndarray
    n: np.ndarray
    ns: np.ndarray
    freq: np.ndarray | None = None
    ref_records: int = 0
    ref_squares: int = 0
    pattern: np.ndarray | None = None


def pair_states(ref: Piece, claims: Piece, r: np.ndarray) -> np.ndarray:
    """The evidence key states of each claim against each of its found register records
    ``r`` (``ref.idx`` values, -1 none; shaped (claims, k)): 0 where none is found or
    the pieces carry no evidence keys."""
    out = np.zeros(r.shape, dtype=np.uint16)
    if not claims.attrs or not ref.attrs or r.size == 0:
        return out
    order = np.argsort(ref.idx, kind="stable")
    found = r >= 0
    pos = order[np.minimum(np.searchsorted(ref.idx, r[found], sorter=order), len(order) - 1)]
    q = np.broadcast_to(np.arange(len(claims))[:, None], r.shape)[found]
    out[found] = key_states(claims.attrs, ref.attrs, q, pos)
    return out


def value_counts(
    ref_values: np.ndarray, ref_valid: np.ndarray, values: np.ndarray, valid: np.ndarray
) -> tuple[np.ndarray, int, int]:
    """How many valid register values equal each valid query value (0 for an invalid
    query), the register's valid values and the sum of their counts squared."""
    uniq, counts = np.unique(ref_values[ref_valid], return_counts=True)
    freq = np.zeros(len(values), dtype=np.int64)
    if len(uniq):
        pos = np.minimum(np.searchsorted(uniq, values), len(uniq) - 1)
        hit = valid & (uniq[pos] == values)
        freq[hit] = counts[pos[hit]]
    c = counts.astype(np.int64)
    return freq, int(c.sum()), int((c * c).sum())


def search_partition(
    ref: Piece, claims: Piece, near: Piece | None, search_score: float, same_person: float
) -> SearchOutput:
    """Search one block-value range (pieces keyed by the block value).

    ``claims`` are the claims that search this key against the register; ``near`` those
    compared with each other (None: none; it may be ``claims`` itself).
    """
    freq, records, squares = value_counts(ref.key, ref.has_key(), claims.key, claims.has_key())
    r, s = top2(
        claims.clk,
        claims.key,
        claims.has_key(),
        ref.idx,
        ref.clk,
        ref.key,
        ref.has_key(),
        search_score,
    )
    pattern = pair_states(ref, claims, r)
    if near is None:
        empty = np.empty(0, np.int64)
        return SearchOutput(
            claims.idx,
            r,
            s,
            empty,
            np.empty((0, 2), np.int64),
            np.empty((0, 2)),
            freq,
            records,
            squares,
            pattern,
        )
    valid = near.has_key()
    n, ns = top2(near.clk, near.key, valid, near.idx, near.clk, near.key, valid, same_person)
    return SearchOutput(claims.idx, r, s, near.idx, n, ns, freq, records, squares, pattern)


# ----------------------------------------------------------------------- the driver side


class Accumulator:
    """The driver's per-claim arrays (claims files concatenated), filled stage by stage
    from partition outputs in any partition order (the join stage first)."""

    def __init__(self, plan: VerifyPlan) -> None:
        n = plan.claims_total
        self.plan = plan
        self.claimed, self.score = np.full(n, -1, np.int64), np.full(n, np.nan)
        self.number = np.full(n, -1, np.int64)
        self.pattern = np.zeros(n, np.uint16)
        self.cand_pattern = np.zeros(n, np.uint16)  # evidence key states vs the alternative
        self.cand, self.cand_s, self.cand_key = (
            np.full(n, -1, np.int64),
            np.full(n, -1.0),
            np.full(n, NO_KEY),
        )
        self.near, self.near_s, self.near_key = (
            np.full(n, -1, np.int64),
            np.full(n, -1.0),
            np.full(n, NO_KEY),
        )
        self.file_of = np.repeat(np.arange(len(plan.claims)), [c.records for c in plan.claims])
        self.own = np.arange(n, dtype=np.int64)  # a claim never is its own nearest claim
        self.pairs: list[tuple[np.ndarray, np.ndarray]] = []
        self.duplicates = 0
        # per block key: each claim's register value frequency, (records, squares)
        self.freq: dict[str, np.ndarray] = {}
        self.value_totals: dict[str, tuple[int, int]] = {}

    def add_join(self, out: JoinOutput) -> None:
        """One pseudonym range's claimed records, scores, numbers and shared-number pairs."""
        self.claimed[out.q], self.score[out.q], self.number[out.q] = (
            out.claimed,
            out.score,
            out.number,
        )
        self.pattern[out.q] = out.pattern
        self.pairs.append((out.a, out.b))
        self.duplicates += out.duplicates

    def add_search(self, stage: SearchStage, out: SearchOutput) -> None:
        """Fold one block-value range's top-2 into the best alternatives and nearest
        claims (after the join: the claimed record is the one excluded)."""
        q = out.q
        if out.freq is not None:
            freq = self.freq.setdefault(stage.key, np.zeros(len(self.claimed), np.int64))
            freq[q] = out.freq
            records, squares = self.value_totals.get(stage.key, (0, 0))
            self.value_totals[stage.key] = (records + out.ref_records, squares + out.ref_squares)
        ranks = np.asarray(stage.ranks, dtype=np.int64)[self.file_of[q]]
        for value in np.unique(ranks):
            sel = ranks == value
            if value >= 0:
                fold_best(
                    self.cand,
                    self.cand_s,
                    self.cand_key,
                    q[sel],
                    out.r[sel],
                    out.s[sel],
                    self.claimed,
                    int(value),
                    None if out.pattern is None else (self.cand_pattern, out.pattern[sel]),
                )
        if stage.near_rank >= 0:
            fold_best(
                self.near,
                self.near_s,
                self.near_key,
                out.nq,
                out.n,
                out.ns,
                self.own,
                stage.near_rank,
            )

    def results(self, claims: Sequence[Outline]) -> list[ClaimsResult]:
        """Decided :class:`ClaimsResult` per claims file (cross-checks not yet applied)."""
        cand_score = np.where(self.cand >= 0, self.cand_s, np.nan)
        out = []
        for enc, ref in zip(claims, self.plan.claims, strict=True):
            sl = slice(ref.offset, ref.offset + ref.records)
            res = ClaimsResult(enc, self.claimed[sl], self.score[sl], self.cand[sl], cand_score[sl])
            decide(res, self.plan.thresholds)
            res.evidence = attribute_codes(
                self.pattern[sl], self.plan.evidence, self.claimed[sl] >= 0
            )
            out.append(res)
        return out

    def name_offset(self) -> np.ndarray | None:
        """The term-frequency adjustment of each claim's mislink log-odds
        (:func:`~pprl.verify.probability.tf_offset`) from the name keys (kanji, kana) the
        evidence compares and the search counted; None when there is none."""
        agree, freq, totals = [], [], []
        for j, (key, attr) in enumerate(self.plan.evidence):
            if attr in ("kanji", "kana") and key in self.freq:
                state = (self.pattern >> np.uint16(2 * j)) & np.uint16(3)
                agree.append((state == State.AGREE) & (self.claimed >= 0))
                freq.append(self.freq[key])
                totals.append(self.value_totals[key])
        return tf_offset(agree, freq, totals) if agree else None

    def evidence_comparison(self) -> np.ndarray:
        """Per claim, how the claimed record's evidence compares with its best
        alternative's (:func:`~pprl.verify.probability.compare_evidence`: 1 better, -1
        worse, 0 alike or either missing)."""
        keys = self.plan.evidence
        claimed = attribute_codes(self.pattern, keys, self.claimed >= 0)
        alternative = attribute_codes(self.cand_pattern, keys, self.cand >= 0)
        both = (self.claimed >= 0) & (self.cand >= 0)
        return np.where(both, compare_evidence(claimed, alternative), 0)

    def shared_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        empty = np.empty(0, np.int64)
        a = np.concatenate([p[0] for p in self.pairs]) if self.pairs else empty
        b = np.concatenate([p[1] for p in self.pairs]) if self.pairs else empty
        return a, b


def finish(
    plan: VerifyPlan,
    acc: Accumulator,
    ref: Outline,
    claims: Sequence[Outline],
    timings: dict[str, float],
    say: StageProgress,
    started_at: str,
) -> VerifyResult:
    """The global steps after every stage: decide, cross-record checks, the mislink
    probability and the statuses it decides, findings tables, per-party views and the
    summary (the same for every engine)."""
    t = time.perf_counter()
    say("cross-record checks")
    results = acc.results(claims)
    uses_near = any(s.near_rank >= 0 for s in plan.searches)
    flags, escalate = cross_check_flags(
        results, plan.thresholds, acc.number, *acc.shared_pairs(), acc.near if uses_near else None
    )
    timings["cross_check"] = time.perf_counter() - t
    t = time.perf_counter()
    say("estimating mislink probabilities")
    estimate = mislink_step(plan, acc, results, flags)
    apply_flags(results, flags, escalate)
    timings["probability"] = time.perf_counter() - t
    say("building findings")
    tables = [findings_table(r, ref, plan.thresholds.confirm_score) for r in results]
    findings = with_cases(pa.concat_tables(tables), case_key(ref, claims))
    summary = build_summary(
        findings,
        ref,
        claims,
        plan.thresholds,
        plan.blocking,
        acc.duplicates,
        timings,
        started_at,
        estimate,
    )
    per_claims = [(r.enc.label, table) for r, table in zip(results, tables, strict=True)]
    ids = {label: i for i, label in enumerate(dict.fromkeys(e.label for e in claims))}
    party = np.repeat([ids[e.label] for e in claims], [len(e) for e in claims])
    same_party = same_party_reasons(
        party, acc.claimed, acc.cand, *acc.shared_pairs(), acc.near if uses_near else None
    )
    return VerifyResult(
        findings, summary, per_claims, reference_view(findings, ref.label), same_party
    )


def mislink_step(
    plan: VerifyPlan, acc: Accumulator, results: Sequence[ClaimsResult], flags: np.ndarray
) -> MislinkEstimate:
    """Estimate every claim's mislink probability (:mod:`pprl.verify.probability`) from
    the decided results (scores, best alternatives, the score thresholds' statuses) and
    the cross-check ``flags``, and let it decide the statuses. Without a model (too few
    claims) the statuses stay as decided."""
    status = np.concatenate([r.status for r in results])
    reasons = np.concatenate([r.reasons for r in results]) | flags
    score = np.concatenate([r.score for r in results])
    cand = np.concatenate([r.cand_score for r in results])
    estimate = estimate_mislink(
        acc.claimed >= 0,
        score,
        cand,
        reasons,
        status,
        acc.name_offset(),
        plan.thresholds.margin_review,
        acc.evidence_comparison(),
    )
    for res, ref in zip(results, plan.claims, strict=True):
        p = estimate.probability[ref.offset : ref.offset + ref.records]
        res.probability = p
        if estimate.model is not None:
            decide_by_probability(res, p, plan.thresholds)
    return estimate
