"""``pprl synth``: write a synthetic register, claims files and truth with planted mislinks."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pprl_cli.common import console, err_console, output_folder, shown, user_errors

# pprl.synth.config is light (the generator and numpy load when the command runs)
from pprl.synth.config import MAX_PEOPLE, MAX_SEED, MIN_PEOPLE, PROFILES

if TYPE_CHECKING:
    from pprl.synth.config import SynthSummary


@user_errors
def synth(
    people: Annotated[
        int,
        typer.Option(
            "--people",
            metavar="N",
            min=MIN_PEOPLE,
            max=MAX_PEOPLE,
            help=f"Number of residents in the register ({MIN_PEOPLE} to {MAX_PEOPLE:,}).",
        ),
    ],
    seed: Annotated[
        int,
        typer.Option(
            "--seed",
            metavar="N",
            min=0,
            max=MAX_SEED,
            help=f"Random seed (0 to {MAX_SEED}); the same seed gives byte-identical files.",
        ),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            metavar="DIR",
            help="Output directory (created if missing; not a pprl result set).",
        ),
    ],
    claims: Annotated[
        int | None,
        typer.Option(
            "--claims",
            metavar="N",
            min=0,
            show_default="half of --people",
            help="Insurer records to write.",
        ),
    ] = None,
    mislink_rate: Annotated[
        float,
        typer.Option(
            "--mislink-rate",
            metavar="RATE",
            min=0.0,
            max=0.2,
            help="Share of claim records linked to the wrong resident (0 to 0.2).",
        ),
    ] = 0.01,
    bank_claims: Annotated[
        int,
        typer.Option(
            "--bank-claims",
            metavar="N",
            min=0,
            help="Bank account registrations to write (0: no bank.csv).",
        ),
    ] = 0,
    invalid_rate: Annotated[
        float,
        typer.Option(
            "--invalid-rate",
            metavar="RATE",
            help="Share of claim records whose number fails the check digit.",
        ),
    ] = 0.002,
    profile: Annotated[
        str,
        typer.Option(
            "--profile",
            metavar="|".join(PROFILES),
            help="Population preset: default, or hard (more same-date namesakes, twins, "
            "maiden names, moves, half-width kana and kana typos; see docs/synthetic-data.md).",
        ),
    ] = "default",
    export_layout: Annotated[
        bool,
        typer.Option(
            "--export-layout",
            help="Also write insurer-export.csv: the insurer's records as a typical Japanese "
            "system export (CP932, Japanese headers, 被保険者番号, full names, half-width kana, "
            "era dates), row for row as insurer.csv.",
        ),
    ] = False,
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace synth files already in DIR (never a result set)."),
    ] = False,
) -> None:
    """Generate register.csv, insurer.csv, bank.csv (optional) and truth.csv in --out."""
    from rich.progress import (
        BarColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from pprl.synth import SynthConfig, generate
    from pprl.synth.config import profile_named
    from pprl.synth.generator import check_out

    config = SynthConfig(
        people=people,
        seed=seed,
        claims=claims,
        mislink_rate=mislink_rate,
        bank_claims=bank_claims,
        invalid_rate=invalid_rate,
        profile=profile_named(profile),
        export_layout=export_layout,
    )
    check_out(config, out, force)  # before anything is created
    output_folder(out)
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,} rows"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(
        *columns, console=err_console, transient=False, disable=not err_console.is_terminal
    ) as bar:
        expected = people + (people // 2 if claims is None else claims) + bank_claims
        task = bar.add_task("synth", total=max(expected, 1))

        def progress(done: int, total: int) -> None:
            """Move the bar to ``done`` of ``total`` rows."""
            bar.update(task, completed=done, total=total)

        summary = generate(config, out, progress, force=force)
    _print_summary(summary)


def _print_summary(summary: SynthSummary) -> None:
    """Show what was written and how many errors of each kind were planted."""
    from rich.table import Table

    table = Table(
        title=f"{summary.people:,} residents in {summary.households:,} households "
        f"(profile {summary.profile}, {summary.seconds:.1f} s)"
    )
    table.add_column("file")
    table.add_column("error kind")
    table.add_column("planted", justify="right")
    for fname, counts in summary.planted.items():
        for kind, n in counts.items():
            table.add_row(shown(fname), shown(kind), f"{n:,}")
    console.print(table)
    console.print("wrote " + ", ".join(shown(p) for p in summary.files.values()), highlight=False)
