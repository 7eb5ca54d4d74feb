"""``pprl serve``: the API on uvicorn, over the state under the data folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pprl.service.limits import DEFAULT_MAX_CONCURRENT, ConcurrencyLimit
from pprl.service.state import DEFAULT_MAX_UPLOAD, OPERATOR_TOKEN_FILE, open_service


def serve(
    data: Path,
    host: str = "127.0.0.1",
    port: int = 8750,
    database: str | None = None,
    max_upload: int = DEFAULT_MAX_UPLOAD,
    job_workers: int = 1,
    max_concurrent: int = DEFAULT_MAX_CONCURRENT,
    announce: Callable[[str], None] = print,
) -> None:
    """Set up (first start) or open the service under ``data`` and serve it until
    interrupted. ``announce`` receives one line naming the address and the operator
    token's file (never the token). ``job_workers`` verification jobs run at once; past
    ``max_concurrent`` requests in progress, a request is answered 503 with Retry-After."""
    import uvicorn

    from pprl.service.app import create_app

    service = open_service(data, database, max_upload, job_workers)
    app = ConcurrencyLimit(create_app(service), max_concurrent)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,  # request lines could carry campaign names; the audit log records uses
        # uvicorn's own limit counts open connections too (idle keep-alive ones): set it well
        # above ours, so a busy server answers with our 503 + Retry-After
        limit_concurrency=max(256, 4 * max_concurrent),
        timeout_keep_alive=5,
        h11_max_incomplete_event_size=64 * 1024,
    )
    server = uvicorn.Server(config)
    announce(
        f"serving on http://{host}:{port} (data {data}; operator token in "
        f"{Path(data) / OPERATOR_TOKEN_FILE})"
    )
    server.run()
