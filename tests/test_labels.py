"""Party labels and safe CSV cells: the naming rules that keep results with their party."""

from __future__ import annotations

import unicodedata

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pprl.csvout import neutralize, write_csv
from pprl.errors import InputError
from pprl.labels import MAX_LABEL, REFERENCE_SUFFIX, validate_label, view_stems


@pytest.mark.parametrize(
    "label", ["協会けんぽ", "insurer-01", "bank_2", "municipality", "a.b", "X"]
)
def test_good_labels_pass(label):
    assert validate_label(label) == label


@pytest.mark.parametrize(
    ("label", "fragment"),
    [
        ("a/b", "contains '/'"),
        ("a\\b", "contains"),
        ("..", "must not start"),
        (".hidden", "must not start"),
        ("=HYPERLINK(1)", "must not start"),
        ("=x", "must not start"),
        ("+1", "must not start"),
        ("-x", "must not start"),
        ("@x", "must not start"),
        ("a b", "contains ' '"),
        ("a\x1b[31m", "contains '\\x1b'"),
        ("a\nb", "contains '\\n'"),
        ("[/x]", "contains '['"),
        ("x" * 5000, f"longer than {MAX_LABEL}"),
        ("", "missing or empty"),
        ("e\u0301", "NFC"),
        ("insurer\u3164", "contains"),  # Hangul filler: looks like "insurer"
        ("insurer\ufe0f", "contains"),  # variation selector
        ("insurer\u034f", "contains"),  # combining grapheme joiner
        ("in\u200bsurer", "contains"),  # zero-width space
    ],
)
def test_bad_labels_refused_in_one_line(label, fragment):
    with pytest.raises(InputError) as exc:
        validate_label(label)
    message = str(exc.value)
    assert fragment in message
    assert "\n" not in message and len(message) < 200


def test_long_label_is_not_echoed_whole():
    with pytest.raises(InputError) as exc:
        validate_label("y" * 5000)
    assert "y" * 41 not in str(exc.value)


def test_collisions_refused_case_insensitively():
    with pytest.raises(InputError, match="share a result file"):
        view_stems(["Insurer", "insurer"], "municipality")
    with pytest.raises(InputError, match="share a result file"):
        view_stems(["municipality.reference"], "municipality")
    with pytest.raises(InputError, match="share a result file"):
        view_stems(["Municipality.Reference"], "municipality")


def test_one_party_with_several_files_gets_one_stem():
    stems, ref = view_stems(["insurer", "insurer", "bank"], "municipality")
    assert stems == {"insurer": "insurer", "bank": "bank"}
    assert ref == "municipality" + REFERENCE_SUFFIX


label_chars = st.characters(
    categories=("Lu", "Ll", "Lo", "Nd", "Zs", "Cc", "Po", "Sm", "Ps", "Pe", "Pd")
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(label_chars, min_size=1, max_size=12), min_size=1, max_size=6))
def test_random_labels_map_to_distinct_safe_names(labels):
    """Whatever labels arrive: either refused with InputError, or every distinct party
    gets its own file name, safe on disk, distinct after case folding."""
    try:
        stems, ref = view_stems(labels, "register")
    except InputError:
        return
    names = [*stems.values(), ref]
    folded = [unicodedata.normalize("NFKC", n).casefold() for n in names]
    assert len(set(folded)) == len(names)
    assert set(stems) == set(labels)
    for name in names:
        assert "/" not in name and "\\" not in name and "\x00" not in name
        assert name not in (".", "..") and not name.startswith(".")
        assert name[0] not in "=+-@"
        assert all(unicodedata.category(c)[0] in "LMN" or c in "-_." for c in name)


def test_csv_cells_are_neutralized(tmp_path):
    table = pa.table(
        {
            "label": ['=HYPERLINK("x")', "+1", "-2", "@a", "\tx", "\rx", "ok", None],
            "score": [-0.5, 1.0, -2.0, 0.0, 0.1, 0.2, 0.3, None],
            "status": pa.array(["a", "=b", "c", "d", "e", "f", "g", "h"]).dictionary_encode(),
        }
    )
    path = tmp_path / "out.csv"
    write_csv(table, path)
    text = path.read_text(encoding="utf-8")
    assert "'=HYPERLINK" in text and '"\'+1"' in text and "'-2" in text and "'@a" in text
    assert "-0.5" in text and "'-0.5" not in text  # numbers stay numbers
    assert "'=b" in text
    assert neutralize(pa.array([1, 2])).to_pylist() == [1, 2]
