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
    table = Table(title="Claimed links checked against the synthetic truth")
    table.add_column("")
    runs = [(name, summary, metrics) for name, summary, metrics in (
        ("insurer", result.summary, result.metrics),
        ("bank", result.bank_summary, result.bank_metrics)) if summary and metrics]
    for name, _, _ in runs:
        table.add_column(name, justify="right")
    rows = {
        "claims checked": lambda s, m: f"{s['claims']:,}",
        "wrong or invalid links planted": lambda s, m: f"{m['positives']:,}",
        "suspects found": lambda s, m: f"{s['counts']['suspect']:,}",
        "invalid / unknown numbers": lambda s, m: (
            f"{s['counts']['invalid_number']:,} / {s['counts']['unknown_number']:,}"),
        "sent to review": lambda s, m: f"{s['counts']['review']:,}",
        "recall (flagged)": lambda s, m: f"{m['overall']['suspect_or_review']['recall']:.3f}",
        "precision (flagged)": lambda s, m: f"{m['overall']['suspect_or_review']['precision']:.3f}",
        "false alarms per 1,000 correct": lambda s, m: (
            f"{m['false_alarms_per_1000_correct']['total']:.2f}"),
        "true owner named (wrong links)": lambda s, m: (
            f"{m['true_owner_top1']['wrong']['accuracy']:.3f}"),
    }
    for label, fn in rows.items():
        table.add_row(label, *(fn(s, m) for _, s, m in runs))
    console.print(table)
    console.print("recall/precision count suspect, review, unknown and invalid numbers as flagged; "
                  "false alarms are correct links not confirmed.", highlight=False)
    console.print(f"report: {out / 'verify-insurer' / 'report.html'}\n"
                  f"        {out / 'verify-bank' / 'report.html'}", highlight=False)
