"""Decoy (fake) records mixed into a party's encoding file, and dropping them from results.

Decoys are appended after the party's real rows, so a decoy's ``row`` is >= the number
of data rows of the party's CSV: the party (which knows that number) recognizes them,
the matcher does not know it. The decoy count is drawn per file (0.5-1.5 times the
configured fraction, keyed by the secret and the row count), so the schema's fraction
does not reveal where the real rows end. Each decoy field value is drawn uniformly from
the distinct values of that column, which flattens value frequencies (against frequency
attacks); a decoy gets a random valid-looking link key, so it looks like a real record.

    python -m pprl.privacy.decoys parties/insurer.csv --rows 50000 --out insurer-real.csv
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from blake3 import blake3

from pprl import mynumber
from pprl.csvout import write_csv
from pprl.errors import InputError
from pprl.keys import Secret
from pprl.privacy.harden import derive_key
from pprl.read import CsvData
from pprl.schema import Schema

DECOY_CONTEXT = "pprl 2026-11 decoys v1"


def _rng(secret: Secret, nrows: int) -> np.random.Generator:
    """A generator keyed by the secret and the file's row count (deterministic encodings)."""
    seed = blake3(str(nrows).encode("ascii"), key=derive_key(secret, DECOY_CONTEXT)).digest()
    return np.random.Generator(np.random.PCG64(int.from_bytes(seed[:16], "little")))


def decoy_count(fraction: float, nrows: int, rng: np.random.Generator) -> int:
    """How many decoys: ``fraction * nrows`` scaled by a keyed factor in [0.5, 1.5)."""
    return int(round(fraction * nrows * rng.uniform(0.5, 1.5))) if fraction > 0 else 0


def random_numbers(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` random 12-digit individual numbers with a valid check digit."""
    if n == 0:
        return []
    body = rng.integers(0, 10, size=(n, 11))
    check = mynumber.check_digits(body)
    return ["".join(map(str, b)) + str(int(c)) for b, c in zip(body, check, strict=True)]


def decoy_chunk(
    sample: CsvData | None,
    schema: Schema,
    secret: Secret,
    total_rows: int,
    column_map: dict[str, str] | None = None,
) -> CsvData | None:
    """Decoy records as one more CSV chunk, numbered from ``total_rows`` on (None: no decoys).

    Values are drawn uniformly from the distinct values of each column of ``sample`` (the
    first chunk of the party's file, None when the schema asks for no decoys); the
    link-key column gets random valid numbers.
    """
    if sample is None:
        return None
    rng = _rng(secret, total_rows)
    d = decoy_count(schema.hardening.decoy_fraction, total_rows, rng)
    if d == 0 or sample.nrows == 0:
        return None
    link_col = (column_map or {}).get(schema.link_key or "", schema.link_key)
    columns = {}
    for name in sample.header:
        values = sample.columns[name]
        if name == link_col and schema.normalizers.get(schema.link_key or "") == "my_number":
            columns[name] = random_numbers(rng, d)
        else:
            distinct = list(dict.fromkeys(values))
            columns[name] = [distinct[i] for i in rng.integers(0, len(distinct), size=d)]
    return replace(sample, columns=columns, nrows=d, first_row=total_rows)


def drop_decoys(table: pa.Table, nrows: int, column: str | None = None) -> pa.Table:
    """Keep only findings on real rows (``row < nrows``, the party's CSV data-row count).

    ``column`` defaults to ``claim_row`` (a claims party's file) or ``ref_row`` (the
    register holder's file).
    """
    col = column or next(
        (c for c in ("claim_row", "ref_row", "row") if c in table.column_names), None
    )
    if col is None or col not in table.column_names:
        raise InputError(f"findings lack a row column ({column or 'claim_row/ref_row/row'})")
    rows = table.column(col).to_numpy(zero_copy_only=False)
    return table.filter(pa.array(rows < nrows))


def main(argv: list[str] | None = None) -> None:
    """Command line: drop findings on decoy rows from a party's result file."""
    parser = argparse.ArgumentParser(description="Drop findings on decoy rows (row >= --rows).")
    parser.add_argument("findings", type=Path, help="parties/<party>.csv from pprl verify")
    parser.add_argument(
        "--rows", type=int, required=True, help="number of data rows in the CSV you encoded"
    )
    parser.add_argument("--column", default=None, help="row column (default: claim_row/ref_row)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if not args.findings.is_file():
        raise SystemExit(f"error: {args.findings}: file not found")
    table = pacsv.read_csv(args.findings)
    kept = drop_decoys(table, args.rows, args.column)
    write_csv(kept, args.out)
    print(f"{args.out}: kept {kept.num_rows} of {table.num_rows} findings")


if __name__ == "__main__":
    main()
