"""Where `pprl encode` spends its time: seconds per stage of ``encode_csv`` on a CSV.

Usage: python benchmarks/profile_encode_stages.py CSV SECRET [--schema NAME] [--processes N]
       [--cpu]

Wraps the pipeline's stages (reading, factorizing columns, normalization per normalizer,
CLKs with hardening, pseudonyms, block keys, Parquet writing) with timers and prints one
line per stage; normalization is timed once per column, never per value. Columns are
factorized (Arrow's dictionary encoding) just before they are normalized; code without
that step counts it in "column mapping". ``--cpu`` times CPU seconds of this process
(all its threads) instead of wall seconds: steadier on a loaded machine, and meaningful
with ``--processes 1`` only (worker processes are not counted). Stages that the code being
profiled does not have are left out, so the script also profiles older code
(``PYTHONPATH=OLD_CHECKOUT``).
"""

from __future__ import annotations

import argparse
import collections
import functools
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pprl.party as party
from pprl.keys import load_secret
from pprl.schema import load_schema
from pprl.store import write_encodings

SECONDS: collections.Counter[str] = collections.Counter()
clock = time.perf_counter


def timed(label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        start = clock()
        try:
            return fn(*args, **kwargs)
        finally:
            SECONDS[label] += clock() - start

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", type=Path)
    parser.add_argument("secret", type=Path)
    parser.add_argument("--schema", default="jp-resident")
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--cpu", action="store_true", help="CPU seconds, not wall")
    args = parser.parse_args()
    global clock
    if args.cpu:
        clock = time.process_time

    for name, label in [
        ("resolve_columns", "column mapping"),
        ("factorize_columns", "factorize columns (Arrow, threads)"),
        ("normalize_codes", "normalize (distinct values)"),
        ("hardened_clks", "CLKs (with hardening)"),
        ("link_key_tokens", "pseudonyms + check digits"),
        ("my_number_tokens", "pseudonyms + check digits"),
        ("block_key_column", "block keys"),
    ]:
        if hasattr(party, name):
            setattr(party, name, timed(label, getattr(party, name)))
    normalize_chunk = party._normalize_chunk  # one call per column (and chunk)

    def timed_chunk(normalizer: str, values: list[str]) -> list[str | None]:
        start = clock()
        try:
            return normalize_chunk(normalizer, values)
        finally:
            SECONDS[f"  of which {normalizer}"] += clock() - start

    party._normalize_chunk = timed_chunk
    arrays = getattr(party, "ARRAY_NORMALIZERS", {})  # whole columns read by Arrow
    for name, fn in list(arrays.items()):
        arrays[name] = timed(f"  of which {name}", fn)
    iter_csv = party.iter_csv

    def timed_chunks(*a: Any, **k: Any) -> Iterator[Any]:
        chunks = iter_csv(*a, **k)
        while True:
            start = clock()
            chunk = next(chunks, None)
            SECONDS["read CSV"] += clock() - start
            if chunk is None:
                return
            yield chunk

    party.iter_csv = timed_chunks  # type: ignore[assignment]
    schema, secret = load_schema(args.schema), load_secret(args.secret)
    start = clock()
    enc, report = party.encode_csv(args.csv, schema, secret, processes=args.processes)
    with tempfile.TemporaryDirectory() as tmp:
        write = clock()
        write_encodings(enc, Path(tmp) / "out.parquet")
        SECONDS["write Parquet"] += clock() - write
    total = clock() - start
    unit = "CPU s" if args.cpu else "s"
    rate = report.records / total
    print(f"{report.records} records, {total:.2f} {unit} ({rate:,.0f} records per {unit})")
    for label, seconds in SECONDS.items():
        print(f"{label:32s} {seconds:6.2f}")


if __name__ == "__main__":
    main()
