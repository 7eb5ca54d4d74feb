"""Households and residents as numpy arrays (no per-person Python objects).

Household types and shares are rough figures from the 2020 census household
composition: singles 38%, couples 20%, couples with children 25%, single parents 9%,
three generations 8%. Families share a surname and an address; twins share a birth
date and a surname (rate set by the profile, see ``pprl.synth.config.Profile``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pprl.synth.geo import BUILDINGS, town_table
from pprl.synth.names import Names, has_variant, sample_given, sample_weighted

HEAD, SPOUSE, CHILD, GRANDPARENT = 0, 1, 2, 3
SINGLE, COUPLE, COUPLE_KIDS, SINGLE_PARENT, THREE_GEN = range(5)
TYPE_SHARES = np.array([0.38, 0.20, 0.25, 0.09, 0.08])
REFERENCE_DAY = int(np.datetime64("2025-04-01", "D").astype(np.int64))


@dataclass
class Households:
    """Per-household arrays: address components and member range."""

    start: np.ndarray  # int64, first person index
    size: np.ndarray  # int32
    town: np.ndarray  # int32 index into the town table
    chome: np.ndarray  # int16
    ban: np.ndarray  # int16
    go: np.ndarray  # int16
    building: np.ndarray  # int16, -1 = detached house
    room: np.ndarray  # int16
    post4: np.ndarray  # int16, last four postcode digits

    def __len__(self) -> int:
        """Number of households."""
        return len(self.start)


@dataclass
class Population:
    """Per-person arrays (index = register row) and the households they live in."""

    surname: np.ndarray  # int32 index into names.surnames
    given: np.ndarray  # int32 index into male or female table (by sex)
    female: np.ndarray  # bool
    dob: np.ndarray  # int32 days since 1970-01-01
    hh: np.ndarray  # int32 household index
    role: np.ndarray  # int8
    twin: np.ndarray  # int32 index of the twin sibling or -1
    old_kanji: np.ndarray  # bool: register holds the old kanji form of the surname
    number: np.ndarray  # int64 My Number (filled by numbers.assign_numbers)
    households: Households

    def __len__(self) -> int:
        """Number of residents."""
        return len(self.surname)


def random_addresses(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Draw ``n`` address component sets (town, 丁目/番地/号, building, room, postcode)."""
    towns = town_table()
    in_building = rng.random(n) < 0.35
    return {
        "town": sample_weighted(rng, towns.weights, n),
        "chome": rng.integers(1, 8, n).astype(np.int16),
        "ban": rng.integers(1, 30, n).astype(np.int16),
        "go": rng.integers(1, 25, n).astype(np.int16),
        "building": np.where(in_building, rng.integers(0, len(BUILDINGS), n), -1).astype(np.int16),
        "room": (rng.integers(1, 10, n) * 100 + rng.integers(1, 12, n)).astype(np.int16),
        "post4": rng.integers(0, 10000, n).astype(np.int16),
    }


def _household_shapes(rng: np.random.Generator, n_people: int) -> dict[str, np.ndarray]:
    """Draw household types and member counts until they hold ``n_people`` residents."""
    n_hh = int(n_people / 2.0) + 64
    while True:
        kind = rng.choice(5, size=n_hh, p=TYPE_SHARES).astype(np.int8)
        spouse = np.isin(kind, (COUPLE, COUPLE_KIDS, THREE_GEN))
        kids = np.zeros(n_hh, dtype=np.int32)
        with_kids = np.isin(kind, (COUPLE_KIDS, SINGLE_PARENT, THREE_GEN))
        kids[with_kids] = rng.choice(
            [1, 2, 3, 4], size=int(with_kids.sum()), p=[0.4, 0.42, 0.15, 0.03]
        )
        kids[kind == THREE_GEN] -= rng.integers(0, 2, int((kind == THREE_GEN).sum())).astype(
            np.int32
        )
        grand = np.where(kind == THREE_GEN, rng.integers(1, 3, n_hh), 0).astype(np.int32)
        size = (1 + spouse + kids + grand).astype(np.int32)
        if size.sum() >= n_people:
            break
        n_hh = int(n_hh * 1.2)
    keep = int(np.searchsorted(np.cumsum(size), n_people)) + 1
    return {
        "kind": kind[:keep],
        "spouse": spouse[:keep],
        "kids": kids[:keep],
        "grand": grand[:keep],
        "size": size[:keep],
    }


def _head_age(rng: np.random.Generator, kind: np.ndarray) -> np.ndarray:
    """Age of the household head, by household type."""
    lo = np.choose(kind, [18, 24, 27, 24, 30])
    hi = np.choose(kind, [96, 92, 58, 56, 62])
    return rng.integers(lo, hi + 1).astype(np.int32)


def build_population(
    rng: np.random.Generator,
    n_people: int,
    names: Names,
    old_kanji_rate: float = 0.25,
    twin_rate: float = 0.04,
) -> Population:
    """Generate ``n_people`` residents in households, fully vectorized.

    ``old_kanji_rate``: share of households with a variant surname whose register holds
    the old form; ``twin_rate``: share of families with two or more children whose
    first two children are twins.
    """
    shp = _household_shapes(rng, n_people)
    n_hh = len(shp["size"])
    start = np.concatenate([[0], np.cumsum(shp["size"])[:-1]]).astype(np.int64)
    shp["size"][-1] = n_people - start[-1]  # the last household may be cut short
    hh = np.repeat(np.arange(n_hh, dtype=np.int32), shp["size"])[:n_people]
    pos = (np.arange(n_people) - start[hh]).astype(np.int32)
    sp = shp["spouse"][hh]
    k = shp["kids"][hh]
    role = np.where(
        pos == 0,
        HEAD,
        np.where(sp & (pos == 1), SPOUSE, np.where(pos < 1 + sp + k, CHILD, GRANDPARENT)),
    ).astype(np.int8)
    head_age = _head_age(rng, shp["kind"])
    head_female_p = np.choose(shp["kind"], [0.5, 0.12, 0.1, 0.85, 0.1])
    head_female = rng.random(n_hh) < head_female_p

    age = head_age[hh].astype(np.float64)
    is_sp, is_ch, is_gp = role == SPOUSE, role == CHILD, role == GRANDPARENT
    age[is_sp] += rng.integers(-6, 4, int(is_sp.sum()))
    age[is_sp] = np.maximum(age[is_sp], 18)
    child_no = pos - 1 - sp
    age[is_ch] -= 24 + 3 * child_no[is_ch] + rng.integers(0, 9, int(is_ch.sum()))
    age[is_gp] += rng.integers(24, 34, int(is_gp.sum()))
    age = np.clip(age, 0, 104)
    dob = (REFERENCE_DAY - age * 365.25 - rng.integers(0, 365, n_people)).astype(np.int32)

    female = rng.random(n_people) < 0.5
    female[role == HEAD] = head_female[hh[role == HEAD]]
    female[is_sp] = ~head_female[hh[is_sp]]

    twin = _plant_twins(rng, shp, start, n_people, dob, twin_rate)
    surname = sample_weighted(rng, names.surnames.weights[0], n_hh)[hh]
    birth_year = 1970 + dob // 365.25
    given = sample_given(rng, names, female, birth_year)
    _distinct_twin_names(rng, names, twin, given, female, birth_year)
    variant = has_variant(names.surnames.kanji)[surname]
    old_kanji = variant & (rng.random(n_people) < old_kanji_rate)
    old_kanji = old_kanji[start[hh]]  # the whole household shares the registered form
    hhs = Households(start=start, size=shp["size"], **random_addresses(rng, n_hh))
    return Population(
        surname,
        given,
        female,
        dob,
        hh,
        role,
        twin,
        old_kanji,
        np.zeros(n_people, dtype=np.int64),
        hhs,
    )


def _plant_twins(
    rng: np.random.Generator,
    shp: dict[str, np.ndarray],
    start: np.ndarray,
    n: int,
    dob: np.ndarray,
    rate: float,
) -> np.ndarray:
    """Make the first two children of a ``rate`` share of families with two or more
    children twins (same DOB); return the twin index per person (-1: none)."""
    twin = np.full(n, -1, dtype=np.int32)
    cand = np.flatnonzero((shp["kids"] >= 2) & (rng.random(len(start)) < rate))
    first = start[cand] + 1 + shp["spouse"][cand]
    ok = first + 1 < n
    a, b = first[ok], first[ok] + 1
    dob[b] = dob[a]
    twin[a], twin[b] = b, a
    return twin


def _distinct_twin_names(
    rng: np.random.Generator,
    names: Names,
    twin: np.ndarray,
    given: np.ndarray,
    female: np.ndarray,
    birth_year: np.ndarray,
) -> None:
    """Re-draw the given name of a twin who happens to share it with the sibling."""
    for _ in range(10):
        b = np.flatnonzero((twin >= 0) & (np.arange(len(twin)) > twin))
        same = b[(given[b] == given[twin[b]]) & (female[b] == female[twin[b]])]
        if not len(same):
            return
        given[same] = sample_given(rng, names, female[same], birth_year[same])
