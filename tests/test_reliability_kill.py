"""kill -9 at several points of ``pprl verify`` and ``pprl encode``: ``--out`` then holds
the old complete result (manifest digests check) or the new one, never a mix; the next
run removes the killed run's leftovers and succeeds.

Precise points use the test hook ``PPRL_TEST_PAUSE_AT=<stage>=<marker>`` of
:mod:`pprl.resultset` (the process pauses there and the test kills it); timed kills
after several delays hit whatever the process was doing then."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from adversarial.conftest import world  # noqa: F401  (the shared world fixture)
from adversarial.harness import pprl_command, run_pprl, snapshot

from pprl.resultset import check_result_set, leftovers, read_manifest
from pprl.store import read_encodings

WAIT = 120.0  # seconds a run may take to reach a pause point


def kill_run(args: list[str], cwd: Path, *, stage: str | None = None, after: float = 0.0) -> int:
    """Start ``pprl ARGS``; SIGKILL it when it pauses at ``stage`` (or ``after`` seconds).
    Returns its exit code (-9 when killed, 0 when it finished first)."""
    marker = cwd / f"paused-{stage}"
    env = {**os.environ, "COLUMNS": "200"}
    if stage:
        env["PPRL_TEST_PAUSE_AT"] = f"{stage}={marker}"
    proc = subprocess.Popen(
        pprl_command(*args), cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + (WAIT if stage else after)
        while time.monotonic() < deadline and proc.poll() is None:
            if stage and marker.exists():
                break
            time.sleep(0.01)
        if stage:
            assert marker.exists(), (
                f"never paused at {stage}: {proc.stderr.read() if proc.stderr else ''}"
            )
            marker.unlink()
        proc.send_signal(signal.SIGKILL)
        return proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        if proc.stderr:
            proc.stderr.close()


def verify_args(*extra: str) -> list[str]:
    base = ["verify", "--reference", "register.parquet", "--claims", "insurer.parquet"]
    return [*base, "--out", "results", "--force", *extra]


def kinds_of_set(folder: Path) -> frozenset[str]:
    """The findings formats of a complete result set (raises if it is not complete)."""
    check_result_set(folder)
    return frozenset(f.path for f in read_manifest(folder).files if f.path.startswith("findings."))


BOTH = frozenset({"findings.csv", "findings.parquet"})
CSV_ONLY = frozenset({"findings.csv"})


@pytest.fixture
def work(world: Path, tmp_path: Path) -> Path:  # noqa: F811
    shutil.copytree(world, tmp_path / "w")
    return tmp_path / "w"


def test_verify_killed_at_each_stage_leaves_the_old_or_the_new_set(work):
    out = work / "results"
    assert kinds_of_set(out) == BOTH
    # (stage, format of the killed run, whether its set is in place when it dies)
    for stage, fmt, switched in (
        ("files", "csv", False),
        ("manifest", "csv", False),
        ("switched", "csv", True),
    ):
        old = snapshot(out)
        assert kill_run(verify_args("--format", fmt), work, stage=stage) == -signal.SIGKILL
        if switched:
            assert kinds_of_set(out) == frozenset({f"findings.{fmt}"})
        else:
            assert snapshot(out) == old  # byte for byte
        assert leftovers(out), "a killed run leaves a recognisable temporary folder"
    result = run_pprl(*verify_args("--format", "parquet"), cwd=work)
    assert result.returncode == 0, result.stderr
    assert kinds_of_set(out) == frozenset({"findings.parquet"})
    assert leftovers(out) == [] and not (work / ".results.pprl-lock").exists()


def test_verify_killed_at_random_moments_never_leaves_a_mix(work):
    out = work / "results"
    for i, after in enumerate((0.5, 2.0, 3.5)):
        fmt = ("csv", "parquet")[i % 2]
        before = kinds_of_set(out)
        code = kill_run(verify_args("--format", fmt), work, after=after)
        assert code in (0, -signal.SIGKILL)
        now = kinds_of_set(out)  # complete, digests check
        assert now in (before, frozenset({f"findings.{fmt}"}))
    result = run_pprl(*verify_args(), cwd=work)
    assert result.returncode == 0, result.stderr
    assert kinds_of_set(out) == BOTH
    assert leftovers(out) == []


def test_verify_killed_writing_a_new_folder_leaves_nothing_or_the_new_set(work):
    out = work / "fresh"
    args = [*verify_args()[:-3], "--out", "fresh"]
    assert kill_run(args, work, stage="manifest") == -signal.SIGKILL
    assert not out.exists() and leftovers(out)
    result = run_pprl(*args, cwd=work)
    assert result.returncode == 0, result.stderr
    assert kinds_of_set(out) == BOTH and leftovers(out) == []


def encode_args(party: str) -> list[str]:
    return [
        "encode",
        "data/insurer.csv",
        "--schema",
        "jp-resident",
        "--secret",
        "secret.key",
        "--processes",
        "1",
        "--party",
        party,
        "--out",
        "enc.parquet",
        "--force",
    ]


def test_encode_killed_before_its_rename_or_at_random_moments_leaves_old_or_new(work):
    out = work / "enc.parquet"
    result = run_pprl(*encode_args("first"), cwd=work)
    assert result.returncode == 0, result.stderr
    old = out.read_bytes()
    assert kill_run(encode_args("second"), work, stage="file") == -signal.SIGKILL
    assert out.read_bytes() == old
    assert leftovers(out), "a killed run leaves a recognisable temporary file"
    party = "first"
    for after in (1.0, 2.5):
        code = kill_run(encode_args(f"late{after}"), work, after=after)
        assert code in (0, -signal.SIGKILL)
        now = read_encodings(out).meta["party"]  # a complete file: its digest checks
        assert now in (party, f"late{after}")
        party = now
    result = run_pprl(*encode_args("last"), cwd=work)
    assert result.returncode == 0, result.stderr
    assert read_encodings(out).meta["party"] == "last"
    assert leftovers(out) == [] and not (work / ".enc.parquet.pprl-lock").exists()
