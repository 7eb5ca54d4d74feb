"""Verification jobs on the server (SQLite and PostgreSQL): queued by the operator, run
by the embedded worker pool on the campaign's uploads, results written as a result set;
a job a stopped server left behind is marked failed, never half-delivered."""

from __future__ import annotations

import json

import sqlalchemy as sa
from blake3 import blake3

from pprl.resultset import check_result_set
from pprl.service.db import jobs
from service.helpers import audit, auth, job_rows, run, setup_campaign

API = "/api/v1"


def test_a_job_verifies_the_uploads_into_a_result_set(api, service, tmp_path):
    setup_campaign(api, service, tmp_path)
    r = run(api, service)
    assert r.status_code == 202, r.text
    assert r.json() == {"campaign": "c1", "job": 1, "state": "queued"}
    assert api.app.state.runner.wait_idle(60)
    [job] = job_rows(service)
    assert job["state"] == "done", job
    assert job["error"] is None and job["started_at"] and job["finished_at"]
    out = service.data / job["result_path"]
    manifest = check_result_set(out)  # complete, every digest right
    assert job["result_digest"] == blake3((out / "manifest.json").read_bytes()).hexdigest()
    delivered = {(f.party, f.role, f.path) for f in manifest.files if f.party}
    assert delivered == {
        ("city", "reference", "parties/city.reference.csv"),
        ("ins1", "claims", "parties/ins1.csv"),
        ("ins2", "claims", "parties/ins2.csv"),
    }
    view = (out / "parties" / "ins1.csv").read_text(encoding="utf-8")
    assert '"ins1.parquet"' in view and "-" not in view.splitlines()[1].split(",")[1]
    assert not (service.data / "campaigns/1/jobs/1").exists()  # the job's input links
    summary = json.loads((out / "summary.json").read_text())
    assert summary["claims"] == 30 and summary["counts"]["confirmed"] >= 1
    outcomes = [o for o, _ in audit(service, "run")]
    assert outcomes == ["ok", "done"]


def test_run_is_refused_until_every_party_uploaded_and_while_a_job_is_active(
    api, service, tmp_path
):
    tokens, _ = setup_campaign(api, service, tmp_path, upload=("city", "ins1"))
    r = run(api, service)
    assert r.status_code == 409 and r.json()["error"] == "campaign 'c1': no upload yet from 'ins2'"
    r = run(api, service, "nope")
    assert r.status_code == 404 and r.json()["error"] == "no campaign 'nope'"
    r = api.post(f"{API}/campaigns/c1/run", headers=auth(tokens["ins1"]))
    assert r.status_code == 403 and "may not run" in r.json()["error"]
    with service.engine.begin() as conn:  # a job another request queued
        conn.execute(
            sa.insert(jobs).values(
                campaign_id=1, campaign="c1", state="running", inputs="[]", created_at="t"
            )
        )
    r = run(api, service)
    assert r.status_code == 409 and r.json()["error"] == "campaign 'c1': job 1 is running already"
    refused = [d for o, d in audit(service, "run") if o == "refused"]
    assert len(refused) == 4 and "no upload yet from 'ins2'" in refused[0]


def test_a_failing_job_is_failed_with_one_line_and_leaves_no_results(api, service, tmp_path):
    setup_campaign(api, service, tmp_path)
    with service.engine.connect() as conn:
        path = conn.execute(sa.text("SELECT path FROM uploads WHERE party = 'ins2'")).scalar()
    (service.data / path).write_bytes(b"not parquet any more")
    assert run(api, service).status_code == 202
    assert api.app.state.runner.wait_idle(60)
    [job] = job_rows(service)
    assert job["state"] == "failed" and job["result_path"] is None
    assert job["error"] and "\n" not in job["error"]
    assert not (service.data / "campaigns/1/results/1").exists()
    assert [o for o, _ in audit(service, "run")] == ["ok", "failed"]


def test_a_restart_marks_interrupted_jobs_failed_and_removes_their_files(service):
    from fastapi.testclient import TestClient

    from pprl.service.app import create_app

    with service.engine.begin() as conn:
        cid = conn.execute(
            sa.text(
                "INSERT INTO campaigns (name, reference, claims, created_at) "
                "VALUES ('c1', 'city', '[\"ins1\"]', 't') RETURNING id"
            )
        ).scalar_one()
        for state in ("running", "queued", "done"):
            conn.execute(
                sa.insert(jobs).values(
                    campaign_id=cid, campaign="c1", state=state, inputs="[]", created_at="t"
                )
            )
    half = service.data / "campaigns" / str(cid) / "results"
    (half / "1").mkdir(parents=True)
    (half / "1" / "findings.csv").write_text("half written")
    (half / ".1.pprl-tmp-0123456789ab").mkdir()
    (half / "3").mkdir()
    links = service.data / "campaigns" / str(cid) / "jobs" / "1" / "ins1"
    links.mkdir(parents=True)
    with TestClient(create_app(service)):
        pass
    states = [(j["state"], j["error"]) for j in job_rows(service)]
    assert states == [
        ("failed", "interrupted: the server stopped while the job was running; run it again"),
        ("failed", "interrupted: the server stopped while the job was queued; run it again"),
        ("done", None),
    ]
    assert sorted(p.name for p in half.iterdir()) == ["3"]  # a done job's set is kept
    assert not links.parent.exists()
    assert [o for o, _ in audit(service, "run")] == ["failed", "failed"]
