"""Result sets and single output files: never destroy anything, all or nothing."""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pprl import resultset
from pprl.errors import InputError, IntegrityError
from pprl.resultset import (
    MANIFEST,
    check_output_file,
    check_result_set,
    leftovers,
    output_file,
    read_manifest,
    result_set,
    tidy,
)


def contents(run: int) -> dict[str, bytes]:
    """The files of run ``run``: different names and bytes per run."""
    files = {"findings.csv": f"run {run}\n".encode(), f"parties/p{run % 3}.csv": bytes([run % 256])}
    if run % 2:
        files["report.html"] = b"<html>" + str(run).encode() * 100
    return files


def write_set(
    out: Path,
    run: int,
    *,
    force: bool = False,
    kind: str = "test",
    between: Callable[[], None] = lambda: None,
) -> list[Path]:
    with result_set(out, kind, force=force) as rs:
        for rel, data in contents(run).items():
            (rs.path / rel).parent.mkdir(parents=True, exist_ok=True)
            (rs.path / rel).write_bytes(data)
            between()
        rs.deliver(f"party{run % 3}", f"parties/p{run % 3}.csv", "claims")
    return rs.files


def files_of(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in folder.rglob("*")
        if p.is_file() and p.name != MANIFEST
    }


def siblings(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.parent.iterdir() if p.name != folder.name)


def test_new_set_has_a_manifest_listing_every_file(tmp_path):
    out = tmp_path / "res"
    written = write_set(out, 4)
    assert files_of(out) == contents(4)
    manifest = check_result_set(out)
    assert manifest.kind == "test"
    assert {f.path for f in manifest.files} == set(contents(4))
    assert sorted(map(str, written)) == sorted([*contents(4), MANIFEST])
    doc = json.loads((out / MANIFEST).read_text())
    assert doc["format"] == "pprl-result-set" and doc["pprl_version"]
    assert doc["parties"] == [{"party": "party1", "role": "claims", "file": "parties/p1.csv"}]
    assert siblings(out) == []  # no temporary folder, no lock file


def test_existing_set_needs_force_and_is_replaced_whole(tmp_path):
    out = tmp_path / "res"
    write_set(out, 1)
    before = (out / MANIFEST).read_bytes()
    with pytest.raises(InputError, match="exists; pass --force"):
        write_set(out, 2)
    assert (out / MANIFEST).read_bytes() == before
    write_set(out, 2, force=True)
    assert files_of(out) == contents(2)  # report.html of run 1 is gone
    check_result_set(out)
    assert siblings(out) == []


def test_replaces_lets_a_command_replace_its_own_kind_only(tmp_path):
    out = tmp_path / "res"
    write_set(out, 1, kind="demo")
    with result_set(out, "demo", replaces=("demo",)) as rs:
        (rs.path / "x").write_bytes(b"x")
    assert read_manifest(out).kind == "demo"
    write_set(out, 3, kind="verify", force=True)
    with pytest.raises(InputError, match="pass --force"):
        with result_set(out, "demo", replaces=("demo",)):
            pass


@pytest.mark.parametrize("force", [False, True])
def test_a_folder_pprl_did_not_write_is_refused_and_untouched(tmp_path, force):
    out = tmp_path / "mine"
    (out / "parties").mkdir(parents=True)
    (out / "parties" / "note.txt").write_text("keep me")
    with pytest.raises(InputError, match="not empty and not a pprl result set") as err:
        write_set(out, 1, force=force)
    assert str(out) in str(err.value)
    assert (out / "parties" / "note.txt").read_text() == "keep me"
    assert siblings(out) == []


def test_a_foreign_manifest_is_not_pprls(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / MANIFEST).write_text('{"name": "my project"}')
    with pytest.raises(InputError, match="not a pprl result set"):
        write_set(out, 1, force=True)
    assert (out / MANIFEST).read_text() == '{"name": "my project"}'


def test_a_set_with_a_file_pprl_did_not_write_is_refused_even_with_force(tmp_path):
    out = tmp_path / "res"
    write_set(out, 1)
    (out / "parties" / "note.txt").write_text("mine")
    with pytest.raises(InputError, match=r"files pprl did not write \(parties/note.txt\)"):
        write_set(out, 2, force=True)
    assert (out / "parties" / "note.txt").read_text() == "mine"


def test_a_file_at_out_is_refused(tmp_path):
    out = tmp_path / "res"
    out.write_text("a file")
    with pytest.raises(InputError, match="is a file, not a folder"):
        write_set(out, 1, force=True)
    assert out.read_text() == "a file"


def test_an_empty_folder_is_filled(tmp_path):
    out = tmp_path / "res"
    out.mkdir()
    write_set(out, 5)
    assert files_of(out) == contents(5)


def test_a_failed_run_leaves_out_as_it_was(tmp_path):
    out = tmp_path / "res"
    write_set(out, 1)
    before = files_of(out)

    def boom() -> None:
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        write_set(out, 2, force=True, between=boom)
    assert files_of(out) == before
    assert siblings(out) == []


def test_a_second_run_is_refused_while_the_lock_is_held(tmp_path):
    out = tmp_path / "res"
    lock = tmp_path / ".res.pprl-lock"
    with open(lock, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(InputError, match="another pprl run is writing"):
            write_set(out, 1)
        with pytest.raises(InputError, match="another pprl run is writing"):
            with output_file(tmp_path / "res"):
                pass
    assert not out.exists()
    write_set(out, 1)  # a lock file nobody holds (a killed run's) is no obstacle
    assert not lock.exists()


def test_leftovers_of_killed_runs_are_removed_by_the_next_run(tmp_path):
    out = tmp_path / "res"
    write_set(out, 1)
    dead_tmp = tmp_path / ".res.pprl-tmp-0123456789ab"
    dead_old = tmp_path / ".res.pprl-old-ba9876543210"
    dead_file = tmp_path / ".res.pprl-tmp-aaaaaaaaaaaa"
    dead_tmp.mkdir()
    (dead_tmp / "findings.csv").write_text("half")
    write_set(dead_old, 7)  # a complete old set left behind by a killed switch
    dead_file.write_text("x")
    lookalike = tmp_path / ".res.pprl-tmp-notours"  # not the random-suffix shape
    lookalike.mkdir()
    assert len(leftovers(out)) == 3
    write_set(out, 2, force=True)
    assert files_of(out) == contents(2)
    assert leftovers(out) == []
    assert sorted(siblings(out)) == [".res.pprl-tmp-notours"]


def test_an_old_set_moved_away_by_a_killed_switch_is_put_back(tmp_path):
    out = tmp_path / "res"
    write_set(out, 1)
    before = files_of(out)
    os.rename(out, tmp_path / ".res.pprl-old-0123456789ab")
    assert [p.name for p in tidy(out)] == []  # restored, not removed
    assert files_of(out) == before
    check_result_set(out)


def test_check_result_set_refuses_edited_missing_and_escaping_files(tmp_path):
    out = tmp_path / "res"
    write_set(out, 2)
    check_result_set(out)
    (out / "findings.csv").write_text("run 3\n")
    with pytest.raises(IntegrityError, match="changed after pprl wrote it: findings.csv"):
        check_result_set(out)
    (out / "findings.csv").unlink()
    with pytest.raises(IntegrityError, match="incomplete: findings.csv is missing"):
        check_result_set(out)
    doc = json.loads((out / MANIFEST).read_text())
    doc["files"] = [{"path": "../secret.key", "size": 1, "blake3": "00"}]
    (out / MANIFEST).write_text(json.dumps(doc))
    with pytest.raises(IntegrityError, match="not a valid pprl result-set manifest"):
        check_result_set(out)
    with pytest.raises(InputError, match="no manifest.json"):
        check_result_set(tmp_path)


def test_output_file_never_clobbers_without_force(tmp_path):
    out = tmp_path / "links.csv"
    with output_file(out) as tmp:
        tmp.write_text("one")
    with pytest.raises(InputError, match="exists; pass --force"):
        with output_file(out) as tmp:
            tmp.write_text("two")
    assert out.read_text() == "one"
    with output_file(out, force=True) as tmp:
        tmp.write_text("two")
    assert out.read_text() == "two"
    assert siblings(out) == []


def test_output_file_never_overwrites_an_input_even_with_force(tmp_path):
    key = tmp_path / "k.key"
    key.write_text("secret")
    link = tmp_path / "link.key"
    link.symlink_to(key)
    hard = tmp_path / "hard.key"
    os.link(key, hard)
    for out in (key, tmp_path / "." / "k.key", link, hard):
        with pytest.raises(InputError, match="is an input of this run"):
            with output_file(out, force=True, inputs=[key]) as tmp:
                tmp.write_text("clobbered")
        assert key.read_text() == "secret"
    assert sorted(siblings(key)) == ["hard.key", "link.key"]


def test_output_file_refuses_a_folder(tmp_path):
    with pytest.raises(InputError, match="is a folder"):
        check_output_file(tmp_path, force=True)


def test_output_file_failure_leaves_the_old_file(tmp_path):
    out = tmp_path / "enc.parquet"
    out.write_text("old")
    with pytest.raises(RuntimeError):
        with output_file(out, force=True) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert out.read_text() == "old"
    assert siblings(out) == []


# ------------------------------------------------ crashes at any point: old or new


STAGES = ["body", "files", "manifest", "old-moved", "switched", None]


def run_in_child(action: Callable[[], None], crash_at: str | None, fallback: bool) -> int:
    """Run ``action`` in a forked child that dies (``os._exit``, like kill -9: no clean-up
    runs) when it reaches ``crash_at``; returns its exit code (9 for a crash)."""
    pid = os.fork()
    if pid == 0:  # child
        code = 1
        try:

            def pause(stage: str) -> None:
                if stage == crash_at:
                    os._exit(9)

            resultset._pause = pause
            if fallback:
                resultset._exchange = lambda a, b: False
            action()
            code = 0
        except InputError:
            code = 3
        finally:
            os._exit(code)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.005)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    raise AssertionError("child did not finish within 30 s")


op = st.tuples(
    st.integers(0, 50), st.booleans(), st.sampled_from(STAGES), st.booleans()
)  # (run, force, crash point, fallback switch)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(op, min_size=1, max_size=6))
def test_any_sequence_of_writes_and_crashes_leaves_old_or_new_complete(ops):
    with tempfile.TemporaryDirectory() as root:
        out = Path(root) / "res"
        current: int | None = None
        for run, force, crash_at, fallback in ops:

            def body(run: int = run, crash_at: str | None = crash_at, force: bool = force) -> None:
                def between() -> None:
                    if crash_at == "body":
                        os._exit(9)

                write_set(out, run, force=force, between=between)

            code = run_in_child(body, crash_at, fallback)
            exists = current is not None
            refused = exists and not force
            moved_away = exists and not refused and fallback and crash_at == "old-moved"
            if refused:
                assert code == 3
            elif moved_away:
                assert code == 9 and not out.exists()
                tidy(out)  # the next run puts the old set back
            elif crash_at == "switched" and exists:
                assert code == 9
                current = run
            elif crash_at in ("body", "files", "manifest"):
                assert code == 9
            else:
                assert code == 0
                current = run
            if current is None:
                assert not out.exists()
            else:
                check_result_set(out)
                assert files_of(out) == contents(current)
        write_set(out, 99, force=True)
        assert files_of(out) == contents(99)
        assert siblings(out) == []


def test_fallback_switch_without_rename_exchange(tmp_path):
    out = tmp_path / "res"
    write_set(out, 1)
    with mock.patch.object(resultset, "_exchange", lambda a, b: False):
        write_set(out, 2, force=True)
    assert files_of(out) == contents(2)
    assert siblings(out) == []


def test_pause_hook_marks_and_waits(tmp_path, monkeypatch):
    marker = tmp_path / "marker"
    monkeypatch.setattr(resultset, "PAUSE_SECONDS", 0.01)
    monkeypatch.setenv("PPRL_TEST_PAUSE_AT", f"files={marker}")
    resultset._pause("manifest")
    assert not marker.exists()
    resultset._pause("files")
    assert marker.read_text() == str(os.getpid())


def test_the_current_folder_is_never_switched_out(tmp_path, monkeypatch):
    empty = tmp_path / "here"
    empty.mkdir()
    monkeypatch.chdir(empty)
    with pytest.raises(InputError, match="is the current folder"):
        write_set(Path("."), 1)
    write_set(tmp_path / "res", 1)
    monkeypatch.chdir(tmp_path / "res" / "parties")
    with pytest.raises(InputError, match="current folder or holds it"):
        write_set(tmp_path / "res", 2, force=True)
    assert files_of(tmp_path / "res") == contents(1)


def test_a_path_without_a_name_or_in_an_unwritable_folder_is_refused(tmp_path):
    with pytest.raises(InputError, match="give a folder name"):
        write_set(Path("/"), 1)
    with mock.patch.object(resultset.os, "access", lambda p, mode: False):
        with pytest.raises(InputError, match="is not writable"):
            write_set(tmp_path / "res", 1)
        with pytest.raises(InputError, match="is not writable"):
            check_output_file(tmp_path / "x.parquet")
    assert list(tmp_path.iterdir()) == []


def test_lock_release_and_leftover_clean_up_never_remove_an_input(tmp_path):
    out = tmp_path / "out"
    leftover = tmp_path / ".out.pprl-tmp-0123456789ab"
    other = tmp_path / ".out.pprl-tmp-ba9876543210"
    lock = tmp_path / ".out.pprl-lock"
    for p in (leftover, other):
        p.write_bytes(b"a user's file")
    with resultset._locked(out, inputs=[leftover, lock]) as removed:
        assert removed == [other]
    assert leftover.read_bytes() == b"a user's file" and not other.exists()
    assert lock.exists()  # it is an input: kept
    with pytest.raises(InputError, match="named like pprl's lock"):
        resultset.check_target(out, inputs=[lock])
    with pytest.raises(InputError, match="0123456789ab"):
        check_output_file(out, inputs=[leftover])
