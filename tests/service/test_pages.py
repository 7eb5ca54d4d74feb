"""The web pages over HTTP: sign-in by a POSTed token kept server-side, each party's
status and own downloads only, the operator's campaigns and report, escaping, form
tokens, friendly refusals that are audit-logged, and the security headers."""

from __future__ import annotations

import re

import pytest
from blake3 import blake3

from pprl.resultset import read_manifest
from pprl.service.pages import COOKIE, PAGE_CSP, REPORT_CSP
from service.helpers import audit, auth, job_rows, operator_token, run, setup_campaign

API = "/api/v1"
HOSTILE = "<img src=x onerror=alert(1)>\"&'.parquet"


def sign_in(api, token, page="/party"):
    return api.post(page, data={"token": token})


def csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def assert_secure_page(r) -> None:
    assert r.headers["content-security-policy"] == PAGE_CSP
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["cache-control"] == "no-store"
    assert "<script" not in r.text.lower()
    assert not re.search(r'(src|href|action)="(https?:)?//', r.text)  # no external assets


@pytest.fixture()
def done(api, service, tmp_path):
    tokens, _ = setup_campaign(api, service, tmp_path)
    assert run(api, service).status_code == 202
    assert api.app.state.runner.wait_idle(60)
    [job] = job_rows(service)
    assert job["state"] == "done"
    tokens["operator"] = operator_token(service)
    return tokens, service.data / job["result_path"]


def test_the_index_offers_both_sign_in_forms_with_no_token_in_a_url(api):
    r = api.get("/")
    assert r.status_code == 200
    assert_secure_page(r)
    assert '<form method="post" action="/party">' in r.text
    assert '<form method="post" action="/operator">' in r.text
    assert 'type="password"' in r.text


def test_a_party_signs_in_and_sees_its_status_never_its_token(api, service, tmp_path):
    tokens, _ = setup_campaign(api, service, tmp_path, upload=("city", "ins1"))
    r = sign_in(api, tokens["ins1"])
    assert r.status_code == 200, r.text
    assert r.url.path == "/party"
    assert_secure_page(r)
    assert tokens["ins1"] not in r.text
    cookie = r.history[0].headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "expires" not in cookie.lower() and "max-age" not in cookie.lower()
    assert tokens["ins1"] not in cookie
    assert "ins1.parquet" in r.text and "not yet" in r.text
    assert "city.parquet" not in r.text  # another party's upload is not shown
    assert "Download" not in r.text


def test_uploaded_file_names_are_escaped(api, service, tmp_path):
    tokens, files = setup_campaign(api, service, tmp_path, upload=("city",))
    r = api.put(
        f"{API}/upload",
        content=files["ins1"].read_bytes(),
        headers={**auth(tokens["ins1"]), "X-Pprl-Filename": HOSTILE},
    )
    assert r.status_code == 200, r.text
    for token, page in [(tokens["ins1"], "/party"), (operator_token(service), "/operator")]:
        api.cookies.clear()
        r = sign_in(api, token, page)
        assert r.status_code == 200, r.text
        assert HOSTILE not in r.text
        assert "&lt;img src=x onerror=alert(1)&gt;&quot;&amp;&#x27;.parquet" in r.text


@pytest.mark.parametrize("page", ["/party", "/operator"])
def test_a_wrong_token_gets_a_friendly_401_page_and_an_audit_entry(api, service, page):
    r = sign_in(api, "pprl-token-" + "x" * 40, page)
    assert r.status_code == 401
    assert_secure_page(r)
    assert "token not accepted" in r.text and "Back to sign-in" in r.text
    assert COOKIE not in r.headers.get("set-cookie", "")
    assert ("refused", "unknown token") in audit(service, "status")
    r = sign_in(api, "", page)
    assert r.status_code == 401
    assert ("refused", "no token") in audit(service, "status")


def test_a_party_token_is_refused_at_the_operator_page(api, service, tmp_path):
    tokens, _ = setup_campaign(api, service, tmp_path, upload=())
    r = sign_in(api, tokens["city"], "/operator")
    assert r.status_code == 403
    assert "may not status" in r.text
    assert [o for o, d in audit(service, "status") if "needs a token of role operator" in d] == [
        "refused"
    ]
    r = sign_in(api, operator_token(service), "/party")
    assert r.status_code == 403


def test_each_party_downloads_its_own_file_and_never_another(api, service, done):
    tokens, root = done
    digests = {f.path: f.blake3 for f in read_manifest(root).files}
    own = {"city": "parties/city.reference.csv", "ins1": "parties/ins1.csv"}
    for party, path in own.items():
        api.cookies.clear()
        r = sign_in(api, tokens[party])
        assert r.status_code == 200
        assert "ready" in r.text and path in r.text
        others = set(digests) - {path}
        assert not [p for p in others if p in r.text]  # another's file is not even listed
        form = csrf(r.text)
        r = api.post("/party/file", data={"csrf": form, "path": path})
        assert r.status_code == 200, r.text
        assert blake3(r.content).hexdigest() == digests[path] == r.headers["x-pprl-blake3"]
        assert r.headers["cache-control"] == "no-store"
        assert "attachment" in r.headers["content-disposition"]
        for other in [*others, "manifest.json", "../../server.key", ""]:
            r = api.post("/party/file", data={"csrf": form, "path": other})
            assert r.status_code == 403, (party, other)
            assert "may not download" in r.text
            assert other not in digests or digests[other] not in r.text
    refused = [d for o, d in audit(service, "download") if o == "refused"]
    assert len(refused) == 2 * (len(digests) - 1 + 3)
    assert len([o for o, _ in audit(service, "download") if o == "ok"]) == 2


def test_a_download_needs_the_session_and_its_form_token(api, service, done):
    tokens, _ = done
    r = api.post("/party/file", data={"csrf": "x", "path": "parties/ins1.csv"})
    assert r.status_code == 401
    r = sign_in(api, tokens["ins1"])
    form = csrf(r.text)
    r = api.post("/party/file", data={"csrf": form + "x", "path": "parties/ins1.csv"})
    assert r.status_code == 403 and "form expired" in r.text
    r = api.post("/party/file", data={"path": "parties/ins1.csv"})
    assert r.status_code == 403
    r = api.post(
        "/party/file",
        data={"csrf": form, "path": "parties/ins1.csv"},
        headers={"Origin": "https://evil.example"},
    )
    assert r.status_code == 403 and "another site" in r.text
    r = api.post("/party/file", data={"csrf": form, "path": "parties/ins1.csv"})
    assert r.status_code == 200
    r = api.post("/sign-out", data={"csrf": form})
    assert r.url.path == "/"
    r = api.post("/party/file", data={"csrf": form, "path": "parties/ins1.csv"})
    assert r.status_code == 401


def test_a_revoked_token_ends_its_session(api, service, tmp_path):
    tokens, _ = setup_campaign(api, service, tmp_path, upload=())
    assert sign_in(api, tokens["ins2"]).status_code == 200
    r = api.post(
        f"{API}/campaigns/c1/revoke", json={"party": "ins2"}, headers=auth(operator_token(service))
    )
    assert r.status_code == 200, r.text
    r = api.get("/party")
    assert r.status_code == 401 and "token revoked" in r.text
    r = api.get("/party")  # the session is gone
    assert r.url.path == "/"


def test_the_operator_sees_campaigns_jobs_and_the_report(api, service, done):
    tokens, root = done
    setup_campaign(api, service, root.parent / "other", name="c2", upload=("city",))
    r = sign_in(api, tokens["operator"], "/operator")
    assert r.status_code == 200
    assert_secure_page(r)
    assert tokens["operator"] not in r.text
    assert "c1" in r.text and "c2" in r.text
    assert "city.reference" not in r.text
    assert r.text.count("not uploaded yet") == 2  # c2 waits for ins1 and ins2
    assert "<td>done</td>" in r.text
    assert r.text.count('href="/operator/report?campaign=') == 1
    r = api.get("/operator/report", params={"campaign": "c1"})
    assert r.status_code == 200
    assert r.content == (root / "report.html").read_bytes()
    assert r.headers["content-security-policy"] == REPORT_CSP
    assert r.headers["x-frame-options"] == "DENY"
    r = api.get("/operator/report", params={"campaign": "c2"})
    assert r.status_code == 404 and "no results yet" in r.text
    api.cookies.clear()
    sign_in(api, tokens["city"])
    r = api.get("/operator/report", params={"campaign": "c1"})
    assert r.status_code == 403


def test_an_oversized_form_is_refused(api):
    r = api.post("/party", data={"token": "x" * 20_000})
    assert r.status_code == 413
