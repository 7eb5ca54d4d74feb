"""Addresses: width, variant kanji, ヶ/が, block numbers and rooms."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pprl.normalize import address

BASE = "東京都千代田区霞ケ関1-2-3"


@pytest.mark.parametrize(
    "value",
    [
        "東京都千代田区霞が関1丁目2番3号",
        "東京都千代田区霞ヶ関1丁目2番地3",
        "東京都千代田区霞ケ関1-2-3",
        "東京都千代田区霞ヶ関1−2−3",
        "東京都千代田区霞ヶ関１－２－３",
        "東京都千代田区霞が関一丁目二番三号",
        "東京都 千代田区 霞が関 1丁目 2番 3号",
        "東京都千代田区霞が関1ー2ー3",
        "東京都千代田区霞が関1丁目2-3",
    ],
)
def test_block_number_spellings(value: str) -> None:
    """All block-number spellings give the hyphenated key."""
    assert address(value) == BASE


@pytest.mark.parametrize(
    "value",
    [
        "東京都千代田区霞が関1丁目2番3号 メゾン東京101号室",
        "東京都千代田区霞ヶ関一丁目二番三号　メゾン東京１０１号室",
        "東京都千代田区霞ケ関1-2-3メゾン東京101",
        "東京都千代田区霞ケ関1-2-3 メゾン東京 101号",
        "東京都千代田区霞ケ関1-2-3 メゾン東京#101",
    ],
)
def test_building_and_room(value: str) -> None:
    """Building name and room number are kept after the block, 号室 dropped."""
    assert address(value) == BASE + "メゾン東京101"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("東京都千代田区霞ケ関1-2-3 101", BASE + "-101"),
        ("東京都八王子市八丁堀1丁目2番地3", "東京都八王子市八丁堀1-2-3"),
        ("東京都三鷹市下連雀三丁目", "東京都三鷹市下連雀3"),
        ("新潟県十日町市本町二丁目", "新潟県十日町市本町2"),
        ("東京都千代田区一番町1", "東京都千代田区1番町1"),
        ("○○村大字三田二百三十四番地", "○○村三田234"),
        ("長野県△△村12番地の3", "長野県△△村12-3"),
        ("札幌市中央区北一条西二丁目", "札幌市中央区北1条西2"),
        ("東京都港区虎の門1-2-3", "東京都港区虎ノ門1-2-3"),
        ("静岡県浜松市北区三ヵ日町", "静岡県浜松市北区三ケ日町"),
        ("コ－ポ澤 2-1", "コーポ沢2-1"),
        ("パークハウス−１０１", "パークハウス-101"),
        ("センター1丁目", "センター1"),
        ("東京都渋谷区代々木1-2-3 A棟 305", "東京都渋谷区代々木1-2-3A棟305"),
        ("埼玉県さいたま市浦和区高砂3丁目15番1号", "埼玉県さいたま市浦和区高砂3-15-1"),
        ("神奈川県横濱市", "神奈川県横浜市"),
    ],
)
def test_address_examples(value: str, expected: str) -> None:
    """Targeted address examples, including numerals inside place names kept as kanji."""
    assert address(value) == expected


@given(
    st.integers(1, 30),
    st.integers(1, 99),
    st.integers(1, 99),
    st.sampled_from(["{c}丁目{b}番{g}号", "{c}丁目{b}番地{g}", "{c}-{b}-{g}", "{c}−{b}−{g}"]),
)
def test_block_forms_agree(chome: int, ban: int, go: int, form: str) -> None:
    """Every block form and its full-width version give the same c-b-g key."""
    value = "大阪府大阪市北区梅田" + form.format(c=chome, b=ban, g=go)
    wide = value.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    expected = f"大阪府大阪市北区梅田{chome}-{ban}-{go}"
    assert address(value) == expected
    assert address(wide) == expected
