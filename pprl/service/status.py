"""A campaign's state as a token may see it.

The operator sees every campaign, each party's latest upload and every job. A party
sees only its own campaign: its own latest upload and whether results are ready, never
another party's uploads nor the jobs' details.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from pprl.service.access import Principal, refuse
from pprl.service.db import campaign_named, campaigns, jobs
from pprl.service.jobs import job_json, latest_uploads
from pprl.service.retention import expiry
from pprl.service.state import Refused, Service

ACTION = "status"


def _upload_json(row: sa.Row[Any]) -> dict[str, Any]:
    return {
        "party": row.party,
        "role": row.role,
        "file": row.filename,
        "records": row.records,
        "size": row.size,
        "digest": row.digest,
        "uploaded": row.created_at,
    }


def own_campaign(service: Service, who: Principal, name: str | None, action: str) -> str:
    """The campaign a party token asks about: its own; naming another one is refused
    (403, audit-logged)."""
    if name is not None and name != who.campaign:
        refuse(service, who, action, 403, f"this token belongs to campaign {who.campaign!r}")
    return who.campaign


def latest_done_job(conn: sa.Connection, campaign_id: int) -> sa.Row[Any] | None:
    """The campaign's newest job that finished with a complete result set."""
    return conn.execute(
        sa.select(jobs)
        .where(jobs.c.campaign_id == campaign_id, jobs.c.state == "done")
        .order_by(jobs.c.id.desc())
        .limit(1)
    ).first()


def campaign_status(service: Service, who: Principal, name: str | None) -> dict[str, Any]:
    """``GET /status``: see the module docstring for who sees what."""
    with service.engine.connect() as conn:
        if who.role != "operator":
            own_campaign(service, who, name, ACTION)
            mine = latest_uploads(conn, who.campaign_id or 0).get(who.party)
            return {
                "campaign": who.campaign,
                "party": who.party,
                "role": who.role,
                "upload": _upload_json(mine) if mine is not None else None,
                "results_ready": latest_done_job(conn, who.campaign_id or 0) is not None,
            }
        query = sa.select(campaigns).order_by(campaigns.c.name)
        if name is not None:
            query = query.where(campaign_named(name))
        found = conn.execute(query).all()
        if name is not None and not found:
            raise Refused(404, f"no campaign {name!r}")
        out = []
        for camp in found:
            latest = latest_uploads(conn, camp.id)
            claims = json.loads(camp.claims)
            due = expiry(camp.created_at, camp.retention_days)
            runs = conn.execute(
                sa.select(jobs).where(jobs.c.campaign_id == camp.id).order_by(jobs.c.id)
            ).all()
            out.append(
                {
                    "campaign": camp.name,
                    "reference": camp.reference,
                    "claims": claims,
                    "schema": camp.schema_name,
                    "retention_days": camp.retention_days,
                    "created": camp.created_at,
                    "expires": None if due is None else due.isoformat(timespec="seconds"),
                    "auto_run": bool(camp.auto_run),
                    "uploads": [
                        _upload_json(latest[p]) for p in [camp.reference, *claims] if p in latest
                    ],
                    "waiting_for": [p for p in [camp.reference, *claims] if p not in latest],
                    "jobs": [job_json(j) for j in runs],
                }
            )
    return out[0] if name is not None else {"campaigns": out}
