"""The Dask engine gives the single-process engine's results, survives a dying worker and
is never imported by the default engine."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("distributed")

from distributed import Client, LocalCluster, WorkerPlugin  # noqa: E402

from pprl.engines.dask import match_dask, verify_dask  # noqa: E402
from pprl.errors import PprlError  # noqa: E402
from pprl.keys import load_secret, write_secret  # noqa: E402
from pprl.match import MatchOptions, match_files  # noqa: E402
from pprl.party import encode_records  # noqa: E402
from pprl.read import read_csv  # noqa: E402
from pprl.schema import load_schema  # noqa: E402
from pprl.store import Encodings, read_encodings, write_encodings  # noqa: E402
from pprl.synth import SynthConfig, generate  # noqa: E402
from pprl.verify import verify  # noqa: E402

WAIT = 60  # seconds any wait for the cluster may take in these tests


@pytest.fixture(scope="module")
def cluster():
    """One 2-process loopback cluster for the whole module (startup costs seconds)."""
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as c,
        Client(c) as client,
    ):
        yield c.scheduler_address, client
    _stop_dask_threads()


def _stop_dask_threads() -> None:
    """Stop the thread dask leaves behind, so later tests see a single-threaded process
    (``encode_clks`` forks only from a process with one thread)."""
    from concurrent.futures import ThreadPoolExecutor

    import distributed.utils

    distributed.utils._offload_executor.shutdown(wait=True)
    distributed.utils._offload_executor = ThreadPoolExecutor(
        max_workers=1, thread_name_prefix="Dask-Offload"
    )


def _subset(enc: Encodings, idx: np.ndarray, party: str) -> Encodings:
    """Some records of an encoding file as a new party's file."""
    meta = {k: v for k, v in enc.meta.items() if k not in ("digest", "count")}
    meta["party"] = party
    return Encodings(
        rows=enc.rows[idx],
        tokens=enc.tokens[idx],
        has_token=enc.has_token[idx],
        clks=enc.clks[idx],
        block_keys={n: (v[idx], ok[idx]) for n, (v, ok) in enc.block_keys.items()},
        meta=meta,
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    """A synthetic register of 3,000 people and two claims files, in several row groups."""
    root = tmp_path_factory.mktemp("dist")
    generate(SynthConfig(people=3000, seed=11, claims=3000), root / "data")
    secret = load_secret(write_secret(root / "secret.key"))
    schema = load_schema("jp-resident")
    ref, _ = encode_records(
        read_csv(root / "data" / "register.csv"), schema, secret, party="register", processes=1
    )
    claims, _ = encode_records(
        read_csv(root / "data" / "insurer.csv"), schema, secret, party="insurer", processes=1
    )
    write_encodings(ref, root / "register.parquet", row_group_size=1000)
    n = len(claims)
    write_encodings(
        _subset(claims, np.arange(0, n, 2), "insurer"), root / "insurer.parquet", row_group_size=700
    )
    write_encodings(_subset(claims, np.arange(1, n, 2), "bank"), root / "bank.parquet")
    return root


def _claims(root: Path) -> list[Path]:
    """The two claims files of the fixture."""
    return [root / "insurer.parquet", root / "bank.parquet"]


def _assert_same_findings(a, b) -> None:
    """Every column of the findings, every per-party table and the counts are equal."""
    assert a.findings.num_rows > 0
    assert a.findings.column_names == b.findings.column_names
    for name in a.findings.column_names:
        assert a.findings.column(name).to_pylist() == b.findings.column(name).to_pylist(), name
    assert [(label, t.to_pylist()) for label, t in a.per_claims] == [
        (label, t.to_pylist()) for label, t in b.per_claims
    ]
    assert a.reference_view.to_pylist() == b.reference_view.to_pylist()
    for key in ("counts", "reasons", "thresholds", "inputs", "warnings", "blocking"):
        assert a.summary.to_json()[key] == b.summary.to_json()[key], key


def test_verify_identical_to_single_process(cluster, files):
    """Many small partitions over several row groups and two claims files: same findings."""
    address, _ = cluster
    single = verify(files / "register.parquet", _claims(files))
    dist = verify_dask(
        files / "register.parquet", _claims(files), scheduler=address, partition_rows=256
    )
    _assert_same_findings(single, dist)
    assert len({s for s in single.findings.column("status").to_pylist()}) >= 3


def test_duplicated_register_numbers_and_empty_claims(cluster, files, tmp_path):
    """A register holding some pseudonyms twice (the join keeps the best-scoring record)
    and an empty claims file: the same findings and warnings as one process."""
    address, _ = cluster
    ref = read_encodings(files / "register.parquet")
    idx = np.concatenate([np.arange(len(ref)), np.arange(0, 300, 3)])  # 100 numbers twice
    dup = _subset(ref, idx, "register")
    dup.rows = np.arange(len(idx), dtype=np.int64)
    write_encodings(dup, tmp_path / "register.parquet", row_group_size=700)
    claims = read_encodings(files / "bank.parquet")
    write_encodings(_subset(claims, np.arange(0), "empty"), tmp_path / "empty.parquet")
    inputs = [files / "bank.parquet", tmp_path / "empty.parquet"]
    single = verify(tmp_path / "register.parquet", inputs)
    dist = verify_dask(tmp_path / "register.parquet", inputs, scheduler=address, partition_rows=300)
    _assert_same_findings(single, dist)
    assert any("more than once" in w for w in dist.summary.warnings)


def test_verify_on_multithreaded_workers(files):
    """Workers with several threads (partition tasks take turns, kernels use every thread):
    the same findings."""
    with LocalCluster(
        n_workers=1,
        threads_per_worker=2,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
    ) as c:  # a free port: the module's cluster holds 8787
        dist = verify_dask(
            files / "register.parquet",
            _claims(files),
            scheduler=c.scheduler_address,
            partition_rows=512,
        )
    _stop_dask_threads()
    _assert_same_findings(verify(files / "register.parquet", _claims(files)), dist)


def test_verify_reads_fsspec_urls(cluster, files):
    """Files named by fsspec URLs (here ``file://``) are read by the workers through fsspec."""
    address, _ = cluster
    single = verify(files / "register.parquet", _claims(files))
    dist = verify_dask(
        f"file://{files / 'register.parquet'}",
        [f"file://{p}" for p in _claims(files)],
        scheduler=address,
    )
    for name in single.findings.column_names:
        assert dist.findings.column(name).to_pylist() == single.findings.column(name).to_pylist(), (
            name
        )


def test_verify_through_public_api_with_blocking(cluster, files):
    """verify(scheduler=...) dispatches to the cluster; a blocking subset is honoured."""
    address, _ = cluster
    names = sorted(read_encodings(files / "register.parquet").block_keys)[:1]
    single = verify(files / "register.parquet", _claims(files), blocking=names)
    dist = verify(files / "register.parquet", _claims(files), blocking=names, scheduler=address)
    _assert_same_findings(single, dist)


@pytest.mark.parametrize(
    "opts, two_files",
    [
        (MatchOptions(threshold=0.8), True),
        (MatchOptions(threshold=0.7, blocking="keys", all_candidates=True), True),
        (MatchOptions(threshold=0.8, top_k=2), True),
        (MatchOptions(threshold=0.7, blocking="keys"), False),
        (MatchOptions(threshold=0.7), False),
    ],
)
def test_match_identical_to_single_process(cluster, files, opts, two_files):
    """Links, candidates, top-k and dedupe, blocked or not: the same table."""
    address, _ = cluster
    a = files / "insurer.parquet"
    b = files / "register.parquet" if two_files else None
    single = match_files(a, b, opts)
    dist = match_dask(a, b, opts, scheduler=address, partition_rows=512)
    assert single.num_rows > 0
    assert single.to_pylist() == dist.to_pylist()


class CrashOnce(WorkerPlugin):
    """Kill the worker process the first time any worker starts a pprl task."""

    def __init__(self, marker: str) -> None:
        """``marker``: a file created by the first crash, so it happens once."""
        self.marker = marker

    def transition(self, key, start, finish, **kwargs) -> None:
        """On the first pprl task to start executing anywhere, exit the process hard."""
        import os

        if finish == "executing" and "pprl-verify" in str(key):
            try:
                fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                return
            os.close(fd)
            os._exit(1)


def test_killed_worker_is_rescheduled_with_identical_results(cluster, files, tmp_path):
    """A worker dies at its first task; Dask reruns the task and the findings are unchanged."""
    address, client = cluster
    marker = tmp_path / "crashed"
    client.register_plugin(CrashOnce(str(marker)), name="crash-once")
    try:
        dist = verify_dask(
            files / "register.parquet",
            _claims(files),
            scheduler=address,
            partition_rows=512,
            timeout=300,
        )
    finally:
        client.unregister_worker_plugin("crash-once")
    assert marker.exists(), "the plugin never killed a worker: the test proved nothing"
    single = verify(files / "register.parquet", _claims(files))
    _assert_same_findings(single, dist)
    client.wait_for_workers(2, timeout=WAIT)


class CrashAlways(WorkerPlugin):
    """Kill the worker process whenever it starts a pprl task (a poisoned input)."""

    def transition(self, key, start, finish, **kwargs) -> None:
        """Exit hard as each pprl task starts executing."""
        import os

        if finish == "executing" and "pprl-verify" in str(key):
            os._exit(1)


def test_worker_dying_every_time_fails_cleanly_without_output(files, tmp_path):
    """After the allowed failures, one PprlError line and no output folder.

    On a cluster of its own: workers killed again and again may not come back, and the
    module's cluster must stay usable. Every wait here is bounded.
    """
    from pprl_cli.main import app
    from typer.testing import CliRunner

    with (
        LocalCluster(
            n_workers=1,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as c,
        Client(c) as client,
    ):
        client.wait_for_workers(1, timeout=WAIT)
        client.register_plugin(CrashAlways(), name="crash-always")
        result = CliRunner().invoke(
            app,
            [
                "verify",
                "--reference",
                str(files / "register.parquet"),
                "--claims",
                str(files / "bank.parquet"),
                "--out",
                str(tmp_path / "out"),
                "--scheduler",
                c.scheduler_address,
            ],
        )
    _stop_dask_threads()
    assert result.exit_code != 0
    assert "worker died" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_unreachable_scheduler_is_one_line_error(files):
    """No scheduler at the address: one PprlError line, no traceback."""
    # in a subprocess: dask leaves its IO-loop thread behind when a Client cannot connect
    code = (
        "from pprl.engines.dask import verify_dask\n"
        "from pprl.errors import PprlError\n"
        "try:\n"
        f"    verify_dask({str(files / 'register.parquet')!r}, "
        f"[{str(files / 'bank.parquet')!r}], scheduler='tcp://127.0.0.1:1', connect_timeout=2)\n"
        "except PprlError as exc:\n"
        "    print('ERROR', exc)\n"
    )
    out = (
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
        )
        .stdout.strip()
        .splitlines()
    )
    assert len(out) == 1 and out[0].startswith("ERROR cannot reach the Dask scheduler"), out


def test_cli_verify_on_cluster_writes_identical_findings(cluster, files, tmp_path):
    """`pprl verify --scheduler` writes the same findings.parquet; both options is refused."""
    import pyarrow.parquet as pq
    from pprl_cli.main import app
    from typer.testing import CliRunner

    address, _ = cluster
    args = [
        "verify",
        "--reference",
        str(files / "register.parquet"),
        "--claims",
        str(files / "insurer.parquet"),
        "--claims",
        str(files / "bank.parquet"),
    ]
    runner = CliRunner()
    one = runner.invoke(app, [*args, "--out", str(tmp_path / "one")])
    many = runner.invoke(app, [*args, "--out", str(tmp_path / "many"), "--scheduler", address])
    assert one.exit_code == 0 and many.exit_code == 0, many.output
    assert pq.read_table(tmp_path / "one" / "findings.parquet").equals(
        pq.read_table(tmp_path / "many" / "findings.parquet")
    )
    both = runner.invoke(
        app, [*args, "--out", str(tmp_path / "x"), "--scheduler", address, "--workers", "2"]
    )
    assert both.exit_code != 0 and "not both" in both.output
    assert not (tmp_path / "x").exists()


def test_register_changed_on_storage_is_refused(cluster, files):
    """A worker that reads a file other than the one the driver planned for refuses it."""
    from pprl.partition import SplitTask, split_rows
    from pprl.store import check_file

    _, client = cluster
    ref = str(files / "register.parquet")
    task = SplitTask(ref, "0" * 64, 0, 0, 0, 10, 0, None, 4)
    with pytest.raises(PprlError, match="changed while it was being verified"):
        client.submit(split_rows, task, pure=False).result(timeout=WAIT)
    with pytest.raises(PprlError, match="changed while it was being verified"):
        client.submit(check_file, ref, "0" * 64, pure=False).result(timeout=WAIT)


def _tampered(src: Path, dst: Path) -> Path:
    """A copy of an encoding file with one CLK zeroed and its metadata left as it was."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(src)
    clk = table.column("clk").to_pylist()
    clk[5] = bytes(len(clk[5]))
    field = table.schema.field("clk")
    pq.write_table(
        table.set_column(table.schema.get_field_index("clk"), field, pa.array(clk, field.type)), dst
    )
    return dst


def test_tampered_file_is_refused_in_keyed_match(cluster, files, tmp_path):
    """Keyed matching never loads the files on the driver; the streamed check catches it."""
    address, _ = cluster
    bad = _tampered(files / "bank.parquet", tmp_path / "bank.parquet")
    with pytest.raises(PprlError, match="content digest mismatch"):
        match_dask(
            files / "insurer.parquet",
            bad,
            MatchOptions(threshold=0.7, blocking="keys"),
            scheduler=address,
        )


def test_tampered_file_is_refused_without_output(cluster, files, tmp_path):
    """A claims file whose CLKs were edited (metadata untouched) fails the streamed digest
    check on the cluster: one error line, no output folder."""
    from pprl_cli.main import app
    from typer.testing import CliRunner

    address, _ = cluster
    bad = _tampered(files / "bank.parquet", tmp_path / "bank.parquet")
    result = CliRunner().invoke(
        app,
        [
            "verify",
            "--reference",
            str(files / "register.parquet"),
            "--claims",
            str(bad),
            "--out",
            str(tmp_path / "out"),
            "--scheduler",
            address,
        ],
    )
    assert result.exit_code != 0
    assert "content digest mismatch" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_streamed_digest_equals_content_digest(files):
    """The worker's streaming digest hashes exactly what read_encodings checks."""
    import pyarrow.parquet as pq

    from pprl.store import check_metadata, content_digest, streamed_digest

    for name in ("register.parquet", "insurer.parquet", "bank.parquet"):
        pf = pq.ParquetFile(files / name)
        meta = check_metadata(name, pf.schema_arrow, pf.metadata.num_rows)
        assert streamed_digest(pf, meta, name) == content_digest(read_encodings(files / name))


def test_partitions_are_even_and_keep_keys_together():
    """Every key lands in one partition; hashed keys spread evenly."""
    from pprl.partition import partition_of

    keys = np.random.default_rng(3).integers(0, 2**64, 200_000, dtype=np.uint64)
    part = partition_of(np.concatenate([keys, keys[:1000]]), 16)
    assert (part[:1000] == part[200_000:]).all()
    counts = np.bincount(part, minlength=16)
    assert part.min() == 0 and part.max() == 15 and counts.max() < 1.1 * counts.min()


def test_default_engine_never_imports_dask(files):
    """The single-process engine runs without importing dask or distributed."""
    code = (
        "import sys\n"
        "from pprl.verify import verify\n"
        f"verify({str(files / 'register.parquet')!r}, [{str(files / 'bank.parquet')!r}])\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed'))\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


@st.composite
def tied_blocks(draw):
    """Queries and references with few distinct CLKs and block values: many exact ties."""
    nq, nr = draw(st.integers(1, 25)), draw(st.integers(1, 25))
    palette = draw(
        st.lists(
            st.lists(st.integers(0, 2**64 - 1), min_size=2, max_size=2), min_size=1, max_size=4
        )
    )
    clk = st.sampled_from(range(len(palette)))
    keys = draw(st.integers(1, 3))
    value = st.integers(0, 3).map(lambda v: np.uint64(v * 0x9E3779B97F4A7C15 % 2**64))
    return (
        np.array([palette[draw(clk)] for _ in range(nq)], np.uint64),
        np.array([palette[draw(clk)] for _ in range(nr)], np.uint64),
        [
            (
                np.array([draw(value) for _ in range(nq)], np.uint64),
                np.array(draw(st.lists(st.booleans(), min_size=nq, max_size=nq))),
                np.array([draw(value) for _ in range(nr)], np.uint64),
                np.array(draw(st.lists(st.booleans(), min_size=nr, max_size=nr))),
            )
            for _ in range(keys)
        ],
        np.array([draw(st.integers(-1, nr - 1)) for _ in range(nq)], np.int64),
        draw(st.integers(1, 4)),
        draw(st.sampled_from([0.0, 0.5, 0.9])),
    )


@given(tied_blocks())
@settings(max_examples=200, deadline=None)
def test_partitioned_search_equals_single_process_kernel(case):
    """Top-2 per block-key range, folded with fold_best, is the single-process top-1 with
    exclusion — ties, repeated records and several keys included."""
    from pprl.compare.keyed import topk_by_block_keys
    from pprl.partition import partition_of
    from pprl.verify.search import fold_best, top2

    queries, refs, keys, exclude, parts, threshold = case
    want_r, want_s = topk_by_block_keys(
        queries, refs, keys, k=1, threshold=threshold, exclude=exclude
    )
    nq = len(queries)
    best, best_s, best_key = np.full(nq, -1), np.full(nq, -1.0), np.full(nq, 1 << 30)
    for order, (q_val, q_ok, r_val, r_ok) in reversed(list(enumerate(keys))):  # any order
        q_part, r_part = partition_of(q_val, parts), partition_of(r_val, parts)
        for p in range(parts):
            qi = np.flatnonzero(q_ok & (q_part == p))
            ri = np.flatnonzero(r_ok & (r_part == p))
            r2, s2 = top2(
                queries[qi],
                q_val[qi],
                np.ones(len(qi), bool),
                ri,
                refs[ri],
                r_val[ri],
                np.ones(len(ri), bool),
                threshold,
            )
            fold_best(best, best_s, best_key, qi, r2, s2, exclude, order)
    assert best.tolist() == want_r[:, 0].tolist()
    assert np.where(best >= 0, best_s, -1).tolist() == want_s[:, 0].tolist()


# ------------------------------------------------------------------------------ TLS
def _write_pki(folder: Path, name: str) -> dict[str, Path]:
    """A throwaway CA and a certificate it signed for localhost / 127.0.0.1 (EC P-256,
    valid one day), written as PEM files ``<name>-ca.pem``, ``-cert.pem``, ``-key.pem``."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    start, end = now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=1)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"pprl test CA {name}")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = {part: folder / f"{name}-{part}.pem" for part in ("ca", "cert", "key")}
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    paths["key"].chmod(0o600)
    return paths


def _tls_options(pki: dict[str, Path]) -> list[str]:
    return [
        "--tls-ca",
        str(pki["ca"]),
        "--tls-cert",
        str(pki["cert"]),
        "--tls-key",
        str(pki["key"]),
    ]


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> dict[str, dict[str, Path]]:
    """The cluster's CA and certificate, and another CA's (for the wrong-CA case)."""
    root = tmp_path_factory.mktemp("pki")
    return {"good": _write_pki(root, "good"), "other": _write_pki(root, "other")}


def test_local_cluster_runs_over_tls(pki):
    """--workers N with TLS files starts a cluster whose scheduler speaks tls:// only."""
    from pprl.engines.dask import TlsFiles, dask_client

    good = pki["good"]
    tls = TlsFiles(str(good["ca"]), str(good["cert"]), str(good["key"]))
    with dask_client(workers=1, tls=tls, connect_timeout=WAIT) as client:
        assert client.scheduler.address.startswith("tls://")
        assert client.security.require_encryption
        assert client.submit(sum, [1, 2], pure=False).result(timeout=WAIT) == 3
    _stop_dask_threads()


def test_cli_verify_over_tls_identical_findings(pki, files, tmp_path):
    """`pprl verify` on a TLS scheduler (--scheduler tls://… --tls-*) and on a local TLS
    cluster (--workers 1 --tls-*): the single-process engine's findings; the same
    cluster refuses a plain tcp:// client and a client whose CA did not sign its
    certificate, each with one line."""
    import pyarrow.parquet as pq
    from pprl_cli.main import app
    from typer.testing import CliRunner

    from pprl.engines.dask import TlsFiles, security

    good = pki["good"]
    sec = security(TlsFiles(str(good["ca"]), str(good["cert"]), str(good["key"])))
    args = [
        "verify",
        "--reference",
        str(files / "register.parquet"),
        "--claims",
        str(files / "insurer.parquet"),
        "--claims",
        str(files / "bank.parquet"),
    ]
    runner = CliRunner()
    one = runner.invoke(app, [*args, "--out", str(tmp_path / "one")])
    assert one.exit_code == 0, one.output
    with LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        security=sec,
        protocol="tls://",
    ) as c:
        address = c.scheduler_address
        assert address.startswith("tls://")
        over_tls = runner.invoke(
            app,
            [*args, "--out", str(tmp_path / "tls"), "--scheduler", address, *_tls_options(good)],
        )
        assert over_tls.exit_code == 0, over_tls.output
        # refusals in subprocesses: a client that cannot connect leaves dask threads behind
        for name, extra in (
            ("plain", ["--scheduler", address.replace("tls://", "tcp://")]),
            ("wrong-ca", ["--scheduler", address, *_tls_options(pki["other"])]),
        ):
            out = tmp_path / name
            proc = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    "from pprl_cli.main import app; app()",
                    *args,
                    "--out",
                    str(out),
                    *extra,
                ],
                capture_output=True,
                text=True,
                timeout=180,
                check=False,
            )
            lines = proc.stderr.strip().splitlines()
            assert proc.returncode == 2, (name, proc.stderr)
            assert len(lines) == 1 and lines[0].startswith(
                "error: cannot reach the Dask scheduler"
            ), (
                name,
                lines,
            )
            assert not out.exists()
    _stop_dask_threads()
    local = runner.invoke(
        app, [*args, "--out", str(tmp_path / "local"), "--workers", "1", *_tls_options(good)]
    )
    _stop_dask_threads()
    assert local.exit_code == 0, local.output
    expected = pq.read_table(tmp_path / "one" / "findings.parquet")
    for name in ("tls", "local"):
        assert pq.read_table(tmp_path / name / "findings.parquet").equals(expected), name


def test_tls_files_are_checked_before_any_work(pki, files, tmp_path):
    """A CA file that is not PEM, a key that does not belong to the certificate, a
    tls:// address without TLS files and TLS files with a tcp:// address: one line each,
    before any connection or file read."""
    from pprl.engines.dask import TlsFiles, check_cluster

    good, other = pki["good"], pki["other"]
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("hello\n")
    cases = [
        (
            TlsFiles(str(not_pem), str(good["cert"]), str(good["key"])),
            "tls://127.0.0.1:1",
            "--tls-ca",
        ),
        (
            TlsFiles(str(good["ca"]), str(good["cert"]), str(other["key"])),
            "tls://127.0.0.1:1",
            "--tls-key",
        ),
        (TlsFiles(str(good["ca"]), str(tmp_path / "nope.pem")), "tls://127.0.0.1:1", "nope.pem"),
        (None, "tls://127.0.0.1:1", "--tls-ca"),
        (
            TlsFiles(str(good["ca"]), str(good["cert"]), str(good["key"])),
            "tcp://127.0.0.1:1",
            "tls://",
        ),
    ]
    for tls, address, fragment in cases:
        with pytest.raises(PprlError, match=re.escape(fragment)):
            check_cluster(None, address, tls)


@pytest.mark.parametrize(
    "address, fragment",
    [
        ("notaurl", "not a scheduler address"),
        ("http://h:8786", "unknown scheme"),
        ("tcp://h", "port"),
        ("tcp://h:0", "port"),
        ("tcp://h:65536", "port"),
        ("tcp://:8786", "not a scheduler address"),
        ("tcp://h h:8786", "not a scheduler address"),
        ("tcp://[::1:8786", "IPv6"),
        ("tcp://h:87x6", "port"),
    ],
)
def test_bad_scheduler_addresses_are_refused(address, fragment):
    from pprl.engines.dask import check_scheduler_address

    with pytest.raises(PprlError, match=re.escape(fragment)):
        check_scheduler_address(address)


@pytest.mark.parametrize(
    "address",
    [
        "tcp://10.0.0.1:8786",
        "tls://scheduler.example.org:8786",
        "10.0.0.1:8786",
        "tcp://[::1]:8786",
        "inproc://10.0.0.1/123/1",
        "ucx://host-1:13337",
    ],
)
def test_good_scheduler_addresses_pass(address):
    from pprl.engines.dask import check_scheduler_address

    assert check_scheduler_address(address) == address


def test_worker_count_is_bounded():
    """--workers between 1 and 4 per CPU (at most 256): a typo must not fork hundreds."""
    from pprl.engines.dask import check_cluster, max_local_workers

    limit = max_local_workers()
    assert 4 <= limit <= 256
    check_cluster(limit, None)
    for n in (0, -1, limit + 1):
        with pytest.raises(PprlError, match="--workers must be between 1 and"):
            check_cluster(n, None)
