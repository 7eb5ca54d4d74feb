"""Campaigns created with auto-run (``pprl campaign create --auto-run``): the last party's
accepted upload queues the verification job, once, audit-logged as ``auto-run``."""

from __future__ import annotations

from service.helpers import (
    API,
    audit,
    auth,
    job_rows,
    operator_token,
    run,
    setup_campaign,
    verifiable_files,
)


def upload(api, token, path):
    return api.put(
        f"{API}/upload",
        content=path.read_bytes(),
        headers={**auth(token), "X-Pprl-Filename": path.name},
    )


def test_the_last_upload_queues_the_job_once(api, service, tmp_path):
    tokens, files = setup_campaign(api, service, tmp_path, upload=("city", "ins1"), auto_run=True)
    assert job_rows(service) == []  # one party still missing: nothing queued
    r = upload(api, tokens["ins2"], files["ins2"])
    assert r.status_code == 200, r.text
    assert r.json()["job"] == 1
    assert api.app.state.runner.wait_idle(60)
    [job] = job_rows(service)
    assert job["state"] == "done", job
    [(outcome, detail)] = audit(service, "auto-run")
    assert outcome == "ok" and detail.startswith("job 1 queued: every party has uploaded")
    assert [o for o, _ in audit(service, "run")] == ["done"]
    # idempotent: a re-upload queues nothing more; the operator can still run again
    r = upload(api, tokens["ins1"], files["ins1"])
    assert r.status_code == 200 and "job" not in r.json()
    assert len(job_rows(service)) == 1 and len(audit(service, "auto-run")) == 1
    assert run(api, service).status_code == 202
    assert api.app.state.runner.wait_idle(60)
    assert [j["state"] for j in job_rows(service)] == ["done", "done"]


def test_without_auto_run_uploads_queue_nothing(api, service, tmp_path):
    setup_campaign(api, service, tmp_path)
    assert job_rows(service) == [] and audit(service, "auto-run") == []


def test_a_refused_upload_does_not_start_the_job(api, service, tmp_path):
    tokens, files = setup_campaign(api, service, tmp_path, upload=("city", "ins1"), auto_run=True)
    # ins2 sends ins1's file: refused (party label), so the campaign is still incomplete
    r = upload(api, tokens["ins2"], files["ins1"])
    assert r.status_code == 422
    assert job_rows(service) == [] and audit(service, "auto-run") == []


def test_auto_run_must_be_a_boolean(api, service):
    r = api.post(
        f"{API}/campaigns",
        json={"name": "c9", "reference": "city", "claims": ["a"], "auto_run": "yes"},
        headers=auth(operator_token(service)),
    )
    assert r.status_code == 400 and r.json()["error"] == "auto_run: true or false"


def test_the_cli_creates_an_auto_run_campaign(server, tmp_path):
    from pprl_cli.main import app
    from typer.testing import CliRunner

    from pprl.service.client import status, wait_for_job

    url, data, _ = server
    op = data / "operator.token"
    r = CliRunner().invoke(
        app,
        ["campaign", "create", "c1", "--server", url, "--token-file", str(op), "--reference",
         "city", "--claims", "ins1,ins2", "--tokens-out", str(tmp_path / "t"), "--auto-run"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    files = verifiable_files(tmp_path)
    for party in ("city", "ins1", "ins2"):
        r = CliRunner().invoke(
            app,
            ["client", "upload", str(files[party]), "--server", url,
             "--token-file", str(tmp_path / "t" / f"{party}.token")],
        )  # fmt: skip
        assert r.exit_code == 0, r.output
        assert ("job 1 queued" in r.output) == (party == "ins2"), r.output
    token = op.read_text().strip()
    assert wait_for_job(url, token, "c1", 1, poll=0.1, timeout=60)["state"] == "done"
    answer = status(url, token, "c1")
    assert [j["job"] for j in answer["jobs"]] == [1]
    assert answer["auto_run"] is True and answer["expires"] is None
    r = CliRunner().invoke(
        app, ["client", "status", "--server", url, "--token-file", str(op), "--campaign", "c1"]
    )
    assert "; runs once every party has uploaded" in r.output
