"""Overload: past the concurrency limit a request gets 503 with Retry-After at once,
never reaching a route (so never a wrong or partial body); the slot is freed however
the admitted request ends."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from pprl.service.limits import ConcurrencyLimit


def _held_app():
    """An ASGI app whose '/hold' requests wait for ``release``; every request it sees is
    recorded in ``seen``; '/boom' raises."""
    entered, release, seen = asyncio.Event(), asyncio.Event(), []

    async def app(scope, receive, send):
        assert scope["type"] == "http"
        seen.append(scope["path"])
        if scope["path"] == "/hold":
            entered.set()
            await release.wait()
        if scope["path"] == "/boom":
            raise RuntimeError("boom")
        body = f"answer for {scope['path']}".encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    return app, entered, release, seen


def test_full_server_answers_503_with_retry_after_and_frees_the_slot():
    async def scenario():
        inner, entered, release, seen = _held_app()
        limited = ConcurrencyLimit(inner, limit=1)
        transport = httpx.ASGITransport(app=limited, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            held = asyncio.create_task(client.get("/hold"))
            await entered.wait()
            busy = await client.put("/upload", content=b"x" * 1000)
            assert busy.status_code == 503
            assert busy.headers["retry-after"] == "1"
            error = busy.json()["error"]
            assert "server busy" in error and "\n" not in error
            assert seen == ["/hold"]  # the refused request never reached the app
            assert limited.refused == 1
            release.set()
            first = await held
            assert (first.status_code, first.text) == (200, "answer for /hold")
            after = await client.get("/next")  # the slot is free again
            assert (after.status_code, after.text) == (200, "answer for /next")
            failed = await client.get("/boom")  # an app error frees the slot too
            assert failed.status_code == 500
            assert limited.active == 0
            assert (await client.get("/last")).text == "answer for /last"

    asyncio.run(scenario())


def test_n_requests_are_admitted_at_once():
    async def scenario():
        started, release = [], asyncio.Event()

        async def app(scope, receive, send):
            started.append(scope["path"])
            await release.wait()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": scope["path"].encode()})

        limited = ConcurrencyLimit(app, limit=3)
        transport = httpx.ASGITransport(app=limited)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            tasks = [asyncio.create_task(client.get(f"/{i}")) for i in range(3)]
            while len(started) < 3:
                await asyncio.sleep(0)
            assert (await client.get("/extra")).status_code == 503
            release.set()
            answers = await asyncio.gather(*tasks)
            assert [(r.status_code, r.text) for r in answers] == [(200, f"/{i}") for i in range(3)]

    asyncio.run(scenario())


def test_lifespan_passes_through_to_the_service(service):
    from fastapi.testclient import TestClient

    from pprl.service.app import create_app

    app = create_app(service)
    with TestClient(ConcurrencyLimit(app, limit=2)) as client:  # runs the app's lifespan
        r = client.get("/api/v1/health")
        assert r.status_code == 200 and r.json()["status"] == "ok"


def test_limit_must_be_positive():
    with pytest.raises(ValueError, match="at least 1"):
        ConcurrencyLimit(lambda *a: None, limit=0)


def test_serve_refuses_a_bad_max_concurrent(tmp_path):
    from pprl_cli.main import app
    from typer.testing import CliRunner

    r = CliRunner().invoke(app, ["serve", "--data", str(tmp_path / "d"), "--max-concurrent", "0"])
    assert r.exit_code == 2 and "--max-concurrent" in r.output
    assert not (tmp_path / "d").exists()
