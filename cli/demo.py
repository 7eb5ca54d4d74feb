"""``pprl demo``: the whole story on a small synthetic population."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pprl_cli.common import Processes, Threads, console, output_folder, shown, user_errors

if TYPE_CHECKING:
    from pprl.evaluate import FindingsMetrics
    from pprl.verify.model import VerifySummary

Row = Callable[["VerifySummary", "FindingsMetrics"], str]

#: The summary table: one row per label, one column per claims party.
ROWS: dict[str, Row] = {
    "claims checked": lambda s, m: f"{s.claims:,}",
    "wrong or invalid links planted": lambda s, m: f"{m.positives:,}",
    "suspects found": lambda s, m: f"{s.counts['suspect']:,}",
    "invalid / unknown numbers": lambda s, m: (
        f"{s.counts['invalid_number']:,} / {s.counts['unknown_number']:,}"
    ),
    "sent to review": lambda s, m: f"{s.counts['review']:,}",
    "recall (flagged)": lambda s, m: f"{m.overall.suspect_or_review.recall:.3f}",
    "precision (flagged)": lambda s, m: f"{m.overall.suspect_or_review.precision:.3f}",
    "false alarms per 1,000 correct": lambda s, m: f"{m.false_alarms_per_1000_correct.total:.2f}",
    "true owner named (wrong links)": lambda s, m: (
        "n/a" if m.true_owner_top1 is None else f"{m.true_owner_top1.wrong.accuracy:.3f}"
    ),
}


@user_errors
def demo(
    out: Annotated[
        Path,
        typer.Option(
            metavar="DIR",
            help="Folder for all demo files: new, empty or an earlier demo's (replaced).",
        ),
    ] = Path("demo-out"),
    people: Annotated[
        int, typer.Option(metavar="N", min=1, help="Residents in the synthetic register.")
    ] = 20_000,
    seed: Annotated[int, typer.Option(metavar="N", help="Random seed.")] = 2023,
    force: Annotated[
        bool, typer.Option("--force", help="Also replace another pprl result set in DIR.")
    ] = False,
    processes: Processes = None,
    threads: Threads = None,
    service: Annotated[
        bool,
        typer.Option(
            "--service",
            help="Run the matcher as a local server (127.0.0.1, a free port, a temporary "
            "data folder): campaigns, uploads, jobs and per-party downloads over HTTP.",
        ),
    ] = False,
) -> None:
    """synth -> keygen -> each party encodes locally -> verify -> evaluate, with a summary.

    --processes sizes the encoding, --threads the verification.
    """
    from rich.table import Table

    if service:
        from pprl.service.demo import run_service_demo as run_demo
    else:
        from pprl.demo import run_demo

    output_folder(out)
    result = run_demo(
        out,
        people=people,
        seed=seed,
        processes=processes,
        threads=threads,
        force=force,
        say=lambda s: console.print(f"[bold]{shown(s)}[/]", highlight=False),
    )
    table = Table(title="Claimed links checked against the synthetic truth")
    table.add_column("")
    runs = [
        (name, summary, metrics)
        for name, summary, metrics in (
            ("insurer", result.summary, result.metrics),
            ("bank", result.bank_summary, result.bank_metrics),
        )
        if summary is not None and metrics is not None
    ]
    for name, _, _ in runs:
        table.add_column(name, justify="right")
    for label, fn in ROWS.items():
        table.add_row(label, *(fn(s, m) for _, s, m in runs))
    console.print(table)
    console.print(
        "recall/precision count suspect, review, unknown and invalid numbers as flagged; "
        "false alarms are correct links not confirmed.",
        highlight=False,
    )
    console.print(
        f"report: {shown(out / 'verify-insurer' / 'report.html')}\n"
        f"        {shown(out / 'verify-bank' / 'report.html')}",
        highlight=False,
    )
