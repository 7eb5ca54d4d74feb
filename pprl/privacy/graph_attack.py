"""Graph-matching attack: align the similarity graph of encodings with one of known records.

A simplified reimplementation of the attack of Vidanage, Christen, Ranbaduge and Schnell
("A graph matching attack on privacy-preserving record linkage", CIKM 2020), in the
spirit of Culnane, Rubinstein and Teague (2017, similarity tables). It is **not** their
code and leaves out most of their refinements; it is what a curious matcher could build
in an afternoon, and its numbers are a measurement of this attack only.

The attacker has the encoding file (the schema is in its metadata), a plaintext list of
people (``--attacker-records``: e.g. a leaked or public list overlapping the encoded
population) and no secret. It works in four steps:

1. **Its own similarity graph.** The attacker normalizes its records with the schema's
   normalizers and encodes them with the file's own schema and hardening under a key
   *of its own* (pprl is public and the schema travels with the file). The Dice
   similarity of two of its encodings then has the same distribution as that of the same
   two people in the target file -- only which q-grams collide in which bits differs.
   This is Vidanage et al.'s "similarity adjustment" at its strongest: no regression from
   q-gram similarity to encoded similarity is needed. Both graphs are compared with
   pprl's own search (:func:`pprl.compare.find_candidates`) and bit matrix products.
2. **Node features** (:func:`node_features`), computed the same way in both graphs: the
   quantiles, mean and spread of a record's similarity to a random sample of its graph,
   the similarities of its nearest neighbours (at ranks scaled by the graph sizes, so a
   graph of half the people is comparable), and the mean features of those neighbours.
   Each graph's features are standardized by its own mean and spread, which calibrates
   one distribution onto the other. The attacker encodes its records a second time under
   another key of its own: the difference between the two feature sets is pure encoding
   noise, and its covariance gives the distance used (Mahalanobis under that noise, so
   features that collisions blur count less). Nearest features give the first matches.
3. **Seeds and refinement** (:func:`refine`). The most confident mutual nearest neighbours
   in feature space (plus any ``known_row`` the attacker already knows) become anchors. A
   record's similarities to the anchors are a fingerprint that carries over between the
   graphs; anchors are weighted by how well their fingerprint column agrees over the
   current confident matches (wrong anchors get weight ~0), matches are recomputed from
   the fingerprints, and the anchor set grows for a few rounds.
4. **Assignment.** Candidate pairs (the best two encoded records per attacker record) are
   solved 1:1 with :func:`pprl.solve.greedy_solve`; each encoded record gets the names of
   its matched attacker record as the guess. Its confidence is ``-log10(p) / 6`` (at most
   1), where p is the chance that the best match's lead over the runner-up is luck, under an
   exponential tail fitted to that record's next-best scores: confidence 0.5 (a "claim")
   means p = 0.001.

Cost is O(n × m × anchors) bit products for n encoded and m attacker records: seconds to
a minute at 20,000 × 10,000 on two cores; it is meant for audit-sized files.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from blake3 import blake3

from pprl.columns import resolve_columns
from pprl.compare import find_candidates
from pprl.errors import InputError
from pprl.keys import Secret
from pprl.party import encode_records, normalize_column
from pprl.privacy.attacks import AttackResult, name_fields
from pprl.read import read_csv
from pprl.schema import Schema, parse_schema
from pprl.solve import greedy_solve
from pprl.store import Encodings

ATTACKER_KEY_CONTEXT = "pprl audit graph attacker key v1"
KNOWN_ROW_COLUMN = "known_row"
QUANTILES = (0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999)
NEIGHBOURS = 10  # nearest-neighbour similarities per record (at the smaller graph's scale)
NEIGHBOUR_MEAN = 5  # neighbours whose base features are averaged
CHUNK = 2048  # rows per block of a dense score matrix
STABLE = 0.01  # share of changed matches below which refinement has converged
MIN_SEEDS = 5  # known rows from which the first round anchors on them alone
CLAIM_MARGIN = 3 * math.log(10)  # confidence 0.5: a gap that large by luck has chance 1e-3


@dataclass
class AttackerRecords:
    """The attacker's plaintext records, normalized, and its own encoding of them."""

    path: Path
    names: dict[str, np.ndarray]  # name field -> normalized values (object, None if missing)
    clks: np.ndarray  # uint64 (m, words): encoded with the file's schema under the attacker's key
    clks_again: np.ndarray  # the same records under a second key of the attacker's
    known_rows: np.ndarray  # int64 (m,): encoded row the attacker already knows, -1 if none

    def __len__(self) -> int:
        """Number of attacker records."""
        return int(self.clks.shape[0])


def attacker_secret(label: str = "") -> Secret:
    """The attacker's own key: fixed (so the audit is reproducible) and unrelated to any
    party's secret. It is the attacker's, so there is nothing to protect in it."""
    return Secret(blake3(f"{ATTACKER_KEY_CONTEXT} {label}".encode()).hexdigest())


def attacker_schema(schema: Schema) -> Schema:
    """The file's schema as the attacker uses it: same encoding and hardening, no decoys
    (the attacker encodes only its own records) and no link key (it has no numbers)."""
    document = copy.deepcopy(schema.document)
    hardening = document.get("pprl", {}).get("hardening")
    if isinstance(hardening, dict):
        hardening.pop("decoys", None)
    return replace(parse_schema(document, schema.name), link_key=None)


def read_attacker_records(path: str | Path, schema: Schema) -> AttackerRecords:
    """Read the attacker's CSV (the columns of every field the schema encodes; a field with
    ``sources`` may come as its source columns; optional ``known_row``), normalize it and
    encode it with the file's schema under the attacker's own key."""
    p = Path(path)
    data = read_csv(p)
    for fld in schema.hashed_fields:
        sources = schema.sources.get(fld, ())
        if fld not in data.columns and not (sources and all(s in data.columns for s in sources)):
            via = f" (or {'+'.join(sources)})" if sources else ""
            raise InputError(
                f"{p}: attacker records lack column '{fld}'{via}, which schema "
                f"'{schema.name}' encodes"
            )
    if data.nrows == 0:
        raise InputError(f"{p}: no attacker records")
    known = np.full(data.nrows, -1, dtype=np.int64)
    for i, value in enumerate(data.columns.get(KNOWN_ROW_COLUMN, ())):
        if value.strip():
            if not value.strip().isdigit():
                raise InputError(f"{p}: row {i}: {KNOWN_ROW_COLUMN} {value!r} is not a row number")
            known[i] = int(value)
    own = attacker_schema(schema)
    enc, _ = encode_records(data, own, attacker_secret(), party="attacker", processes=1)
    again, _ = encode_records(data, own, attacker_secret("again"), party="attacker", processes=1)
    raw = resolve_columns(data, own, {})
    names = {}
    for fld in name_fields(schema):
        values, _ = normalize_column(raw[fld], schema.normalizers.get(fld, "none"))
        names[fld] = np.array(values, dtype=object)
    return AttackerRecords(p, names, enc.clks, again.clks, known)


# --- similarity graph ----------------------------------------------------------------------


def unpack_bits(clks: np.ndarray) -> np.ndarray:
    """CLK bits as float32 (n, l) for bit matrix products (intersection counts)."""
    return np.unpackbits(np.ascontiguousarray(clks).view(np.uint8), axis=1).astype(np.float32)


def dice_to(bits: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Dice similarity (float32, n × k) of every record with the records ``cols``.

    One bit matrix product per block of rows: the whole n × k table is what the node
    features and anchor fingerprints need, which pprl's thresholded search does not give.
    """
    pops = bits.sum(axis=1)
    ref = bits[cols]
    out = np.empty((bits.shape[0], len(cols)), dtype=np.float32)
    for s in range(0, bits.shape[0], CHUNK):
        inter = bits[s : s + CHUNK] @ ref.T
        out[s : s + CHUNK] = (
            2 * inter / np.maximum(pops[s : s + CHUNK, None] + pops[cols][None, :], 1)
        )
    return out


def nearest_neighbours(clks: np.ndarray, k: int, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Similarities of each record's k nearest other records (n × k, best first, 0 when a
    record has fewer neighbours at or above ``threshold``) and their indices (-1 then),
    with pprl's top-k search."""
    n = clks.shape[0]
    c = find_candidates(clks, clks, threshold, top_k=k + 1)
    other = c.q != c.r
    q, r, s = c.q[other], c.r[other], c.score[other]
    order = np.lexsort((r, -s, q))
    q, r, s = q[order], r[order], s[order]
    rank = np.arange(len(q)) - np.searchsorted(q, q)
    keep = rank < k
    sims = np.zeros((n, k), dtype=np.float32)
    ids = np.full((n, k), -1, dtype=np.int64)
    sims[q[keep], rank[keep]] = s[keep]
    ids[q[keep], rank[keep]] = r[keep]
    return sims, ids


def node_features(
    clks: np.ndarray, scale: float, *, sample: int = 4000, seed: int = 0
) -> np.ndarray:
    """Per-record features of a similarity graph, comparable between graphs of different
    size: ``scale`` = this graph's size / the smaller graph's size stretches neighbour ranks
    (the 2nd neighbour of a graph of half the people is about the 4th of the full one).

    Columns: similarity quantiles (:data:`QUANTILES`), mean and standard deviation against a
    random sample of the graph; the similarities of the :data:`NEIGHBOURS` nearest
    neighbours at scaled ranks; the mean of the first nine columns over the
    :data:`NEIGHBOUR_MEAN` nearest neighbours (second-order structure).
    """
    n = clks.shape[0]
    bits = unpack_bits(clks)
    rng = np.random.default_rng(seed)
    ref = np.sort(rng.choice(n, size=min(sample, n), replace=False))
    table = dice_to(bits, ref)
    table[ref, np.arange(len(ref))] = 0.0  # a record's similarity to itself says nothing
    table.sort(axis=1)
    last = table.shape[1] - 1
    base = np.column_stack(
        [table[:, [int(q * last) for q in QUANTILES]], table.mean(axis=1), table.std(axis=1)]
    )
    threshold = float(np.quantile(table[:, last // 2], 0.5))  # most records have n/2 above
    del table
    depth = max(NEIGHBOURS, math.ceil(NEIGHBOURS * scale))
    sims, ids = nearest_neighbours(clks, min(depth, n - 1), threshold)
    ranks = np.minimum(
        np.round(np.arange(1, NEIGHBOURS + 1) * scale).astype(int) - 1, sims.shape[1] - 1
    )
    near = sims[:, ranks]
    first = ids[:, ranks[:NEIGHBOUR_MEAN]]
    valid = first >= 0
    neighbour_mean = (base[np.maximum(first, 0)] * valid[..., None]).sum(axis=1) / np.maximum(
        valid.sum(axis=1), 1
    )[:, None]
    return np.column_stack([base, near, neighbour_mean]).astype(np.float32)


def standardize(features: np.ndarray) -> np.ndarray:
    """Columns to mean 0, spread 1 within their own graph (calibration by distribution)."""
    sd = features.std(axis=0)
    return np.asarray((features - features.mean(axis=0)) / np.where(sd > 0, sd, 1.0))


def noise_whitening(first: np.ndarray, again: np.ndarray) -> np.ndarray:
    """A matrix that makes feature noise independent and of unit variance.

    ``first`` and ``again`` are the standardized features of the same records encoded
    under two keys of the attacker's own: their difference is pure encoding noise (which
    q-grams collide where), so its covariance tells the attacker how much to trust each
    feature and feature combination -- Mahalanobis distance under that noise.
    """
    noise = np.cov((first - again).T) / 2
    values, vectors = np.linalg.eigh(np.atleast_2d(noise))
    floor = max(float(values.max()) * 1e-4, 1e-9)
    return np.asarray((vectors / np.sqrt(np.maximum(values, floor))) @ vectors.T)


# --- matching -------------------------------------------------------------------------------


@dataclass
class Matches:
    """Best encoded record per attacker record, with margins and mutuality."""

    best: np.ndarray  # int64 (m,) encoded index
    second: np.ndarray  # int64 (m,) encoded index of the runner-up
    score: np.ndarray  # float64 (m,) best score
    score2: np.ndarray  # float64 (m,) runner-up score
    margin: np.ndarray  # float64 (m,) lead of the best in units of the tail spacing, both ways
    mutual: np.ndarray  # bool (m,): the attacker record is also its best match's best


TAIL = 10  # best scores per row used to fit the tail of the non-matching scores
_TAIL_SPACING = sum(1.0 / j for j in range(2, TAIL))  # E[s_2 - s_TAIL] / beta


def _tail_margin(first: np.ndarray, top: np.ndarray) -> np.ndarray:
    """``(first - top[:, 1]) / beta``, beta fitted to ``top[:, 1:]`` (scores, best first):
    the top order statistics of non-matching scores are spaced about ``beta / j``."""
    if top.shape[1] < 3:
        return np.zeros(len(first))
    spacing = sum(1.0 / j for j in range(2, top.shape[1]))
    beta = (top[:, 1] - top[:, -1]) / spacing
    return np.asarray((first - top[:, 1]) / np.maximum(beta, 1e-9))


def row_top(scores: np.ndarray, k: int, block: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the k largest scores of each row, best first.

    ``np.argpartition`` over long rows is several times slower than the product that
    made them, so rows are cut into blocks: the k-th largest block maximum is a bound
    that at least k scores reach, and only those few are sorted.
    """
    rows, cols = scores.shape
    full = cols // block
    if full < 2 * k:
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    else:
        maxima = scores[:, : full * block].reshape(rows, full, block).max(axis=2)
        if full * block < cols:
            maxima = np.column_stack([maxima, scores[:, full * block :].max(axis=1)])
        bound = np.partition(maxima, maxima.shape[1] - k, axis=1)[:, -k]
        r, c = np.nonzero(scores >= bound[:, None])
        order = np.lexsort((-scores[r, c], r))
        r, c = r[order], c[order]
        rank = np.arange(len(r)) - np.searchsorted(r, r)
        keep = rank < k
        top = np.empty((rows, k), dtype=np.int64)
        top[r[keep], rank[keep]] = c[keep]
    values = np.take_along_axis(scores, top, axis=1)
    order = np.argsort(-values, axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1), np.take_along_axis(values, order, axis=1)


def best_matches(att: np.ndarray, enc: np.ndarray, *, distance: bool = False) -> Matches:
    """Score every attacker row against every encoded row, in blocks: the dot product, or
    with ``distance`` minus half the squared Euclidean distance.

    Keeps the :data:`TAIL` best scores per attacker row and per encoded row. The margin
    of a match is the smaller of its lead over the runner-up in its row and in its
    column, each in units of an exponential tail fitted to the 2nd..10th best scores: if
    the best were just another non-match its lead would be about Exp(1), so ``exp(-margin)``
    is the chance of a lead that large by luck. Taking both sides discounts "hubs",
    records that look closest to many others.
    """
    m, n = att.shape[0], enc.shape[0]
    tail = min(TAIL, n, m)
    bias = -(enc * enc).sum(axis=1) / 2 if distance else np.zeros(n, dtype=np.float32)
    att_bias = -(att * att).sum(axis=1) / 2 if distance else np.zeros(m, dtype=np.float32)
    row_top_v = np.empty((m, tail))
    row_arg = np.empty((m, tail), dtype=np.int64)
    col_top = np.full((tail, n), -np.inf)
    for s in range(0, m, CHUNK):
        scores = att[s : s + CHUNK] @ enc.T + bias[None, :] + att_bias[s : s + CHUNK, None]
        row_arg[s : s + CHUNK], row_top_v[s : s + CHUNK] = row_top(scores, tail)
        k = min(tail, scores.shape[0])
        merged = np.concatenate([col_top, np.partition(scores, scores.shape[0] - k, axis=0)[-k:]])
        col_top = np.partition(merged, merged.shape[0] - tail, axis=0)[-tail:]
    col_top = -np.sort(-col_top, axis=0)
    best = row_arg[:, 0]
    mutual = row_top_v[:, 0] >= col_top[0, best]  # nobody else scores higher with it
    row_margin = _tail_margin(row_top_v[:, 0], row_top_v)
    col_margin = _tail_margin(row_top_v[:, 0], col_top[:, best].T)
    margin = np.where(mutual, np.minimum(row_margin, col_margin), 0.0)
    return Matches(best, row_arg[:, 1], row_top_v[:, 0], row_top_v[:, 1], margin, mutual)


def fingerprints(bits: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """Each record's Dice similarity to the anchors, columns standardized in their graph,
    then each row centred: a record similar to everybody (common name, popular birth
    year) would otherwise look alike in every column, right anchor or wrong."""
    table = standardize(dice_to(bits, anchors))
    return np.asarray(table - table.mean(axis=1, keepdims=True))


def anchor_weights(
    fa: np.ndarray, fb: np.ndarray, enc_rows: np.ndarray, att_rows: np.ndarray
) -> np.ndarray:
    """How well each anchor's column agrees between the graphs over matched pairs (their
    correlation, floored at 0): a wrong anchor's columns are unrelated, so it drops out."""
    if len(enc_rows) < 20:
        return np.ones(fa.shape[1], dtype=np.float32)
    corr = (fa[enc_rows] * fb[att_rows]).mean(axis=0)
    return np.asarray(np.maximum(corr, 0.0), dtype=np.float32)


def confident(matches: Matches, limit: int) -> np.ndarray:
    """Attacker rows of up to ``limit`` mutual matches with the largest lead of the best
    score over the runner-up (measured: a better ranking of right matches than the
    tail-scaled margin, which is meant as a chance, not a ranking)."""
    rows = np.flatnonzero(matches.mutual)
    return rows[np.argsort(-(matches.score[rows] - matches.score2[rows]), kind="stable")][:limit]


def _with_seeds(seeds: np.ndarray, rows: np.ndarray, size: int) -> np.ndarray:
    """The seeds, then up to ``size`` in all with the other rows in their order."""
    rest = rows[~np.isin(rows, seeds)]
    return np.concatenate([seeds, rest[: max(size - len(seeds), 0)]])


def refine(
    enc_bits: np.ndarray,
    att_bits: np.ndarray,
    start: Matches,
    known: np.ndarray,
    *,
    rounds: int = 8,
    first_anchors: int = 64,
    max_anchors: int = 512,
) -> tuple[Matches, dict[str, Any]]:
    """Grow anchors from the known rows or the confident matches and re-match by anchor
    fingerprints; returns the last matches and what each round did (for the report).

    With at least :data:`MIN_SEEDS` known rows the first round uses only them (feature
    matches would dilute them); otherwise it starts from the ``first_anchors`` most
    confident feature matches. Each round doubles the anchors (seeds first, then the
    mutual matches with the largest margins), up to ``max_anchors``; it stops after
    ``rounds`` or once fewer than :data:`STABLE` of the mutual matches change between
    rounds.
    """
    matches = start
    seeds = np.flatnonzero(known >= 0)
    rows = (
        seeds
        if len(seeds) >= MIN_SEEDS
        else _with_seeds(seeds, confident(start, first_anchors), first_anchors)
    )
    log: list[dict[str, Any]] = []
    previous: np.ndarray | None = None
    for _ in range(rounds):
        if len(rows) < 2:
            break
        is_seed = known[rows] >= 0
        fa = fingerprints(enc_bits, np.where(is_seed, known[rows], matches.best[rows]))
        fb = fingerprints(att_bits, rows)
        check = confident(matches, max(4 * len(rows), 256))
        check = check[~np.isin(check, rows)]  # an anchor's own row is similarity 1 to itself
        weights = anchor_weights(fa, fb, matches.best[check], check)
        weights[is_seed] = max(float(weights.max(initial=0.0)), 1.0)
        root = np.sqrt(weights)
        fa_w, fb_w = fa * root, fb * root
        fa_w /= np.maximum(np.linalg.norm(fa_w, axis=1, keepdims=True), 1e-9)
        fb_w /= np.maximum(np.linalg.norm(fb_w, axis=1, keepdims=True), 1e-9)
        matches = best_matches(fb_w, fa_w)
        log.append(
            {
                "anchors": int(len(rows)),
                "anchors_weighted": int((weights > 0.05).sum()),
                "mutual_matches": int(matches.mutual.sum()),
            }
        )
        size = min(max(2 * len(rows), first_anchors), max_anchors)
        rows = _with_seeds(seeds, confident(matches, size), size)
        if (
            previous is not None
            and len(rows) >= max_anchors
            and (np.mean(previous[matches.mutual] != matches.best[matches.mutual]) < STABLE)
        ):
            break
        previous = matches.best
    return matches, {"rounds": log}


def graph_matching_attack(
    enc: Encodings,
    schema: Schema,
    attacker: AttackerRecords,
    *,
    sample: int = 4000,
    rounds: int = 8,
    max_anchors: int = 512,
    seed: int = 0,
) -> AttackResult:
    """Match the encoded similarity graph with the attacker's own (module docstring);
    guesses are the names of the attacker record matched to each encoded record."""
    n, m = len(enc), len(attacker)
    result = AttackResult("graph_matching")
    result.details.update(
        {"attacker_records": m, "known_rows": int((attacker.known_rows >= 0).sum())}
    )
    if n < 2 or m < 2:
        return result
    if enc.nbits != attacker.clks.shape[1] * 64:
        raise InputError(
            f"{attacker.path}: the attacker's encoding has {attacker.clks.shape[1] * 64}"
            f" bits, the file {enc.nbits}"
        )
    where = {int(r): i for i, r in enumerate(enc.rows.tolist())}
    known = np.array([where.get(int(r), -1) for r in attacker.known_rows], dtype=np.int64)
    small = min(n, m)
    fe = standardize(node_features(enc.clks, n / small, sample=sample, seed=seed))
    fp = standardize(node_features(attacker.clks, m / small, sample=sample, seed=seed + 1))
    fq = standardize(node_features(attacker.clks_again, m / small, sample=sample, seed=seed + 2))
    white = noise_whitening(fp, fq).astype(np.float32)
    start = best_matches(fp @ white, fe @ white, distance=True)
    result.details["feature_mutual_matches"] = int(start.mutual.sum())
    matches, log = refine(
        unpack_bits(enc.clks),
        unpack_bits(attacker.clks),
        start,
        known,
        rounds=rounds,
        max_anchors=max_anchors,
    )
    result.details.update(log)
    q = np.concatenate([matches.best, matches.second])
    r = np.concatenate([np.arange(m), np.arange(m)])
    score = np.concatenate([matches.score, matches.score2])
    # the known rows are no news: neither they nor their records take part in the guesses
    free = ~np.isin(q, known[known >= 0]) & (known[r] < 0)
    q_sel, r_sel, _ = greedy_solve(q[free], r[free], score[free])
    margin = np.where(matches.best[r_sel] == q_sel, matches.margin[r_sel], 0.0)
    assigned_att = np.full(n, -1, dtype=np.int64)
    assigned_att[q_sel] = r_sel
    confidence = np.zeros(n)
    confidence[q_sel] = np.clip(margin / (2 * CLAIM_MARGIN), 0.0, 1.0)
    has = assigned_att >= 0
    for fld, values in attacker.names.items():
        guess = np.full(n, None, dtype=object)
        guess[has] = values[assigned_att[has]]
        result.guesses[fld] = (guess, np.where(has, confidence, 0.0))
    result.details["records_matched"] = int(has.sum())
    return result
