"""Overload protection: at most ``limit`` requests are handled at once. A request
arriving while all are busy is answered at once with 503, ``Retry-After`` and the
one-line JSON error, before its body is read: it never reaches a route, so it can never
get a wrong or partial answer. Lifespan and other non-HTTP events pass through."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Receive, Scope, Send

DEFAULT_MAX_CONCURRENT = 64
RETRY_AFTER_S = 1


class ConcurrencyLimit:
    """ASGI middleware admitting at most ``limit`` concurrent HTTP requests.

    The count is kept on the event loop (no await between the check and the
    increment), so it needs no lock."""

    def __init__(self, app: ASGIApp, limit: int = DEFAULT_MAX_CONCURRENT) -> None:
        if limit < 1:
            raise ValueError(f"max concurrent requests must be at least 1, not {limit}")
        self.app = app
        self.limit = limit
        self.active = 0
        self.refused = 0  # requests answered 503 since start

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.active >= self.limit:
            self.refused += 1
            await _busy(send, self.limit)
            return
        self.active += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.active -= 1


async def _busy(send: Send, limit: int) -> None:
    body = json.dumps(
        {"error": f"server busy: {limit} requests in progress; retry after {RETRY_AFTER_S} s"}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(RETRY_AFTER_S).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
