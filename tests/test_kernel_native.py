"""The C search core on its own (tests/native/kernel_harness.c): every kernel path this
CPU supports, and the NEON path cross-compiled for AArch64 and run under qemu when the
cross compiler and qemu-aarch64 are installed, against a brute-force reference."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from pprl.compare import available_kernels

HARNESS = Path(__file__).parent / "native" / "kernel_harness.c"


def _build_and_run(cc: str, exe: Path, flags: list[str], runner: list[str]) -> str:
    subprocess.run(
        [cc, "-O2", "-std=c11", "-Wall", "-Werror", *flags, "-o", str(exe), str(HARNESS)],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = subprocess.run([*runner, str(exe)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_every_native_path_matches_brute_force(tmp_path: Path) -> None:
    out = _build_and_run("cc", tmp_path / "harness", [], [])
    ok = {line.split()[1] for line in out.splitlines() if line.startswith("ok ")}
    assert ok == set(available_kernels()) - {"numpy"}
    assert "FAIL" not in out


@pytest.mark.skipif(
    shutil.which("aarch64-linux-gnu-gcc") is None or shutil.which("qemu-aarch64") is None,
    reason="needs aarch64-linux-gnu-gcc and qemu-aarch64 (apt: gcc-aarch64-linux-gnu qemu-user)",
)
def test_neon_path_under_qemu(tmp_path: Path) -> None:
    out = _build_and_run(
        "aarch64-linux-gnu-gcc", tmp_path / "harness-arm64", ["-static"], ["qemu-aarch64"]
    )
    ok = {line.split()[1] for line in out.splitlines() if line.startswith("ok ")}
    assert ok == {"portable", "neon"}
