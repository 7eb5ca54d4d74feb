"""pprl.encode must produce CLKs bit-identical to clkhash.clk.generate_clks.

clkhash is the oracle: hypothesis generates linkage schemas (v3) and data, both
encoders run, and the bytes must match; where clkhash rejects the input, pprl must
raise InputError naming the same row and field.
"""

from __future__ import annotations

import base64
import multiprocessing
import os
import random
import signal
import string
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import date
from multiprocessing.shared_memory import SharedMemory
from typing import Any

import numpy as np
import pytest
from bitarray import bitarray
from clkhash import schema as clk_schema
from clkhash.clk import generate_clks
from clkhash.field_formats import Ignore
from clkhash.validate_data import EntryError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pprl.encode import bitarrays_to_clks, clks_to_bitarrays, encode_clks, encoder, pool
from pprl.errors import InputError

SECRET = "correct horse battery staple"

JP_CHARS = "山田中川本佐藤鈴木高橋伊渡辺小林加太郎花子あいうえおかきくけこアイウエオンー丁目番号"
ALPHABET = JP_CHARS + string.ascii_letters[:8] + string.digits[:4] + " -"


def clkhash_bytes(schema, columns, secret=SECRET, validate=True):
    """clkhash's CLKs for column-major data, as one bytes string (single process)."""
    rows = list(zip(*columns, strict=True))
    clks = generate_clks(rows, schema, secret, validate=validate, max_workers=1)
    return b"".join(c.tobytes() for c in clks)


def assert_same_as_clkhash(schema, columns, validate=True, workers=None):
    """Both encoders agree: same bytes, or clkhash rejects and pprl raises InputError."""
    try:
        ref = clkhash_bytes(schema, columns, validate=validate)
    except EntryError as e:
        with pytest.raises(InputError) as info:
            encode_clks(schema, columns, SECRET, validate=validate, workers=workers)
        msg = str(info.value)
        assert msg.startswith(f"row {e.row_index}, field {e.field_spec.identifier!r}:"), msg
        assert SECRET not in msg
        return "invalid"
    except ValueError:
        with pytest.raises(InputError):
            encode_clks(schema, columns, SECRET, validate=validate, workers=workers)
        return "invalid"
    out = encode_clks(schema, columns, SECRET, validate=validate, workers=workers)
    n = len(columns[0])
    assert out.dtype == np.uint64 and out.flags.c_contiguous
    assert out.shape == (n, schema.l // 64)
    assert out.tobytes() == ref
    return "ok"


# --------------------------------------------------------------------------- hypothesis


def b64(data: bytes) -> str:
    """Base64 text as used for kdf salt/info in the schema."""
    return base64.b64encode(data).decode()


@st.composite
def feature_and_values(draw, idx: int, n: int):
    """One feature (json dict) and n string values for it, with heavy repetition."""
    ident = f"f{idx}"
    if draw(st.integers(0, 7)) == 0:
        pool = [draw(st.text(ALPHABET, max_size=5)) for _ in range(3)]
        return {"identifier": ident, "ignored": True}, [
            pool[draw(st.integers(0, 2))] for _ in range(n)
        ]
    kind = draw(st.sampled_from(["string", "pattern", "integer", "date", "enum"]))
    sentinel = None
    bad = draw(st.integers(0, 9)) == 0  # occasionally inject values clkhash may reject
    if kind == "string":
        fmt = {"type": "string", "encoding": "utf-8"}
        hi = draw(st.integers(3, 12)) if draw(st.booleans()) else None
        lo = draw(st.integers(0, 2)) if draw(st.booleans()) else None
        if hi is not None:
            fmt["maxLength"] = hi
        if lo is not None:
            fmt["minLength"] = lo
        pool = draw(st.lists(st.text(ALPHABET, max_size=12), min_size=1, max_size=8))
        if not bad:
            pool = [v for v in pool if (hi is None or len(v) <= hi) and len(v) >= (lo or 0)]
            pool = pool or ["山田" if (lo or 0) <= 2 else "山田太郎"]
    elif kind == "pattern":
        fmt = {"type": "string", "encoding": "utf-8", "pattern": "[0-9]{3}-?[0-9]{2,4}"}
        pool = draw(
            st.lists(st.from_regex(r"[0-9]{3}-?[0-9]{2,4}", fullmatch=True), min_size=1, max_size=8)
        )
        if bad:
            pool.append("12x-45")
    elif kind == "integer":
        fmt = {"type": "integer"}
        bounded = draw(st.booleans())
        if bounded:
            fmt["minimum"] = 0
            fmt["maximum"] = 150
        ints = draw(st.lists(st.integers(-5, 160), min_size=1, max_size=8))
        if bounded and not bad:
            ints = [min(max(v, 0), 150) for v in ints]
        pool = [str(v) for v in ints]
        if draw(st.booleans()):
            pool.append("+" + pool[0].lstrip("-"))
    elif kind == "date":
        dfmt = draw(st.sampled_from(["%Y-%m-%d", "%Y%m%d", "%Y/%m/%d", "%d/%m/%Y"]))
        fmt = {"type": "date", "format": dfmt}
        early = date(1000, 1, 1) if not bad else date(1, 1, 1)
        dates = draw(st.lists(st.dates(min_value=early), min_size=1, max_size=8))
        pool = [d.strftime(dfmt) for d in dates]
        if draw(st.booleans()):  # a non-canonical form strptime still accepts
            pool.append(
                {
                    "%Y-%m-%d": "1999-1-5",
                    "%Y/%m/%d": "1999/1/5",
                    "%Y%m%d": "199915",
                    "%d/%m/%Y": "5/1/1999",
                }[dfmt]
            )
        if bad:
            pool.append(
                draw(st.sampled_from(["2001-02-30", "", "x", "0999-01-01", "１９９９-01-05"]))
            )
    else:
        values = draw(
            st.lists(st.text(ALPHABET, min_size=1, max_size=4), min_size=1, max_size=4, unique=True)
        )
        fmt = {"type": "enum", "values": values}
        pool = list(values)
    if draw(st.booleans()):
        sentinel = draw(st.sampled_from(["", "N/A", "不明"]))
        pool.append(sentinel)

    if kind == "integer" and draw(st.booleans()):
        comparison = {
            "type": "numeric",
            "thresholdDistance": draw(st.integers(1, 10)),
            "resolution": draw(st.integers(1, 4)),
        }
    elif draw(st.integers(0, 3)) == 0:
        comparison = {"type": "exact"}
    else:
        comparison = {
            "type": "ngram",
            "n": draw(st.integers(1, 3)),
            "positional": draw(st.booleans()),
        }
    if draw(st.booleans()):
        strategy = {"bitsPerToken": draw(st.integers(1, 40))}
    else:
        strategy = {"bitsPerFeature": draw(st.integers(1, 300))}
    hashing = {"comparison": comparison, "strategy": strategy}
    if draw(st.booleans()):
        hashing["hash"] = {"type": "blakeHash"}
    else:
        h = {"type": "doubleHash"}
        ps = draw(st.sampled_from([None, True, False]))
        if ps is not None:
            h["prevent_singularity"] = ps
        hashing["hash"] = h
    if sentinel is not None:
        mv = {"sentinel": sentinel}
        if draw(st.booleans()):
            mv["replaceWith"] = draw(st.sampled_from(["", "missing", "欠損", "0"]))
        hashing["missingValue"] = mv
    weights = draw(st.lists(st.integers(1, 5), min_size=len(pool), max_size=len(pool)))
    rnd = random.Random(draw(st.integers(0, 2**32)))
    values = rnd.choices(pool, weights=weights, k=n)
    return {"identifier": ident, "format": fmt, "hashing": hashing}, values


@st.composite
def schema_and_columns(draw):
    """A random clkhash v3 schema (as Schema) and matching column-major data."""
    n = draw(st.integers(0, 40))
    nfields = draw(st.integers(1, 5))
    feats, columns = [], []
    for i in range(nfields):
        f, vals = draw(feature_and_values(i, n))
        feats.append(f)
        columns.append(vals)
    blake = any(f.get("hashing", {}).get("hash", {}).get("type") == "blakeHash" for f in feats)
    folds = draw(st.integers(0, 2))
    if blake:
        l = 2 ** draw(st.integers(6, 11))  # noqa: E741 - clkhash's name
    else:
        l = 64 * draw(st.integers(1, 24))  # noqa: E741
    kdf = {"type": "HKDF", "hash": draw(st.sampled_from(["SHA256", "SHA512"]))}
    if draw(st.booleans()):
        kdf["salt"] = b64(draw(st.binary(min_size=0, max_size=32)))
    if draw(st.booleans()):
        kdf["info"] = b64(draw(st.binary(min_size=0, max_size=16)))
    if draw(st.booleans()):
        kdf["keySize"] = draw(st.integers(16, 64))
    sd = {"version": 3, "clkConfig": {"l": l, "kdf": kdf, "xor_folds": folds}, "features": feats}
    schema = clk_schema.from_json_dict(sd)
    assert schema.xor_folds == folds
    return schema, columns


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schema_and_columns(), st.booleans())
def test_bit_identical_to_clkhash(sc, validate):
    """Random schemas and data: pprl equals clkhash byte for byte (or both reject)."""
    schema, columns = sc
    assert_same_as_clkhash(schema, columns, validate=validate)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.text(min_size=0, max_size=6), min_size=1, max_size=30),
    st.integers(1, 3),
    st.booleans(),
)
def test_arbitrary_unicode_ngrams(values, n, positional):
    """Any Unicode text (astral chars, NULs, combining marks) tokenizes like clkhash."""
    values = [v.encode("utf-8", "replace").decode("utf-8") for v in values]
    sd = {
        "version": 3,
        "clkConfig": {"l": 256, "kdf": {"type": "HKDF"}},
        "features": [
            {
                "identifier": "t",
                "format": {"type": "string", "encoding": "utf-8"},
                "hashing": {
                    "comparison": {"type": "ngram", "n": n, "positional": positional},
                    "strategy": {"bitsPerFeature": 60},
                },
            }
        ],
    }
    assert assert_same_as_clkhash(clk_schema.from_json_dict(sd), [values]) == "ok"


# --------------------------------------------------------------------------- fixed schema

JP_SCHEMA = {
    "version": 3,
    "clkConfig": {
        "l": 1024,
        "kdf": {"type": "HKDF", "hash": "SHA256", "salt": b64(b"jp-resident"), "info": b64(b"clk")},
    },
    "features": [
        {"identifier": "my_number", "ignored": True},
        {
            "identifier": "family_name_kanji",
            "format": {"type": "string", "encoding": "utf-8", "maxLength": 20},
            "hashing": {
                "comparison": {"type": "ngram", "n": 2},
                "strategy": {"bitsPerFeature": 120},
            },
        },
        {
            "identifier": "given_name_kanji",
            "format": {"type": "string", "encoding": "utf-8", "maxLength": 20},
            "hashing": {
                "comparison": {"type": "ngram", "n": 1},
                "strategy": {"bitsPerFeature": 100},
                "missingValue": {"sentinel": "", "replaceWith": "不明"},
            },
        },
        {
            "identifier": "family_name_kana",
            "format": {"type": "string", "encoding": "utf-8"},
            "hashing": {
                "comparison": {"type": "ngram", "n": 2},
                "strategy": {"bitsPerToken": 15},
                "hash": {"type": "doubleHash", "prevent_singularity": True},
            },
        },
        {
            "identifier": "given_name_kana",
            "format": {"type": "string", "encoding": "utf-8"},
            "hashing": {
                "comparison": {"type": "ngram", "n": 2, "positional": True},
                "strategy": {"bitsPerFeature": 80},
                "hash": {"type": "doubleHash"},
            },
        },
        {
            "identifier": "date_of_birth",
            "format": {"type": "date", "format": "%Y-%m-%d"},
            "hashing": {
                "comparison": {"type": "ngram", "n": 1, "positional": True},
                "strategy": {"bitsPerFeature": 96},
            },
        },
        {
            "identifier": "sex",
            "format": {"type": "enum", "values": ["1", "2", "9"]},
            "hashing": {"comparison": {"type": "exact"}, "strategy": {"bitsPerToken": 24}},
        },
        {
            "identifier": "postcode",
            "format": {"type": "string", "encoding": "utf-8", "pattern": "[0-9]{3}-[0-9]{4}"},
            "hashing": {
                "comparison": {"type": "ngram", "n": 1, "positional": True},
                "strategy": {"bitsPerFeature": 64},
            },
        },
        {
            "identifier": "address",
            "format": {"type": "string", "encoding": "utf-8"},
            "hashing": {
                "comparison": {"type": "ngram", "n": 2},
                "strategy": {"bitsPerFeature": 200},
            },
        },
    ],
}


def jp_columns(n: int, seed: int = 3) -> list[list[str]]:
    """n Japanese-like records (column-major) with realistic repetition."""
    rnd = random.Random(seed)
    fam = ["佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤", "長谷川"]
    fam_kana = [
        "サトウ",
        "スズキ",
        "タカハシ",
        "タナカ",
        "イトウ",
        "ワタナベ",
        "ヤマモト",
        "ナカムラ",
        "コバヤシ",
        "カトウ",
        "ハセガワ",
    ]
    giv = ["太郎", "花子", "翔", "陽菜", "健一", "美智子", ""]
    giv_kana = ["タロウ", "ハナコ", "ショウ", "ヒナ", "ケンイチ", "ミチコ", ""]
    cols: list[list[str]] = [[] for _ in range(9)]
    for _ in range(n):
        f = rnd.choices(range(len(fam)), weights=range(len(fam), 0, -1))[0]
        g = rnd.randrange(len(giv))
        y, m, d = rnd.randint(1935, 2024), rnd.randint(1, 12), rnd.randint(1, 28)
        row = [
            f"{rnd.randrange(10**12):012d}",
            fam[f],
            giv[g],
            fam_kana[f],
            giv_kana[g],
            f"{y:04d}-{m:02d}-{d:02d}",
            rnd.choice("129"),
            f"{rnd.randrange(100, 110)}-{rnd.randrange(10000):04d}",
            f"東京都{rnd.choice(['新宿区', '港区', '渋谷区'])}{rnd.randint(1, 9)}丁目"
            f"{rnd.randint(1, 30)}番{rnd.randint(1, 20)}号",
        ]
        for c, v in zip(cols, row, strict=True):
            c.append(v)
    return cols


def spy_processes(monkeypatch) -> list[int]:
    """Record the process count of every ``pool.run_jobs`` call of the encoder."""
    calls: list[int] = []
    real = pool.run_jobs

    def spy(task, jobs, out, *, processes, on_done=None):
        calls.append(processes)
        return real(task, jobs, out, processes=processes, on_done=on_done)

    monkeypatch.setattr(pool, "run_jobs", spy)
    return calls


def test_fixed_japanese_schema():
    """The realistic Japanese schema on a few thousand records (threads on and off)."""
    schema = clk_schema.from_json_dict(JP_SCHEMA)
    cols = jp_columns(3000)
    ref = clkhash_bytes(schema, cols)
    for workers in (1, 2):
        assert encode_clks(schema, cols, SECRET, workers=workers).tobytes() == ref


def test_large_input_parallel_path(monkeypatch):
    """25,000 records: crosses clkhash's 10k chunks and pprl's multi-process threshold."""
    processes = spy_processes(monkeypatch)
    schema = clk_schema.from_json_dict(JP_SCHEMA)
    cols = jp_columns(25_000, seed=11)
    ref = clkhash_bytes(schema, cols)
    calls: list[int] = []
    out = encode_clks(schema, cols, SECRET, workers=2, progress=calls.append)
    assert processes == [2], "expected the two-process path"
    assert out.tobytes() == ref
    assert sum(calls) == 25_000
    assert encode_clks(schema, cols, SECRET, workers=1).tobytes() == ref


def test_blake_key_longer_than_64_bytes_rejected():
    """clkhash's BLAKE2b cannot take keys > 64 bytes; pprl says so instead of crashing."""
    sd = {
        "version": 3,
        "clkConfig": {"l": 64, "kdf": {"type": "HKDF", "keySize": 65}},
        "features": [
            {
                "identifier": "a",
                "format": {"type": "string"},
                "hashing": {"comparison": {"type": "exact"}, "strategy": {"bitsPerToken": 5}},
            }
        ],
    }
    schema = clk_schema.from_json_dict(sd)
    with pytest.raises(ValueError):
        clkhash_bytes(schema, [["x"]])
    with pytest.raises(InputError, match="64 bytes"):
        encode_clks(schema, [["x"]], SECRET)


def test_secret_changes_output():
    """A different secret gives different encodings (guards against a constant key)."""
    schema = clk_schema.from_json_dict(JP_SCHEMA)
    cols = jp_columns(5)
    assert encode_clks(schema, cols, "a").tobytes() != encode_clks(schema, cols, "b").tobytes()


# --------------------------------------------------------------------------- errors


def test_invalid_date_names_row_and_field_not_value_or_secret():
    """A bad date at row 17 is reported as such, without the value or the secret."""
    schema = clk_schema.from_json_dict(JP_SCHEMA)
    cols = jp_columns(40)
    cols[5][17] = "1990-02-31"
    cols[7][30] = "bad"
    with pytest.raises(InputError) as info:
        encode_clks(schema, cols, SECRET)
    msg = str(info.value)
    assert msg.startswith("row 17, field 'date_of_birth':")
    assert "%Y-%m-%d" in msg and "1990-02-31" not in msg and SECRET not in msg
    assert "\n" not in msg
    assert_same_as_clkhash(schema, cols)


def test_invalid_pattern_reported():
    """Postcode failing its regex: InputError naming row and field, matching clkhash."""
    schema = clk_schema.from_json_dict(JP_SCHEMA)
    cols = jp_columns(20)
    cols[7][4] = "1234567"
    with pytest.raises(InputError, match=r"^row 4, field 'postcode'"):
        encode_clks(schema, cols, SECRET)
    assert_same_as_clkhash(schema, cols)


def test_validate_false_skips_format_checks():
    """validate=False encodes pattern-violating values exactly as clkhash does."""
    schema = clk_schema.from_json_dict(JP_SCHEMA)
    cols = jp_columns(20)
    cols[7][4] = "1234567"
    assert assert_same_as_clkhash(schema, cols, validate=False) == "ok"


@pytest.mark.parametrize("l", [100, 96, 8])
def test_l_not_multiple_of_64_rejected(l):  # noqa: E741
    """Filter lengths that are not a multiple of 64 are refused with a one-line error."""
    sd = {
        "version": 3,
        "clkConfig": {"l": l, "kdf": {"type": "HKDF"}},
        "features": [
            {
                "identifier": "a",
                "format": {"type": "string"},
                "hashing": {
                    "comparison": {"type": "exact"},
                    "strategy": {"bitsPerToken": 5},
                    "hash": {"type": "doubleHash"},
                },
            }
        ],
    }
    with pytest.raises(InputError, match=rf"schema .*l={l}.* multiple of 64"):
        encode_clks(clk_schema.from_json_dict(sd), [["x"]], SECRET)


def test_blake_needs_power_of_two():
    """blakeHash with l not a power of two is refused (clkhash raises ValueError)."""
    sd = {
        "version": 3,
        "clkConfig": {"l": 192, "kdf": {"type": "HKDF"}},
        "features": [
            {
                "identifier": "a",
                "format": {"type": "string"},
                "hashing": {"comparison": {"type": "exact"}, "strategy": {"bitsPerToken": 5}},
            }
        ],
    }
    schema = clk_schema.from_json_dict(sd)
    with pytest.raises(ValueError):
        clkhash_bytes(schema, [["x"]])
    with pytest.raises(InputError, match="power of two"):
        encode_clks(schema, [["x"]], SECRET)


def test_column_count_and_length_checked():
    """Wrong number of columns or ragged columns raise InputError."""
    schema = clk_schema.from_json_dict(JP_SCHEMA)
    cols = jp_columns(3)
    with pytest.raises(InputError, match="columns"):
        encode_clks(schema, cols[:-1], SECRET)
    cols[2] = cols[2][:2]
    with pytest.raises(InputError, match="given_name_kanji"):
        encode_clks(schema, cols, SECRET)


def test_empty_input():
    """Zero records give a (0, l // 64) array."""
    schema = clk_schema.from_json_dict(JP_SCHEMA)
    out = encode_clks(schema, [[] for _ in range(9)], SECRET)
    assert out.shape == (0, 16) and out.dtype == np.uint64


# --------------------------------------------------------------------------- interop


def test_bitarray_round_trip():
    """clks_to_bitarrays / bitarrays_to_clks are inverse and match clkhash's layout."""
    schema = clk_schema.from_json_dict(JP_SCHEMA)
    cols = jp_columns(50)
    rows = list(zip(*cols, strict=True))
    ref = generate_clks(rows, schema, SECRET, max_workers=1)
    out = encode_clks(schema, cols, SECRET)
    bas = clks_to_bitarrays(out)
    assert all(isinstance(b, bitarray) and b == r for b, r in zip(bas, ref, strict=True))
    assert np.array_equal(bitarrays_to_clks(ref), out)
    little = [bitarray(r, endian="little") for r in ref]
    assert np.array_equal(bitarrays_to_clks(little), out)


@pytest.mark.parametrize("prevent", [True, False])
def test_double_hash_singularity(prevent):
    """l=64 makes HMAC-MD5 % l == 0 common, exercising clkhash's re-hash loop."""
    import hmac
    from hashlib import md5

    from clkhash.key_derivation import generate_key_lists

    sd = {
        "version": 3,
        "clkConfig": {"l": 64, "kdf": {"type": "HKDF"}},
        "features": [
            {
                "identifier": "a",
                "format": {"type": "string"},
                "hashing": {
                    "comparison": {"type": "exact"},
                    "strategy": {"bitsPerToken": 7},
                    "hash": {"type": "doubleHash", "prevent_singularity": prevent},
                },
            }
        ],
    }
    schema = clk_schema.from_json_dict(sd)
    values = [f"v{i}" for i in range(400)]
    key_md5 = generate_key_lists(SECRET, 1)[0][1]
    singular = [
        v for v in values if int.from_bytes(hmac.digest(key_md5, v.encode(), md5), "big") % 64 == 0
    ]
    assert singular, "test needs at least one singular token"
    assert assert_same_as_clkhash(schema, [values]) == "ok"


@pytest.mark.parametrize("workers", [1, 2])
def test_earliest_error_across_workers(workers):
    """With fields spread over processes, the earliest (row, field) is still reported."""
    schema = clk_schema.from_json_dict(JP_SCHEMA)
    cols = jp_columns(22_000, seed=5)
    cols[5][21_000] = "2001-13-01"
    cols[7][20_500] = "1000000"
    cols[2][21_500] = "x" * 21
    with pytest.raises(InputError, match=r"^row 20500, field 'postcode'"):
        encode_clks(schema, cols, SECRET, workers=workers)


@pytest.mark.parametrize("encoding", ["utf-8", "shift_jis", "utf-16"])
def test_nul_characters_and_other_encodings(encoding):
    """Values containing NUL, surrogate-free astral chars and non-UTF-8 encodings."""
    values = ["a\x00b", "", "\x00", "山田", "a\x00b", "ﾔﾏﾀﾞ", "x" * 30, "山田"]
    if encoding != "shift_jis":
        values.append("😀 emoji")
    sd = {
        "version": 3,
        "clkConfig": {"l": 512, "kdf": {"type": "HKDF", "hash": "SHA512"}},
        "features": [
            {
                "identifier": "t",
                "format": {"type": "string", "encoding": encoding},
                "hashing": {
                    "comparison": {"type": "ngram", "n": 2, "positional": True},
                    "strategy": {"bitsPerToken": 9},
                },
            },
            {
                "identifier": "u",
                "format": {"type": "string", "encoding": encoding},
                "hashing": {"comparison": {"type": "exact"}, "strategy": {"bitsPerFeature": 33}},
            },
        ],
    }
    schema = clk_schema.from_json_dict(sd, validate=False)  # master schema: few encodings
    assert assert_same_as_clkhash(schema, [values, values[::-1]]) == "ok"
    if encoding == "shift_jis":
        bad = [*values, "😀"]
        assert assert_same_as_clkhash(schema, [bad, bad[::-1]]) == "invalid"


def _numeric_and_short_schema():
    """f0: integer with numeric comparison whose missing value cannot be tokenized;
    f1: string of at most 3 characters."""
    sd = {
        "version": 3,
        "clkConfig": {"l": 128, "kdf": {"type": "HKDF"}},
        "features": [
            {
                "identifier": "f0",
                "format": {"type": "integer"},
                "hashing": {
                    "comparison": {"type": "numeric", "thresholdDistance": 5, "resolution": 2},
                    "strategy": {"bitsPerToken": 3},
                    "missingValue": {"sentinel": "", "replaceWith": "missing"},
                },
            },
            {
                "identifier": "f1",
                "format": {"type": "string", "maxLength": 3},
                "hashing": {"comparison": {"type": "exact"}, "strategy": {"bitsPerToken": 4}},
            },
        ],
    }
    return clk_schema.from_json_dict(sd)


@pytest.mark.parametrize(
    "n, bad_row, expect", [(12, 5, "row 5, field 'f1'"), (10_010, 10_005, "row 3, field 'f0'")]
)
def test_error_precedence_follows_clkhash_chunks(n, bad_row, expect):
    """clkhash validates 10,000-row chunks before encoding them: a validation error
    wins within a chunk, an encoding error in an earlier chunk wins across chunks."""
    schema = _numeric_and_short_schema()
    f0 = [str(i % 50) for i in range(n)]
    f1 = ["abc"] * n
    f0[3] = ""  # replaced by "missing": the numeric comparison cannot tokenize it
    f1[bad_row] = "abcd"  # too long
    with pytest.raises(ValueError) as ref:
        clkhash_bytes(schema, [f0, f1])
    with pytest.raises(InputError) as ours:
        encode_clks(schema, [f0, f1], SECRET, workers=1)
    assert str(ours.value).startswith(expect)
    assert isinstance(ref.value, EntryError) == (expect.endswith("'f1'"))


# --------------------------------------------------------------------------- process pool


def _outcome(schema, columns, validate, workers):
    """The encoder's bytes, or its error message."""
    try:
        return "ok", encode_clks(
            schema, columns, SECRET, validate=validate, workers=workers
        ).tobytes()
    except InputError as e:
        return "error", str(e)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schema_and_columns(), st.booleans(), st.integers(2, 4))
def test_processes_equal_one_process(sc, validate, processes):
    """Random small inputs: field jobs spread over worker processes give exactly the
    bytes (or the error) of one process."""
    schema, columns = sc
    njobs = sum(
        f.hashing_properties is not None or (validate and not isinstance(f, Ignore))
        for f in schema.fields
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(encoder, "PARALLEL_MIN_RECORDS", 0)
        calls = spy_processes(mp)
        one = _outcome(schema, columns, validate, 1)
        many = _outcome(schema, columns, validate, processes)
    assert many == one
    assert calls == [1, max(1, min(processes, njobs))]


def test_processes_while_another_thread_runs(monkeypatch):
    """The pool starts workers while another thread is busy (the old encoder fell back
    to one process whenever a second thread existed, e.g. the CLI's progress bar)."""
    monkeypatch.setattr(encoder, "PARALLEL_MIN_RECORDS", 0)
    calls = spy_processes(monkeypatch)
    schema = clk_schema.from_json_dict(JP_SCHEMA)
    cols = jp_columns(3000, seed=7)
    ref = clkhash_bytes(schema, cols)
    stop = threading.Event()

    def spin() -> None:
        while not stop.wait(0.001):
            sum(range(1000))

    other = threading.Thread(target=spin, daemon=True)
    other.start()
    try:
        assert threading.active_count() > 1
        out = encode_clks(schema, cols, SECRET, workers=2)
    finally:
        stop.set()
        other.join(timeout=10)
    assert not other.is_alive()
    assert calls == [2]
    assert out.tobytes() == ref


@dataclass
class MarkTask:
    """Toy pool task: job j sets bit j of row j and writes the id of the process that
    ran it there; odd jobs report themselves as failures. A worker's job waits
    (bounded) until this process has run one, and this process's first job waits
    (bounded) until a worker has started one, so both always take part, however
    loaded the machine; ``fail``
    makes a worker raise, raise an InputError or die at its first job, or this
    process be interrupted at its first."""

    parent: int
    parent_ran: Any  # multiprocessing Event
    fail: str = ""
    worker_started: Any = None  # multiprocessing Event

    def __call__(self, job: int, out: np.ndarray) -> int | None:
        if os.getpid() == self.parent:
            self.parent_ran.set()
            if self.fail == "interrupt":
                raise KeyboardInterrupt
            if self.worker_started is not None:
                assert self.worker_started.wait(30), "no worker took a job"
        else:
            if self.worker_started is not None:
                self.worker_started.set()
            if self.fail == "error":
                raise ZeroDivisionError("boom")
            if self.fail == "input":
                raise InputError("row 3, field 'x': bad value")
            if self.fail == "die":
                os._exit(3)
            assert self.parent_ran.wait(30), "this process took no job"
        out[job, 0] |= np.uint64(1) << np.uint64(job)
        out[job, 1] = os.getpid()
        return job if job % 2 else None


def spy_segments(monkeypatch) -> list[str]:
    """Record the names of the shared-memory segments the pool creates."""
    names: list[str] = []
    real = pool.SharedMemory

    class Recording(real):
        def __init__(self, name=None, create=False, size=0):
            super().__init__(name, create, size)
            if create:
                names.append(self.name)

    monkeypatch.setattr(pool, "SharedMemory", Recording)
    return names


def assert_unlinked(names: list[str]) -> None:
    assert names
    for name in names:
        with pytest.raises(FileNotFoundError):
            SharedMemory(name=name)


def test_pool_spreads_jobs_and_ors_buffers(monkeypatch):
    """Jobs run in this process and in workers; every buffer is ORed into the result;
    failures come back from every process; segments are unlinked."""
    names = spy_segments(monkeypatch)
    ctx = pool.mp_context()
    task = MarkTask(os.getpid(), ctx.Event(), "", ctx.Event())
    out = np.zeros((8, 2), dtype=np.uint64)
    failures = pool.run_jobs(task, range(8), out, processes=3)
    assert sorted(failures) == [1, 3, 5, 7]
    assert out[:, 0].tolist() == [1 << j for j in range(8)]
    pids = set(out[:, 1].tolist())
    assert os.getpid() in pids and len(pids) >= 2 and 0 not in pids
    assert len(names) == 2
    assert_unlinked(names)


@pytest.mark.parametrize(
    "fail, error, match",
    [
        ("error", pool.WorkerError, r"^an encoder worker process failed: ZeroDivisionError$"),
        ("input", InputError, r"^row 3, field 'x': bad value$"),
        ("die", pool.WorkerError, r"^an encoder worker process died unexpectedly"),
        ("interrupt", KeyboardInterrupt, None),
    ],
)
def test_pool_failures_are_one_clean_error(monkeypatch, fail, error, match):
    """A worker's exception, InputError or death, or an interrupt of this process,
    ends the run with one error; the shared memory is unlinked in every case."""
    names = spy_segments(monkeypatch)
    ctx = pool.mp_context()
    task = MarkTask(os.getpid(), ctx.Event(), fail, ctx.Event())
    with pytest.raises(error, match=match):
        pool.run_jobs(task, range(6), np.zeros((6, 2), dtype=np.uint64), processes=2)
    assert_unlinked(names)


def test_pool_in_one_process_runs_jobs_in_order():
    """processes=1: no workers, no shared memory, jobs in the given order."""
    seen: list[int] = []

    def task(job, out):
        seen.append(job)
        out[0, 0] |= np.uint64(1) << np.uint64(job)
        return None

    out = np.zeros((1, 1), dtype=np.uint64)
    assert pool.run_jobs(task, [3, 1, 2], out, processes=1, on_done=seen.append) == []
    assert seen == [3, 3, 1, 1, 2, 2] and int(out[0, 0]) == 0b1110


@pytest.mark.skipif(
    "forkserver" not in multiprocessing.get_all_start_methods(), reason="no forkserver"
)
def test_forkserver_start_method(monkeypatch):
    """Where fork is missing the pool uses forkserver: the field jobs are pickled to
    fresh workers and the result is still clkhash's."""
    monkeypatch.setattr(pool, "START_METHODS", ("forkserver",))
    monkeypatch.setattr(encoder, "PARALLEL_MIN_RECORDS", 0)
    assert pool.mp_context().get_start_method() == "forkserver"
    schema = clk_schema.from_json_dict(JP_SCHEMA)
    cols = jp_columns(400, seed=2)
    assert encode_clks(schema, cols, SECRET, workers=2).tobytes() == clkhash_bytes(schema, cols)


INTERRUPTED_SCRIPT = """
import os, time
import numpy as np
from pprl.encode import pool

created = []
real = pool.SharedMemory

class Recording(real):
    def __init__(self, name=None, create=False, size=0):
        super().__init__(name, create, size)
        if create:
            created.append(self.name)

pool.SharedMemory = Recording
parent_ran = pool.mp_context().Event()
parent = os.getpid()

def task(job, out):
    if os.getpid() == parent:
        parent_ran.set()
        print("segments", *created, flush=True)
    else:
        assert parent_ran.wait(30)
        if job != 0:
            return None  # this worker then finds the queue empty and idles
    time.sleep(60)

try:
    pool.run_jobs(task, range(3), np.zeros((3, 1), dtype=np.uint64), processes=3)
except KeyboardInterrupt:
    print("interrupted", flush=True)
    raise SystemExit(130)
"""


def test_ctrl_c_stops_every_process_quietly(tmp_path):
    """Ctrl-C (SIGINT to the process group) while this process and one worker run
    jobs and another worker idles: the run ends at once with KeyboardInterrupt, no
    worker prints a traceback, and the shared memory is unlinked."""
    script = tmp_path / "interrupted.py"
    script.write_text(INTERRUPTED_SCRIPT)
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        first = proc.stdout.readline()  # blocks until this process runs a job
        assert first.startswith("segments "), first + proc.stderr.read()
        time.sleep(0.5)  # the workers reach their job and their idle wait
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    assert proc.returncode == 130 and out.strip() == "interrupted", (out, err)
    assert "Traceback" not in err, err
    assert_unlinked(first.split()[1:])
