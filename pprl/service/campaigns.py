"""Campaigns: one reference party (the register holder) and its claims parties, each
given its own token; the operator creates them and revokes a party's tokens."""

from __future__ import annotations

import json
import os
import secrets
import shutil
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from pprl.errors import InputError
from pprl.labels import validate_label, view_stems
from pprl.schema import BUILTIN_SCHEMAS
from pprl.service import audit
from pprl.service.access import Principal
from pprl.service.db import campaign_named, campaigns, jobs, tokens, transaction, uploads
from pprl.service.state import Refused, Service
from pprl.service.tokens import new_token, token_hash

MAX_CLAIMS_PARTIES = 10_000
MAX_RETENTION_DAYS = 36_500


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        raise Refused(400, f"{name}: a string is required")
    return value


def parse_request(body: object) -> tuple[str, str, list[str], str | None, int | None, bool]:
    """Name, reference, claims, schema name, retention days and the auto-run flag of a
    create request, each checked; a bad one is a one-line 400."""
    if not isinstance(body, dict):
        raise Refused(400, "the request body must be a JSON object")
    unknown = sorted(
        set(body) - {"name", "reference", "claims", "schema", "retention_days", "auto_run"}
    )
    if unknown:
        raise Refused(400, f"unknown field {unknown[0]!r}")
    try:
        name = validate_label(_text(body, "name"), what="campaign name")
        reference = _text(body, "reference")
        claims = body.get("claims")
        if (
            not isinstance(claims, list)
            or not claims
            or not all(isinstance(c, str) for c in claims)
        ):
            raise Refused(400, "claims: a non-empty list of party labels is required")
        if len(claims) > MAX_CLAIMS_PARTIES:
            raise Refused(400, f"claims: at most {MAX_CLAIMS_PARTIES} parties")
        dup = next((c for i, c in enumerate(claims) if c in claims[:i]), None)
        if dup is not None:
            raise Refused(400, f"claims: party {dup!r} is listed twice")
        if reference in claims:
            raise Refused(
                400, f"party {reference!r} cannot be both the reference and a claims party"
            )
        view_stems(claims, reference)  # validates every label, refuses colliding ones
    except InputError as exc:
        raise Refused(400, str(exc)) from None
    schema = body.get("schema")
    if schema is not None and schema not in BUILTIN_SCHEMAS:
        raise Refused(
            400, f"schema: unknown built-in schema (choose one of: {', '.join(BUILTIN_SCHEMAS)})"
        )
    days = body.get("retention_days")
    if days is not None and (
        not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_RETENTION_DAYS
    ):
        raise Refused(400, f"retention_days: a whole number from 1 to {MAX_RETENTION_DAYS}")
    auto_run = body.get("auto_run", False)
    if not isinstance(auto_run, bool):
        raise Refused(400, "auto_run: true or false")
    return name, reference, list(claims), schema, days, auto_run


def create_campaign(service: Service, who: Principal, body: object) -> dict[str, Any]:
    """Create a campaign and one token per party; the tokens are returned once, never
    stored (only their keyed hashes are)."""
    name, reference, claims, schema, days, auto_run = parse_request(body)
    issued: dict[str, str] = {}
    with transaction(service.engine) as conn:
        exists = conn.execute(sa.select(campaigns.c.id).where(campaign_named(name))).first()
        if exists is not None:
            raise Refused(409, f"campaign {name!r} exists already")
        created = audit.now()
        cid = conn.execute(
            sa.insert(campaigns)
            .values(
                name=name,
                reference=reference,
                claims=json.dumps(claims, ensure_ascii=False),
                schema_name=schema,
                retention_days=days,
                auto_run=auto_run,
                created_at=created,
            )
            .returning(campaigns.c.id)
        ).scalar_one()
        for party, role in [(reference, "reference"), *((c, "claims") for c in claims)]:
            token = new_token()
            issued[party] = token
            conn.execute(
                sa.insert(tokens).values(
                    campaign_id=cid,
                    party=party,
                    role=role,
                    token_hash=token_hash(service.key, token),
                    revoked=False,
                    created_at=created,
                )
            )
        audit.append(
            conn,
            "create-campaign",
            "ok",
            campaign=name,
            party=who.party,
            role=who.role,
            detail=f"reference {reference}; {len(claims)} claims parties"
            + ("; runs once every party has uploaded" if auto_run else ""),
        )
    return {
        "campaign": name,
        "reference": reference,
        "claims": claims,
        "auto_run": auto_run,
        "tokens": issued,
    }


def revoke_party(service: Service, who: Principal, name: str, body: object) -> dict[str, Any]:
    """Revoke every token of one party of a campaign."""
    if not isinstance(body, dict) or set(body) != {"party"} or not isinstance(body["party"], str):
        raise Refused(400, 'the request body must be {"party": LABEL}')
    party = body["party"]
    try:
        validate_label(party)  # a party label never holds NUL, which PostgreSQL refuses
    except InputError as exc:
        raise Refused(400, str(exc)) from None
    with transaction(service.engine) as conn:
        cid = conn.execute(sa.select(campaigns.c.id).where(campaign_named(name))).scalar()
        if cid is None:
            raise Refused(404, f"no campaign {name!r}")
        found = conn.execute(
            sa.select(sa.func.count())
            .select_from(tokens)
            .where(tokens.c.campaign_id == cid, tokens.c.party == party)
        ).scalar_one()
        if not found:
            raise Refused(404, f"campaign {name!r} has no party {party!r}")
        n = conn.execute(
            sa.update(tokens)
            .where(tokens.c.campaign_id == cid, tokens.c.party == party, ~tokens.c.revoked)
            .values(revoked=True)
        ).rowcount
        audit.append(
            conn,
            "revoke",
            "ok",
            campaign=name,
            party=who.party,
            role=who.role,
            detail=f"party {party}: {n} token(s) revoked",
        )
    return {"campaign": name, "party": party, "revoked": n}


def delete_campaign(
    service: Service,
    who: Principal | None,
    name: str,
    *,
    action: str = "delete",
    reason: str = "",
) -> dict[str, Any]:
    """Remove a campaign: its encoding files and result sets (the folder
    ``DIR/campaigns/<id>``), and its upload, job, token and campaign rows; the audit
    entries stay. Refused while a job of the campaign is queued or running.

    ``who`` None is the server itself (retention expiry: ``action`` ``"expire"``, with
    ``reason`` added to the audit entry)."""
    moved: Path | None = None
    folder = service.data / "campaigns"
    try:
        with transaction(service.engine) as conn:
            cid = conn.execute(sa.select(campaigns.c.id).where(campaign_named(name))).scalar()
            if cid is None:
                raise Refused(404, f"no campaign {name!r}")
            active = conn.execute(
                sa.select(jobs.c.id, jobs.c.state).where(
                    jobs.c.campaign_id == cid, jobs.c.state.in_(("queued", "running"))
                )
            ).first()
            if active is not None:
                raise Refused(
                    409,
                    f"campaign {name!r}: job {active.id} is {active.state}; delete it afterwards",
                )
            counts = {}
            for what, table in (("jobs", jobs), ("uploads", uploads), ("tokens", tokens)):
                counts[what] = conn.execute(
                    sa.delete(table).where(table.c.campaign_id == cid)
                ).rowcount
            conn.execute(sa.delete(campaigns).where(campaigns.c.id == cid))
            audit.append(
                conn,
                action,
                "ok",
                campaign=name,
                party=who.party if who else "",
                role=who.role if who else "server",
                detail=", ".join(f"{n} {what}" for what, n in counts.items())
                + " removed"
                + (f" ({reason})" if reason else ""),
            )
            # the files go with the rows: moved aside before the commit (and back if it
            # fails), removed once it is done
            folder = service.data / "campaigns" / str(cid)
            if folder.exists():
                moved = folder.with_name(f".deleted-{cid}-{secrets.token_hex(6)}")
                os.replace(folder, moved)
    except BaseException:
        if moved is not None:
            os.replace(moved, folder)
        raise
    if moved is not None:
        shutil.rmtree(moved, ignore_errors=True)
    return {"campaign": name, **counts}
