"""``pprl match``: link two encoding files, or find duplicates within one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pprl_cli.common import (
    Scheduler,
    Threads,
    TlsCa,
    TlsCert,
    TlsKey,
    Workers,
    check_engine,
    check_format,
    console,
    err_console,
    fail,
    input_file,
    output_file,
    shown,
    user_errors,
    writing,
)

LINK_FORMATS = ("parquet", "csv")
#: pprl.compare.search.MAX_TOP_K, not imported: importing the comparison core here would
#: slow every command's start (tests/adversarial/test_fixexit.py checks they agree).
MAX_TOP_K = 1000


@user_errors
def match(
    files: Annotated[
        list[Path],
        typer.Argument(metavar="FILE", help="A.parquet B.parquet, or one file with --dedupe."),
    ],
    threshold: Annotated[
        float | None,
        typer.Option(
            metavar="SCORE",
            show_default="chosen from the data",
            help="Minimum Dice similarity of a candidate pair (0 to 1). Left out: chosen "
            "from the data by a two-class mixture, printed with its estimated precision "
            "and recall and recorded in the links file's metadata.",
        ),
    ] = None,
    out: Annotated[Path, typer.Option(metavar="FILE", help="Links file to write.")] = Path(
        "links.parquet"
    ),
    format: Annotated[
        str | None,
        typer.Option(
            metavar="parquet|csv",
            show_default="from --out's extension (.csv: csv, else parquet)",
            help="Links file format.",
        ),
    ] = None,
    top_k: Annotated[
        int | None,
        typer.Option(
            metavar="K",
            min=1,
            max=MAX_TOP_K,
            show_default="no limit",
            help=f"Keep only the k best B records per A record (1 to {MAX_TOP_K}).",
        ),
    ] = None,
    all_candidates: Annotated[
        bool,
        typer.Option(
            "--all-candidates", help="Write every pair over the threshold instead of 1:1 links."
        ),
    ] = False,
    dedupe: Annotated[
        bool, typer.Option("--dedupe", help="Find duplicate records within one file.")
    ] = False,
    blocking: Annotated[
        str,
        typer.Option(
            metavar="none|lsh|keys|keys:NAME,NAME",
            help="Blocking: none, LSH, or the keyed block keys stored in the files.",
        ),
    ] = "none",
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing links file (never an input).")
    ] = False,
    threads: Threads = None,
    workers: Workers = None,
    scheduler: Scheduler = None,
    tls_ca: TlsCa = None,
    tls_cert: TlsCert = None,
    tls_key: TlsKey = None,
) -> None:
    """Match records by Dice similarity of their CLKs; writes a_row, b_row, score.

    The links are row numbers, not encodings: --format is parquet or csv.
    """
    from pprl.match import MatchOptions, match_files, threshold_estimate, write_links
    from pprl.resultset import check_output_file

    if format is None:
        format = "csv" if out.suffix.lower() == ".csv" else "parquet"
    check_format(format, LINK_FORMATS)
    if format == "parquet" and out.suffix.lower() == ".csv":
        fail(f"--format parquet cannot write {out}: name the file .parquet")
    tls = check_engine(threads, workers, scheduler, tls_ca, tls_cert, tls_key)
    if dedupe != (len(files) == 1) or len(files) > 2:
        fail("give two files to link, or one file with --dedupe")
    if threshold is not None and not 0.0 <= threshold <= 1.0:  # also NaN
        fail(f"--threshold must be between 0 and 1, got {threshold}")
    for path in files:
        input_file(path)
    output_file(out)
    check_output_file(out, force=force, inputs=files)
    opts = MatchOptions(
        threshold=0.8 if threshold is None else threshold,
        auto_threshold=threshold is None,
        top_k=top_k,
        all_candidates=all_candidates,
        blocking=blocking,
        threads=threads,
    )
    table = match_files(
        files[0], None if dedupe else files[1], opts, workers=workers, scheduler=scheduler, tls=tls
    )
    with writing(out):
        write_links(table, out, csv=format == "csv", force=force, inputs=files)
    estimate = threshold_estimate(table)
    if estimate is not None and estimate.fallback is not None:
        err_console.print(f"[yellow]warning:[/] {estimate.describe()}", highlight=False)
    elif estimate is not None:
        console.print(estimate.describe(), highlight=False)
    what = (
        "duplicate pairs" if dedupe else "candidate pairs" if all_candidates or top_k else "links"
    )
    console.print(f"{table.num_rows} {what} -> {shown(out)}", highlight=False)
