"""Shared CLI plumbing: consoles, one-line errors with exit 2, progress bars, the
parallelism and output-format options every command shares, and help without Python
types."""

from __future__ import annotations

import functools
import json
import os
import re
import stat
import sys
import tempfile
import traceback
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

# Only light modules at import time (``tests/test_startup.py``): ``pprl --help`` must not
# load numpy, pyarrow or numba. Commands import what they need inside their functions.
from pprl.errors import PprlError
from pprl.labels import invisible

if TYPE_CHECKING:
    from rich.progress import TaskID

try:  # typer 0.2x carries its own copy of click
    from typer._click import exceptions as cli_exceptions
except ImportError:  # pragma: no cover (older typer runs on click itself)
    from click import exceptions as cli_exceptions  # type: ignore[no-redef]

F = TypeVar("F", bound=Callable[..., Any])

#: Console width when the stream is not a terminal: wide enough that rich never wraps
#: (paths and digests stay on one line for scripts and log files).
PIPE_WIDTH = 1_000_000


def make_console(stderr: bool = False) -> Console:
    """A console for stdout (or stderr): the terminal's width on a terminal, otherwise
    no wrapping at all."""
    stream = sys.stderr if stderr else sys.stdout
    # no :emoji: codes: a path or label holding ':warning:' is printed as it is
    if stream.isatty():
        return Console(stderr=stderr, emoji=False)
    return Console(stderr=stderr, width=PIPE_WIDTH, soft_wrap=True, emoji=False)


err_console = make_console(stderr=True)
console = make_console()

# exit codes (docs/cli.md)
EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_INPUT = 2
EXIT_INTERRUPTED = 130

#: Set to 1 to see the Python traceback of an internal error instead of one line.
DEBUG_VARIABLE = "PPRL_DEBUG"


# ------------------------------------------------------------------ untrusted text
#: Invisible or terminal-controlling characters besides the control categories: bidi
#: embeddings, overrides and isolates (U+202E turns "exe.txt" into "txt.exe" on screen),
#: the Arabic letter mark and the line/paragraph separators.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
#: Format characters that scripts need inside words (zero-width non-joiner and joiner).
_JOINERS = frozenset("\u200c\u200d")


def _unsafe(ch: str) -> bool:
    """True for a character that must never reach a terminal as it is: C0 and C1
    controls (ESC, CR, BEL…), DEL, lone surrogates (undecodable bytes of a file name),
    line and paragraph separators, bidi controls and other invisible format characters."""
    if ch in _BIDI:
        return True
    if ch not in _JOINERS and invisible(ch):  # fillers, variation selectors, tags
        return True
    category = unicodedata.category(ch)
    if category == "Cf":
        return ch not in _JOINERS
    return category in ("Cc", "Cs", "Zl", "Zp")


def _escape_char(ch: str) -> str:
    """A visible escape of ``ch``: \\x1b, \\u202e, \\U000e0001."""
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def visible(text: object) -> str:
    """``text`` with every control, bidi and invisible format character written as a
    visible escape (``\\x1b``, ``\\u202e``); nothing else changes."""
    s = str(text)
    if s.isascii() and s.isprintable():  # fast path: nothing to escape
        return s
    return "".join(_escape_char(ch) if _unsafe(ch) else ch for ch in s)


def shown(text: object) -> str:
    """Untrusted text (a path, label, header, value) for a rich console: control and
    invisible characters made visible, then rich markup escaped, so ``[/x]`` or
    ``[link=…]`` are printed as they are instead of being interpreted."""
    return escape(visible(text))


def print_json(data: Any, **kwargs: Any) -> None:
    """Print ``data`` as JSON on stdout, with no raw control or bidi character: JSON
    escapes C0 controls itself; DEL, C1 controls, bidi and format characters and lone
    surrogates are written as ``\\u`` + four hex digits too (still valid JSON)."""
    text = json.dumps(data, ensure_ascii=False, indent=2, **kwargs)
    if not (text.isascii() and text.isprintable()):

        def esc(match: re.Match[str]) -> str:
            ch = match.group()
            if not _unsafe(ch):
                return ch
            code = ord(ch)
            if code < 0x10000:
                return f"\\u{code:04x}"
            code -= 0x10000
            return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"

        text = re.sub(r"[^\n]", esc, text) if any(map(_unsafe, text)) else text
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


# ------------------------------------------------------------------ one-line errors
def fail(message: str) -> NoReturn:
    """Print ``error: message`` on one line to stderr and exit with code 2.

    The message is untrusted text (it names paths, labels, values): it is printed with
    control characters made visible and markup escaped (:func:`shown`)."""
    _error_line(message)
    raise typer.Exit(EXIT_INPUT)


def _error_line(message: str) -> None:
    """``error: message`` on one line of stderr, the message shown safely."""
    err_console.print(f"[bold red]error:[/] {shown(message)}", highlight=False, soft_wrap=True)


def os_reason(exc: OSError) -> str:
    """The reason of an OS error in words ("No space left on device"), also for
    pyarrow's IO errors, which carry the errno only in their text."""
    code = exc.errno
    if not isinstance(code, int):
        found = re.search(r"\[errno (\d+)\]", str(exc), re.IGNORECASE)
        code = int(found.group(1)) if found else None
    if code:
        return os.strerror(code)
    if exc.strerror:
        return str(exc.strerror).splitlines()[0][:200]
    lines = str(exc).strip().splitlines()
    return lines[0][:200] if lines else type(exc).__name__


def os_error_text(exc: OSError, path: object | None = None) -> str:
    """``<path>: <reason>`` for an OS error (disk full, read-only file system, permission
    denied…), naming ``path`` or else the file the error names."""
    where = path if path is not None else exc.filename
    return f"{where}: {os_reason(exc)}" if where is not None else os_reason(exc)


def _debug() -> bool:
    """True when ``PPRL_DEBUG`` asks for tracebacks."""
    return os.environ.get(DEBUG_VARIABLE, "") not in ("", "0")


def internal_error(exc: BaseException) -> NoReturn:
    """An unexpected exception: one line asking for a report, exit code 1; with
    ``PPRL_DEBUG=1`` the traceback too. Never the exception's text (it may hold data)."""
    if _debug():
        traceback.print_exception(exc, file=sys.stderr)
    _error_line(f"internal error ({type(exc).__name__}); please report")
    raise typer.Exit(EXIT_INTERNAL)


def _passes_through(exc: BaseException) -> bool:
    """Exceptions click and typer handle themselves (exit codes, usage errors)."""
    return isinstance(exc, typer.Exit | typer.Abort | cli_exceptions.ClickException)


def user_errors(fn: F) -> F:
    """Turn :class:`PprlError` and OS errors into a one-line message and exit code 2,
    Ctrl-C into exit code 130, anything else into a one-line internal error (exit 1)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except PprlError as exc:
            fail(str(exc))
        except KeyboardInterrupt:
            err_console.print("interrupted; no output written")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except Exception as exc:
            if _passes_through(exc):
                raise
            if isinstance(exc, OSError):
                if _debug():
                    traceback.print_exception(exc, file=sys.stderr)
                fail(os_error_text(exc))
            internal_error(exc)

    return wrapper  # type: ignore[return-value]


@contextmanager
def writing(path: object) -> Iterator[None]:
    """Writing ``path``: an OS error (disk full, read-only file system, permission
    denied) becomes one line naming ``path``, exit 2."""
    try:
        yield
    except OSError as exc:
        fail(os_error_text(exc, path))


# ------------------------------------------------------------------ inputs and outputs
def utf8_name(path: Path, option: str = "") -> Path:
    """``path`` if its name is valid UTF-8; otherwise one line (exit 2). Bytes that are
    not UTF-8 reach Python as lone surrogates, which Arrow, Parquet and JSON cannot
    carry: refused before any work instead of failing midway."""
    try:
        os.fspath(path).encode("utf-8")
    except UnicodeEncodeError:
        fail(f"{option + ' ' if option else ''}{path}: file names must be valid UTF-8")
    return path


def input_file(path: Path, what: str = "", allow_pipe: bool = False) -> Path:
    """``path`` if it is an existing, readable regular file; otherwise one line (exit 2)
    that says what it is: a folder, FIFO or device is "not a regular file", never
    "file not found". Checked before any work, and without opening it (a FIFO would
    block). ``allow_pipe``: a FIFO is fine too (a secret passed as ``<(command)``)."""
    from pprl.read import require_regular_file

    utf8_name(path, what)
    try:
        require_regular_file(path, what, allow_pipe)
    except PprlError as exc:
        fail(str(exc))
    return path


def _probe_writable(folder: Path, target: Path, option: str) -> None:
    """One line (exit 2) unless a file can be created in ``folder`` (read-only file
    system, permission denied; as root too, unlike os.access). The probe file has no
    name (O_TMPFILE) where the system allows, and is gone when the check returns."""
    try:
        with tempfile.TemporaryFile(dir=folder, prefix=".pprl-probe-"):
            pass
    except OSError as exc:
        fail(f"{option} {target}: cannot write in {folder} ({os_reason(exc)})")


def _existing_ancestor(path: Path) -> Path:
    """The nearest folder above ``path`` that exists (``.`` for a bare name)."""
    parent = path.absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    return parent


def _stat_or_none(path: Path, option: str) -> os.stat_result | None:
    """``path``'s status (None when nothing is there), after checking its name is UTF-8;
    any other failure is a one-line error naming ``option``."""
    utf8_name(path, option)
    try:
        return path.stat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        fail(f"{option} {os_error_text(exc, path)}")


def output_file(path: Path, option: str = "--out") -> Path:
    """``path`` if pprl may write a file there: not a folder or a device, in an existing
    folder it can write to. Checked before any work."""
    from pprl.read import file_kind

    st = _stat_or_none(path, option)
    if st is not None and stat.S_ISDIR(st.st_mode):
        fail(f"{option} {path}: is a folder; give a file name")
    if st is not None and not stat.S_ISREG(st.st_mode):
        fail(f"{option} {path}: is {file_kind(st.st_mode)}, not a regular file")
    parent = path.absolute().parent
    if not parent.is_dir():
        fail(f"{option} {path}: folder {path.parent} does not exist")
    _probe_writable(parent, path, option)
    return path


def output_folder(path: Path, option: str = "--out") -> Path:
    """``path`` if pprl may write a folder of results there: a folder or nothing, with
    a writable folder above it. Checked before any work."""
    from pprl.read import file_kind

    st = _stat_or_none(path, option)
    if st is not None and not stat.S_ISDIR(st.st_mode):
        what = "a file" if stat.S_ISREG(st.st_mode) else file_kind(st.st_mode)
        fail(f"{option} {path}: is {what}, not a folder")
    above = _existing_ancestor(path)
    if not above.is_dir():
        fail(f"{option} {path}: {above} is not a folder")
    _probe_writable(above, path, option)
    if st is not None:
        _probe_writable(path, path, option)
    return path


@contextmanager
def progress_bar(
    description: str, total: int | None, enabled: bool = True
) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on stderr; yields ``advance(n)``. Silent when not a terminal."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    show = enabled and sys.stderr.isatty()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        disable=not show,
        transient=False,
    ) as prog:
        task = prog.add_task(shown(description), total=total)  # it may name a file
        yield lambda n: prog.advance(task, n)


@contextmanager
def stage_progress(enabled: bool = True) -> Iterator[Callable[[str], None]]:
    """One progress line per stage on stderr; yields ``start(stage)``, which completes
    the previous stage. Silent when stderr is not a terminal."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    show = enabled and sys.stderr.isatty()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=err_console,
        disable=not show,
    ) as prog:
        current: list[TaskID] = []

        def start(stage: str) -> None:
            if current:
                prog.update(current[-1], completed=1)
            current.append(prog.add_task(shown(stage), total=1))  # may name a block key

        yield start
        if current:
            prog.update(current[-1], completed=1)


# ------------------------------------------------------------------ shared options
# One parallelism vocabulary on every command that computes:
#   --threads N      kernel threads in this one process
#   --processes N    local worker processes (encoding)
#   --workers N      a local Dask cluster of N worker processes
#   --scheduler ADDR a running Dask cluster
Threads = Annotated[
    int | None,
    typer.Option(
        "--threads",
        metavar="N",
        min=1,
        show_default="all cores",
        help="Kernel threads in this process.",
    ),
]
Processes = Annotated[
    int | None,
    typer.Option(
        "--processes",
        metavar="N",
        min=1,
        show_default="the idle cores",
        help="Local worker processes.",
    ),
]
Workers = Annotated[
    int | None,
    typer.Option(
        "--workers",
        metavar="N",
        min=1,
        show_default="none: run in this process",
        help="Run on a local Dask cluster of N worker processes (see docs/distributed.md).",
    ),
]
Scheduler = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        metavar="ADDR",
        show_default="none: run in this process",
        help="Run on the running Dask cluster of this scheduler (e.g. tcp://host:8786).",
    ),
]

TlsCa = Annotated[
    Path | None,
    typer.Option(
        "--tls-ca",
        metavar="PEM",
        show_default="none: no TLS",
        help="CA certificate of a Dask cluster reached over TLS: with --scheduler tls://HOST:PORT "
        "or --workers N (see docs/distributed.md).",
    ),
]
TlsCert = Annotated[
    Path | None,
    typer.Option(
        "--tls-cert",
        metavar="PEM",
        show_default="none: no TLS",
        help="This client's TLS certificate, signed by --tls-ca.",
    ),
]
TlsKey = Annotated[
    Path | None,
    typer.Option(
        "--tls-key",
        metavar="PEM",
        show_default="in the --tls-cert file",
        help="The private key of --tls-cert.",
    ),
]

TABLE_FORMATS = ("parquet", "csv", "clkhash-json")


def check_format(value: str, allowed: tuple[str, ...]) -> str:
    """``value`` if it is one of ``allowed``; otherwise a one-line error (exit 2)."""
    if value not in allowed:
        fail(f"--format must be {' or '.join(allowed)}, not '{value}'")
    return value


def check_one_engine(threads: int | None, workers: int | None, scheduler: str | None) -> None:
    """--threads sizes this process; --workers and --scheduler run elsewhere; --workers
    and --scheduler exclude each other."""
    if workers is not None and scheduler is not None:
        fail("give --workers N or --scheduler ADDR, not both")
    if threads is not None and (workers is not None or scheduler is not None):
        fail(
            "--threads sets the threads of this process; a Dask worker uses its own "
            "--nthreads: give --threads or --workers/--scheduler, not both"
        )


def check_engine(
    threads: int | None,
    workers: int | None,
    scheduler: str | None,
    tls_ca: Path | None = None,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
) -> Any:
    """Check the engine options before any work (see :func:`check_one_engine`), and for
    a Dask cluster the worker count, the scheduler address and the TLS files; returns
    the :class:`pprl.engines.dask.TlsFiles` to connect with, or None."""
    check_one_engine(threads, workers, scheduler)
    tls_given = any(p is not None for p in (tls_ca, tls_cert, tls_key))
    if workers is None and scheduler is None:
        if tls_given:
            fail(
                "--tls-ca, --tls-cert and --tls-key apply to a Dask cluster: give --workers N "
                "or --scheduler tls://HOST:PORT too"
            )
        return None
    if tls_given and (tls_ca is None or tls_cert is None):
        fail(
            "give --tls-ca and --tls-cert together (and --tls-key unless the certificate file holds the key)"
        )
    from pprl.engines.dask import TlsFiles, check_cluster

    tls = (
        TlsFiles(str(tls_ca), str(tls_cert), None if tls_key is None else str(tls_key))
        if tls_ca is not None and tls_cert is not None
        else None
    )
    try:
        check_cluster(workers, scheduler, tls)
    except PprlError as exc:
        fail(str(exc))
    return tls


# ------------------------------------------------------------------ help without types
def _no_type(ctx: Any) -> None:
    """No type column for arguments: the metavar (FILE, CSV…) says it."""
    return None


def _tidy_params(params: list[Any]) -> None:
    """Help that shows metavars and defaults, never Python types.

    Arguments lose typer's ``<list[Path]>`` type column; flags take no value, so no
    metavar, and show their default as off/on; a default given as text (``show_default=
    "all cores"``) is shown as ``[default: all cores]`` instead of typer's
    ``[default: (all cores)]``. Eager flags (--help, --version) show no default.
    """
    for param in params:
        if isinstance(param, TyperArgument):
            setattr(param, "display_type_rich", _no_type)  # noqa: B010 (instance override)
            continue
        if not isinstance(param, TyperOption):
            continue
        if param.is_flag:
            param.metavar = ""
            if param.is_eager:
                param.show_default = False
            elif not isinstance(param.show_default, str) and not param.secondary_opts:
                param.show_default = "on" if param.default else "off"
        if isinstance(param.show_default, str):
            # escaped: typer renders help as rich markup, where [...] is a tag
            param.help = f"{param.help or ''} {escape(f'[default: {param.show_default}]')}".strip()
            param.show_default = False


class Command(TyperCommand):
    """A command whose help shows metavars (FILE, N, ADDR) and every default, never
    Python types."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _tidy_params(self.params)

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        if option is not None:
            _tidy_params([option])
        return option


def usage_error_text(exc: cli_exceptions.UsageError) -> str:
    """A usage error (bad option value, missing or unknown option) as one line naming
    the option, with where to read more: ``invalid value for '--top-k': … (see 'pprl
    match --help')``."""
    message = " ".join(exc.format_message().split())
    message = message[:1].lower() + message[1:].rstrip(".")
    if exc.ctx is not None:
        message += f" (see '{exc.ctx.command_path} --help')"
    return message


class Group(TyperGroup):
    """A command group whose help shows no Python types either, and whose every failure
    is one ``error:`` line: usage errors (exit 2) too, and anything unexpected (exit 1)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _tidy_params(self.params)

    def main(
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the command line; in standalone mode (the ``pprl`` command, CliRunner)
        exit with 0, 1 (internal error), 2 (bad input or usage) or 130 (interrupted),
        printing one ``error:`` line and never a traceback (unless ``PPRL_DEBUG=1``)."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        try:
            try:
                code = super().main(
                    args, prog_name, complete_var, False, windows_expand_args, **extra
                )
            except cli_exceptions.UsageError as exc:
                if type(exc).__name__ == "NoArgsIsHelpError":  # `pprl` alone: the help
                    from typer import rich_utils

                    rich_utils.rich_format_error(exc)
                    code = exc.exit_code
                else:
                    _error_line(usage_error_text(exc))
                    code = EXIT_INPUT
            except cli_exceptions.ClickException as exc:
                _error_line(" ".join(exc.format_message().split()))
                code = exc.exit_code
            except typer.Abort:
                err_console.print("interrupted; no output written")
                code = EXIT_INTERRUPTED
            except KeyboardInterrupt:
                err_console.print("interrupted; no output written")
                code = EXIT_INTERRUPTED
            except OSError as exc:
                if _debug():
                    traceback.print_exception(exc, file=sys.stderr)
                _error_line(os_error_text(exc))
                code = EXIT_INPUT
            except Exception as exc:
                internal_error(exc)
        except typer.Exit as exc:  # from internal_error
            code = exc.exit_code
        sys.exit(code if isinstance(code, int) else EXIT_OK)

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        if option is not None:
            _tidy_params([option])
        return option
