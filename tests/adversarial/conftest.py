"""A small world every adversarial case starts from: a secret, a register and an
insurer's CSVs, their encoding files and a finished verification result set."""

from __future__ import annotations

from pathlib import Path

import pytest

from adversarial.harness import run_pprl


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("world")
    steps = [
        ["synth", "--people", "300", "--seed", "5", "--out", "data"],
        ["keygen", "secret.key"],
        [
            "encode",
            "data/register.csv",
            "--schema",
            "jp-resident",
            "--secret",
            "secret.key",
            "--party",
            "municipality",
            "--role",
            "register",
            "--out",
            "register.parquet",
            "--processes",
            "1",
        ],
        [
            "encode",
            "data/insurer.csv",
            "--schema",
            "jp-resident",
            "--secret",
            "secret.key",
            "--party",
            "insurer",
            "--out",
            "insurer.parquet",
            "--processes",
            "1",
        ],
        [
            "verify",
            "--reference",
            "register.parquet",
            "--claims",
            "insurer.parquet",
            "--out",
            "results",
        ],
    ]
    for args in steps:
        result = run_pprl(*args, cwd=root)
        assert result.returncode == 0, (args, result.stderr)
    return root
