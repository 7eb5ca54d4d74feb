"""``pprl demo --service``: the demo story (:mod:`pprl.demo`) through a local server.

The parties encode as in ``pprl demo``; then a server is started on 127.0.0.1 on a free
port over a temporary data folder, the operator creates one campaign per claims party
(insurer, bank; the municipality is the reference of both), each party uploads its own
file with its own token, the operator runs each campaign, and every party downloads its
own results (checked by digest). The operator's findings are scored against the
synthetic truth as in ``pprl demo``. The server is stopped and its data folder removed
at the end; every wait is bounded.
"""

from __future__ import annotations

import json
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from pprl.demo import DemoResult, prepare
from pprl.errors import PprlError
from pprl.resultset import result_set
from pprl.service.tokens import read_token_file

START_SECONDS = 60.0
JOB_SECONDS = 3600.0

# campaign -> (reference file, claims party, claims file)
CAMPAIGNS = {
    "insurer": ("register.parquet", "insurer", "insurer.parquet"),
    "bank": ("register-bank.parquet", "bank", "bank.parquet"),
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def local_server(data: Path, threads: int | None = None) -> Iterator[str]:
    """A server over ``data`` on 127.0.0.1 in a thread of this process; its URL. Stopped
    (bounded wait) when the block ends."""
    import uvicorn

    from pprl.service.app import create_app
    from pprl.service.state import open_service

    service = open_service(data, job_threads=threads)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(service), host="127.0.0.1", port=port, log_level="warning", access_log=False
        )
    )
    thread = threading.Thread(target=server.run, name="pprl-demo-server", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + START_SECONDS
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise PprlError(f"the demo server did not start on 127.0.0.1:{port}")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=START_SECONDS)
        service.engine.dispose()


def run_service_demo(
    out: Path,
    people: int = 20_000,
    seed: int = 2023,
    say: Callable[[str], None] = print,
    *,
    processes: int | None = None,
    threads: int | None = None,
    force: bool = False,
) -> DemoResult:
    """The demo story through a local server; ``out`` as in :func:`pprl.demo.run_demo`
    (``verify-<campaign>/`` holds the operator's download, ``results-<campaign>/<party>/``
    each party's)."""
    from pprl.evaluate import evaluate_findings
    from pprl.service import client
    from pprl.verify.model import VerifySummary

    with result_set(out, "demo", force=force, replaces=("demo",)) as rs:
        work = rs.path
        data, matcher = prepare(work, people, seed, say, processes, out)
        with tempfile.TemporaryDirectory(prefix="pprl-demo-service-") as tmp:
            say("4. the matcher starts its service (pprl serve) on 127.0.0.1")
            with local_server(Path(tmp) / "data", threads) as url:
                op = read_token_file(Path(tmp) / "data" / "operator.token")
                tokens = Path(tmp) / "tokens"
                say("5. the operator creates a campaign per claims party (pprl campaign create)")
                for name, (_, party, _) in CAMPAIGNS.items():
                    client.create_campaign(url, op, name, "municipality", [party], tokens / name)
                say("6. each party uploads its own encodings (pprl client upload)")
                for name, (ref_file, party, claims_file) in CAMPAIGNS.items():
                    for who, file in (("municipality", ref_file), (party, claims_file)):
                        token = read_token_file(tokens / name / f"{who}.token")
                        client.upload(url, token, matcher / file)
                say("7. the operator runs verification on the server (pprl client run)")
                for name in CAMPAIGNS:
                    job = client.run(url, op, name)
                    done = client.wait_for_job(
                        url, op, name, int(job["job"]), poll=0.2, timeout=JOB_SECONDS
                    )
                    if done.get("state") != "done":
                        raise PprlError(f"campaign {name}: job failed: {done.get('error')}")
                say("8. every party downloads only its own results (pprl client results)")
                for name, (_, party, _) in CAMPAIGNS.items():
                    client.results(url, op, work / f"verify-{name}", name)
                    for who in ("municipality", party):
                        token = read_token_file(tokens / name / f"{who}.token")
                        client.results(url, token, work / f"results-{name}" / who)
            say("9. scoring the findings against the synthetic truth (pprl evaluate)")
        scored = {}
        for name in CAMPAIGNS:
            folder = work / f"verify-{name}"

            summary = VerifySummary.from_json(
                json.loads((folder / "summary.json").read_text(encoding="utf-8"))
            )
            metrics = evaluate_findings(
                folder / "findings.parquet", data / "truth.csv", register=data / "register.csv"
            )
            scored[name] = (summary, metrics)
    return DemoResult(out, *scored["insurer"], *scored["bank"])
