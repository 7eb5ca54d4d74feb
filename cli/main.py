"""pprl: verify claimed record links with Bloom-filter encodings, without exchanging identities."""

from __future__ import annotations

from typing import Annotated

import typer
from pprl_cli.common import Command, Group, console
from pprl_cli.demo import demo
from pprl_cli.encoding import encode, inspect, keygen, schema_app
from pprl_cli.evaluation import evaluate
from pprl_cli.matching import match
from pprl_cli.privacy import audit
from pprl_cli.service import audit_log_app, campaign_app, client_app, serve
from pprl_cli.synthesis import synth
from pprl_cli.verification import verify
from pprl_cli.worklist import worklist

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help=__doc__,
    cls=Group,
    pretty_exceptions_show_locals=False,
)


def _print_version(value: bool) -> None:
    """Print the version and exit (eager: before any command runs)."""
    if value:
        from pprl import __version__

        console.print(f"pprl {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """pprl: verify claimed record links with Bloom-filter encodings, without exchanging
    identities."""


app.command("keygen", cls=Command)(keygen)
app.command("encode", cls=Command)(encode)
app.command("inspect", cls=Command)(inspect)
app.add_typer(schema_app, name="schema")
app.command("match", cls=Command)(match)
app.command("verify", cls=Command)(verify)
app.command("worklist", cls=Command)(worklist)
app.command("synth", cls=Command)(synth)
app.command("evaluate", cls=Command)(evaluate)
app.command("demo", cls=Command)(demo)
app.command("audit", cls=Command)(audit)
app.command("serve", cls=Command)(serve)
app.add_typer(campaign_app, name="campaign")
app.add_typer(client_app, name="client")
app.add_typer(audit_log_app, name="audit-log")
