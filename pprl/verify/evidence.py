"""Per-attribute evidence for a claimed link, in the five-attribute form of the 2023
inspection: kanji name, kana name, date of birth, sex, address.

Computed for the claimed pair (the claim and the register record its number points to)
from what the matcher holds: the keyed block keys of both records and the Dice score
of their CLKs. Two records whose block key is equal agree exactly on that attribute
after normalization; unequal values differ; a key missing on either side is missing.
Which block key speaks for which attribute follows from the normalizers of its parts
(:func:`evidence_keys`); an attribute no key speaks for is shown as ``?``.

A block key cannot see partial agreement (the family name only, one typo): the phrase
after ``→`` (:func:`explain`) uses the Dice score for an overall judgement where the
keys alone cannot tell. The rule table is :data:`RULES`; docs/verification.md explains
it for people.

Codes: per attribute two bits (:class:`State`) in a ``uint16`` per claim
(:func:`attribute_codes`); 0 for a claim without a claimed register record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import IntEnum
from typing import Any

import numpy as np
import pyarrow as pa

__all__ = [
    "ATTRIBUTES",
    "FAMILY_SCORE",
    "MAX_EVIDENCE_KEYS",
    "PHRASES",
    "RULES",
    "State",
    "attribute_codes",
    "evidence_keys",
    "evidence_rank",
    "evidence_texts",
    "explain",
    "key_states",
    "phrase_of",
    "states_of",
]

ATTRIBUTES: tuple[str, ...] = ("kanji", "kana", "dob", "sex", "address")
"""The inspection's five attributes, in the order the evidence shows them."""

MAX_EVIDENCE_KEYS = 8
"""Block keys compared per claimed pair (two bits each in a ``uint16``)."""

FAMILY_SCORE = 0.48
"""Where the address is not visible, a claimed pair whose names and birth date all
differ but whose CLKs still score at least this is taken for a family member (they
share the family name, address and postcode, which are most of the CLK's q-grams); below
it for an unrelated person. Measured on ``pprl synth --profile hard`` (docs/benchmarks.md)."""


class State(IntEnum):
    """One attribute's state in a claimed pair."""

    UNSEEN = 0  # no block key speaks for it: shown as ``?``
    AGREE = 1
    DIFFER = 2
    MISSING = 3  # a key speaks for it, but one of the records lacks the value

    @property
    def text(self) -> str:
        return ("?", "agree", "differ", "missing")[self]


# Which attribute a block key speaks for, from the normalizers of its parts (whole
# fields only). ``dob+sex`` speaks for sex only where the birth dates agree.
_BY_NORMALIZERS: dict[frozenset[str], str] = {
    frozenset({"name_kanji"}): "kanji",
    frozenset({"name_kana"}): "kana",
    frozenset({"name_kana_bank"}): "kana",
    frozenset({"date"}): "dob",
    frozenset({"date", "sex"}): "dob+sex",
    frozenset({"sex"}): "sex",
    frozenset({"address"}): "address",
    frozenset({"address", "postcode"}): "address",
}
# Files without a schema document (written by the library): the built-in key names.
_BY_NAME = {
    "kanji_name": "kanji",
    "kana_name": "kana",
    "dob": "dob",
    "dob_sex": "dob+sex",
    "address": "address",
}


def evidence_keys(meta: Mapping[str, Any], names: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """The block keys among ``names`` that speak for an attribute, with the attribute:
    ``(("dob", "dob"), ("kana_name", "kana"), ...)``, at most :data:`MAX_EVIDENCE_KEYS`.

    With the schema document in ``meta`` (every file ``pprl encode`` writes), a key
    speaks for an attribute when its parts are whole fields whose normalizers make it
    one (family + given kana -> kana); without one, the built-in key names are used.
    A crafted schema that is not well-formed gives no evidence keys (the run still
    refuses or accepts the file on its own checks).
    """
    schema = meta.get("schema")
    ext = schema.get("pprl") if isinstance(schema, Mapping) else None
    found: dict[str, str] = {}
    if schema is None:
        found = dict(_BY_NAME)
    elif isinstance(ext, Mapping):
        normalize = ext.get("normalize")
        specs = ext.get("block_keys")
        if isinstance(normalize, Mapping) and isinstance(specs, list):
            for spec in specs:
                attr = _spec_attribute(spec, normalize)
                if attr is not None:
                    found[str(spec["name"])] = attr
    keys = tuple((n, found[n]) for n in names if n in found)
    return keys[:MAX_EVIDENCE_KEYS]


def _spec_attribute(spec: object, normalize: Mapping[str, Any]) -> str | None:
    """The attribute a schema block-key spec speaks for, or None."""
    if not isinstance(spec, Mapping) or not isinstance(spec.get("name"), str):
        return None
    parts = spec.get("parts")
    if not isinstance(parts, list) or not parts:
        return None
    kinds = set()
    for part in parts:
        if not isinstance(part, Mapping) or set(part) - {"field"}:
            return None  # a slice (year of birth, initial) is not the whole attribute
        kinds.add(str(normalize.get(str(part.get("field")), "none")))
    return _BY_NORMALIZERS.get(frozenset(kinds))


def key_states(
    q_keys: Sequence[tuple[np.ndarray, np.ndarray]],
    r_keys: Sequence[tuple[np.ndarray, np.ndarray]],
    q: np.ndarray,
    r: np.ndarray,
) -> np.ndarray:
    """Per pair ``(q[i], r[i])`` the :class:`State` of each key (``(values, valid)`` per
    key on each side), packed two bits per key in key order into a ``uint16``."""
    out = np.zeros(len(q), dtype=np.uint16)
    for j, ((qv, qok), (rv, rok)) in enumerate(zip(q_keys, r_keys, strict=True)):
        both = qok[q] & rok[r]
        state = np.where(
            both, np.where(qv[q] == rv[r], State.AGREE, State.DIFFER), State.MISSING
        ).astype(np.uint16)
        out |= state << np.uint16(2 * j)
    return out


def attribute_codes(
    packed: np.ndarray, keys: Sequence[tuple[str, str]], has: np.ndarray
) -> np.ndarray:
    """Per claim the five attributes' states (two bits each, :data:`ATTRIBUTES` order)
    from the key states of :func:`key_states`; 0 where ``has`` is False (no claimed
    record). ``dob+sex`` gives sex where the birth dates agree: equal means the sexes
    agree, unequal that they differ (a ``dob`` key must then be present too)."""
    states = {a: np.zeros(len(packed), dtype=np.uint16) for a in ATTRIBUTES}
    dob_sex = None
    for j, (_, attr) in enumerate(keys):
        s = (packed >> np.uint16(2 * j)) & np.uint16(3)
        if attr == "dob+sex":
            dob_sex = s
        else:
            states[attr] = s
    if dob_sex is not None:
        dob = states["dob"]
        derived = np.where(dob == State.AGREE, dob_sex, State.UNSEEN)
        derived = np.where(dob_sex == State.MISSING, State.MISSING, derived)
        states["sex"] = np.where(states["sex"] == State.UNSEEN, derived, states["sex"]).astype(
            np.uint16
        )
    out = np.zeros(len(packed), dtype=np.uint16)
    for i, attr in enumerate(ATTRIBUTES):
        out |= states[attr].astype(np.uint16) << np.uint16(2 * i)
    out[~has] = 0
    return out


def evidence_rank(codes: np.ndarray) -> np.ndarray:
    """How strongly each pair's keys speak for the same person, to compare two records
    against one claim: 3 if the birth dates agree, plus 1 for each name (kanji, kana)
    that agrees. The birth date outweighs both names: a changed name (marriage) keeps
    it, while a relative or a namesake who shares the names rarely shares it too.
    Missing and unseen attributes count as not agreeing."""
    c = np.asarray(codes).astype(np.int64)

    def agrees(attr: str) -> np.ndarray:
        shift = 2 * ATTRIBUTES.index(attr)
        state: np.ndarray = (c >> shift) & 3
        return np.asarray(state == int(State.AGREE))

    rank: np.ndarray = 3 * agrees("dob").astype(np.int64) + agrees("kanji") + agrees("kana")
    return rank


def states_of(code: int) -> dict[str, State]:
    """The five attributes' states of one code."""
    return {a: State((code >> (2 * i)) & 3) for i, a in enumerate(ATTRIBUTES)}


RULES: tuple[tuple[str, str], ...] = (
    ("a name (kanji or kana) or the birth date is missing or unseen", "too little data"),
    (
        "names and birth date agree; sex differs, or another register record scores "
        "higher than the claimed one",
        "namesake with the same birth date",
    ),
    (
        "names and birth date agree; the address differs, or is unseen and the score is "
        "below confirm_score",
        "moved, or namesake with the same birth date",
    ),
    ("names and birth date agree, nothing above applies", "same person"),
    ("names agree; birth date differs", "birth-date typo or namesake"),
    ("names differ; birth date agrees", "name change or twin"),
    (
        "names and birth date differ; the address agrees, or is unseen and the score is at "
        "least FAMILY_SCORE",
        "likely family member",
    ),
    ("names and birth date differ, nothing above applies", "different person"),
    ("kana and birth date agree; kanji differs", "kanji variant or typo"),
    ("kanji and birth date agree; kana differs", "kana variant or typo"),
    ("one name agrees, the other differs; birth date differs", "namesake or typos"),
)
"""(condition, explanation), first match wins: the table docs/verification.md shows.
"Names agree" means every visible name key (kanji, kana) agrees; "names differ" that
every visible one differs."""

PHRASES: tuple[str, ...] = tuple(dict.fromkeys(phrase for _, phrase in RULES))
"""Every explanation, in rule order."""


def _phrase(st: Mapping[str, State], confirm_level: bool, family_level: bool, better: bool) -> str:
    """The explanation of one claimed pair (see :data:`RULES`): ``confirm_level`` says
    the score is at least ``confirm_score``, ``family_level`` at least
    :data:`FAMILY_SCORE`, ``better`` that another register record scores higher."""
    a, d = State.AGREE, State.DIFFER
    kanji, kana, dob = st["kanji"], st["kana"], st["dob"]
    seen = [s for s in (kanji, kana) if s in (a, d)]
    if not seen or dob not in (a, d):
        return "too little data"
    names_agree = all(s == a for s in seen)
    names_differ = all(s == d for s in seen)
    sex, address = st["sex"], st["address"]
    if names_agree and dob == a:
        if sex == d or better:
            return "namesake with the same birth date"
        if address == d or (address != a and not confirm_level):
            return "moved, or namesake with the same birth date"
        return "same person"
    if names_agree:
        return "birth-date typo or namesake"
    if names_differ and dob == a:
        return "name change or twin"
    if names_differ:
        family = address == a or (address != d and family_level)
        return "likely family member" if family else "different person"
    if dob == a:  # one name agrees, the other differs
        return "kanji variant or typo" if kana == a else "kana variant or typo"
    return "namesake or typos"


def explain(
    codes: np.ndarray, score: np.ndarray, cand_score: np.ndarray, confirm_score: float
) -> tuple[np.ndarray, list[str | None]]:
    """The evidence of each claim as (index per claim, texts): ``kanji=agree …
    address=? → same person``, None where the claim has no claimed record (code 0).
    ``cand_score``: the best alternative's score (NaN none).

    The text depends on the code and three score comparisons only, so each combination
    is explained once, whatever the number of claims."""
    score = np.nan_to_num(np.asarray(score, dtype=float), nan=0.0)
    better = np.nan_to_num(np.asarray(cand_score, dtype=float), nan=-1.0) > score
    keys = (
        np.asarray(codes).astype(np.int64)
        | ((score >= confirm_score).astype(np.int64) << 16)
        | ((score >= FAMILY_SCORE).astype(np.int64) << 17)
        | (better.astype(np.int64) << 18)
    )
    uniq, inverse = np.unique(keys, return_inverse=True)
    texts: list[str | None] = []
    for key in uniq.tolist():
        code = key & 0xFFFF
        if code == 0:
            texts.append(None)
            continue
        st = states_of(code)
        shown = " ".join(f"{a}={st[a].text}" for a in ATTRIBUTES)
        levels = (bool(key >> 16 & 1), bool(key >> 17 & 1), bool(key >> 18 & 1))
        texts.append(f"{shown} → {_phrase(st, *levels)}")
    return inverse.reshape(-1), texts


def evidence_texts(
    codes: np.ndarray, score: np.ndarray, cand_score: np.ndarray, confirm_score: float
) -> pa.Array:
    """:func:`explain` as an arrow string column (null where there is no claimed
    record), built by arrow from the distinct texts."""
    inverse, texts = explain(codes, score, cand_score, confirm_score)
    none = np.asarray([t is None for t in texts], dtype=bool)
    indices = pa.array(inverse.astype(np.int32), mask=none[inverse] if len(inverse) else None)
    dictionary = pa.array([t or "" for t in texts], pa.string())
    return pa.DictionaryArray.from_arrays(indices, dictionary).cast(pa.string())


def phrase_of(text: str | None) -> str | None:
    """The explanation part of an evidence text (after ``→``), None for none."""
    if not text or "→" not in text:
        return None
    return text.split("→", 1)[1].strip()
