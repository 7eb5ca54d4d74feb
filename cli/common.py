"""Shared CLI plumbing: consoles, one-line errors with exit 2, progress bars, the
parallelism and output-format options every command shares, and help without Python
types."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from pprl.errors import PprlError

F = TypeVar("F", bound=Callable[..., Any])

#: Console width when the stream is not a terminal: wide enough that rich never wraps
#: (paths and digests stay on one line for scripts and log files).
PIPE_WIDTH = 1_000_000


def make_console(stderr: bool = False) -> Console:
    """A console for stdout (or stderr): the terminal's width on a terminal, otherwise
    no wrapping at all."""
    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty():
        return Console(stderr=stderr)
    return Console(stderr=stderr, width=PIPE_WIDTH, soft_wrap=True)


err_console = make_console(stderr=True)
console = make_console()

EXIT_INPUT = 2


def fail(message: str) -> NoReturn:
    """Print ``error: message`` on one line to stderr and exit with code 2."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_INPUT)


def user_errors(fn: F) -> F:
    """Turn :class:`PprlError` into a one-line message and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except PprlError as exc:
            fail(str(exc))
        except KeyboardInterrupt:
            err_console.print("interrupted; no output written")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


@contextmanager
def progress_bar(
    description: str, total: int | None, enabled: bool = True
) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on stderr; yields ``advance(n)``. Silent when not a terminal."""
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
        task = prog.add_task(description, total=total)
        yield lambda n: prog.advance(task, n)


@contextmanager
def stage_progress(enabled: bool = True) -> Iterator[Callable[[str], None]]:
    """One progress line per stage on stderr; yields ``start(stage)``, which completes
    the previous stage. Silent when stderr is not a terminal."""
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
            current.append(prog.add_task(stage, total=1))

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


class Group(TyperGroup):
    """A command group whose help shows no Python types either."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _tidy_params(self.params)

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        if option is not None:
            _tidy_params([option])
        return option
