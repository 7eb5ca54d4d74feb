"""The service's HTTP API over SQLite and PostgreSQL: tokens and their scope, uploads
checked like 'pprl verify' checks its inputs, bounded requests, one-line 4xx errors,
and the hash-chained audit log."""

from __future__ import annotations

import os
import stat

import pytest
import sqlalchemy as sa

from pprl.service.audit import verify_chain
from pprl.service.db import audit_head, audit_log, tokens
from service.helpers import auth, encoding_file, operator_token

API = "/api/v1"


def create(api, service, name="c1", reference="city", claims=("ins1", "ins2"), **extra):
    r = api.post(
        f"{API}/campaigns",
        json={"name": name, "reference": reference, "claims": list(claims), **extra},
        headers=auth(operator_token(service)),
    )
    assert r.status_code == 201, r.text
    return r.json()["tokens"]


def upload(api, token, path, name=None):
    return api.put(
        f"{API}/upload",
        content=path.read_bytes(),
        headers={**auth(token), "X-Pprl-Filename": name or path.name},
    )


def one_line_error(r, status):
    assert r.status_code == status, r.text
    message = r.json()["error"]
    assert message and "\n" not in message
    return message


def audit_rows(service):
    with service.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(audit_log).order_by("seq"))]


def test_first_start_writes_operator_token_once(service, tmp_path):
    from pprl.service.state import open_service
    from pprl.service.tokens import PREFIX

    path = service.data / "operator.token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((service.data / "server.key").stat().st_mode) == 0o600
    token = operator_token(service)
    assert token.startswith(PREFIX) and len(token) - len(PREFIX) >= 32  # >= 192 bits base64
    with service.engine.connect() as conn:
        stored = [r.token_hash for r in conn.execute(sa.select(tokens))]
    assert len(stored) == 1 and token not in stored[0] and len(stored[0]) == 64
    again = open_service(service.data, _url(service))  # a restart keeps the token
    assert operator_token(again) == token
    again.engine.dispose()


def _url(service):
    url = service.engine.url
    return None if url.get_backend_name() == "sqlite" else url.render_as_string(False)


def test_tokens_are_scoped_to_role_campaign_and_party(api, service, tmp_path):
    t1 = create(api, service, "c1")
    t2 = create(api, service, "c2", claims=("ins1",))
    assert len({*t1.values(), *t2.values(), operator_token(service)}) == 6
    ins1 = encoding_file(tmp_path / "ins1.parquet", "ins1", "claims")
    # a claims token cannot act as the operator
    r = api.post(f"{API}/campaigns", json={"name": "x"}, headers=auth(t1["ins1"]))
    assert "may not create campaign" in one_line_error(r, 403)
    # the operator cannot upload
    assert "may not upload" in one_line_error(upload(api, operator_token(service), ins1), 403)
    # garbage, missing and another campaign's revoked tokens
    assert one_line_error(upload(api, "pprl-token-" + "x" * 43, ins1), 401) == "token not accepted"
    assert "no token" in one_line_error(api.put(f"{API}/upload", content=b"x"), 401)
    r = api.post(
        f"{API}/campaigns/c2/revoke", json={"party": "ins1"}, headers=auth(operator_token(service))
    )
    assert r.status_code == 200 and r.json()["revoked"] == 1
    assert one_line_error(upload(api, t2["ins1"], ins1), 401) == "token revoked"
    # c1's token for the same party label still works, and lands in c1 only
    r = upload(api, t1["ins1"], ins1)
    assert r.status_code == 200, r.text
    assert r.json()["campaign"] == "c1" and r.json()["party"] == "ins1"
    refused = [
        (e["action"], e["role"], e["detail"])
        for e in audit_rows(service)
        if e["outcome"] == "refused"
    ]
    assert (
        "create-campaign",
        "claims",
        "a claims token may not create campaign (needs a token of role operator)",
    ) in refused
    assert ("upload", "", "unknown token") in refused and ("upload", "", "no token") in refused
    assert ("upload", "claims", "token revoked") in refused
    assert (
        "upload",
        "operator",
        "a operator token may not upload (needs a token of role reference or claims)",
    ) in refused
    text = repr(audit_rows(service))
    assert all(t not in text for t in [*t1.values(), *t2.values(), operator_token(service)])


def test_uploads_are_checked_like_verify_inputs(api, service, tmp_path):
    t = create(api, service, "c1", schema="jp-resident")
    reg = encoding_file(tmp_path / "register.parquet", "city", "register")
    ins1 = encoding_file(tmp_path / "ins1.parquet", "ins1", "claims", seed=1)
    ins2 = encoding_file(tmp_path / "ins2.parquet", "ins2", "claims", seed=2)
    # a claims file as the reference, a register file as claims
    assert "is a claims file (party 'ins1', role claims), not a register" in one_line_error(
        upload(api, t["city"], ins1), 422
    )
    assert "is a register file (party 'city', role register), not claims" in one_line_error(
        upload(api, t["ins1"], reg), 422
    )
    # another party's file
    assert one_line_error(upload(api, t["ins1"], ins2), 422) == (
        "ins2.parquet: party label 'ins2', but this token belongs to party 'ins1' of campaign 'c1'"
    )
    # a tampered file: one byte of CLK data changed
    data = bytearray(ins1.read_bytes())
    data[len(data) // 3] ^= 0xFF
    bad = tmp_path / "tampered.parquet"
    bad.write_bytes(bytes(data))
    message = one_line_error(upload(api, t["ins1"], bad), 422)
    assert message.startswith("tampered.parquet:") and str(service.data) not in message
    # not an encoding file at all
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"PAR1 not really")
    assert one_line_error(upload(api, t["ins1"], junk), 422).startswith("junk.parquet:")
    # the first accepted upload fixes the key fingerprint and schema digest
    assert upload(api, t["city"], reg).status_code == 200
    other_key = encoding_file(tmp_path / "k.parquet", "ins1", "claims", fingerprint="c" * 16)
    assert (
        "were encoded with different secrets (key fingerprints aaaaaaaaaaaaaaaa and "
        "cccccccccccccccc)" in one_line_error(upload(api, t["ins1"], other_key), 409)
    )
    other_schema = encoding_file(tmp_path / "s.parquet", "ins1", "claims", schema_digest="d" * 32)
    assert "were encoded with different schemas" in one_line_error(
        upload(api, t["ins1"], other_schema), 409
    )
    other_name = encoding_file(
        tmp_path / "n.parquet", "ins1", "claims", schema_name="jp-bank-holder"
    )
    assert "campaign 'c1' uses schema 'jp-resident'" in one_line_error(
        upload(api, t["ins1"], other_name), 409
    )
    ok = upload(api, t["ins1"], ins1)
    assert ok.status_code == 200 and ok.json()["records"] == 20
    kept = list((service.data / "campaigns").rglob("*.parquet"))
    assert len(kept) == 2 and not any((service.data / "incoming").iterdir())
    outcomes = [(e["party"], e["outcome"]) for e in audit_rows(service) if e["action"] == "upload"]
    assert outcomes.count(("ins1", "refused")) == 7 and outcomes.count(("city", "refused")) == 1


def test_request_sizes_are_bounded(api, service, tmp_path):
    t = create(api, service)
    big = os.urandom((1 << 20) + 1)  # the fixture's limit is 1 MiB
    r = api.put(f"{API}/upload", content=big, headers=auth(t["ins1"]))
    assert "larger than the limit" in one_line_error(r, 413)
    chunked = api.put(
        f"{API}/upload", content=iter([big[:600_000], big[600_000:]]), headers=auth(t["ins1"])
    )  # no Content-Length: counted while streaming
    assert "larger than the limit" in one_line_error(chunked, 413)
    r = api.post(
        f"{API}/campaigns",
        content=b"{" + b" " * 70_000 + b"}",
        headers={**auth(operator_token(service)), "Content-Type": "application/json"},
    )
    one_line_error(r, 413)
    assert not any((service.data / "incoming").iterdir())


@pytest.mark.parametrize(
    "body, status",
    [
        (b"not json", 400),
        (b"[1, 2]", 400),
        (b'{"name": "c", "reference": "city", "claims": "ins1"}', 400),
        (b'{"name": "c", "reference": "city", "claims": []}', 400),
        (b'{"name": "=cmd", "reference": "city", "claims": ["a"]}', 400),
        (b'{"name": "c", "reference": "city", "claims": ["a", "a"]}', 400),
        (b'{"name": "c", "reference": "city", "claims": ["city"]}', 400),
        (b'{"name": "c", "reference": "../x", "claims": ["a"]}', 400),
        (b'{"name": "c", "reference": "city", "claims": ["A", "a"]}', 400),
        (b'{"name": "c", "reference": "r", "claims": ["a"], "schema": "nope"}', 400),
        (b'{"name": "c", "reference": "r", "claims": ["a"], "retention_days": 0}', 400),
        (b'{"name": "c", "reference": "r", "claims": ["a"], "retention_days": true}', 400),
        (b'{"name": "c", "reference": "r", "claims": ["a"], "extra": 1}', 400),
        (b"\xff\xfe", 400),
    ],
)
def test_bad_campaign_requests_are_one_line_4xx(api, service, body, status):
    r = api.post(f"{API}/campaigns", content=body, headers=auth(operator_token(service)))
    one_line_error(r, status)


def test_unknown_routes_methods_and_campaigns_are_json_4xx(api, service):
    create(api, service)
    op = auth(operator_token(service))
    one_line_error(api.get(f"{API}/nothing"), 404)
    one_line_error(api.get(f"{API}/upload"), 405)
    one_line_error(api.post(f"{API}/campaigns/zz/revoke", json={"party": "ins1"}, headers=op), 404)
    one_line_error(
        api.post(f"{API}/campaigns/c1/revoke", json={"party": "nobody"}, headers=op), 404
    )
    one_line_error(api.post(f"{API}/campaigns/c1/revoke", json={"who": 1}, headers=op), 400)
    one_line_error(api.put(f"{API}/upload", headers={"Authorization": "Basic abc"}), 401)
    r = api.post(
        f"{API}/campaigns", json={"name": "c1", "reference": "a", "claims": ["b"]}, headers=op
    )
    assert "exists already" in one_line_error(r, 409)


def test_audit_chain_verifies_and_names_the_first_broken_link(api, service, tmp_path):
    t = create(api, service)
    upload(api, t["city"], encoding_file(tmp_path / "r.parquet", "city", "register"))
    upload(api, t["ins1"], encoding_file(tmp_path / "x.parquet", "ins2", "claims"))
    report = verify_chain(service.engine)
    assert report.broken is None and report.entries == 4
    r = api.get(f"{API}/audit-log/verify", headers=auth(operator_token(service)))
    assert r.json() == {"entries": 5 - 1, "intact": True, "broken": None}  # before its own entry
    with service.engine.begin() as conn:  # edit one field of entry 3
        conn.execute(sa.update(audit_log).where(audit_log.c.seq == 3).values(detail="nothing"))
    report = verify_chain(service.engine)
    assert report.entries == 2 and report.broken.startswith("entry 3 (upload): its fields")
    r = api.get(f"{API}/audit-log/verify", headers=auth(operator_token(service)))
    assert r.json()["intact"] is False and r.json()["broken"].startswith("entry 3")


def test_audit_chain_notices_removed_entries(api, service):
    create(api, service, "c1")
    create(api, service, "c2")
    create(api, service, "c3")
    with service.engine.begin() as conn:
        conn.execute(sa.delete(audit_log).where(audit_log.c.seq == 4))
    assert (
        verify_chain(service.engine).broken == "the log ends at entry 3 but its head "
        "records entry 4 (entries were cut off the end, or the head was edited)"
    )
    with service.engine.begin() as conn:
        conn.execute(sa.delete(audit_log).where(audit_log.c.seq == 2))
        conn.execute(sa.update(audit_head).values(seq=3))
    assert verify_chain(service.engine).broken == "entry 2 is missing (the next entry is 3)"


def test_migrations_match_the_tables(service):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from pprl.service.db import metadata

    with service.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
