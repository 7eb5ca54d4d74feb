"""The ``pprl synth`` command: files written, summary shown, input errors exit 2."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import typer
from pprl_cli.synthesis import synth
from typer.testing import CliRunner

from pprl.errors import InputError


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


def test_synth_refuses_existing_files_without_force(tmp_path: Path) -> None:
    """A second run into the same folder names the file and changes nothing; --force
    replaces the files."""
    args = ["--people", "200", "--seed", "1", "--out", str(tmp_path)]
    assert CliRunner().invoke(_app(), args).exit_code == 0
    before = (tmp_path / "register.csv").read_bytes()
    res = CliRunner().invoke(_app(), [*args[:3], "2", *args[4:]])
    assert res.exit_code == 2
    assert "register.csv exists; pass --force" in res.output
    assert (tmp_path / "register.csv").read_bytes() == before
    res = CliRunner().invoke(_app(), [*args[:3], "2", *args[4:], "--force"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "register.csv").read_bytes() != before


def test_synth_failing_run_leaves_no_new_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that fails after creating --out (here: while generating) removes the
    folders it created, and only those."""
    import pprl.synth.generator as generator

    def broken(*args: object) -> None:
        raise InputError("names data: cannot read")

    monkeypatch.setattr(generator, "_generate", broken)
    res = CliRunner().invoke(
        _app(), ["--people", "200", "--seed", "1", "--out", str(tmp_path / "a" / "b")]
    )
    assert res.exit_code == 2 and "cannot read" in res.output
    assert list(tmp_path.iterdir()) == []


def test_synth_profile_hard(tmp_path: Path) -> None:
    """--profile hard writes the harder population (same planted kinds, far more moves
    and half-width kana than the default) and names the profile in the summary."""
    counts = {}
    for profile in ("default", "hard"):
        out = tmp_path / profile
        res = CliRunner().invoke(
            _app(), ["--people", "4000", "--seed", "1", "--out", str(out), "--profile", profile]
        )
        assert res.exit_code == 0, res.output
        assert f"profile {profile}" in res.stdout and "homonym_same_dob" in res.stdout
        with (out / "truth.csv").open(encoding="utf-8", newline="") as fh:
            noise = [row["noise"] for row in csv.DictReader(fh)]
        counts[profile] = {
            k: sum(k in n for n in noise) for k in ("moved_address", "kana_halfwidth")
        }
    assert counts["hard"]["moved_address"] > 3 * counts["default"]["moved_address"]
    assert counts["hard"]["kana_halfwidth"] > 8 * counts["default"]["kana_halfwidth"]


def test_synth_rejects_unknown_profile(tmp_path: Path) -> None:
    """An unknown profile is a one-line error naming the option and the known profiles,
    and nothing is written."""
    res = CliRunner().invoke(
        _app(), ["--people", "200", "--seed", "1", "--out", str(tmp_path / "o"), "--profile", "x"]
    )
    assert res.exit_code == 2
    assert "error: --profile must be one of default, hard, got 'x'" in res.output
    assert "Traceback" not in res.output
    assert not (tmp_path / "o").exists()
