"""Helpers for the service tests: tokens, headers and small encoding files."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import pytest
import sqlalchemy as sa

from pprl.service.db import audit_log, jobs
from pprl.store import Encodings, write_encodings


def operator_token(service) -> str:
    return (service.data / "operator.token").read_text().strip()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def encoding_file(
    path: Path,
    party: str,
    role: str,
    fingerprint: str = "a" * 16,
    schema_digest: str = "b" * 32,
    schema_name: str = "jp-resident",
    n: int = 20,
    seed: int = 0,
) -> Path:
    """A small, valid encoding file (random CLKs and pseudonyms)."""
    rng = np.random.default_rng(seed)
    enc = Encodings(
        rows=np.arange(n, dtype=np.int64),
        tokens=rng.integers(0, 256, (n, 32), dtype=np.uint8),
        has_token=np.ones(n, bool),
        clks=rng.integers(0, 2**63, (n, 16), dtype=np.uint64),
        meta={
            "party": party,
            "role": role,
            "key_fingerprint": fingerprint,
            "schema_digest": schema_digest,
            "schema_name": schema_name,
        },
    )
    return write_encodings(enc, path)


def verifiable_files(
    folder: Path, reference: str = "city", claims: tuple[str, ...] = ("ins1", "ins2"), n: int = 30
) -> dict[str, Path]:
    """A register and claims files that verification can run on: one shared block key,
    each claims party claiming its own slice of the register's numbers, half of them
    with the register's CLK (confirmed) and half with a random one."""
    rng = np.random.default_rng(7)
    tokens = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    clks = rng.integers(0, 2**63, (n, 16), dtype=np.uint64)
    meta = {"key_fingerprint": "a" * 16, "schema_digest": "b" * 32, "schema_name": "jp-resident"}

    def write(path: Path, party: str, role: str, tok: np.ndarray, clk: np.ndarray) -> Path:
        m = len(tok)
        enc = Encodings(
            rows=np.arange(m, dtype=np.int64),
            tokens=tok,
            has_token=np.ones(m, bool),
            clks=clk,
            block_keys={"all": (np.zeros(m, np.uint64), np.ones(m, bool))},
            meta={"party": party, "role": role, **meta},
        )
        return write_encodings(enc, path)

    out = {reference: write(folder / f"{reference}.parquet", reference, "register", tokens, clks)}
    step = n // len(claims)
    for i, party in enumerate(claims):
        sl = slice(i * step, (i + 1) * step)
        clk = clks[sl].copy()
        clk[len(clk) // 2 :] = rng.integers(0, 2**63, (len(clk) - len(clk) // 2, 16), np.uint64)
        out[party] = write(folder / f"{party}.parquet", party, "claims", tokens[sl], clk)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_server(
    data: Path,
    database: str | None,
    log_path: Path,
    env: dict | None = None,
    extra: tuple[str, ...] = (),
):
    """'pprl serve' (with ``extra`` options) in its own process on a free loopback port,
    until the block ends."""
    port = free_port()
    cmd = [
        sys.executable,
        "-c",
        "from pprl_cli.main import app; app(prog_name='pprl')",
        "serve",
        "--data",
        str(data),
        "--port",
        str(port),
        "--max-upload-mb",
        "1",
        *extra,
    ]
    if database:
        cmd += ["--database", database]
    log = open(log_path, "w+b")  # noqa: SIM115
    proc = subprocess.Popen(
        cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            log.seek(0)
            pytest.fail(f"pprl serve did not start: {log.read().decode()[-1000:]}")
        time.sleep(0.1)
    try:
        yield url, proc, log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


API = "/api/v1"


def setup_campaign(api, service, tmp_path, name="c1", upload=("city", "ins1", "ins2"), **extra):
    r = api.post(
        f"{API}/campaigns",
        json={"name": name, "reference": "city", "claims": ["ins1", "ins2"], **extra},
        headers=auth(operator_token(service)),
    )
    assert r.status_code == 201, r.text
    tokens = r.json()["tokens"]
    files = verifiable_files(tmp_path)
    for party in upload:
        r = api.put(
            f"{API}/upload",
            content=files[party].read_bytes(),
            headers={**auth(tokens[party]), "X-Pprl-Filename": files[party].name},
        )
        assert r.status_code == 200, r.text
    return tokens, files


def run(api, service, name="c1"):
    return api.post(f"{API}/campaigns/{name}/run", headers=auth(operator_token(service)))


def job_rows(service):
    with service.engine.connect() as conn:
        return [r._asdict() for r in conn.execute(sa.select(jobs).order_by(jobs.c.id))]


def audit(service, action):
    with service.engine.connect() as conn:
        rows = conn.execute(sa.select(audit_log).where(audit_log.c.action == action))
        return [(r.outcome, r.detail) for r in rows]
