"""Who is asking: a bearer token resolved to its scope (role, campaign, party)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from pprl.service import audit
from pprl.service.db import campaigns, tokens
from pprl.service.state import Refused, Service
from pprl.service.tokens import MAX_TOKEN_CHARS, PREFIX, same_hash, token_hash


@dataclass(frozen=True)
class Principal:
    """A token's scope: its role, and for parties the campaign and party."""

    token_id: int
    role: str
    party: str
    campaign_id: int | None
    campaign: str


def authenticate(service: Service, header: str | None, action: str) -> Principal:
    """The principal of an ``Authorization: Bearer`` header; a missing, unknown or
    revoked token is refused (401) and the attempt is audit-logged."""
    token = ""
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer":
            token = value.strip()
    if not token:
        audit.record(service.engine, action, "refused", detail="no token")
        raise Refused(401, "no token: send 'Authorization: Bearer <token>'")
    if len(token) > MAX_TOKEN_CHARS or not token.startswith(PREFIX):
        audit.record(service.engine, action, "refused", detail="malformed token")
        raise Refused(401, "token not accepted")
    digest = token_hash(service.key, token)
    with service.engine.connect() as conn:
        row = conn.execute(
            sa.select(tokens, campaigns.c.name)
            .select_from(tokens.outerjoin(campaigns, tokens.c.campaign_id == campaigns.c.id))
            .where(tokens.c.token_hash == digest)
        ).first()
    if row is None or not same_hash(row.token_hash, digest):
        audit.record(service.engine, action, "refused", detail="unknown token")
        raise Refused(401, "token not accepted")
    who = Principal(row.id, row.role, row.party, row.campaign_id, row.name or "")
    if row.revoked:
        refuse(service, who, action, 401, "token revoked")
    return who


def refuse(service: Service, who: Principal, action: str, status: int, message: str) -> None:
    """Audit-log a refused use of a valid token, then raise :class:`Refused`."""
    audit.record(
        service.engine,
        action,
        "refused",
        campaign=who.campaign,
        party=who.party,
        role=who.role,
        detail=message,
    )
    raise Refused(status, message)


def require_role(service: Service, who: Principal, action: str, *roles: str) -> None:
    """Refuse (403, audit-logged) a token whose role may not do ``action``."""
    if who.role not in roles:
        refuse(
            service,
            who,
            action,
            403,
            f"a {who.role} token may not {action.replace('-', ' ')} "
            f"(needs a token of role {' or '.join(roles)})",
        )
