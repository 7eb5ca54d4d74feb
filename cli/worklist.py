"""``pprl worklist``: a data holder's own records needing action, in its own columns."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pprl_cli.common import (
    console,
    err_console,
    fail,
    input_file,
    output_file,
    shown,
    user_errors,
    writing,
)


@user_errors
def worklist(
    results: Annotated[
        Path,
        typer.Option(
            "--results",
            metavar="VIEW",
            help="This party's result view from 'pprl verify' (parties/LABEL.csv, or "
            "parties/LABEL.reference.csv for the register holder; .parquet too).",
        ),
    ],
    data: Annotated[
        Path,
        typer.Option("--data", metavar="CSV", help="The party's own CSV file, the one it encoded."),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out", metavar="FILE", help="Worklist to write: .xlsx (Excel) or .csv (UTF-8)."
        ),
    ],
    all_rows: Annotated[
        bool,
        typer.Option("--all", help="Also list confirmed rows, after those needing action."),
    ] = False,
    lang: Annotated[
        str | None,
        typer.Option(
            "--lang",
            metavar="ja|en",
            show_default="ja when LC_ALL, LC_MESSAGES or LANG starts with ja, else en",
            help="Language of status, reason and next step.",
        ),
    ] = None,
    sidecar: Annotated[
        Path | None,
        typer.Option(
            "--sidecar",
            metavar="FILE",
            show_default="CSV.pprl-local.json beside --data",
            help="The local sidecar 'pprl encode' wrote for the CSV.",
        ),
    ] = None,
    claims_file: Annotated[
        str | None,
        typer.Option(
            "--claims-file",
            metavar="NAME",
            show_default="the encoding file's name",
            help="The name the matcher gave this party's encoding file, where it differs.",
        ),
    ] = None,
    no_check: Annotated[
        bool,
        typer.Option(
            "--no-check",
            help="Join without the sidecar (files encoded before pprl wrote one): nothing "
            "checks that --data is the file that was encoded.",
        ),
    ] = False,
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace an existing FILE (never an input)."),
    ] = False,
) -> None:
    """Join this party's results onto its own CSV: the rows needing action, with their
    line in the CSV, every column of the CSV, status, reason and next step. For the
    register holder: one row per case, the claimed record beside the likely true owner.

    Runs at the data holder, with its own files only; nothing is sent anywhere.
    """
    from pprl.worklist import LANGS, build_worklist, default_lang, output_format, write_worklist

    chosen = lang if lang is not None else default_lang()
    if chosen not in LANGS:
        raise typer.BadParameter(f"must be ja or en, not {chosen!r}", param_hint="'--lang'")
    if no_check and sidecar is not None:
        fail("give --sidecar FILE or --no-check, not both")
    input_file(results, "--results")
    input_file(data, "--data")
    if sidecar is not None:
        input_file(sidecar, "--sidecar")
    output_format(out)
    output_file(out)
    from pprl.resultset import check_output_file

    inputs = [results, data, *([sidecar] if sidecar is not None else [])]
    if not no_check and sidecar is None:
        from pprl.sidecar import default_path

        inputs.append(default_path(data))
    check_output_file(out, force=force, inputs=inputs)
    wl = build_worklist(
        results,
        data,
        lang=chosen,
        include_all=all_rows,
        sidecar=sidecar,
        check=not no_check,
        claims_file=claims_file,
    )
    for line in wl.notes:
        err_console.print(f"[yellow]warning:[/] {shown(line)}", highlight=False)
    with writing(out):
        write_worklist(wl, out, force=force, inputs=inputs)
    counts = ", ".join(f"{n} {status}" for status, n in wl.counts.items()) or "none"
    what = "cases" if wl.kind == "reference" else "rows"
    console.print(
        f"wrote {len(wl.rows)} {what} ({counts}) to {shown(out)}",
        highlight=False,
    )
    if wl.omitted:
        console.print(f"{wl.omitted} confirmed rows not listed (--all lists them)", highlight=False)
