"""Hostile command lines: every failure is one early ``error:`` line naming the file,
option or value at fault, exit code 2, nothing written and nothing on the terminal as
markup or control characters.

Outputs of the wrong kind (a file where a folder is expected and the reverse, devices),
folders that cannot be written (a real kernel refusal under /sys, a full disk simulated
with RLIMIT_FSIZE), overlong labels, malformed or TLS-less scheduler addresses, worker,
thread and top-k counts out of range, inputs that are not regular files, verification
thresholds out of range or inverted, findings scored against another population's truth,
key files that are devices, and crafted metadata.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from adversarial.harness import (
    Case,
    assert_refused,
    check_refused,
    pprl_command,
    run_pprl,
    snapshot,
)
from pprl.engines.dask import max_local_workers

VERIFY = ["verify", "--reference", "register.parquet", "--claims", "insurer.parquet"]
MATCH = ["match", "register.parquet", "insurer.parquet"]


def encode(
    *extra: str,
    out: str = "new.parquet",
    csv: str = "data/insurer.csv",
    secret: str = "secret.key",
) -> list[str]:
    """``pprl encode`` of the insurer's CSV with the world's secret, plus ``extra``."""
    return [
        "encode",
        csv,
        "--schema",
        "jp-resident",
        "--secret",
        secret,
        "--out",
        out,
        "--processes",
        "1",
        *extra,
    ]


def _fifo(t: Path) -> list[str]:
    os.mkfifo(t / "data" / "fifo.csv")
    return encode(csv="data/fifo.csv")


def _bank_only_truth(t: Path) -> list[str]:
    """A truth file for another claims file: no finding of the insurer matches it."""
    truth = (t / "data" / "truth.csv").read_text(encoding="utf-8")
    (t / "other-truth.csv").write_text(truth.replace("insurer.csv,", "bank.csv,"), "utf-8")
    return ["evaluate", "--findings", "results/findings.csv", "--truth", "other-truth.csv"]


def _other_population(t: Path) -> list[str]:
    """Truth (and register) of a population synthesized with another seed: same file
    names and claim rows, different people."""
    made = run_pprl("synth", "--people", "300", "--seed", "6", "--out", "other", cwd=t)
    assert made.returncode == 0, made.stderr
    return ["evaluate", "--findings", "results/findings.csv", "--truth", "other/truth.csv"]


def _huge_key(t: Path) -> list[str]:
    """A 4 GiB key file (sparse: no disk used) that starts like a real key."""
    key = t / "huge.key"
    key.write_bytes((t / "secret.key").read_bytes())
    with open(key, "r+b") as fh:
        fh.truncate(4 << 30)
    return encode(secret="huge.key")


def _crafted_nbits(t: Path) -> list[str]:
    """insurer.parquet with ``nbits`` in its metadata replaced by text."""
    import json

    import pyarrow.parquet as pq

    table = pq.read_table(t / "insurer.parquet")
    md = dict(table.schema.metadata)
    meta = json.loads(md[b"pprl"])
    meta["nbits"] = "1024; DROP"
    md[b"pprl"] = json.dumps(meta).encode()
    pq.write_table(table.replace_schema_metadata(md), t / "crafted.parquet")
    return ["inspect", "crafted.parquet"]


TOO_MANY = str(max(200, max_local_workers() + 1))
NOT_PEM = ["--tls-ca", "secret.key", "--tls-cert", "secret.key"]

CASES = [
    # --out of the wrong kind, or where nothing can be written
    Case(
        "verify-out-is-a-file",
        lambda t: [*VERIFY, "--out", "insurer.parquet"],
        ["insurer.parquet", "not a folder"],
    ),
    Case(
        "synth-out-is-a-file",
        lambda t: ["synth", "--people", "300", "--seed", "1", "--out", "register.parquet"],
        ["register.parquet", "not a folder"],
    ),
    Case(
        "demo-out-is-a-file",
        lambda t: ["demo", "--people", "50", "--out", "secret.key"],
        ["secret.key", "not a folder"],
    ),
    Case("encode-out-is-a-folder", lambda t: encode(out="data"), ["data", "folder"]),
    Case("match-out-is-a-folder", lambda t: [*MATCH, "--out", "results"], ["results", "folder"]),
    Case(
        "match-out-is-dev-full",
        lambda t: [*MATCH, "--out", "/dev/full"],
        ["/dev/full", "not a regular file"],
    ),
    Case(
        "evaluate-plot-is-a-folder",
        lambda t: [
            "evaluate",
            "--findings",
            "results/findings.csv",
            "--truth",
            "data/truth.csv",
            "--plot",
            "data",
        ],
        ["--plot", "data", "folder"],
    ),
    Case(
        "encode-out-folder-missing",
        lambda t: encode(out="nowhere/new.parquet"),
        ["nowhere", "does not exist"],
    ),
    Case(
        "verify-out-under-sys",
        lambda t: [*VERIFY, "--out", "/sys/pprl-adversarial"],
        ["/sys/pprl-adversarial", "cannot write"],
    ),
    Case(
        "encode-out-under-sys",
        lambda t: encode(out="/sys/pprl-adversarial.parquet"),
        ["/sys/pprl-adversarial.parquet", "cannot write"],
    ),
    # labels
    Case("label-5000-characters", lambda t: encode("--party", "a" * 5000), ["--party", "64"]),
    Case(
        "label-with-escape-sequence",
        lambda t: encode("--party", "ins\x1b[31mred"),
        ["--party", "\\x1b"],
    ),
    # Dask scheduler addresses and TLS
    Case(
        "scheduler-not-a-url",
        lambda t: [*VERIFY, "--out", "n", "--scheduler", "notaurl"],
        ["--scheduler", "notaurl"],
    ),
    Case(
        "scheduler-unknown-scheme",
        lambda t: [*MATCH, "--scheduler", "http://127.0.0.1:8786"],
        ["--scheduler", "http"],
    ),
    Case(
        "scheduler-without-port",
        lambda t: [*VERIFY, "--out", "n", "--scheduler", "tcp://host"],
        ["--scheduler", "port"],
    ),
    Case(
        "scheduler-port-too-large",
        lambda t: [*MATCH, "--scheduler", "tcp://127.0.0.1:70000"],
        ["--scheduler", "port"],
    ),
    Case(
        "scheduler-tls-without-certificates",
        lambda t: [*VERIFY, "--out", "n", "--scheduler", "tls://127.0.0.1:8786"],
        ["tls://127.0.0.1:8786", "--tls-ca"],
    ),
    Case(
        "tls-files-with-tcp-scheduler",
        lambda t: [*MATCH, "--scheduler", "tcp://127.0.0.1:8786", *NOT_PEM],
        ["tls://"],
    ),
    Case(
        "tls-files-without-cluster",
        lambda t: [*VERIFY, "--out", "n", *NOT_PEM],
        ["--workers", "--scheduler"],
    ),
    Case(
        "tls-ca-not-pem",
        lambda t: [*VERIFY, "--out", "n", "--workers", "1", *NOT_PEM],
        ["--tls-ca", "secret.key"],
    ),
    Case(
        "tls-ca-missing",
        lambda t: [
            *MATCH,
            "--scheduler",
            "tls://127.0.0.1:8786",
            "--tls-ca",
            "nope.pem",
            "--tls-cert",
            "secret.key",
        ],
        ["nope.pem"],
    ),
    Case(
        "tls-cert-without-ca",
        lambda t: [*MATCH, "--scheduler", "tls://127.0.0.1:8786", "--tls-cert", "secret.key"],
        ["--tls-ca"],
    ),
    # counts
    Case("match-top-k-zero", lambda t: [*MATCH, "--top-k", "0"], ["--top-k"]),
    Case("match-top-k-negative", lambda t: [*MATCH, "--top-k", "-3"], ["--top-k"]),
    Case("verify-workers-zero", lambda t: [*VERIFY, "--out", "n", "--workers", "0"], ["--workers"]),
    Case(
        "verify-workers-negative",
        lambda t: [*VERIFY, "--out", "n", "--workers", "-1"],
        ["--workers"],
    ),
    Case(
        "verify-workers-too-many",
        lambda t: [*VERIFY, "--out", "n", "--workers", TOO_MANY],
        ["--workers", TOO_MANY],
    ),
    Case("match-workers-too-many", lambda t: [*MATCH, "--workers", TOO_MANY], ["--workers"]),
    Case("verify-threads-zero", lambda t: [*VERIFY, "--out", "n", "--threads", "0"], ["--threads"]),
    Case("match-threads-zero", lambda t: [*MATCH, "--threads", "0"], ["--threads"]),
    Case("encode-processes-zero", lambda t: encode("--processes", "0"), ["--processes"]),
    # inputs that are not regular files
    Case(
        "verify-reference-is-a-folder",
        lambda t: [*VERIFY[:2], "data", *VERIFY[3:], "--out", "n"],
        ["data", "not a regular file"],
    ),
    Case(
        "verify-claims-is-dev-null",
        lambda t: [*VERIFY[:4], "/dev/null", "--out", "n"],
        ["/dev/null", "not a regular file"],
    ),
    Case("encode-csv-is-a-fifo", _fifo, ["fifo.csv", "not a regular file"]),
    Case(
        "encode-csv-is-dev-null",
        lambda t: encode(csv="/dev/null"),
        ["/dev/null", "not a regular file"],
    ),
    Case("inspect-a-folder", lambda t: ["inspect", "results"], ["results", "not a regular file"]),
    Case(
        "match-input-is-a-folder",
        lambda t: ["match", "results", "insurer.parquet"],
        ["results", "not a regular file"],
    ),
    Case(
        "evaluate-truth-is-a-folder",
        lambda t: ["evaluate", "--findings", "results/findings.csv", "--truth", "data"],
        ["data", "not a regular file"],
    ),
    Case(
        "audit-input-is-dev-null",
        lambda t: ["audit", "/dev/null"],
        ["/dev/null", "not a regular file"],
    ),
    # verification thresholds
    Case(
        "threshold-nan",
        lambda t: [*VERIFY, "--out", "n", "--confirm-score", "nan"],
        ["--confirm-score", "nan"],
    ),
    Case(
        "threshold-negative",
        lambda t: [*VERIFY, "--out", "n", "--suspect-score", "-0.1"],
        ["--suspect-score", "-0.1"],
    ),
    Case(
        "threshold-above-one",
        lambda t: [*VERIFY, "--out", "n", "--confirm-score", "1.5"],
        ["--confirm-score", "1.5"],
    ),
    Case(
        "threshold-margin-out-of-range",
        lambda t: [*VERIFY, "--out", "n", "--margin-suspect", "2"],
        ["--margin-suspect"],
    ),
    Case(
        "thresholds-inverted",
        lambda t: [*VERIFY, "--out", "n", "--suspect-score", "0.9", "--confirm-score", "0.5"],
        ["--suspect-score", "--confirm-score"],
    ),
    Case(
        "margins-inverted",
        lambda t: [*VERIFY, "--out", "n", "--margin-review", "0.2", "--margin-suspect", "0.1"],
        ["--margin-review", "--margin-suspect"],
    ),
    Case(
        "threshold-inverted-against-schema",
        lambda t: [*VERIFY, "--out", "n", "--suspect-score", "0.95"],
        ["suspect_score", "0.95"],
    ),
    # evaluate against the wrong truth
    Case(
        "evaluate-truth-of-another-claims-file",
        _bank_only_truth,
        ["no claim of the findings matches the truth", "other-truth.csv"],
    ),
    Case(
        "evaluate-truth-of-another-population",
        _other_population,
        ["other/truth.csv", "do not match"],
    ),
    # key files
    Case(
        "secret-is-dev-zero",
        lambda t: encode(secret="/dev/zero"),
        ["--secret", "/dev/zero", "not a regular file"],
    ),
    Case("secret-is-a-folder", lambda t: encode(secret="data"), ["--secret", "data"]),
]

# The key-file bound (pprl.keys) and the metadata checks (pprl.store) refuse these.
PENDING = [
    Case("secret-4-gib", _huge_key, ["huge.key"]),
    Case("crafted-metadata-nbits", _crafted_nbits, ["crafted.parquet", "nbits"]),
]


def _check(case: Case, world: Path, tmp: Path) -> None:
    result = check_refused(case, world, tmp)
    for stream in (result.stdout, result.stderr):
        assert "\x1b" not in stream and "\u202e" not in stream, stream


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_refused(case: Case, world: Path, tmp_path: Path) -> None:
    if case.id.endswith("-under-sys") and not Path("/sys/kernel").is_dir():
        pytest.skip("no sysfs: nothing to test a kernel write refusal with")
    _check(case, world, tmp_path)


@pytest.mark.parametrize("case", PENDING, ids=[c.id for c in PENDING])
def test_refused_by_the_readers(case: Case, world: Path, tmp_path: Path) -> None:
    _check(case, world, tmp_path)


def test_case_ids_are_unique() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)) and len(CASES) >= 45


# ---------------------------------------------------------------- a full disk, as root
def _file_size_limit(limit: int) -> None:
    """In the child: writes beyond ``limit`` bytes fail with EFBIG instead of killing
    the process (SIGXFSZ ignored), as a full disk makes them fail with ENOSPC."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


@pytest.mark.parametrize(
    "args, out",
    [
        (encode(out="big.parquet"), "big.parquet"),
        ([*MATCH, "--threshold", "0.5", "--all-candidates", "--out", "links.csv"], "links.csv"),
    ],
    ids=["encode", "match"],
)
def test_disk_full_is_one_line_and_leaves_nothing(
    world: Path, tmp_path: Path, args: list[str], out: str
) -> None:
    """A write that the system refuses part-way (here: past RLIMIT_FSIZE, which works as
    root and needs no small file system) is one line naming --out, exit 2, and no
    output file or temporary file is left behind."""
    work = tmp_path / "w"
    shutil.copytree(world, work, symlinks=True)
    before = snapshot(work)
    result = subprocess.run(
        pprl_command(*args),
        cwd=work,
        env={**os.environ, "COLUMNS": "200"},  # numba's cache: warm from the world's runs
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=lambda: _file_size_limit(4096),
        check=False,
    )
    assert_refused(result, [out, "file too large"], what=f"pprl {' '.join(args)}")
    assert snapshot(work) == before


def test_permission_denied_as_non_root(world: Path, tmp_path: Path) -> None:
    """A folder without write permission (only meaningful when not root: root ignores
    permissions, which the /sys cases and test_cli's read-only case cover)."""
    if os.geteuid() == 0:
        pytest.skip("root ignores folder permissions")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    case = Case(
        "out-in-read-only-folder",
        lambda t: [*VERIFY, "--out", str(locked / "r")],
        ["locked", "permission denied"],
    )
    try:
        _check(case, world, tmp_path)
    finally:
        locked.chmod(0o700)


def test_interrupt_is_exit_130(world: Path, tmp_path: Path) -> None:
    """Ctrl-C during a run: exit code 130, one line, no traceback."""
    work = tmp_path / "w"
    shutil.copytree(world, work, symlinks=True)
    proc = subprocess.Popen(
        pprl_command("synth", "--people", "2000000", "--seed", "1", "--out", "big"),
        cwd=work,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (work / "big").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
