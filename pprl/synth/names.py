"""Name tables for synthetic residents, read at run time from installed packages.

* Surnames and their frequencies: ``japanese-personal-name-dataset`` ships
  ``dataset/last_name_org.csv`` (kanji, estimated number of bearers, hiragana reading,
  romaji) for about 2,000 surnames. We draw surnames in proportion to that count and
  convert the reading to katakana, so kanji and kana always come from one entry.
* Given names: ``gimei`` ships ``data/names.yml`` with ``[kanji, hiragana, katakana]``
  triples for male and female first names (no frequencies, no era). We weight them by
  birth era with a documented heuristic (:func:`era_weights`).

Nothing is copied into this repository; the tables are parsed once per process.
"""

from __future__ import annotations

import csv
import importlib.util
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jaconv
import numpy as np

from pprl.errors import InputError

# Old (旧字体/異体字) <-> new forms commonly seen in registered names.
KANJI_VARIANTS: dict[str, str] = {
    "髙": "高",
    "﨑": "崎",
    "邊": "辺",
    "邉": "辺",
    "齋": "斎",
    "齊": "斉",
    "澤": "沢",
    "濱": "浜",
    "櫻": "桜",
    "廣": "広",
    "國": "国",
    "嶋": "島",
    "德": "徳",
    "槇": "槙",
    "藏": "蔵",
    "眞": "真",
    "惠": "恵",
    "壽": "寿",
    "龍": "竜",
    "實": "実",
    "榮": "栄",
    "豐": "豊",
    "瀧": "滝",
    "冨": "富",
    "黑": "黒",
}
NEW_TO_OLD: dict[str, str] = {}
for _old, _new in KANJI_VARIANTS.items():
    NEW_TO_OLD.setdefault(_new, _old)

_YML_ROW = re.compile(r"^\s*-\s*\['([^']*)',\s*'([^']*)',\s*'([^']*)'\]")

# Birth-era buckets used to weight given names: before 1960, 1960-1989, 1990 onwards.
ERA_BOUNDS = (1960, 1990)
_OLD_FEMALE = re.compile(r"子$|江$|枝$|代$")
_OLD_MALE = re.compile(r"(郎|夫|雄|男|治|蔵|吉|助|衛|平|作|造|一|二|三|次)$")
_NEW_FEMALE = re.compile(r"[愛結菜莉凛陽心咲葵芽羽彩花楓杏琴]")
_NEW_MALE = re.compile(r"[翔斗蓮陽悠颯湊蒼輝希大和樹空]")


@dataclass(frozen=True)
class NameTable:
    """Parallel arrays of one name list: kanji, katakana reading, sampling weights."""

    kanji: list[str]
    kana: list[str]
    weights: np.ndarray  # (n_eras, n) float64, each row sums to 1

    def __len__(self) -> int:
        """Number of entries."""
        return len(self.kanji)


@dataclass(frozen=True)
class Names:
    """All name tables: surnames (frequency-weighted) and male/female given names."""

    surnames: NameTable
    male: NameTable
    female: NameTable


def to_old_form(text: str) -> str:
    """Replace every new-form kanji that has a registered old form by that old form."""
    return "".join(NEW_TO_OLD.get(ch, ch) for ch in text)


def to_new_form(text: str) -> str:
    """Fold old-form kanji to their common new form (used to normalise names)."""
    return "".join(KANJI_VARIANTS.get(ch, ch) for ch in text)


def _package_file(package: str, relative: str) -> Path:
    """Path of a data file inside an installed package, without importing the package.

    (Importing ``gimei`` parses all its YAML with PyYAML, which costs over a second.)
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise InputError(f"package {package} is not installed; it provides the name tables")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise InputError(f"{path} is missing from the installed {package} package")
    return path


def _read_gimei() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Parse gimei's names.yml into (kanji, katakana) lists for male and female names.

    A line regex is far faster than a YAML parser for this fixed layout.
    """
    text = _package_file("gimei", "data/names.yml").read_text(encoding="utf-8")
    male: list[tuple[str, str]] = []
    female: list[tuple[str, str]] = []
    section: list[tuple[str, str]] | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped == "male:":
            section = male
        elif stripped == "female:":
            section = female
        elif stripped == "last_name:":
            section = None
        elif section is not None:
            m = _YML_ROW.match(line)
            if m and m.group(1) and m.group(3):
                section.append((m.group(1), m.group(3)))
    return male, female


def _read_surnames() -> tuple[list[str], list[str], np.ndarray]:
    """Read kanji, katakana reading and bearer count from japanese-personal-name-dataset."""
    path = _package_file("japanese_personal_name_dataset", "dataset/last_name_org.csv")
    kanji: list[str] = []
    kana: list[str] = []
    counts: list[int] = []
    with path.open(encoding="utf-8") as fh:
        for row in csv.reader(fh):
            if len(row) < 3 or not row[1].isdigit():
                continue
            reading = jaconv.hira2kata(row[2].strip())
            if not reading or not row[0] or "," in row[0]:
                continue
            kanji.append(row[0].strip())
            kana.append(reading)
            counts.append(int(row[1]))
    return kanji, kana, np.asarray(counts, dtype=np.float64)


def era_weights(kanji: list[str], female: bool) -> np.ndarray:
    """Weights (3 eras x n) that favour old-style names for older residents.

    The data has no era information, so this is an approximation: names ending in
    子/江/代 (female) or 郎/夫/雄/男/… (male) are boosted for births before 1960 and
    damped after 1990; names with characters popular since the 1990s (愛, 結, 翔, 蓮…)
    are boosted for recent births and damped for old ones.
    """
    old_re, new_re = (_OLD_FEMALE, _NEW_FEMALE) if female else (_OLD_MALE, _NEW_MALE)
    old = np.array([bool(old_re.search(k)) for k in kanji])
    new = np.array([bool(new_re.search(k)) and not o for k, o in zip(kanji, old, strict=True)])
    w = np.ones((3, len(kanji)))
    w[0, old] *= 12.0
    w[0, new] *= 0.1
    w[1, old] *= 3.0
    w[1, new] *= 0.6
    w[2, old] *= 0.15
    w[2, new] *= 4.0
    return np.asarray(w / w.sum(axis=1, keepdims=True))


@lru_cache(maxsize=1)
def load_names() -> Names:
    """Load and cache the surname and given-name tables from the installed packages."""
    s_kanji, s_kana, counts = _read_surnames()
    sw = np.tile(counts / counts.sum(), (3, 1))
    male, female = _read_gimei()
    tables = []
    for rows, is_female in ((male, False), (female, True)):
        kj = [r[0] for r in rows]
        tables.append(NameTable(kj, [r[1] for r in rows], era_weights(kj, is_female)))
    return Names(NameTable(s_kanji, s_kana, sw), tables[0], tables[1])


def sample_weighted(rng: np.random.Generator, weights: np.ndarray, n: int) -> np.ndarray:
    """Draw ``n`` indices with the given probability vector (inverse-CDF, vectorized)."""
    cdf = np.cumsum(weights)
    idx = np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right")
    return np.asarray(np.minimum(idx, len(weights) - 1), dtype=np.int32)


def sample_given(
    rng: np.random.Generator, names: Names, female: np.ndarray, birth_year: np.ndarray
) -> np.ndarray:
    """Sample a given-name index per person from the table of their sex and birth era."""
    era = np.searchsorted(np.asarray(ERA_BOUNDS), birth_year, side="right")
    out = np.empty(len(female), dtype=np.int32)
    for is_f, table in ((False, names.male), (True, names.female)):
        for e in range(3):
            sel = np.flatnonzero((female == is_f) & (era == e))
            if len(sel):
                out[sel] = sample_weighted(rng, table.weights[e], len(sel))
    return out


def has_variant(strings: list[str]) -> np.ndarray:
    """Boolean per entry: the string contains a kanji with an old/new variant."""
    chars = set(KANJI_VARIANTS) | set(NEW_TO_OLD)
    return np.array([any(c in chars for c in s) for s in strings], dtype=bool)
