"""The service's state in a database (SQLAlchemy 2): tables, engine, migrations.

An SQLite file under the data folder by default; PostgreSQL for deployments
(``postgresql://...``). The schema is created and upgraded by the alembic migrations
shipped in this package (``migrations/``), run at start-up: users need no alembic.ini.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from pprl.errors import InputError

DB_FILE = "pprl-service.sqlite3"

metadata = sa.MetaData()

campaigns = sa.Table(
    "campaigns",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("reference", sa.String(64), nullable=False),
    sa.Column("claims", sa.Text, nullable=False),  # JSON list of party labels
    sa.Column("schema_name", sa.String(128), nullable=True),
    sa.Column("retention_days", sa.Integer, nullable=True),
    # migration 0003: queue the verification job once every party has uploaded
    sa.Column("auto_run", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("key_fingerprint", sa.String(64), nullable=True),  # fixed by the first upload
    sa.Column("schema_digest", sa.String(128), nullable=True),  # fixed by the first upload
    sa.Column("pinned_upload_id", sa.Integer, nullable=True),
    sa.Column("created_at", sa.String(40), nullable=False),
)


def campaign_named(name: str) -> sa.ColumnElement[bool]:
    """``campaigns.name == name``, or false for a name holding NUL: no campaign has one
    (labels refuse control characters) and PostgreSQL refuses to compare text with it."""
    return sa.false() if "\x00" in name else campaigns.c.name == name


tokens = sa.Table(
    "tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("campaign_id", sa.Integer, sa.ForeignKey("campaigns.id"), nullable=True),
    sa.Column("party", sa.String(64), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),  # operator | reference | claims
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),  # keyed blake3
    sa.Column("revoked", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", sa.String(40), nullable=False),
)

uploads = sa.Table(
    "uploads",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("campaign_id", sa.Integer, sa.ForeignKey("campaigns.id"), nullable=False),
    sa.Column("party", sa.String(64), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("filename", sa.String(255), nullable=False),  # the name the client sent
    sa.Column("path", sa.String(1024), nullable=False),  # relative to the data folder
    sa.Column("digest", sa.String(128), nullable=False),  # the file's content digest
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("records", sa.BigInteger, nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
)

# One row per verification run (migration 0002). state: queued | running | done | failed;
# result_path (relative to the data folder) and result_digest (blake3 of the result set's
# manifest.json) are set only when the result set is complete and switched in.
jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("campaign_id", sa.Integer, sa.ForeignKey("campaigns.id"), nullable=False),
    sa.Column("campaign", sa.String(64), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("inputs", sa.Text, nullable=False),  # JSON list of upload ids
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("started_at", sa.String(40), nullable=True),
    sa.Column("finished_at", sa.String(40), nullable=True),
    sa.Column("error", sa.Text, nullable=True),  # one line
    sa.Column("result_path", sa.String(1024), nullable=True),
    sa.Column("result_digest", sa.String(64), nullable=True),
    sa.Index("jobs_campaign_state", "campaign_id", "state"),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("at", sa.String(40), nullable=False),
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("campaign", sa.String(64), nullable=False),
    sa.Column("party", sa.String(64), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

# One row (id 1): the chain's head. Appending updates it first, which serializes writers
# on SQLite and PostgreSQL alike, and lets verification notice entries cut off the end.
audit_head = sa.Table(
    "audit_head",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)


def database_url(data: Path, database: str | None) -> str:
    """The SQLAlchemy URL: ``database`` (``postgresql://`` means psycopg 3) or the SQLite
    file under ``data``."""
    if not database:
        return f"sqlite:///{(data / DB_FILE).resolve()}"
    if database.startswith("postgresql://") or database.startswith("postgres://"):
        return "postgresql+psycopg://" + database.split("://", 1)[1]
    if database.startswith(("postgresql+psycopg://", "sqlite:///")):
        return database
    raise InputError(
        "--database: give a postgresql://USER@HOST:PORT/NAME URL (or leave it out for "
        "the SQLite file under --data)"
    )


def open_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite waits for a locked database instead of failing."""
    try:
        if url.startswith("sqlite"):
            return sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        return sa.create_engine(url, pool_pre_ping=True)
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise InputError(f"--database: {str(exc).splitlines()[0][:200]}") from None


def migrate(engine: Engine) -> None:
    """Create or upgrade the schema to the newest migration shipped with pprl."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except sa.exc.OperationalError as exc:
        raise InputError(f"database {engine.url.render_as_string()}: {_reason(exc)}") from None


def _reason(exc: BaseException) -> str:
    """The first line of a driver's error, without the SQL."""
    text = str(getattr(exc, "orig", exc) or exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


_write_lock = threading.RLock()


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """A writing transaction. One at a time per server process: SQLite allows one writer,
    and the upload checks that fix a campaign's key fingerprint must not interleave."""
    with _write_lock, engine.begin() as conn:
        yield conn
