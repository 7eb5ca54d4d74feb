"""``encode_clks``: records to CLKs bit-identical to clkhash, column by column.

clkhash hashes every token of every record in Python. Identity data repeats heavily
and n-grams repeat even more, so each field is encoded as one job:

1. factorize the column into its distinct values (:mod:`pprl.encode.factorize`);
2. validate and format each *distinct* value once, with clkhash's own rules
   (:mod:`pprl.encode.clkhash_compat`);
3. tokenize the distinct values and give each distinct *token* an id;
4. hash each distinct token once (:mod:`pprl.encode.hashing`);
5. set the bits of every distinct value in a packed ``uint64`` row and OR the rows into
   each record's filter; mostly-distinct columns set bits per record directly
   (:mod:`pprl.encode.kernels`);
6. XOR-fold (numpy).

With 20,000 records or more, the field jobs are spread over processes
(:mod:`pprl.encode.pool`).

Errors: the first invalid (row, field) in clkhash's order becomes an InputError that
names the row and field and what the format expected, never the value or the secret.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from clkhash.field_formats import FieldSpec
from clkhash.schema import Schema

import pprl.encode.pool as pool
from pprl.encode.clkhash_compat import (
    FastDates,
    FieldFailure,
    Tokens,
    field_rules,
    format_values,
    invalid_values,
    raise_invalid,
    strategy_plan,
    token_kmax,
    tokenize,
)
from pprl.encode.factorize import factorize
from pprl.encode.hashing import blake_table, derive_keys, double_table
from pprl.encode.kernels import or_gather, set_bits_blake, set_bits_double
from pprl.errors import InputError

__all__ = ["PARALLEL_MIN_RECORDS", "encode_clks"]

PARALLEL_MIN_RECORDS = 20_000  # records from which field jobs are spread over processes

_CLKHASH_CHUNK = 10_000  # clkhash validates, then encodes, 10,000 rows at a time

# A field's failure as clkhash would meet it first, sortable across fields:
# (chunk, kind, row, field index, message); kind 0 = validation, 1 = formatting/tokens.
Failure = tuple[int, int, int, int, str]


def check_schema(schema: Schema, columns: Sequence[Sequence[str]]) -> int:
    """Validate schema-level constraints clkhash would trip over; returns the record count."""
    name = repr(schema)
    if schema.l <= 0 or schema.l % 64:
        raise InputError(
            f"schema {name}: filter length l={schema.l} is not a positive multiple of 64"
        )
    if schema.xor_folds < 0:
        raise InputError(f"schema {name}: xor_folds must be non-negative")
    hash_l = schema.l * 2**schema.xor_folds
    for f in schema.fields:
        fhp = f.hashing_properties
        if fhp is not None and fhp.hash_type == "blakeHash":
            if hash_l & (hash_l - 1):
                raise InputError(
                    f"schema {name}: field {f.identifier!r} uses blakeHash, which needs "
                    f"l * 2**xor_folds to be a power of two (got {hash_l})"
                )
    if len(columns) != len(schema.fields):
        raise InputError(
            f"schema {name}: got {len(columns)} columns for {len(schema.fields)} fields"
        )
    n = len(columns[0]) if columns else 0
    for f, c in zip(schema.fields, columns, strict=True):
        if len(c) != n:
            raise InputError(f"field {f.identifier!r}: column has {len(c)} values, expected {n}")
    return n


def _prepare_tokens(
    field: FieldSpec, uniq: list[str], inv: np.ndarray, dates: FastDates | None
) -> Tokens:
    """Format and tokenize the distinct values; raises the failure at the earliest row
    (clkhash formats and tokenizes record by record, so the earliest row wins)."""
    formatted, ffail = format_values(field, uniq, inv, dates)
    try:
        toks = tokenize(field, formatted, inv)
    except FieldFailure as tfail:
        raise tfail if ffail is None or tfail.row < ffail.row else ffail from None
    if ffail is not None:
        raise ffail
    return toks


def _encode_field(
    field: FieldSpec,
    toks: Tokens,
    inv: np.ndarray,
    keys: Sequence[bytes],
    hash_l: int,
    out: np.ndarray,
) -> None:
    """OR one field's bits into every record's filter in ``out``.

    Bits are set once per distinct value into packed rows that are then gathered per
    record; when most values are distinct (addresses) the rows would not be reused,
    so bits go straight into ``out`` instead.
    """
    fhp = field.hashing_properties
    assert fhp is not None
    plan = strategy_plan(field, toks)
    m = len(toks.ptr) - 1
    direct = 2 * m > len(inv)
    if direct:
        dest, src = out, inv
    else:
        dest = np.zeros((m, hash_l // 64), dtype=np.uint64)
        src = np.arange(m, dtype=np.int32)
    if fhp.hash_type == "blakeHash":
        shorts = blake_table(
            toks.strings, plan.kmax, keys[0], fhp.encoding, lambda: token_kmax(toks, plan)
        )
        set_bits_blake(
            toks.ptr, toks.tok, plan.mode, plan.param, plan.ks, shorts, hash_l, dest, src
        )
    elif fhp.hash_type == "doubleHash":
        h1, h2 = double_table(
            toks.strings, keys, hash_l, fhp.encoding, bool(fhp.prevent_singularity)
        )
        set_bits_double(
            toks.ptr, toks.tok, plan.mode, plan.param, plan.ks, h1, h2, hash_l, dest, src
        )
    else:
        raise InputError(f"field {field.identifier!r}: unsupported hash type {fhp.hash_type!r}")
    if not direct:
        or_gather(out, dest, inv)


def field_job(
    fi: int,
    field: FieldSpec,
    col: Sequence[str],
    keys: Sequence[bytes],
    hash_l: int,
    validate: bool,
    out: np.ndarray,
) -> Failure | None:
    """Encode one field of every record and OR it into ``out``.

    Returns None on success, else the failure clkhash would hit first in this field:
    clkhash validates a whole 10,000-row chunk before formatting/tokenizing it, so the
    minimum over all fields is the error clkhash reports.
    """
    rules = field_rules(field)
    check = validate and rules.validates
    if field.hashing_properties is None and not check:
        return None
    uniq, inv = factorize(col)
    dates = rules.fast_dates(field, uniq)
    vfail: Failure | None = None
    if check:
        bad = invalid_values(field, uniq, dates)
        if bad:
            mask = np.zeros(len(uniq), dtype=bool)
            errs = {}
            for i, e in bad:
                mask[i] = True
                errs[i] = e
            row = int(np.flatnonzero(mask[inv])[0])
            try:
                raise_invalid(field, row, errs[int(inv[row])])
            except FieldFailure as f:
                vfail = (row // _CLKHASH_CHUNK, 0, row, fi, f.message)
    if field.hashing_properties is None:
        return vfail
    try:
        toks = _prepare_tokens(field, uniq, inv, dates)
    except FieldFailure as f:
        efail = (f.row // _CLKHASH_CHUNK, 1, f.row, fi, f.message)
        return efail if vfail is None else min(efail, vfail)
    if vfail is not None:
        return vfail
    _encode_field(field, toks, inv, keys, hash_l, out)
    return None


@dataclass(frozen=True)
class FieldJobs:
    """The field jobs of one ``encode_clks`` call: ``jobs(i, out)`` encodes field ``i``
    into ``out`` (a :class:`pprl.encode.pool.Task`; picklable)."""

    fields: Sequence[FieldSpec]
    columns: Sequence[Sequence[str]]
    keys: Sequence[Sequence[bytes]]
    hash_l: int
    validate: bool

    def __call__(self, job: int, out: np.ndarray) -> Failure | None:
        return field_job(
            job,
            self.fields[job],
            self.columns[job],
            self.keys[job],
            self.hash_l,
            self.validate,
            out,
        )


def job_cost(col: Sequence[str]) -> float:
    """Rough relative cost of encoding a column: records plus characters of a sample."""
    n = len(col)
    if n == 0:
        return 0.0
    step = max(1, n // 256)
    sample = [col[i] for i in range(0, n, step)]
    distinct = len(set(sample)) / len(sample)
    mean_len = sum(map(len, sample)) / len(sample)
    return n * (1.0 + 0.5 * distinct * (mean_len + 2))


def encode_clks(
    schema: Schema,
    columns: Sequence[Sequence[str]],
    secret: str,
    *,
    workers: int | None = None,
    validate: bool = True,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Encode records into CLKs bit-identical to ``clkhash.clk.generate_clks``.

    ``columns[i]`` holds the string values of ``schema.fields[i]`` for every record
    (ignored fields' columns are present but unused). Returns a C-contiguous uint64
    array (n, l // 64) whose row bytes equal clkhash's ``bitarray.tobytes()``.
    ``workers`` is the number of processes (None: the CPUs not already busy, see
    ``idle_cpus``; 1: this process only); fields are spread over worker processes
    when there are enough records (>= 20,000) to pay for starting them.
    ``progress`` is called with counts of finished records (a share per field finished
    in this process, the rest at the end) summing to n.
    Raises :class:`InputError` for bad schemas and (when ``validate``) invalid values;
    messages name the earliest offending row and its field, never the secret.
    """
    n = check_schema(schema, columns)
    hash_l = schema.l * 2**schema.xor_folds
    keys = derive_keys(schema, secret)
    fields = schema.fields
    jobs = [
        i
        for i, f in enumerate(fields)
        if f.hashing_properties is not None or (validate and field_rules(f).validates)
    ]
    reported = 0

    def done(job: int) -> None:
        """A field finished in this process: report its share of the records."""
        nonlocal reported
        step = min(n // len(jobs), n - reported)
        if step > 0:
            reported += step
            assert progress is not None
            progress(step)

    out = np.zeros((n, hash_l // 64), dtype=np.uint64)
    task = FieldJobs(fields, columns, keys, hash_l, validate)
    nproc = min(workers if workers is not None else pool.idle_cpus(), len(jobs))
    if nproc > 1 and n >= PARALLEL_MIN_RECORDS:
        order = sorted(jobs, key=lambda j: -job_cost(columns[j]))
    else:
        order, nproc = jobs, 1
    failures = pool.run_jobs(
        task, order, out, processes=nproc, on_done=done if progress is not None else None
    )
    if failures:
        raise InputError(min(failures)[4])
    for _ in range(schema.xor_folds):
        half = out.shape[1] // 2
        out = out[:, :half] ^ out[:, half:]
    out = np.ascontiguousarray(out)
    if progress is not None and n > reported:
        progress(n - reported)
    return out
