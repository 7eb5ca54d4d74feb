"""The ``pprl`` command: argument handling and progress display only; logic lives in ``pprl``."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)


@app.callback()
def _root() -> None:
    """Privacy-preserving linkage verification toolkit."""
