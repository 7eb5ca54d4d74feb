"""Addresses normalized per digit template (pprl.normalize.addresses.many_addresses and
the Arrow kernel pprl.normalize.arrays.address_array) equal the plain
normalizer value by value, on hostile generated addresses whose digit runs sit next to
every rule's trigger characters and on synthetic population addresses; postcodes read
from Arrow bytes (pprl.normalize.arrays.postcode_array) equal the plain normalizer."""

from __future__ import annotations

import csv

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pprl.normalize import address, many_addresses, postcode
from pprl.normalize.addresses import DIGIT_RUN
from pprl.normalize.arrays import _templates, address_array, postcode_array
from pprl.normalize.kanji import variant_pairs
from pprl.synth import SynthConfig, generate

# every rule's trigger: block suffixes, kanji numerals, の/ノ/ヶ/が, dashes of each kind,
# gaps, 大字, letters (the dangling-hyphen look-ahead), marks NFKC composes or drops,
# characters NFKC turns into digits (①, ², ㉑), '%' (the format string) and NUL
TRIGGERS = [
    "東京都", "千代田区", "霞", "が", "ヶ", "ケ", "ヵ", "ガ", "関", "の", "ノ", "大字", "大",
    "字", "一", "二", "十", "百", "千", "〇", "零", "三", "丁目", "番", "番地", "地", "号",
    "号室", "室", "町", "棟", "館", "条", "線", "地割", "-", "−", "ー", "ｰ", "－", "‐", "--",
    "~", " ", "　", "#", "\t", "A", "b", "ｂ", "Z", "コ", "ポ", "ﾊ", "ﾞ", "゛", "\u3099",
    "\u0301", "\ufe00", "髙", "澤", "メゾン", "センター", "八王子", "①", "²", "㉑", "⒈",
    "%", "%s", "\x00", "_", "٣",
]  # fmt: skip
DIGIT_RUNS = st.one_of(
    st.text("0123456789", min_size=1, max_size=4),
    st.text("０１２３４５６７８９", min_size=1, max_size=3),
    st.text("0123456789０１２３４５６７８９", min_size=1, max_size=4),
)
# a template: pieces with numbered slots for digit runs; several values share it
PIECE = st.one_of(st.sampled_from(TRIGGERS), st.just(None))  # None: a digit run


@st.composite
def address_family(draw: st.DrawFn) -> list[str]:
    """Addresses that share a template but differ in their digits (so the template
    cache is hit), built from hostile pieces."""
    pieces = draw(st.lists(PIECE, max_size=12))
    values = []
    for _ in range(draw(st.integers(1, 4))):
        values.append("".join(p if p is not None else draw(DIGIT_RUNS) for p in pieces))
    return values


@settings(max_examples=1500, deadline=None)
@given(st.lists(address_family(), max_size=6))
def test_templates_equal_plain_normalizer(families: list[list[str]]) -> None:
    values = [v for family in families for v in family]
    expected = [address(v) for v in values]
    assert many_addresses(values) == expected
    assert address_array(pa.array(values, type=pa.string())).to_pylist() == expected


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=20), max_size=8))
def test_templates_equal_plain_normalizer_on_any_text(values: list[str]) -> None:
    values = [v.replace("\ud800", "") for v in values]
    expected = [address(v) for v in values]
    assert many_addresses(values) == expected
    assert address_array(pa.array(values, type=pa.string())).to_pylist() == expected


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=20), max_size=8))
def test_template_kernel_is_the_regex(values: list[str]) -> None:
    import re

    arr = pa.array(values, type=pa.large_string())
    data = np.frombuffer(arr.buffers()[2] or b"\0", dtype=np.uint8)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)
    out, off = _templates(data, offsets)
    got = [bytes(out[off[i] : off[i + 1]]).decode("utf-8") for i in range(len(values))]
    assert got == [re.sub(DIGIT_RUN, "0", v) for v in values]


def test_synthetic_addresses(tmp_path) -> None:
    generate(SynthConfig(people=3000, seed=3), tmp_path)
    values = []
    for path in sorted(tmp_path.glob("*.csv")):
        with open(path, encoding="utf-8-sig", newline="") as fh:
            values += [row["address"] for row in csv.DictReader(fh) if "address" in row]
    assert len(values) > 3000
    wide = str.maketrans("0123456789", "０１２３４５６７８９")
    values += [v.translate(wide) for v in values[:300]]
    values += [v.replace("丁目", "ー").replace("番", " ") for v in values[:300]]
    expected = [address(v) for v in values]
    assert many_addresses(values) == expected
    assert address_array(pa.array(values, type=pa.string())).to_pylist() == expected


@pytest.mark.parametrize(
    "value",
    [
        "1一丁目2番",  # a kanji numeral made digits next to a run: template not used
        "東京都1大字2",  # removing 大字 joins two runs: filled run by run
        "①番地3",  # NFKC makes a digit
        "１２-３４",
        "%1%",
        "0",
        "A1-",
        "1-番",
    ],
)
def test_hand_built(value: str) -> None:
    assert many_addresses([value]) == [address(value)]
    got = address_array(pa.array([value, value + "9"])).to_pylist()
    assert got == [address(value), address(value + "9")]


def test_variant_table_holds_no_digit() -> None:
    # fold_variants must leave digits alone for templates to be exact
    for variant, canonical, _ in variant_pairs():
        assert not any(c.isdigit() for c in variant + canonical)


POSTCODES = st.one_of(
    st.text("0123456789", min_size=6, max_size=8),
    st.builds(
        lambda a, sep, b: a + sep + b,
        st.text("0123456789０１", min_size=2, max_size=4),
        st.sampled_from(["-", "ー", "－", " ", "", ":", "/", "--"]),
        st.text("0123456789", min_size=3, max_size=5),
    ),
    st.sampled_from(["", " ", "〒100-0001", "郵便番号 100-0001", "100-000a", "1000-001"]),
    st.text(max_size=9),
)


@settings(max_examples=500, deadline=None)
@given(st.lists(POSTCODES, max_size=20))
def test_postcode_array_equals_postcode(values: list[str]) -> None:
    values = [v.replace("\ud800", "") for v in values]
    got = postcode_array(pa.array(values, type=pa.string())).to_pylist()
    assert got == [postcode(v) for v in values]
