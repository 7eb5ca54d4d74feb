"""Linkage schemas: clkhash v3 schemas plus pprl's optional extension.

A pprl schema is a plain clkhash linkage schema v3 (``version``, ``clkConfig``,
``features``), applied exactly as clkhash applies it, plus an optional top-level
``"pprl"`` object that clkhash ignores::

    "pprl": {
      "version": 1,
      "link_key": "my_number",                # column pseudonymized as the link key
      "normalize": {"family_name_kana": "name_kana", ...},   # field -> normalizer
      "sources": {"account_holder_kana": ["family_name_kana", "given_name_kana"]},
      "block_keys": [{"name": "yob_sex",
                      "parts": [{"field": "date_of_birth", "start": 0, "stop": 4},
                                {"field": "sex"}]}]
    }

Without the extension a schema has no link key (unless given with ``--link-key``),
no normalization (values are hashed as read, as clkhash would) and no block keys.
The schema digest covers the whole document, extension included, so two files are
comparable only when they were made with the same schema.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import clkhash.schema
from blake3 import blake3
from clkhash.schema import SchemaError

from pprl.errors import InputError
from pprl.normalize import NORMALIZERS

BUILTIN_SCHEMAS = ("jp-resident", "jp-bank-holder")


@dataclass(frozen=True)
class BlockKeyPart:
    """One normalized field (optionally a slice of it) that goes into a block key."""

    field: str
    start: int | None = None
    stop: int | None = None


@dataclass(frozen=True)
class BlockKeySpec:
    """A named block key: the keyed hash of the joined parts, null if any part is missing."""

    name: str
    parts: tuple[BlockKeyPart, ...]


# --- privacy hardening (pprl.privacy; see docs/privacy.md) -------------------------------
@dataclass(frozen=True)
class Hardening:
    """Hardening applied to CLKs at encoding time (the ``pprl.hardening`` object).

    ``salt_field`` (optionally sliced by ``salt_start``/``salt_stop``) selects a normalized
    attribute whose value keys the CLK hashing; ``balance`` appends the complement bits
    (``permute``: then shuffles all bits with a keyed permutation); ``blip_epsilon`` flips
    each bit with probability 1/(1+e^epsilon); ``decoy_fraction`` adds fake records.
    """

    salt_field: str | None = None
    salt_start: int | None = None
    salt_stop: int | None = None
    balance: bool = False
    permute: bool = False
    blip_epsilon: float | None = None
    decoy_fraction: float = 0.0

    @property
    def active(self) -> bool:
        """Whether any hardening is configured."""
        return bool(
            self.salt_field or self.balance or self.blip_epsilon is not None or self.decoy_fraction
        )


HARDENING_KEYS = frozenset({"salt", "balance", "blip", "decoys"})


def _num(value: Any, where: str, lo: float, hi: float) -> float:
    """A number in [lo, hi] or a one-line InputError naming ``where``."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise InputError(f"{where} must be a number between {lo} and {hi}, got {value!r}")
    return float(value)


def _read_hardening(ext: dict[str, Any], fields: tuple[str, ...], name: str) -> Hardening:
    """Parse and validate ``pprl.hardening``; every error is one line naming the key."""
    raw = ext.get("hardening", {})
    where = f"{name}: pprl.hardening"
    if not isinstance(raw, dict):
        raise InputError(f"{where} must be a JSON object")
    unknown = sorted(set(raw) - HARDENING_KEYS)
    if unknown:
        raise InputError(
            f"{where}: unknown key(s) {', '.join(unknown)} "
            f"(known: {', '.join(sorted(HARDENING_KEYS))})"
        )
    salt = raw.get("salt") or {}
    if not isinstance(salt, dict) or (salt and salt.get("field") not in fields):
        raise InputError(
            f'{where}.salt must be {{"field": <schema field>, "start"?, "stop"?}}, got {salt!r}'
        )
    for key in ("start", "stop"):
        if salt.get(key) is not None and (
            isinstance(salt[key], bool) or not isinstance(salt[key], int)
        ):
            raise InputError(f"{where}.salt.{key} must be an integer, got {salt[key]!r}")
    balance = raw.get("balance", False)
    if not isinstance(balance, bool | dict) or (
        isinstance(balance, dict)
        and (set(balance) - {"permute"} or not isinstance(balance.get("permute", True), bool))
    ):
        raise InputError(f'{where}.balance must be true, false or {{"permute": true|false}}')
    blip = raw.get("blip")
    if blip is not None and (not isinstance(blip, dict) or "epsilon" not in blip):
        raise InputError(f'{where}.blip must be {{"epsilon": <number>}}, got {blip!r}')
    decoys = raw.get("decoys")
    if decoys is not None and (not isinstance(decoys, dict) or "fraction" not in decoys):
        raise InputError(f'{where}.decoys must be {{"fraction": <number>}}, got {decoys!r}')
    return Hardening(
        salt_field=salt.get("field"),
        salt_start=salt.get("start"),
        salt_stop=salt.get("stop"),
        balance=bool(balance),
        permute=bool(balance)
        and (balance.get("permute", True) if isinstance(balance, dict) else True),
        blip_epsilon=None
        if blip is None
        else _num(blip["epsilon"], f"{where}.blip.epsilon", 0.0, 50.0),
        decoy_fraction=0.0
        if decoys is None
        else _num(decoys["fraction"], f"{where}.decoys.fraction", 0.0, 1.0),
    )


def _refuse_xor_folds_alias(document: dict[str, Any], name: str) -> None:
    """Refuse clkhash's documented-but-ignored ``clkConfig.xorFolds`` (clkhash reads
    ``xor_folds``): silently encoding without the requested folding would be worse."""
    config = document.get("clkConfig")
    if isinstance(config, dict) and "xorFolds" in config:
        raise InputError(
            f"{name}: clkConfig.xorFolds is ignored by clkhash; write "
            f'"xor_folds": {config["xorFolds"]!r} instead (see docs/privacy.md)'
        )


# --- end privacy hardening ----------------------------------------------------------------


@dataclass(frozen=True)
class Schema:
    """A loaded schema: the clkhash schema object plus pprl's extension."""

    name: str
    document: dict[str, Any] = field(repr=False)
    clk: clkhash.schema.Schema = field(repr=False)
    fields: tuple[str, ...]
    ignored: frozenset[str]
    normalizers: dict[str, str]
    link_key: str | None
    sources: dict[str, tuple[str, ...]]
    block_keys: tuple[BlockKeySpec, ...]
    hardening: Hardening = Hardening()  # privacy hardening, docs/privacy.md

    @property
    def nbits(self) -> int:
        """Length of the CLK in bits (clkConfig.l)."""
        return int(self.clk.l)

    @property
    def digest(self) -> str:
        """blake3 of the canonical JSON of the whole schema document (hex, 32 chars)."""
        return schema_digest(self.document)

    @property
    def hashed_fields(self) -> tuple[str, ...]:
        """The fields that contribute bits to the CLK."""
        return tuple(f for f in self.fields if f not in self.ignored)

    def with_link_key(self, column: str | None) -> Schema:
        """Return a copy whose link key is ``column`` (``None`` keeps the schema's own)."""
        if column is None or column == self.link_key:
            return self
        return Schema(
            self.name,
            self.document,
            self.clk,
            self.fields,
            self.ignored,
            self.normalizers,
            column,
            self.sources,
            self.block_keys,
            self.hardening,
        )


def schema_digest(document: dict[str, Any]) -> str:
    """Digest of a schema document, independent of key order and whitespace."""
    canonical = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return blake3(canonical.encode("utf-8")).hexdigest()[:32]


def builtin_document(name: str) -> dict[str, Any]:
    """Return the JSON document of a built-in schema."""
    if name not in BUILTIN_SCHEMAS:
        raise InputError(
            f"unknown built-in schema '{name}' (choose one of: {', '.join(BUILTIN_SCHEMAS)})"
        )
    text = resources.files("pprl").joinpath("schemas", f"{name}.json").read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


def load_schema(name_or_path: str) -> Schema:
    """Load a built-in schema by name, or a schema JSON file by path."""
    if name_or_path in BUILTIN_SCHEMAS:
        return parse_schema(builtin_document(name_or_path), name_or_path)
    path = Path(name_or_path)
    if not path.is_file():
        raise InputError(
            f"unknown schema '{name_or_path}': not a built-in ({', '.join(BUILTIN_SCHEMAS)}) "
            "and no such file"
        )
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a valid JSON schema file ({exc})") from None
    return parse_schema(document, str(path))


def parse_schema(document: dict[str, Any], name: str) -> Schema:
    """Validate a schema document with clkhash and read pprl's extension."""
    if not isinstance(document, dict):
        raise InputError(f"{name}: a schema must be a JSON object")
    _refuse_xor_folds_alias(document, name)  # privacy hardening, docs/privacy.md
    plain = {k: v for k, v in document.items() if k != "pprl"}
    try:
        clk = clkhash.schema.from_json_dict(plain)
    except SchemaError as exc:
        raise InputError(f"{name}: invalid clkhash schema ({_schema_error_text(exc)})") from None
    except Exception as exc:  # clkhash raises jsonschema/KeyError variants for odd input
        raise InputError(f"{name}: invalid clkhash schema ({type(exc).__name__}: {exc})") from None
    if clk.l % 64:
        raise InputError(f"{name}: clkConfig.l must be a multiple of 64 bits, got {clk.l}")
    fields = tuple(f.identifier for f in clk.fields)
    if len(set(fields)) != len(fields):
        raise InputError(f"{name}: feature identifiers must be unique")
    ignored = frozenset(f.identifier for f in clk.fields if _is_ignored(f))
    ext = document.get("pprl", {})
    return Schema(
        name=name,
        document=document,
        clk=clk,
        fields=fields,
        ignored=ignored,
        normalizers=_read_normalizers(ext, fields, name),
        link_key=ext.get("link_key"),
        sources={k: tuple(v) for k, v in ext.get("sources", {}).items()},
        block_keys=_read_block_keys(ext, fields, name),
        hardening=_read_hardening(ext, fields, name),  # privacy hardening, docs/privacy.md
    )


def _is_ignored(feature: object) -> bool:
    return type(feature).__name__ == "Ignore" or bool(getattr(feature, "ignored", False))


def _schema_error_text(exc: SchemaError) -> str:
    errors = getattr(exc, "errors", None) or []
    details = [str(e) for e in errors]
    return "; ".join([str(exc.args[0]) if exc.args else "schema error", *details])[:300]


def _read_normalizers(ext: dict[str, Any], fields: tuple[str, ...], name: str) -> dict[str, str]:
    normalizers = dict(ext.get("normalize", {}))
    for fld, norm in normalizers.items():
        if norm not in NORMALIZERS:
            raise InputError(
                f"{name}: field '{fld}' names unknown normalizer '{norm}' "
                f"(known: {', '.join(sorted(NORMALIZERS))})"
            )
    return normalizers


def _read_block_keys(
    ext: dict[str, Any], fields: tuple[str, ...], name: str
) -> tuple[BlockKeySpec, ...]:
    specs = []
    for spec in ext.get("block_keys", []):
        parts = tuple(
            BlockKeyPart(p["field"], p.get("start"), p.get("stop")) for p in spec["parts"]
        )
        for part in parts:
            if part.field not in fields:
                raise InputError(
                    f"{name}: block key '{spec['name']}' uses unknown field '{part.field}'"
                )
        specs.append(BlockKeySpec(spec["name"], parts))
    return tuple(specs)
