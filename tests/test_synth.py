"""Invariants of the synthetic population generator (register, claims, truth)."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pprl.errors import InputError
from pprl.mynumber import check_digit, is_valid
from pprl.synth import SynthConfig, generate
from pprl.synth.names import load_names, to_new_form
from pprl.synth.noise import bank_kana, flip_variant, has_flip, to_era
from pprl.synth.numbers import invalid_variants, transposition_partner, with_check_digit

PEOPLE = 20_000


def _read(path: Path) -> list[dict[str, str]]:
    """All rows of a CSV as dicts of strings."""
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One 20,000-person run with bank claims, read back into memory."""
    out = tmp_path_factory.mktemp("synth")
    summary = generate(SynthConfig(people=PEOPLE, seed=7, bank_claims=4000), out)
    reg = _read(out / "register.csv")
    return {
        "dir": out,
        "summary": summary,
        "register": reg,
        "by_number": {r["my_number"]: r for r in reg},
        "insurer": _read(out / "insurer.csv"),
        "bank": _read(out / "bank.csv"),
        "truth": _read(out / "truth.csv"),
    }


def _swap_distance_one(a: str, b: str) -> bool:
    """True when b is a with exactly one pair of adjacent digits swapped."""
    diff = [i for i in range(12) if a[i] != b[i]]
    return (
        len(diff) == 2
        and diff[1] == diff[0] + 1
        and a[diff[0]] == b[diff[1]]
        and a[diff[1]] == b[diff[0]]
    )


def test_register_numbers_valid_unique(data: dict) -> None:
    """Every register number is a zero-padded 12-digit valid My Number, all distinct."""
    nums = [r["my_number"] for r in data["register"]]
    assert len(nums) == PEOPLE
    assert all(len(n) == 12 and is_valid(n) for n in nums)
    assert len(set(nums)) == PEOPLE


def test_register_columns_and_formats(data: dict) -> None:
    """Postcodes NNN-NNNN, ISO dates, M/F, addresses with 丁目/番/号, katakana readings."""
    for r in data["register"][:3000]:
        assert re.fullmatch(r"\d{3}-\d{4}", r["postcode"])
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", r["date_of_birth"])
        assert r["sex"] in ("M", "F")
        assert re.search(r"[都道府県]", r["address"]) and re.search(
            r"\d+丁目\d+番\d+号", r["address"]
        )
        assert re.fullmatch(r"[ァ-ヶー]+", r["family_name_kana"] + r["given_name_kana"])
        assert r["household_id"].startswith("H")


def test_kana_matches_kanji(data: dict) -> None:
    """Kanji/kana pairs in the register come from one entry of the packaged name tables."""
    names = load_names()
    surnames = set(zip(names.surnames.kanji, names.surnames.kana, strict=True))
    male = set(zip(names.male.kanji, names.male.kana, strict=True))
    female = set(zip(names.female.kanji, names.female.kana, strict=True))
    for r in data["register"]:
        assert (to_new_form(r["family_name_kanji"]), r["family_name_kana"]) in surnames or (
            r["family_name_kanji"],
            r["family_name_kana"],
        ) in surnames
        table = female if r["sex"] == "F" else male
        assert (r["given_name_kanji"], r["given_name_kana"]) in table


def test_truth_one_row_per_claim(data: dict) -> None:
    """truth.csv has one row per claim row, in file order, with the file's linked number."""
    truth = data["truth"]
    ins = [t for t in truth if t["file"] == "insurer.csv"]
    bank = [t for t in truth if t["file"] == "bank.csv"]
    assert len(ins) == len(data["insurer"]) == PEOPLE // 2
    assert len(bank) == len(data["bank"]) == 4000
    for rows, claims in ((ins, data["insurer"]), (bank, data["bank"])):
        assert [int(t["row"]) for t in rows] == list(range(len(claims)))
        assert all(t["linked_number"] == c["my_number"] for t, c in zip(rows, claims, strict=True))


def test_every_kind_planted(data: dict) -> None:
    """Each error kind is present even at 20,000 people."""
    kinds = {(t["file"], t["error_kind"]) for t in data["truth"]}
    for kind in (
        "homonym",
        "homonym_same_dob",
        "family",
        "twin",
        "data_entry",
        "transposed_digits",
        "invalid_check_digit",
    ):
        assert ("insurer.csv", kind) in kinds
    assert ("bank.csv", "bank_carryover") in kinds
    wrong = [t for t in data["truth"] if t["link_status"] != "correct"]
    assert 0.005 < len(wrong) / len(data["truth"]) < 0.03
    assert any(t["noise"] for t in wrong), "noise must also hit wrong links"


def test_planted_errors_are_what_truth_says(data: dict) -> None:
    """Wrong links point to another resident of the stated kind; invalid ones fail the check."""
    _check_planted(data["truth"], data["by_number"])


@pytest.mark.parametrize("seed", range(5))
def test_planted_errors_small_dense(tmp_path: Path, seed: int) -> None:
    """Tiny populations with a 20% mislink rate still plant only well-formed errors."""
    generate(
        SynthConfig(people=400, seed=seed, mislink_rate=0.2, invalid_rate=0.05, bank_claims=150),
        tmp_path,
    )
    reg = _read(tmp_path / "register.csv")
    assert len({r["my_number"] for r in reg}) == 400 and all(is_valid(r["my_number"]) for r in reg)
    truth = _read(tmp_path / "truth.csv")
    assert sum(t["link_status"] == "wrong" for t in truth) >= 60
    _check_planted(truth, {r["my_number"]: r for r in reg})


def _check_planted(truth: list[dict[str, str]], by_number: dict[str, dict[str, str]]) -> None:
    """Assert every truth row's link is what its status and error kind claim."""
    for i, t in enumerate(truth):
        owner = by_number[t["true_number"]]
        status, kind, linked = t["link_status"], t["error_kind"], t["linked_number"]
        if status == "correct":
            assert linked == t["true_number"] and kind == "none"
            continue
        if status == "invalid_number":
            assert kind == "invalid_check_digit" and not is_valid(linked)
            continue
        assert status == "wrong" and linked != t["true_number"]
        other = by_number[linked]
        same_name = to_new_form(
            other["family_name_kanji"] + other["given_name_kanji"]
        ) == to_new_form(owner["family_name_kanji"] + owner["given_name_kanji"])
        same_hh = other["household_id"] == owner["household_id"]
        same_dob = other["date_of_birth"] == owner["date_of_birth"]
        if kind == "homonym":
            assert same_name and not same_dob
        elif kind == "homonym_same_dob":
            assert same_name and same_dob
        elif kind == "family":
            assert same_hh
        elif kind == "twin":
            assert same_hh and same_dob and other["family_name_kanji"] == owner["family_name_kanji"]
        elif kind == "data_entry":
            assert not same_hh
        elif kind == "transposed_digits":
            assert _swap_distance_one(t["true_number"], linked)
        elif kind == "bank_carryover":
            assert t["file"] == "bank.csv" and int(t["row"]) > 0
            assert linked == truth[i - 1]["true_number"] and not same_hh
            assert truth[i - 1]["link_status"] == "correct"
        else:  # pragma: no cover
            pytest.fail(f"unknown kind {kind}")


_AFFECTS = {
    "maiden_name": {"family_name_kanji", "family_name_kana"},
    "kanji_variant": {"family_name_kanji", "given_name_kanji"},
    "kana_long_vowel": {"family_name_kana", "given_name_kana"},
    "kana_ou_oo": {"family_name_kana", "given_name_kana"},
    "kana_typo": {"family_name_kana", "given_name_kana"},
    "kana_hiragana": {"family_name_kana", "given_name_kana"},
    "kana_halfwidth": {"family_name_kana", "given_name_kana"},
    "missing_kana": {"family_name_kana", "given_name_kana"},
    "moved_address": {"postcode", "address"},
    "missing_address": {"postcode", "address"},
    "address_format": {"address"},
    "missing_sex": {"sex"},
}
_IDENTITY = [
    "family_name_kanji",
    "given_name_kanji",
    "family_name_kana",
    "given_name_kana",
    "date_of_birth",
    "sex",
    "postcode",
    "address",
]


def _affected(noise: list[str]) -> set[str]:
    """Columns that the listed noise kinds may change."""
    cols: set[str] = set()
    for kind in noise:
        cols |= (
            {"date_of_birth"} if kind.endswith("dob") or kind.startswith("dob_") else _AFFECTS[kind]
        )
    return cols


def test_insurer_noise_matches_differences(data: dict) -> None:
    """Columns not named by the noise equal the owner's register row; named ones differ."""
    ins = [t for t in data["truth"] if t["file"] == "insurer.csv"]
    seen: set[str] = set()
    for t, c in zip(ins, data["insurer"], strict=True):
        reg = data["by_number"][t["true_number"]]
        noise = [n for n in t["noise"].split(";") if n]
        seen.update(noise)
        for col in set(_IDENTITY) - _affected(noise):
            assert c[col] == reg[col], (col, t)
        kana = c["family_name_kana"] + c["given_name_kana"]
        for kind in noise:
            if kind.startswith("missing_"):
                col = {
                    "missing_kana": "given_name_kana",
                    "missing_dob": "date_of_birth",
                    "missing_address": "address",
                    "missing_sex": "sex",
                }[kind]
                assert c[col] == ""
            elif kind.startswith("dob_"):
                assert c["date_of_birth"] != reg["date_of_birth"]
            elif kind == "kana_hiragana":
                assert re.search("[ぁ-ゖ]", kana)
            elif kind == "kana_halfwidth":
                assert re.search("[ｦ-ﾟ]", kana)
            elif kind == "address_format":
                assert "丁目" not in c["address"] and re.search(r"\d+-\d+-\d+", c["address"])
            elif kind in ("moved_address", "maiden_name", "kanji_variant"):
                col = "address" if kind == "moved_address" else None
                if col:
                    assert c["address"].replace("丁目", "-") != reg["address"].replace("丁目", "-")
                elif kind == "maiden_name":
                    assert (
                        c["family_name_kana"] != reg["family_name_kana"] or "missing_kana" in noise
                    )
                else:
                    name_c = c["family_name_kanji"] + c["given_name_kanji"]
                    assert name_c != reg["family_name_kanji"] + reg["given_name_kanji"]
            else:
                assert kana != reg["family_name_kana"] + reg["given_name_kana"]
    assert {"kanji_variant", "maiden_name", "address_format", "moved_address"} <= seen


def test_bank_rows_clean_when_no_noise(data: dict) -> None:
    """Without noise the bank row is the owner's half-width kana name and birth date."""
    bank = [t for t in data["truth"] if t["file"] == "bank.csv"]
    for t, b in zip(bank, data["bank"], strict=True):
        reg = data["by_number"][t["true_number"]]
        expected = bank_kana(reg["family_name_kana"]) + " " + bank_kana(reg["given_name_kana"])
        if not t["noise"]:
            assert (
                b["account_holder_kana"] == expected and b["date_of_birth"] == reg["date_of_birth"]
            )
        assert not re.search("[ｧ-ｯ]", b["account_holder_kana"]), "small kana must be written large"


def test_same_seed_identical_other_seed_differs(tmp_path: Path) -> None:
    """Same seed -> byte-identical files; another seed -> different files."""
    runs = []
    for seed, name in ((3, "a"), (3, "b"), (4, "c")):
        generate(
            SynthConfig(people=3000, seed=seed, bank_claims=500, chunk_rows=700), tmp_path / name
        )
        runs.append(
            {
                f: (tmp_path / name / f).read_bytes()
                for f in ("register.csv", "insurer.csv", "bank.csv", "truth.csv")
            }
        )
    assert runs[0] == runs[1]
    assert all(runs[0][f] != runs[2][f] for f in runs[0])


def test_output_path_errors(tmp_path: Path) -> None:
    """An output path that is a file, or impossible sizes, are one-line input errors."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InputError, match="cannot create output directory"):
        generate(SynthConfig(people=200, seed=1), blocker / "sub")
    with pytest.raises(InputError, match="--bank-claims"):
        generate(SynthConfig(people=200, seed=1, bank_claims=150), tmp_path / "x")


def test_no_temp_files_left(data: dict) -> None:
    """Atomic writes leave no temporary files behind."""
    assert sorted(p.name for p in data["dir"].iterdir()) == [
        "bank.csv",
        "insurer.csv",
        "register.csv",
        "truth.csv",
    ]


@given(st.lists(st.integers(0, 10**11 - 1), min_size=1, max_size=50))
@settings(max_examples=50, deadline=None)
def test_number_helpers(payloads: list[int]) -> None:
    """Check digits agree with pprl.mynumber; partners are valid swaps; typos are invalid."""
    nums = with_check_digit(np.asarray(payloads, dtype=np.int64))
    for p, n in zip(payloads, nums.tolist(), strict=True):
        assert n % 10 == check_digit(f"{p:011d}")
    rng = np.random.default_rng(0)
    for a, b in zip(nums.tolist(), transposition_partner(nums, rng).tolist(), strict=True):
        if b >= 0:
            assert is_valid(f"{b:012d}") and _swap_distance_one(f"{a:012d}", f"{b:012d}")
    assert not any(is_valid(f"{x:012d}") for x in invalid_variants(nums, rng).tolist())


@given(st.text(alphabet="高崎辺斎沢浜桜広国島田中山髙﨑邊齋澤濱櫻廣國嶋", min_size=1, max_size=6))
def test_flip_variant_changes_and_folds(text: str) -> None:
    """A variant flip changes the text iff it holds a variant kanji, and folds back."""
    flipped = flip_variant(text)
    assert (flipped != text) == has_flip(text)
    assert to_new_form(flipped) == to_new_form(text)


def test_era_format() -> None:
    """和暦 rendering, including the first year of an era."""
    assert to_era("1980-05-03") == "昭和55年5月3日"
    assert to_era("1989-01-08") == "平成元年1月8日"
    assert to_era("2019-05-01") == "令和元年5月1日"
    assert to_era("1980-05-03", 1) == "昭和56年5月3日"
