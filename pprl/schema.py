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
from typing import TYPE_CHECKING, Any

from blake3 import blake3

from pprl.boundedjson import MAX_DEPTH, loads_bounded, read_bounded
from pprl.errors import InputError

if TYPE_CHECKING:  # imported where used: the names and defaults stay light for the CLI
    import clkhash.schema
    from clkhash.schema import SchemaError

BUILTIN_SCHEMAS = ("jp-resident", "jp-bank-holder")

# Bounds on what a schema may ask for, checked before clkhash or the encoder sees it: a
# filter of 2^34 bits would allocate terabytes, bitsPerFeature = 1e9 would run for
# hours. The built-in schemas use 1,024 bits, k <= 200, bigrams and 8 features.
MAX_SCHEMA_BYTES = 1 << 20
MAX_L = 1 << 16  # clkConfig.l, bits (a multiple of 64)
MAX_K = 1_000  # bitsPerToken and bitsPerFeature
MAX_NGRAM = 16  # comparison.n
MAX_RESOLUTION = 1_000  # numeric comparison: 2 * resolution + 1 tokens
MAX_FRACTIONAL_PRECISION = 30
MAX_FIELDS = 256  # features
MAX_KEY_SIZE = 1_024  # clkConfig.kdf.keySize, bytes
MAX_XOR_FOLDS = 10  # 2^16 bits folded 10 times is 64 bits
MAX_BLOCK_KEYS = 32


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
    if not path.exists():
        raise InputError(
            f"unknown schema '{name_or_path}': not a built-in ({', '.join(BUILTIN_SCHEMAS)}) "
            "and no such file"
        )
    raw = read_bounded(path, MAX_SCHEMA_BYTES, what="schema file")
    document = loads_bounded(
        raw, f"{path}: not a valid JSON schema file", max_bytes=MAX_SCHEMA_BYTES
    )
    return parse_schema(document, str(path))


def parse_schema(document: dict[str, Any], name: str) -> Schema:
    """Validate a schema document with clkhash and read pprl's extension."""
    if not isinstance(document, dict):
        raise InputError(f"{name}: a schema must be a JSON object")
    check_bounds(document, name)
    _refuse_xor_folds_alias(document, name)  # privacy hardening, docs/privacy.md
    import clkhash.schema
    from clkhash.schema import SchemaError

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
    _check_extension_shape(ext, name)
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


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of a parsed document, counted no further than ``limit + 1``."""
    if limit < 0 or not isinstance(value, dict | list):
        return 0
    children = value.values() if isinstance(value, dict) else value
    return 1 + max((_depth(c, limit - 1) for c in children), default=0)


def _bounded_int(value: Any, where: str, lo: int, hi: int) -> None:
    """An integer in [lo, hi] (a whole float such as 1e9 counts as its integer), or a
    one-line InputError naming ``where``."""
    number = value
    if isinstance(value, float) and value.is_integer():
        number = int(value)
    if isinstance(number, bool) or not isinstance(number, int) or not lo <= number <= hi:
        raise InputError(f"{where} must be an integer between {lo:,} and {hi:,}, got {value!r}")


def check_bounds(document: dict[str, Any], name: str) -> None:
    """Refuse schema values that would exhaust memory or time, each with a one-line
    error naming the schema and the field; runs before clkhash validates the rest."""
    if _depth(document, MAX_DEPTH) > MAX_DEPTH:
        raise InputError(f"{name}: schema nested deeper than {MAX_DEPTH} levels")
    config = document.get("clkConfig")
    if isinstance(config, dict):
        if "l" in config:
            _bounded_int(config["l"], f"{name}: clkConfig.l", 64, MAX_L)
        if "xor_folds" in config:
            _bounded_int(config["xor_folds"], f"{name}: clkConfig.xor_folds", 0, MAX_XOR_FOLDS)
        kdf = config.get("kdf")
        if isinstance(kdf, dict) and "keySize" in kdf:
            _bounded_int(kdf["keySize"], f"{name}: clkConfig.kdf.keySize", 1, MAX_KEY_SIZE)
    features = document.get("features")
    if not isinstance(features, list):
        return  # clkhash says what is wrong
    if len(features) > MAX_FIELDS:
        raise InputError(f"{name}: features has {len(features):,} fields, more than {MAX_FIELDS}")
    for i, feature in enumerate(features):
        if not isinstance(feature, dict):
            continue
        ident = feature.get("identifier")
        where = f"{name}: feature {ident if isinstance(ident, str) else i}"
        hashing = feature.get("hashing")
        if not isinstance(hashing, dict):
            continue
        strategy = hashing.get("strategy")
        if isinstance(strategy, dict):
            for key in ("bitsPerToken", "bitsPerFeature"):
                if key in strategy:
                    _bounded_int(strategy[key], f"{where}: hashing.strategy.{key}", 0, MAX_K)
        comparison = hashing.get("comparison")
        if isinstance(comparison, dict):
            if "n" in comparison:
                _bounded_int(comparison["n"], f"{where}: hashing.comparison.n", 0, MAX_NGRAM)
            if "resolution" in comparison:
                _bounded_int(
                    comparison["resolution"],
                    f"{where}: hashing.comparison.resolution",
                    1,
                    MAX_RESOLUTION,
                )
            if "fractionalPrecision" in comparison:
                _bounded_int(
                    comparison["fractionalPrecision"],
                    f"{where}: hashing.comparison.fractionalPrecision",
                    0,
                    MAX_FRACTIONAL_PRECISION,
                )


def _check_extension_shape(ext: Any, name: str) -> None:
    """The ``pprl`` extension's containers have the types the readers below expect."""
    if not isinstance(ext, dict):
        raise InputError(f"{name}: pprl must be a JSON object")
    for key, kind, what in (
        ("normalize", dict, "an object of field -> normalizer"),
        ("sources", dict, "an object of field -> [columns]"),
        ("block_keys", list, "a list of block keys"),
    ):
        if key in ext and not isinstance(ext[key], kind):
            raise InputError(f"{name}: pprl.{key} must be {what}")
    link_key = ext.get("link_key")
    if link_key is not None and not isinstance(link_key, str):
        raise InputError(f"{name}: pprl.link_key must be a column name, got {link_key!r}")
    for fld, cols in ext.get("sources", {}).items():
        if not isinstance(cols, list) or not all(isinstance(c, str) for c in cols):
            raise InputError(f"{name}: pprl.sources.{fld} must be a list of column names")
    block_keys = ext.get("block_keys", [])
    if len(block_keys) > MAX_BLOCK_KEYS:
        raise InputError(f"{name}: pprl.block_keys has more than {MAX_BLOCK_KEYS} keys")
    for i, spec in enumerate(block_keys):
        where = f"{name}: pprl.block_keys[{i}]"
        if (
            not isinstance(spec, dict)
            or not isinstance(spec.get("name"), str)
            or not spec["name"]
            or not isinstance(spec.get("parts"), list)
            or not spec["parts"]
        ):
            raise InputError(f'{where} must be {{"name": <text>, "parts": [...]}}')
        for part in spec["parts"]:
            if not isinstance(part, dict) or not isinstance(part.get("field"), str):
                raise InputError(f'{where}.parts: each part must be {{"field": <schema field>}}')
            for key in ("start", "stop"):
                value = part.get(key)
                if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                    raise InputError(f"{where}.parts.{key} must be an integer, got {value!r}")


def _is_ignored(feature: object) -> bool:
    return type(feature).__name__ == "Ignore" or bool(getattr(feature, "ignored", False))


def _schema_error_text(exc: SchemaError) -> str:
    errors = getattr(exc, "errors", None) or []
    details = [str(e) for e in errors]
    return "; ".join([str(exc.args[0]) if exc.args else "schema error", *details])[:300]


def _read_normalizers(ext: dict[str, Any], fields: tuple[str, ...], name: str) -> dict[str, str]:
    from pprl.normalize import NORMALIZERS

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
