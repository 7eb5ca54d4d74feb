"""What a data holder runs locally: CSV -> normalized values -> CLKs, pseudonyms, block keys.

This is the only place where raw identities and the secret meet. Its output, an
:class:`~pprl.store.Encodings`, carries neither: CLKs, keyed pseudonyms, keyed block
keys, the input row numbers and non-secret metadata.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pprl import mynumber
from pprl.columns import matched_column_map, resolve_columns
from pprl.encode import idle_cpus
from pprl.encode.blake3_kernel import keyed_hash_packed
from pprl.encode.factorize import Factorized, factorize
from pprl.encode.keyed import block_key_hashes, pseudonyms
from pprl.errors import InputError
from pprl.keys import Secret
from pprl.labels import validate_label
from pprl.normalize import NORMALIZERS, normalize_many
from pprl.normalize.arrays import ARRAY_NORMALIZERS
from pprl.privacy.decoys import decoy_chunk
from pprl.privacy.harden import hardened_clks, hardening_meta
from pprl.read import CsvData, factorize_columns, iter_csv
from pprl.schema import BlockKeySpec, Schema
from pprl.store import (
    MEMORY_ROWS,
    ROLES,
    TOKEN_BYTES,
    Encodings,
    EncodingsWriter,
    encodings_writer,
)
from pprl.store import concat_encodings as join_encodings

Progress = Callable[[int], None]


@dataclass
class EncodeReport:
    """What happened while encoding: rows whose link key was unusable, values that did not
    normalize (encoded as missing), so the party can fix its data. Row numbers only."""

    records: int = 0
    missing_link_key_rows: list[int] = field(default_factory=list)
    invalid_link_key_rows: list[int] = field(default_factory=list)
    unnormalizable: dict[str, list[int]] = field(default_factory=dict)
    text_encoding: str = "utf-8"

    def shift_rows(self, offset: int) -> None:
        """Renumber rows by ``offset`` (a chunk's first data row) so they name input rows."""
        if not offset:
            return
        self.missing_link_key_rows = [r + offset for r in self.missing_link_key_rows]
        self.invalid_link_key_rows = [r + offset for r in self.invalid_link_key_rows]
        self.unnormalizable = {k: [r + offset for r in v] for k, v in self.unnormalizable.items()}

    def merge(self, other: EncodeReport) -> None:
        """Add another chunk's report to this one."""
        self.records += other.records
        self.missing_link_key_rows += other.missing_link_key_rows
        self.invalid_link_key_rows += other.invalid_link_key_rows
        for key, rows in other.unnormalizable.items():
            self.unnormalizable.setdefault(key, []).extend(rows)

    def warnings(self, limit: int = 10) -> list[str]:
        """One line per kind of problem, naming up to ``limit`` rows."""
        lines = []
        for what, rows in (
            ("missing link key", self.missing_link_key_rows),
            ("invalid link key (check digit or format)", self.invalid_link_key_rows),
        ):
            if rows:
                lines.append(
                    f"{len(rows)} row(s) with {what}, encoded with a null pseudonym: "
                    f"rows {_rows_text(rows, limit)}"
                )
        for name, rows in self.unnormalizable.items():
            lines.append(
                f"{len(rows)} value(s) of field '{name}' could not be normalized and were "
                f"encoded as missing: rows {_rows_text(rows, limit)}"
            )
        return lines


def _rows_text(rows: Sequence[int], limit: int) -> str:
    shown = ", ".join(str(r) for r in rows[:limit])
    return shown + (f" ... (+{len(rows) - limit} more)" if len(rows) > limit else "")


PARALLEL_DISTINCT = 50_000  # distinct values from which normalization is spread over processes
# normalizers so cheap per value that shipping values to other processes costs more
# (addresses: one rule pass per digit template, see pprl.normalize.addresses)
_CHEAP = frozenset({"address", "my_number", "none", "postcode", "sex"})


def _normalize_chunk(normalizer: str, values: list[str]) -> list[str | None]:
    """Normalize a list of values in a worker process (module-level so it pickles)."""
    return normalize_many(normalizer, values)


def normalize_distinct(distinct: list[str], normalizer: str, processes: int) -> list[str | None]:
    """Normalize distinct values, in ``processes`` forked processes when there are many.

    Addresses and numbers are nearly all distinct in a population, and their
    normalization is pure Python, so large columns are split across cores.
    """
    if processes <= 1 or len(distinct) < PARALLEL_DISTINCT or normalizer in _CHEAP:
        return _normalize_chunk(normalizer, distinct)
    import multiprocessing

    size = -(-len(distinct) // (processes * 4))
    chunks = [distinct[i : i + size] for i in range(0, len(distinct), size)]
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        parts = pool.starmap(_normalize_chunk, [(normalizer, c) for c in chunks])
    return [v for part in parts for v in part]


@dataclass(frozen=True)
class NormalizedColumn:
    """A normalized column held as its distinct normalized values and each record's
    index into them; a value is None where the raw value was blank or failed."""

    table: list[str | None]
    codes: np.ndarray

    def values(self) -> Factorized:
        """The column as a sequence of per-record values (None for missing)."""
        return Factorized(self.table, self.codes)  # type: ignore[arg-type]

    def text(self) -> Factorized:
        """The column as the CLK encoder reads it: missing values as ''."""
        return Factorized([v or "" for v in self.table], self.codes)


def _arrow_distinct(values: Sequence[str]) -> pa.Array | None:
    """The distinct values of a column read by Arrow (:class:`pprl.read.ArrowFactorized`)
    as an Arrow string array, else None."""
    arrow = getattr(values, "arrow", None)
    return arrow if isinstance(arrow, pa.Array) and isinstance(values, Factorized) else None


def normalize_codes(
    values: Sequence[str], normalizer: str, processes: int = 1
) -> tuple[NormalizedColumn, np.ndarray]:
    """Normalize each distinct value of a column once; the normalized column and the
    (ascending) rows whose raw value is not blank but normalizes to nothing."""
    arrow = _arrow_distinct(values)
    by_array = ARRAY_NORMALIZERS.get(normalizer) if arrow is not None else None
    if arrow is not None and by_array is not None:  # on Arrow buffers (pprl.normalize.arrays)
        inv = values.inv  # type: ignore[attr-defined]
        norm = by_array(arrow)
        m = len(arrow)
    else:
        uniq, inv = factorize(values)
        norm = pa.array(normalize_distinct(uniq, normalizer, processes), type=pa.string())
        m = len(uniq)
    encoded = pc.dictionary_encode(norm, null_encoding="encode")
    remap = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    codes = remap[inv] if len(inv) else np.zeros(0, dtype=np.int64)
    nones = np.flatnonzero(pc.is_null(norm).to_numpy(zero_copy_only=False))
    if arrow is not None and by_array is not None:
        raw_nones = arrow.take(pa.array(nones, type=pa.int64())).to_pylist() if len(nones) else []
    else:
        raw_nones = [uniq[i] for i in nones.tolist()]
    bad = [i for i, r in zip(nones.tolist(), raw_nones, strict=True) if r and r.strip()]
    if bad:
        mask = np.zeros(m, dtype=bool)
        mask[bad] = True
        failed = np.flatnonzero(mask[inv])
    else:
        failed = np.zeros(0, dtype=np.int64)
    return NormalizedColumn(encoded.dictionary.to_pylist(), codes), failed


def normalize_column(
    values: Sequence[str], normalizer: str, processes: int = 1
) -> tuple[list[str | None], list[int]]:
    """Normalize each distinct value once; return normalized values and rows that failed.

    A row fails when its raw value is not blank but normalizes to nothing (e.g. an
    impossible date). Failed and blank values become ``None`` (missing).
    """
    column, failed = normalize_codes(values, normalizer, processes)
    table = column.table
    return [table[j] for j in column.codes.tolist()], failed.tolist()


def _valid_numbers(values: Sequence[str | None]) -> np.ndarray:
    """Vectorized check-digit validation of normalized 12-digit numbers (None -> False)."""
    ok = np.array([v is not None and len(v) == 12 and v.isdigit() for v in values], dtype=bool)
    if not ok.any():
        return ok
    digits = (
        np.frombuffer(
            "".join(v for v, k in zip(values, ok, strict=True) if k and v is not None).encode(
                "ascii"
            ),
            dtype=np.uint8,
        )
        .reshape(-1, 12)
        .astype(np.int64)
        - 48
    )
    ok[ok] = mynumber.check_digits(digits[:, :11]) == digits[:, 11]
    return ok


def _string_buffers(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The UTF-8 bytes of an Arrow string array (no nulls) and its n + 1 offsets."""
    wide = pa.types.is_large_string(arr.type)
    buffers = arr.buffers()
    n = len(arr)
    offsets = np.frombuffer(
        buffers[1], dtype=np.int64 if wide else np.int32, count=arr.offset + n + 1
    )[arr.offset :].astype(np.int64)
    data = buffers[2]
    raw = np.frombuffer(data, dtype=np.uint8) if data is not None and data.size else None
    return (raw if raw is not None else np.zeros(0, np.uint8)), offsets


def my_number_digits(values: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``my_number`` normalization of a column, on Arrow buffers rather than strings.

    Returns ``(inv, digits, present)``: each record's index into the column's distinct
    raw values, the normalized number of each distinct value as 12 ASCII digit bytes
    (an (m, 12) uint8 array) and whether it has one. A value that is already 12 ASCII
    digits (nearly all) is its own normalized form and is recognized from the bytes;
    only the others go through :func:`pprl.normalize.my_number`, with the same result.
    """
    arrow = _arrow_distinct(values)
    if arrow is not None:
        arr, inv = arrow, values.inv  # type: ignore[attr-defined]
    else:
        uniq, inv = factorize(values)
        arr = pa.array(uniq, type=pa.string())
    if arr.null_count:
        arr = pc.fill_null(arr, "")
    data, offsets = _string_buffers(arr)
    m = len(arr)
    digits = np.zeros((m, 12), dtype=np.uint8)
    present = np.zeros(m, dtype=bool)
    twelve = np.flatnonzero(np.diff(offsets) == 12)
    if len(twelve):
        block = data[offsets[twelve, None] + np.arange(12)]
        clean = ((block - np.uint8(48)) < 10).all(axis=1)  # bytes below '0' wrap past 10
        digits[twelve[clean]] = block[clean]
        present[twelve[clean]] = True
    others = np.flatnonzero(~present)
    if len(others):
        normalize = NORMALIZERS["my_number"]
        for j, value in zip(others.tolist(), arr.take(others).to_pylist(), strict=True):
            number = normalize(value)
            if number is not None:
                digits[j] = np.frombuffer(number.encode("ascii"), dtype=np.uint8)
                present[j] = True
    return inv, digits, present


def my_number_tokens(
    values: Sequence[str], key: bytes, report: EncodeReport
) -> tuple[np.ndarray, np.ndarray]:
    """Pseudonyms of a raw ``my_number`` link-key column, as :func:`link_key_tokens`
    gives them for its normalized column (same tokens, same report), without making a
    Python string per value: numbers are checked and hashed from their bytes, each
    distinct raw value once."""
    inv, digits, present_u = my_number_digits(values)
    numbers = digits.astype(np.int64) - 48
    valid_u = present_u & (mynumber.check_digits(numbers[:, :11]) == numbers[:, 11])
    present, valid = present_u[inv], valid_u[inv]
    report.missing_link_key_rows.extend(np.flatnonzero(~present).tolist())
    report.invalid_link_key_rows.extend(np.flatnonzero(present & ~valid).tolist())
    keep = np.flatnonzero(valid_u)
    digests = keyed_hash_packed(
        key,
        digits[keep].reshape(-1),
        np.arange(len(keep), dtype=np.int64) * 12,
        np.full(len(keep), 12, dtype=np.int64),
        TOKEN_BYTES,
    )
    where = np.full(len(valid_u), -1, dtype=np.int64)
    where[keep] = np.arange(len(keep))
    tokens = np.zeros((len(inv), TOKEN_BYTES), dtype=np.uint8)
    rows = np.flatnonzero(valid)
    tokens[rows] = digests[where[inv[rows]]]
    return tokens, valid


def _read_beyond_clk(schema: Schema, name: str) -> bool:
    """Whether field ``name``'s normalized values are read by something other than the
    CLK: a block-key part, the salt field or the link key."""
    return (
        any(part.field == name for spec in schema.block_keys for part in spec.parts)
        or schema.hardening.salt_field == name
        or schema.link_key == name
    )


def _needs_normalized(schema: Schema, name: str) -> bool:
    """Whether anything but the pseudonyms reads field ``name``'s normalized values:
    a CLK field, a block-key part or the salt field."""
    return (
        (name in schema.fields and name not in schema.ignored)
        or any(part.field == name for spec in schema.block_keys for part in spec.parts)
        or schema.hardening.salt_field == name
    )


def link_key_tokens(
    column: NormalizedColumn, normalizer: str, key: bytes, report: EncodeReport
) -> tuple[np.ndarray, np.ndarray]:
    """Pseudonyms of the link-key column; invalid or missing numbers get a null token.

    With the ``my_number`` normalizer the check digit is validated, since a number that
    fails it cannot be anyone's and must be reported, not pseudonymized. Each distinct
    value is checked and pseudonymized once.
    """
    table, codes = column.table, column.codes
    n = len(codes)
    present_t = np.array([v is not None for v in table], dtype=bool)
    valid_t = _valid_numbers(table) if normalizer == "my_number" else present_t.copy()
    present, valid = present_t[codes], valid_t[codes]
    report.missing_link_key_rows.extend(np.flatnonzero(~present).tolist())
    report.invalid_link_key_rows.extend(np.flatnonzero(present & ~valid).tolist())
    keep = np.flatnonzero(valid_t)
    digests = pseudonyms(key, [table[j] for j in keep.tolist()])  # type: ignore[misc]
    where = np.full(len(table), -1, dtype=np.int64)
    where[keep] = np.arange(len(keep))
    tokens = np.zeros((n, TOKEN_BYTES), dtype=np.uint8)
    rows = np.flatnonzero(valid)
    tokens[rows] = digests[where[codes[rows]]]
    return tokens, valid


def block_key_column(
    spec: BlockKeySpec, normalized: dict[str, NormalizedColumn], key: bytes
) -> tuple[np.ndarray, np.ndarray]:
    """Keyed 64-bit block key per record: blake3(key, name + parts); null if a part is
    missing (a field's normalized value is None or '').

    Each part is sliced once per distinct normalized value, and each distinct
    combination of parts is hashed once.
    """
    codes, tables = [], []
    for part in spec.parts:
        column = normalized[part.field]
        missing = np.array([not v for v in column.table], dtype=bool)
        codes.append(np.where(missing[column.codes], -1, column.codes))
        tables.append([(v or "")[part.start : part.stop] for v in column.table])
    n = len(codes[0]) if codes else 0
    sizes = [max(len(t), 1) for t in tables]
    if not codes or math.prod(sizes) >= 1 << 62:  # too many combinations to number
        return block_key_hashes(key, spec.name, list(zip(codes, tables, strict=True)))
    valid = np.logical_and.reduce([c >= 0 for c in codes])
    rows = np.flatnonzero(valid)
    combined = np.zeros(len(rows), dtype=np.int64)
    for c, size in zip(codes, sizes, strict=True):
        combined = combined * size + c[rows]
    distinct, inverse = np.unique(combined, return_inverse=True)
    parts = []
    for size in reversed(sizes):
        parts.append(distinct % size)
        distinct = distinct // size
    parts.reverse()
    hashed, _ = block_key_hashes(key, spec.name, list(zip(parts, tables, strict=True)))
    values = np.zeros(n, dtype=np.uint64)
    values[rows] = hashed[inverse.reshape(-1)]
    return values, valid


def party_label(party: str | None, path: str | Path) -> str:
    """The label an encoding file records: ``party``, or the CSV file's name without
    extension; refused (one line) unless it is a valid label (:mod:`pprl.labels`)."""
    if party is not None:
        return validate_label(party, what="--party")
    stem = Path(path).stem
    try:
        return validate_label(stem, what=f"{Path(path).name}: party label (the file name)")
    except InputError as exc:
        raise InputError(f"{exc}; give a valid label with --party") from None


def encode_records(
    data: CsvData,
    schema: Schema,
    secret: Secret,
    *,
    column_map: dict[str, str] | None = None,
    party: str | None = None,
    role: str | None = None,
    strict: bool = False,
    processes: int | None = None,
    progress: Progress | None = None,
) -> tuple[Encodings, EncodeReport]:
    """Encode a party's records: normalize, CLK-encode, pseudonymize, compute block keys.

    ``role`` (``register`` or ``claims``, see :data:`pprl.store.ROLES`) is recorded in
    the file so that a matcher refuses a claims file as its reference and the reverse;
    None records no role (library use; ``pprl encode`` always records one).

    With ``strict`` a missing or invalid link key is an error naming the first rows;
    otherwise such rows are encoded with a null pseudonym and listed in the report,
    because dropping them would hide exactly the records that need checking.
    ``processes`` is the number of local processes normalization and hashing may use
    (None: the CPUs not already busy, see :func:`pprl.encode.idle_cpus`; 1: this one).
    """
    if role is not None and role not in ROLES:
        raise InputError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    label = party_label(party, data.path)
    report = EncodeReport(records=data.nrows, text_encoding=data.encoding)
    n_processes = processes if processes is not None else idle_cpus()
    raw = resolve_columns(data, schema, column_map or {})
    factorize_columns(raw.values(), n_processes)  # Arrow's hashing, one column per core
    lk_norm = schema.normalizers.get(schema.link_key, "text") if schema.link_key else ""
    # a My Number link key that only feeds pseudonyms is checked and hashed from bytes
    link_key = schema.link_key or ""
    direct_key = lk_norm == "my_number" and not _needs_normalized(schema, link_key)
    normalized: dict[str, NormalizedColumn] = {}
    for name, values in raw.items():
        if name in schema.ignored and name != schema.link_key:
            continue
        if direct_key and name == schema.link_key:
            continue
        normalizer = schema.normalizers.get(name, "none")
        if normalizer == "none" and not _read_beyond_clk(schema, name):
            continue  # the CLK hashes the raw value, exactly as clkhash does
        normalized[name], failed = normalize_codes(values, normalizer, n_processes)
        if len(failed) and name != schema.link_key:
            report.unnormalizable[name] = failed.tolist()
    # a field without a normalizer ("none", as in a plain clkhash schema) is hashed as read,
    # whitespace-only values included, so the CLKs stay bit-identical to clkhash's
    columns = [
        normalized[f].text()
        if f in normalized and schema.normalizers.get(f, "none") != "none"
        else raw[f]
        for f in schema.fields
    ]
    # privacy hardening (docs/privacy.md); exactly encode_clks when the schema has none
    # (hardened_clks reads these as sequences; factorized columns read like lists)
    by_field: dict[str, Any] = {name: column.values() for name, column in normalized.items()}
    clks = hardened_clks(
        schema,
        columns,
        by_field,
        raw,
        secret,
        workers=processes,
        progress=progress,
    )
    tokens = np.zeros((data.nrows, TOKEN_BYTES), dtype=np.uint8)
    has_token = np.zeros(data.nrows, dtype=bool)
    with ThreadPoolExecutor(1) as thread:
        pending: Future[tuple[np.ndarray, np.ndarray]] | None = None
        if direct_key and n_processes > 1:
            # numpy and numba release the GIL: hash the link key beside the block keys
            pending = thread.submit(my_number_tokens, raw[link_key], secret.pseudonym_key, report)
        elif direct_key:
            tokens, has_token = my_number_tokens(raw[link_key], secret.pseudonym_key, report)
        elif schema.link_key:
            tokens, has_token = link_key_tokens(
                normalized[schema.link_key], lk_norm, secret.pseudonym_key, report
            )
        block_keys = {
            spec.name: block_key_column(spec, normalized, secret.block_key)
            for spec in schema.block_keys
        }
        if pending is not None:
            tokens, has_token = pending.result()
    bad = report.missing_link_key_rows + report.invalid_link_key_rows
    if strict and bad:
        raise InputError(
            f"{data.path}: row {data.first_row + min(bad)}: missing or invalid "
            f"link key '{schema.link_key}' ({len(bad)} row(s) in this chunk; "
            "--strict)"
        )
    meta = {
        "party": label,
        "schema_name": Path(schema.name).name,
        "schema_digest": schema.digest,
        "schema": schema.document,
        "key_fingerprint": secret.fingerprint,
        "link_key": schema.link_key,
        **hardening_meta(schema),  # the BLIP generator: files noised differently are refused
    }
    if role is not None:
        meta["role"] = role
    report.shift_rows(data.first_row)
    enc = Encodings(
        rows=data.first_row + np.arange(data.nrows, dtype=np.int64),
        tokens=tokens,
        has_token=has_token,
        clks=clks,
        block_keys=block_keys,
        meta=meta,
    )
    return enc, report


CHUNK_ROWS = 500_000


def concat_encodings(parts: list[Encodings]) -> Encodings:
    """Join chunk encodings of one file (same schema and secret) into one."""
    return join_encodings(parts)


def encode_csv(
    path: str | Path,
    schema: Schema,
    secret: Secret,
    *,
    encoding: str | None = None,
    chunk_rows: int = CHUNK_ROWS,
    column_map: dict[str, str] | None = None,
    party: str | None = None,
    role: str | None = None,
    strict: bool = False,
    processes: int | None = None,
    progress: Progress | None = None,
) -> tuple[Encodings, EncodeReport]:
    """Encode a CSV file chunk by chunk, so memory for raw values stays bounded.

    The other options are those of :func:`encode_records` (``processes``: local
    processes for normalization and hashing). The result is identical to encoding the
    whole file at once; rows keep their numbers in the input file. The result is held
    in memory: :func:`encode_csv_file` writes a file of any size in bounded memory.
    """
    parts: list[Encodings] = []
    report = encode_csv_parts(
        path,
        schema,
        secret,
        parts.append,
        encoding=encoding,
        chunk_rows=chunk_rows,
        column_map=column_map,
        party=party,
        role=role,
        strict=strict,
        processes=processes,
        progress=progress,
    )
    return concat_encodings(parts), report


def encode_csv_parts(
    path: str | Path,
    schema: Schema,
    secret: Secret,
    sink: Callable[[Encodings], None],
    *,
    encoding: str | None = None,
    chunk_rows: int = CHUNK_ROWS,
    column_map: dict[str, str] | None = None,
    party: str | None = None,
    role: str | None = None,
    strict: bool = False,
    processes: int | None = None,
    progress: Progress | None = None,
) -> EncodeReport:
    """Encode a CSV file chunk by chunk, handing each chunk's encodings to ``sink`` in
    row order (then the decoys, in chunks too), and return the report.

    Options as :func:`encode_csv`; no more than ``chunk_rows`` records are encoded at once.
    """

    def encode(data: CsvData) -> tuple[Encodings, EncodeReport]:
        return encode_records(
            data,
            schema,
            secret,
            column_map=column_map,
            party=party,
            role=role,
            strict=strict,
            processes=processes,
            progress=progress,
        )

    party = party_label(party, path)  # before reading anything
    report: EncodeReport | None = None
    first: CsvData | None = None
    for chunk in iter_csv(path, encoding, chunk_rows):
        enc, rep = encode(chunk)
        sink(enc)
        if report is None:
            report, first = rep, (chunk if schema.hardening.decoy_fraction else None)
        else:
            report.merge(rep)
    assert report is not None  # iter_csv always yields at least one chunk
    # --- privacy hardening (docs/privacy.md): decoy records, rows >= the file's row count ---
    found = matched_column_map(first, schema, column_map or {}) if first else column_map
    decoys = decoy_chunk(first, schema, secret, report.records, found)
    if decoys is not None:
        for piece in _row_slices(decoys, chunk_rows):
            sink(encode(piece)[0])
    # --- end privacy hardening ---
    return report


def _row_slices(data: CsvData, rows: int) -> Iterator[CsvData]:
    """``data`` cut into pieces of at most ``rows`` records (encoding a piece at a time
    gives the records encoding the whole gives: every step is per record or per value)."""
    if data.nrows <= rows:
        yield data
        return
    for start in range(0, data.nrows, max(1, rows)):
        stop = min(start + rows, data.nrows)
        yield replace(
            data,
            columns={name: list(col[start:stop]) for name, col in data.columns.items()},
            nrows=stop - start,
            first_row=data.first_row + start,
        )


def encode_csv_file(
    path: str | Path,
    out: str | Path,
    schema: Schema,
    secret: Secret,
    *,
    format: str = "parquet",
    force: bool = True,
    inputs: Sequence[str | Path] = (),
    memory_rows: int = MEMORY_ROWS,
    row_group_size: int = 1 << 20,
    encoding: str | None = None,
    chunk_rows: int = CHUNK_ROWS,
    column_map: dict[str, str] | None = None,
    party: str | None = None,
    role: str | None = None,
    strict: bool = False,
    processes: int | None = None,
    progress: Progress | None = None,
) -> tuple[EncodingsWriter, EncodeReport]:
    """Encode a CSV file into the encoding file ``out``, in memory bounded by
    ``chunk_rows`` whatever the file's size (:class:`pprl.store.EncodingsWriter`).

    ``format`` is ``parquet`` or ``clkhash-json``; ``force`` and ``inputs`` are those of
    :func:`pprl.store.atomic_path`; a file of more than ``memory_rows`` records is spilled
    beside ``out`` (about its size again) and written from the spill, in row groups of
    ``row_group_size`` records. The bytes are
    those :func:`pprl.store.write_encodings` writes for :func:`encode_csv`'s result. Returns
    the writer (``meta``: the metadata written; ``count``: the records, decoys included)
    and the report. On any error ``out`` is left as it was.
    """
    party = party_label(party, path)  # before touching anything
    with encodings_writer(
        out,
        format=format,
        row_group_size=row_group_size,
        memory_rows=memory_rows,
        force=force,
        inputs=inputs,
    ) as writer:
        report = encode_csv_parts(
            path,
            schema,
            secret,
            writer.add,
            encoding=encoding,
            chunk_rows=chunk_rows,
            column_map=column_map,
            party=party,
            role=role,
            strict=strict,
            processes=processes,
            progress=progress,
        )
    return writer, report
