"""Retention (``--retention-days N``): a campaign past its retention is deleted like
``pprl campaign delete`` (files and rows; audit entries kept), audit-logged as
``expire``, at start-up and by the server's periodic sweep. The clock is injected."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from pprl.service.audit import verify_chain
from pprl.service.db import campaigns, jobs, tokens, uploads
from pprl.service.retention import Sweeper, sweep
from service.helpers import API, audit, auth, operator_token, run, setup_campaign


def created(service, name):
    with service.engine.connect() as conn:
        at = conn.execute(
            sa.select(campaigns.c.created_at).where(campaigns.c.name == name)
        ).scalar_one()
    return datetime.fromisoformat(at)


def names(service):
    with service.engine.connect() as conn:
        return sorted(conn.execute(sa.select(campaigns.c.name)).scalars())


def rows(service, table):
    with service.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def test_a_campaign_expires_after_its_retention_days(api, service, tmp_path):
    setup_campaign(api, service, tmp_path / "a", retention_days=2)
    assert run(api, service).status_code == 202
    assert api.app.state.runner.wait_idle(60)
    setup_campaign(api, service, tmp_path / "b", name="keep")  # no retention: kept forever
    t0 = created(service, "c1")
    answer = api.get(
        f"{API}/status", params={"campaign": "c1"}, headers=auth(operator_token(service))
    ).json()
    assert answer["expires"] == (t0 + timedelta(days=2)).isoformat(timespec="seconds")
    assert sweep(service, t0 + timedelta(days=2) - timedelta(seconds=1)) == []
    assert names(service) == ["c1", "keep"]
    assert sweep(service, t0 + timedelta(days=2)) == ["c1"]
    assert names(service) == ["keep"]
    assert sorted(p.name for p in (service.data / "campaigns").iterdir()) == ["2"]
    assert rows(service, jobs) == 0 and rows(service, uploads) == 3
    assert rows(service, tokens) == 1 + 3  # the operator's and campaign keep's
    [(outcome, detail)] = audit(service, "expire")
    assert outcome == "ok"
    assert detail.startswith("1 jobs, 3 uploads, 3 tokens removed (retention ended ")
    assert len(audit(service, "upload")) == 6  # the expired campaign's entries stay
    assert verify_chain(service.engine).broken is None
    assert sweep(service, t0 + timedelta(days=400)) == []  # nothing left to expire


def test_a_campaign_with_an_active_job_waits_for_a_later_sweep(api, service, tmp_path):
    setup_campaign(api, service, tmp_path, retention_days=1)
    with service.engine.begin() as conn:
        conn.execute(
            sa.insert(jobs).values(
                campaign_id=1, campaign="c1", state="running", inputs="[]", created_at="t"
            )
        )
    later = created(service, "c1") + timedelta(days=3)
    assert sweep(service, later) == [] and names(service) == ["c1"]
    with service.engine.begin() as conn:
        conn.execute(sa.update(jobs).values(state="failed"))
    assert sweep(service, later) == ["c1"]


def test_the_server_sweeps_at_start_up(service, tmp_path):
    from fastapi.testclient import TestClient

    from pprl.service.app import create_app

    with TestClient(create_app(service)) as api:
        setup_campaign(api, service, tmp_path, retention_days=1)
    old = (datetime.now(UTC) - timedelta(days=1, minutes=1)).isoformat()
    with service.engine.begin() as conn:
        conn.execute(sa.update(campaigns).values(created_at=old))
    with TestClient(create_app(service)) as api:
        assert names(service) == []
        [(outcome, _)] = audit(service, "expire")
        assert outcome == "ok"
        r = api.get(
            f"{API}/status", params={"campaign": "c1"}, headers=auth(operator_token(service))
        )
        assert r.status_code == 404


def test_the_periodic_sweep_uses_its_clock(api, service, tmp_path):
    setup_campaign(api, service, tmp_path, retention_days=1)
    t0 = created(service, "c1")
    clock = [t0]
    sweeper = Sweeper(service, interval=0.02, clock=lambda: clock[0])
    sweeper.start()
    try:
        time.sleep(0.2)
        assert names(service) == ["c1"]
        clock[0] = t0 + timedelta(days=1)
        deadline = time.monotonic() + 10
        while names(service) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert names(service) == []
    finally:
        sweeper.close()
    assert not sweeper._thread.is_alive()
