"""Encoding-file integrity, roles, schema bounds and key files under hostile input
(issue #12, items 5, 7 and 8): every case exits 2 with one ``error:`` line naming the
file and field, and leaves every file, ``results/`` included, byte-for-byte unchanged."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from adversarial.harness import Case, check_refused, run_pprl
from pprl.store import field_digests

Meta = dict[str, Any]


def rewrite(
    path: Path,
    edit: Callable[[Meta], object] | None = None,
    *,
    raw: bytes | None = None,
    table_edit: Callable[[pa.Table], pa.Table] | None = None,
    recompute: bool = False,
) -> None:
    """Rewrite a file's pprl metadata in both footer copies (as a crafter with pyarrow
    would); ``recompute`` also recomputes the per-field digests, as a careful one would."""
    table = pq.read_table(path)
    meta = json.loads(table.schema.metadata[b"pprl"])
    if edit is not None:
        edit(meta)
    if recompute:
        meta["field_digests"] = field_digests(meta)
    if table_edit is not None:
        table = table_edit(table)
    data = raw if raw is not None else json.dumps(meta).encode()
    pq.write_table(table.replace_schema_metadata({b"pprl": data}), path)


def flip_copy(path: Path, which: str, old: bytes, new: bytes) -> None:
    """Edit one footer copy of the metadata only (``plain`` key-value or ``arrow``)."""
    data = path.read_bytes()
    if which == "plain":
        assert data.count(old) == 1
        path.write_bytes(data.replace(old, new))
        return
    b64 = pq.ParquetFile(path).metadata.metadata[b"ARROW:schema"]
    edited = base64.b64encode(base64.b64decode(b64).replace(old, new))
    assert len(edited) == len(b64) and edited != b64
    path.write_bytes(data.replace(b64, edited))


VERIFY = ["verify", "--reference", "register.parquet", "--claims", "insurer.parquet"]


def verify_after(edit: Callable[[Path], None]) -> Callable[[Path], list[str]]:
    """Edit the world's files, then verify into a new folder: it must not appear, and
    the world's results/ must stay exactly as it was (the harness watches everything)."""

    def setup(t: Path) -> list[str]:
        edit(t)
        return [*VERIFY, "--out", "new-results"]

    return setup


def removed(name: str, file: str = "insurer.parquet") -> Callable[[Path], None]:
    return lambda t: rewrite(t / file, lambda m: m.pop(name))


def edited(name: str, value: object, file: str = "insurer.parquet") -> Callable[[Path], None]:
    return lambda t: rewrite(t / file, lambda m: m.__setitem__(name, value))


def crafted(name: str, value: object, file: str = "register.parquet") -> Callable[[Path], None]:
    return lambda t: rewrite(t / file, lambda m: m.__setitem__(name, value), recompute=True)


CASES: list[Case] = []
for field in ["key_fingerprint", "schema_digest", "party", "role", "count", "schema"]:
    CASES.append(
        Case(
            f"metadata-removed-{field}",
            verify_after(removed(field)),
            ["insurer.parquet", f"'{field}'"],
        )
    )
for field, value in [
    ("key_fingerprint", "0123456789abcdef"),
    ("schema_digest", "0" * 32),
    ("party", "bank"),
    ("role", "register"),
    ("count", 149),
]:
    CASES.append(
        Case(
            f"metadata-edited-{field}",
            verify_after(edited(field, value)),
            ["insurer.parquet", f"'{field}'", "changed"],
        )
    )
CASES += [
    Case(
        "metadata-party-edited-field-digests-recomputed",
        verify_after(
            lambda t: rewrite(
                t / "insurer.parquet", lambda m: m.__setitem__("party", "bank"), recompute=True
            )
        ),
        ["insurer.parquet", "digest mismatch"],
    ),
    Case(
        "footer-plain-copy-flipped",
        verify_after(
            lambda t: flip_copy(
                t / "insurer.parquet", "plain", b'"party": "insurer"', b'"party": "insurex"'
            )
        ),
        ["insurer.parquet", "'party'", "footer"],
    ),
    Case(
        "footer-arrow-copy-flipped",
        verify_after(
            lambda t: flip_copy(
                t / "insurer.parquet", "arrow", b'"party": "insurer"', b'"party": "insurex"'
            )
        ),
        ["insurer.parquet", "'party'", "footer"],
    ),
    Case(
        "older-format-version",
        verify_after(crafted("format_version", 1, "insurer.parquet")),
        ["insurer.parquet", "re-encode"],
    ),
    Case(
        "crafted-nbits-injection",
        verify_after(crafted("nbits", "1024; DROP")),
        ["register.parquet", "'nbits'"],
    ),
    Case(
        "crafted-count-negative",
        verify_after(crafted("count", -1)),
        ["register.parquet", "'count'"],
    ),
    Case(
        "crafted-count-huge", verify_after(crafted("count", 10**40)), ["register.parquet", "count"]
    ),
    Case(
        "crafted-party-label",
        verify_after(crafted("party", "municipality.reference/../x")),
        ["register.parquet", "'party'"],
    ),
    Case(
        "crafted-string-token-column",
        verify_after(
            lambda t: rewrite(
                t / "register.parquet",
                table_edit=lambda tb: tb.set_column(1, "token", pa.array(["x"] * tb.num_rows)),
            )
        ),
        ["register.parquet", "'token'", "string"],
    ),
    Case(
        "metadata-not-json",
        verify_after(lambda t: rewrite(t / "register.parquet", raw=b"{not json")),
        ["register.parquet", "pprl metadata"],
    ),
    Case(
        "metadata-nested-10000-deep",
        verify_after(lambda t: rewrite(t / "register.parquet", raw=b"[" * 10_000 + b"]" * 10_000)),
        ["register.parquet", "nested deeper"],
    ),
    Case(
        "claims-file-as-reference",
        lambda t: [
            "verify",
            "--reference",
            "insurer.parquet",
            "--claims",
            "register.parquet",
            "--out",
            "new-results",
        ],
        ["insurer.parquet", "claims file", "--role register"],
    ),
    Case(
        "register-file-as-claims",
        lambda t: [
            "verify",
            "--reference",
            "register.parquet",
            "--claims",
            "register.parquet",
            "--out",
            "new",
        ],
        ["register.parquet", "register file"],
    ),
    Case(
        "match-with-removed-fingerprint",
        lambda t: (
            removed("key_fingerprint")(t),
            [
                "match",
                "register.parquet",
                "insurer.parquet",
                "--out",
                "links.csv",
                "--format",
                "csv",
            ],
        )[1],
        ["insurer.parquet", "'key_fingerprint'"],
    ),
    Case(
        "inspect-crafted-block-keys",
        lambda t: (crafted("block_keys", "dob")(t), ["inspect", "register.parquet"])[1],
        ["register.parquet", "'block_keys'"],
    ),
]


ENCODE = ["encode", "data/insurer.csv", "--schema", "jp-resident", "--out", "new.parquet"]


def schema_file(
    edit: Callable[[Meta], object] | None = None, text: str | None = None
) -> Callable[[Path], list[str]]:
    def setup(t: Path) -> list[str]:
        from pprl.schema import builtin_document

        doc = builtin_document("jp-resident")
        if edit is not None:
            edit(doc)
        (t / "schema.json").write_text(
            text if text is not None else json.dumps(doc), encoding="utf-8"
        )
        return [
            "encode",
            "data/insurer.csv",
            "--schema",
            "schema.json",
            "--secret",
            "secret.key",
            "--out",
            "new.parquet",
        ]

    return setup


def first_strategy(doc: Meta) -> Meta:
    strategy: Meta = next(f for f in doc["features"] if "hashing" in f)["hashing"]["strategy"]
    return strategy


def key_file(
    content: bytes | None = None, mode: int = 0o600, strict: bool = False
) -> Callable[[Path], list[str]]:
    def setup(t: Path) -> list[str]:
        key = t / "secret.key"
        if content is not None:
            key.write_bytes(content)
        key.chmod(mode)
        return [*ENCODE, "--secret", "secret.key", *(["--strict"] if strict else [])]

    return setup


CASES += [
    Case(
        "schema-l-2^34",
        schema_file(lambda d: d["clkConfig"].__setitem__("l", 2**34)),
        ["schema.json", "clkConfig.l"],
    ),
    Case(
        "schema-bits-per-feature-1e9",
        schema_file(lambda d: first_strategy(d).__setitem__("bitsPerFeature", 1e9)),
        ["schema.json", "bitsPerFeature"],
    ),
    Case(
        "schema-k-1e9",
        schema_file(
            lambda d: (
                first_strategy(d).clear() or first_strategy(d).__setitem__("bitsPerToken", 10**9)
            )
        ),
        ["schema.json", "bitsPerToken"],
    ),
    Case(
        "schema-nested-10000-deep",
        schema_file(text='{"version": 3, "x": ' + "[" * 10_000 + "]" * 10_000 + "}"),
        ["schema.json", "nested deeper"],
    ),
    Case(
        "key-world-readable-strict",
        key_file(mode=0o644, strict=True),
        ["secret.key", "group or other", "--strict"],
    ),
    Case(
        "key-dev-zero",
        lambda t: [*ENCODE, "--secret", "/dev/zero"],
        ["/dev/zero", "not a regular file"],
    ),
    Case("key-2-kib", key_file(b"0" * 2048), ["secret.key", "larger than 1024 bytes"]),
    Case(
        "encode-bad-role",
        lambda t: [*ENCODE, "--secret", "secret.key", "--role", "matcher"],
        ["--role", "matcher"],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_refused(case: Case, world: Path, tmp_path: Path) -> None:
    check_refused(case, world, tmp_path)


def test_world_readable_key_warns_without_strict(world: Path, tmp_path: Path) -> None:
    """Without --strict a group/other-readable key is a one-line warning, and encoding
    goes on (the key's content is never shown)."""
    import shutil

    work = tmp_path / "w"
    shutil.copytree(world, work)
    (work / "secret.key").chmod(0o644)
    result = run_pprl(*ENCODE, "--secret", "secret.key", "--role", "claims", cwd=work)
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "group or other" in line]
    assert len(warnings) == 1 and warnings[0].startswith("warning: secret.key")
    assert (work / "secret.key").read_text().strip() not in result.stderr + result.stdout
    assert pq.ParquetFile(work / "new.parquet").metadata.num_rows > 0
