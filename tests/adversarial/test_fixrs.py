"""Result sets never take the run's own inputs with them: an input inside ``--out`` or
named like ``--out``'s lock or temporary files is refused; a previous set is replaced
only when it is exactly what pprl wrote (every digest matches, no folder of the user's);
a reader follows a symbolic link before looking for the manifest."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from adversarial.harness import Case, check_refused, run_pprl
from pprl.resultset import check_result_set

ENCODE = ["--schema", "jp-resident", "--secret", "secret.key", "--processes", "1"]


def verify(out: str, *extra: str, reference: str = "register.parquet") -> list[str]:
    return ["verify", "--reference", reference, "--claims", "insurer.parquet", "--out", out, *extra]


def inputs_inside_out(t: Path) -> list[str]:
    """The reported incident in small: the inputs live inside the set being replaced."""
    for name in ("register.parquet", "insurer.parquet"):
        shutil.copy(t / name, t / "results" / name)
    return [
        "verify",
        "--reference",
        "results/register.parquet",
        "--claims",
        "results/insurer.parquet",
        "--out",
        "results",
        "--force",
    ]


def input_inside_out_via_link(t: Path) -> list[str]:
    (t / "alias").symlink_to(t / "results")
    shutil.copy(t / "register.parquet", t / "results" / "register.parquet")
    return verify("results", "--force", reference="alias/register.parquet")


def input_named_like_the_lock(t: Path) -> list[str]:
    shutil.copy(t / "register.parquet", t / ".results.pprl-lock")
    return verify("results", "--force", reference=".results.pprl-lock")


def input_named_like_a_leftover(t: Path) -> list[str]:
    shutil.copy(t / "register.parquet", t / ".results.pprl-tmp-0123456789ab")
    return verify("results", "--force", reference=".results.pprl-tmp-0123456789ab")


def input_inside_a_leftover_folder(t: Path) -> list[str]:
    (t / ".results.pprl-old-0123456789ab").mkdir()
    shutil.copy(t / "register.parquet", t / ".results.pprl-old-0123456789ab" / "r.parquet")
    return verify("results", "--force", reference=".results.pprl-old-0123456789ab/r.parquet")


def key_named_like_the_encode_lock(t: Path) -> list[str]:
    shutil.copy(t / "secret.key", t / ".out.parquet.pprl-lock")
    return [
        "encode",
        "data/insurer.csv",
        "--schema",
        "jp-resident",
        "--secret",
        ".out.parquet.pprl-lock",
        "--processes",
        "1",
        "--out",
        "out.parquet",
    ]


def csv_named_like_an_encode_leftover(t: Path) -> list[str]:
    shutil.copy(t / "data" / "insurer.csv", t / ".out.parquet.pprl-tmp-00000000abcd")
    return ["encode", ".out.parquet.pprl-tmp-00000000abcd", *ENCODE, "--out", "out.parquet"]


def edited_set(t: Path) -> list[str]:
    path = t / "results" / "findings.csv"
    path.write_text(path.read_text(encoding="utf-8").replace("suspect", "confirmed"), "utf-8")
    return verify("results", "--force")


def edited_party_view_same_size(t: Path) -> list[str]:
    path = t / "results" / "parties" / "insurer.csv"
    data = bytearray(path.read_bytes())
    data[-2] = ord("x") if data[-2] != ord("x") else ord("y")
    path.write_bytes(bytes(data))
    return verify("results", "--force")


def empty_user_folder(t: Path) -> list[str]:
    (t / "results" / "keep-me").mkdir()
    return verify("results", "--force")


def nested_empty_user_folder(t: Path) -> list[str]:
    (t / "results" / "parties" / "archive").mkdir()
    return verify("results", "--force")


def link_to_edited_findings(t: Path) -> list[str]:
    path = t / "results" / "findings.csv"
    path.write_text(path.read_text(encoding="utf-8").replace("suspect", "confirmed"), "utf-8")
    (t / "findings-link.csv").symlink_to(path)
    return ["evaluate", "--findings", "findings-link.csv", "--truth", "data/truth.csv"]


CASES = [
    Case("verify-inputs-inside-out", inputs_inside_out, ["results", "input of this run"]),
    Case("verify-input-inside-out-via-link", input_inside_out_via_link, ["alias", "input"]),
    Case("verify-input-named-like-lock", input_named_like_the_lock, [".results.pprl-lock"]),
    Case("verify-input-named-like-leftover", input_named_like_a_leftover, ["pprl-tmp-0123"]),
    Case("verify-input-in-leftover-folder", input_inside_a_leftover_folder, ["pprl-old-0123"]),
    Case("encode-key-named-like-lock", key_named_like_the_encode_lock, ["out.parquet.pprl-lock"]),
    Case(
        "encode-csv-named-like-leftover",
        csv_named_like_an_encode_leftover,
        [".out.parquet.pprl-tmp-00000000abcd", "lock or temporary"],
    ),
    Case("verify-force-edited-set", edited_set, ["findings.csv", "changed", "not replacing"]),
    Case("verify-force-edited-same-size", edited_party_view_same_size, ["parties/insurer.csv"]),
    Case("verify-force-empty-user-folder", empty_user_folder, ["keep-me", "did not write"]),
    Case("verify-force-nested-empty-folder", nested_empty_user_folder, ["parties/archive"]),
    Case("evaluate-link-to-edited-set", link_to_edited_findings, ["findings.csv", "changed"]),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_refused(case: Case, world: Path, tmp_path: Path) -> None:
    check_refused(case, world, tmp_path)


def test_verify_into_a_demo_set_holding_its_inputs_keeps_them(tmp_path: Path) -> None:
    """The reported incident: ``verify --force --out dm`` with inputs from the demo set
    ``dm`` deleted them and the key; now it is refused and ``dm`` is intact."""
    demo = ["demo", "--people", "100", "--seed", "3", "--out", "dm", "--processes", "1"]
    result = run_pprl(*demo, "--threads", "1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    result = run_pprl(
        *["verify", "--reference", "dm/matcher/register.parquet"],
        *["--claims", "dm/matcher/insurer.parquet", "--out", "dm", "--force", "--threads", "1"],
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stderr
    assert "input of this run" in result.stderr and "register.parquet" in result.stderr
    check_result_set(tmp_path / "dm")
    assert (tmp_path / "dm" / "holders" / "secret.key").is_file()
    assert (tmp_path / "dm" / "data" / "register.csv").is_file()


def test_an_unedited_set_is_still_replaced_with_force(world: Path, tmp_path: Path) -> None:
    work = tmp_path / "w"
    shutil.copytree(world, work, symlinks=True)
    (work / "results" / "report.html").unlink()  # a missing file loses nothing
    result = run_pprl(*verify("results", "--force"), cwd=work)
    assert result.returncode == 0, result.stderr
    check_result_set(work / "results")
