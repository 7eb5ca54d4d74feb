"""The service's state on disk: the data folder, its server key, the database, and the
operator token made on first start."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pprl.errors import InputError, PprlError
from pprl.service import audit
from pprl.service.db import DB_FILE, database_url, migrate, open_engine, tokens, transaction
from pprl.service.tokens import load_server_key, new_token, token_hash, write_secret_file

OPERATOR_TOKEN_FILE = "operator.token"
MAX_JSON_BYTES = 64 * 1024  # every request body but an upload
DEFAULT_MAX_UPLOAD = 2 << 30  # bytes


class Refused(PprlError):
    """A request refused with an HTTP status (4xx) and a one-line message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Service:
    """What every request needs: the data folder, the database and the token key."""

    data: Path
    engine: Engine
    key: bytes
    max_upload: int = DEFAULT_MAX_UPLOAD
    job_workers: int = 1  # verification jobs run at once (the embedded worker pool)
    job_threads: int | None = None  # kernel threads per job (None: all cores)
    # hands a committed, queued job to the worker pool (set by the running application;
    # None: queued jobs wait, and are marked failed at the next start)
    submit_job: Callable[[int], None] | None = None
    sweep_seconds: float = 3600.0  # how often expired campaigns are looked for


def open_service(
    data: Path,
    database: str | None = None,
    max_upload: int = DEFAULT_MAX_UPLOAD,
    job_workers: int = 1,
    job_threads: int | None = None,
) -> Service:
    """Open (or set up, on first start) the service under ``data``: the folder (0700),
    the server key, the database schema (migrated), and ``data/operator.token`` (0600)
    when the database holds no operator token yet. The token is never printed."""
    data = Path(data)
    if data.exists() and not data.is_dir():
        raise InputError(f"--data {data}: not a folder")
    data.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = load_server_key(data)
    if database is None and not (data / DB_FILE).exists():
        os.close(os.open(data / DB_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    engine = open_engine(database_url(data, database))
    migrate(engine)
    service = Service(data, engine, key, max_upload, job_workers, job_threads)
    _ensure_operator_token(service)
    return service


def open_database(data: Path, database: str | None = None) -> Engine:
    """The database of an existing service (for ``pprl audit-log verify``), migrated."""
    if database is None and not (Path(data) / DB_FILE).is_file():
        raise InputError(f"--data {data}: holds no service database (start 'pprl serve' first)")
    engine = open_engine(database_url(Path(data), database))
    migrate(engine)
    return engine


def _ensure_operator_token(service: Service) -> None:
    path = service.data / OPERATOR_TOKEN_FILE
    with transaction(service.engine) as conn:
        existing = conn.execute(
            sa.select(tokens.c.id).where(tokens.c.role == "operator", ~tokens.c.revoked)
        ).first()
        if existing is not None:
            return
        if path.exists():
            raise InputError(
                f"{path}: exists, but the database holds no operator token; move the file "
                "away (it belongs to another database) and start again"
            )
        token = new_token()
        conn.execute(
            sa.insert(tokens).values(
                campaign_id=None,
                party="operator",
                role="operator",
                token_hash=token_hash(service.key, token),
                revoked=False,
                created_at=audit.now(),
            )
        )
        audit.append(conn, "operator-token-created", "ok", role="operator", detail=str(path))
        write_secret_file(path, token)  # last: a failure rolls the row back
        os.chmod(path, 0o600)
