"""Load and isolation: one real 'pprl serve' on loopback, six parties of one campaign
and the operator, 58 concurrent clients uploading, polling status, listing and
downloading results at once. Every answer must belong to the client that asked
(checked by content digest against the result set on disk and the digests of its own
uploads), no answer may be a 5xx other than 503 with Retry-After, and a party's status
never names another party. p50/p99 latencies are printed (docs/benchmarks.md records
them); there are no timing assertions."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
import sqlalchemy as sa
from blake3 import blake3

from pprl.resultset import read_manifest
from pprl.service.db import DB_FILE, jobs
from service.helpers import auth, running_server, verifiable_files

API = "/api/v1"
CAMPAIGN = "load"
REFERENCE = "city"
CLAIMS = ("kasai", "chuo", "minato", "shibuya", "nerima")
PARTIES = (REFERENCE, *CLAIMS)
CLIENTS_PER_PARTY = 9  # 54 party clients
OPERATOR_CLIENTS = 4
ROUNDS = 3


class Load:
    """Latencies and failures, shared by the client threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.failures: list[str] = []
        self.busy = 0

    def request(
        self, client: httpx.Client, kind: str, method: str, url: str, **kw
    ) -> httpx.Response:
        """One request, repeated after 503 (which must carry Retry-After)."""
        for _ in range(30):
            start = time.perf_counter()
            r = client.request(method, url, **kw)
            elapsed = time.perf_counter() - start
            with self.lock:
                self.latency[kind].append(elapsed)
            if r.status_code != 503:
                return r
            with self.lock:
                self.busy += 1
            retry = r.headers.get("retry-after")
            self.check(retry is not None and retry.isdigit(), f"{kind}: 503 without Retry-After")
            time.sleep(min(float(retry or 1), 1.0))
        raise AssertionError(f"{kind}: still busy after 30 tries")

    def check(self, ok: bool, what: str) -> None:
        if not ok:
            with self.lock:
                self.failures.append(what)


def _expected(data: Path, job: int) -> tuple[Path, str]:
    engine = sa.create_engine(f"sqlite:///{data / DB_FILE}")
    try:
        with engine.connect() as conn:
            row = conn.execute(sa.select(jobs).where(jobs.c.id == job)).one()
    finally:
        engine.dispose()
    assert row.state == "done", row.error
    return data / row.result_path, row.result_digest


def _party_client(load, url, party, token, file_bytes, filename, upload_digest, own, foreign, view):
    role = "reference" if party == REFERENCE else "claims"
    others = [p for p in PARTIES if p != party]
    with httpx.Client(base_url=url, headers=auth(token), timeout=60) as client:
        for _ in range(ROUNDS):
            r = load.request(
                client,
                "upload",
                "PUT",
                f"{API}/upload",
                content=file_bytes,
                headers={"X-Pprl-Filename": filename},
            )
            load.check(r.status_code == 200, f"{party} upload: {r.status_code} {r.text[:200]}")
            if r.status_code == 200:
                body = r.json()
                load.check(
                    (body["party"], body["role"], body["digest"]) == (party, role, upload_digest),
                    f"{party} upload answered for {body['party']} / {body['digest']}",
                )

            r = load.request(client, "status", "GET", f"{API}/status")
            load.check(r.status_code == 200, f"{party} status: {r.status_code} {r.text[:200]}")
            if r.status_code == 200:
                body = r.json()
                load.check(
                    (body["campaign"], body["party"], body["role"]) == (CAMPAIGN, party, role)
                    and body["upload"]["digest"] == upload_digest
                    and body["results_ready"] is True,
                    f"{party} status is not its own: {body}",
                )
                text = json.dumps(body)
                load.check(
                    not any(other in text for other in others), f"{party} status names another"
                )

            r = load.request(client, "list", "GET", f"{API}/results")
            load.check(r.status_code == 200, f"{party} results: {r.status_code} {r.text[:200]}")
            if r.status_code == 200:
                body = r.json()
                listed = {f["path"]: f["blake3"] for f in body["files"]}
                load.check(
                    listed == own and (body["job"], body["result_digest"]) == view,
                    f"{party} listing is not its own: {listed}",
                )
            for path, digest in own.items():
                r = load.request(
                    client, "download", "GET", f"{API}/results/file", params={"path": path}
                )
                load.check(
                    r.status_code == 200
                    and blake3(r.content).hexdigest() == digest
                    and r.headers.get("x-pprl-blake3") == digest,
                    f"{party} download of {path}: {r.status_code}, wrong or partial body",
                )
            r = load.request(
                client, "download", "GET", f"{API}/results/file", params={"path": foreign}
            )
            load.check(r.status_code == 403, f"{party} got {foreign}: {r.status_code}")


def _operator_client(load, url, token, own, view, upload_digests):
    with httpx.Client(base_url=url, headers=auth(token), timeout=60) as client:
        for _ in range(ROUNDS):
            r = load.request(
                client, "status", "GET", f"{API}/status", params={"campaign": CAMPAIGN}
            )
            load.check(r.status_code == 200, f"operator status: {r.status_code} {r.text[:200]}")
            if r.status_code == 200:
                body = r.json()
                seen = {u["party"]: u["digest"] for u in body["uploads"]}
                load.check(seen == upload_digests, f"operator status uploads: {seen}")
            r = load.request(client, "list", "GET", f"{API}/results", params={"campaign": CAMPAIGN})
            load.check(
                r.status_code == 200
                and {f["path"]: f["blake3"] for f in r.json()["files"]} == own
                and (r.json()["job"], r.json()["result_digest"]) == view,
                f"operator listing: {r.status_code} {r.text[:200]}",
            )
            for path, digest in own.items():
                r = load.request(
                    client,
                    "download",
                    "GET",
                    f"{API}/results/file",
                    params={"path": path, "campaign": CAMPAIGN},
                )
                load.check(
                    r.status_code == 200 and blake3(r.content).hexdigest() == digest,
                    f"operator download of {path}: {r.status_code}, wrong or partial body",
                )


def _percentiles(values: list[float]) -> str:
    ms = np.asarray(values) * 1000
    return f"n={len(ms)} p50={np.percentile(ms, 50):.0f} ms p99={np.percentile(ms, 99):.0f} ms"


@pytest.mark.timeout(180)
@pytest.mark.parametrize("max_concurrent", [None, 8], ids=["default-limit", "overloaded"])
def test_concurrent_parties_each_get_only_their_own_answers(tmp_path, max_concurrent):
    """With the default limit and with one far below the client count (most requests
    first answered 503, then retried): every answer is the requester's own."""
    data = tmp_path / "data"
    files = verifiable_files(tmp_path, REFERENCE, CLAIMS, n=60)
    extra = ("--max-concurrent", str(max_concurrent)) if max_concurrent else ()
    with running_server(data, None, tmp_path / "serve.log", extra=extra) as (url, proc, log):
        operator = (data / "operator.token").read_text().strip()
        with httpx.Client(base_url=url, timeout=60) as setup:
            r = setup.post(
                f"{API}/campaigns",
                json={"name": CAMPAIGN, "reference": REFERENCE, "claims": list(CLAIMS)},
                headers=auth(operator),
            )
            assert r.status_code == 201, r.text
            tokens = r.json()["tokens"]
            upload_digests = {}
            for party in PARTIES:
                r = setup.put(
                    f"{API}/upload",
                    content=files[party].read_bytes(),
                    headers={**auth(tokens[party]), "X-Pprl-Filename": files[party].name},
                )
                assert r.status_code == 200, r.text
                upload_digests[party] = r.json()["digest"]
            r = setup.post(f"{API}/campaigns/{CAMPAIGN}/run", headers=auth(operator))
            assert r.status_code == 202, r.text
            job = int(r.json()["job"])
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                r = setup.get(
                    f"{API}/status", params={"campaign": CAMPAIGN}, headers=auth(operator)
                )
                [state] = [j["state"] for j in r.json()["jobs"] if j["job"] == job]
                if state in ("done", "failed"):
                    break
                time.sleep(0.2)
        root, result_digest = _expected(data, job)
        manifest = read_manifest(root).files
        own = {
            who: {f.path: f.blake3 for f in manifest if f.party == who} for who in (*PARTIES, None)
        }
        assert all(own[p] for p in PARTIES) and own[None]
        digests = [d for p in PARTIES for d in own[p].values()]
        assert len(set(digests)) == len(digests)  # a mix-up would be visible
        assert len(set(upload_digests.values())) == len(PARTIES)
        view = (job, result_digest)

        load = Load()
        start = threading.Barrier(len(PARTIES) * CLIENTS_PER_PARTY + OPERATOR_CLIENTS)

        def party_job(party: str) -> None:
            foreign_party = PARTIES[(PARTIES.index(party) + 1) % len(PARTIES)]
            foreign = next(iter(own[foreign_party]))
            start.wait()
            _party_client(
                load,
                url,
                party,
                tokens[party],
                files[party].read_bytes(),
                files[party].name,
                upload_digests[party],
                own[party],
                foreign,
                view,
            )

        def operator_job() -> None:
            start.wait()
            _operator_client(load, url, operator, own[None], view, upload_digests)

        began = time.perf_counter()
        with ThreadPoolExecutor(max_workers=start.parties) as pool:
            futures = [
                pool.submit(party_job, party) for party in PARTIES for _ in range(CLIENTS_PER_PARTY)
            ] + [pool.submit(operator_job) for _ in range(OPERATOR_CLIENTS)]
            for f in futures:
                f.result()
        wall = time.perf_counter() - began

        assert load.failures == [], load.failures[:10]
        total = sum(len(v) for v in load.latency.values())
        print(
            f"\nservice load: {start.parties} clients, {total} requests in {wall:.1f} s, "
            f"{load.busy} answered 503 (--max-concurrent {max_concurrent or 'default'})"
        )
        for kind in sorted(load.latency):
            print(f"  {kind:9s} {_percentiles(load.latency[kind])}")
        print(f"  {'all':9s} {_percentiles([x for v in load.latency.values() for x in v])}")
        if max_concurrent:
            assert load.busy > 0  # the overload was real
        assert proc.poll() is None  # the server survived
        log.seek(0)
        assert b"Traceback" not in log.read()
