"""``pprl verify``: the central matcher checks every claimed link, with encodings only."""

from __future__ import annotations

import math
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
    output_folder,
    print_json,
    shown,
    stage_progress,
    user_errors,
    writing,
)

from pprl.schema import BUILTIN_SCHEMAS, builtin_document

FINDINGS_FORMATS = ("parquet", "csv")


def _check_thresholds(given: dict[str, float | None]) -> dict[str, float]:
    """The given threshold options, each checked before any work: a finite number in
    range (0..1, margins -1..1), and no pair given inverted. One line naming the option.
    (A value inverted against the schema's tuned value is refused once the schema is
    read, before any comparison.)"""
    th = {name: value for name, value in given.items() if value is not None}
    for name, value in th.items():
        low, high = (-1.0, 1.0) if name.startswith("margin_") else (0.0, 1.0)
        if not math.isfinite(value) or not low <= value <= high:
            fail(f"{_option(name)} must be a number from {low:g} to {high:g}, not {value}")
    for lower, upper in (
        ("suspect_score", "confirm_score"),
        ("margin_review", "margin_suspect"),
        ("confirm_below", "suspect_above"),
    ):
        if lower in th and upper in th and th[lower] > th[upper]:
            fail(
                f"{_option(lower)} ({th[lower]:g}) must not exceed {_option(upper)} ({th[upper]:g})"
            )
    return th


def _option(name: str) -> str:
    """The option of a threshold: ``confirm_score`` -> ``--confirm-score``."""
    return "--" + name.replace("_", "-")


def _tuned(name: str) -> str:
    """Help default for a threshold: the value each built-in schema tunes it to."""
    from pprl.verify.model import Thresholds

    base = getattr(Thresholds(), name)
    values = []
    for schema in BUILTIN_SCHEMAS:
        tuned = (builtin_document(schema).get("pprl") or {}).get("verify") or {}
        values.append(f"{schema}: {tuned.get(name, base):g}")
    return f"the schema's tuned value ({', '.join(values)})"


@user_errors
def verify(
    reference: Annotated[Path, typer.Option(metavar="FILE", help="The register's encoding file.")],
    claims: Annotated[
        list[Path],
        typer.Option(metavar="FILE", help="A claims party's encoding file (repeatable)."),
    ],
    out: Annotated[
        Path, typer.Option(metavar="DIR", help="Output folder for findings, summary and report.")
    ],
    confirm_score: Annotated[
        float | None,
        typer.Option(
            metavar="SCORE",
            show_default=_tuned("confirm_score"),
            help="Claimed score needed to confirm.",
        ),
    ] = None,
    suspect_score: Annotated[
        float | None,
        typer.Option(
            metavar="SCORE",
            show_default=_tuned("suspect_score"),
            help="Claimed score below which a claim is suspect.",
        ),
    ] = None,
    margin_suspect: Annotated[
        float | None,
        typer.Option(
            metavar="MARGIN",
            show_default=_tuned("margin_suspect"),
            help="Margin (best other score - claimed score) from which a claim is suspect.",
        ),
    ] = None,
    margin_review: Annotated[
        float | None,
        typer.Option(
            metavar="MARGIN",
            show_default=_tuned("margin_review"),
            help="Margin above which the evidence is thin (review).",
        ),
    ] = None,
    confirm_below: Annotated[
        float | None,
        typer.Option(
            metavar="P",
            show_default=_tuned("confirm_below"),
            help="Mislink probability below which a claim is confirmed.",
        ),
    ] = None,
    suspect_above: Annotated[
        float | None,
        typer.Option(
            metavar="P",
            show_default=_tuned("suspect_above"),
            help="Mislink probability from which a claim is suspect (review between).",
        ),
    ] = None,
    blocking: Annotated[
        str | None,
        typer.Option(
            metavar="KEY,KEY",
            show_default="all block keys in both files",
            help="Block keys to search within.",
        ),
    ] = None,
    format: Annotated[
        list[str] | None,
        typer.Option(
            metavar="parquet|csv",
            show_default="parquet and csv",
            help="Findings file format (repeatable); the parties' views are CSV when csv is "
            "chosen, else Parquet.",
        ),
    ] = None,
    no_scores: Annotated[
        bool, typer.Option("--no-scores", help="Withhold scores from the claims parties' files.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Replace pprl's own previous result set in DIR.")
    ] = False,
    threads: Threads = None,
    workers: Workers = None,
    scheduler: Scheduler = None,
    tls_ca: TlsCa = None,
    tls_cert: TlsCert = None,
    tls_key: TlsKey = None,
) -> None:
    """Verify claimed links: status, score, reason and likely true owner for every claim."""
    from rich.table import Table

    from pprl.resultset import check_target
    from pprl.verify import verify as run_verify
    from pprl.verify import write_outputs

    formats = tuple(check_format(f, FINDINGS_FORMATS) for f in format or FINDINGS_FORMATS)
    tls = check_engine(threads, workers, scheduler, tls_ca, tls_cert, tls_key)
    th = _check_thresholds(
        {
            "confirm_score": confirm_score,
            "suspect_score": suspect_score,
            "margin_suspect": margin_suspect,
            "margin_review": margin_review,
            "confirm_below": confirm_below,
            "suspect_above": suspect_above,
        }
    )
    for path in (reference, *claims):
        input_file(path)
    output_folder(out)
    inputs = [reference, *claims]
    check_target(out, force=force, inputs=inputs)
    names = [b.strip() for b in blocking.split(",") if b.strip()] if blocking else None
    with stage_progress() as stage:
        result = run_verify(
            reference,
            claims,
            thresholds=th,
            blocking=names,
            progress=stage,
            threads=threads,
            workers=workers,
            scheduler=scheduler,
            tls=tls,
        )
        stage("writing findings, summary and report")
        with writing(out):
            write_outputs(
                result,
                out,
                party_scores=not no_scores,
                formats=formats,
                force=force,
                inputs=inputs,
            )
    summary = result.summary
    if as_json:
        print_json(summary.to_json())
        return
    table = Table(title=f"pprl verify: {summary.claims} claims")
    table.add_column("status")
    table.add_column("claims", justify="right")
    for name, n in summary.counts.items():
        table.add_row(shown(name), str(n))
    console.print(table)
    if summary.mislinks is not None:
        console.print(shown(summary.mislinks.describe()), highlight=False)
    for line in summary.warnings:
        err_console.print(f"[yellow]warning:[/] {shown(line)}", highlight=False)
    console.print(
        f"findings: {shown(out / f'findings.{formats[-1]}')}\n"
        f"report:   {shown(out / 'report.html')}",
        highlight=False,
    )
