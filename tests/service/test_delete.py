"""``DELETE /campaigns/{name}`` removes a campaign's encoding files, results and rows and
keeps its audit entries; the audit log exports as JSON Lines that carry the chain."""

from __future__ import annotations

import json

import sqlalchemy as sa

from pprl.service.audit import GENESIS, entry_hash, export_jsonl, verify_chain
from pprl.service.db import audit_log, campaigns, jobs, tokens, uploads
from service.helpers import audit, auth, operator_token, run, setup_campaign

API = "/api/v1"


def count(service, table):
    with service.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def delete(api, token, name="c1"):
    return api.delete(f"{API}/campaigns/{name}", headers=auth(token))


def test_delete_removes_files_and_rows_and_keeps_the_audit_log(api, service, tmp_path):
    op = operator_token(service)
    t1, _ = setup_campaign(api, service, tmp_path / "a")
    assert run(api, service).status_code == 202
    assert api.app.state.runner.wait_idle(60)
    t2, _ = setup_campaign(api, service, tmp_path / "b", name="c2", upload=("city",))
    before = count(service, audit_log)
    first = service.data / "campaigns" / "1"
    assert (first / "results" / "1" / "manifest.json").is_file()
    r = delete(api, op)
    assert r.status_code == 200, r.text
    assert r.json() == {"campaign": "c1", "jobs": 1, "uploads": 3, "tokens": 3}
    assert sorted(p.name for p in (service.data / "campaigns").iterdir()) == ["2"]
    assert count(service, jobs) == 0 and count(service, uploads) == 1
    assert count(service, tokens) == 1 + 3 and count(service, campaigns) == 1
    # every earlier entry is kept, the chain holds, the deletion is recorded
    assert count(service, audit_log) == before + 1 and verify_chain(service.engine).broken is None
    assert audit(service, "delete") == [("ok", "1 jobs, 3 uploads, 3 tokens removed")]
    # the campaign's tokens are gone; the other campaign is untouched
    r = api.get(f"{API}/results", headers=auth(t1["ins1"]))
    assert r.status_code == 401
    assert api.get(f"{API}/status", headers=auth(t2["city"])).json()["upload"] is not None
    assert api.get(f"{API}/status", params={"campaign": "c1"}, headers=auth(op)).status_code == 404


def test_delete_is_refused_while_a_job_is_active_and_for_parties(api, service, tmp_path):
    op = operator_token(service)
    tokens_, _ = setup_campaign(api, service, tmp_path)
    with service.engine.begin() as conn:
        conn.execute(
            sa.insert(jobs).values(
                campaign_id=1, campaign="c1", state="queued", inputs="[]", created_at="t"
            )
        )
    r = delete(api, op)
    assert r.status_code == 409
    assert r.json()["error"] == "campaign 'c1': job 1 is queued; delete it afterwards"
    assert (service.data / "campaigns" / "1").is_dir() and count(service, uploads) == 3
    assert delete(api, tokens_["city"]).status_code == 403
    assert delete(api, op, "nope").status_code == 404
    assert [o for o, _ in audit(service, "delete")] == ["refused"] * 3


def test_the_audit_log_exports_as_json_lines_that_carry_the_chain(api, service, tmp_path):
    setup_campaign(api, service, tmp_path)
    api.get(f"{API}/status", headers=auth("pprl-token-bad"))  # a refused use
    out = tmp_path / "audit.jsonl"
    n = export_jsonl(service.engine, out)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert n == len(lines) == count(service, audit_log) and n >= 6
    prev = GENESIS
    for i, line in enumerate(lines, 1):
        entry = json.loads(line)
        assert entry["seq"] == i and entry["prev_hash"] == prev
        assert entry_hash(prev, entry) == entry["hash"]
        prev = entry["hash"]
    assert json.loads(lines[-1])["detail"] == "unknown token"
    token = operator_token(service)
    assert token not in out.read_text()
