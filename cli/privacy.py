"""``pprl audit``: measure what stated attacks re-identify from an encoding file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pprl_cli.common import console, input_file, print_json, shown, user_errors


@user_errors
def audit(
    encodings: Annotated[Path, typer.Argument(metavar="FILE", help="An encoding file (.parquet).")],
    attacker_names: Annotated[
        Path | None,
        typer.Option(
            metavar="CSV",
            show_default="none: no frequency or pattern-mining attack",
            help="CSV field,name,frequency: the public name list the attacker uses "
            "(frequency and pattern-mining attacks).",
        ),
    ] = None,
    attacker_records: Annotated[
        Path | None,
        typer.Option(
            metavar="CSV",
            show_default="none: no graph-matching attack",
            help="CSV of plaintext records the attacker holds (the schema's fields, optional "
            "known_row): runs the graph-matching attack.",
        ),
    ] = None,
    truth: Annotated[
        Path | None,
        typer.Option(
            metavar="CSV",
            show_default="none: attacks are not scored",
            help="CSV with the true names per row (the party's CSV works); only scores attacks.",
        ),
    ] = None,
    sample: Annotated[
        int, typer.Option(metavar="N", min=1, help="Records used to mine bit patterns.")
    ] = 20_000,
    as_json: Annotated[bool, typer.Option("--json", help="Print the full report as JSON.")] = False,
) -> None:
    """Run stated attacks without the secret and report what they re-identify.

    Frequency and pattern mining with --attacker-names, graph matching with --attacker-records.

    The result is a measurement of the stated attacks, never a guarantee.
    """
    from pprl.privacy.audit import audit as run_audit
    from pprl.privacy.audit import summary_lines

    for path in (encodings, attacker_names, attacker_records, truth):
        if path is not None:
            input_file(path)
    report = run_audit(
        encodings, attacker_names, truth, sample=sample, attacker_records=attacker_records
    )
    if as_json:
        print_json(report)
        return
    for line in summary_lines(report):
        console.print(shown(line), highlight=False, soft_wrap=True)
