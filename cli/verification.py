"""``pprl verify``: the central matcher checks every claimed link, with encodings only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from pprl_cli.common import console, err_console, stage_progress, user_errors


@user_errors
def verify(
    reference: Annotated[Path, typer.Option(help="The register's encoding file.")],
    claims: Annotated[list[Path], typer.Option(help="A claims party's encoding file (repeatable).")],
    out: Annotated[Path, typer.Option(help="Output folder for findings, summary and report.")],
    confirm_score: Annotated[float | None, typer.Option(
        help="Claimed score needed to confirm (default: the schema's tuned value).")] = None,
    suspect_score: Annotated[float | None, typer.Option(
        help="Claimed score below which a claim is suspect.")] = None,
    margin_suspect: Annotated[float | None, typer.Option(
        help="Margin (best other score - claimed score) from which a claim is suspect.")] = None,
    margin_review: Annotated[float | None, typer.Option(
        help="Margin above which the evidence is thin (review).")] = None,
    blocking: Annotated[str | None, typer.Option(
        help="Comma-separated block keys to search within (default: all in both files).")] = None,
    no_scores: Annotated[bool, typer.Option(
        "--no-scores", help="Withhold scores from the claims parties' files.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    workers: Annotated[int | None, typer.Option(
        help="Run on a local Dask cluster of N worker processes (see docs/distributed.md).")
    ] = None,
    scheduler: Annotated[str | None, typer.Option(
        help="Run on the Dask cluster of this scheduler (e.g. tcp://host:8786).")] = None,
) -> None:
    """Verify claimed links: status, score, reason and likely true owner for every claim."""
    from rich.table import Table

    from pprl.verify import verify as run_verify
    from pprl.verify import write_outputs

    th = {"confirm_score": confirm_score, "suspect_score": suspect_score,
          "margin_suspect": margin_suspect, "margin_review": margin_review}
    names = [b.strip() for b in blocking.split(",") if b.strip()] if blocking else None
    with stage_progress() as stage:
        result = run_verify(reference, claims, thresholds=th, blocking=names, progress=stage,
                            workers=workers, scheduler=scheduler)
        stage("writing findings, summary and report")
        write_outputs(result, out, party_scores=not no_scores)
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
    console.print(f"findings: {out / 'findings.csv'}\nreport:   {out / 'report.html'}",
                  highlight=False)
