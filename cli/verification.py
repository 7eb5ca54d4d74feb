"""``pprl verify``: the central matcher checks every claimed link, with encodings only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from pprl_cli.common import (
    Scheduler,
    Threads,
    Workers,
    check_format,
    check_one_engine,
    console,
    err_console,
    stage_progress,
    user_errors,
)

from pprl.schema import BUILTIN_SCHEMAS, builtin_document

FINDINGS_FORMATS = ("parquet", "csv")


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
) -> None:
    """Verify claimed links: status, score, reason and likely true owner for every claim."""
    from rich.table import Table

    from pprl.resultset import check_target
    from pprl.verify import verify as run_verify
    from pprl.verify import write_outputs

    formats = tuple(check_format(f, FINDINGS_FORMATS) for f in format or FINDINGS_FORMATS)
    check_target(out, force=force)
    check_one_engine(threads, workers, scheduler)
    given = {
        "confirm_score": confirm_score,
        "suspect_score": suspect_score,
        "margin_suspect": margin_suspect,
        "margin_review": margin_review,
    }
    th = {name: value for name, value in given.items() if value is not None}
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
        )
        stage("writing findings, summary and report")
        write_outputs(result, out, party_scores=not no_scores, formats=formats, force=force)
    summary = result.summary
    if as_json:
        print(json.dumps(summary.to_json(), ensure_ascii=False, indent=2))
        return
    table = Table(title=f"pprl verify: {summary.claims} claims")
    table.add_column("status")
    table.add_column("claims", justify="right")
    for name, n in summary.counts.items():
        table.add_row(name, str(n))
    console.print(table)
    for line in summary.warnings:
        err_console.print(f"[yellow]warning:[/] {line}", highlight=False)
    console.print(
        f"findings: {out / f'findings.{formats[-1]}'}\nreport:   {out / 'report.html'}",
        highlight=False,
    )
