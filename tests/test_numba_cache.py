"""numba's cache in a read-only install without a writable home (issue #12).

numba picks a cache directory when a ``cache=True`` function is defined; with a
read-only package directory and no writable ``$HOME`` it found none and raised
``cannot cache function ...: no locator available`` at import, so every command
crashed. Tests run as root, which ignores permission bits, so the read-only install is
made real another way: a copy of the package whose ``__pycache__`` entries are plain
files (numba cannot create its cache directory there), ``HOME`` under ``/proc`` and no
``XDG_CACHE_HOME`` or ``NUMBA_CACHE_DIR``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import pprl
import pprl.numba_cache as numba_cache

PACKAGE = Path(pprl.__file__).resolve().parent
LAUNCH = "import sys; from pprl_cli.main import app; sys.argv[0] = 'pprl'; app(prog_name='pprl')"


@pytest.fixture(scope="module")
def readonly_install(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the package where no ``__pycache__`` directory can be created."""
    root = tmp_path_factory.mktemp("ro")
    shutil.copytree(PACKAGE, root / "pprl", ignore=shutil.ignore_patterns("__pycache__"))
    for directory in [root / "pprl", *(p for p in (root / "pprl").rglob("*") if p.is_dir())]:
        (directory / "__pycache__").write_bytes(b"")
    probe = root / "probe"
    probe.mkdir()
    (probe / "__pycache__").write_bytes(b"")
    (probe / "cached.py").write_text(
        "import numba\n\n@numba.njit(cache=True)\ndef f(x):\n    return x + 1\n"
    )
    return root


def environment(root: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_CACHE_HOME", "NUMBA_CACHE_DIR")}
    env.update(HOME="/proc/nonexistent/home", PYTHONPATH=str(root), COLUMNS="200", **extra)
    return env


def run(
    root: Path, code: str, cwd: Path, *args: str, **extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        env=environment(root, **extra),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_the_environment_reproduces_numbas_failure(readonly_install: Path, tmp_path: Path) -> None:
    """Plain numba, in the same environment, fails exactly as the issue reports."""
    result = run(
        readonly_install, "import sys; sys.path.insert(0, 'probe'); import cached", readonly_install
    )
    assert result.returncode != 0
    assert "no locator available" in result.stderr


@pytest.mark.parametrize(
    "preamble",
    ["", "import tempfile; tempfile.tempdir = '/proc/nonexistent/tmp'; "],
    ids=["temp-fallback", "no-cache"],
)
def test_encode_works_from_a_read_only_install(
    readonly_install: Path, tmp_path: Path, preamble: str
) -> None:
    """``pprl encode`` and ``pprl verify`` run: with numba's cache in a private temp
    directory, or, when even that is unwritable, without a cache."""
    from pprl.synth import SynthConfig, generate

    generate(SynthConfig(people=100, seed=3), tmp_path / "data")
    code = preamble + "import pprl.numba_cache as c; print('cache', c.CACHE); " + LAUNCH
    keygen = run(readonly_install, code, tmp_path, "keygen", "k.key")
    assert keygen.returncode == 0, keygen.stderr
    for csv, role in (("register", "register"), ("insurer", "claims")):
        result = run(
            readonly_install, code, tmp_path, "encode", f"data/{csv}.csv", "--schema",
            "jp-resident", "--secret", "k.key", "--role", role, "--out", f"{csv}.parquet",
            "--processes", "1",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
        assert f"cache {not preamble}" in result.stdout
    # with no writable temp directory at all matplotlib (the report) needs MPLCONFIGDIR
    mpl = {"MPLCONFIGDIR": str(tmp_path / "mpl")} if preamble else {}
    result = run(
        readonly_install, code, tmp_path, "verify", "--reference", "register.parquet",
        "--claims", "insurer.parquet", "--out", "results", "--threads", "1", **mpl,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "results" / "summary.json").is_file()


def test_configure_turns_caching_off_when_nothing_is_writable(monkeypatch) -> None:
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setattr(numba_cache, "_KERNEL_DIRS", (Path("/proc/nonexistent/a"),))
    monkeypatch.setattr(numba_cache, "fallback_dirs", lambda: [Path("/proc/nonexistent/b")])
    assert numba_cache.configure() is False


def test_configure_leaves_a_working_numba_alone(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "mine"))
    assert numba_cache.configure() is True
    assert os.environ["NUMBA_CACHE_DIR"] == str(tmp_path / "mine")


def test_configure_falls_back_to_the_users_cache(monkeypatch, tmp_path) -> None:
    import numba

    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(numba_cache, "_KERNEL_DIRS", (Path("/proc/nonexistent/a"),))
    monkeypatch.setattr(numba.config, "CACHE_DIR", numba.config.CACHE_DIR)
    assert numba_cache.configure() is True
    chosen = tmp_path / "xdg" / "pprl" / "numba"
    assert os.environ["NUMBA_CACHE_DIR"] == str(chosen) == numba.config.CACHE_DIR
    assert chosen.is_dir()


def test_a_temp_fallback_owned_by_someone_else_is_not_used(monkeypatch, tmp_path) -> None:
    """numba loads code from its cache: a shared-temp directory must be this user's
    and writable by nobody else."""
    shared = tmp_path / f"pprl-numba-{os.getuid()}"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    monkeypatch.setattr(numba_cache.tempfile, "gettempdir", lambda: str(tmp_path))
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", "/proc/nonexistent")
    monkeypatch.setattr(numba_cache, "_KERNEL_DIRS", (Path("/proc/nonexistent/a"),))
    assert numba_cache.configure() is False
    shared.chmod(0o700)
    import numba

    monkeypatch.setattr(numba.config, "CACHE_DIR", numba.config.CACHE_DIR)
    assert numba_cache.configure() is True
    assert os.environ["NUMBA_CACHE_DIR"] == str(shared)
