"""``GET /status``: the operator sees uploads and jobs of every campaign; a party sees
only its own upload and whether results are ready, and only in its own campaign."""

from __future__ import annotations

import json

from service.helpers import audit, auth, operator_token, run, setup_campaign

API = "/api/v1"


def status(api, token, campaign=None):
    params = {"campaign": campaign} if campaign is not None else {}
    return api.get(f"{API}/status", params=params, headers=auth(token))


def test_each_token_sees_only_its_share_of_the_campaign(api, service, tmp_path):
    tokens, _ = setup_campaign(api, service, tmp_path, upload=("city", "ins1"))
    op = operator_token(service)
    r = status(api, op, "c1")
    assert r.status_code == 200, r.text
    camp = r.json()
    assert [u["party"] for u in camp["uploads"]] == ["city", "ins1"]
    assert camp["waiting_for"] == ["ins2"] and camp["jobs"] == []
    assert [c["campaign"] for c in status(api, op).json()["campaigns"]] == ["c1"]
    mine = status(api, tokens["ins1"]).json()
    assert mine["campaign"] == "c1" and mine["party"] == "ins1" and mine["role"] == "claims"
    assert mine["upload"]["digest"] == camp["uploads"][1]["digest"]
    assert mine["results_ready"] is False
    city_digest = camp["uploads"][0]["digest"]
    assert city_digest not in json.dumps(mine)  # nothing of another party
    assert set(mine) == {"campaign", "party", "role", "upload", "results_ready"}
    assert status(api, tokens["ins2"]).json()["upload"] is None
    # a party naming another campaign, the operator naming none that exists
    r = status(api, tokens["ins1"], "c2")
    assert r.status_code == 403 and r.json()["error"] == "this token belongs to campaign 'c1'"
    r = status(api, op, "c2")
    assert r.status_code == 404 and r.json()["error"] == "no campaign 'c2'"
    assert status(api, "pprl-token-nope").status_code == 401
    assert ("refused", "this token belongs to campaign 'c1'") in audit(service, "status")


def test_results_ready_after_the_job_is_done(api, service, tmp_path):
    tokens, _ = setup_campaign(api, service, tmp_path)
    assert run(api, service).status_code == 202
    assert api.app.state.runner.wait_idle(60)
    [job] = status(api, operator_token(service), "c1").json()["jobs"]
    assert job["job"] == 1 and job["state"] == "done" and len(job["result_digest"]) == 64
    for party in ("city", "ins1", "ins2"):
        assert status(api, tokens[party]).json()["results_ready"] is True
