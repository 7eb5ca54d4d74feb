"""``pprl serve``: the API on uvicorn, over the state under the data folder."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pprl.errors import InputError
from pprl.service.limits import DEFAULT_MAX_CONCURRENT, ConcurrencyLimit
from pprl.service.state import DEFAULT_MAX_UPLOAD, OPERATOR_TOKEN_FILE, open_service


def tls_options(cert: Path | None, key: Path | None) -> dict[str, Any]:
    """uvicorn's TLS options for ``--tls-cert``/``--tls-key`` (both or neither); each file
    must be readable PEM and the key must match the certificate, else one line."""
    if cert is None and key is None:
        return {}
    if cert is None or key is None:
        given, missing = ("--tls-cert", "--tls-key") if key is None else ("--tls-key", "--tls-cert")
        raise InputError(f"{given} needs {missing} too")
    for option, path in (("--tls-cert", cert), ("--tls-key", key)):
        try:
            with open(path, "rb") as f:
                f.read(1)
        except FileNotFoundError:
            raise InputError(f"{option} {path}: file not found") from None
        except IsADirectoryError:
            raise InputError(f"{option} {path}: is a folder, not a file") from None
        except OSError:
            raise InputError(f"{option} {path}: not readable") from None
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (ssl.SSLError, ValueError):
        raise InputError(
            f"--tls-cert {cert} / --tls-key {key}: not a PEM certificate and its matching "
            "unencrypted private key"
        ) from None
    return {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}


def serve(
    data: Path,
    host: str = "127.0.0.1",
    port: int = 8750,
    database: str | None = None,
    max_upload: int = DEFAULT_MAX_UPLOAD,
    job_workers: int = 1,
    max_concurrent: int = DEFAULT_MAX_CONCURRENT,
    announce: Callable[[str], None] = print,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
) -> None:
    """Set up (first start) or open the service under ``data`` and serve it until
    interrupted. ``announce`` receives one line naming the address and the operator
    token's file (never the token). ``job_workers`` verification jobs run at once; past
    ``max_concurrent`` requests in progress, a request is answered 503 with Retry-After.
    With ``tls_cert`` and ``tls_key`` (PEM) it serves https://."""
    import uvicorn

    from pprl.service.app import create_app

    tls = tls_options(tls_cert, tls_key)
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
        **tls,
    )
    server = uvicorn.Server(config)
    announce(
        f"serving on {'https' if tls else 'http'}://{host}:{port} (data {data}; operator token in "
        f"{Path(data) / OPERATOR_TOKEN_FILE})"
    )
    server.run()
