"""The service from the command line, as users run it: 'pprl serve' in its own process
on a free loopback port, and the campaign, client and audit-log commands against it."""

from __future__ import annotations

import os
import stat

import sqlalchemy as sa
from pprl_cli.main import app
from typer.testing import CliRunner

from service.helpers import encoding_file, free_port

runner = CliRunner()


def pprl(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.output


def test_operator_party_story(server, tmp_path, database):
    url, data, log = server
    op = data / "operator.token"
    assert stat.S_IMODE(op.stat().st_mode) == 0o600
    secret = op.read_text().strip()
    code, out = pprl(
        "campaign",
        "create",
        "c1",
        "--server",
        url,
        "--token-file",
        op,
        "--reference",
        "city",
        "--claims",
        "ins1,ins2",
        "--tokens-out",
        tmp_path / "tokens",
        "--schema",
        "jp-resident",
        "--retention-days",
        "30",
    )
    assert code == 0, out
    files = sorted((tmp_path / "tokens").iterdir())
    assert [f.name for f in files] == ["city.token", "ins1.token", "ins2.token"]
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    issued = [f.read_text().strip() for f in files]
    # the same folder again: refused before the server is asked
    code, out = pprl(
        "campaign",
        "create",
        "c2",
        "--server",
        url,
        "--token-file",
        op,
        "--reference",
        "city",
        "--claims",
        "ins1",
        "--tokens-out",
        tmp_path / "tokens",
    )
    assert code == 2 and "exists already" in out
    reg = encoding_file(tmp_path / "register.parquet", "city", "register")
    ins1 = encoding_file(tmp_path / "ins1.parquet", "ins1", "claims", seed=1)
    tok = tmp_path / "tokens"
    code, out = pprl("client", "upload", reg, "--server", url, "--token-file", tok / "city.token")
    assert code == 0 and "uploaded register.parquet: 20 records" in out, out
    # another party's token is refused, with one line
    code, out = pprl("client", "upload", ins1, "--server", url, "--token-file", tok / "ins2.token")
    assert code == 2 and len(out.strip().splitlines()) == 1
    assert "party label 'ins1', but this token belongs to party 'ins2'" in out
    other = encoding_file(tmp_path / "other.parquet", "ins1", "claims", fingerprint="e" * 16)
    code, out = pprl("client", "upload", other, "--server", url, "--token-file", tok / "ins1.token")
    assert code == 2 and "different secrets" in out
    big = tmp_path / "big.parquet"
    big.write_bytes(os.urandom((1 << 20) + 10))
    code, out = pprl("client", "upload", big, "--server", url, "--token-file", tok / "ins1.token")
    assert code == 2 and "larger than the server's upload limit" in out
    code, out = pprl(
        "campaign", "revoke", "c1", "--party", "ins1", "--server", url, "--token-file", op
    )
    assert code == 0 and "1 token(s) revoked" in out
    code, out = pprl("client", "upload", ins1, "--server", url, "--token-file", tok / "ins1.token")
    assert code == 2 and "token revoked" in out
    code, out = pprl(
        "campaign",
        "create",
        "c9",
        "--server",
        url,
        "--token-file",
        tok / "city.token",
        "--reference",
        "a",
        "--claims",
        "b",
        "--tokens-out",
        tmp_path / "t9",
    )
    assert code == 2 and "may not create campaign" in out
    db = ["--database", database] if database else []
    code, out = pprl("audit-log", "verify", "--data", data, *db)
    assert code == 0 and "audit log intact: 8 entries" in out, out
    # edit one row of the audit table directly: detected, and the entry is named
    from pprl.service.db import database_url, open_engine

    engine = open_engine(database_url(data, database))
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_log SET outcome = 'ok' WHERE seq = 4"))
    engine.dispose()
    code, out = pprl("audit-log", "verify", "--data", data, *db)
    assert code == 2 and "entry 4 (upload): its fields do not match its hash" in out, out
    log.seek(0)
    served = log.read().decode()
    assert "operator token in" in served
    for token in [secret, *issued]:
        assert token not in served


def test_client_errors_are_one_line(tmp_path):
    tok = tmp_path / "t.token"
    tok.write_text("not a token\n")
    f = encoding_file(tmp_path / "x.parquet", "ins1", "claims")
    code, out = pprl("client", "upload", f, "--server", "http://127.0.0.1:9", "--token-file", tok)
    assert code == 2 and "not a pprl token file" in out and "not a token" not in out
    tok.write_text("pprl-token-abc\n")
    code, out = pprl(
        "client", "upload", f, "--server", f"http://127.0.0.1:{free_port()}", "--token-file", tok
    )
    assert code == 2 and "cannot reach the server" in out
    code, out = pprl("client", "upload", f, "--server", "ftp://x", "--token-file", tok)
    assert code == 2 and "give an http:// or https:// URL" in out
    code, out = pprl("audit-log", "verify", "--data", tmp_path / "none")
    assert code == 2 and "holds no service database" in out
