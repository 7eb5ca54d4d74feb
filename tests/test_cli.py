"""The CLI as a whole: --version, help without Python types and with every default, one
parallelism vocabulary, --format, and output that is never wrapped when piped."""

from __future__ import annotations

import importlib.metadata
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import typer.main
from pprl_cli.common import PIPE_WIDTH, make_console
from pprl_cli.main import app
from typer.testing import CliRunner

import pprl

WIDE = {"COLUMNS": "400", "TERMINAL_WIDTH": "400"}  # one help line per option
runner = CliRunner()


def commands() -> Iterator[tuple[list[str], Any]]:
    """Every command path (``[]`` for pprl itself, ``["schema", "show"]``…) and its click
    command."""
    root = typer.main.get_command(app)
    stack: list[tuple[list[str], Any]] = [([], root)]
    while stack:
        path, cmd = stack.pop()
        yield path, cmd
        for name, sub in sorted(getattr(cmd, "commands", {}).items()):
            stack.append(([*path, name], sub))


ALL = sorted(" ".join(p) for p, _ in commands())


def help_text(path: list[str]) -> str:
    result = runner.invoke(app, [*path, "--help"], env=WIDE)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_version() -> None:
    """`pprl --version` prints the one version, the one the installed distribution has."""
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"pprl {pprl.__version__}"
    assert pprl.__version__ == importlib.metadata.version("pprl-verify")


@pytest.mark.parametrize("path", ALL)
def test_help_shows_no_python_types(path: str) -> None:
    """No `<int>`, `<list[Path]>` or `<bool>` anywhere: metavars (FILE, N, ADDR) or none."""
    text = help_text(path.split())
    assert not re.search(r"<[\w\[\], |]+>", text), text
    for word in ("list[", "Path", "<bool>", "NoneType"):
        assert word not in text, (word, text)


@pytest.mark.parametrize("path", ALL)
def test_help_shows_every_default(path: str) -> None:
    """Every option line, except --help and --version, shows its default or [required]."""
    text = help_text(path.split())
    options = 0
    for line in text.splitlines():
        if not line.startswith("│"):  # the options panel's rows, not the description
            continue
        tokens = line.strip("│ ").split()
        first = next((t for t in tokens if t != "*"), "")
        if not first.startswith("--") or first in ("--help", "--version"):
            continue
        options += 1
        assert "[default: " in line or "[required]" in line, line
    cmd = dict((" ".join(p), c) for p, c in commands())[path]
    expected = sum(1 for p in cmd.params if p.param_type_name == "option" and not p.is_eager)
    assert options == expected, text


def test_verify_help_shows_the_schema_thresholds() -> None:
    """The thresholds' default is the schema's tuned value, shown per built-in schema."""
    text = help_text(["verify"])
    line = next(x for x in text.splitlines() if "--confirm-score" in x)
    assert "[default: the schema's tuned value (jp-resident: 0.65" in line


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ("encode", {"--processes"}),
        ("match", {"--threads", "--workers", "--scheduler"}),
        ("verify", {"--threads", "--workers", "--scheduler"}),
        ("demo", {"--processes", "--threads"}),
    ],
)
def test_parallelism_vocabulary(command: str, options: set[str]) -> None:
    """Each command that computes takes the agreed names, and no old ones."""
    cmd = dict((" ".join(p), c) for p, c in commands())[command]
    names = {o for p in cmd.params for o in p.opts}
    assert options <= names
    assert not names & {"--dask-workers", "--csv", "--nthreads"}
    for p in cmd.params:
        if set(p.opts) & {"--threads", "--processes", "--workers"}:
            assert p.metavar == "N"
        if "--scheduler" in p.opts:
            assert p.metavar == "ADDR"


def test_console_does_not_wrap_when_piped() -> None:
    """Off a terminal the console is as wide as any line pprl prints."""
    console = make_console()
    assert not console.is_terminal and console.width == PIPE_WIDTH


def test_long_path_printed_unsplit_when_piped(tmp_path: Path) -> None:
    """`pprl keygen` with a path far beyond 80 columns, stdout a pipe: path and
    fingerprint each stay on one line."""
    out = tmp_path / ("d" * 70) / ("e" * 70) / "secret.key"
    out.parent.mkdir(parents=True)
    proc = subprocess.run(
        [sys.executable, "-c", "from pprl_cli.main import app; app()", "keygen", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 1 and str(out) in lines[0]
    assert re.search(r"fingerprint [0-9a-f]{8,}$", lines[0]), lines


# ------------------------------------------------------------------ commands at work
@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic register and insurer file, encoded."""
    from pprl.keys import load_secret, write_secret
    from pprl.party import encode_csv
    from pprl.schema import load_schema
    from pprl.store import write_encodings
    from pprl.synth import SynthConfig, generate

    root = tmp_path_factory.mktemp("cli")
    generate(SynthConfig(people=600, seed=5, claims=300), root / "data")
    secret = load_secret(write_secret(root / "secret.key"))
    schema = load_schema("jp-resident")
    for name in ("register", "insurer"):
        enc, _ = encode_csv(root / "data" / f"{name}.csv", schema, secret, party=name, processes=1)
        write_encodings(enc, root / f"{name}.parquet")
    return root


def test_match_format_and_threads(world: Path, tmp_path: Path) -> None:
    """--format csv writes the same links as Parquet; --threads 1 the same as all cores."""
    a, b = str(world / "insurer.parquet"), str(world / "register.parquet")
    runs = {
        "pq": ["--out", str(tmp_path / "l.parquet")],
        "csv": ["--out", str(tmp_path / "l.txt"), "--format", "csv"],
        "one": ["--out", str(tmp_path / "one.parquet"), "--threads", "1"],
    }
    for args in runs.values():
        result = runner.invoke(app, ["match", a, b, "--threshold", "0.7", *args])
        assert result.exit_code == 0, result.output
    links = pq.read_table(tmp_path / "l.parquet")
    assert links.num_rows > 100
    assert pacsv.read_csv(tmp_path / "l.txt").to_pylist() == links.to_pylist()
    assert pq.read_table(tmp_path / "one.parquet").equals(links)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "clkhash-json"], "--format must be parquet or csv"),
        (["--threads", "2", "--workers", "2"], "--threads sets the threads of this process"),
        (["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "not both"),
        (["--format", "parquet", "--out", "x.csv"], "--format parquet cannot write"),
    ],
)
def test_match_bad_options_are_one_line_errors(world: Path, args: list[str], message: str) -> None:
    result = runner.invoke(
        app, ["match", str(world / "insurer.parquet"), str(world / "register.parquet"), *args]
    )
    assert result.exit_code == 2
    assert message in result.output and len(result.output.strip().splitlines()) == 1


def test_verify_format_and_threads(world: Path, tmp_path: Path) -> None:
    """--format parquet writes only Parquet findings and party views; --threads 1 gives
    the findings of the default run."""
    base = [
        "verify",
        "--reference",
        str(world / "register.parquet"),
        "--claims",
        str(world / "insurer.parquet"),
    ]
    result = runner.invoke(app, [*base, "--out", str(tmp_path / "all")])
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        app, [*base, "--out", str(tmp_path / "pq"), "--format", "parquet", "--threads", "1"]
    )
    assert result.exit_code == 0, result.output
    assert str(tmp_path / "pq" / "findings.parquet") in result.stdout
    names = {p.name for p in (tmp_path / "pq").rglob("*")}
    assert {"findings.parquet", "insurer.parquet", "register.reference.parquet"} <= names
    assert not any(n.endswith(".csv") for n in names)
    assert {"findings.parquet", "findings.csv", "insurer.csv"} <= {
        p.name for p in (tmp_path / "all").rglob("*")
    }
    assert pq.read_table(tmp_path / "pq" / "findings.parquet").equals(
        pq.read_table(tmp_path / "all" / "findings.parquet")
    )
    result = runner.invoke(app, [*base, "--out", str(tmp_path / "x"), "--format", "json"])
    assert result.exit_code == 2 and "--format must be parquet or csv" in result.output


def test_evaluate_prints_the_best_threshold_rule(world: Path, tmp_path: Path) -> None:
    """The best-F1 line names a rule and agrees with --json."""
    out = tmp_path / "v"
    assert (
        runner.invoke(
            app,
            [
                "verify",
                "--reference",
                str(world / "register.parquet"),
                "--claims",
                str(world / "insurer.parquet"),
                "--out",
                str(out),
            ],
        ).exit_code
        == 0
    )
    args = [
        "evaluate",
        "--findings",
        str(out / "findings.parquet"),
        "--truth",
        str(world / "data" / "truth.csv"),
    ]
    shown = runner.invoke(app, args)
    data = runner.invoke(app, [*args, "--json"])
    assert shown.exit_code == 0 and data.exit_code == 0, shown.output + data.output
    best = json.loads(data.stdout)["pr_curve"]["best"]
    assert f"best F1 {best['f1']:.3f}: {best['rule']}" in shown.stdout
