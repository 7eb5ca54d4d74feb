"""Fixtures for the service tests: a database (SQLite always; PostgreSQL at
127.0.0.1:5432, database ``test``, when one answers, in a schema of its own dropped
afterwards), a service over it, and encoding files."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.helpers import running_server

PG_SERVER = "postgresql://postgres@127.0.0.1:5432/test"


def _postgres_or_skip() -> str:
    """A fresh schema on the local PostgreSQL server; skips when none answers."""
    import psycopg

    try:
        conn = psycopg.connect(PG_SERVER, connect_timeout=3, autocommit=True)
    except psycopg.Error as exc:
        pytest.skip(f"no PostgreSQL at 127.0.0.1:5432 (database test): {str(exc).strip()[:120]}")
    schema = f"pprl_test_{secrets.token_hex(6)}"
    with conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return schema


def _drop(schema: str) -> None:
    import psycopg

    with psycopg.connect(PG_SERVER, connect_timeout=3, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None (the SQLite file under the data folder) or a PostgreSQL URL whose
    search_path is a schema made for this test alone."""
    if request.param == "sqlite":
        yield None
        return
    schema = _postgres_or_skip()
    try:
        yield f"{PG_SERVER}?options=-csearch_path%3D{schema}"
    finally:
        _drop(schema)


@pytest.fixture()
def service(tmp_path: Path, database: str | None):
    from pprl.service.state import open_service

    svc = open_service(tmp_path / "data", database, max_upload=1 << 20, job_threads=1)
    yield svc
    svc.engine.dispose()


@pytest.fixture()
def api(service):
    from fastapi.testclient import TestClient

    from pprl.service.app import create_app

    with TestClient(create_app(service), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture()
def server(tmp_path: Path, database: str | None):
    data = tmp_path / "data"
    with running_server(data, database, tmp_path / "serve.log") as (url, _, log):
        yield url, data, log
