"""``pprl match``: link two encoding files, or find duplicates within one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pprl_cli.common import console, fail, user_errors


@user_errors
def match(
    files: Annotated[list[Path], typer.Argument(help="A.parquet B.parquet, or one file with --dedupe.")],
    threshold: Annotated[float, typer.Option(help="Minimum Dice similarity of a candidate pair.")] = 0.8,
    out: Annotated[Path, typer.Option(help="Output file (.parquet, or .csv).")] = Path("links.parquet"),
    top_k: Annotated[int | None, typer.Option(help="Keep only the k best B records per A record.")] = None,
    all_candidates: Annotated[bool, typer.Option(
        help="Write every pair over the threshold instead of 1:1 links.")] = False,
    dedupe: Annotated[bool, typer.Option(help="Find duplicate records within one file.")] = False,
    blocking: Annotated[str, typer.Option(
        help="none, lsh, keys or keys:NAME,NAME (keyed block keys in the files).")] = "none",
    csv: Annotated[bool, typer.Option("--csv", help="Write CSV instead of Parquet.")] = False,
    workers: Annotated[int | None, typer.Option(help="Threads (default: all cores).")] = None,
    dask_workers: Annotated[int | None, typer.Option(
        help="Run on a local Dask cluster of N worker processes (see docs/distributed.md).")
    ] = None,
    scheduler: Annotated[str | None, typer.Option(
        help="Run on the Dask cluster of this scheduler (e.g. tcp://host:8786).")] = None,
) -> None:
    """Match records by Dice similarity of their CLKs; writes a_row, b_row, score."""
    from pprl.match import MatchOptions, match_files, write_links

    if dedupe != (len(files) == 1) or len(files) > 2:
        fail("give two files to link, or one file with --dedupe")
    opts = MatchOptions(threshold=threshold, top_k=top_k, all_candidates=all_candidates,
                        blocking=blocking, threads=workers)
    table = match_files(files[0], None if dedupe else files[1], opts,
                        workers=dask_workers, scheduler=scheduler)
    write_links(table, out, csv=csv)
    what = "duplicate pairs" if dedupe else "candidate pairs" if all_candidates or top_k else "links"
    console.print(f"{table.num_rows} {what} -> {out}", highlight=False)
