"""``evaluate --plot`` and ``synth --out`` keep the output guarantee: no existing file is
overwritten without ``--force``, an input of the run never (not through a symbolic link
either), synth never writes into a pprl result set, refuses before creating anything,
and a killed synth leaves no half-written CSV under a final name."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from adversarial.harness import Case, check_refused, pprl_command, run_pprl, snapshot
from pprl.resultset import check_result_set, leftovers

EVALUATE = ["evaluate", "--findings", "results/findings.parquet", "--truth", "data/truth.csv"]
SYNTH = ["synth", "--people", "100", "--seed", "9"]
CSVS = ("register.csv", "insurer.csv", "truth.csv")


def plot(*args: str) -> list[str]:
    return [*EVALUATE, "--plot", *args]


def truth_is_the_plot(t: Path) -> list[str]:
    shutil.copy(t / "data" / "truth.csv", t / "truth.pdf")
    return ["evaluate", "--findings", "results/findings.parquet", "--truth", "truth.pdf"] + [
        "--register",
        "data/register.csv",
        "--plot",
        "truth.pdf",
        "--force",
    ]


def findings_is_the_plot(t: Path) -> list[str]:
    shutil.copy(t / "results" / "findings.parquet", t / "f.png")
    return ["evaluate", "--findings", "f.png", "--truth", "data/truth.csv", "--plot", "f.png"] + [
        "--force"
    ]


def symlink_to_the_key(t: Path) -> list[str]:
    (t / "curve.png").symlink_to(t / "secret.key")
    return plot("curve.png")


def symlink_to_the_truth(t: Path) -> list[str]:
    (t / "curve.png").symlink_to(t / "data" / "truth.csv")
    return plot("curve.png", "--force")


def only_a_bank_file(t: Path) -> list[str]:
    (t / "mine").mkdir()
    (t / "mine" / "bank.csv").write_text("my_number\n", encoding="utf-8")
    return [*SYNTH, "--out", "mine"]


def synth_refused(out: str, *extra: str) -> list[str]:
    return [*SYNTH, "--out", out, *extra]


CASES = [
    Case("plot-over-an-existing-file", lambda t: plot("secret.key"), ["secret.key", "--force"]),
    Case("plot-is-the-truth-file", truth_is_the_plot, ["truth.pdf", "input of this run"]),
    Case("plot-is-the-findings-file", findings_is_the_plot, ["f.png", "input of this run"]),
    Case(
        "plot-is-the-default-register",
        lambda t: plot("data/register.csv", "--force"),
        ["register.csv", "input of this run"],
    ),
    Case("plot-symlink-to-the-key", symlink_to_the_key, ["curve.png", "--force"]),
    Case("plot-symlink-to-an-input", symlink_to_the_truth, ["curve.png", "input of this run"]),
    Case("plot-unknown-format", lambda t: plot("curve.xyz"), ["curve.xyz", ".png"]),
    Case("synth-over-existing-csvs", lambda t: synth_refused("data"), ["register.csv", "--force"]),
    Case("synth-over-a-stale-bank-file", only_a_bank_file, ["bank.csv", "--force"]),
    Case(
        "synth-into-a-result-set-with-force",
        lambda t: synth_refused("results", "--force"),
        ["results", "result set"],
    ),
    Case(
        "synth-into-a-folder-of-a-result-set",
        lambda t: synth_refused("results/parties", "--force"),
        ["results", "result set"],
    ),
    Case(
        "synth-new-folder-bad-sizes-leaves-no-folder",
        lambda t: synth_refused("new/deeper", "--claims", "5000"),
        ["--claims"],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_refused(case: Case, world: Path, tmp_path: Path) -> None:
    check_refused(case, world, tmp_path)


@pytest.fixture
def work(world: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "w"
    shutil.copytree(world, dest, symlinks=True)
    return dest


def test_force_replaces_a_plain_plot_in_the_format_its_name_says(work: Path) -> None:
    for name, magic in (("curve.png", b"\x89PNG"), ("curve.pdf", b"%PDF"), ("curve", b"\x89PNG")):
        (work / name).write_text("an old plot\n", encoding="utf-8")
        result = run_pprl(*plot(name), cwd=work)
        assert result.returncode == 2 and "--force" in result.stderr
        assert (work / name).read_text(encoding="utf-8") == "an old plot\n"
        result = run_pprl(*plot(name, "--force"), cwd=work)
        assert result.returncode == 0, result.stderr
        assert (work / name).read_bytes().startswith(magic)
        assert leftovers(work / name) == []
    check_result_set(work / "results")


def test_force_replaces_synth_files_and_removes_a_stale_bank_file(work: Path) -> None:
    out = work / "data"
    before = {n: (out / n).read_bytes() for n in CSVS}
    (out / "bank.csv").write_text("my_number\n", encoding="utf-8")
    result = run_pprl(*synth_refused("data", "--force"), cwd=work)
    assert result.returncode == 0, result.stderr
    # the encode sidecars beside the CSVs are not synth's: left alone (and now stale)
    kept = sorted(p.name for p in out.iterdir() if not p.name.endswith(".pprl-local.json"))
    assert kept == sorted(CSVS)
    assert all((out / n).read_bytes() != before[n] for n in CSVS)
    assert len((out / "register.csv").read_text(encoding="utf-8").splitlines()) == 101


def test_synth_refusal_in_a_new_folder_creates_nothing(work: Path) -> None:
    result = run_pprl(*synth_refused("results/new/deeper", "--force"), cwd=work)
    assert result.returncode == 2 and "result set" in result.stderr, result.stderr
    assert not (work / "results" / "new").exists()
    check_result_set(work / "results")


def kill_when_paused(args: list[str], cwd: Path) -> None:
    """Run pprl with the ``file`` pause hook and kill -9 it when it gets there."""
    marker = cwd / "paused"
    env = {**os.environ, "PPRL_TEST_PAUSE_AT": f"file={marker}"}
    proc = subprocess.Popen(
        pprl_command(*args), cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists(), "synth never reached the rename of its first file"
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        marker.unlink(missing_ok=True)


def test_killed_synth_leaves_no_half_written_csv(work: Path) -> None:
    before = snapshot(work / "data")
    kill_when_paused(synth_refused("data", "--force"), work)
    for name in CSVS:  # every final name holds the old complete file
        assert (work / "data" / name).read_bytes() == before[str(work / "data" / name)]
    kill_when_paused(synth_refused("fresh"), work)
    assert not any((work / "fresh" / n).exists() for n in CSVS)
    result = run_pprl(*synth_refused("fresh"), cwd=work)  # the next run cleans up and succeeds
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (work / "fresh").iterdir()) == sorted(CSVS)
