"""The HTTP API (FastAPI on uvicorn). Every error is JSON ``{"error": "one line"}`` with a
4xx status; request bodies are bounded (413 past the limit) and read as streams.

``POST /api/v1/campaigns``                 operator: create a campaign, get party tokens
``POST /api/v1/campaigns/{name}/revoke``   operator: revoke one party's tokens
``PUT  /api/v1/upload``                    reference/claims party: upload its encoding file
``POST /api/v1/campaigns/{name}/run``      operator: queue a verification job
``DELETE /api/v1/campaigns/{name}``        operator: remove a campaign's files and rows
``GET  /api/v1/status[?campaign=NAME]``     anyone with a token: the campaign as it may see it
``GET  /api/v1/results[?campaign=NAME]``    anyone with a token: the files of its own view
``GET  /api/v1/results/file?path=P``        anyone with a token: one file of its own view
``GET  /api/v1/audit-log/verify``          operator: check the audit chain
``GET  /api/v1/health``                    anyone: the server answers
``GET  /openapi.json``                     anyone: the OpenAPI document (pprl.service.openapi)

The web pages (``/``, ``/party``, ``/operator``) are in :mod:`pprl.service.pages`.
"""

from __future__ import annotations

import json
import secrets
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from pprl import __version__
from pprl.service.access import authenticate, refuse, require_role
from pprl.service.audit import verify_chain
from pprl.service.campaigns import create_campaign, delete_campaign, revoke_party
from pprl.service.jobs import JobRunner, recover_jobs, start_job
from pprl.service.openapi import document
from pprl.service.pages import mount_pages
from pprl.service.results import download, result_view
from pprl.service.retention import Sweeper, sweep
from pprl.service.state import MAX_JSON_BYTES, Refused, Service
from pprl.service.status import campaign_status
from pprl.service.uploads import accept_upload, client_filename

API = "/api/v1"


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": " ".join(message.split())}, status_code=status)


def _declared_length(request: Request) -> int | None:
    value = request.headers.get("content-length")
    if value is None:
        return None
    if not value.isdigit():
        raise Refused(400, "Content-Length is not a number")
    return int(value)


def _too_large(limit: int) -> Refused:
    return Refused(413, f"request body larger than the limit of {limit:,} bytes")


async def _json_body(request: Request) -> object:
    """The request's JSON body, read up to :data:`MAX_JSON_BYTES`."""
    declared = _declared_length(request)
    if declared is not None and declared > MAX_JSON_BYTES:
        raise _too_large(MAX_JSON_BYTES)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_JSON_BYTES:
            raise _too_large(MAX_JSON_BYTES)
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise Refused(400, "the request body is not UTF-8 JSON") from None


def create_app(service: Service) -> FastAPI:
    """The ASGI application serving ``service``. Jobs a previous server process left
    queued or running are marked failed first (:func:`recover_jobs`); the embedded
    worker pool stops with the application. Campaigns past their retention are deleted
    at start-up and by a periodic sweep (:mod:`pprl.service.retention`)."""
    recover_jobs(service)
    sweep(service)  # campaigns past their retention go at start-up, then periodically
    runner = JobRunner(service, service.job_workers, service.job_threads)
    service.submit_job = runner.submit
    sweeper = Sweeper(service, service.sweep_seconds)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        sweeper.start()
        try:
            yield
        finally:
            sweeper.close()
            await run_in_threadpool(runner.close)

    app = FastAPI(title="pprl service", version=__version__, lifespan=lifespan)
    app.state.runner = runner

    @app.exception_handler(Refused)
    async def refused(_: Request, exc: Refused) -> JSONResponse:
        return _error(exc.status, str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return _error(400, f"{where}: {first.get('msg', 'invalid request')}")

    def who(request: Request, action: str, *roles: str) -> Any:
        principal = authenticate(service, request.headers.get("authorization"), action)
        require_role(service, principal, action, *roles)
        return principal

    @app.get(f"{API}/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "version": __version__, "max_upload": service.max_upload}

    @app.post(f"{API}/campaigns", status_code=201)
    async def campaigns(request: Request) -> dict[str, Any]:
        principal = await run_in_threadpool(who, request, "create-campaign", "operator")
        body = await _json_body(request)
        return await run_in_threadpool(create_campaign, service, principal, body)

    @app.post(f"{API}/campaigns/{{name}}/revoke")
    async def revoke(name: str, request: Request) -> dict[str, Any]:
        principal = await run_in_threadpool(who, request, "revoke", "operator")
        body = await _json_body(request)
        return await run_in_threadpool(revoke_party, service, principal, name, body)

    @app.post(f"{API}/campaigns/{{name}}/run", status_code=202)
    def run(name: str, request: Request) -> dict[str, Any]:
        principal = who(request, "run", "operator")
        try:
            return start_job(service, runner, principal, name)
        except Refused as exc:
            refuse(service, principal, "run", exc.status, str(exc))
            raise  # not reached: refuse raises

    @app.delete(f"{API}/campaigns/{{name}}")
    def delete(name: str, request: Request) -> dict[str, Any]:
        principal = who(request, "delete", "operator")
        try:
            return delete_campaign(service, principal, name)
        except Refused as exc:
            refuse(service, principal, "delete", exc.status, str(exc))
            raise  # not reached: refuse raises

    @app.get(f"{API}/status")
    def status(request: Request, campaign: str | None = None) -> dict[str, Any]:
        principal = who(request, "status", "operator", "reference", "claims")
        return campaign_status(service, principal, campaign)

    @app.get(f"{API}/results")
    def results(request: Request, campaign: str | None = None) -> dict[str, Any]:
        principal = who(request, "download", "operator", "reference", "claims")
        return result_view(service, principal, campaign).to_json()

    @app.get(f"{API}/results/file")
    def result_file(request: Request, path: str, campaign: str | None = None) -> FileResponse:
        principal = who(request, "download", "operator", "reference", "claims")
        local, entry, view = download(service, principal, campaign, path)
        return FileResponse(
            local,
            media_type="application/octet-stream",
            headers={
                "X-Pprl-Blake3": entry.blake3,
                "X-Pprl-Job": str(view.job),
                "X-Pprl-Result-Digest": view.result_digest,
            },
        )

    @app.get(f"{API}/audit-log/verify")
    def audit_verify(request: Request) -> dict[str, Any]:
        who(request, "audit-log-verify", "operator")
        report = verify_chain(service.engine)
        return {"entries": report.entries, "intact": report.broken is None, "broken": report.broken}

    mount_pages(app, service)

    @app.put(f"{API}/upload")
    async def upload(request: Request) -> dict[str, Any]:
        principal = await run_in_threadpool(who, request, "upload", "reference", "claims")
        limit = service.max_upload
        try:
            declared = _declared_length(request)
            if declared is not None and declared > limit:
                raise _too_large(limit)
        except Refused as exc:
            await run_in_threadpool(
                _refuse_quietly, service, principal, "upload", exc.status, str(exc)
            )
        filename = client_filename(request.headers.get("x-pprl-filename"))
        staging = service.data / "incoming" / secrets.token_hex(16)
        staging.mkdir(mode=0o700, parents=True)
        try:
            staged = staging / filename
            size = 0
            with open(staged, "wb") as f:
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > limit:
                        await run_in_threadpool(
                            _refuse_quietly,
                            service,
                            principal,
                            "upload",
                            413,
                            str(_too_large(limit)),
                        )
                    f.write(chunk)
            return await run_in_threadpool(accept_upload, service, principal, staged, filename)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    document(app)
    return app


def _refuse_quietly(service: Service, principal: Any, action: str, status: int, msg: str) -> None:
    """Audit-log and raise a refusal of a valid token's request."""
    refuse(service, principal, action, status, msg)
