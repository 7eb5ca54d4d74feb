"""Full names in one column (氏名, 氏名カナ): the split rules, the vectorized paths against
the one-value path, and verification quality against split columns end to end."""

from __future__ import annotations

import csv
import unicodedata
from pathlib import Path

import jaconv
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pprl.encode.factorize import Factorized, factorize
from pprl.fullname import (
    MAX_SPLIT_LENGTH,
    HashSet,
    KnownNames,
    _codepoints,
    dataset_names,
    split_full_names,
    split_one,
)
from pprl.normalize import name_kana, name_kanji
from pprl.normalize._chars import nfkc


@pytest.mark.parametrize(
    ("value", "family", "given_name"),
    [
        # a space splits: half-width, full-width, several, around
        ("山田 太郎", "山田", "太郎"),
        ("山田\u3000太郎", "山田", "太郎"),
        ("  山田\u3000\u3000太郎 ", "山田", "太郎"),
        ("山田 太郎 次郎", "山田", "太郎 次郎"),  # only the first run of spaces splits
        ("ﾔﾏﾀﾞ ﾀﾛｳ", "ヤマダ", "タロウ"),
        ("ヤマダ\tタロウ", "ヤマダ", "タロウ"),
        ("Smith John", "Smith", "John"),
        # no space: known surnames and given names
        ("山田太郎", "山田", "太郎"),
        ("ヤマダタロウ", "ヤマダ", "タロウ"),
        ("ﾔﾏﾀﾞﾀﾛｳ", "ヤマダ", "タロウ"),
        ("やまだたろう", "やまだ", "たろう"),
        ("イトウヨウコ", "イトウ", "ヨウコ"),
        ("髙橋一郎", "髙橋", "一郎"),  # variant kanji fold to a known surname
        ("渡邊花子", "渡邊", "花子"),
        ("山﨑健太", "山﨑", "健太"),
        ("サトータロウ", "サトー", "タロウ"),  # long vowel written as a dash
        ("オオノハナコ", "オオノ", "ハナコ"),
        ("小野寺ゆう", "小野寺", "ゆう"),  # longest surname (小野 is one too)
        ("ハヤシダンジロウ", "ハヤシ", "ダンジロウ"),  # no name starts with ン (ハヤシダ)
        ("ﾋﾗｲｼｭｳ", "ヒライ", "シュウ"),  # nor with a small kana (ヒライシ)
        ("佐藤", "佐藤", ""),  # a surname alone
        ("林誠", "林", "誠"),
        ("葛\U000e0100飾太郎", "葛飾", "太郎"),  # an ideographic variation selector
        # unknown surname: the given name decides, else the fallback
        ("勅使河原はな", "勅使河原", "はな"),
        ("ジョンスミス", "ジョンスミス", ""),
        ("山", "山", ""),
        ("", "", ""),
        ("\u3000 ", "", ""),
        ("a\x00b", "ab", ""),
    ],
)
def test_split_one(value: str, family: str, given_name: str) -> None:
    assert split_one(value) == (family, given_name)


# Rules a-e on a hand-made list, so every tier is reached on purpose.
SURNAMES = ["東", "東山", "西", "北川", "西園寺"]
GIVEN = ["太郎", "山太郎", "川花", "花"]


@pytest.mark.parametrize(
    ("given_names", "value", "split"),
    [
        (GIVEN, "東山太郎", ("東山", "太郎")),  # a: both splits known, longest surname
        (["山太郎"], "東山太郎", ("東", "山太郎")),  # a beats c (東山 + unknown 太郎)
        ([], "東山太郎", ("東山", "太郎")),  # c: the longest known surname
        (GIVEN, "東山", ("東山", "")),  # b: a surname alone beats 東 + 山 (c)
        (GIVEN, "北川花", ("北川", "花")),  # a: 北 + 川花 is not a split (北 unknown)
        (GIVEN, "南野太郎", ("南野", "太郎")),  # d: the longest known given name
        (GIVEN, "南野山太郎", ("南野", "山太郎")),
        ([], "東一二三", ("東一", "二三")),  # c needs two kanji here (the name has four)
        ([], "東一二", ("東", "一二")),  # ... or a name of at most three
        ([], "西園寺一二三四", ("西園", "寺一二三四")),  # c leaves at most three kanji
        (["花"], "南野川花", ("南野", "川花")),  # d needs a given name of two or more
        ([], "南野一", ("南野", "一")),  # e: kanji only, two characters to the family
        ([], "南一", ("南", "一")),
        ([], "南野はな", ("南野", "はな")),  # e: kanji then kana
        ([], "ミナミノハナ", ("ミナミノハナ", "")),  # e: kana only, all family
    ],
)
def test_rules_in_order(given_names: list[str], value: str, split: tuple[str, str]) -> None:
    known = KnownNames.from_names(SURNAMES, given_names)
    assert split_one(value, known) == split


def test_known_names_come_from_the_dataset() -> None:
    surnames, given_names = dataset_names()
    assert len(surnames) > 3000 and "佐藤" in surnames and "さとう" in surnames
    assert "太郎" in given_names and "たろう" in given_names
    assert "akio" not in given_names  # the romaji column is left out


def test_values_longer_than_the_lookup_limit_take_the_fallback() -> None:
    kanji = "山" * (MAX_SPLIT_LENGTH + 5)
    assert split_one(kanji) == ("山山", kanji[2:])
    assert split_one("ア" * 40) == ("ア" * 40, "")


def test_factorized_in_and_out() -> None:
    values = ["山田太郎", "山田花子", "山田太郎", "", "佐藤\u3000花子", "山田花子"]
    family, given_names = split_full_names(values)
    assert isinstance(family, Factorized) and isinstance(given_names, Factorized)
    assert family.tolist() == ["山田", "山田", "山田", "", "佐藤", "山田"]
    assert given_names.tolist() == ["太郎", "花子", "太郎", "", "花子", "花子"]
    assert sorted(family.uniq) == ["", "佐藤", "山田"]  # each distinct part once
    assert sorted(given_names.uniq) == ["", "太郎", "花子"]
    uniq, inv = factorize(values)
    again = split_full_names(Factorized(uniq, inv))
    assert again[0] == family and again[1] == given_names
    empty = split_full_names([])
    assert len(empty[0]) == 0 and len(empty[1]) == 0


JAPANESE_CHARS = st.sampled_from(
    "山田太郎佐藤花子髙橋﨑邊渡辺齋藤ヤマダタロウｻﾄｳﾊﾅｺﾞﾟｰーーゝヽヾ々〆あいうアイウヴぱﾊﾟ"
    " \u3000\t゛゜ABCａｂｃ１２-~〜\u3099\u309a\ufe00"
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(JAPANESE_CHARS, max_size=12), min_size=1, max_size=30))
def test_vectorized_split_equals_the_one_value_path(values: list[str]) -> None:
    family, given_names = split_full_names(values)
    assert [split_one(v) for v in values] == list(
        zip(family.tolist(), given_names.tolist(), strict=True)
    )


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.text(JAPANESE_CHARS, max_size=12), st.text(max_size=8)), max_size=20))
def test_code_points_are_those_of_the_normalizers_nfkc(values: list[str]) -> None:
    """The fast NFKC on code points equals pprl.normalize's nfkc (NUL dropped)."""
    cps, starts, lens = _codepoints(values)
    text = cps.tobytes().decode("utf-32-le", "surrogatepass")
    got = [text[s : s + n] for s, n in zip(starts.tolist(), lens.tolist(), strict=True)]
    assert got == [nfkc(v.replace("\x00", "")) for v in values]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(JAPANESE_CHARS, max_size=12), max_size=20))
def test_a_split_keeps_every_character(values: list[str]) -> None:
    """The family name never holds whitespace; without inner whitespace the two parts
    are the stripped value; with it they are what lies around the first run."""
    family, given_names = split_full_names(values)
    for v, f, g in zip(values, family.tolist(), given_names.tolist(), strict=True):
        core = nfkc(v.replace("\x00", "")).strip()
        assert not any(ch.isspace() for ch in f)
        if not any(ch.isspace() for ch in core):
            assert f + g == core
        else:
            head, _, tail = core.partition(next(ch for ch in core if ch.isspace()))
            assert (f, g) == (head, tail.lstrip())


@given(
    st.sampled_from(dataset_names()[0]),
    st.text(JAPANESE_CHARS.filter(lambda c: not c.isspace()), min_size=1, max_size=6),
    st.sampled_from([" ", "\u3000", "  ", "\u3000 "]),
)
def test_a_space_always_splits_exactly(family: str, given_name: str, space: str) -> None:
    rest = nfkc(given_name).strip()  # may be empty: a lone voiced mark is dropped
    want = (nfkc(family), rest) if rest else split_one(family)
    assert split_one(family + space + given_name) == want


@given(st.lists(st.integers(0, 2**64 - 1), max_size=300), st.lists(st.integers(0, 2**64 - 1)))
def test_hash_set_membership(members: list[int], probes: list[int]) -> None:
    table = HashSet(np.array(members, dtype=np.uint64))
    queries = np.array(probes + members[:50], dtype=np.uint64)
    want = [q in set(members) for q in queries.tolist()]
    assert table.contains(queries).tolist() == want
    assert len(table) == len(set(members))


# --- end to end: combined columns verify like split columns ------------------------------
def _half(text: str) -> str:
    return str(jaconv.z2h(text, kana=True, ascii=False, digit=False))


def _combined_copy(src: Path, dst: Path) -> list[bool]:
    """``src`` (split columns) as a CP932 export with 氏名 (kanji, no space) and 氏名カナ
    (half-width, no space); returns per row whether the split gives back the same
    normalized names."""
    with open(src, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    kanji = [r["family_name_kanji"] + r["given_name_kanji"] for r in rows]
    kana = [_half(r["family_name_kana"] + r["given_name_kana"]) for r in rows]
    header = ["個人番号", "氏名", "氏名カナ", "生年月日", "性別", "郵便番号", "住所"]
    with open(dst, "w", encoding="cp932", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(header)
        for r, k, f in zip(rows, kanji, kana, strict=True):
            out.writerow(
                [r["my_number"], k, f, r["date_of_birth"], r["sex"], r["postcode"], r["address"]]
            )
    fk, gk = split_full_names(kanji)
    ff, gf = split_full_names(kana)
    right = []
    for i, r in enumerate(rows):
        right.append(
            name_kanji(fk[i]) == name_kanji(r["family_name_kanji"])
            and name_kanji(gk[i]) == name_kanji(r["given_name_kanji"])
            and name_kana(ff[i]) == name_kana(r["family_name_kana"])
            and name_kana(gf[i]) == name_kana(r["given_name_kana"])
        )
    return right


def test_combined_columns_verify_like_split_columns(tmp_path: Path) -> None:
    """A synthetic insurer file (1,000 claims, planted mislinks, name noise) encoded as
    split columns and as a CP932 export with the full name in one column without a
    space (kanji and half-width kana): every claim gets the same status, except where
    the split was wrong, and those are rare."""
    from pprl.keys import load_secret, write_secret
    from pprl.party import encode_csv
    from pprl.schema import load_schema
    from pprl.store import write_encodings
    from pprl.synth import SynthConfig, generate
    from pprl.verify import verify

    generate(SynthConfig(people=2000, seed=13, mislink_rate=0.05), tmp_path)
    right = _combined_copy(tmp_path / "insurer.csv", tmp_path / "combined.csv")
    secret = load_secret(write_secret(tmp_path / "secret.key"))
    schema = load_schema("jp-resident")
    paths = {}
    for name, role in (("register", "register"), ("insurer", "claims"), ("combined", "claims")):
        enc, _ = encode_csv(
            tmp_path / f"{name}.csv", schema, secret, party=name, role=role, processes=1
        )
        paths[name] = write_encodings(enc, tmp_path / f"{name}.parquet")
    status = {}
    for name in ("insurer", "combined"):
        found = verify(paths["register"], [paths[name]], threads=1).findings
        status[name] = dict(
            zip(
                found.column("claim_row").to_pylist(),
                found.column("status").to_pylist(),
                strict=True,
            )
        )
    assert len(status["insurer"]) == len(right) == 1000
    differ = [row for row in status["insurer"] if status["insurer"][row] != status["combined"][row]]
    wrong = [row for row, ok in enumerate(right) if not ok]
    assert set(differ) <= set(wrong), (differ, wrong)
    assert len(wrong) <= 10  # 1% of the claims
    assert "suspect" in status["combined"].values()  # planted mislinks are found


def test_nfkc_of_the_split_is_what_the_normalizers_apply() -> None:
    """Parts come back NFKC-normalized; the name normalizers agree on them."""
    f, g = split_one("ﾔﾏﾀﾞﾀﾛｳ")
    assert unicodedata.is_normalized("NFKC", f + g)
    assert name_kana(f) == name_kana("ﾔﾏﾀﾞ") and name_kana(g) == name_kana("ﾀﾛｳ")
