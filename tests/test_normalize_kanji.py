"""Variant-kanji table and the kanji name normalizer."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pprl.normalize import name_kanji
from pprl.normalize.kanji import fold_variants, variant_pairs

PAIRS = variant_pairs()
VARIANTS = {v for v, _, _ in PAIRS}
CANONICALS = {c for _, c, _ in PAIRS}


def test_table_size() -> None:
    """The issue asks for at least 300 name-relevant pairs."""
    assert len(PAIRS) >= 300


def test_table_is_one_step_without_cycles() -> None:
    """No canonical form is itself a variant, so folding is one step and cycle-free."""
    assert not VARIANTS & CANONICALS
    assert len(VARIANTS) == len(PAIRS)  # each variant listed once


@pytest.mark.parametrize(("variant", "canonical", "kind"), PAIRS)
def test_pair_is_sane(variant: str, canonical: str, kind: str) -> None:
    """Each entry: two distinct CJK ideographs, both NFKC-stable, a known kind."""
    assert len(variant) == 1 and len(canonical) == 1 and variant != canonical
    assert unicodedata.name(variant).startswith("CJK ")
    assert unicodedata.name(canonical).startswith("CJK ")
    assert unicodedata.normalize("NFKC", variant) == variant
    assert unicodedata.normalize("NFKC", canonical) == canonical
    assert kind in {"kyujitai", "itaiji", "practice"}


@given(st.text(alphabet=st.sampled_from(sorted(VARIANTS | CANONICALS) + ["田", "a"])))
def test_fold_idempotent(value: str) -> None:
    """Folding twice equals folding once, and no variant survives a fold."""
    once = fold_variants(value)
    assert fold_variants(once) == once
    assert not set(once) & VARIANTS


@pytest.mark.parametrize(
    ("variants", "expected"),
    [
        (["髙橋", "高橋", "髙橋\u3000", " 高 橋 "], "高橋"),
        (["山﨑", "山崎", "山嵜", "山碕"], "山崎"),
        (["渡邊", "渡邉", "渡辺"], "渡辺"),
        (["齋藤", "齊藤", "斎藤", "斉藤"], "斎藤"),
        (["澤田", "沢田"], "沢田"),
        (["濱田", "濵田", "浜田"], "浜田"),
        (["櫻井", "桜井"], "桜井"),
        (["廣瀬", "広瀬", "廣瀨"], "広瀬"),
        (["國分", "国分", "圀分"], "国分"),
        (["嶋田", "島田", "嶌田"], "島田"),
        (["眞鍋", "真鍋"], "真鍋"),
        (["惠子", "恵子"], "恵子"),
        (["龍之介", "竜之介"], "竜之介"),
        (["𠮷田", "吉田"], "吉田"),
        (["太郞", "太郎"], "太郎"),
        (["冨田", "富田"], "富田"),
        (["籠原", "篭原"], "籠原"),
    ],
)
def test_surname_variants_fold_together(variants: list[str], expected: str) -> None:
    """Spelling variants of one name normalize to the same key."""
    assert {name_kanji(v) for v in variants} == {expected}


def test_nfkc_alone_does_not_fold() -> None:
    """Guard for the reason the table exists: NFKC leaves 髙/﨑/邊/齋 alone."""
    for char in "髙﨑邊齋":
        assert unicodedata.normalize("NFKC", char) == char


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("山田　太郎", "山田太郎"),
        ("山田・太郎", "山田太郎"),
        ("ｽﾐｽ･ｼﾞｮﾝ", "スミスジョン"),
        ("山田はな", "山田ハナ"),
        ("佐々木", "佐々木"),
        ("葛\U000e0100飾", "葛飾"),  # ideographic variation selector dropped
        ("神\ufa19", "神神"),  # compatibility ideograph folded by NFKC
        ("ミラ－　花子", "ミラー花子"),
        ("smith john", "SMITHJOHN"),
        ("・", None),
    ],
)
def test_name_kanji_examples(value: str, expected: str | None) -> None:
    """Targeted examples for name_kanji."""
    assert name_kanji(value) == expected


@pytest.mark.parametrize(
    ("a", "b"),
    [("埼玉", "崎玉"), ("荻原", "萩原"), ("巌", "岩"), ("椙山", "杉山"), ("佐々木", "佐佐木")],
)
def test_distinct_characters_not_folded(a: str, b: str) -> None:
    """Genuinely different name characters stay different (see docs/normalization.md)."""
    assert name_kanji(a) != name_kanji(b)
