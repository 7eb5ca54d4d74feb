"""The adversarial suite's harness: run ``pprl`` as a user would, on a hostile input, and
check that it refused cleanly.

A refusal is: exit code 2, exactly one line on stderr starting with ``error:`` that names
what was wrong, no traceback, nothing on stdout that looks like a result, and every
watched location byte-for-byte as it was before the run.

Each case file builds its cases as :class:`Case` rows and runs them with
:func:`check_refused`; :func:`run_pprl` and :func:`snapshot` are there for cases that
need another shape (kill -9 tests, for example).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

# run the CLI in a fresh interpreter, as the installed `pprl` command does
LAUNCH = "import sys; from pprl_cli.main import app; sys.argv[0] = 'pprl'; app(prog_name='pprl')"
TIMEOUT = 120  # seconds any one command may take in this suite


def pprl_command(*args: str | os.PathLike[str]) -> list[str]:
    return [sys.executable, "-c", LAUNCH, *map(os.fspath, args)]


def run_pprl(
    *args: str | os.PathLike[str],
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    timeout: float = TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    """Run ``pprl ARGS`` in a subprocess (not a terminal) and capture its output."""
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    return subprocess.run(
        pprl_command(*args),
        cwd=cwd,
        env=full_env,
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=timeout,
        check=False,
    )


def snapshot(*paths: Path) -> dict[str, bytes | str | None]:
    """Every file's bytes (and every folder, and each absent path) under ``paths``."""
    state: dict[str, bytes | str | None] = {}
    for root in paths:
        if not root.exists() and not root.is_symlink():
            state[str(root)] = None
            continue
        items = [root, *sorted(root.rglob("*"))] if root.is_dir() else [root]
        for p in items:
            if p.is_symlink():
                state[str(p)] = "link:" + os.readlink(p)
            elif p.is_dir():
                state[str(p)] = "<dir>"
            elif p.is_file():
                state[str(p)] = p.read_bytes()
            else:
                state[str(p)] = "<special>"
    return state


def assert_refused(
    result: subprocess.CompletedProcess[str], fragments: Sequence[str], what: str = ""
) -> None:
    """Exit 2, one ``error:`` line on stderr naming each fragment, no traceback."""
    context = f"{what}\nstdout: {result.stdout!r}\nstderr: {result.stderr!r}"
    assert result.returncode == 2, f"exit {result.returncode}, expected 2: {context}"
    assert "Traceback" not in result.stderr, context
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1, f"expected one 'error:' line: {context}"
    assert len(errors[0]) < 1000, context
    for fragment in fragments:
        assert fragment.lower() in errors[0].lower(), f"{fragment!r} not named: {context}"


@dataclass
class Case:
    """One hostile input: how to set it up, the command, what the error must name.

    ``setup(tmp)`` prepares the inputs in ``tmp`` (a copy of the shared world) and
    returns the command's arguments; ``watch(tmp)`` lists the locations that must be
    unchanged (by default ``tmp`` itself: nothing written, nothing destroyed).
    """

    id: str
    setup: Callable[[Path], list[str]]
    expect: Sequence[str]
    watch: Callable[[Path], list[Path]] | None = None
    env: dict[str, str] = field(default_factory=dict)
    timeout: float = TIMEOUT


def check_refused(case: Case, world: Path, tmp: Path) -> subprocess.CompletedProcess[str]:
    """Copy ``world`` into ``tmp``, run the case there and assert a clean refusal with
    the watched locations unchanged."""
    work = tmp / "w"
    shutil.copytree(world, work, symlinks=True)
    args = case.setup(work)
    watched = case.watch(work) if case.watch else [work]
    before = snapshot(*watched)
    result = run_pprl(*args, cwd=work, env=case.env, timeout=case.timeout)
    assert_refused(result, case.expect, what=f"case {case.id}: pprl {' '.join(args)}")
    after = snapshot(*watched)
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    assert not changed, f"case {case.id} changed {changed[:5]}"
    return result
