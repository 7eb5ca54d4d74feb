"""Outputs never destroy anything: ``--out`` must be new, empty, or pprl's own previous
result set (replaced only with ``--force``); no command overwrites an existing file
without ``--force``, and never an input or the key file; a lock keeps two runs off one
``--out``; readers refuse a result set that does not match its manifest."""

from __future__ import annotations

import fcntl
import shutil
from pathlib import Path

import pytest

from adversarial.harness import Case, check_refused, run_pprl, snapshot
from pprl.resultset import check_result_set, leftovers

ENCODE = ["--schema", "jp-resident", "--secret", "secret.key", "--processes", "1"]


def verify(out: str, *extra: str, reference: str = "register.parquet") -> list[str]:
    return ["verify", "--reference", reference, "--claims", "insurer.parquet", "--out", out, *extra]


def parties_with_inputs(t: Path) -> list[str]:
    """The reported incident: ``--out .`` beside a parties/ folder holding inputs and a
    note: verify deleted parties/."""
    (t / "parties").mkdir()
    shutil.copy(t / "register.parquet", t / "parties" / "register.parquet")
    (t / "parties" / "note.txt").write_text("call the insurer on Monday\n", encoding="utf-8")
    return verify(".", "--force", reference="parties/register.parquet")


def note_in_results(t: Path) -> list[str]:
    (t / "results" / "my-notes.txt").write_text("mine\n", encoding="utf-8")
    return verify("results", "--force")


def foreign_manifest(t: Path) -> list[str]:
    (t / "project").mkdir()
    (t / "project" / "manifest.json").write_text('{"name": "my project"}', encoding="utf-8")
    return verify("project", "--force")


def edited_findings(t: Path) -> list[str]:
    path = t / "results" / "findings.csv"
    path.write_text(path.read_text(encoding="utf-8").replace("suspect", "confirmed"), "utf-8")
    return ["evaluate", "--findings", "results/findings.csv", "--truth", "data/truth.csv"]


def half_written_set(t: Path) -> list[str]:
    (t / "results" / "report.html").unlink()
    return ["evaluate", "--findings", "results/findings.parquet", "--truth", "data/truth.csv"]


def hard_link_to_key(t: Path) -> list[str]:
    (t / "copy.key").hardlink_to(t / "secret.key")
    return ["encode", "data/insurer.csv", *ENCODE, "--out", "copy.key", "--force"]


def symlink_to_csv(t: Path) -> list[str]:
    (t / "out.parquet").symlink_to(t / "data" / "insurer.csv")
    return ["encode", "data/insurer.csv", *ENCODE, "--out", "out.parquet", "--force"]


CASES = [
    Case("verify-out-dot-with-parties-folder", parties_with_inputs, ["not a pprl result set"]),
    Case("verify-out-user-folder", lambda t: verify("data"), ["data", "not a pprl result set"]),
    Case("verify-out-user-folder-force", lambda t: verify("data", "--force"), ["data", "not a"]),
    Case("verify-out-existing-file", lambda t: verify("secret.key"), ["secret.key", "is a file"]),
    Case("verify-out-results-without-force", lambda t: verify("results"), ["results", "--force"]),
    Case("verify-out-results-with-a-user-file", note_in_results, ["my-notes.txt", "did not"]),
    Case("verify-out-foreign-manifest", foreign_manifest, ["project", "not a pprl result set"]),
    Case(
        "encode-out-is-the-secret",
        lambda t: ["encode", "data/insurer.csv", *ENCODE, "--out", "secret.key", "--force"],
        ["secret.key", "input of this run"],
    ),
    Case(
        "encode-out-is-the-input-csv",
        lambda t: ["encode", "data/insurer.csv", *ENCODE, "--out", "data/insurer.csv", "--force"],
        ["insurer.csv", "input of this run"],
    ),
    Case(
        "encode-out-is-the-input-csv-another-spelling",
        lambda t: ["encode", "data/insurer.csv", *ENCODE, "--out", "./data/../data/insurer.csv"],
        ["insurer.csv", "input of this run"],
    ),
    Case("encode-out-hard-link-to-the-key", hard_link_to_key, ["copy.key", "input of this run"]),
    Case("encode-out-symlink-to-the-csv", symlink_to_csv, ["out.parquet", "input of this run"]),
    Case(
        "encode-out-existing-without-force",
        lambda t: ["encode", "data/insurer.csv", *ENCODE, "--out", "register.parquet"],
        ["register.parquet", "--force"],
    ),
    Case(
        "encode-out-a-folder",
        lambda t: ["encode", "data/insurer.csv", *ENCODE, "--out", "results", "--force"],
        ["results", "is a folder"],
    ),
    Case(
        "match-out-existing-without-force",
        lambda t: ["match", "register.parquet", "insurer.parquet", "--out", "data/truth.csv"],
        ["truth.csv", "--force"],
    ),
    Case(
        "match-out-is-an-input",
        lambda t: (
            ["match", "register.parquet", "insurer.parquet", "--out", "insurer.parquet"]
            + ["--force"]
        ),
        ["insurer.parquet", "input of this run"],
    ),
    Case(
        "demo-out-user-folder",
        lambda t: ["demo", "--out", "data", "--people", "100"],
        ["data", "not a pprl result set"],
    ),
    Case(
        "demo-out-verify-results-without-force",
        lambda t: ["demo", "--out", "results", "--people", "100"],
        ["results", "--force"],
    ),
    Case("evaluate-edited-result-set", edited_findings, ["findings.csv", "changed"]),
    Case("evaluate-half-written-result-set", half_written_set, ["report.html", "missing"]),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_refused(case: Case, world: Path, tmp_path: Path) -> None:
    check_refused(case, world, tmp_path)


def test_second_run_is_refused_while_the_lock_is_held(world: Path, tmp_path: Path) -> None:
    work = tmp_path / "w"
    shutil.copytree(world, work)
    before = snapshot(work / "results")
    with open(work / ".results.pprl-lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = run_pprl(*verify("results", "--force"), cwd=work)
        assert result.returncode == 2, result.stderr
        assert "another pprl run is writing" in result.stderr and "results" in result.stderr
        assert snapshot(work / "results") == before
    result = run_pprl(*verify("results", "--force", "--format", "csv"), cwd=work)
    assert result.returncode == 0, result.stderr
    manifest = check_result_set(work / "results")
    assert "findings.parquet" not in {f.path for f in manifest.files}
    assert not (work / "results" / "findings.parquet").exists()
    assert leftovers(work / "results") == [] and not (work / ".results.pprl-lock").exists()


def test_force_replaces_pprls_own_result_set_and_demo_its_own_output(
    world: Path, tmp_path: Path
) -> None:
    work = tmp_path / "w"
    shutil.copytree(world, work)
    result = run_pprl(*verify("results", "--force", "--no-scores"), cwd=work)
    assert result.returncode == 0, result.stderr
    manifest = check_result_set(work / "results")
    parties = {f.party: (f.role, f.path) for f in manifest.files if f.party}
    assert parties == {
        "insurer": ("claims", "parties/insurer.csv"),
        "municipality": ("reference", "parties/municipality.reference.csv"),
    }
    header = (work / "results" / "parties" / "insurer.csv").read_text(encoding="utf-8")
    assert "score" not in header.splitlines()[0]
    for _ in range(2):  # a demo replaces its own previous output without --force
        result = run_pprl("demo", "--out", "demo-out", "--people", "100", cwd=work)
        assert result.returncode == 0, result.stderr
        check_result_set(work / "demo-out")
