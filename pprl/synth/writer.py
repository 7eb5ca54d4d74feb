"""Columnar formatting and chunked CSV writing with pyarrow (no per-row Python for clean rows).

String columns are built by ``take`` from small lookup tables (names, towns) and by
element-wise joins, then written with ``pyarrow.csv.CSVWriter`` without quoting.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import jaconv
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from pprl.synth.geo import BUILDINGS, town_table
from pprl.synth.households import Population, random_addresses
from pprl.synth.mislinks import KINDS, STATUS, ClaimPlan
from pprl.synth.names import Names, has_variant, to_old_form
from pprl.synth.noise import (
    BIT,
    PYTHON_MASK,
    apply_python,
    bank_kana,
    bits_to_strings,
    flip_variant,
)

REGISTER_COLUMNS = [
    "my_number",
    "family_name_kanji",
    "given_name_kanji",
    "family_name_kana",
    "given_name_kana",
    "date_of_birth",
    "sex",
    "postcode",
    "address",
    "household_id",
]
INSURER_COLUMNS = REGISTER_COLUMNS[:-1]
BANK_COLUMNS = ["my_number", "account_holder_kana", "date_of_birth"]
TRUTH_COLUMNS = [
    "file",
    "row",
    "linked_number",
    "true_number",
    "link_status",
    "error_kind",
    "noise",
]
_OPTIONS = pacsv.WriteOptions(quoting_style="none", quoting_header="none", batch_size=8192)


def _arr(values: np.ndarray) -> pa.Array:
    """numpy -> pyarrow without copying where possible."""
    return pa.array(np.ascontiguousarray(values))


def _join(*parts: pa.Array | str) -> pa.Array:
    """Element-wise concatenation of string arrays and scalar strings."""
    return pc.binary_join_element_wise(*parts, "")


def _blank(col: pa.Array, mask: np.ndarray) -> pa.Array:
    """Empty string where ``mask`` (missing values)."""
    return pc.if_else(_arr(mask), "", col) if mask.any() else col


class Formatter:
    """Lookup tables as pyarrow arrays and the column builders that use them."""

    def __init__(self, names: Names) -> None:
        """Build the lookup arrays once per run."""
        s = names.surnames
        self.n_male = len(names.male)
        g_kanji = names.male.kanji + names.female.kanji
        g_kana = names.male.kana + names.female.kana
        self.s_kanji = pa.array(s.kanji)
        self.s_kanji_old = pa.array([to_old_form(k) for k in s.kanji])
        self.s_kana = pa.array(s.kana)
        self.s_bank = pa.array([bank_kana(k) for k in s.kana])
        self.g_kanji = pa.array(g_kanji)
        self.g_kana = pa.array(g_kana)
        self.g_bank = pa.array([bank_kana(k) for k in g_kana])
        # precomputed noisy forms, so that frequent noise kinds need no per-row Python
        self.s_var = has_variant(s.kanji)
        self.g_kanji_flip = pa.array([flip_variant(k) for k in g_kanji])
        self.s_kanji_flip = pa.array([flip_variant(k) for k in s.kanji])
        self.s_kanji_old_flip = pa.array([flip_variant(to_old_form(k)) for k in s.kanji])
        self.s_hira = pa.array([jaconv.kata2hira(k) for k in s.kana])
        self.g_hira = pa.array([jaconv.kata2hira(k) for k in g_kana])
        self.s_half = pa.array([_halfwidth(k) for k in s.kana])
        self.g_half = pa.array([_halfwidth(k) for k in g_kana])
        towns = town_table()
        self.town_prefix = pa.array(towns.prefix)
        self.post3 = pa.array(towns.postcode3)
        self.buildings = pa.array(BUILDINGS)

    def gidx(self, given: np.ndarray, female: np.ndarray) -> pa.Array:
        """Index into the combined male+female given-name arrays."""
        return _arr(given.astype(np.int32) + female.astype(np.int32) * self.n_male)

    def names(
        self, surname: np.ndarray, old: np.ndarray, given: np.ndarray, female: np.ndarray
    ) -> dict[str, pa.Array]:
        """The four name columns; ``old`` selects the old kanji form of the surname."""
        si = _arr(surname.astype(np.int32))
        gi = self.gidx(given, female)
        fk = self.s_kanji.take(si)
        if old.any():
            fk = pc.if_else(_arr(old), self.s_kanji_old.take(si), fk)
        return {
            "family_name_kanji": fk,
            "given_name_kanji": self.g_kanji.take(gi),
            "family_name_kana": self.s_kana.take(si),
            "given_name_kana": self.g_kana.take(gi),
        }

    def address(self, comp: dict[str, np.ndarray], hyphen: np.ndarray) -> tuple[pa.Array, pa.Array]:
        """(postcode, address) from components; ``hyphen`` selects the 1-2-3 format."""
        town = _arr(comp["town"].astype(np.int32))
        c, b, g = (pc.cast(_arr(comp[k]), pa.string()) for k in ("chome", "ban", "go"))
        post = _join(
            self.post3.take(town),
            "-",
            pc.utf8_lpad(pc.cast(_arr(comp["post4"]), pa.string()), 4, "0"),
        )
        kanji = _join(c, "丁目", b, "番", g, "号")
        if hyphen.any():
            kanji = pc.if_else(_arr(hyphen), _join(c, "-", b, "-", g), kanji)
        has_b = comp["building"] >= 0
        bldg = _join(
            " ",
            self.buildings.take(_arr(np.maximum(comp["building"], 0).astype(np.int32))),
            pc.cast(_arr(comp["room"]), pa.string()),
        )
        bldg = pc.if_else(_arr(has_b), bldg, "")
        return post, _join(self.town_prefix.take(town), kanji, bldg)


def _halfwidth(kana: str) -> str:
    """Full-width katakana -> half-width katakana (small kana kept small)."""
    return jaconv.z2h(kana, kana=True, ascii=False, digit=False)


def numbers(values: np.ndarray) -> pa.Array:
    """int64 -> zero-padded 12-digit strings."""
    return pc.utf8_lpad(pc.cast(_arr(values.astype(np.int64)), pa.string()), 12, "0")


def dates(days: np.ndarray) -> pa.Array:
    """Days since 1970-01-01 -> ISO date strings."""
    return pc.cast(pa.array(days.astype(np.int32), pa.date32()), pa.string())


def sexes(female: np.ndarray) -> pa.Array:
    """Booleans -> M/F."""
    return pa.array(["M", "F"]).take(_arr(female.astype(np.int8)))


def household_components(pop: Population, hh: np.ndarray) -> dict[str, np.ndarray]:
    """Address components of the given households."""
    h = pop.households
    return {
        k: getattr(h, k)[hh] for k in ("town", "chome", "ban", "go", "building", "room", "post4")
    }


def _vector_name_noise(
    fmt: Formatter,
    cols: dict[str, pa.Array],
    pop: Population,
    owner: np.ndarray,
    surname: np.ndarray,
    bits: np.ndarray,
    maiden: np.ndarray,
) -> np.ndarray:
    """Fill the name columns, applying kanji-variant and kana-format noise by table lookup.

    Returns the bits still to be applied per row in Python (kana content edits, dates);
    a kana-format change on a row that also has a content edit stays in Python so that
    it is applied after the edit.
    """
    female, given = pop.female[owner], pop.given[owner]
    kv = (bits & BIT["kanji_variant"]) != 0
    fam_flip = kv & fmt.s_var[surname]
    old = pop.old_kanji[owner] & ~maiden
    cols.update(fmt.names(surname, old, given, female))
    si = _arr(surname.astype(np.int32))
    if fam_flip.any():
        flipped = pc.if_else(_arr(old), fmt.s_kanji_old_flip.take(si), fmt.s_kanji_flip.take(si))
        cols["family_name_kanji"] = pc.if_else(_arr(fam_flip), flipped, cols["family_name_kanji"])
    gi = fmt.gidx(given, female)
    giv_flip = kv & ~fmt.s_var[surname]
    if giv_flip.any():
        cols["given_name_kanji"] = pc.if_else(
            _arr(giv_flip), fmt.g_kanji_flip.take(gi), cols["given_name_kanji"]
        )
    content = (bits & (BIT["kana_long_vowel"] | BIT["kana_ou_oo"] | BIT["kana_typo"])) != 0
    for kind, s_tab, g_tab in (
        ("kana_hiragana", fmt.s_hira, fmt.g_hira),
        ("kana_halfwidth", fmt.s_half, fmt.g_half),
    ):
        m = ((bits & BIT[kind]) != 0) & ~content
        if m.any():
            cols["family_name_kana"] = pc.if_else(_arr(m), s_tab.take(si), cols["family_name_kana"])
            cols["given_name_kana"] = pc.if_else(_arr(m), g_tab.take(gi), cols["given_name_kana"])
    fmt_bits = BIT["kana_hiragana"] | BIT["kana_halfwidth"]
    rest = np.where(content, bits, bits & ~fmt_bits)
    return rest & ~BIT["kanji_variant"]


def register_chunk(fmt: Formatter, pop: Population, a: int, b: int) -> pa.Table:
    """Register rows ``a..b`` (resident order)."""
    sl = slice(a, b)
    cols = {"my_number": numbers(pop.number[sl])}
    cols.update(fmt.names(pop.surname[sl], pop.old_kanji[sl], pop.given[sl], pop.female[sl]))
    cols["date_of_birth"] = dates(pop.dob[sl])
    cols["sex"] = sexes(pop.female[sl])
    comp = household_components(pop, pop.hh[sl])
    cols["postcode"], cols["address"] = fmt.address(comp, np.zeros(b - a, dtype=bool))
    cols["household_id"] = _join("H", pc.utf8_lpad(pc.cast(_arr(pop.hh[sl]), pa.string()), 8, "0"))
    return pa.table(cols)


def _python_edits(
    cols: dict[str, pa.Array], bits: np.ndarray, keys: list[str], rnd: random.Random, bank: bool
) -> None:
    """Apply character-level noise to the few rows that need it, then splice them back."""
    rows = np.flatnonzero(bits & PYTHON_MASK)
    if not len(rows):
        return
    idx = _arr(rows)
    sub = {k: cols[k].take(idx).to_pylist() for k in keys}
    for i, bit in enumerate(bits[rows].tolist()):
        rec = {k: sub[k][i] for k in keys}
        apply_python(rec, bit, rnd)
        for k in keys:
            sub[k][i] = rec[k]
    mask = np.zeros(len(bits), dtype=bool)
    mask[rows] = True
    for k in keys:
        cols[k] = pc.replace_with_mask(cols[k], _arr(mask), pa.array(sub[k], pa.string()))


def insurer_chunk(
    fmt: Formatter,
    pop: Population,
    plan: ClaimPlan,
    linked: np.ndarray,
    bits: np.ndarray,
    surname: np.ndarray,
    rng: np.random.Generator,
) -> pa.Table:
    """Insurer rows for one chunk: the owner's identity with noise, linked number."""
    owner = plan.owner
    maiden = (bits & BIT["maiden_name"]) != 0
    cols = {"my_number": numbers(linked)}
    py_bits = _vector_name_noise(fmt, cols, pop, owner, surname, bits, maiden)
    cols["date_of_birth"] = dates(pop.dob[owner])
    cols["sex"] = sexes(pop.female[owner])
    comp = household_components(pop, pop.hh[owner])
    moved = (bits & BIT["moved_address"]) != 0
    if moved.any():
        new = random_addresses(rng, int(moved.sum()))
        new["ban"] = ((comp["ban"][moved] + rng.integers(1, 29, int(moved.sum()))) % 29 + 1).astype(
            np.int16
        )
        for k, v in new.items():
            comp[k][moved] = v
    cols["postcode"], cols["address"] = fmt.address(comp, (bits & BIT["address_format"]) != 0)
    rnd = random.Random(int(rng.integers(0, 2**63)))
    keys = [
        "family_name_kanji",
        "given_name_kanji",
        "family_name_kana",
        "given_name_kana",
        "date_of_birth",
    ]
    _python_edits(cols, py_bits, keys, rnd, bank=False)
    for key, kind in (
        ("family_name_kana", "missing_kana"),
        ("given_name_kana", "missing_kana"),
        ("date_of_birth", "missing_dob"),
        ("postcode", "missing_address"),
        ("address", "missing_address"),
        ("sex", "missing_sex"),
    ):
        cols[key] = _blank(cols[key], (bits & BIT[kind]) != 0)
    return pa.table(cols)


def bank_chunk(
    fmt: Formatter,
    pop: Population,
    plan: ClaimPlan,
    linked: np.ndarray,
    bits: np.ndarray,
    surname: np.ndarray,
    rng: np.random.Generator,
) -> pa.Table:
    """Bank rows: linked number, half-width account holder kana, date of birth."""
    owner = plan.owner
    gi = fmt.gidx(pop.given[owner], pop.female[owner])
    si = _arr(surname.astype(np.int32))
    holder = _join(fmt.s_bank.take(si), " ", fmt.g_bank.take(gi))
    cols = {
        "my_number": numbers(linked),
        "account_holder_kana": holder,
        "date_of_birth": dates(pop.dob[owner]),
    }
    rows = np.flatnonzero(bits & PYTHON_MASK)
    if len(rows):
        rnd = random.Random(int(rng.integers(0, 2**63)))
        idx = _arr(rows)
        fam = fmt.s_kana.take(pa.array(surname[rows].astype(np.int32))).to_pylist()
        giv = fmt.g_kana.take(gi.take(idx)).to_pylist()
        dob = cols["date_of_birth"].take(idx).to_pylist()
        out_h, out_d = [], []
        for i, bit in enumerate(bits[rows].tolist()):
            rec = {
                "family_name_kanji": "",
                "given_name_kanji": "",
                "family_name_kana": fam[i],
                "given_name_kana": giv[i],
                "date_of_birth": dob[i],
            }
            apply_python(rec, bit, rnd)
            out_h.append(
                bank_kana(rec["family_name_kana"]) + " " + bank_kana(rec["given_name_kana"])
            )
            out_d.append(rec["date_of_birth"])
        mask = np.zeros(len(bits), dtype=bool)
        mask[rows] = True
        cols["account_holder_kana"] = pc.replace_with_mask(holder, _arr(mask), pa.array(out_h))
        cols["date_of_birth"] = pc.replace_with_mask(
            cols["date_of_birth"], _arr(mask), pa.array(out_d)
        )
    cols["date_of_birth"] = _blank(cols["date_of_birth"], (bits & BIT["missing_dob"]) != 0)
    return pa.table(cols)


def truth_chunk(
    file: str, start: int, plan: ClaimPlan, linked: np.ndarray, true: np.ndarray, bits: np.ndarray
) -> pa.Table:
    """truth.csv rows for one chunk of one claims file."""
    n = len(plan.owner)
    return pa.table(
        {
            "file": pa.array([file]).take(pa.array(np.zeros(n, dtype=np.int8))),
            "row": pa.array(np.arange(start, start + n, dtype=np.int64)),
            "linked_number": numbers(linked),
            "true_number": numbers(true),
            "link_status": pa.array(STATUS).take(_arr(plan.status)),
            "error_kind": pa.array(KINDS).take(_arr(plan.kind)),
            "noise": bits_to_strings(bits),
        }
    )


class ChunkWriter:
    """A CSV writer into the temporary file ``tmp`` that stands for ``path`` until the
    caller renames it into place (:func:`pprl.resultset.output_file`)."""

    def __init__(self, path: Path, columns: list[str], tmp: Path) -> None:
        """Open ``tmp`` with an all-string schema."""
        self.path = path
        self.tmp = tmp
        self.schema = pa.schema([(c, pa.string()) for c in columns])
        self.columns = columns
        self._writer = pacsv.CSVWriter(str(self.tmp), self.schema, write_options=_OPTIONS)
        self._open = True

    def write(self, table: pa.Table) -> None:
        """Append one chunk (columns in header order, all strings)."""
        self._writer.write_table(table.select(self.columns).cast(self.schema))

    def close(self) -> None:
        """Flush and close the temporary file (idempotent)."""
        if self._open:
            self._open = False
            self._writer.close()


def write_chunks(
    writer: ChunkWriter,
    total: int,
    chunk: int,
    build: Callable[[int, int], pa.Table],
    tick: Callable[[int], None],
) -> None:
    """Build and write rows ``0..total`` in chunks, reporting progress per chunk."""
    for a in range(0, total, chunk):
        b = min(total, a + chunk)
        writer.write(build(a, b))
        tick(b - a)
