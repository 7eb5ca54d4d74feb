"""Server-rendered web pages for the parties and the operator; no external assets and
no scripts: every page is one HTML document with an inline style sheet.

``GET  /``                    the sign-in forms (party and operator)
``POST /party``               sign in with a party token; ``GET /party`` its campaign's status
``POST /party/file``          download one file of the party's own view
``POST /operator``            sign in with the operator token; ``GET /operator`` the campaigns
``GET  /operator/report``     the report.html of a campaign's latest done job
``POST /sign-out``            end the session

A token is entered once, in a POSTed form (never in a URL); the server keeps the
token's id in a server-side session and gives the browser only an opaque session id in
an HttpOnly, SameSite=Strict cookie with no expiry date (gone when the browser closes).
The token itself is never stored, echoed, logged or put in a page. Every request
resolves the session's token again, so a revoked token or a deleted campaign ends it.
Every POST after sign-in carries the session's form token (checked in constant time),
and a cross-origin ``Origin`` header is refused. Access, refusals and audit entries are
those of the API: the same :func:`authenticate`, :func:`require_role`,
:func:`campaign_status`, :func:`result_view` and :func:`download`.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from pprl.service import audit
from pprl.service.access import Principal, authenticate, refuse, require_role
from pprl.service.db import campaigns, tokens
from pprl.service.results import download, result_view
from pprl.service.state import Refused, Service
from pprl.service.status import campaign_status

COOKIE = "pprl_session"
MAX_FORM_BYTES = 8 * 1024
SESSION_IDLE_S = 30 * 60
MAX_SESSIONS = 10_000

# default-src 'none' blocks scripts, frames, fonts, images and connections; the pages
# need only their own inline style sheet and forms posting to this server.
PAGE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
# The report is generated content: no scripts, no requests, no forms, sandboxed; its
# figures are data: URIs.
REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "form-action 'none'; frame-ancestors 'none'; base-uri 'none'; sandbox"
)
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Cross-Origin-Resource-Policy": "same-origin",
}

STYLE = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;
color:#1b1b1b;line-height:1.45}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0}th,td{border:1px solid #bbb;padding:.25rem .5rem;
text-align:left;vertical-align:top}th{background:#f0f0f0}
form.inline{display:inline}input[type=password]{width:28rem;max-width:100%}
button{padding:.25rem .75rem}.error{color:#a00000;font-weight:bold}.ok{color:#006400}
.muted{color:#555}code{word-break:break-all}
"""


def h(text: object) -> str:
    """``text`` escaped for HTML element content and quoted attribute values."""
    return escape(str(text), quote=True)


@dataclass
class Session:
    token_id: int
    csrf: str
    seen: float


class Sessions:
    """Server-side sessions: opaque id -> the signed-in token's id and a form token.
    Idle sessions expire; the oldest go first past :data:`MAX_SESSIONS`."""

    def __init__(self, idle_s: float = SESSION_IDLE_S, limit: int = MAX_SESSIONS) -> None:
        self._items: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()
        self._idle_s = idle_s
        self._limit = limit

    def open(self, token_id: int) -> tuple[str, Session]:
        sid = secrets.token_urlsafe(32)
        session = Session(token_id, secrets.token_urlsafe(32), time.monotonic())
        with self._lock:
            self._items[sid] = session
            while len(self._items) > self._limit:
                self._items.popitem(last=False)
        return sid, session

    def get(self, sid: str | None) -> Session | None:
        if not sid:
            return None
        now = time.monotonic()
        with self._lock:
            session = self._items.get(sid)
            if session is None:
                return None
            if now - session.seen > self._idle_s:
                del self._items[sid]
                return None
            session.seen = now
            self._items.move_to_end(sid)
            return session

    def close(self, sid: str | None) -> None:
        with self._lock:
            self._items.pop(sid or "", None)


def _document(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{h(title)}</title><style>{STYLE}</style></head>"
        f"<body><h1>{h(title)}</h1>{body}</body></html>"
    )


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    response = HTMLResponse(_document(title, body), status_code=status)
    response.headers.update(SECURITY_HEADERS)
    response.headers["Content-Security-Policy"] = PAGE_CSP
    return response


def _problem(status: int, message: str) -> HTMLResponse:
    """A friendly page for a refused request (the refusal is already audit-logged)."""
    hint = {
        401: "The token was not accepted. Check that you pasted the whole token file's "
        "content, and that the token has not been revoked.",
        403: "This token may not do that.",
        404: "Nothing to show yet.",
        409: "The campaign's state does not allow that now.",
    }.get(status, "The request was refused.")
    body = (
        f'<p class="error">{h(message)}</p><p>{h(hint)}</p><p><a href="/">Back to sign-in</a></p>'
    )
    return _page(f"Refused ({status})", body, status)


def _sign_in_form(action: str, label: str) -> str:
    field = f"token-{action.strip('/')}"
    return (
        f'<form method="post" action="{h(action)}">'
        f'<p><label for="{field}">{h(label)}</label><br>'
        f'<input type="password" id="{field}" name="token" autocomplete="off" '
        'spellcheck="false" required> <button type="submit">Sign in</button></p></form>'
    )


def _csrf_field(session: Session) -> str:
    return f'<input type="hidden" name="csrf" value="{h(session.csrf)}">'


def _sign_out(session: Session) -> str:
    return (
        f'<form method="post" action="/sign-out" class="inline">{_csrf_field(session)}'
        '<button type="submit">Sign out</button></form>'
    )


def _size(n: object) -> str:
    return f"{n:,} bytes" if isinstance(n, int) else "—"


def _principal(service: Service, token_id: int, action: str) -> Principal | None:
    """The session's token resolved again: None once it is gone (campaign deleted);
    a revoked token is refused (401, audit-logged) as by :func:`authenticate`."""
    with service.engine.connect() as conn:
        row = conn.execute(
            sa.select(tokens, campaigns.c.name)
            .select_from(tokens.outerjoin(campaigns, tokens.c.campaign_id == campaigns.c.id))
            .where(tokens.c.id == token_id)
        ).first()
    if row is None:
        audit.record(service.engine, action, "refused", detail="session of a removed token")
        return None
    who = Principal(row.id, row.role, row.party, row.campaign_id, row.name or "")
    if row.revoked:
        refuse(service, who, action, 401, "token revoked")
    return who


def mount_pages(app: FastAPI, service: Service) -> None:
    """Add the web pages to ``app`` (the API's application)."""
    sessions = Sessions()
    app.state.sessions = sessions

    async def form(request: Request) -> dict[str, str]:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_FORM_BYTES:
            raise Refused(413, f"form larger than {MAX_FORM_BYTES:,} bytes")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                raise Refused(413, f"form larger than {MAX_FORM_BYTES:,} bytes")
        try:
            fields = parse_qs(body.decode("ascii"), max_num_fields=8, strict_parsing=False)
        except (UnicodeDecodeError, ValueError):
            raise Refused(400, "the form could not be read") from None
        return {k: v[0] for k, v in fields.items() if v}

    def same_origin(request: Request) -> None:
        origin = request.headers.get("origin")
        if origin is None or origin == "null":
            # 'null' comes from privacy-conscious browsers; the SameSite=Strict cookie and
            # the form token still stand.
            return
        host = request.headers.get("host", "")
        if urlsplit(origin).netloc != host:
            raise Refused(403, "a form from another site is refused")

    def session_of(request: Request, fields: dict[str, str] | None) -> Session | None:
        session = sessions.get(request.cookies.get(COOKIE))
        if session is not None and fields is not None:
            if not hmac.compare_digest(fields.get("csrf", ""), session.csrf):
                raise Refused(403, "the form expired: reload the page and try again")
        return session

    def signed_in(
        request: Request, fields: dict[str, str] | None, action: str, *roles: str
    ) -> Principal | None:
        session = session_of(request, fields)
        if session is None:
            return None
        try:
            who = _principal(service, session.token_id, action)
        except Refused:
            sessions.close(request.cookies.get(COOKIE))
            raise
        if who is None:
            sessions.close(request.cookies.get(COOKIE))
            return None
        require_role(service, who, action, *roles)
        return who

    def start_session(request: Request, who: Principal, to: str) -> Response:
        sessions.close(request.cookies.get(COOKIE))
        sid, _ = sessions.open(who.token_id)
        response = RedirectResponse(to, status_code=303)
        response.headers.update(SECURITY_HEADERS)
        response.set_cookie(
            COOKIE,
            sid,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
        return response

    async def guarded(call: Callable[[], Any]) -> Response:
        try:
            result: Response = await call()
            return result
        except Refused as exc:
            return _problem(exc.status, str(exc))

    @app.get("/", include_in_schema=False)
    def index() -> Response:
        body = (
            "<h2>Parties</h2><p>Sign in with your party token (the content of the "
            "<code>.token</code> file the operator gave you) to see your campaign's status "
            "and download your own results.</p>"
            + _sign_in_form("/party", "Party token")
            + "<h2>Operator</h2>"
            + _sign_in_form("/operator", "Operator token")
        )
        return _page("pprl verification service", body)

    async def sign_in(request: Request, action: str, to: str, *roles: str) -> Response:
        same_origin(request)
        token = (await form(request)).get("token", "").strip()

        def check() -> Principal:
            who = authenticate(service, f"Bearer {token}", action)
            require_role(service, who, action, *roles)
            return who

        who = await run_in_threadpool(check)
        return start_session(request, who, to)

    @app.post("/party", include_in_schema=False)
    async def party_sign_in(request: Request) -> Response:
        return await guarded(lambda: sign_in(request, "status", "/party", "reference", "claims"))

    @app.post("/operator", include_in_schema=False)
    async def operator_sign_in(request: Request) -> Response:
        return await guarded(lambda: sign_in(request, "status", "/operator", "operator"))

    @app.get("/party", include_in_schema=False)
    async def party_page(request: Request) -> Response:
        async def render() -> Response:
            return await run_in_threadpool(party_status, request)

        return await guarded(render)

    def party_status(request: Request) -> Response:
        who = signed_in(request, None, "status", "reference", "claims")
        if who is None:
            return RedirectResponse("/", status_code=303)
        session = session_of(request, None)
        assert session is not None
        status = campaign_status(service, who, None)
        upload = status["upload"]
        rows = [
            ("Campaign", h(status["campaign"])),
            ("Party", h(status["party"])),
            ("Role", h(status["role"])),
        ]
        if upload is None:
            rows.append(("Your upload", '<span class="muted">nothing uploaded yet</span>'))
        else:
            rows += [
                ("Your upload", f"<code>{h(upload['file'])}</code>"),
                ("Records", h(upload["records"])),
                ("Size", h(_size(upload["size"]))),
                ("Digest (blake3)", f"<code>{h(upload['digest'])}</code>"),
                ("Uploaded", h(upload["uploaded"])),
            ]
        ready = status["results_ready"]
        rows.append(
            (
                "Results",
                '<span class="ok">ready</span>' if ready else '<span class="muted">not yet</span>',
            )
        )
        body = "<table>" + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
        body += "</table>"
        if ready:
            try:
                view = result_view(service, who, None)
            except Refused as exc:
                body += f'<p class="error">{h(exc)}</p>'
            else:
                body += (
                    f"<h2>Your results (job {h(view.job)})</h2><table><tr><th>File</th>"
                    "<th>Size</th><th>Digest (blake3)</th><th></th></tr>"
                )
                for f in view.files:
                    body += (
                        f"<tr><td><code>{h(f.path)}</code></td><td>{h(_size(f.size))}</td>"
                        f"<td><code>{h(f.blake3)}</code></td><td>"
                        '<form method="post" action="/party/file" class="inline">'
                        f'{_csrf_field(session)}<input type="hidden" name="path" '
                        f'value="{h(f.path)}"><button type="submit">Download</button>'
                        "</form></td></tr>"
                    )
                body += "</table>"
        body += f"<p>{_sign_out(session)}</p>"
        return _page("Your campaign", body)

    @app.post("/party/file", include_in_schema=False)
    async def party_file(request: Request) -> Response:
        async def fetch() -> Response:
            same_origin(request)
            fields = await form(request)
            return await run_in_threadpool(send_file, request, fields)

        return await guarded(fetch)

    def send_file(request: Request, fields: dict[str, str]) -> Response:
        who = signed_in(request, fields, "download", "reference", "claims")
        if who is None:
            return _problem(401, "not signed in (or the session expired): sign in again")
        local, entry, view = download(service, who, None, fields.get("path", ""))
        response = FileResponse(
            local,
            media_type="application/octet-stream",
            filename=PurePosixPath(entry.path).name,
            headers={
                "X-Pprl-Blake3": entry.blake3,
                "X-Pprl-Job": str(view.job),
                "X-Pprl-Result-Digest": view.result_digest,
            },
        )
        response.headers.update(SECURITY_HEADERS)
        response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
        return response

    @app.get("/operator", include_in_schema=False)
    async def operator_page(request: Request) -> Response:
        async def render() -> Response:
            return await run_in_threadpool(operator_status, request)

        return await guarded(render)

    def operator_status(request: Request) -> Response:
        who = signed_in(request, None, "status", "operator")
        if who is None:
            return RedirectResponse("/", status_code=303)
        session = session_of(request, None)
        assert session is not None
        found = campaign_status(service, who, None)["campaigns"]
        body = "" if found else '<p class="muted">No campaigns yet.</p>'
        for camp in found:
            name = camp["campaign"]
            body += (
                f"<h2>Campaign <code>{h(name)}</code></h2>"
                f"<p>Reference: <code>{h(camp['reference'])}</code>; claims: "
                + ", ".join(f"<code>{h(p)}</code>" for p in camp["claims"])
                + f"; created {h(camp['created'])}</p>"
            )
            body += (
                "<table><tr><th>Party</th><th>Role</th><th>File</th><th>Records</th>"
                "<th>Size</th><th>Uploaded</th></tr>"
            )
            for up in camp["uploads"]:
                body += (
                    f"<tr><td><code>{h(up['party'])}</code></td><td>{h(up['role'])}</td>"
                    f"<td><code>{h(up['file'])}</code></td><td>{h(up['records'])}</td>"
                    f"<td>{h(_size(up['size']))}</td><td>{h(up['uploaded'])}</td></tr>"
                )
            for party in camp["waiting_for"]:
                body += (
                    f'<tr><td><code>{h(party)}</code></td><td colspan="5" class="muted">'
                    "not uploaded yet</td></tr>"
                )
            body += "</table>"
            if camp["jobs"]:
                body += (
                    "<table><tr><th>Job</th><th>State</th><th>Created</th><th>Finished</th>"
                    "<th>Error</th></tr>"
                )
                for job in camp["jobs"]:
                    body += (
                        f"<tr><td>{h(job['job'])}</td><td>{h(job['state'])}</td>"
                        f"<td>{h(job['created'])}</td><td>{h(job['finished'] or '')}</td>"
                        f"<td>{h(job['error'] or '')}</td></tr>"
                    )
                body += "</table>"
            else:
                body += '<p class="muted">No jobs yet.</p>'
            if any(job["state"] == "done" for job in camp["jobs"]):
                href = "/operator/report?campaign=" + quote(name, safe="")
                body += f'<p><a href="{h(href)}">Report of the latest done job</a></p>'
        body += f"<p>{_sign_out(session)}</p>"
        return _page("Campaigns", body)

    @app.get("/operator/report", include_in_schema=False)
    async def operator_report(request: Request, campaign: str = "") -> Response:
        async def fetch() -> Response:
            return await run_in_threadpool(send_report, request, campaign)

        return await guarded(fetch)

    def send_report(request: Request, campaign: str) -> Response:
        who = signed_in(request, None, "download", "operator")
        if who is None:
            return RedirectResponse("/", status_code=303)
        local, entry, view = download(service, who, campaign, "report.html")
        response = FileResponse(
            local,
            media_type="text/html; charset=utf-8",
            headers={"X-Pprl-Blake3": entry.blake3, "X-Pprl-Job": str(view.job)},
        )
        response.headers.update(SECURITY_HEADERS)
        response.headers["Content-Security-Policy"] = REPORT_CSP
        return response

    @app.post("/sign-out", include_in_schema=False)
    async def sign_out(request: Request) -> Response:
        async def end() -> Response:
            same_origin(request)
            fields = await form(request)
            if session_of(request, fields) is not None:
                sessions.close(request.cookies.get(COOKIE))
            response = RedirectResponse("/", status_code=303)
            response.headers.update(SECURITY_HEADERS)
            response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
            return response

        return await guarded(end)
