"""Verification jobs: the operator runs a campaign's verification on the server.

A job verifies the campaign's latest accepted upload of every party (the reference
party's register and each claims party's claims) with the verification core
(:func:`pprl.verify.verify`, single-process engine) in an embedded worker pool: a
bounded thread pool of the server process. Its state lives in the ``jobs`` table:
``queued`` -> ``running`` -> ``done`` or ``failed`` (with a one-line error).

Results are a result set (:func:`pprl.verify.write_outputs`: written beside its place,
``manifest.json`` last, switched in with one rename) under
``DIR/campaigns/<id>/results/<job>``. A job is ``done`` only once that set is complete;
its ``result_digest`` is the blake3 digest of the set's manifest, which lists every
file's digest, so results are never half-delivered. A job the server was running or
holding when it stopped is marked ``failed`` at the next start (:func:`recover_jobs`)
and whatever it left is removed: the operator runs it again.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from blake3 import blake3

from pprl.errors import PprlError
from pprl.resultset import leftovers
from pprl.service import audit
from pprl.service.access import Principal
from pprl.service.db import campaign_named, campaigns, jobs, transaction, uploads
from pprl.service.state import Refused, Service

ACTIVE = ("queued", "running")
INTERRUPTED = "interrupted: the server stopped while the job was {state}; run it again"


def result_folder(campaign_id: int, job_id: int) -> Path:
    """Where a job's result set lives, relative to the data folder."""
    return Path("campaigns") / str(campaign_id) / "results" / str(job_id)


def input_folder(campaign_id: int, job_id: int) -> Path:
    """Where a running job sees its inputs under the names the parties uploaded them
    with (links to the stored files), relative to the data folder."""
    return Path("campaigns") / str(campaign_id) / "jobs" / str(job_id)


def _link_inputs(service: Service, folder: Path, rows: list[sa.Row[Any]]) -> list[Path]:
    """Each upload under ``folder/<party>/<uploaded name>``, so that findings and views
    name the file as the party knows it, not as the server stores it."""
    out = []
    for row in rows:
        party_dir = folder / row.party
        party_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        link = party_dir / row.filename
        try:
            os.link(service.data / row.path, link)
        except OSError:  # a file system without hard links
            shutil.copyfile(service.data / row.path, link)
        out.append(link)
    return out


def one_line(exc: BaseException) -> str:
    """An exception as one line for the job's error column (no traceback)."""
    text = " ".join(str(exc).split())[:500]
    if isinstance(exc, PprlError):
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class JobRunner:
    """The embedded worker pool: ``workers`` jobs at a time, each verifying with
    ``threads`` kernel threads (None: all cores)."""

    def __init__(self, service: Service, workers: int = 1, threads: int | None = None) -> None:
        self.service = service
        self.threads = threads
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pprl-job")
        self._idle = threading.Condition()
        self._pending = 0

    def submit(self, job_id: int) -> None:
        with self._idle:
            self._pending += 1
        self._pool.submit(self._run, job_id)

    def _run(self, job_id: int) -> None:
        try:
            run_job(self.service, job_id, self.threads)
        finally:
            with self._idle:
                self._pending -= 1
                self._idle.notify_all()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no job is queued or running in this pool (tests, shutdown)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def close(self) -> None:
        """Stop taking jobs; jobs still queued stay ``queued`` in the database and are
        marked failed at the next start. A running job is finished first."""
        self._pool.shutdown(wait=True, cancel_futures=True)


def recover_jobs(service: Service) -> int:
    """At start-up: mark every job left ``queued`` or ``running`` failed, remove what it
    left under the data folder, and audit-log it. Returns how many were marked."""
    with transaction(service.engine) as conn:
        stale = conn.execute(sa.select(jobs).where(jobs.c.state.in_(ACTIVE))).all()
        for job in stale:
            _remove_results(service.data / result_folder(job.campaign_id, job.id))
            shutil.rmtree(service.data / input_folder(job.campaign_id, job.id), True)
            error = INTERRUPTED.format(state=job.state)
            conn.execute(
                sa.update(jobs)
                .where(jobs.c.id == job.id)
                .values(state="failed", error=error, finished_at=audit.now())
            )
            audit.append(
                conn, "run", "failed", campaign=job.campaign, detail=f"job {job.id}: {error}"
            )
    return len(stale)


def _lock_file(out: Path) -> Path:
    """The lock file :func:`pprl.resultset.result_set` keeps beside ``out`` (job ids are
    never reused, so no other writer waits on it)."""
    return out.parent / f".{out.name}.pprl-lock"


def _remove_results(out: Path) -> None:
    """Remove a job's result set, its lock and the temporary files of a write that died."""
    for path in [out, *leftovers(out), _lock_file(out)]:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def latest_uploads(conn: sa.Connection, campaign_id: int) -> dict[str, sa.Row[Any]]:
    """The newest accepted upload of each party of the campaign."""
    rows = conn.execute(
        sa.select(uploads).where(uploads.c.campaign_id == campaign_id).order_by(uploads.c.id)
    ).all()
    return {row.party: row for row in rows}


def _queue(
    conn: sa.Connection, camp: sa.Row[Any], latest: dict[str, sa.Row[Any]], **who: str
) -> tuple[int, str]:
    """Insert a queued job over each party's latest upload; its id and the audit detail's
    list of inputs."""
    parties = [camp.reference, *json.loads(camp.claims)]
    job_id = conn.execute(
        sa.insert(jobs)
        .values(
            campaign_id=camp.id,
            campaign=camp.name,
            state="queued",
            inputs=json.dumps([latest[p].id for p in parties]),
            created_at=audit.now(),
        )
        .returning(jobs.c.id)
    ).scalar_one()
    return job_id, ", ".join(f"{p} {latest[p].digest[:16]}" for p in parties)


def start_job(service: Service, runner: JobRunner, who: Principal, name: str) -> dict[str, Any]:
    """Queue a verification job for campaign ``name`` (operator). Refused while the
    campaign has a job queued or running, or before every party has uploaded."""
    with transaction(service.engine) as conn:
        camp = conn.execute(sa.select(campaigns).where(campaign_named(name))).first()
        if camp is None:
            raise Refused(404, f"no campaign {name!r}")
        active = conn.execute(
            sa.select(jobs.c.id, jobs.c.state).where(
                jobs.c.campaign_id == camp.id, jobs.c.state.in_(ACTIVE)
            )
        ).first()
        if active is not None:
            raise Refused(409, f"campaign {name!r}: job {active.id} is {active.state} already")
        latest = latest_uploads(conn, camp.id)
        parties = [camp.reference, *json.loads(camp.claims)]
        missing = [p for p in parties if p not in latest]
        if missing:
            raise Refused(
                409, f"campaign {name!r}: no upload yet from {', '.join(map(repr, missing))}"
            )
        job_id, inputs = _queue(conn, camp, latest)
        audit.append(
            conn,
            "run",
            "ok",
            campaign=name,
            party=who.party,
            role=who.role,
            detail=f"job {job_id} queued: {inputs}",
        )
    runner.submit(job_id)
    return {"campaign": name, "job": job_id, "state": "queued"}


def auto_queue(conn: sa.Connection, campaign_id: int) -> int | None:
    """Inside an accepted upload's transaction: when the campaign runs automatically,
    every party has now uploaded and the campaign has no job yet, queue its job (audit
    action ``auto-run``) and return its id; otherwise None. Runs at most once per
    campaign: later uploads, and a second call, queue nothing (the operator runs again
    with ``pprl client run``). The caller submits the job once the transaction commits."""
    camp = conn.execute(sa.select(campaigns).where(campaigns.c.id == campaign_id)).first()
    if camp is None or not camp.auto_run:
        return None
    if conn.execute(sa.select(jobs.c.id).where(jobs.c.campaign_id == camp.id)).first():
        return None
    latest = latest_uploads(conn, camp.id)
    if any(p not in latest for p in [camp.reference, *json.loads(camp.claims)]):
        return None
    job_id, inputs = _queue(conn, camp, latest)
    audit.append(
        conn,
        "auto-run",
        "ok",
        campaign=camp.name,
        role="server",
        detail=f"job {job_id} queued: every party has uploaded: {inputs}",
    )
    return int(job_id)


def run_job(service: Service, job_id: int, threads: int | None = None) -> None:
    """Run one queued job to ``done`` or ``failed``; never raises."""
    from pprl.verify import verify, write_outputs

    with transaction(service.engine) as conn:
        claimed = conn.execute(
            sa.update(jobs)
            .where(jobs.c.id == job_id, jobs.c.state == "queued")
            .values(state="running", started_at=audit.now())
        ).rowcount
        if not claimed:
            return  # failed or removed meanwhile
        job = conn.execute(sa.select(jobs).where(jobs.c.id == job_id)).one()
        ids = json.loads(job.inputs)
        by_id = {
            row.id: row for row in conn.execute(sa.select(uploads).where(uploads.c.id.in_(ids)))
        }
    rel = result_folder(job.campaign_id, job_id)
    out = service.data / rel
    linked = service.data / input_folder(job.campaign_id, job_id)
    try:
        if len(by_id) != len(ids):
            raise Refused(409, "an input upload was removed before the job started")
        files = _link_inputs(service, linked, [by_id[i] for i in ids])
        out.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        result = verify(files[0], files[1:], threads=threads)
        write_outputs(result, out, inputs=files)
        _lock_file(out).unlink(missing_ok=True)
        digest = blake3((out / "manifest.json").read_bytes()).hexdigest()
    except Exception as exc:  # noqa: BLE001 - any failure fails the job, one line
        _remove_results(out)
        _finish(service, job, "failed", error=one_line(exc))
        return
    finally:
        shutil.rmtree(linked, ignore_errors=True)
    if not _finish(service, job, "done", path=rel.as_posix(), digest=digest):
        _remove_results(out)


def _finish(
    service: Service,
    job: sa.Row[Any],
    state: str,
    *,
    error: str | None = None,
    path: str | None = None,
    digest: str | None = None,
) -> bool:
    """Record the job's end (only if it is still ``running``) and audit-log it."""
    with transaction(service.engine) as conn:
        n = conn.execute(
            sa.update(jobs)
            .where(jobs.c.id == job.id, jobs.c.state == "running")
            .values(
                state=state,
                finished_at=audit.now(),
                error=error,
                result_path=path,
                result_digest=digest,
            )
        ).rowcount
        if n:
            detail = f"job {job.id}: " + (error if error else f"results {digest}")
            audit.append(conn, "run", state, campaign=job.campaign, detail=detail)
    return bool(n)


def job_json(row: sa.Row[Any]) -> dict[str, Any]:
    """A job as the API shows it."""
    return {
        "job": row.id,
        "state": row.state,
        "created": row.created_at,
        "started": row.started_at,
        "finished": row.finished_at,
        "error": row.error,
        "result_digest": row.result_digest,
    }
