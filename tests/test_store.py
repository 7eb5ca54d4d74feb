"""Encoding files: round trip, integrity checks, compatibility checks."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from pprl.errors import InputError, IntegrityError, MismatchError
from pprl.store import (
    Encodings,
    bit_statistics,
    check_compatible,
    read_encodings,
    write_clkhash_json,
    write_encodings,
)


def make(n=50, words=16, seed=0, fingerprint="f" * 16, digest="d" * 32) -> Encodings:
    rng = np.random.default_rng(seed)
    has = rng.random(n) > 0.2
    tokens = rng.integers(0, 256, (n, 32), dtype=np.uint8) * has[:, None].astype(np.uint8)
    keys = rng.integers(0, 2**63, n, dtype=np.uint64)
    valid = rng.random(n) > 0.1
    return Encodings(
        rows=np.arange(n, dtype=np.int64),
        tokens=tokens,
        has_token=has,
        clks=rng.integers(0, 2**63, (n, words), dtype=np.uint64),
        block_keys={"dob": (np.where(valid, keys, 0).astype(np.uint64), valid)},
        meta={
            "party": "test",
            "key_fingerprint": fingerprint,
            "schema_digest": digest,
            "schema_name": "jp-resident",
        },
    )


def test_round_trip(tmp_path):
    enc = make()
    path = write_encodings(enc, tmp_path / "e.parquet")
    back = read_encodings(path)
    np.testing.assert_array_equal(back.clks, enc.clks)
    np.testing.assert_array_equal(back.has_token, enc.has_token)
    np.testing.assert_array_equal(back.tokens[back.has_token], enc.tokens[enc.has_token])
    np.testing.assert_array_equal(back.block_keys["dob"][1], enc.block_keys["dob"][1])
    assert back.meta["count"] == 50 and back.meta["party"] == "test"
    assert not list(tmp_path.glob(".*tmp"))


def test_empty_file_round_trip(tmp_path):
    back = read_encodings(write_encodings(make(n=0), tmp_path / "e.parquet"))
    assert len(back) == 0 and back.clks.shape == (0, 16)


def test_truncated_file_refused(tmp_path):
    path = write_encodings(make(), tmp_path / "e.parquet")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(IntegrityError, match="truncated or damaged"):
        read_encodings(path)


def test_edited_clk_refused(tmp_path):
    path = write_encodings(make(), tmp_path / "e.parquet")
    table = pq.read_table(path)
    clks = table.column("clk").to_pylist()
    clks[3] = bytes(len(clks[3]))
    import pyarrow as pa

    edited = table.set_column(2, "clk", pa.array(clks, type=table.schema.field("clk").type))
    pq.write_table(edited.replace_schema_metadata(table.schema.metadata), path)
    with pytest.raises(IntegrityError, match="digest mismatch"):
        read_encodings(path)


def test_dropped_rows_refused(tmp_path):
    path = write_encodings(make(), tmp_path / "e.parquet")
    table = pq.read_table(path)
    pq.write_table(table.slice(0, 10), path)
    with pytest.raises(IntegrityError, match="truncated or edited"):
        read_encodings(path)


def test_plain_parquet_is_not_an_encoding_file(tmp_path):
    import pyarrow as pa

    pq.write_table(pa.table({"a": [1]}), tmp_path / "x.parquet")
    with pytest.raises(InputError, match="not a pprl encoding file"):
        read_encodings(tmp_path / "x.parquet")


def test_compatibility_checks():
    check_compatible(make(), make(seed=1))
    with pytest.raises(MismatchError, match="different secrets"):
        check_compatible(make(), make(fingerprint="0" * 16))
    with pytest.raises(MismatchError, match="different schemas"):
        check_compatible(make(), make(digest="0" * 32))
    with pytest.raises(MismatchError, match="512-bit"):
        check_compatible(make(), make(words=8))


def test_clkhash_json_round_trip(tmp_path):
    enc = make()
    path = write_clkhash_json(enc, tmp_path / "e.json")
    assert set(json.loads(path.read_text())) == {"clks"}
    back = read_encodings(path)
    np.testing.assert_array_equal(back.clks, enc.clks)
    assert not back.has_token.any()


def test_bad_clkhash_json(tmp_path):
    path = tmp_path / "e.json"
    path.write_text('{"clks": ["not base64!"]}')
    with pytest.raises(InputError, match="not a clkhash JSON"):
        read_encodings(path)


def test_bit_statistics():
    enc = make(n=100)
    stats = bit_statistics(enc)
    assert stats["records"] == 100
    assert 0.4 < stats["fill_ratio"] < 0.6
    assert stats["with_link_key"] + stats["without_link_key"] == 100
