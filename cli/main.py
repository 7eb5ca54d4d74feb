"""pprl: verify claimed record links with Bloom-filter encodings, without exchanging identities."""

from __future__ import annotations

import typer
from pprl_cli.demo import demo
from pprl_cli.encoding import encode, inspect, keygen, schema_app
from pprl_cli.evaluation import evaluate
from pprl_cli.matching import match
from pprl_cli.privacy import audit
from pprl_cli.synthesis import synth
from pprl_cli.verification import verify

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__,
                  pretty_exceptions_show_locals=False)
app.command("keygen")(keygen)
app.command("encode")(encode)
app.command("inspect")(inspect)
app.add_typer(schema_app, name="schema")
app.command("match")(match)
app.command("verify")(verify)
app.command("synth")(synth)
app.command("evaluate")(evaluate)
app.command("demo")(demo)
app.command("audit")(audit)
