"""``pprl demo``: the whole story on a small synthetic population."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pprl_cli.common import console, user_errors


@user_errors
def demo(
    out: Annotated[Path, typer.Option(help="Folder for all demo files (replaced).")] = Path("demo-out"),
    people: Annotated[int, typer.Option(help="Residents in the synthetic register.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 2023,
) -> None:
    """synth -> keygen -> each party encodes locally -> verify -> evaluate, with a summary."""
    from rich.table import Table

    from pprl.demo import run_demo

    result = run_demo(out, people=people, seed=seed,
                      say=lambda s: console.print(f"[bold]{s}[/]", highlight=False))
    table = Table(title="Verification of claimed links against the synthetic truth")
    for col in ("claims file", "claims checked", "wrong links planted", "suspects found",
                "to review", "recall", "precision", "false alarms /1,000", "true owner found"):
        table.add_column(col, justify="right")
    for name, summary, metrics in (("insurer", result.summary, result.metrics),
                                   ("bank", result.bank_summary, result.bank_metrics)):
        if summary is None or metrics is None:
            continue
        flagged = metrics["overall"]["suspect_or_review"]
        owner = metrics["true_owner_top1"]["wrong"]
        table.add_row(name, f"{summary['claims']:,}", f"{metrics['positives']:,}",
                      f"{summary['counts']['suspect']:,}", f"{summary['counts']['review']:,}",
                      f"{flagged['recall']:.3f}", f"{flagged['precision']:.3f}",
                      f"{metrics['false_alarms_per_1000_correct']['total']:.2f}",
                      f"{owner['accuracy']:.3f}")
    console.print(table)
    console.print("recall/precision count suspect, review, unknown and invalid numbers as flagged; "
                  "false alarms are correct links not confirmed.", highlight=False)
    console.print(f"report: {out / 'verify-insurer' / 'report.html'}\n"
                  f"        {out / 'verify-bank' / 'report.html'}", highlight=False)
