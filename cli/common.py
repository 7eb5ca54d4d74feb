"""Shared CLI plumbing: one-line errors with a non-zero exit, and progress bars."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pprl.errors import PprlError

F = TypeVar("F", bound=Callable[..., Any])
err_console = Console(stderr=True)
console = Console()

EXIT_INPUT = 2


def fail(message: str) -> None:
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
def progress_bar(description: str, total: int | None, enabled: bool = True
                 ) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on stderr; yields ``advance(n)``. Silent when not a terminal."""
    show = enabled and sys.stderr.isatty()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err_console, disable=not show,
                  transient=False) as prog:
        task = prog.add_task(description, total=total)
        yield lambda n: prog.advance(task, n)


@contextmanager
def stage_progress(enabled: bool = True) -> Iterator[Callable[[str], None]]:
    """One progress line per stage on stderr; yields ``start(stage)``, which completes
    the previous stage. Silent when stderr is not a terminal."""
    show = enabled and sys.stderr.isatty()
    with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                  console=err_console, disable=not show) as prog:
        current: list[int] = []

        def start(stage: str) -> None:
            if current:
                prog.update(current[-1], completed=1)
            current.append(prog.add_task(stage, total=1))

        yield start
        if current:
            prog.update(current[-1], completed=1)
