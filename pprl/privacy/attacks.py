"""Attacks on Bloom-filter encodings by someone without the secret (a curious matcher).

The attacker knows the schema (it is in every encoding file's metadata), a public list
of names with frequencies, and the encodings. Two attacks from the literature:

* :func:`frequency_attack` -- Kuzu et al. (2011) style frequency alignment: the most
  frequent identical encodings are aligned with the most frequent plaintexts. Applied to
  whole CLKs and to every block-key column made only of name fields (a keyed hash of a
  name is a deterministic pseudonym, so its value frequencies are the names' own).
* :func:`pattern_mining_attack` -- Christen et al. (2017, 2018) style: mine sets of bit
  positions that are set together in about as many records as a frequent q-gram occurs
  in the name list, align patterns with q-grams by frequency rank, then re-identify each
  record's names as the most frequent listed name consistent with the q-grams found in
  (and absent from) its CLK.

Each attack returns per-record guesses ``{field: (value, confidence)}``. The numbers
they yield are measurements of these attacks, never a guarantee against others.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pprl.schema import Schema
from pprl.store import Encodings

Guesses = dict[str, tuple[np.ndarray, np.ndarray]]  # field -> (values (object), confidence)
NameList = dict[str, dict[str, float]]  # field or block-key name -> {normalized value: freq}


@dataclass
class AttackResult:
    """What one attack claims: per field, a guessed value and a confidence per record."""

    name: str
    guesses: Guesses = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)


def name_fields(schema: Schema) -> list[str]:
    """Hashed fields whose normalizer is a name normalizer (the attack's targets)."""
    return [f for f in schema.hashed_fields if schema.normalizers.get(f, "").startswith("name")]


def _empty_guesses(n: int) -> tuple[np.ndarray, np.ndarray]:
    """No guess for any record."""
    return np.full(n, None, dtype=object), np.zeros(n, dtype=np.float64)


def _group_ids(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group id per row and group sizes, for rows of a 2-D array of identical width."""
    view = (
        np.ascontiguousarray(values)
        .view(np.dtype((np.void, values.dtype.itemsize * values.shape[1])))
        .ravel()
    )
    _, inverse, counts = np.unique(view, return_inverse=True, return_counts=True)
    return inverse.ravel(), counts


def align_by_frequency(
    inverse: np.ndarray,
    counts: np.ndarray,
    plain: dict[str, float],
    valid: np.ndarray,
    min_count: int = 3,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Kuzu-style alignment: the i-th most frequent encoding gets the i-th most frequent
    plaintext, for encodings seen at least ``min_count`` times.

    Confidence is the relative gap to the next encoding's count: ties make the rank (and
    so the alignment) arbitrary, a clear gap makes it stable.
    """
    n = inverse.shape[0]
    values, conf = _empty_guesses(n)
    order = np.argsort(-counts, kind="stable")
    ranked = sorted(plain.items(), key=lambda kv: -kv[1])
    claimed = 0
    for rank, g in enumerate(order[: len(ranked)]):
        if counts[g] < min_count:
            break
        nxt = counts[order[rank + 1]] if rank + 1 < len(order) else 0
        prv = counts[order[rank - 1]] if rank > 0 else counts[g] * 2
        gap = min(counts[g] - nxt, prv - counts[g]) / counts[g]
        rows = (inverse == g) & valid
        values[rows] = ranked[rank][0]
        conf[rows] = min(1.0, float(gap) * 4)
        claimed += 1
    return values, conf, claimed


def frequency_attack(enc: Encodings, schema: Schema, names: NameList) -> AttackResult:
    """Frequency alignment on whole CLKs and on name-only block keys."""
    n = len(enc)
    result = AttackResult("frequency")
    inverse, counts = _group_ids(enc.clks)
    result.details["clk_distinct_fraction"] = round(float(len(counts) / max(n, 1)), 4)
    result.details["clk_largest_group"] = int(counts.max()) if n else 0
    hashed = schema.hashed_fields
    if len(hashed) == 1 and hashed[0] in names:
        vals, conf, k = align_by_frequency(inverse, counts, names[hashed[0]], np.ones(n, bool))
        result.guesses[hashed[0]] = (vals, conf)
        result.details["clk_groups_aligned"] = k
    for spec in schema.block_keys:
        parts = [p.field for p in spec.parts]
        if spec.name not in enc.block_keys or not all(p in name_fields(schema) for p in parts):
            continue
        if spec.name not in names and not all(p in names for p in parts):
            continue
        plain = names.get(spec.name) or _joint_by_independence([names[p] for p in parts])
        values, valid = enc.block_keys[spec.name]
        _, inv, cnt = np.unique(values, return_inverse=True, return_counts=True)
        vals, conf, k = align_by_frequency(inv.ravel(), cnt, plain, valid)
        result.details[f"block_{spec.name}_groups_aligned"] = k
        for i, part in enumerate(parts):
            split = np.array([None if v is None else v.split(" ")[i] for v in vals], dtype=object)
            _merge(result.guesses, part, split, conf)
    return result


def _joint_by_independence(lists: Sequence[dict[str, float]], top: int = 200) -> dict[str, float]:
    """Joint frequencies of combined values assuming independent parts (top values only)."""
    joint: dict[str, float] = {"": 1.0}
    for plain in lists:
        best = sorted(plain.items(), key=lambda kv: -kv[1])[:top]
        total = sum(plain.values()) or 1.0
        joint = {f"{a} {b}".strip(): fa * fb / total for a, fa in joint.items() for b, fb in best}
        joint = dict(sorted(joint.items(), key=lambda kv: -kv[1])[: top * 4])
    return joint


def _merge(guesses: Guesses, fld: str, values: np.ndarray, conf: np.ndarray) -> None:
    """Keep, per record, the more confident of an existing and a new guess."""
    if fld not in guesses:
        guesses[fld] = (values, conf)
        return
    old_v, old_c = guesses[fld]
    better = (conf > old_c) & np.array([v is not None for v in values])
    old_v[better], old_c[better] = values[better], conf[better]


# --- pattern mining -------------------------------------------------------------------------


def qgrams(value: str, n: int) -> set[str]:
    """The q-grams clkhash hashes for a non-positional n-gram field (padded with spaces)."""
    word = " " * (n - 1) + value + " " * (n - 1) if n > 1 else value
    return {word[i : i + n] for i in range(len(word) - n + 1)}


def _ngram_size(schema: Schema, fld: str) -> int | None:
    """The n of a non-positional n-gram field, None for other comparisons."""
    for f in schema.clk.fields:
        if f.identifier == fld and f.hashing_properties is not None:
            comp = f.hashing_properties.comparator
            n = getattr(comp, "n", None)
            return None if getattr(comp, "positional", False) or n is None else int(n)
    return None


def qgram_frequencies(
    schema: Schema, names: NameList, min_share: float
) -> list[tuple[str, str, float]]:
    """(field, q-gram, share of people whose value contains it), most frequent first."""
    out = []
    for fld in name_fields(schema):
        n = _ngram_size(schema, fld)
        if n is None or fld not in names:
            continue
        total = sum(names[fld].values()) or 1.0
        share: dict[str, float] = defaultdict(float)
        for value, freq in names[fld].items():
            for q in qgrams(value, n):
                share[q] += freq / total
        out += [(fld, q, s) for q, s in share.items() if s >= min_share]
    return sorted(out, key=lambda t: -t[2])


def mine_patterns(
    bits: np.ndarray,
    min_support: float,
    max_patterns: int = 150,
    member_share: float = 0.9,
    min_bits: int = 4,
    max_bit_frequency: float = 0.6,
    grow_steps: int = 6,
) -> list[tuple[np.ndarray, float]]:
    """Frequent bit patterns: sets of positions set together in >= ``min_support`` of rows.

    Seeds are bit pairs with the highest lift (co-occurrence over independence); a seed's
    records are grown into the set of positions set in >= ``member_share`` of them, and
    the records re-selected as those with >= ``member_share`` of the pattern set (which
    tolerates BLIP noise). Bits set in more than ``max_bit_frequency`` of records (digits
    every date shares, the sex field) are left out; a pattern whose records are mostly
    those of an earlier one is dropped. Returns (positions mask, support) pairs.
    """
    n, nbits = bits.shape
    x = bits.astype(np.float32)
    co = x.T @ x
    cnt = np.diag(co).copy()
    lift = co * n / (np.outer(cnt, cnt) + 1.0)
    np.fill_diagonal(lift, 0)
    lift[co < min_support * n] = 0
    usable = cnt <= max_bit_frequency * n  # near-constant bits (date digits, sex) carry no q-gram
    lift[~usable, :] = 0
    lift[:, ~usable] = 0
    kept: list[np.ndarray] = []
    flat = np.argsort(-lift, axis=None)[:20000]
    used = np.zeros(nbits, dtype=bool)
    patterns: list[tuple[np.ndarray, float]] = []
    for a, b in zip(*np.unravel_index(flat, lift.shape), strict=True):
        if a >= b or used[a] or used[b] or lift[a, b] <= 1.5:
            continue
        members = _grow_seed(bits, [int(a), int(b)], usable, min_support * n, grow_steps)
        pattern = np.zeros(nbits, dtype=bool)
        for _ in range(3):
            if members.sum() < min_support * n:
                break
            pattern = (bits[members].mean(axis=0) >= member_share) & usable
            if pattern.sum() < min_bits:
                break
            members = bits[:, pattern].mean(axis=1) >= member_share
        if (
            pattern.sum() >= min_bits
            and members.mean() >= min_support
            and not any((members & k).sum() > 0.8 * (members | k).sum() for k in kept)
        ):
            patterns.append((pattern, float(members.mean())))
            kept.append(members)
            used |= pattern
        used[a] = used[b] = True
        if len(patterns) >= max_patterns:
            break
    return sorted(patterns, key=lambda p: -p[1])


def _grow_seed(
    bits: np.ndarray, seed: list[int], usable: np.ndarray, min_count: float, steps: int
) -> np.ndarray:
    """Records having every bit of a greedily grown seed: each step adds the bit most often
    set among the current records, which strips chance co-occurrence (about the fill
    ratio per bit) while keeping every record of the q-gram behind the seed."""
    members = bits[:, seed[0]] & bits[:, seed[1]]
    chosen = list(seed)
    for _ in range(steps):
        counts = bits[members].sum(axis=0)
        counts[chosen] = -1
        counts[~usable] = -1
        best = int(np.argmax(counts))
        if counts[best] < min_count:
            break
        chosen.append(best)
        members = members & bits[:, best]
    return np.asarray(members)


def unpack(enc: Encodings, rows: np.ndarray | None = None) -> np.ndarray:
    """CLK bits as a bool array (n, l), in clkhash's bit order."""
    clks = enc.clks if rows is None else enc.clks[rows]
    return np.unpackbits(np.ascontiguousarray(clks).view(np.uint8), axis=1).astype(bool)


def pattern_mining_attack(
    enc: Encodings,
    schema: Schema,
    names: NameList,
    *,
    sample: int = 20_000,
    min_support: float = 0.005,
    member_share: float = 0.9,
    seed: int = 0,
) -> AttackResult:
    """Christen et al.-style pattern mining: bit patterns -> q-grams -> names."""
    n = len(enc)
    result = AttackResult("pattern_mining")
    candidates = qgram_frequencies(schema, names, min_support)
    result.details["qgram_candidates"] = len(candidates)
    if n == 0 or not candidates:
        return result
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(n, size=min(n, sample), replace=False))
    patterns = mine_patterns(unpack(enc, rows), min_support, member_share=member_share)
    result.details["patterns_found"] = len(patterns)
    sample_bits = unpack(enc, rows)
    members = [sample_bits[:, pat].mean(axis=1) >= member_share for pat, _ in patterns]
    pairs = align_patterns(members, candidates, joint_shares(schema, names, candidates))
    assigned = [(patterns[j], candidates[c]) for j, c in pairs]
    result.details["patterns_aligned"] = len(assigned)
    bits = unpack(enc)
    present = {
        (fld, q): bits[:, pat].mean(axis=1) >= member_share for (pat, _), (fld, q, _) in assigned
    }
    for fld in {fld for _, (fld, _, _) in assigned}:
        result.guesses[fld] = _reidentify(fld, schema, names[fld], present)
    return result


def joint_shares(
    schema: Schema, names: NameList, candidates: list[tuple[str, str, float]]
) -> np.ndarray:
    """Share of people whose name contains both q-grams, for candidates of the same field
    (NaN across fields: the list says nothing about how fields co-occur)."""
    k = len(candidates)
    joint = np.full((k, k), np.nan)
    for fld in {c[0] for c in candidates}:
        idx = [i for i, c in enumerate(candidates) if c[0] == fld]
        n = _ngram_size(schema, fld) or 2
        values = list(names[fld].items())
        total = sum(f for _, f in values) or 1.0
        member = np.array(
            [[candidates[i][1] in qgrams(v, n) for i in idx] for v, _ in values], dtype=np.float64
        )
        weights = np.array([f for _, f in values]) / total
        joint[np.ix_(idx, idx)] = member.T @ (member * weights[:, None])
    return joint


def align_patterns(
    members: list[np.ndarray],
    candidates: list[tuple[str, str, float]],
    joint: np.ndarray,
    max_score: float = 0.4,
    starts: int = 30,
) -> list[tuple[int, int]]:
    """Align mined patterns with q-grams by their share *and* their co-occurrence with the
    pairs already aligned (conditional frequencies, as in Christen et al.'s partitioning).

    Greedy from a first anchor: repeatedly fix the (pattern, q-gram) pair with the lowest
    mismatch -- the absolute log-ratio of shares plus the mean absolute log-ratio of joint
    shares with anchored q-grams of the same field -- until it exceeds ``max_score``. The
    first anchor is tried among the ``starts`` best share matches; the alignment kept is
    the one with the most total slack (sum of ``max_score - mismatch``), which the attacker
    can compute without any ground truth.
    """
    if not members or not candidates:
        return []
    m = np.array(members, dtype=np.float64)
    share = np.array([c[2] for c in candidates])
    base = np.abs(np.log(m.mean(axis=1)[:, None] / share[None, :]))
    fields = np.array([c[0] for c in candidates], dtype=object)
    observed = (m @ m.T) / m.shape[1]
    best: tuple[float, list[tuple[int, int]]] = (-1.0, [])
    for first in np.argsort(base, axis=None)[:starts]:
        j0, c0 = np.unravel_index(int(first), base.shape)
        slack, pairs = _greedy_alignment(
            base, observed, joint, fields, (int(j0), int(c0)), max_score
        )
        if slack > best[0]:
            best = (slack, pairs)
    return best[1]


def _greedy_alignment(
    base: np.ndarray,
    observed: np.ndarray,
    joint: np.ndarray,
    fields: np.ndarray,
    first: tuple[int, int],
    max_score: float,
    delta: float = 0.002,
) -> tuple[float, list[tuple[int, int]]]:
    """One greedy alignment from a given first anchor; returns (total slack, pairs)."""
    diff_sum = np.zeros_like(base)
    anchors_in = np.zeros(base.shape[1])
    free_p = np.ones(base.shape[0], dtype=bool)
    free_c = np.ones(base.shape[1], dtype=bool)
    pairs: list[tuple[int, int]] = []
    slack = 0.0
    j, c, score = first[0], first[1], float(base[first])
    while score <= max_score:
        pairs.append((j, c))
        slack += max_score - score
        free_p[j] = free_c[c] = False
        same = fields == fields[c]
        diff = np.abs(np.log((observed[:, j][:, None] + delta) / (joint[:, c][None, :] + delta)))
        diff_sum[:, same] += diff[:, same]
        anchors_in[same] += 1
        if not (free_p.any() and free_c.any()):
            break
        total = base + diff_sum / np.maximum(anchors_in, 1)[None, :] + 0.1 * (anchors_in == 0)
        total[~free_p, :] = np.inf
        total[:, ~free_c] = np.inf
        flat = int(np.argmin(total))
        j, c = (int(x) for x in np.unravel_index(flat, total.shape))
        score = float(total[j, c])
    return slack, pairs


def _reidentify(
    fld: str, schema: Schema, plain: dict[str, float], present: dict[tuple[str, str], np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Per record, the most frequent listed name whose assigned q-grams are exactly those
    found in the record; confidence is its share among all such names."""
    grams = [q for (f, q) in present if f == fld]
    n_size = _ngram_size(schema, fld) or 2
    by_mask: dict[int, list[tuple[float, str]]] = {}
    for value, freq in plain.items():
        qs = qgrams(value, n_size)
        mask = sum(1 << i for i, q in enumerate(grams) if q in qs)
        by_mask.setdefault(mask, []).append((freq, value))
    best = {m: (max(c)[1], max(c)[0] / sum(f for f, _ in c)) for m, c in by_mask.items()}
    n = next(iter(present.values())).shape[0]
    codes = np.zeros(n, dtype=object)
    for i, q in enumerate(grams):
        codes = codes + present[(fld, q)].astype(object) * (1 << i)
    values, conf = _empty_guesses(n)
    for mask in set(codes.tolist()):
        if mask in best:
            sel = codes == mask
            values[sel], conf[sel] = best[mask]
    return values, conf
