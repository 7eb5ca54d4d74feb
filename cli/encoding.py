"""``pprl keygen``, ``pprl encode``, ``pprl inspect`` and ``pprl schema show``: the data holder's side."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from pprl_cli.common import (
    Command,
    Group,
    Processes,
    check_format,
    console,
    err_console,
    input_file,
    output_file,
    print_json,
    progress_bar,
    shown,
    user_errors,
    visible,
    writing,
)

from pprl.errors import InputError
from pprl.keys import key_file_exposure, load_secret, write_secret
from pprl.schema import BUILTIN_SCHEMAS, builtin_document

schema_app = typer.Typer(no_args_is_help=True, help="Built-in linkage schemas.", cls=Group)


@user_errors
def keygen(
    out: Annotated[
        Path, typer.Argument(metavar="FILE", help="Where to write the new secret (mode 0600).")
    ],
) -> None:
    """Write a new random 256-bit secret (64 hex characters) to FILE; never overwrites.

    Share it only among the data holders, over a secure channel. The matcher must
    never receive it.
    """
    path = write_secret(out)
    console.print(
        f"wrote secret to {shown(path)} (mode 0600); fingerprint {load_secret(path).fingerprint}",
        highlight=False,
    )


@user_errors
def encode(
    input: Annotated[
        Path, typer.Argument(metavar="CSV", help="The party's CSV file (UTF-8 or CP932).")
    ],
    schema: Annotated[
        str,
        typer.Option(
            metavar="NAME|FILE",
            help=f"Built-in schema ({', '.join(BUILTIN_SCHEMAS)}) or a clkhash v3 schema file.",
        ),
    ],
    secret: Annotated[Path, typer.Option(metavar="FILE", help="Secret file from 'pprl keygen'.")],
    out: Annotated[
        Path,
        typer.Option(
            metavar="FILE",
            help="Encoding file to write (.parquet, or .json with --format clkhash-json).",
        ),
    ],
    party: Annotated[
        str | None,
        typer.Option(
            metavar="LABEL",
            show_default="the CSV file's name without extension",
            help="Party label stored in the file.",
        ),
    ] = None,
    role: Annotated[
        str,
        typer.Option(
            metavar="register|claims",
            help="What the file is for, recorded in it: 'register' for the register holder's "
            "reference file, 'claims' for a party whose claimed links are checked. "
            "'pprl verify' refuses a claims file as --reference and a register file as --claims.",
        ),
    ] = "claims",
    link_key: Annotated[
        str | None,
        typer.Option(
            metavar="COLUMN",
            show_default="the schema's",
            help="Column pseudonymized as the link key.",
        ),
    ] = None,
    column: Annotated[
        list[str] | None,
        typer.Option(
            metavar="FIELD=HEADER",
            show_default="the schema's field names",
            help="Map a schema field to another CSV header (repeatable).",
        ),
    ] = None,
    encoding: Annotated[
        str | None,
        typer.Option(
            metavar="CODEC", show_default="detect UTF-8 / CP932", help="Text encoding of the CSV."
        ),
    ] = None,
    format: Annotated[
        str,
        typer.Option(
            metavar="parquet|clkhash-json",
            help="Output format: Parquet (keeps pseudonyms and block keys) or clkhash's JSON "
            "(CLKs only).",
        ),
    ] = "parquet",
    strict: Annotated[
        bool,
        typer.Option(
            "--strict",
            help="Fail on a missing or invalid link key instead of encoding a null pseudonym, "
            "and on a secret file that group or other users can access instead of warning.",
        ),
    ] = False,
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace an existing FILE (never the CSV or the key file)."),
    ] = False,
    processes: Processes = None,
    sidecar: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            show_default="CSV.pprl-local.json beside the CSV",
            help="Where to write the local sidecar (the CSV's row count and digest, for "
            "'pprl worklist'); never send it to the matcher.",
        ),
    ] = None,
) -> None:
    """Encode a CSV into CLKs and keyed link-key pseudonyms, locally, with the shared secret.

    Also writes a local sidecar beside the CSV (CSV.pprl-local.json) that 'pprl
    worklist' checks the CSV against later; it stays with the CSV, never send it.
    """
    from pprl import sidecar as sidecars
    from pprl.labels import validate_label
    from pprl.party import encode_csv_file
    from pprl.read import parse_column_map
    from pprl.resultset import check_output_file
    from pprl.schema import load_schema
    from pprl.store import ROLES

    check_format(format, ("parquet", "clkhash-json"))
    if role not in ROLES:
        raise InputError(f"--role must be {' or '.join(ROLES)}, not {role!r}")
    if party is not None:
        validate_label(party, what="--party")
    input_file(input)
    input_file(secret, "--secret", allow_pipe=True)  # never /dev/zero or a folder
    output_file(out)
    inputs = [input, secret, *([Path(schema)] if Path(schema).is_file() else [])]
    check_output_file(out, force=force, inputs=inputs)
    side = sidecars.plan(input, sidecar, inputs=[*inputs, out])
    if side.problem:
        err_console.print(f"[yellow]warning:[/] {shown(side.problem)}", highlight=False)
    key = load_secret(secret, strict=strict)
    exposed = key_file_exposure(secret)
    if exposed is not None:
        err_console.print(f"[yellow]warning:[/] {shown(exposed)}", highlight=False)
    sch = load_schema(schema).with_link_key(link_key)
    # written as it is encoded, in memory bounded by the chunk size (pprl.store.EncodingsWriter)
    with progress_bar(f"encoding {input.name}", None) as advance, writing(out):
        written, report = encode_csv_file(
            input,
            out,
            sch,
            key,
            format=format,
            force=force,
            inputs=inputs,
            encoding=encoding,
            column_map=parse_column_map(column),
            party=party,
            role=role,
            strict=strict,
            processes=processes,
            progress=advance,
        )
    for line in report.warnings():
        err_console.print(f"[yellow]warning:[/] {shown(input)}: {shown(line)}", highlight=False)
    for problem in side.write(
        out, written.meta, written.count, report.records, report.text_encoding
    ):
        err_console.print(f"[yellow]warning:[/] {shown(problem)}", highlight=False)
    decoys = written.count - report.records
    extra = f" and {decoys} decoy records" if decoys else ""
    console.print(
        f"encoded {report.records} records{extra} from {shown(input)} "
        f"({shown(report.text_encoding)}) with schema {shown(sch.name)} -> {shown(out)}",
        highlight=False,
    )


@user_errors
def inspect(
    file: Annotated[
        Path, typer.Argument(metavar="FILE", help="Encoding file (.parquet or clkhash .json).")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check an encoding file and print its metadata and bit statistics (never secrets)."""
    from pprl.store import bit_statistics, read_encodings

    input_file(file)
    enc = read_encodings(file)
    meta = {k: v for k, v in enc.meta.items() if k not in ("schema", "field_digests")}
    sections: dict[str, dict[str, Any]] = {"metadata": meta, "statistics": bit_statistics(enc)}
    if as_json:
        print_json({"file": str(file), **sections})
        return
    console.print(f"[bold]{shown(file)}[/]: integrity OK", highlight=False)
    for section, values in sections.items():
        console.print(f"[bold]{section}[/]")
        for key, value in values.items():  # keys and values come from the file: untrusted
            console.print(f"  {shown(f'{visible(key):<22}')} {shown(value)}", highlight=False)


@schema_app.command("show", cls=Command)
@user_errors
def schema_show(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Built-in schema name.")],
) -> None:
    """Print a built-in schema (clkhash v3 plus the pprl extension) as JSON."""
    print_json(builtin_document(name))


@schema_app.command("list", cls=Command)
def schema_list() -> None:
    """List the built-in schemas."""
    for name in BUILTIN_SCHEMAS:
        print(name)
