"""Jobs, status and results from the command line against a real 'pprl serve' process,
including a server killed in the middle of writing a job's results."""

from __future__ import annotations

import json
import time
from pathlib import Path

import sqlalchemy as sa

from pprl.resultset import check_result_set
from pprl.service.db import database_url, jobs, open_engine
from service.helpers import running_server, verifiable_files
from service.test_cli_service import pprl


def job_states(data: Path, database: str | None) -> list[tuple[str, str | None]]:
    engine = open_engine(database_url(data, database))
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(jobs.c.state, jobs.c.error).order_by(jobs.c.id))
            return [(r.state, r.error) for r in rows]
    finally:
        engine.dispose()


def wait_for(check, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def campaign_with_uploads(url: str, data: Path, tmp_path: Path) -> Path:
    tok = tmp_path / "tokens"
    code, out = pprl(
        "campaign", "create", "c1", "--server", url, "--token-file", data / "operator.token",
        "--reference", "city", "--claims", "ins1,ins2", "--tokens-out", tok,
    )  # fmt: skip
    assert code == 0, out
    for party, path in verifiable_files(tmp_path).items():
        code, out = pprl(
            "client", "upload", path, "--server", url, "--token-file", tok / f"{party}.token"
        )
        assert code == 0, out
    return tok


def test_a_server_killed_mid_job_marks_it_failed_and_delivers_nothing(tmp_path, database):
    data, marker = tmp_path / "data", tmp_path / "paused"
    op = ["--token-file", data / "operator.token", "--campaign", "c1"]
    pause = {"PPRL_TEST_PAUSE_AT": f"files={marker}"}
    with running_server(data, database, tmp_path / "1.log", pause) as (url, proc, _):
        campaign_with_uploads(url, data, tmp_path)
        code, out = pprl("client", "run", "--server", url, *op)
        assert code == 0 and out.strip() == "campaign c1: job 1 queued", out
        wait_for(marker.exists)  # the result set's files are written, its manifest not
        proc.kill()
        proc.wait(timeout=10)
    assert job_states(data, database) == [("running", None)]
    results = data / "campaigns" / "1" / "results"
    assert any(p.name.startswith(".1.pprl-tmp-") for p in results.iterdir())
    assert not (results / "1").exists()
    with running_server(data, database, tmp_path / "2.log") as (url, proc, _):
        assert job_states(data, database) == [
            ("failed", "interrupted: the server stopped while the job was running; run it again")
        ]
        assert list(results.iterdir()) == []
        code, out = pprl("client", "run", "--server", url, *op)
        assert code == 0 and "job 2 queued" in out
        wait_for(lambda: job_states(data, database)[-1][0] == "done")
    assert sorted(p.name for p in results.iterdir()) == ["2"]
    db = ["--database", database] if database else []
    code, out = pprl("audit-log", "verify", "--data", data, *db)
    assert code == 0 and "audit log intact" in out


def test_run_wait_and_status_from_the_command_line(server, tmp_path):
    url, data, _ = server
    tok = campaign_with_uploads(url, data, tmp_path)
    op = ["--server", url, "--token-file", data / "operator.token"]
    code, out = pprl("client", "run", *op, "--campaign", "c1", "--wait")
    assert code == 0 and out.splitlines() == [
        "campaign c1: job 1 queued",
        "campaign c1: job 1 done",
    ]
    code, out = pprl("client", "status", *op)
    lines = out.splitlines()
    assert code == 0 and lines[0] == "campaign c1: reference city; claims ins1, ins2", out
    assert sum(line.startswith("  upload ") for line in lines) == 3
    assert lines[-1] == "  job 1: done"
    code, out = pprl("client", "status", "--server", url, "--token-file", tok / "ins1.token")
    lines = out.splitlines()
    assert code == 0 and lines[0] == "campaign c1, party ins1 (claims)", out
    assert lines[1].startswith("  upload: ins1.parquet, 15 records, digest ")
    assert lines[2] == "  results: ready" and len(lines) == 3
    code, out = pprl(
        "client", "status", "--server", url, "--token-file", tok / "ins1.token", "--campaign", "x"
    )
    assert code == 2 and "this token belongs to campaign 'c1'" in out
    code, out = pprl("client", "status", *op, "--campaign", "c1", "--json")
    assert code == 0 and json.loads(out)["jobs"][0]["state"] == "done"
    code, out = pprl("client", "run", *op, "--campaign", "nope")
    assert code == 2 and out.strip().endswith("no campaign 'nope'")


def test_each_party_fetches_exactly_its_own_results(server, tmp_path, database):
    url, data, _ = server
    tok = campaign_with_uploads(url, data, tmp_path)
    op = data / "operator.token"
    code, out = pprl(
        "client", "run", "--server", url, "--token-file", op, "--campaign", "c1", "--wait"
    )
    assert code == 0, out
    [root] = (data / "campaigns" / "1" / "results").iterdir()
    wanted = {
        "city": ["parties/city.reference.csv"],
        "ins1": ["parties/ins1.csv"],
        "ins2": ["parties/ins2.csv"],
    }
    for party, files in wanted.items():
        out_dir = tmp_path / "got" / party
        code, out = pprl(
            "client",
            "results",
            "--out",
            out_dir,
            "--server",
            url,
            "--token-file",
            tok / f"{party}.token",
        )
        assert code == 0 and "job 1: 1 file(s) written" in out, out
        check_result_set(out_dir)
        got = sorted(str(p.relative_to(out_dir)) for p in out_dir.rglob("*") if p.is_file())
        assert got == sorted([*files, "manifest.json"])
        assert (out_dir / files[0]).read_bytes() == (root / files[0]).read_bytes()
    code, out = pprl(
        "client", "results", "--out", tmp_path / "op", "--server", url, "--token-file", op,
        "--campaign", "c1",
    )  # fmt: skip
    assert code == 0, out
    assert sorted(p.name for p in (tmp_path / "op").iterdir()) == [
        "findings.csv", "findings.parquet", "manifest.json", "report.html", "summary.json",
    ]  # fmt: skip
    # the same folder again needs --force; a file changed on the server is refused
    args = ["--server", url, "--token-file", tok / "ins1.token"]
    code, out = pprl("client", "results", "--out", tmp_path / "got" / "ins1", *args)
    assert code == 2 and "--force" in out, out
    view = root / "parties" / "ins1.csv"
    view.write_bytes(view.read_bytes().replace(b"confirmed", b"suspect__"))
    code, out = pprl("client", "results", "--out", tmp_path / "bad", *args)
    assert code == 2 and len(out.strip().splitlines()) == 1, out
    assert "parties/ins1.csv: the download does not match the result set's digest" in out
    assert not (tmp_path / "bad").exists()
    db = ["--database", database] if database else []
    code, out = pprl("audit-log", "verify", "--data", data, *db)
    assert code == 0 and "audit log intact" in out, out


def test_campaign_delete_and_audit_log_export(server, tmp_path, database):
    url, data, _ = server
    tok = campaign_with_uploads(url, data, tmp_path)
    op = ["--server", url, "--token-file", data / "operator.token"]
    code, out = pprl(
        "campaign", "delete", "c1", "--server", url, "--token-file", tok / "city.token"
    )
    assert code == 2 and "may not delete" in out
    code, out = pprl("campaign", "delete", "c1", *op)
    assert code == 0, out
    assert out.strip() == "campaign c1 deleted: 3 upload(s), 0 job(s), 3 token(s) removed"
    assert list((data / "campaigns").iterdir()) == []
    code, out = pprl("client", "status", "--server", url, "--token-file", tok / "ins1.token")
    assert code == 2 and "token not accepted" in out
    db = ["--database", database] if database else []
    target = tmp_path / "audit.jsonl"
    code, out = pprl("audit-log", "export", "--data", data, *db, "--out", target)
    assert code == 0 and out.strip().endswith(f"entries written to {target}"), out
    actions = [json.loads(line)["action"] for line in target.read_text().splitlines()]
    assert actions.count("upload") == 3 and actions[-2:] == ["delete", "status"]
    code, out = pprl("audit-log", "export", "--data", data, *db, "--out", target)
    assert code == 2 and "exists" in out  # never replaced without --force
    code, out = pprl("audit-log", "verify", "--data", data, *db)
    assert code == 0 and "audit log intact" in out
