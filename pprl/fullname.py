"""Full names in one column (氏名, 氏名カナ) split into family and given name.

Many exports hold the whole name in one column: 「山田　太郎」, 「山田太郎」, ｢ﾔﾏﾀﾞ ﾀﾛｳ｣.
The built-in schemas hash the family and the given name as separate fields, so such a
column is split first (:func:`split_full_names`), once per distinct value, by these
rules (documented in docs/schema.md, "Full names in one column"):

1. The value is NFKC-normalized (half-width kana become full-width, U+3000 a space)
   and stripped.
2. With whitespace inside, the family name is everything before the first run of
   whitespace and the given name everything after it (later spaces stay in the given
   name; the name normalizers drop them): 「山田　太郎」 → 山田 / 太郎.
3. Without whitespace, the split comes from the known names of the
   ``japanese-personal-name-dataset`` package: its 1,999 surnames (kanji and kana
   reading) and its given names (readings and kanji forms). Names are compared through
   a lookup key that folds variant kanji (髙 → 高, 﨑 → 崎, 邊 → 辺, the table of
   :mod:`pprl.normalize.kanji`), hiragana to katakana, small kana to large, ヂ/ヅ/ヲ to
   ジ/ズ/オ and long vowels (サトー = サトウ, オオノ = オウノ). In this order:

   a. the longest known surname prefix that leaves a known given name;
   b. the whole value, if it is a known surname (a family name alone);
   c. the longest known surname prefix of two characters or more (one if the value has
      at most three), leaving at most three characters in a name of kanji only;
   d. the longest known given-name suffix of two characters or more, after at least
      two characters (an unknown surname);
   e. otherwise: kanji followed by kana splits where the kana start (山田はな); a value of
      kanji only gives its first two characters (one if it has two) to the family name;
      anything else (kana, Latin) is all family name, with an empty given name.

   The given name is never empty in a to d unless the whole value is a surname, and
   never starts with ン, ッ, ー or a small kana.

Known names are matched by a 64-bit polynomial hash of their lookup key; a collision
can only change where a name is split, never the characters kept.
"""

from __future__ import annotations

import csv
import importlib.util
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pprl.errors import InputError
from pprl.normalize._chars import DASHES, WAVES
from pprl.normalize.kanji import variant_pairs

if TYPE_CHECKING:
    from pprl.encode.factorize import Factorized

__all__ = [
    "FULL_NAMES",
    "FullName",
    "HashSet",
    "KnownNames",
    "known_names",
    "split_full_names",
    "split_one",
]


@dataclass(frozen=True)
class FullName:
    """A combined name column and the two schema fields it is split into."""

    name: str  # the field a header maps to (``--column full_name_kanji=氏名``)
    family: str
    given: str


FULL_NAMES: tuple[FullName, ...] = (
    FullName("full_name_kanji", "family_name_kanji", "given_name_kanji"),
    FullName("full_name_kana", "family_name_kana", "given_name_kana"),
)

MAX_SPLIT_LENGTH = 32  # longer values without a space are not looked up (rule e)
_DATASET = "japanese_personal_name_dataset"
_BASE = np.uint64(0x9E3779B97F4A7C15)  # odd: the polynomial hash's base (mod 2**64)


# --- the lookup key: one code point per code point, so prefixes map back ------------------
_SMALL = "ァィゥェォッャュョヮヵヶ"
_LARGE = "アイウエオツヤユヨワカケ"
_VOWELS = {
    "ア": "アカサタナハマヤラワガザダバパ",
    "イ": "イキシチニヒミリギジヂビピ",
    "ウ": "ウクスツヌフムユルグズヅブプヴ",
    "エ": "エケセテネヘメレゲゼデベペ",
    "オ": "オコソトノホモヨロヲゴゾドボポ",
}


@cache
def _key_table() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The context-free part of the lookup key: a table for the BMP and sorted
    (from, to) code points above it."""
    table: dict[int, int] = {c: c + 0x60 for c in range(0x3041, 0x3097)}  # ぁ..ゖ → ァ..ヶ
    table.update({0x309D: 0x30FD, 0x309E: 0x30FE})  # ゝゞ → ヽヾ
    table.update({ord(s): ord(b) for s, b in zip(_SMALL, _LARGE, strict=True)})
    table.update({ord(s) - 0x60: ord(b) for s, b in zip(_SMALL, _LARGE, strict=True)})
    table.update(
        {
            ord(a): ord(b)
            for a, b in zip("ヂヅヲヰヱぢづをゐゑ", "ジズオイエジズオイエ", strict=True)
        }
    )
    table.update({ord(d): 0x30FC for d in DASHES + WAVES})  # every dash → ー
    table.update({ord(v): ord(c) for v, c, _ in variant_pairs()})
    table.update({c: c - 32 for c in range(ord("a"), ord("z") + 1)})
    dense = np.arange(0x10000, dtype=np.uint32)
    small = {c: t for c, t in table.items() if c < 0x10000}
    dense[np.array(list(small), dtype=np.int64)] = np.array(list(small.values()), np.uint32)
    astral = sorted(c for c in table if c >= 0x10000)
    src = np.array(astral, dtype=np.uint32)
    return dense, src, np.array([table[c] for c in astral], dtype=np.uint32)


@cache
def _vowel_table() -> np.ndarray:
    """Vowel (ア イ ウ エ オ) of each katakana after the context-free key, 0 for none."""
    out = np.zeros(0x3100, dtype=np.uint32)
    for vowel, row in _VOWELS.items():
        for ch in row:
            out[ord(ch)] = ord(vowel)
    return out


def _key(cps: np.ndarray, starts: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """The lookup key of every value (same length): see the module docstring."""
    dense, src, dst = _key_table()
    if not len(cps):
        return cps.copy()
    bmp = cps < 0x10000
    out = dense[np.where(bmp, cps, 0)]
    astral = np.flatnonzero(~bmp)
    if len(astral):
        c = cps[astral]
        idx = np.minimum(np.searchsorted(src, c), len(src) - 1)
        out[astral] = np.where(src[idx] == c, dst[idx], c)
    first = np.zeros(len(out), dtype=bool)
    first[starts[lens > 0]] = True
    vowels = _vowel_table()

    def vowel_of(prev: np.ndarray) -> np.ndarray:
        return np.where(prev < len(vowels), vowels[np.minimum(prev, len(vowels) - 1)], 0)

    for _ in range(3):  # ーー after a kana: each dash becomes the vowel before it
        pos = np.flatnonzero((out == 0x30FC) & ~first)
        if not len(pos):
            break
        v = vowel_of(out[pos - 1])
        out[pos[v > 0]] = v[v > 0]
    pos = np.flatnonzero(~first & ((out == ord("ウ")) | (out == ord("イ")) | (out == 0x30FD)))
    if len(pos):
        prev = out[pos - 1]
        v = vowel_of(prev)
        is_u, is_i = out[pos] == ord("ウ"), out[pos] == ord("イ")
        out[pos[is_u & (v == ord("オ"))]] = ord("オ")  # トウ = トオ = トー
        out[pos[is_i & (v == ord("エ"))]] = ord("エ")  # ケイ = ケエ = ケー
        mark = out[pos] == 0x30FD  # ヽ repeats the kana before it
        out[pos[mark]] = prev[mark]
    return out


def _prefix_hashes(key: np.ndarray, starts: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """Polynomial hash of key[start : start + j + 1] at every position (wrapping uint64)."""
    h = np.zeros(len(key), dtype=np.uint64)
    if not len(key):
        return h
    order = np.argsort(-lens, kind="stable")
    sorted_lens = lens[order]
    for j in range(int(sorted_lens[0]) if len(order) else 0):
        active = order[: int(np.searchsorted(-sorted_lens, -j, side="left"))]
        pos = starts[active] + j
        prev = h[pos - 1] if j else np.zeros(len(pos), dtype=np.uint64)
        h[pos] = prev * _BASE + key[pos].astype(np.uint64) + np.uint64(1)
    return h


def _powers(n: int) -> np.ndarray:
    """``_BASE ** i`` (wrapping) for i in 0..n."""
    out = np.ones(n + 1, dtype=np.uint64)
    for i in range(1, n + 1):
        out[i : i + 1] = out[i - 1 : i] * _BASE
    return out


# --- NFKC on code points ----------------------------------------------------------------
# Code points whose NFKC form is one stable code point and that compose with nothing
# but the kana voiced marks: the whole of a typical Japanese export. Text with anything
# else takes unicodedata's (slower) NFKC of the whole text.
_FAST_RANGES = (
    (0x00, 0x00),  # NUL, the separator between values
    (0x09, 0x0D),
    (0x20, 0x7E),
    (0x3000, 0x303F),
    (0x3041, 0x30FF),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
    (0xFE00, 0xFE0F),
    (0xFF01, 0xFF9F),
)
_VOICED, _SEMI_VOICED = 0x3099, 0x309A


@cache
def _nfkc_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(fast, single, voiced, semi) over the BMP: whether a code point takes the fast
    path, its NFKC form, and the kana it makes with a following voiced or semi-voiced
    mark (0: none)."""
    fast = np.zeros(0x10000, dtype=bool)
    single = np.arange(0x10000, dtype=np.uint32)
    for lo, hi in _FAST_RANGES:
        for c in range(lo, hi + 1):
            form = unicodedata.normalize("NFKC", chr(c))
            if len(form) == 1 and (
                unicodedata.combining(form) == 0 or ord(form) in (_VOICED, _SEMI_VOICED)
            ):
                fast[c], single[c] = True, ord(form)
    # the stand-alone marks ゛ ゜ count as the combining ones (pprl.normalize._chars)
    fast[[0x309B, 0x309C]] = True
    single[0x309B], single[0x309C] = _VOICED, _SEMI_VOICED
    voiced = np.zeros(0x10000, dtype=np.uint32)
    semi = np.zeros(0x10000, dtype=np.uint32)
    for c in range(0x3041, 0x3100):
        for mark, table in ((_VOICED, voiced), (_SEMI_VOICED, semi)):
            form = unicodedata.normalize("NFC", chr(c) + chr(mark))
            if len(form) == 1:
                table[c] = ord(form)
    return fast, single, voiced, semi


def _nfkc(text: str) -> np.ndarray:
    """UTF-32 code points of ``pprl.normalize._chars.nfkc(text)``, without the str."""
    cps = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    fast, single, voiced, semi = _nfkc_tables()
    bmp = cps < 0x10000
    if not (bmp.all() and fast[cps].all()):
        text = text.replace("\u309b", "\u3099").replace("\u309c", "\u309a")
        text = unicodedata.normalize("NFKC", text)
        return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    out = single[cps]
    marks = np.flatnonzero((out[1:] == _VOICED) | (out[1:] == _SEMI_VOICED)) + 1
    if len(marks):
        prev = out[marks - 1]
        composed = np.where(out[marks] == _VOICED, voiced[prev], semi[prev])
        ok = (composed > 0) & ~np.isin(prev, (_VOICED, _SEMI_VOICED))
        out[marks[ok] - 1] = composed[ok]
        out[marks[ok]] = _VOICED  # dropped below with the marks that did not compose
    return out


def _codepoints(values: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Code points of the values as ``pprl.normalize._chars.nfkc`` leaves them (NFKC,
    variation selectors, stray voiced marks and invisible format characters removed),
    back to back, with each
    value's start and length. One pass over all values joined with NUL (NUL never
    composes); a NUL inside a value is dropped first."""
    joined = "\x00".join(values)
    if joined.count("\x00") != max(len(values) - 1, 0):
        joined = "\x00".join(v.replace("\x00", "") for v in values)
    cps = _nfkc(joined)
    sep = np.flatnonzero(cps == 0)
    lens = np.diff(np.concatenate(([-1], sep, [len(cps)]))) - 1 if values else sep
    drop = (
        ((cps >= 0xFE00) & (cps <= 0xFE0F))
        | ((cps >= 0xE0100) & (cps <= 0xE01EF))
        | (cps == _VOICED)
        | (cps == _SEMI_VOICED)
        | (cps == 0x00AD)
        | ((cps >= 0x200B) & (cps <= 0x200D))
        | (cps == 0x2060)
        | (cps == 0xFEFF)
    )
    if drop.any():
        lens = lens - np.bincount(np.searchsorted(sep, np.flatnonzero(drop)), minlength=len(lens))
    keep = ~drop & (cps != 0)
    starts = np.zeros(len(lens), dtype=np.int64)
    if len(lens) > 1:
        np.cumsum(lens[:-1], out=starts[1:])
    return cps[keep], starts, lens.astype(np.int64)


def _whole_hashes(values: Sequence[str]) -> np.ndarray:
    """Distinct hashes of the lookup keys of ``values``."""
    cps, starts, lens = _codepoints(values)
    keep = lens > 0
    h = _prefix_hashes(_key(cps, starts, lens), starts, lens)
    return np.unique(h[starts[keep] + lens[keep] - 1])


def _mix(h: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer: spreads every input bit over the top bits (a short
    string's polynomial hash is small)."""
    h = h ^ (h >> np.uint64(30))
    h = h * np.uint64(0xBF58476D1CE4E5B9)
    h = h ^ (h >> np.uint64(27))
    h = h * np.uint64(0x94D049BB133111EB)
    return np.asarray(h ^ (h >> np.uint64(31)))


class HashSet:
    """A set of 64-bit hashes with vectorized membership: open addressing, linear
    probing, at most one eighth full, keyed by the top bits of the mixed hash."""

    def __init__(self, hashes: np.ndarray) -> None:
        keys = np.unique(np.asarray(hashes, dtype=np.uint64))
        self.size = len(keys)
        bits = max(int(len(keys) * 8 - 1).bit_length(), 4)
        self._shift = np.uint64(64 - bits)
        self._mask = np.int64((1 << bits) - 1)
        self._table = np.zeros(1 << bits, dtype=np.uint64)
        self._used = np.zeros(1 << bits, dtype=bool)
        slot = (_mix(keys) >> self._shift).astype(np.int64)
        while len(keys):  # place one key per free slot, move the others on by one
            _, first = np.unique(slot, return_index=True)
            place = first[~self._used[slot[first]]]
            self._table[slot[place]] = keys[place]
            self._used[slot[place]] = True
            rest = np.ones(len(keys), dtype=bool)
            rest[place] = False
            keys, slot = keys[rest], (slot[rest] + 1) & self._mask

    def __len__(self) -> int:
        return self.size

    def contains(self, hashes: np.ndarray) -> np.ndarray:
        """Boolean array: whether each of ``hashes`` is in the set."""
        out = np.zeros(len(hashes), dtype=bool)
        pending = np.arange(len(hashes))
        slot = (_mix(hashes) >> self._shift).astype(np.int64)
        while len(pending):
            used = self._used[slot]
            hit = used & (self._table[slot] == hashes[pending])
            out[pending[hit]] = True
            go_on = used & ~hit
            pending, slot = pending[go_on], (slot[go_on] + 1) & self._mask
        return out


# --- known names ----------------------------------------------------------------------------
@dataclass(frozen=True)
class KnownNames:
    """The lookup-key hashes of known surnames and given names."""

    surnames: HashSet
    given: HashSet

    @classmethod
    def from_names(cls, surnames: Sequence[str], given: Sequence[str]) -> KnownNames:
        """Known names from lists of names (kanji or kana)."""
        return cls(HashSet(_whole_hashes(surnames)), HashSet(_whole_hashes(given)))


def _dataset_file(name: str) -> Path:
    """A file of the installed ``japanese-personal-name-dataset`` (without importing it)."""
    spec = importlib.util.find_spec(_DATASET)
    if spec is None or not spec.submodule_search_locations:
        raise InputError(
            "package japanese-personal-name-dataset is not installed; it provides the "
            "known names that split full-name columns"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "dataset" / name
    if not path.is_file():
        raise InputError(f"{path} is missing from the installed japanese-personal-name-dataset")
    return path


def dataset_names() -> tuple[list[str], list[str]]:
    """(surnames, given names) of the dataset: every kanji form and every reading."""
    surnames: list[str] = []
    with _dataset_file("last_name_org.csv").open(encoding="utf-8") as fh:
        for row in csv.reader(fh):  # kanji, bearers, reading, romaji
            surnames.extend(v.strip() for v in (row[0], row[2] if len(row) > 2 else ""))
    given: list[str] = []
    for name in ("first_name_man_org.csv", "first_name_woman_org.csv"):
        with _dataset_file(name).open(encoding="utf-8") as fh:
            for row in csv.reader(fh):  # reading, romaji, kanji forms...
                given.extend(v.strip() for i, v in enumerate(row) if i != 1)
    return [s for s in surnames if s], [g for g in given if g]


@cache
def known_names() -> KnownNames:
    """The known names of ``japanese-personal-name-dataset``, read once per process."""
    return KnownNames.from_names(*dataset_names())


# --- the split --------------------------------------------------------------------------
_NO_START = np.array(
    [ord(c) for c in "ンッーぁぃぅぇぉっゃゅょゎァィゥェォャュョヮヵヶんー"], dtype=np.uint32
)
_WHITESPACE = np.array([c for c in range(0x3001) if chr(c).isspace()], dtype=np.uint32)


def _is_kanji(cps: np.ndarray) -> np.ndarray:
    return np.asarray(
        ((cps >= 0x3400) & (cps <= 0x9FFF))
        | ((cps >= 0xF900) & (cps <= 0xFAFF))
        | ((cps >= 0x20000) & (cps <= 0x3FFFF))
        | (cps == 0x3005)  # 々
    )


def _is_kana(cps: np.ndarray) -> np.ndarray:
    return (cps >= 0x3041) & (cps <= 0x30FF)


def _runs(starts: np.ndarray, lens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(segment, offset in it) of every position of the segments, back to back."""
    seg = np.repeat(np.arange(len(starts)), lens)
    first = np.zeros(len(starts), dtype=np.int64)
    if len(starts) > 1:
        np.cumsum(lens[:-1], out=first[1:])
    return seg, np.arange(len(seg), dtype=np.int64) - first[seg]


def _space_spans(
    space_pos: np.ndarray, starts: np.ndarray, lens: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """From the (sorted) whitespace positions: per value the core ``[a, b)`` without
    leading and trailing whitespace, the first inner whitespace ``p`` (``b``: none)
    and where the text after that whitespace run starts ``q``."""
    a, b = starts.copy(), starts + lens
    if not len(space_pos):
        return a, b, b.copy(), b.copy()
    seg = np.searchsorted(starts, space_pos, side="right") - 1
    while True:  # values are short: peel leading and trailing spaces a few at a time
        lead = space_pos == a[seg]
        trail = space_pos == b[seg] - 1
        if not (lead.any() or trail.any()):
            break
        a[seg[lead]] += 1
        b[seg[trail & ~lead]] -= 1
        space_pos, seg = space_pos[~(lead | trail)], seg[~(lead | trail)]
    b = np.maximum(a, b)
    p = b.copy()
    q = b.copy()
    if len(space_pos):
        segs, first = np.unique(seg, return_index=True)
        p[segs] = space_pos[first]
        q[segs] = p[segs] + 1
        while True:
            more = space_pos == q[seg]
            if not more.any():
                break
            q[seg[more]] += 1
    return a, b, p, q


def _fallback(cps: np.ndarray, a: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Family-name length by rule e for cores ``[a, a + n)``: kanji then kana split
    where the kana start; kanji only: two characters (one of two); else all of it."""
    seg, off = _runs(a, n)
    c = cps[np.repeat(a, n) + off]
    big = np.iinfo(np.int64).max
    f = n.copy()  # first non-kanji
    np.minimum.at(f, seg, np.where(_is_kanji(c), big, off))
    after = off >= f[seg]
    g = n.copy()  # first non-kana after it
    np.minimum.at(g, seg, np.where(after & ~_is_kana(c), off, big))
    kanji_then_kana = (f > 0) & (f < n) & (g == n)
    return np.where(kanji_then_kana, f, np.where(f == n, np.minimum(np.where(n >= 3, 2, 1), n), n))


def _known_split(
    cps: np.ndarray, starts: np.ndarray, lens: np.ndarray, a: np.ndarray, n: np.ndarray,
    known: KnownNames,
) -> np.ndarray:  # fmt: skip
    """Family-name length by rules a-d for cores ``[a, a + n)`` (2 <= n), -1 where
    none applies."""
    h = _prefix_hashes(_key(cps, starts, lens), a, n)
    count = n - 1
    cand = np.repeat(np.arange(len(a)), count)
    offsets = np.zeros(len(a), dtype=np.int64)
    np.cumsum(count[:-1], out=offsets[1:])
    k = np.arange(len(cand), dtype=np.int64) - offsets[cand] + 1
    whole = h[a + n - 1]
    pre = h[a[cand] + k - 1]
    suf = whole[cand] - pre * _powers(MAX_SPLIT_LENGTH)[n[cand] - k]
    is_sur = known.surnames.contains(pre)
    is_giv = known.given.contains(suf)
    # rule c takes surnames of two characters or more (one if the name has at most
    # three), leaving at most three kanji in a kanji-only name; rule d given names of
    # two characters or more after at least two
    kanji = np.concatenate(([0], np.cumsum(_is_kanji(cps), dtype=np.int64)))
    kanji_only = (kanji[a + n] - kanji[a] == n)[cand]
    rest = n[cand] - k
    # no name starts with ン, ッ, ー or a small kana (ハヤシダンジロウ is not ハヤシダ|ンジロウ)
    can_start = ~np.isin(cps[a[cand] + k], _NO_START)
    is_sur &= can_start
    is_giv &= can_start
    rule_c = is_sur & ((k >= 2) | (n[cand] <= 3)) & (~kanji_only | (rest <= 3))
    rule_d = is_giv & (k >= 2) & (rest >= 2)
    big = MAX_SPLIT_LENGTH + 1
    # one score per split point: rule * big + a tie-break that is larger for the
    # preferred split (the longest surname in rules a and c, the longest given name in d)
    score = np.select(
        [is_sur & is_giv, rule_c, rule_d], [3 * big + k, 2 * big + k, 2 * big - k], -1
    )
    best = np.maximum.reduceat(score, offsets)
    tier, tie = best // big, best % big
    chosen = np.where(tier == 1, big - tie, tie)
    whole_sur = known.surnames.contains(whole)
    return np.where(tier == 3, chosen, np.where(whole_sur, n, np.where(best >= 0, chosen, -1)))


def _spans(
    cps: np.ndarray, starts: np.ndarray, lens: np.ndarray, known: KnownNames
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(family start, family length, given start, given length) of every value.

    ``cps`` holds the values back to back, value i at ``starts[i]:starts[i] + lens[i]``.
    """
    space_pos = np.flatnonzero(np.isin(cps, _WHITESPACE))
    a, b, p, q = _space_spans(space_pos, starts, lens)
    n = b - a
    has_space = p < b
    fam_len = np.where(has_space, p - a, n)
    giv_start = np.where(has_space, q, b)
    todo = np.flatnonzero(~has_space & (n >= 2))
    look = todo[n[todo] <= MAX_SPLIT_LENGTH]
    if len(look):
        fam_len[look] = _known_split(cps, starts, lens, a[look], n[look], known)
    rest = todo[(fam_len[todo] < 0) | (n[todo] > MAX_SPLIT_LENGTH)]
    if len(rest):
        fam_len[rest] = _fallback(cps, a[rest], n[rest])
    giv_start = np.where(has_space, giv_start, a + fam_len)
    return a, fam_len, giv_start, b - giv_start


def split_one(value: str, known: KnownNames | None = None) -> tuple[str, str]:
    """(family, given) of one full name by the rules of the module docstring."""
    family, given = _split_distinct([value], known or known_names())
    return family[0][int(family[1][0])], given[0][int(given[1][0])]


def _split_distinct(
    values: Sequence[str], known: KnownNames
) -> tuple[tuple[list[str], np.ndarray], tuple[list[str], np.ndarray]]:
    """Split distinct ``values``: (family table, index per value), (given table, index)."""
    from pprl.encode.kernels import factorize_spans

    cps, starts, lens = _codepoints(values)
    fs, fl, gs, gl = _spans(cps, starts, lens, known)
    out = []
    for s, n in ((fs, fl), (gs, gl)):
        inv, first = factorize_spans(cps, s, n)
        table = [
            cps[s[r] : s[r] + n[r]].tobytes().decode("utf-32-le", "surrogatepass")
            for r in first.tolist()
        ]
        out.append((table, inv))
    return out[0], out[1]


def split_full_names(
    column: Sequence[str], known: KnownNames | None = None
) -> tuple[Factorized, Factorized]:
    """Split a full-name column into (family, given) columns, once per distinct value.

    ``column`` may be a plain sequence of strings or a
    :class:`~pprl.encode.factorize.Factorized` column; both results are ``Factorized``
    over the same rows, their ``uniq`` holding each distinct part once.
    """
    from pprl.encode.factorize import Factorized, factorize

    uniq, inv = factorize(column)
    (ftable, finv), (gtable, ginv) = _split_distinct(uniq, known or known_names())
    return Factorized(ftable, finv[inv]), Factorized(gtable, ginv[inv])
