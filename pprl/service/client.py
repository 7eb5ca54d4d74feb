"""The client side of the service (``pprl campaign``, ``pprl client``): HTTP calls with
httpx, the server's one-line refusals raised as :class:`pprl.errors.InputError`."""

from __future__ import annotations

import os
import ssl
import time
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from pprl.errors import InputError
from pprl.service.tokens import write_secret_file

TIMEOUT = httpx.Timeout(30.0, read=600.0)
CHUNK = 1 << 20

# What https:// servers are trusted by: True (the system's authorities, via certifi) or
# a context trusting the certificate given with --ca-cert.
_verify: ContextVar[ssl.SSLContext | bool] = ContextVar("pprl_client_verify", default=True)


def use_ca_cert(path: Path | None) -> None:
    """Trust the PEM certificate (or authority) in ``path`` for https:// servers from
    now on in this context (None: the system's authorities); an unreadable or malformed
    file is refused with one line."""
    if path is None:
        _verify.set(True)
        return
    try:
        context = ssl.create_default_context(cafile=str(path))
    except FileNotFoundError:
        raise InputError(f"--ca-cert {path}: file not found") from None
    except PermissionError:
        raise InputError(f"--ca-cert {path}: not readable") from None
    except (ssl.SSLError, OSError, ValueError):
        raise InputError(f"--ca-cert {path}: not a PEM certificate") from None
    _verify.set(context)


def _http() -> httpx.Client:
    return httpx.Client(timeout=TIMEOUT, verify=_verify.get())


def _url(server: str, path: str) -> str:
    if not server.startswith(("http://", "https://")):
        raise InputError(f"--server {server!r}: give an http:// or https:// URL")
    return server.rstrip("/") + "/api/v1" + path


def _answer(server: str, response: httpx.Response) -> Any:
    """The JSON of a 2xx answer; a refusal is its one-line message."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.is_success and isinstance(body, dict):
        return body
    message = body.get("error") if isinstance(body, dict) else None
    if not isinstance(message, str):
        message = f"{server}: unexpected answer (HTTP {response.status_code})"
    raise InputError(message)


def _unreachable(server: str, exc: httpx.HTTPError) -> InputError:
    """One line for a failed connection; a refused certificate says so."""
    if isinstance(exc, httpx.ConnectError) and "CERTIFICATE_VERIFY_FAILED" in str(exc):
        return InputError(
            f"{server}: the server's certificate is not trusted (give its authority with "
            "--ca-cert FILE)"
        )
    return InputError(f"{server}: cannot reach the server ({type(exc).__name__})")


def _call(server: str, method: str, path: str, token: str, **kwargs: Any) -> Any:
    try:
        with _http() as http:
            response = http.request(
                method,
                _url(server, path),
                headers={"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})},
                **kwargs,
            )
    except httpx.HTTPError as exc:
        raise _unreachable(server, exc) from None
    return _answer(server, response)


def create_campaign(
    server: str,
    token: str,
    name: str,
    reference: str,
    claims: list[str],
    tokens_out: Path,
    schema: str | None = None,
    retention_days: int | None = None,
    auto_run: bool = False,
) -> dict[str, Any]:
    """Create a campaign; write each party's token to ``tokens_out/<party>.token`` (0600).
    Refuses before asking the server when any of those files exists."""
    parties = [reference, *claims]
    tokens_out.mkdir(mode=0o700, parents=True, exist_ok=True)
    taken = [tokens_out / f"{p}.token" for p in parties if (tokens_out / f"{p}.token").exists()]
    if taken:
        raise InputError(f"{taken[0]}: exists already; choose another --tokens-out folder")
    if not os.access(tokens_out, os.W_OK):
        raise InputError(f"--tokens-out {tokens_out}: not writable")
    body: dict[str, Any] = {"name": name, "reference": reference, "claims": claims}
    if schema is not None:
        body["schema"] = schema
    if retention_days is not None:
        body["retention_days"] = retention_days
    if auto_run:
        body["auto_run"] = True
    answer = _call(server, "POST", "/campaigns", token, json=body)
    issued = answer.get("tokens") if isinstance(answer, dict) else None
    if not isinstance(issued, dict) or set(issued) != set(parties):
        raise InputError(f"{server}: unexpected answer to campaign create")
    written = []
    for party in parties:
        path = tokens_out / f"{party}.token"
        write_secret_file(path, str(issued[party]))
        written.append(path)
    return {"campaign": name, "token_files": [str(p) for p in written]}


def revoke(server: str, token: str, name: str, party: str) -> dict[str, Any]:
    """Revoke one party's tokens in campaign ``name``."""
    result: dict[str, Any] = _call(
        server, "POST", f"/campaigns/{quote(name, safe='')}/revoke", token, json={"party": party}
    )
    return result


def run(server: str, token: str, name: str) -> dict[str, Any]:
    """Queue campaign ``name``'s verification job (operator)."""
    result: dict[str, Any] = _call(server, "POST", f"/campaigns/{quote(name, safe='')}/run", token)
    return result


def status(server: str, token: str, name: str | None = None) -> dict[str, Any]:
    """The campaign's state as this token may see it (all campaigns: operator, no name)."""
    params = {"campaign": name} if name is not None else {}
    result: dict[str, Any] = _call(server, "GET", "/status", token, params=params)
    return result


def wait_for_job(
    server: str, token: str, name: str, job: int, poll: float = 0.5, timeout: float = 86400.0
) -> dict[str, Any]:
    """Poll the campaign's status until ``job`` is done or failed; its status entry."""
    deadline = time.monotonic() + timeout
    while True:
        found = [j for j in status(server, token, name).get("jobs", []) if j.get("job") == job]
        if not found:
            raise InputError(f"{server}: campaign {name!r} has no job {job}")
        if found[0].get("state") in ("done", "failed"):
            return dict(found[0])
        if time.monotonic() > deadline:
            raise InputError(f"campaign {name!r}: job {job} still {found[0].get('state')}")
        time.sleep(poll)


def _safe_path(server: str, rel: object) -> str:
    """A file path the server listed, if it is a plain relative path inside the set."""
    parts = rel.split("/") if isinstance(rel, str) else [""]
    if (
        not isinstance(rel, str)
        or rel.startswith("/")
        or "\\" in rel
        or any(p in ("", ".", "..") or not p.isprintable() for p in parts)
        or rel == "manifest.json"
    ):
        raise InputError(f"{server}: unexpected file name in the results listing")
    return rel


def _fetch(
    http: httpx.Client, server: str, token: str, params: dict[str, str], dest: Path, want: str
) -> None:
    """Stream one result file to ``dest``, checking its blake3 digest against ``want``
    (the manifest's digest from the listing) and the digest the server sends with it."""
    from blake3 import blake3

    digest = blake3()
    with http.stream(
        "GET",
        _url(server, "/results/file"),
        params=params,
        headers={"Authorization": f"Bearer {token}"},
    ) as response:
        if not response.is_success:
            response.read()
            _answer(server, response)
        sent = response.headers.get("x-pprl-blake3")
        with open(dest, "wb") as f:
            for chunk in response.iter_bytes(CHUNK):
                digest.update(chunk)
                f.write(chunk)
    got = digest.hexdigest()
    if sent != want or got != want:
        raise InputError(
            f"{params['path']}: the download does not match the result set's digest "
            f"(expected {want}, received {got}); nothing written"
        )


def results(
    server: str, token: str, out: Path, name: str | None = None, force: bool = False
) -> dict[str, Any]:
    """Download this token's view of the campaign's latest results into ``out``, as one
    result set (all files checked by digest, then switched in; nothing on a mismatch)."""
    from pprl.resultset import result_set

    params = {"campaign": name} if name is not None else {}
    listing = _call(server, "GET", "/results", token, params=params)
    files = listing.get("files")
    if not isinstance(files, list) or not files:
        raise InputError(f"{server}: no result files for this token")
    entries = [(_safe_path(server, f.get("path")), f) for f in files if isinstance(f, dict)]
    try:
        with _http() as http, result_set(out, "results", force=force) as rs:
            for rel, entry in entries:
                dest = rs.path / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                _fetch(http, server, token, {**params, "path": rel}, dest, str(entry.get("blake3")))
                if entry.get("party"):
                    rs.deliver(str(entry["party"]), rel, str(entry.get("role")))
    except httpx.HTTPError as exc:
        raise _unreachable(server, exc) from None
    return {
        "campaign": listing.get("campaign"),
        "job": listing.get("job"),
        "files": [str(out / rel) for rel, _ in entries],
    }


def delete(server: str, token: str, name: str) -> dict[str, Any]:
    """Delete campaign ``name``: its files and rows on the server (operator)."""
    result: dict[str, Any] = _call(server, "DELETE", f"/campaigns/{quote(name, safe='')}", token)
    return result


def _chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            yield chunk


def upload(server: str, token: str, path: Path) -> dict[str, Any]:
    """Stream an encoding file to the server, which checks and keeps it."""
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    size = path.stat().st_size
    try:
        with _http() as http:
            health = http.get(_url(server, "/health"))
    except httpx.HTTPError as exc:
        raise _unreachable(server, exc) from None
    limit = _answer(server, health).get("max_upload")
    if isinstance(limit, int) and size > limit:
        raise InputError(f"{path}: larger than the server's upload limit of {limit:,} bytes")
    result: dict[str, Any] = _call(
        server,
        "PUT",
        "/upload",
        token,
        content=_chunks(path),
        headers={"Content-Length": str(size), "X-Pprl-Filename": quote(path.name, safe="")},
    )
    return result
