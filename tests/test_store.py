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


# ---------------------------------------------------------------- integrity (issue #12)

import base64  # noqa: E402

import pyarrow as pa  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from pprl.store import (  # noqa: E402
    FORMAT_VERSION,
    Outline,
    check_file,
    check_roles,
    content_digest,
    read_outline,
    streamed_digest,
)


def rewrite(path, edit=None, *, raw=None, table_edit=None):
    """Rewrite a file's metadata consistently in both footer copies: ``edit(meta)``
    changes the parsed JSON in place, or ``raw`` replaces it by other bytes;
    ``table_edit(table)`` may change the columns. The digests are left as they were."""
    table = pq.read_table(path)
    meta = json.loads(table.schema.metadata[b"pprl"])
    if edit is not None:
        edit(meta)
    data = raw if raw is not None else json.dumps(meta).encode()
    if table_edit is not None:
        table = table_edit(table)
    pq.write_table(table.replace_schema_metadata({b"pprl": data}), path)


def flip_copy(path, which, old: bytes, new: bytes):
    """Replace ``old`` by ``new`` (same length) in one footer copy of the metadata only:
    ``plain`` (the key-value entry) or ``arrow`` (inside the base64 Arrow schema)."""
    assert len(old) == len(new)
    data = path.read_bytes()
    if which == "plain":
        assert data.count(old) == 1  # the Arrow copy is base64, so this is the plain one
        path.write_bytes(data.replace(old, new))
        return
    b64 = pq.ParquetFile(path).metadata.metadata[b"ARROW:schema"]
    decoded = base64.b64decode(b64)
    assert decoded.count(old) == 1
    edited = base64.b64encode(decoded.replace(old, new))
    assert len(edited) == len(b64) and data.count(b64) == 1
    path.write_bytes(data.replace(b64, edited))


def written(tmp_path, role="claims", **kw):
    enc = make(**kw)
    enc.meta["role"] = role
    enc.meta["schema"] = {"version": 3, "pprl": {"verify": {"confirm_score": 0.6}}}
    enc.meta["link_key"] = "my_number"
    return write_encodings(enc, tmp_path / "e.parquet")


READERS = {
    "read_encodings": read_encodings,
    "read_outline": read_outline,
    "check_file": lambda p: check_file(str(p), "0" * 64),
}

COVERED = [
    "format_version",
    "key_fingerprint",
    "schema_digest",
    "schema",
    "party",
    "role",
    "count",
    "nbits",
    "block_keys",
    "link_key",
    "schema_name",
    "pprl_version",
]


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("name", COVERED)
def test_removed_metadata_field_is_refused_by_name(tmp_path, name, reader):
    """Deleting any field (the compatibility check once silently skipped a deleted key
    fingerprint or schema digest) is refused, naming the field, by every reader."""
    path = written(tmp_path)
    rewrite(path, lambda m: m.pop(name))
    with pytest.raises((IntegrityError, InputError), match=f"'{name}'"):
        READERS[reader](path)


EDITS = {
    "key_fingerprint": "0" * 16,
    "schema_digest": "0" * 32,
    "party": "bank",
    "role": "register",
    "count": 49,
    "link_key": "other",
    "schema": {"version": 3},
    "block_keys": [],
}


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("name", EDITS)
def test_edited_metadata_field_is_refused_by_name(tmp_path, name, reader):
    path = written(tmp_path)
    rewrite(path, lambda m: m.__setitem__(name, EDITS[name]))
    with pytest.raises(IntegrityError, match=f"'{name}' was changed"):
        READERS[reader](path)


def test_added_metadata_field_is_refused(tmp_path):
    path = written(tmp_path)
    rewrite(path, lambda m: m.__setitem__("note", "x"))
    with pytest.raises(IntegrityError, match="'note' was added"):
        read_encodings(path)


@pytest.mark.parametrize("reader", READERS)
def test_metadata_edit_with_field_digest_recomputed_fails_the_content_digest(tmp_path, reader):
    """Editing a field and its field digest together still changes the content digest,
    which covers all the metadata."""
    from pprl.store import field_digests

    path = written(tmp_path)

    def edit(meta):
        meta["party"] = "bank"
        meta["field_digests"] = field_digests(meta)

    rewrite(path, edit)
    match = "changed while" if reader == "check_file" else "digest mismatch"
    if reader == "read_outline":  # the outline defers the digest to check_file
        assert read_outline(path).label == "bank"
        with pytest.raises(IntegrityError, match="digest mismatch"):
            check_file(str(path), read_outline(path).digest)
        return
    with pytest.raises(IntegrityError, match=match):
        READERS[reader](path)


@pytest.mark.parametrize("which", ["plain", "arrow"])
def test_either_footer_copy_edited_is_refused(tmp_path, which):
    """Parquet keeps the metadata twice in the footer; Arrow reads the schema copy, so an
    edit of the key-value copy alone went unnoticed. Both must agree."""
    path = written(tmp_path)
    flip_copy(path, which, b'"party": "test"', b'"party": "tesx"')
    with pytest.raises(IntegrityError, match="'party' differs between the two footer copies"):
        read_encodings(path)
    with pytest.raises(IntegrityError, match="differs"):
        check_file(str(path), "0" * 64)


def test_unparseable_footer_copy_is_refused(tmp_path):
    path = written(tmp_path)
    flip_copy(path, "plain", b'{"party"', b'{"party\x00')
    with pytest.raises(IntegrityError, match="two footer copies .* differ"):
        read_encodings(path)


def test_older_format_version_asks_to_re_encode(tmp_path):
    path = written(tmp_path)
    rewrite(path, lambda m: m.__setitem__("format_version", FORMAT_VERSION - 1))
    with pytest.raises(InputError, match="re-encode it with this pprl version"):
        read_encodings(path)


CRAFTED = {
    "nbits-string": (lambda m: m.__setitem__("nbits", "1024; DROP"), "'nbits'"),
    "nbits-huge": (lambda m: m.__setitem__("nbits", 2**70), "'nbits'"),
    "count-negative": (lambda m: m.__setitem__("count", -5), "'count'"),
    "count-huge": (lambda m: m.__setitem__("count", 10**30), "'count'"),
    "count-float": (lambda m: m.__setitem__("count", 50.0), "'count'"),
    "block-keys-string": (lambda m: m.__setitem__("block_keys", "dob"), "'block_keys'"),
    "role-unknown": (lambda m: m.__setitem__("role", "admin"), "'role'"),
    "party-formula": (lambda m: m.__setitem__("party", "=HYPERLINK(1)"), "'party'"),
    "party-path": (lambda m: m.__setitem__("party", "../x"), "'party'"),
    "fingerprint-short": (lambda m: m.__setitem__("key_fingerprint", "abc"), "'key_fingerprint'"),
    "schema-list": (lambda m: m.__setitem__("schema", [1]), "'schema'"),
    "version-string": (lambda m: m.__setitem__("format_version", "2"), "'format_version'"),
    "field-digests-missing": (lambda m: m.pop("field_digests"), "'field_digests'"),
}


@pytest.mark.parametrize("case", CRAFTED)
@pytest.mark.parametrize("recompute", [False, True])
def test_crafted_metadata_is_a_one_line_error_naming_the_field(tmp_path, case, recompute):
    """Crafted values are refused naming the field: by the field digests, and, when a
    crafter recomputes those, by the type checks."""
    from pprl.store import field_digests

    path = written(tmp_path)
    edit, field = CRAFTED[case]

    def craft(meta):
        edit(meta)
        if recompute and "field_digests" in meta:
            meta["field_digests"] = field_digests(meta)

    rewrite(path, craft)
    with pytest.raises((IntegrityError, InputError), match=field) as info:
        read_encodings(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


@pytest.mark.parametrize(
    "raw",
    [b"not json", b"[1, 2]", b"\xff\xfe", b"[" * 10_000 + b"]" * 10_000, b" " * (2 << 20)],
    ids=["text", "list", "binary", "deep", "huge"],
)
def test_non_json_metadata_is_refused(tmp_path, raw):
    path = written(tmp_path)
    rewrite(path, raw=raw)
    with pytest.raises(IntegrityError, match="pprl metadata") as info:
        read_encodings(path)
    assert str(path) in str(info.value)


COLUMN_EDITS = {
    "token-string": (
        lambda t: t.set_column(1, "token", pa.array(["x"] * t.num_rows)),
        "column 'token' has type string",
    ),
    "row-int32": (
        lambda t: t.set_column(0, "row", t.column("row").cast(pa.int32())),
        "column 'row' has type int32",
    ),
    "block-string": (
        lambda t: t.set_column(3, "block_dob", pa.array(["1"] * t.num_rows)),
        "column 'block_dob'",
    ),
    "clk-missing": (lambda t: t.drop_columns(["clk"]), "column 'clk' is missing"),
    "extra-column": (
        lambda t: t.append_column("secret", pa.array([1] * t.num_rows)),
        "'secret' is not part",
    ),
}


@pytest.mark.parametrize("case", COLUMN_EDITS)
def test_wrong_columns_are_refused(tmp_path, case):
    path = written(tmp_path)
    edit, message = COLUMN_EDITS[case]
    rewrite(path, table_edit=edit)
    for reader in READERS.values():
        with pytest.raises(IntegrityError, match=message):
            reader(path)


def test_digest_covers_the_metadata_and_streamed_digest_agrees(tmp_path):
    path = written(tmp_path)
    enc = read_encodings(path)
    pf = pq.ParquetFile(path)
    assert streamed_digest(pf, enc.meta, path) == content_digest(enc) == enc.meta["digest"]
    for name, value in [("party", "other"), ("role", "register"), ("count", 1)]:
        changed = {**enc.meta, name: value}
        assert content_digest(enc, changed) != enc.meta["digest"], name
        assert streamed_digest(pf, changed, path) != enc.meta["digest"], name


def test_role_round_trip_and_check(tmp_path):
    with pytest.raises(InputError, match="role must be one of"):
        bad = make()
        bad.meta["role"] = "admin"
        write_encodings(bad, tmp_path / "x.parquet")
    register = read_encodings(written(tmp_path, role="register"))
    assert register.role == "register" and register.outline().role == "register"
    claims = make()
    claims.meta["role"] = "claims"
    unknown = make()
    check_roles(register, [claims, unknown])
    check_roles(unknown, [unknown])
    with pytest.raises(InputError, match="is a claims file .*--role register"):
        check_roles(claims, [unknown])
    with pytest.raises(InputError, match="is a register file"):
        check_roles(unknown, [claims, register])


def test_invalid_party_label_is_not_written(tmp_path):
    enc = make()
    enc.meta["party"] = "a/b"
    with pytest.raises(InputError, match="party label"):
        write_encodings(enc, tmp_path / "x.parquet")
    assert not list(tmp_path.iterdir())


def test_compatibility_needs_both_fingerprints():
    """A file without a key fingerprint or schema digest is not silently comparable."""
    bare = make()
    del bare.meta["key_fingerprint"]
    with pytest.raises(MismatchError, match="records no key fingerprint"):
        check_compatible(make(), bare)
    nodigest = make()
    del nodigest.meta["schema_digest"]
    with pytest.raises(MismatchError, match="records no schema digest"):
        check_compatible(nodigest, make())
    clkhash = Outline(
        rows=np.arange(1),
        has_token=np.zeros(1, bool),
        meta={"format": "clkhash-json", "nbits": 1024},
    )
    check_compatible(make(), clkhash)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=st.sampled_from(COVERED + ["digest", "field_digests", "format"]),
    value=st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False)
        | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
        ),
        max_leaves=8,
    ),
    recompute=st.booleans(),
)
def test_any_metadata_edit_is_a_clean_refusal(tmp_path_factory, name, value, recompute):
    """Property: whatever a field is set to, reading refuses it with a one-line pprl
    error (or, for an equal value, reads the file): never another exception."""
    from pprl.store import field_digests

    path = written(tmp_path_factory.mktemp("p"))
    original = json.loads(pq.read_table(path).schema.metadata[b"pprl"])

    def edit(meta):
        meta[name] = value
        if recompute and name != "field_digests":
            meta["field_digests"] = field_digests(meta)

    rewrite(path, edit)
    for reader in READERS.values():
        try:
            reader(path)
        except (IntegrityError, InputError) as exc:
            assert "\n" not in str(exc) and str(path) in str(exc)
        else:
            assert original.get(name) == value or reader is read_outline
