"""Results: each token's own view of the campaign's latest finished job.

A job's result set lists in its manifest every file with its blake3 digest, and for
the files that go to a party, the party and its role (:func:`pprl.verify.write_outputs`).
What a token may download follows from that manifest alone:

* a claims party: the files delivered to it as a claims party (``parties/<label>.csv``);
* the reference party: its reference view (``parties/<label>.reference.csv``);
* the operator: the files delivered to no party (``summary.json``, ``report.html``,
  ``findings.*``).

Any other path, existing or not, is refused with the same 403 and audit-logged; every
download is audit-logged. The manifest itself is checked against the digest the job
recorded, and each file is sent with its manifest digest so the client can check what
it received.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from blake3 import blake3

from pprl.errors import PprlError
from pprl.resultset import MANIFEST, ManifestFile, read_manifest
from pprl.service import audit
from pprl.service.access import Principal, refuse
from pprl.service.db import campaign_named, campaigns
from pprl.service.state import Refused, Service
from pprl.service.status import latest_done_job, own_campaign

ACTION = "download"


@dataclass(frozen=True)
class View:
    """The files of one job's result set that one token may download."""

    campaign: str
    job: int
    result_digest: str
    root: Path
    files: tuple[ManifestFile, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "campaign": self.campaign,
            "job": self.job,
            "result_digest": self.result_digest,
            "files": [f.to_json() for f in self.files],
        }


def may_receive(who: Principal, entry: ManifestFile) -> bool:
    """Whether the token may download this file of a result set."""
    if who.role == "operator":
        return entry.party is None
    return entry.party == who.party and entry.role == who.role


def result_view(service: Service, who: Principal, name: str | None) -> View:
    """The token's view of its campaign's latest done job; refusals are audit-logged."""
    try:
        return _view(service, who, name)
    except Refused as exc:
        refuse(service, who, ACTION, exc.status, str(exc))
        raise  # not reached: refuse raises


def _view(service: Service, who: Principal, name: str | None) -> View:
    if who.role == "operator":
        if name is None:
            raise Refused(400, "campaign: name the campaign (the operator token has none)")
        with service.engine.connect() as conn:
            cid = conn.execute(sa.select(campaigns.c.id).where(campaign_named(name))).scalar()
        if cid is None:
            raise Refused(404, f"no campaign {name!r}")
        campaign = name
    else:
        campaign = own_campaign(service, who, name, ACTION)
        cid = who.campaign_id
    with service.engine.connect() as conn:
        job = latest_done_job(conn, cid or 0)
    if job is None:
        raise Refused(404, f"campaign {campaign!r}: no results yet")
    root = service.data / job.result_path
    try:
        digest = blake3((root / MANIFEST).read_bytes()).hexdigest()
        manifest = read_manifest(root)
    except (OSError, PprlError):
        raise Refused(
            409, f"campaign {campaign!r}: the results of job {job.id} are missing"
        ) from None
    if digest != job.result_digest:
        raise Refused(
            409, f"campaign {campaign!r}: the results of job {job.id} changed after it wrote them"
        )
    files = tuple(f for f in manifest.files if may_receive(who, f))
    return View(campaign, job.id, job.result_digest, root, files)


def download(
    service: Service, who: Principal, name: str | None, path: str
) -> tuple[Path, ManifestFile, View]:
    """The file ``path`` of the token's view, audit-logged; any path outside the view
    (another party's file, the operator's, one that does not exist) is refused alike."""
    view = result_view(service, who, name)
    entry = next((f for f in view.files if f.path == path), None)
    if entry is None:
        shown = path if len(path) <= 200 and path.isprintable() else "that file"
        refuse(service, who, ACTION, 403, f"a {who.role} token may not download {shown}")
        raise AssertionError("not reached")  # pragma: no cover
    audit.record(
        service.engine,
        ACTION,
        "ok",
        campaign=view.campaign,
        party=who.party,
        role=who.role,
        detail=f"job {view.job}: {entry.path} ({entry.blake3})",
    )
    return view.root / entry.path, entry, view
