"""The ``pprl synth`` command: files written, summary shown, input errors exit 2."""

from __future__ import annotations

from pathlib import Path

import typer
from pprl_cli.synthesis import synth
from typer.testing import CliRunner


def _app() -> typer.Typer:
    """A throwaway app holding only the synth command."""
    app = typer.Typer()
    app.command()(synth)
    return app


def test_synth_writes_files(tmp_path: Path) -> None:
    """All four files appear and the planted counts are printed."""
    res = CliRunner().invoke(
        _app(),
        [
            "--people",
            "2000",
            "--seed",
            "1",
            "--out",
            str(tmp_path),
            "--claims",
            "800",
            "--bank-claims",
            "300",
            "--mislink-rate",
            "0.05",
        ],
    )
    assert res.exit_code == 0, res.output
    assert {p.name for p in tmp_path.iterdir()} == {
        "register.csv",
        "insurer.csv",
        "bank.csv",
        "truth.csv",
    }
    assert len((tmp_path / "insurer.csv").read_text().splitlines()) == 801
    assert "homonym" in res.stdout


def test_synth_rejects_bad_sizes(tmp_path: Path) -> None:
    """More claims than people is a one-line error with exit code 2."""
    res = CliRunner().invoke(
        _app(), ["--people", "1000", "--seed", "1", "--out", str(tmp_path), "--claims", "5000"]
    )
    assert res.exit_code == 2
    assert "error: --claims" in res.output
