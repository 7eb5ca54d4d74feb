"""Uploads: a party's encoding file, checked with the functions ``pprl verify`` uses
before it is kept, and refused with the same one-line messages.

Checked: the file's integrity and content digest (:func:`pprl.store.read_outline`,
:func:`pprl.store.check_file`); its role (the register only from the reference party,
claims only from claims parties: :func:`pprl.store.check_roles`); its party label
against the token's party; its key fingerprint, schema digest, filter length and BLIP
generator against the campaign's, which the first accepted upload fixes
(:func:`pprl.store.check_compatible`); and its schema name when the campaign names one.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

from pprl.errors import MismatchError, PprlError
from pprl.labels import validate_label
from pprl.service import audit
from pprl.service.access import Principal, refuse
from pprl.service.db import campaigns, transaction, uploads
from pprl.service.jobs import auto_queue
from pprl.service.state import Refused, Service
from pprl.store import Outline, check_compatible, check_file, check_roles, read_outline

ACTION = "upload"
FILE_ROLE = {"reference": "register", "claims": "claims"}
MAX_NAME = 200

# Stands for "a register file" when checking that a claims party's file is not one.
_A_REGISTER = Outline(
    rows=np.empty(0, np.int64), has_token=np.empty(0, bool), meta={"role": "register"}
)


def client_filename(header: str | None) -> str:
    """The file name the client sent (percent-decoded), reduced to a safe base name; it
    names the file in messages. ``upload.parquet`` when missing or unusable."""
    from urllib.parse import unquote

    name = unquote(header or "", errors="replace").replace("\\", "/").rsplit("/", 1)[-1]
    if (
        not name
        or name in (".", "..")
        or len(name) > MAX_NAME
        or any(ord(ch) < 32 or ord(ch) == 127 for ch in name)
    ):
        return "upload.parquet"
    return name


def _check_file(staged: Path, filename: str, who: Principal) -> Outline:
    """The staged file's outline after every check of the file on its own."""
    try:
        outline = read_outline(staged)
        check_file(str(staged), outline.digest)
    except PprlError as exc:
        text = str(exc).replace(str(staged), filename).replace(str(staged.parent) + os.sep, "")
        raise Refused(422, text) from None
    outline.path = Path(filename)
    expected = FILE_ROLE[who.role]
    if outline.role is None:
        raise Refused(422, f"{filename}: records no role; encode it with --role {expected}")
    try:
        if who.role == "reference":
            check_roles(outline, [])
        else:
            check_roles(_A_REGISTER, [outline])
        validate_label(outline.meta.get("party"), what=f"{filename}: party label")
    except PprlError as exc:
        raise Refused(422, str(exc)) from None
    if outline.label != who.party:
        raise Refused(
            422,
            f"{filename}: party label {outline.label!r}, but this token belongs to party "
            f"{who.party!r} of campaign {who.campaign!r}",
        )
    for name in ("key_fingerprint", "schema_digest"):
        if not outline.meta.get(name):
            raise Refused(422, f"{filename}: records no {name.replace('_', ' ')}")
    return outline


def accept_upload(service: Service, who: Principal, staged: Path, filename: str) -> dict[str, Any]:
    """Check the staged file and keep it for the token's party; a refusal is a 4xx and
    is audit-logged."""
    try:
        outline = _check_file(staged, filename, who)
        return _keep(service, who, staged, filename, outline)
    except Refused as exc:
        refuse(service, who, ACTION, exc.status, f"{exc}")
        raise  # not reached: refuse raises


def _keep(
    service: Service, who: Principal, staged: Path, filename: str, outline: Outline
) -> dict[str, Any]:
    rel = Path("campaigns") / str(who.campaign_id) / who.party
    dest_name = f"{outline.digest[:32]}-{secrets.token_hex(4)}.parquet"
    (service.data / rel).mkdir(mode=0o700, parents=True, exist_ok=True)
    dest = service.data / rel / dest_name
    size = staged.stat().st_size
    with transaction(service.engine) as conn:
        camp = conn.execute(sa.select(campaigns).where(campaigns.c.id == who.campaign_id)).first()
        if camp is None:  # deleted while the file was streamed in
            raise Refused(404, f"campaign {who.campaign!r} was deleted")
        wanted = camp.schema_name
        if wanted and outline.meta.get("schema_name") != wanted:
            raise Refused(
                409,
                f"{filename}: encoded with schema {outline.meta.get('schema_name')!r}, but "
                f"campaign {camp.name!r} uses schema {wanted!r}",
            )
        if camp.pinned_upload_id is not None:
            first = conn.execute(
                sa.select(uploads.c.path, uploads.c.filename).where(
                    uploads.c.id == camp.pinned_upload_id
                )
            ).one()
            pinned = read_outline(service.data / first.path)
            pinned.path = Path(f"{first.filename} (the campaign's first upload)")
            try:
                check_compatible(pinned, outline)
            except MismatchError as exc:
                raise Refused(409, str(exc)) from None
        uid = conn.execute(
            sa.insert(uploads)
            .values(
                campaign_id=who.campaign_id,
                party=who.party,
                role=who.role,
                filename=filename,
                path=str(rel / dest_name),
                digest=outline.digest,
                size=size,
                records=len(outline),
                created_at=audit.now(),
            )
            .returning(uploads.c.id)
        ).scalar_one()
        if camp.pinned_upload_id is None:
            conn.execute(
                sa.update(campaigns)
                .where(campaigns.c.id == camp.id)
                .values(
                    pinned_upload_id=uid,
                    key_fingerprint=outline.meta["key_fingerprint"],
                    schema_digest=outline.meta["schema_digest"],
                )
            )
        audit.append(
            conn,
            ACTION,
            "ok",
            campaign=who.campaign,
            party=who.party,
            role=who.role,
            detail=f"{filename}: {len(outline)} records, digest {outline.digest}",
        )
        job = auto_queue(conn, camp.id)
        os.replace(staged, dest)
    if job is not None and service.submit_job is not None:
        service.submit_job(job)
    return {
        "campaign": who.campaign,
        "party": who.party,
        "role": who.role,
        "file": filename,
        "records": len(outline),
        "size": size,
        "digest": outline.digest,
        **({"job": job} if job is not None else {}),
    }
