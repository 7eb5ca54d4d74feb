"""The CLI as a whole: --version, help without Python types and with every default, one
parallelism vocabulary, --format, and output that is never wrapped when piped."""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import typer.main
from hypothesis import given, settings
from hypothesis import strategies as st
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


# ------------------------------------------------------------------ untrusted text on the console
HOSTILE = "ev[/x][i]il\x1b[31mred\x9b2J\x7f\u202egnp.[link=https:e]:warning:"


def render(text: str) -> str:
    """What a rich console (markup and emoji on, as pprl's) prints for ``text``."""
    console = make_console()
    with console.capture() as cap:
        console.print(text, highlight=False, soft_wrap=True)
    return cap.get().rstrip("\n")


def unsafe_in(text: str) -> list[str]:
    """The characters of ``text`` a terminal would act on or hide: controls, surrogates,
    separators, format characters and default-ignorable ones (U+034F, fillers,
    variation selectors), except the joiners ZWNJ and ZWJ."""
    import unicodedata

    from pprl.labels import invisible

    return [
        ch
        for ch in text
        if unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp")
        or (ch not in "\u200c\u200d" and (unicodedata.category(ch) == "Cf" or invisible(ch)))
    ]


def test_shown_makes_controls_visible_and_markup_literal() -> None:
    """ESC, CSI (C1), DEL, bidi override, newline and an undecodable file-name byte are
    printed as escapes; [/x], [i], [link=…] and :warning: are printed as they are."""
    from pprl_cli.common import shown

    out = render(shown(HOSTILE + "\n\udcff"))
    assert out == (
        "ev[/x][i]il\\x1b[31mred\\x9b2J\\x7f\\u202egnp.[link=https:e]:warning:\\x0a\\udcff"
    )
    assert not unsafe_in(out)
    assert render(shown("協会けんぽ\u3000ｻﾄｳ\u200d")) == "協会けんぽ\u3000ｻﾄｳ\u200d"


@given(st.text())
@settings(max_examples=300, deadline=None)
def test_any_text_prints_unchanged_or_escaped_never_raw(text: str) -> None:
    """Property: any text goes through a rich console without error, without a single
    unsafe character, and exactly as it is when it holds none."""
    from pprl_cli.common import shown, visible

    assert not unsafe_in(render(shown(text)))  # alone (a trailing '\\' shows doubled)
    out = render(f"[bold]{shown(text)}[/bold]")  # between tags, as pprl prints
    assert not unsafe_in(out)
    assert out == visible(text)
    if not unsafe_in(text):
        assert out == text


@given(
    st.recursive(
        st.text() | st.integers(),
        lambda c: st.lists(c) | st.dictionaries(st.text(), c),
        max_leaves=8,
    )
)
@settings(max_examples=200, deadline=None)
def test_print_json_is_valid_json_without_raw_controls(data: Any) -> None:
    """--json output: the same data when parsed back, and no raw control, bidi or
    surrogate character on the terminal."""
    import contextlib
    import io

    from pprl_cli.common import print_json

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        print_json(data)
    text = buffer.getvalue()
    assert json.loads(text) == data
    assert not [ch for ch in unsafe_in(text) if ch != "\n"]


def _hostile_copy(src: Path, folder: Path, suffix: str) -> Path:
    """A copy of ``src`` under a name with markup, ESC, C1, DEL and a bidi override."""
    d = folder / "ev["  # the '/' of '[/x]' makes 'ev[' a folder
    d.mkdir(parents=True, exist_ok=True)
    dst = folder / f"{HOSTILE}{suffix}"
    shutil.copyfile(src, dst)
    return dst


def assert_safe(result: Any, *expect: str) -> None:
    """Exit 0 or a clean refusal (2), never an internal error; nothing unsafe printed;
    each ``expect`` (a visible escape) in the output."""
    assert result.exit_code in (0, 2), result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    assert not [ch for ch in unsafe_in(result.output) if ch != "\n"], result.output
    for text in expect:
        assert text in result.output, result.output


ESCAPED = "ev[/x][i]il\\x1b[31mred\\x9b2J\\x7f\\u202egnp.[link=https:e]:warning:"


@pytest.fixture(scope="module")
def hostile_label_file(world: Path) -> Path:
    """insurer.parquet with a party label full of markup and control characters (as a
    file written by another tool could carry; pprl's own writer refuses such labels, so
    its check is bypassed here and only the readers stand in the way)."""
    from unittest import mock

    from pprl.store import read_encodings, write_encodings

    enc = read_encodings(world / "insurer.parquet")
    enc.meta = {k: v for k, v in enc.meta.items() if k not in ("digest", "count")}
    enc.meta["party"] = HOSTILE
    with mock.patch("pprl.store.validate_label", lambda label, **kw: label):
        return write_encodings(enc, world / "hostile-label.parquet")


def test_encode_and_keygen_with_hostile_paths(world: Path, tmp_path: Path) -> None:
    csv = _hostile_copy(world / "data" / "insurer.csv", tmp_path, ".csv")
    out = tmp_path / f"{HOSTILE}.parquet"
    result = runner.invoke(
        app,
        [
            "encode",
            str(csv),
            "--schema",
            "jp-resident",
            "--secret",
            str(world / "secret.key"),
            "--out",
            str(out),
            "--processes",
            "1",
            "--party",
            "insurer",
        ],
    )
    assert_safe(result, ESCAPED + ".csv", ESCAPED + ".parquet")
    assert result.exit_code == 0 and out.is_file()
    key = tmp_path / f"{HOSTILE}.key"
    result = runner.invoke(app, ["keygen", str(key)])
    assert_safe(result, ESCAPED + ".key")
    assert result.exit_code == 0


def test_encode_warnings_escape_headers_and_values(world: Path, tmp_path: Path) -> None:
    """A row whose link key is invalid is a warning; the CSV's name is printed escaped."""
    csv = _hostile_copy(world / "data" / "insurer.csv", tmp_path, ".csv")
    lines = csv.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    col = header.index("my_number")
    row = lines[1].split(",")
    row[col] = "12345"
    csv.write_text("\n".join([lines[0], ",".join(row), *lines[2:]]) + "\n", encoding="utf-8")
    result = runner.invoke(
        app,
        [
            "encode",
            str(csv),
            "--schema",
            "jp-resident",
            "--secret",
            str(world / "secret.key"),
            "--out",
            str(tmp_path / "w.parquet"),
            "--processes",
            "1",
            "--party",
            "insurer",
        ],
    )
    assert_safe(result, ESCAPED + ".csv: 1 row(s) with invalid link key")


def test_inspect_hostile_label_and_path(
    world: Path, hostile_label_file: Path, tmp_path: Path
) -> None:
    """`pprl inspect` sent raw ANSI escapes of a party label to the terminal."""
    result = runner.invoke(app, ["inspect", str(hostile_label_file)])
    assert_safe(result)
    if result.exit_code == 0:  # (another check may refuse such a label: then escaped too)
        assert ESCAPED in result.output
    as_json = runner.invoke(app, ["inspect", "--json", str(hostile_label_file)])
    assert_safe(as_json)
    if as_json.exit_code == 0:
        assert json.loads(as_json.stdout)["metadata"]["party"] == HOSTILE
    copy = _hostile_copy(world / "insurer.parquet", tmp_path, ".parquet")
    assert_safe(runner.invoke(app, ["inspect", str(copy)]), ESCAPED + ".parquet: integrity OK")


def test_verify_and_match_with_hostile_label_and_paths(
    world: Path, hostile_label_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / f"{HOSTILE}-out"
    (tmp_path / "ev[").mkdir()
    reference = str(world / "register.parquet")
    result = runner.invoke(
        app,
        [
            "verify",
            "--reference",
            reference,
            "--claims",
            str(hostile_label_file),
            "--out",
            str(out),
        ],
    )
    assert_safe(result)
    result = runner.invoke(
        app,
        [
            "verify",
            "--reference",
            reference,
            "--claims",
            str(world / "insurer.parquet"),
            "--out",
            str(out),
            "--format",
            "csv",
        ],
    )
    assert_safe(result, f"{ESCAPED}-out/findings.csv")
    assert result.exit_code == 0
    links = tmp_path / f"{HOSTILE}.csv"
    result = runner.invoke(
        app, ["match", reference, str(world / "insurer.parquet"), "--out", str(links)]
    )
    assert_safe(result, f"{ESCAPED}.csv")
    assert result.exit_code == 0


def test_evaluate_escapes_values_from_the_truth_file(world: Path, tmp_path: Path) -> None:
    """Error kinds come from the truth file and are printed in the table."""
    out = tmp_path / "v"
    base = [
        "--reference",
        str(world / "register.parquet"),
        "--claims",
        str(world / "insurer.parquet"),
    ]
    assert runner.invoke(app, ["verify", *base, "--out", str(out)]).exit_code == 0
    truth = pacsv.read_csv(world / "data" / "truth.csv")
    kinds = truth.column("error_kind").to_pylist()
    kinds = [("[/x]\x1b[2Jkind" if k != "none" else k) for k in kinds]
    import pyarrow as pa

    hostile = truth.set_column(
        truth.column_names.index("error_kind"), "error_kind", pa.array(kinds)
    )
    (tmp_path / "t").mkdir()
    pacsv.write_csv(hostile, tmp_path / "t" / "truth.csv")
    shutil.copyfile(world / "data" / "register.csv", tmp_path / "t" / "register.csv")
    result = runner.invoke(
        app,
        [
            "evaluate",
            "--findings",
            str(out / "findings.csv"),
            "--truth",
            str(tmp_path / "t" / "truth.csv"),
        ],
    )
    assert_safe(result, "[/x]\\x1b[2Jkind")
    assert result.exit_code == 0


def test_synth_and_audit_with_hostile_paths(world: Path, tmp_path: Path) -> None:
    (tmp_path / "ev[").mkdir()
    out = tmp_path / f"{HOSTILE}-synth"
    result = runner.invoke(app, ["synth", "--people", "100", "--seed", "1", "--out", str(out)])
    assert_safe(result, f"{ESCAPED}-synth/register.csv")
    assert result.exit_code == 0
    copy = _hostile_copy(world / "insurer.parquet", tmp_path, ".parquet")
    names = tmp_path / "names.csv"
    names.write_text("field,name,frequency\nfamily_name,佐藤,100\nfamily_name,鈴木,90\n", "utf-8")
    result = runner.invoke(
        app, ["audit", str(copy), "--attacker-names", str(names), "--sample", "100"]
    )
    assert_safe(result, f"{ESCAPED}.parquet (schema")


def test_demo_with_hostile_out(tmp_path: Path) -> None:
    (tmp_path / "ev[").mkdir()
    out = tmp_path / f"{HOSTILE}-demo"
    result = runner.invoke(app, ["demo", "--people", "300", "--out", str(out), "--processes", "1"])
    assert_safe(result, f"{ESCAPED}-demo/verify-insurer/report.html")
    assert result.exit_code == 0


@pytest.mark.parametrize("command", ["inspect", "audit", "keygen-dir", "evaluate", "match"])
def test_errors_naming_hostile_paths_are_escaped(tmp_path: Path, command: str) -> None:
    """An error naming a hostile path: one escaped line, exit 2 (a [/x] crashed rich)."""
    bad = str(tmp_path / f"nope{HOSTILE}")
    args = {
        "inspect": ["inspect", bad],
        "audit": ["audit", bad],
        "keygen-dir": ["keygen", str(tmp_path / "missing" / f"k{HOSTILE}")],
        "evaluate": ["evaluate", "--findings", bad, "--truth", bad],
        "match": ["match", bad, bad],
    }[command]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert_safe(result, "\\x1b[31mred")
    assert len(result.output.strip().splitlines()) == 1 and result.output.startswith("error: ")


# ------------------------------------------------------------------ one-line failures
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["match", "a", "b", "--top-k", "0"], "invalid value for '--top-k'"),
        (["verify", "--claims", "x"], "missing option '--reference'"),
        (["match", "--frobnicate"], "no such option: --frobnicate"),
        (
            ["verify", "--reference", "a", "--claims", "b", "--out", "o", "--workers", "x"],
            "'--workers'",
        ),
    ],
)
def test_usage_errors_are_one_line(args: list[str], message: str) -> None:
    """No usage box: one line naming the option and where to read more, exit 2."""
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines
    assert f"{args[0]} --help')" in lines[0]


def test_unexpected_exception_is_one_line_exit_1(
    world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug: `error: internal error (<type>); please report`, exit 1, never the
    exception's text (it may hold data); PPRL_DEBUG=1 shows the traceback."""
    import pprl.store

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("row 17: 123456789012 佐藤")

    monkeypatch.setattr(pprl.store, "bit_statistics", broken)
    result = runner.invoke(app, ["inspect", str(world / "insurer.parquet")])
    assert result.exit_code == 1
    assert result.output.strip() == "error: internal error (RuntimeError); please report"
    debug = runner.invoke(app, ["inspect", str(world / "insurer.parquet")], env={"PPRL_DEBUG": "1"})
    assert debug.exit_code == 1 and "Traceback" in debug.output and "123456789012" in debug.output


def test_disk_full_names_the_output(
    world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC while writing (simulated in-process: no small file system as root): one line
    naming --out's file and the reason, exit 2."""
    import errno

    import pyarrow.parquet as pq

    def full(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(pq, "write_table", full)
    out = tmp_path / "links.parquet"
    result = runner.invoke(
        app,
        [
            "match",
            str(world / "register.parquet"),
            str(world / "insurer.parquet"),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 2, result.output
    line = result.output.strip()
    assert line.startswith("error: ") and "\n" not in line, line
    assert str(out) in line and "no space left on device" in line.lower(), line
    assert not out.exists() and not list(tmp_path.iterdir())


@pytest.mark.parametrize("where", ["verify", "encode"])
def test_read_only_out_is_refused_before_any_work(
    world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """A read-only file system under --out (simulated: the tests run as root, and root
    may write anywhere a read-only mount is not): refused before reading any input."""
    import errno
    import tempfile

    import pprl_cli.encoding

    import pprl.party
    import pprl.verify

    def read_only(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    def never(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("an input was read before --out was checked")

    monkeypatch.setattr(tempfile, "TemporaryFile", read_only)
    monkeypatch.setattr(pprl.verify, "verify", never)
    monkeypatch.setattr(pprl.party, "encode_csv", never)
    monkeypatch.setattr(pprl.party, "encode_csv_file", never)
    monkeypatch.setattr(pprl_cli.encoding, "load_secret", never)
    out = tmp_path / "out"
    args = {
        "verify": [
            "verify",
            "--reference",
            str(world / "register.parquet"),
            "--claims",
            str(world / "insurer.parquet"),
            "--out",
            str(out),
        ],
        "encode": [
            "encode",
            str(world / "data" / "insurer.csv"),
            "--schema",
            "jp-resident",
            "--secret",
            str(world / "secret.key"),
            "--out",
            str(out),
        ],
    }[where]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert (
        result.output.strip()
        == f"error: --out {out}: cannot write in {tmp_path} (Read-only file system)"
    )


@pytest.mark.parametrize("ch", ["\u3164", "\ufe0f", "\u034f", "\u200b", "\U000e0041"])
def test_invisible_characters_are_made_visible(ch: str) -> None:
    """Characters a terminal renders as nothing (fillers, variation selectors, tags)
    would let two different labels or paths look the same: they are escaped."""
    from pprl_cli.common import shown

    out = shown(f"insurer{ch}")
    assert ch not in out and out.startswith("insurer\\")
