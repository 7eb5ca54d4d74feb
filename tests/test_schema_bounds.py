"""Schema bounds (issue #12): values that would exhaust memory or time, deep or huge
JSON, and malformed extension parts are one-line errors naming the schema and field."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import pytest

from pprl.boundedjson import json_depth
from pprl.errors import InputError
from pprl.schema import (
    MAX_FIELDS,
    MAX_K,
    MAX_L,
    MAX_SCHEMA_BYTES,
    builtin_document,
    load_schema,
)


def base() -> dict[str, Any]:
    return copy.deepcopy(builtin_document("jp-resident"))


def feature(doc: dict[str, Any], name: str = "family_name_kanji") -> dict[str, Any]:
    return next(f for f in doc["features"] if f["identifier"] == name)


def write(tmp_path: Path, doc: Any) -> str:
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(doc) if not isinstance(doc, str) else doc, encoding="utf-8")
    return str(path)


EDITS = {
    "l-2^34": (lambda d: d["clkConfig"].__setitem__("l", 2**34), "clkConfig.l"),
    "l-above-max": (lambda d: d["clkConfig"].__setitem__("l", MAX_L + 64), "clkConfig.l"),
    "l-string": (lambda d: d["clkConfig"].__setitem__("l", "1024"), "clkConfig.l"),
    "l-float": (lambda d: d["clkConfig"].__setitem__("l", 1024.5), "clkConfig.l"),
    "bits-per-feature-1e9": (
        lambda d: feature(d)["hashing"]["strategy"].__setitem__("bitsPerFeature", 1e9),
        "family_name_kanji: hashing.strategy.bitsPerFeature",
    ),
    "bits-per-token": (
        lambda d: feature(d)["hashing"].__setitem__("strategy", {"bitsPerToken": MAX_K + 1}),
        "hashing.strategy.bitsPerToken",
    ),
    "ngram-n": (
        lambda d: feature(d)["hashing"]["comparison"].__setitem__("n", 10**6),
        "hashing.comparison.n",
    ),
    "key-size": (
        lambda d: d["clkConfig"]["kdf"].__setitem__("keySize", 10**9),
        "clkConfig.kdf.keySize",
    ),
    "xor-folds": (lambda d: d["clkConfig"].__setitem__("xor_folds", 40), "clkConfig.xor_folds"),
    "fields": (
        lambda d: d.__setitem__("features", [feature(d)] * (MAX_FIELDS + 1)),
        "features has",
    ),
    "pprl-not-object": (lambda d: d.__setitem__("pprl", [1]), "pprl must be a JSON object"),
    "block-key-no-field": (
        lambda d: d["pprl"]["block_keys"][0]["parts"].__setitem__(0, {"start": 0}),
        "pprl.block_keys[0].parts",
    ),
    "block-key-no-parts": (
        lambda d: d["pprl"]["block_keys"].__setitem__(0, {"name": "x"}),
        "pprl.block_keys[0]",
    ),
    "sources-not-list": (
        lambda d: d["pprl"].__setitem__("sources", {"a": "b"}),
        "pprl.sources.a",
    ),
    "link-key-number": (lambda d: d["pprl"].__setitem__("link_key", 5), "pprl.link_key"),
}


@pytest.mark.parametrize("case", EDITS)
def test_out_of_bounds_schema_is_refused_quickly(tmp_path, case):
    doc = base()
    edit, field = EDITS[case]
    edit(doc)
    path = write(tmp_path, doc)
    started = time.monotonic()
    with pytest.raises(InputError, match="schema.json: ") as info:
        load_schema(path)
    assert time.monotonic() - started < 5
    message = str(info.value)
    assert field in message and "\n" not in message and len(message) < 400


def test_schema_nested_10000_deep_is_refused_before_parsing(tmp_path):
    doc = base()
    text = json.dumps(doc)[:-1] + ', "deep": ' + "[" * 10_000 + "]" * 10_000 + "}"
    with pytest.raises(InputError, match="nested deeper than 32 levels"):
        load_schema(write(tmp_path, text))


def test_deep_document_given_directly_is_refused():
    from pprl.schema import parse_schema

    doc = base()
    deep: Any = 0
    for _ in range(5_000):
        deep = [deep]
    doc["deep"] = deep
    with pytest.raises(InputError, match="x: schema nested deeper than 32"):
        parse_schema(doc, "x")


def test_huge_schema_file_is_refused_unread(tmp_path):
    path = tmp_path / "big.json"
    with open(path, "wb") as fh:
        fh.truncate(4 << 30)  # sparse: 4 GiB that costs no disk
    with pytest.raises(InputError, match=f"larger than {MAX_SCHEMA_BYTES:,} bytes"):
        load_schema(str(path))


@pytest.mark.parametrize(
    ("text", "message"),
    [("{", "not valid JSON"), ("\xff", "not valid"), ("[]", "must be a JSON object")],
)
def test_non_json_schema(tmp_path, text, message):
    with pytest.raises(InputError, match=message):
        load_schema(write(tmp_path, text))


def test_schema_directory_or_device_is_refused(tmp_path):
    with pytest.raises(InputError, match="not a regular file"):
        load_schema(str(tmp_path))
    with pytest.raises(InputError, match="not a regular file"):
        load_schema("/dev/zero")


@pytest.mark.parametrize("name", ["jp-resident", "jp-bank-holder"])
def test_builtin_schemas_are_within_bounds(tmp_path, name):
    doc = builtin_document(name)
    assert json_depth(json.dumps(doc)) <= 8
    assert load_schema(write(tmp_path, doc)).digest == load_schema(name).digest


def test_bounds_at_the_limit_are_accepted(tmp_path):
    doc = base()
    doc["clkConfig"]["l"] = MAX_L
    feature(doc)["hashing"]["strategy"] = {"bitsPerToken": MAX_K}
    assert load_schema(write(tmp_path, doc)).nbits == MAX_L


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("{}", 1),
        ('{"a": [1, {"b": []}]}', 4),
        ('{"a": "[[[[{{{{"}', 1),
        (r'{"a": "\"[[[["}', 1),
        ("[" * 50 + "]" * 50, 33),
    ],
)
def test_json_depth_ignores_brackets_in_strings(text, depth):
    assert json_depth(text) == depth
