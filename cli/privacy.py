"""``pprl audit``: measure what stated attacks re-identify from an encoding file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from pprl_cli.common import console, user_errors


@user_errors
def audit(
    encodings: Annotated[Path, typer.Argument(help="An encoding file (.parquet).")],
    attacker_names: Annotated[Path, typer.Option(
        help="CSV field,name,frequency: the public name list the attacker uses.")],
    truth: Annotated[Path | None, typer.Option(
        help="CSV with the true names per row (the party's CSV works); only scores attacks.")]
    = None,
    sample: Annotated[int, typer.Option(help="Records used to mine bit patterns.")] = 20_000,
    as_json: Annotated[bool, typer.Option("--json", help="Print the full report as JSON.")]
    = False,
) -> None:
    """Run a frequency and a pattern-mining attack without the secret; report what they get.

    The result is a measurement of the stated attacks, never a guarantee.
    """
    from pprl.privacy.audit import audit as run_audit
    from pprl.privacy.audit import summary_lines

    report = run_audit(encodings, attacker_names, truth, sample=sample)
    if as_json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return
    for line in summary_lines(report):
        console.print(line, highlight=False, soft_wrap=True)
