"""Self-contained HTML report of a verification run (``pprl verify``).

The report is one HTML file that a person can open offline and understand without
documentation: what was verified, how many claimed links were confirmed, need review or
look wrong, why, how the scores are distributed, and which claim rows to look at first.

It never contains identities: only file names, row numbers, scores and reason codes.
Counts, thresholds, inputs and timings come from the typed
:class:`~pprl.verify.model.VerifySummary`; the findings table gives the per-claim
scores and margins for the plots and the top-suspects table.

* :mod:`pprl.report.html`: the page, its tables and escaping;
* :mod:`pprl.report.plots`: the matplotlib figures as PNG ``data:`` URIs;
* :mod:`pprl.report.findings`: the findings columns as numpy arrays;
* :mod:`pprl.report.vocabulary`: colours and plain-language meanings.

Public API::

    render_report(findings, summary, *, max_rows=50) -> str
    write_report(findings, summary, path, *, max_rows=50) -> Path
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pyarrow as pa

from pprl.report.findings import REQUIRED_COLUMNS, FindingsArrays
from pprl.report.html import render_page
from pprl.report.plots import MAX_SCATTER_POINTS, THRESHOLD_STYLES
from pprl.report.vocabulary import (
    REASON_MEANINGS,
    STATUS_COLORS,
    STATUS_MEANINGS,
    THRESHOLD_MEANINGS,
)
from pprl.verify.model import VerifySummary

__all__ = [
    "MAX_SCATTER_POINTS",
    "REASON_MEANINGS",
    "REQUIRED_COLUMNS",
    "STATUS_COLORS",
    "STATUS_MEANINGS",
    "THRESHOLD_MEANINGS",
    "THRESHOLD_STYLES",
    "render_report",
    "write_report",
]


def render_report(findings: pa.Table, summary: VerifySummary, *, max_rows: int = 50) -> str:
    """Render the HTML report of one verification run and return it as text.

    ``findings`` has one row per claim with at least the columns
    :data:`REQUIRED_COLUMNS` (the findings format of ``pprl verify``); ``summary`` is the
    run's :class:`VerifySummary`. ``max_rows`` caps the top-suspects table. A findings
    table without those columns, or with a status or reason the model does not know,
    raises :class:`~pprl.errors.InputError`.
    """
    return render_page(FindingsArrays(findings), summary, max_rows)


def write_report(
    findings: pa.Table, summary: VerifySummary, path: str | Path, *, max_rows: int = 50
) -> Path:
    """Render the report and write it to ``path`` atomically; return the path.

    The text goes to a temporary file in the same directory, which is then moved into
    place with :func:`os.replace`, so a reader (or a crash) never sees a half-written
    report and a failed run leaves no stray file behind.
    """
    target = Path(path)
    text = render_report(findings, summary, max_rows=max_rows)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    tmp_path = Path(tmp)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()
    return target
