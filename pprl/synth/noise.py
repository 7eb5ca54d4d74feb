"""Attribute noise on the claims side: which records get which noise, and the string edits.

Decisions are vectorized (one bit per kind per record); only the few records whose
strings need a character-level edit are touched in Python. Every edit is guaranteed
to change the value, so the ``noise`` column in truth.csv lists exactly what differs
from the register (apart from the chosen kind, nothing else is altered).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

import jaconv
import numpy as np
import pyarrow as pa

from pprl.synth.config import NoiseRates
from pprl.synth.households import SPOUSE, Population
from pprl.synth.names import KANJI_VARIANTS, NEW_TO_OLD, Names, has_variant

NOISE_KINDS = [
    "maiden_name",
    "kanji_variant",
    "kana_long_vowel",
    "kana_ou_oo",
    "kana_typo",
    "kana_hiragana",
    "kana_halfwidth",
    "missing_kana",
    "dob_day_month_swap",
    "dob_year_off_by_one",
    "dob_era_format",
    "dob_era_error",
    "missing_dob",
    "moved_address",
    "missing_address",
    "address_format",
    "missing_sex",
]
BIT = {k: 1 << i for i, k in enumerate(NOISE_KINDS)}
BANK_KINDS = (
    "maiden_name",
    "kana_long_vowel",
    "kana_ou_oo",
    "kana_typo",
    "dob_day_month_swap",
    "dob_year_off_by_one",
    "missing_dob",
)
PYTHON_KINDS = (
    "kanji_variant",
    "kana_long_vowel",
    "kana_ou_oo",
    "kana_typo",
    "kana_hiragana",
    "kana_halfwidth",
    "dob_day_month_swap",
    "dob_year_off_by_one",
    "dob_era_format",
    "dob_era_error",
)
PYTHON_MASK = sum(BIT[k] for k in PYTHON_KINDS)

_O_ROW = "オコゴソゾトドノホボポモヨロョ"
_LONG = re.compile(f"([{_O_ROW}])ウ")
_OU_OO = re.compile(f"([{_O_ROW}])([ウオ])")
_DAKUTEN = dict(
    zip(
        "カキクケコサシスセソタチツテトハヒフヘホ",
        "ガギグゲゴザジズゼゾダヂヅデドバビブベボ",
        strict=True,
    )
)
_DAKUTEN.update({v: k for k, v in list(_DAKUTEN.items())})
_PLAIN = "アイエカキクケコサシスセソタチテトナニヌネノハヒフヘホマミムメモヤユラリルレロワン"
_SMALL_TO_LARGE = str.maketrans("ァィゥェォッャュョヮヵヶ", "アイウエオツヤユヨワカケ")
ERAS = [
    (-35000, "明治", 1867),
    (int(np.datetime64("1912-07-30", "D").astype(int)), "大正", 1911),
    (int(np.datetime64("1926-12-25", "D").astype(int)), "昭和", 1925),
    (int(np.datetime64("1989-01-08", "D").astype(int)), "平成", 1988),
    (int(np.datetime64("2019-05-01", "D").astype(int)), "令和", 2018),
]


class KanaEligibility:
    """Per name-table entry: can a long-vowel / オウ-オオ / kanji-variant edit apply?"""

    def __init__(self, names: Names) -> None:
        """Precompute boolean arrays for surnames and male/female given names."""
        self.s_long = _match(names.surnames.kana, _LONG)
        self.s_ouoo = _match(names.surnames.kana, _OU_OO)
        self.s_var = has_variant(names.surnames.kanji)
        self.g_long = [_match(t.kana, _LONG) for t in (names.male, names.female)]
        self.g_ouoo = [_match(t.kana, _OU_OO) for t in (names.male, names.female)]
        self.g_var = [has_variant(t.kanji) for t in (names.male, names.female)]

    def given(self, attr: str, female: np.ndarray, given: np.ndarray) -> np.ndarray:
        """Look up a given-name eligibility array by sex."""
        m, f = getattr(self, attr)
        return np.asarray(
            np.where(female, f[np.minimum(given, len(f) - 1)], m[np.minimum(given, len(m) - 1)])
        )


def _match(strings: list[str], pattern: re.Pattern[str]) -> np.ndarray:
    """Boolean per string: ``pattern`` occurs."""
    return np.array([bool(pattern.search(s)) for s in strings], dtype=bool)


def _exclusive(rng: np.random.Generator, n: int, kinds: dict[str, float]) -> dict[str, np.ndarray]:
    """At most one kind per record from a group of mutually exclusive kinds."""
    u = rng.random(n)
    out: dict[str, np.ndarray] = {}
    lo = 0.0
    for k, p in kinds.items():
        out[k] = (u >= lo) & (u < lo + p)
        lo += p
    return out


def decide(
    rng: np.random.Generator,
    rates: NoiseRates,
    pop: Population,
    names: Names,
    elig: KanaEligibility,
    owner: np.ndarray,
    bank: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Choose noise bits per claim record and the surname each record carries.

    Returns ``(bits, surname)``: ``surname`` differs from the register only where
    ``maiden_name`` is set (a married woman whose claim still has her old surname).
    """
    n = len(owner)
    surname = pop.surname[owner].copy()
    female, given = pop.female[owner], pop.given[owner]
    bits = np.zeros(n, dtype=np.int64)

    def put(kind: str, mask: np.ndarray) -> None:
        """Set a kind's bit where ``mask``, unless the kind does not apply to this file."""
        if not bank or kind in BANK_KINDS:
            bits[mask] |= BIT[kind]

    maiden = (pop.role[owner] == SPOUSE) & female & (rng.random(n) < rates.maiden_name)
    new = rng.integers(0, len(names.surnames), n).astype(np.int32)
    new = np.where(new == surname, (new + 1) % len(names.surnames), new)
    surname = np.where(maiden, new, surname)
    put("maiden_name", maiden)
    if not bank:
        var = elig.s_var[surname] | elig.given("g_var", female, given)
        put("kanji_variant", var & (rng.random(n) < rates.kanji_variant))
    grp = _exclusive(
        rng, n, {"kana_long_vowel": rates.kana_long_vowel, "kana_ou_oo": rates.kana_ou_oo}
    )
    put(
        "kana_long_vowel",
        grp["kana_long_vowel"] & (elig.s_long[surname] | elig.given("g_long", female, given)),
    )
    put(
        "kana_ou_oo",
        grp["kana_ou_oo"] & (elig.s_ouoo[surname] | elig.given("g_ouoo", female, given)),
    )
    put("kana_typo", rng.random(n) < rates.kana_typo)
    for k, m in _exclusive(
        rng,
        n,
        {
            "kana_hiragana": rates.kana_hiragana,
            "kana_halfwidth": rates.kana_halfwidth,
            "missing_kana": rates.missing_kana,
        },
    ).items():
        put(k, m)
    if bits.any():  # a missing kana field carries no other kana noise
        miss = (bits & BIT["missing_kana"]) != 0
        kana_bits = BIT["kana_long_vowel"] | BIT["kana_ou_oo"] | BIT["kana_typo"]
        bits[miss] &= ~kana_bits
    _decide_dates(rng, rates, pop.dob[owner], n, put)
    for k, m in _exclusive(
        rng, n, {"moved_address": rates.moved_address, "missing_address": rates.missing_address}
    ).items():
        put(k, m)
    put(
        "address_format",
        (rng.random(n) < rates.address_format) & ((bits & BIT["missing_address"]) == 0),
    )
    put("missing_sex", rng.random(n) < rates.missing_sex)
    return bits, surname


def _decide_dates(
    rng: np.random.Generator,
    rates: NoiseRates,
    dob: np.ndarray,
    n: int,
    put: Callable[[str, np.ndarray], None],
) -> None:
    """Exclusive date noise; day/month swap only where it yields a different valid date."""
    dt = dob.astype("datetime64[D]")
    month = (dt.astype("datetime64[M]").astype(int) % 12) + 1
    day = (dt - dt.astype("datetime64[M]")).astype(int) + 1
    grp = _exclusive(
        rng,
        n,
        {
            "dob_day_month_swap": rates.dob_day_month_swap,
            "dob_year_off_by_one": rates.dob_year_off_by_one,
            "dob_era_format": rates.dob_era_format,
            "dob_era_error": rates.dob_era_error,
            "missing_dob": rates.missing_dob,
        },
    )
    grp["dob_day_month_swap"] &= (day <= 12) & (day != month)
    for k, m in grp.items():
        put(k, m)


def bits_to_strings(bits: np.ndarray) -> pa.Array:
    """Render bitmasks as semicolon-separated kind names (vectorized over unique masks)."""
    uniq, inv = np.unique(bits, return_inverse=True)
    labels = [";".join(k for k in NOISE_KINDS if u & BIT[k]) for u in uniq.tolist()]
    return pa.array(labels, pa.string()).take(pa.array(inv.astype(np.int32)))


def flip_variant(text: str) -> str:
    """Old form -> new form where the text has one, else new -> old (either direction)."""
    if any(c in KANJI_VARIANTS for c in text):
        return "".join(KANJI_VARIANTS.get(c, c) for c in text)
    return "".join(NEW_TO_OLD.get(c, c) for c in text)


def has_flip(text: str) -> bool:
    """True when :func:`flip_variant` changes ``text``."""
    return any(c in KANJI_VARIANTS or c in NEW_TO_OLD for c in text)


def long_vowel(kana: str) -> str:
    """First o-row + ウ becomes a long-vowel mark: サトウ -> サトー."""
    return _LONG.sub(r"\1ー", kana, count=1)


def ou_oo(kana: str) -> str:
    """Swap the first o-row + ウ/オ: オオノ <-> オウノ, トウル <-> トオル."""
    return _OU_OO.sub(lambda m: m.group(1) + ("オ" if m.group(2) == "ウ" else "ウ"), kana, count=1)


def kana_typo(kana: str, rnd: random.Random) -> str:
    """Change one character: toggle a dakuten if possible, else a different plain kana."""
    positions = [i for i, c in enumerate(kana) if c not in "ーウオ"] or list(range(len(kana)))
    i = rnd.choice(positions)
    c = kana[i]
    repl = _DAKUTEN.get(c) or rnd.choice([x for x in _PLAIN if x != c])
    return kana[:i] + repl + kana[i + 1 :]


def to_era(iso: str, off: int = 0) -> str:
    """ISO date -> 和暦 string such as 昭和55年5月3日 (era year shifted by ``off``)."""
    day = int(np.datetime64(iso, "D").astype(int))
    _, era, base = next(e for e in reversed(ERAS) if day >= e[0])
    y, m, d = (int(x) for x in iso.split("-"))
    ey = y - base + off
    label = "元" if ey == 1 and off == 0 else str(ey)
    return f"{era}{label}年{m}月{d}日"


def year_off(iso: str, rnd: random.Random) -> str:
    """Shift the year by one (29 February becomes 28 February)."""
    y, m, d = (int(x) for x in iso.split("-"))
    y += rnd.choice((-1, 1))
    if m == 2 and d == 29:
        d = 28
    return f"{y:04d}-{m:02d}-{d:02d}"


def swap_day_month(iso: str) -> str:
    """Swap day and month (only called when the day is 12 or less and differs)."""
    y, m, d = iso.split("-")
    return f"{y}-{d}-{m}"


def apply_python(rec: dict[str, str], bits: int, rnd: random.Random) -> None:
    """Apply the character-level edits chosen in ``bits`` to one record in place."""
    if bits & BIT["kanji_variant"]:
        key = "family_name_kanji" if has_flip(rec["family_name_kanji"]) else "given_name_kanji"
        rec[key] = flip_variant(rec[key])
    for kind, fn, pat in (("kana_long_vowel", long_vowel, _LONG), ("kana_ou_oo", ou_oo, _OU_OO)):
        if bits & BIT[kind]:
            key = "family_name_kana" if pat.search(rec["family_name_kana"]) else "given_name_kana"
            rec[key] = fn(rec[key])
    if bits & BIT["kana_typo"]:
        key = rnd.choice(("family_name_kana", "given_name_kana"))
        rec[key] = kana_typo(rec[key], rnd)
    for key in ("family_name_kana", "given_name_kana"):
        if bits & BIT["kana_hiragana"]:
            rec[key] = jaconv.kata2hira(rec[key])
        elif bits & BIT["kana_halfwidth"]:
            rec[key] = jaconv.z2h(rec[key], kana=True, ascii=False, digit=False)
    iso = rec["date_of_birth"]
    if bits & BIT["dob_day_month_swap"]:
        rec["date_of_birth"] = swap_day_month(iso)
    elif bits & BIT["dob_year_off_by_one"]:
        rec["date_of_birth"] = year_off(iso, rnd)
    elif bits & BIT["dob_era_format"]:
        rec["date_of_birth"] = to_era(iso)
    elif bits & BIT["dob_era_error"]:
        rec["date_of_birth"] = to_era(iso, rnd.choice((-1, 1)) if _era_year(iso) > 1 else 1)


def _era_year(iso: str) -> int:
    """Era year of an ISO date (used to keep era-error years positive)."""
    day = int(np.datetime64(iso, "D").astype(int))
    _, _, base = next(e for e in reversed(ERAS) if day >= e[0])
    return int(iso[:4]) - base


def bank_kana(kana: str) -> str:
    """Full-width katakana -> bank form: small kana written large, then half-width."""
    return jaconv.z2h(kana.translate(_SMALL_TO_LARGE), kana=True, ascii=False, digit=False)
