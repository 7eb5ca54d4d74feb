"""Where `pprl encode` spends its time: seconds per stage of ``encode_csv`` on a CSV.

Usage: python benchmarks/profile_encode_stages.py CSV SECRET [--schema NAME] [--processes N]

Wraps the pipeline's stages (reading, column mapping, normalization per normalizer, CLKs
with hardening, pseudonyms, block keys, Parquet writing) with timers and prints one line
per stage. Factorizing a column happens when it is first used, so it is counted in
"column mapping" or "normalize". The wrappers add a little per normalized value.
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

import pprl.normalize
import pprl.normalize.arrays
import pprl.party as party
from pprl.keys import load_secret
from pprl.schema import load_schema
from pprl.store import write_encodings

SECONDS: collections.Counter[str] = collections.Counter()


def timed(label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            SECONDS[label] += time.perf_counter() - start

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", type=Path)
    parser.add_argument("secret", type=Path)
    parser.add_argument("--schema", default="jp-resident")
    parser.add_argument("--processes", type=int, default=1)
    args = parser.parse_args()

    for name, label in [
        ("resolve_columns", "column mapping"),
        ("factorize_columns", "factorize columns (Arrow, threads)"),
        ("normalize_codes", "normalize (distinct values)"),
        ("hardened_clks", "CLKs (with hardening)"),
        ("link_key_tokens", "pseudonyms + check digits"),
        ("my_number_tokens", "pseudonyms + check digits"),
        ("block_key_column", "block keys"),
    ]:
        setattr(party, name, timed(label, getattr(party, name)))
    for name, fn in list(pprl.normalize.NORMALIZERS.items()):
        pprl.normalize.NORMALIZERS[name] = timed(f"  of which {name}", fn)
    for name, many in list(pprl.normalize.MANY.items()):
        pprl.normalize.MANY[name] = timed(f"  of which {name}", many)
    arrays = pprl.normalize.arrays.ARRAY_NORMALIZERS  # columns read by Arrow, whole
    for name, fn in list(arrays.items()):
        arrays[name] = timed(f"  of which {name}", fn)
    iter_csv = party.iter_csv

    def timed_chunks(*a: Any, **k: Any) -> Iterator[Any]:
        chunks = iter_csv(*a, **k)
        while True:
            start = time.perf_counter()
            chunk = next(chunks, None)
            SECONDS["read CSV"] += time.perf_counter() - start
            if chunk is None:
                return
            yield chunk

    party.iter_csv = timed_chunks  # type: ignore[assignment]
    schema, secret = load_schema(args.schema), load_secret(args.secret)
    start = time.perf_counter()
    enc, report = party.encode_csv(args.csv, schema, secret, processes=args.processes)
    with tempfile.TemporaryDirectory() as tmp:
        write = time.perf_counter()
        write_encodings(enc, Path(tmp) / "out.parquet")
        SECONDS["write Parquet"] += time.perf_counter() - write
    total = time.perf_counter() - start
    print(f"{report.records} records, {total:.2f} s ({report.records / total:,.0f} records/s)")
    for label, seconds in SECONDS.items():
        print(f"{label:32s} {seconds:6.2f}")


if __name__ == "__main__":
    main()
