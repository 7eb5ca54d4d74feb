"""``pprl serve``, ``pprl campaign``, ``pprl client``, ``pprl audit-log``: the central
matcher as a service and its clients. The service's libraries (FastAPI, uvicorn,
SQLAlchemy, alembic, httpx) load only when one of these commands runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from pprl_cli.common import Command, Group, console, fail, user_errors

campaign_app = typer.Typer(
    no_args_is_help=True, help="Create, revoke and delete campaigns (operator).", cls=Group
)
client_app = typer.Typer(no_args_is_help=True, help="A party's side of the service.", cls=Group)
audit_log_app = typer.Typer(no_args_is_help=True, help="The service's audit log.", cls=Group)

ServerOption = Annotated[
    str, typer.Option("--server", metavar="URL", help="The service, e.g. http://127.0.0.1:8750.")
]
TokenOption = Annotated[
    Path, typer.Option("--token-file", metavar="FILE", help="The file holding your token.")
]
CaCertOption = Annotated[
    Path | None,
    typer.Option(
        "--ca-cert",
        metavar="FILE",
        show_default="the system's trusted authorities",
        help="Trust this PEM certificate (authority) for an https:// server.",
    ),
]
DataOption = Annotated[
    Path, typer.Option("--data", metavar="DIR", help="The service's data folder.")
]
DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database",
        metavar="URL",
        show_default="an SQLite file under --data",
        help="A PostgreSQL database, postgresql://USER@HOST:PORT/NAME.",
    ),
]


@user_errors
def serve(
    data: DataOption,
    host: Annotated[str, typer.Option("--host", metavar="HOST", help="Address to listen on.")] = (
        "127.0.0.1"
    ),
    port: Annotated[
        int, typer.Option("--port", metavar="PORT", min=0, max=65535, help="Port to listen on.")
    ] = 8750,
    database: DatabaseOption = None,
    max_upload_mb: Annotated[
        int,
        typer.Option(
            "--max-upload-mb", metavar="MB", min=1, help="Largest encoding file accepted, MiB."
        ),
    ] = 2048,
    job_workers: Annotated[
        int,
        typer.Option(
            "--job-workers", metavar="N", min=1, max=64, help="Verification jobs run at once."
        ),
    ] = 1,
    tls_cert: Annotated[
        Path | None,
        typer.Option(
            "--tls-cert",
            metavar="FILE",
            show_default="plain http://",
            help="Serve https:// with this PEM certificate (chain).",
        ),
    ] = None,
    tls_key: Annotated[
        Path | None,
        typer.Option(
            "--tls-key",
            metavar="FILE",
            show_default="none",
            help="The certificate's PEM private key (with --tls-cert).",
        ),
    ] = None,
    max_concurrent: Annotated[
        int,
        typer.Option(
            "--max-concurrent",
            metavar="N",
            min=1,
            max=4096,
            help="Requests handled at once; past it the server answers 503 with Retry-After.",
        ),
    ] = 64,
) -> None:
    """Run the central matcher's service (HTTP API over a database).

    The first start writes the operator token to DIR/operator.token (mode 0600); it is
    never printed."""
    from pprl.service.server import serve as run

    run(
        data,
        host=host,
        port=port,
        database=database,
        max_upload=max_upload_mb << 20,
        job_workers=job_workers,
        max_concurrent=max_concurrent,
        announce=lambda line: console.print(line, highlight=False, soft_wrap=True),
        tls_cert=tls_cert,
        tls_key=tls_key,
    )


def _trust(ca_cert: Path | None) -> None:
    from pprl.service.client import use_ca_cert

    use_ca_cert(ca_cert)


def _token(path: Path) -> str:
    from pprl.service.tokens import read_token_file

    return read_token_file(path)


@campaign_app.command("create", cls=Command)
@user_errors
def campaign_create(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The campaign's name.")],
    server: ServerOption,
    token_file: TokenOption,
    reference: Annotated[
        str, typer.Option("--reference", metavar="PARTY", help="The register holder's label.")
    ],
    claims: Annotated[
        str,
        typer.Option("--claims", metavar="P1[,P2...]", help="The claims parties' labels."),
    ],
    tokens_out: Annotated[
        Path,
        typer.Option(
            "--tokens-out",
            metavar="DIR",
            help="Where to write PARTY.token for each party (mode 0600).",
        ),
    ],
    schema: Annotated[
        str | None,
        typer.Option(
            "--schema",
            metavar="NAME",
            show_default="any schema",
            help="Require uploads encoded with this built-in schema.",
        ),
    ] = None,
    retention_days: Annotated[
        int | None,
        typer.Option(
            "--retention-days",
            metavar="N",
            min=1,
            show_default="none recorded",
            help="Delete the campaign's files and rows N days after its creation.",
        ),
    ] = None,
    auto_run: Annotated[
        bool,
        typer.Option("--auto-run", help="Start verification once every party has uploaded."),
    ] = False,
    ca_cert: CaCertOption = None,
) -> None:
    """Create a campaign and one token per party (operator token)."""
    _trust(ca_cert)
    from pprl.service.client import create_campaign

    parties = [p.strip() for p in claims.split(",")]
    if not all(parties):
        fail("--claims: an empty party label")
    result = create_campaign(
        server,
        _token(token_file),
        name,
        reference,
        parties,
        tokens_out,
        schema,
        retention_days,
        auto_run,
    )
    console.print(f"campaign {name} created; tokens written:", highlight=False)
    for path in result["token_files"]:
        console.print(f"  {path}", highlight=False, soft_wrap=True)


@campaign_app.command("revoke", cls=Command)
@user_errors
def campaign_revoke(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The campaign's name.")],
    party: Annotated[str, typer.Option("--party", metavar="PARTY", help="The party to cut off.")],
    server: ServerOption,
    token_file: TokenOption,
    ca_cert: CaCertOption = None,
) -> None:
    """Revoke every token of one party of a campaign (operator token)."""
    _trust(ca_cert)
    from pprl.service.client import revoke

    result = revoke(server, _token(token_file), name, party)
    console.print(
        f"campaign {name}: party {party}: {result.get('revoked', 0)} token(s) revoked",
        highlight=False,
    )


@campaign_app.command("delete", cls=Command)
@user_errors
def campaign_delete(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The campaign's name.")],
    server: ServerOption,
    token_file: TokenOption,
    ca_cert: CaCertOption = None,
) -> None:
    """Delete a campaign's files and rows; the audit log keeps its entries (operator).

    Removes its encoding files, results, uploads, jobs and tokens."""
    _trust(ca_cert)
    from pprl.service.client import delete

    result = delete(server, _token(token_file), name)
    console.print(
        f"campaign {name} deleted: {result['uploads']} upload(s), {result['jobs']} job(s), "
        f"{result['tokens']} token(s) removed",
        highlight=False,
    )


@client_app.command("upload", cls=Command)
@user_errors
def client_upload(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="Your encoding file (.parquet).")],
    server: ServerOption,
    token_file: TokenOption,
    ca_cert: CaCertOption = None,
) -> None:
    """Upload your encoding file; the server checks it as 'pprl verify' would."""
    _trust(ca_cert)
    from pprl.service.client import upload

    result = upload(server, _token(token_file), file)
    console.print(
        f"uploaded {file.name}: {result['records']:,} records, digest {result['digest']} "
        f"(campaign {result['campaign']}, party {result['party']}, {result['role']})",
        highlight=False,
        soft_wrap=True,
    )
    if "job" in result:
        console.print(
            f"every party has uploaded: job {result['job']} queued (campaign {result['campaign']})",
            highlight=False,
            soft_wrap=True,
        )


@client_app.command("run", cls=Command)
@user_errors
def client_run(
    server: ServerOption,
    token_file: TokenOption,
    campaign: Annotated[
        str, typer.Option("--campaign", metavar="NAME", help="The campaign to verify.")
    ],
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait until the job is done or failed.")
    ] = False,
    ca_cert: CaCertOption = None,
) -> None:
    """Run the campaign's verification on the server as a job (operator token)."""
    _trust(ca_cert)
    from pprl.service.client import run, wait_for_job

    token = _token(token_file)
    result = run(server, token, campaign)
    console.print(
        f"campaign {campaign}: job {result['job']} {result['state']}",
        highlight=False,
        soft_wrap=True,
    )
    if wait:
        job = wait_for_job(server, token, campaign, int(result["job"]))
        if job.get("state") == "failed":
            fail(f"campaign {campaign}: job {job['job']} failed: {job.get('error')}")
        console.print(f"campaign {campaign}: job {job['job']} done", highlight=False)


def _status_lines(answer: dict[str, Any]) -> list[str]:
    """``pprl client status`` as lines of text."""
    if "party" in answer:  # a party's view
        up = answer.get("upload")
        return [
            f"campaign {answer['campaign']}, party {answer['party']} ({answer['role']})",
            "  upload: "
            + (
                f"{up['file']}, {up['records']:,} records, digest {up['digest']}, "
                f"at {up['uploaded']}"
                if up
                else "none yet"
            ),
            "  results: " + ("ready" if answer.get("results_ready") else "not ready yet"),
        ]
    lines = []
    for camp in answer.get("campaigns", [answer]):
        lines.append(
            f"campaign {camp['campaign']}: reference {camp['reference']}; claims "
            + ", ".join(camp["claims"])
            + ("; runs once every party has uploaded" if camp.get("auto_run") else "")
            + (f"; expires {camp['expires']}" if camp.get("expires") else "")
        )
        for up in camp["uploads"]:
            lines.append(
                f"  upload {up['party']} ({up['role']}): {up['file']}, {up['records']:,} "
                f"records, digest {up['digest']}, at {up['uploaded']}"
            )
        if camp["waiting_for"]:
            lines.append("  waiting for uploads from: " + ", ".join(camp["waiting_for"]))
        for job in camp["jobs"]:
            end = f", {job['error']}" if job.get("error") else ""
            lines.append(f"  job {job['job']}: {job['state']}{end}")
    return lines


@client_app.command("status", cls=Command)
@user_errors
def client_status(
    server: ServerOption,
    token_file: TokenOption,
    campaign: Annotated[
        str | None,
        typer.Option(
            "--campaign",
            metavar="NAME",
            show_default="your token's campaign (operator: all)",
            help="The campaign to show.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")] = False,
    ca_cert: CaCertOption = None,
) -> None:
    """Show the campaign as your token may see it.

    The operator sees uploads and jobs; a party its own upload and whether results are
    ready."""
    _trust(ca_cert)
    import json

    from pprl.service.client import status

    answer = status(server, _token(token_file), campaign)
    if as_json:
        typer.echo(json.dumps(answer, ensure_ascii=False, indent=2))
        return
    for line in _status_lines(answer):
        console.print(line, highlight=False, soft_wrap=True)


@client_app.command("results", cls=Command)
@user_errors
def client_results(
    out: Annotated[Path, typer.Option("--out", metavar="DIR", help="Where to write your results.")],
    server: ServerOption,
    token_file: TokenOption,
    campaign: Annotated[
        str | None,
        typer.Option(
            "--campaign",
            metavar="NAME",
            show_default="your token's campaign",
            help="The campaign (required with the operator token).",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace results this command wrote before.")
    ] = False,
    ca_cert: CaCertOption = None,
) -> None:
    """Download your own results of the campaign's latest job, checked by digest.

    A claims party gets its rows, the register holder its reference view, the operator
    the summary, the report and the findings."""
    _trust(ca_cert)
    from pprl.service.client import results

    answer = results(server, _token(token_file), out, campaign, force)
    console.print(
        f"campaign {answer['campaign']}, job {answer['job']}: "
        f"{len(answer['files'])} file(s) written to {out}",
        highlight=False,
        soft_wrap=True,
    )
    for path in answer["files"]:
        console.print(f"  {path}", highlight=False, soft_wrap=True)


@audit_log_app.command("verify", cls=Command)
@user_errors
def audit_log_verify(data: DataOption, database: DatabaseOption = None) -> None:
    """Check the audit log's hash chain; name the first broken link."""
    from pprl.service.audit import verify_chain
    from pprl.service.state import open_database

    report = verify_chain(open_database(data, database))
    if report.broken is not None:
        fail(f"audit log broken after {report.entries} intact entries: {report.broken}")
    console.print(f"audit log intact: {report.entries} entries", highlight=False)


@audit_log_app.command("export", cls=Command)
@user_errors
def audit_log_export(
    data: DataOption,
    out: Annotated[
        Path, typer.Option("--out", metavar="FILE", help="The JSON Lines file to write.")
    ],
    database: DatabaseOption = None,
    force: Annotated[bool, typer.Option("--force", help="Replace FILE.")] = False,
) -> None:
    """Export the audit log as JSON Lines, one entry a line with its hashes."""
    from pprl.service.audit import export_jsonl
    from pprl.service.state import open_database

    n = export_jsonl(open_database(data, database), out, force=force)
    console.print(f"{n} audit log entries written to {out}", highlight=False, soft_wrap=True)
