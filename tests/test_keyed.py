"""Keyed BLAKE3 in numba (pprl.encode.blake3_kernel) and the per-record hashes built on it
(pprl.encode.keyed): every digest must equal the ``blake3`` package's, byte for byte."""

from __future__ import annotations

import numpy as np
import pytest
from blake3 import blake3
from hypothesis import given, settings
from hypothesis import strategies as st

from pprl.encode import blake3_kernel, keyed

KEY = bytes(range(32))
EDGE_LENGTHS = (0, 1, 3, 4, 63, 64, 65, 127, 128, 129, 640, 1023, 1024, 1025, 2048, 3000)
OUTPUT_LENGTHS = (1, 4, 7, 8, 32, 63, 64, 65, 128, 129, 300)


def expected(key: bytes, messages: list[bytes], length: int) -> np.ndarray:
    out = np.zeros((len(messages), length), np.uint8)
    for i, m in enumerate(messages):
        out[i] = np.frombuffer(blake3(m, key=key).digest(length=length), np.uint8)
    return out


def message(length: int, seed: int) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, length, dtype=np.uint8).tobytes()


@pytest.mark.parametrize("length", OUTPUT_LENGTHS)
def test_edge_message_lengths_in_one_batch(length):
    """Messages of 0 to 3000 bytes (block and chunk edges, the > 1 chunk fallback) mixed
    in one batch, so lanes of one group compress different numbers of blocks."""
    messages = [message(n, n) for n in EDGE_LENGTHS] * 5
    got = blake3_kernel.keyed_hash(KEY, messages, length)
    assert got.shape == (len(messages), length) and got.dtype == np.uint8
    assert (got == expected(KEY, messages, length)).all()


@given(
    st.binary(min_size=32, max_size=32),
    st.lists(st.integers(0, 1100), min_size=1, max_size=150),
    st.integers(1, 300),
    st.integers(0, 2**32 - 1),
)
@settings(max_examples=60, deadline=None)
def test_keyed_hash_matches_blake3(key, lengths, out_len, seed):
    rng = np.random.default_rng(seed)
    messages = [rng.integers(0, 256, n, dtype=np.uint8).tobytes() for n in lengths]
    assert (
        blake3_kernel.keyed_hash(key, messages, out_len) == expected(key, messages, out_len)
    ).all()


@given(st.binary(max_size=1100), st.integers(1, 300))
@settings(max_examples=80, deadline=None)
def test_single_message_any_length(data, out_len):
    got = blake3_kernel.keyed_hash(KEY, [data], out_len)
    assert got[0].tobytes() == blake3(data, key=KEY).digest(length=out_len)


def test_packed_messages_may_overlap_and_skip_bytes():
    data = np.frombuffer(message(3000, 7), np.uint8)
    offsets = np.array([0, 10, 10, 2999, 500, 3000], np.int64)
    lengths = np.array([100, 64, 1024, 1, 1500, 0], np.int64)
    got = blake3_kernel.keyed_hash_packed(KEY, data, offsets, lengths, 40)
    messages = [data[o : o + n].tobytes() for o, n in zip(offsets, lengths, strict=True)]
    assert (got == expected(KEY, messages, 40)).all()


def test_packed_messages_outside_the_buffer_are_refused():
    data = np.zeros(10, np.uint8)
    with pytest.raises(ValueError, match="outside the data buffer"):
        blake3_kernel.keyed_hash_packed(KEY, data, np.array([5]), np.array([6]), 8)
    with pytest.raises(ValueError, match="outside the data buffer"):
        blake3_kernel.keyed_hash_packed(KEY, data, np.array([-1]), np.array([2]), 8)
    with pytest.raises(ValueError, match="32 bytes"):
        blake3_kernel.keyed_hash(b"short", [b"x"], 8)


def test_no_messages_and_zero_length_output():
    assert blake3_kernel.keyed_hash(KEY, [], 32).shape == (0, 32)
    assert blake3_kernel.keyed_hash(KEY, [b"a", b"b"], 0).shape == (2, 0)


def test_keyed_digests_is_the_kernel():
    messages = [b"", b"abc", "山田".encode()]
    assert (keyed.keyed_digests(KEY, messages, 16) == expected(KEY, messages, 16)).all()


text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@given(st.lists(text, max_size=200))
@settings(max_examples=60, deadline=None)
def test_pseudonyms_match_blake3(values):
    got = keyed.pseudonyms(KEY, values)
    want = expected(KEY, [v.encode("utf-8") for v in values], 32)
    assert got.shape == (len(values), 32) and (got == want).all()


def test_pseudonyms_of_long_and_japanese_values():
    values = ["123456789018", "", "山田　太郎", "ｱ" * 400, "x" * 5000]
    want = expected(KEY, [v.encode("utf-8") for v in values], 32)
    assert (keyed.pseudonyms(KEY, values) == want).all()


def test_pseudonym_of_unencodable_text_fails_like_str_encode():
    with pytest.raises(UnicodeEncodeError):
        keyed.pseudonyms(KEY, ["ok", "\ud800"])


def reference_block_keys(key, name, parts):
    """One blake3 call per record: the definition."""
    n = len(parts[0][0])
    values, valid = np.zeros(n, np.uint64), np.zeros(n, bool)
    for i in range(n):
        codes = [int(c[i]) for c, _ in parts]
        if min(codes) < 0:
            continue
        joined = keyed.SEPARATOR.join(
            [name, *(t[c] for (_, t), c in zip(parts, codes, strict=True))]
        )
        digest = blake3(joined.encode("utf-8"), key=key).digest(length=8)
        values[i], valid[i] = int.from_bytes(digest, "little"), True
    return values, valid


@st.composite
def block_key_parts(draw):
    n = draw(st.integers(0, 200))
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        table = draw(st.lists(text | st.just("長" * 400), min_size=1, max_size=30))
        codes = draw(st.lists(st.integers(-1, len(table) - 1), min_size=n, max_size=n))
        parts.append((np.array(codes, dtype=np.int64), table))
    return parts


@given(
    st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=10), block_key_parts()
)
@settings(max_examples=80, deadline=None)
def test_block_key_hashes_match_one_call_per_record(name, parts):
    values, valid = keyed.block_key_hashes(KEY, name, parts)
    want_values, want_valid = reference_block_keys(KEY, name, parts)
    assert (valid == want_valid).all() and (values == want_values).all()
    assert values.dtype == np.uint64 and valid.dtype == bool


def test_block_keys_of_many_records_with_missing_parts():
    rng = np.random.default_rng(3)
    years = [str(y) for y in range(1920, 2020)]
    kana = ["ア", "イ", "ウ", "ヴ", ""]
    parts = [(rng.integers(-1, len(years), 5000), years), (rng.integers(0, 5, 5000), kana)]
    values, valid = keyed.block_key_hashes(KEY, "year_kana", parts)
    want_values, want_valid = reference_block_keys(KEY, "year_kana", parts)
    assert (valid == want_valid).all() and (values == want_values).all()
    assert 0 < valid.sum() < 5000 and (values[~valid] == 0).all()


def test_block_key_codes_past_the_table_and_no_parts_are_refused():
    with pytest.raises(ValueError, match="part 1 has a code past its table"):
        keyed.block_key_hashes(KEY, "k", [(np.array([0]), ["a"]), (np.array([2]), ["a", "b"])])
    with pytest.raises(ValueError, match="at least one part"):
        keyed.block_key_hashes(KEY, "k", [])
