"""``GET /results``: each token downloads exactly its own view of the latest job's
result set and nothing else, whatever route or path it tries; every download is
audit-logged and sent with its manifest digest."""

from __future__ import annotations

import pytest
from blake3 import blake3

from pprl.resultset import read_manifest
from service.helpers import audit, auth, job_rows, operator_token, run, setup_campaign

API = "/api/v1"
OPERATOR_FILES = {"findings.csv", "findings.parquet", "report.html", "summary.json"}
ROLE = {"city": "reference", "ins1": "claims", "ins2": "claims", "operator": "operator"}
OWN = {
    "city": {"parties/city.reference.csv"},
    "ins1": {"parties/ins1.csv"},
    "ins2": {"parties/ins2.csv"},
}


@pytest.fixture()
def done(api, service, tmp_path):
    tokens, _ = setup_campaign(api, service, tmp_path)
    assert run(api, service).status_code == 202
    assert api.app.state.runner.wait_idle(60)
    [job] = job_rows(service)
    assert job["state"] == "done"
    tokens["operator"] = operator_token(service)
    return tokens, service.data / job["result_path"]


def listing(api, token, campaign=None):
    params = {"campaign": campaign} if campaign else {}
    return api.get(f"{API}/results", params=params, headers=auth(token))


def fetch(api, token, path, campaign=None):
    params = {"path": path, **({"campaign": campaign} if campaign else {})}
    return api.get(f"{API}/results/file", params=params, headers=auth(token))


def test_each_party_downloads_exactly_its_own_file(api, service, done):
    tokens, root = done
    digests = {f.path: f.blake3 for f in read_manifest(root).files}
    for who, own in [*OWN.items(), ("operator", OPERATOR_FILES)]:
        campaign = "c1" if who == "operator" else None
        r = listing(api, tokens[who], campaign)
        assert r.status_code == 200, r.text
        assert {f["path"] for f in r.json()["files"]} == own
        for path in own:
            r = fetch(api, tokens[who], path, campaign)
            assert r.status_code == 200, r.text
            assert r.content == (root / path).read_bytes()
            assert r.headers["x-pprl-blake3"] == digests[path]
            assert blake3(r.content).hexdigest() == digests[path]
    ok = [d for o, d in audit(service, "download") if o == "ok"]
    assert len(ok) == 3 + len(OPERATOR_FILES)


def test_no_token_obtains_a_file_outside_its_view(api, service, done, tmp_path):
    tokens, root = done
    every = [f.path for f in read_manifest(root).files] + [
        "manifest.json",
        "parties",
        "../results/1/parties/ins1.csv",
        "parties/../parties/ins1.csv",
        "/etc/passwd",
        str(root / "parties/ins1.csv"),
        "parties/ins1.csv\x00",
        "../../../../server.key",
        "",
    ]
    for who in ("city", "ins1", "ins2", "operator"):
        allowed = OPERATOR_FILES if who == "operator" else OWN[who]
        campaign = "c1" if who == "operator" else None
        for path in every:
            r = fetch(api, tokens[who], path, campaign)
            if path in allowed:
                assert r.status_code == 200
            else:
                assert r.status_code == 403, (who, path, r.text)
                assert r.json()["error"].startswith(f"a {ROLE[who]} token may not download")
    # a claims token gets 403 on every operator file
    for path in OPERATOR_FILES:
        r = fetch(api, tokens["ins1"], path)
        assert (
            r.status_code == 403 and r.json()["error"] == f"a claims token may not download {path}"
        )
    # naming another campaign, or a party of another campaign with the same label
    r = fetch(api, tokens["ins1"], "parties/ins1.csv", "c2")
    assert r.status_code == 403 and "belongs to campaign 'c1'" in r.json()["error"]
    r = api.post(
        f"{API}/campaigns",
        json={"name": "c2", "reference": "city", "claims": ["ins1"]},
        headers=auth(tokens["operator"]),
    )
    other = r.json()["tokens"]
    for path in OWN["ins1"] | OWN["city"]:
        for token in other.values():
            assert fetch(api, token, path, "c1").status_code == 403
            assert fetch(api, token, path).status_code == 404  # c2 has no results
    assert listing(api, other["ins1"]).json()["error"] == "campaign 'c2': no results yet"
    # revoked and unknown tokens
    api.post(f"{API}/campaigns/c1/revoke", json={"party": "ins2"}, headers=auth(tokens["operator"]))
    assert fetch(api, tokens["ins2"], "parties/ins2.csv").status_code == 401
    assert fetch(api, "pprl-token-x", "parties/ins2.csv").status_code == 401
    assert listing(api, tokens["operator"]).status_code == 400  # operator must name one
    refused = [d for o, d in audit(service, "download") if o == "refused"]
    assert len(refused) >= 4 * len(every) - 7


def test_changed_results_are_refused(api, service, done):
    tokens, root = done
    manifest = root / "manifest.json"
    manifest.write_bytes(manifest.read_bytes().replace(b'"verify"', b'"verifx"'))
    r = listing(api, tokens["ins1"])
    assert r.status_code == 409
    assert r.json()["error"] == "campaign 'c1': the results of job 1 changed after it wrote them"
