"""Self-contained HTML report of a verification run (``pprl verify``).

The report is one HTML file that a person can open offline and understand without
documentation: what was verified, how many claimed links were confirmed, need review or
look wrong, why, how the scores are distributed, and which claim rows to look at first.

It never contains identities: only file names, row numbers, scores and reason codes.
All text is escaped with :func:`html.escape`; plots are matplotlib PNGs embedded as
``data:`` URIs, and the CSS is inline, so nothing is fetched from the network.

Public API::

    render_report(findings, summary, *, max_rows=50) -> str
    write_report(findings, summary, path) -> Path
"""

from __future__ import annotations

import base64
import html
import io
import math
import os
import sys
import tempfile
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: Statuses in the order a reader meets them (best to worst, then number problems).
STATUS_ORDER: tuple[str, ...] = (
    "confirmed",
    "review",
    "suspect",
    "unknown_number",
    "invalid_number",
)

#: One colour per status, used in every plot and in the status badges.
STATUS_COLORS: dict[str, str] = {
    "confirmed": "#2e7d32",
    "review": "#ef8f00",
    "suspect": "#c62828",
    "unknown_number": "#607d8b",
    "invalid_number": "#6a1b9a",
}
_FALLBACK_COLORS: tuple[str, ...] = ("#1565c0", "#00838f", "#8d6e63", "#ad1457", "#558b2f")

#: Plain-language meaning of each status, shown in the header and the counts table.
STATUS_MEANINGS: dict[str, str] = {
    "confirmed": "the claimed register record matches the claim record well and no other "
                 "register record matches better",
    "review": "the evidence is mixed; a person should look at this link",
    "suspect": "the claimed register record matches poorly and/or another register record "
               "matches clearly better; likely a wrong link",
    "unknown_number": "the claimed number is not in the register",
    "invalid_number": "the number failed its check digit or was missing",
}

#: Plain-language meaning of the reason codes the engine is known to emit. Codes not
#: listed here are still counted and shown, just without an explanation.
REASON_MEANINGS: dict[str, str] = {
    "match": "the claimed register record matches well and no other record comes close",
    "weak_score": "the claimed pair's similarity is below the confirm threshold (often a "
                  "changed surname or a move)",
    "low_score": "the claimed pair's similarity is below the suspect threshold: the claimed "
                 "person hardly matches",
    "better_match_elsewhere": "another register record matches the claim record clearly "
                              "better than the claimed one (likely the true owner)",
    "thin_evidence": "another register record matches about as well as the claimed one "
                     "(twins, namesakes with the same birth date): the encodings cannot "
                     "tell them apart",
    "number_shared_by_different_people": "the same number is claimed for records that "
                                         "look like different people",
    "person_under_several_numbers": "the same person appears to be claimed under several "
                                    "numbers",
    "alternative_claimed_by_other_record": "the better-matching register record is itself "
                                           "claimed by another claim record",
    "no_register_record": "no register record carries this number",
    "no_valid_number": "the number was missing or failed its check digit",
}

#: Columns of the top-suspects table, in display order.
SUSPECT_COLUMNS: tuple[str, ...] = (
    "claims_file",
    "claim_row",
    "status",
    "score",
    "candidate_ref_row",
    "candidate_score",
    "margin",
    "reason",
)

#: At most this many points go into the score-vs-margin scatter, to bound the file size.
MAX_SCATTER_POINTS = 20_000

_NONE = '<p class="none">none</p>'
_DASH = "—"

_CSS = """
:root { --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg-alt: #f6f8fa; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Noto Sans JP",
       sans-serif; color: var(--fg); margin: 0; line-height: 1.5; background: #fff; }
main { max-width: 1100px; margin: 0 auto; padding: 24px 32px 64px; }
h1 { font-size: 1.6rem; margin: 0 0 4px; }
h2 { font-size: 1.25rem; margin: 36px 0 8px; padding-bottom: 4px;
     border-bottom: 1px solid var(--line); }
h3 { font-size: 1.05rem; margin: 20px 0 6px; }
p { margin: 6px 0 10px; }
.meta, .note, .none, figcaption { color: var(--muted); }
.none { font-style: italic; }
.warn { background: #fff4e5; border-left: 4px solid #ef8f00; padding: 8px 12px; }
.glance { background: var(--bg-alt); border: 1px solid var(--line); border-radius: 6px;
          padding: 12px 16px; font-size: 1.05rem; }
table { border-collapse: collapse; margin: 8px 0 12px; font-size: 0.92rem; }
th, td { border: 1px solid var(--line); padding: 4px 10px; text-align: left;
         vertical-align: top; }
th { background: var(--bg-alt); font-weight: 600; }
tbody tr:nth-child(even) { background: #fbfcfd; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.total, th.total { font-weight: 600; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
       font-size: 0.88em; }
.badge { display: inline-block; padding: 0 8px; border-radius: 10px; color: #fff;
         font-size: 0.85em; font-weight: 600; white-space: nowrap; }
dl.statuses dt { margin-top: 6px; }
dl.statuses dd { margin: 0 0 0 24px; }
figure { margin: 12px 0 20px; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); }
footer { margin-top: 48px; color: var(--muted); font-size: 0.85rem; }
"""


# --------------------------------------------------------------------------- public API


def render_report(findings: pa.Table, summary: dict, *, max_rows: int = 50) -> str:
    """Render the HTML report of one verification run and return it as text.

    ``findings`` has one row per claim record (claims_file, claim_row, status, score,
    reason, candidate_ref_row, candidate_score, margin); ``summary`` is the run's JSON-able
    summary (counts, reasons, thresholds, inputs, timings, started_at, pprl_version).
    Missing columns or summary keys are treated as empty rather than as errors, so a
    partial run still gets a report. ``max_rows`` caps the top-suspects table.
    """
    summary = summary or {}
    data = _FindingsData.from_table(findings)
    counts = _status_counts(data, summary)
    reasons = _reason_counts(data, summary)
    thresholds = _mapping(summary.get("thresholds"))
    sections = [
        _header_html(summary),
        _glance_html(counts),
        _consistency_html(data, summary),
        _counts_html(counts),
        _reasons_html(reasons),
        _scores_html(data, thresholds),
        _suspects_html(data, max_rows),
        _thresholds_html(thresholds),
        _timings_html(_mapping(summary.get("timings"))),
    ]
    body = "\n".join(s for s in sections if s)
    title = "pprl verification report"
    if summary.get("started_at"):
        title += f" — {summary['started_at']}"
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n"
        f"{body}\n{_footer_html(summary)}\n</main>\n</body>\n</html>\n"
    )


def write_report(findings: pa.Table, summary: dict, path: Path) -> Path:
    """Render the report and write it to ``path`` atomically; return the path.

    The text is written to a temporary file in the same directory and then moved into
    place with :func:`os.replace`, so a reader (or a crash) never sees a half-written
    report and a failed run leaves no stray file behind.
    """
    target = Path(path)
    text = render_report(findings, summary)
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


# --------------------------------------------------------------------------- findings data


class _FindingsData:
    """The findings columns as numpy arrays, with nulls as NaN / None.

    Converting once keeps the plotting and table code simple and independent of
    pyarrow chunking; absent columns become all-null so partial tables still render.
    """

    def __init__(self, table: pa.Table) -> None:
        """Extract the columns the report uses from ``table``."""
        self.table = table
        self.n = table.num_rows
        self.status = _str_column(table, "status")
        self.score = _float_column(table, "score")
        self.margin = _float_column(table, "margin")
        self._masks: dict[str, np.ndarray] = {}

    @classmethod
    def from_table(cls, table: pa.Table | None) -> _FindingsData:
        """Build from a findings table; ``None`` counts as zero findings."""
        return cls(table if table is not None else pa.table({}))

    def is_status(self, status: str) -> np.ndarray:
        """Boolean mask of the rows with ``status`` (cached: plots ask repeatedly)."""
        if status not in self._masks:
            self._masks[status] = self.status == status
        return self._masks[status]

    def statuses_present(self) -> list[str]:
        """Statuses occurring in the findings, known ones first in their usual order."""
        return _ordered_statuses(s for s in _value_counts(self.table, "status") if s is not None)

    def rows(self, indices: Sequence[int], columns: Iterable[str]) -> list[dict[str, Any]]:
        """Return the given rows as dicts of Python values (missing columns are None)."""
        idx = pa.array(list(indices), type=pa.int64())
        out: list[dict[str, Any]] = [{} for _ in indices]
        for name in columns:
            if name in self.table.column_names:
                values = self.table.column(name).take(idx).to_pylist()
            else:
                values = [None] * len(out)
            for row, value in zip(out, values, strict=True):
                row[name] = value
        return out


def _str_column(table: pa.Table, name: str) -> np.ndarray:
    """Column ``name`` as an object array of str / None (all None when absent)."""
    if name not in table.column_names:
        return np.full(table.num_rows, None, dtype=object)
    column = pc.dictionary_encode(table.column(name).cast(pa.string())).combine_chunks()
    names = np.array([*column.dictionary.to_pylist(), None], dtype=object)
    codes = pc.fill_null(column.indices, len(names) - 1).to_numpy(zero_copy_only=False)
    return names[codes]  # one str object per distinct value, not per row


def _float_column(table: pa.Table, name: str) -> np.ndarray:
    """Column ``name`` as float64 with NaN for nulls (all NaN when absent)."""
    if name not in table.column_names:
        return np.full(table.num_rows, np.nan)
    return np.asarray(table.column(name).cast(pa.float64()).to_numpy(), dtype=float)


# --------------------------------------------------------------------------- counting


def _ordered_statuses(statuses: Iterable[str]) -> list[str]:
    """Sort statuses: the known ones in :data:`STATUS_ORDER`, then others alphabetically."""
    rank = {s: i for i, s in enumerate(STATUS_ORDER)}
    return sorted(set(statuses), key=lambda s: (rank.get(s, len(rank)), s))


def _status_counts(data: _FindingsData, summary: Mapping[str, Any]) -> dict[str, int]:
    """Count per status, every known status included (zero when absent).

    The engine's ``summary["counts"]`` is authoritative when present; otherwise the
    counts are taken from the findings themselves.
    """
    given = _mapping(summary.get("counts"))
    counts = {k: _as_int(v) for k, v in given.items()} if given else _count_findings(data)
    for status in STATUS_ORDER:
        counts.setdefault(status, 0)
    return {s: counts[s] for s in _ordered_statuses(counts)}


def _count_findings(data: _FindingsData) -> dict[str, int]:
    """Count the findings rows per status (null status counted as ``(none)``)."""
    return {("(none)" if k is None else k): n
            for k, n in _value_counts(data.table, "status").items()}


def _reason_counts(data: _FindingsData, summary: Mapping[str, Any]) -> dict[str, int]:
    """Count per reason code, most frequent first.

    Uses ``summary["reasons"]`` when present, else splits each findings ``reason`` on
    ``;`` and counts every code once per row.
    """
    given = _mapping(summary.get("reasons"))
    counts = {str(k): _as_int(v) for k, v in given.items()} if given else _count_reasons(data)
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _count_reasons(data: _FindingsData) -> dict[str, int]:
    """Count reason codes in the findings, splitting multi-code reasons on ``;``."""
    counts: dict[str, int] = {}
    for reason, n in _value_counts(data.table, "reason").items():
        for code in _split_reason(reason):
            counts[code] = counts.get(code, 0) + n
    return counts


def _value_counts(table: pa.Table, name: str) -> dict[str | None, int]:
    """Occurrences of each distinct value of string column ``name`` (nulls under None).

    Counting distinct values in Arrow first keeps this fast for millions of findings.
    """
    if name not in table.column_names or table.num_rows == 0:
        return {}
    column = table.column(name).cast(pa.string())
    counts: dict[str | None, int] = {}
    for item in pc.value_counts(column).to_pylist():
        counts[item["values"]] = counts.get(item["values"], 0) + item["counts"]
    return counts


def _split_reason(reason: str | None) -> list[str]:
    """Split a ``;``-separated reason string into its distinct non-empty codes."""
    if not reason:
        return []
    return list(dict.fromkeys(c.strip() for c in reason.split(";") if c.strip()))


# --------------------------------------------------------------------------- sections


def _header_html(summary: Mapping[str, Any]) -> str:
    """Title, run metadata, inputs table and the plain-language status explanation."""
    meta = []
    if summary.get("started_at"):
        meta.append(f"Run started {_esc(summary['started_at'])}")
    if summary.get("pprl_version"):
        meta.append(f"pprl version {_esc(summary['pprl_version'])}")
    meta_html = f'<p class="meta">{" · ".join(meta)}</p>' if meta else ""
    intro = (
        "<p>This report checks <em>claimed links</em>: each claim record names a number "
        "that should identify one person in the resident register. The matcher compared "
        "the claim record with the register record carrying that number, and with all "
        "other register records, using only Bloom-filter encodings (no names or other "
        "identities were exchanged, and none appear here). The similarity <em>score</em> "
        "is a Dice coefficient between 0 (nothing in common) and 1 (identical encodings); "
        "the <em>margin</em> is how much better the best other register record scores "
        "than the claimed one (positive means someone else matches better).</p>"
    )
    return (
        f"<header>\n<h1>pprl verification report</h1>\n{meta_html}\n</header>\n"
        f"{intro}\n<h2>What was verified</h2>\n{_inputs_html(summary.get('inputs'))}\n"
        f"<h3>What the statuses mean</h3>\n{_status_glossary_html()}"
    )


def _inputs_html(inputs: Any) -> str:
    """Table of the input files: role, party, records, digest prefix, key fingerprint."""
    if not isinstance(inputs, list) or not inputs:
        return _NONE
    rows = []
    for item in inputs:
        item = _mapping(item)
        digest = item.get("digest")
        digest_cell = (
            f'<code title="{_esc(digest)}">{_esc(str(digest)[:16])}…</code>'
            if digest else _DASH
        )
        rows.append([
            _esc(item.get("role", _DASH)),
            _esc(item.get("party", _DASH)),
            _esc(item.get("file", _DASH)),
            _num_cell(_fmt_int(item.get("records"))),
            digest_cell,
            f"<code>{_esc(item['key_fingerprint'])}</code>"
            if item.get("key_fingerprint") else _DASH,
        ])
    table = _table(
        ["Role", "Party", "File", "Records", "File digest (prefix)", "Key fingerprint"],
        rows, numeric={3},
    )
    return table + _key_note_html(inputs)


def _key_note_html(inputs: list[Any]) -> str:
    """Say whether all inputs were encoded with the same key (they must be, to compare)."""
    prints = {_mapping(i).get("key_fingerprint") for i in inputs} - {None, ""}
    if len(prints) == 1:
        return '<p class="note">All inputs were encoded with the same key.</p>'
    if len(prints) > 1:
        return ('<p class="warn">The inputs carry different key fingerprints; encodings '
                "made with different keys cannot be compared meaningfully.</p>")
    return ""


def _status_glossary_html() -> str:
    """Definition list explaining each status in plain language."""
    items = "".join(
        f"<dt>{_badge(s)}</dt><dd>{_esc(STATUS_MEANINGS[s])}.</dd>" for s in STATUS_ORDER
    )
    return f'<dl class="statuses">{items}</dl>'


def _glance_html(counts: Mapping[str, int]) -> str:
    """One plain sentence with the headline numbers."""
    total = sum(counts.values())
    if total == 0:
        return ('<h2>At a glance</h2>\n<p class="glance">No claim records were verified '
                "(zero findings).</p>")
    parts = [
        f"<strong>{_fmt_int(counts.get(s, 0))}</strong> {_esc(s.replace('_', ' '))} "
        f"({_pct(counts.get(s, 0), total)})"
        for s in _ordered_statuses(counts)
    ]
    return (f'<h2>At a glance</h2>\n<p class="glance">{_fmt_int(total)} claim records '
            f"verified: {', '.join(parts)}.</p>")


def _consistency_html(data: _FindingsData, summary: Mapping[str, Any]) -> str:
    """Warn when the summary's status counts disagree with the findings table."""
    given = _mapping(summary.get("counts"))
    if not given or data.n == 0:
        return ""
    actual = _count_findings(data)
    claimed = {str(k): _as_int(v) for k, v in given.items() if _as_int(v)}
    if claimed == actual:
        return ""
    return ('<p class="warn">The status counts in the run summary differ from the findings '
            "table this report was given; the counts tables use the summary, the plots and "
            "the suspects table use the findings.</p>")


def _counts_html(counts: Mapping[str, int]) -> str:
    """Counts per status with percentages and a one-line meaning."""
    total = sum(counts.values())
    rows = [
        [_badge(s), _num_cell(_fmt_int(n)), _num_cell(_pct(n, total)),
         _esc(STATUS_MEANINGS.get(s, _DASH))]
        for s, n in counts.items()
    ]
    rows.append(['<span class="total">Total</span>', _num_cell(_fmt_int(total), "total"),
                 _num_cell(_pct(total, total) if total else _DASH, "total"), ""])
    return ("<h2>Results per status</h2>\n"
            + _table(["Status", "Claim records", "Share", "Meaning"], rows, numeric={1, 2}))


def _reasons_html(reasons: Mapping[str, int]) -> str:
    """Reason-code bar chart and table (a record with several codes counts for each)."""
    head = ("<h2>Reasons</h2>\n<p>Each finding carries one or more reason codes; a record "
            "with several codes is counted once for each.</p>")
    if not reasons or not any(reasons.values()):
        return head + _NONE
    total = sum(reasons.values())
    rows = [
        [f"<code>{_esc(code)}</code>", _num_cell(_fmt_int(n)), _num_cell(_pct(n, total)),
         _esc(REASON_MEANINGS.get(code, _DASH))]
        for code, n in reasons.items()
    ]
    figure = _figure_html(_plot_reasons(reasons), "Number of findings per reason code.",
                          "Bar chart of findings per reason code")
    table = _table(["Reason code", "Findings", "Share of codes", "Meaning"], rows,
                   numeric={1, 2})
    return head + figure + table


def _scores_html(data: _FindingsData, thresholds: Mapping[str, Any]) -> str:
    """Score histogram per status and the score-vs-margin scatter."""
    head = "<h2>Score distribution</h2>\n"
    has_score = ~np.isnan(data.score)
    if not has_score.any():
        return head + ('<p class="none">none — no finding has a claimed-pair score '
                       "(all scores are null).</p>")
    score_t, margin_t = _split_thresholds(thresholds)
    hist = _figure_html(
        _plot_histogram(data, score_t),
        "Claimed-pair score per status (log scale). Dashed lines: score thresholds. "
        f"{_fmt_int(int(has_score.sum()))} of {_fmt_int(data.n)} findings have a score.",
        "Histogram of claimed-pair scores by status",
    )
    return head + hist + _scatter_html(data, margin_t)


def _scatter_html(data: _FindingsData, margin_t: Mapping[str, float]) -> str:
    """Scatter of score vs margin coloured by status, subsampled for size."""
    usable = ~np.isnan(data.score) & ~np.isnan(data.margin)
    if not usable.any():
        return ("<h3>Score vs margin</h3>\n"
                '<p class="none">none — no finding has both a score and a margin.</p>')
    chosen = _subsample(np.flatnonzero(usable), data.status, MAX_SCATTER_POINTS)
    shown = (f"all {_fmt_int(len(chosen))}" if len(chosen) == usable.sum()
             else f"a sample of {_fmt_int(len(chosen))} of {_fmt_int(int(usable.sum()))}")
    caption = (
        f"Claimed-pair score vs margin ({shown} findings that have both). Points above "
        "zero have another register record scoring higher than the claimed one. "
        "Dashed lines: margin thresholds."
    )
    return ("<h3>Score vs margin</h3>\n"
            + _figure_html(_plot_scatter(data, chosen, margin_t), caption,
                           "Scatter plot of score against margin by status"))


def _suspects_html(data: _FindingsData, max_rows: int) -> str:
    """Table of the suspect (then review) findings most worth a look."""
    order = _suspect_order(data)
    head = (
        "<h2>Top suspects</h2>\n<p>Suspect findings first, then findings for review; within "
        "each, the largest margin (another register record matching much better) first, "
        "then the lowest score. Row numbers are 0-based data rows of the named file "
        "(claims) or of the register.</p>"
    )
    if not order or max_rows <= 0:
        return head + _NONE
    shown = order[:max_rows]
    rows = [_suspect_row(r) for r in data.rows(shown, SUSPECT_COLUMNS)]
    note = (f'<p class="note">Showing {_fmt_int(len(shown))} of {_fmt_int(len(order))} '
            "suspect and review findings.</p>")
    headers = ["Claims file", "Claim row", "Status", "Score", "Candidate register row",
               "Candidate score", "Margin", "Reason"]
    return head + note + _table(headers, rows, numeric={1, 3, 4, 5, 6},
                                table_id="top-suspects")


def _suspect_order(data: _FindingsData) -> list[int]:
    """Indices of suspect then review rows, by margin descending then score ascending.

    Null margins and null scores sort last within their group; ties keep row order.
    """
    is_suspect, is_review = data.is_status("suspect"), data.is_status("review")
    idx = np.flatnonzero(is_suspect | is_review)
    margin, score = data.margin[idx], data.score[idx]
    keys = (  # np.lexsort: last key is the primary one; the sort is stable
        np.nan_to_num(score, nan=0.0), np.isnan(score),
        -np.nan_to_num(margin, nan=0.0), np.isnan(margin),
        is_review[idx],
    )
    return idx[np.lexsort(keys)].tolist()


def _suspect_row(row: Mapping[str, Any]) -> list[str]:
    """Format one top-suspects row as escaped HTML cells."""
    return [
        _esc(row["claims_file"] if row["claims_file"] is not None else _DASH),
        _num_cell(_fmt_row(row["claim_row"])),
        _badge(row["status"]),
        _num_cell(_fmt_score(row["score"])),
        _num_cell(_fmt_row(row["candidate_ref_row"])),
        _num_cell(_fmt_score(row["candidate_score"])),
        _num_cell(_fmt_score(row["margin"], signed=True)),
        " ".join(f"<code>{_esc(c)}</code>" for c in _split_reason(row["reason"])) or _DASH,
    ]


def _thresholds_html(thresholds: Mapping[str, Any]) -> str:
    """Table of the decision thresholds used by the run, whatever their names."""
    head = "<h2>Thresholds</h2>\n<p>The decision rules of this run used these values.</p>\n"
    if not thresholds:
        return head + _NONE
    rows = [[f"<code>{_esc(k)}</code>", _num_cell(_fmt_value(v))]
            for k, v in thresholds.items()]
    return head + _table(["Threshold", "Value"], rows, numeric={1})


def _timings_html(timings: Mapping[str, Any]) -> str:
    """Table of seconds per stage, with each stage's share and the total."""
    head = "<h2>Timings</h2>\n"
    seconds = {str(k): v for k, v in timings.items() if _is_number(v)}
    if not seconds:
        return head + _NONE
    total = float(sum(seconds.values()))
    rows = [[_esc(k), _num_cell(_fmt_seconds(v)), _num_cell(_pct(v, total))]
            for k, v in seconds.items()]
    rows.append(['<span class="total">Total</span>', _num_cell(_fmt_seconds(total), "total"),
                 _num_cell(_DASH)])
    return head + _table(["Stage", "Time", "Share"], rows, numeric={1, 2})


def _footer_html(summary: Mapping[str, Any]) -> str:
    """Closing note: what the report does and does not contain."""
    version = summary.get("pprl_version")
    made = f"Generated by pprl {_esc(version)}. " if version else "Generated by pprl. "
    return (f"<footer>{made}This file is self-contained and works offline. It holds only "
            "file names, row numbers, scores and reason codes, never identities.</footer>")


# --------------------------------------------------------------------------- plots


def _new_figure(width: float, height: float) -> Figure:
    """Create a matplotlib figure that renders with Agg, without touching pyplot state.

    The Agg backend is selected here (only when pyplot has not been imported by someone
    else) rather than at import time, so importing this module has no side effects.
    """
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _png_data_uri(fig: Figure) -> str:
    """Encode a figure as a ``data:image/png;base64,...`` URI."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _figure_html(uri: str, caption: str, alt: str) -> str:
    """Wrap an embedded image in a ``<figure>`` with an escaped caption and alt text."""
    return (f'<figure><img src="{uri}" alt="{_esc(alt)}">'
            f"<figcaption>{_esc(caption)}</figcaption></figure>\n")


def _status_color(status: str) -> str:
    """Colour of a status; unknown statuses get stable fallback colours."""
    if status in STATUS_COLORS:
        return STATUS_COLORS[status]
    return _FALLBACK_COLORS[sum(map(ord, status)) % len(_FALLBACK_COLORS)]


def _plot_reasons(reasons: Mapping[str, int]) -> str:
    """Horizontal bar chart of findings per reason code; returns a PNG data URI."""
    from matplotlib.ticker import StrMethodFormatter

    codes = list(reasons)[::-1]
    values = [reasons[c] for c in codes]
    fig = _new_figure(8.0, 1.2 + 0.32 * len(codes))
    ax = fig.add_subplot()
    bars = ax.barh(codes, values, color="#4a6fa5")
    ax.bar_label(bars, labels=[_fmt_int(v) for v in values], padding=3, fontsize=8)
    ax.set_xlabel("findings")
    ax.set_xlim(0, max(values) * 1.15 or 1)
    ax.xaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    ax.tick_params(axis="y", labelsize=9)
    _tidy(ax)
    return _png_data_uri(fig)


def _plot_histogram(data: _FindingsData, score_t: Mapping[str, float]) -> str:
    """Step histograms of the claimed score per status on a log y-axis, with thresholds."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    fig = _new_figure(9.0, 4.2)
    ax = fig.add_subplot()
    bins = np.linspace(0.0, 1.0, 51)
    for status in data.statuses_present():
        values = data.score[data.is_status(status) & ~np.isnan(data.score)]
        if values.size:
            ax.hist(np.clip(values, 0.0, 1.0), bins=bins, histtype="step", linewidth=1.6,
                    color=_status_color(status), label=f"{status} ({_fmt_int(values.size)})")
    _threshold_lines(ax, score_t, vertical=True)
    ax.set_yscale("log")
    ax.set_ylim(bottom=0.7)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xlim(0.0, 1.0)
    ax.set_xlabel("claimed-pair score (Dice coefficient)")
    ax.set_ylabel("claim records (log scale)")
    ax.legend(fontsize=8, loc="upper left", frameon=False)
    _tidy(ax)
    return _png_data_uri(fig)


def _plot_scatter(data: _FindingsData, chosen: np.ndarray, margin_t: Mapping[str, float]
                  ) -> str:
    """Score-vs-margin scatter of the chosen rows coloured by status, with thresholds."""
    fig = _new_figure(9.0, 4.8)
    ax = fig.add_subplot()
    size, alpha = _marker_style(len(chosen))
    statuses = data.status[chosen]
    usable = ~np.isnan(data.score) & ~np.isnan(data.margin)
    for status in _ordered_statuses({s for s in statuses if s is not None}):
        pick = chosen[statuses == status]
        total = int((usable & data.is_status(status)).sum())
        count = _fmt_int(total) if total == pick.size else f"{pick.size:,} of {total:,}"
        ax.scatter(data.score[pick], data.margin[pick], s=size, alpha=alpha, linewidths=0,
                   color=_status_color(status), label=f"{status} ({count})")
    ax.axhline(0.0, color="#888888", linewidth=0.8)
    ax.set_xlim(min(0.0, float(np.nanmin(data.score[chosen]))), 1.0)
    _threshold_lines(ax, margin_t, vertical=False)
    ax.set_xlabel("claimed-pair score (Dice coefficient)")
    ax.set_ylabel("margin (best other score − claimed score)")
    ax.legend(fontsize=8, loc="best", frameon=False, markerscale=2 if size < 14 else 1)
    _tidy(ax)
    return _png_data_uri(fig)


def _marker_style(points: int) -> tuple[float, float]:
    """Marker size and opacity: small faint dots for dense plots, big ones for sparse."""
    if points > 5000:
        return 6.0, 0.55
    if points > 500:
        return 14.0, 0.7
    return 36.0, 0.85


def _threshold_lines(ax: Axes, thresholds: Mapping[str, float], *, vertical: bool) -> None:
    """Draw labelled dashed threshold lines (vertical for scores, horizontal for margins)."""
    styles = ("--", "-.", ":", (0, (5, 2, 1, 2)))
    for i, (name, value) in enumerate(thresholds.items()):
        line = ax.axvline if vertical else ax.axhline
        line(value, color="#333333", linestyle=styles[i % len(styles)], linewidth=1.1,
             label=f"{name} = {_fmt_value(value)}")


def _tidy(ax: Axes) -> None:
    """Light styling shared by all plots: no top/right spines, faint grid."""
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(True, color="#e5e5e5", linewidth=0.6)
    ax.set_axisbelow(True)


def _split_thresholds(thresholds: Mapping[str, Any]
                      ) -> tuple[dict[str, float], dict[str, float]]:
    """Split numeric thresholds into score thresholds and margin thresholds.

    Threshold names may vary between engine versions: a name containing ``margin`` is a
    margin threshold, any other numeric value in [0, 1] is a score threshold.
    """
    score_t: dict[str, float] = {}
    margin_t: dict[str, float] = {}
    for name, value in thresholds.items():
        if not _is_number(value):
            continue
        if "margin" in str(name).lower():
            margin_t[str(name)] = float(value)
        elif 0.0 <= float(value) <= 1.0:
            score_t[str(name)] = float(value)
    return score_t, margin_t


def _subsample(indices: np.ndarray, status: np.ndarray, limit: int) -> np.ndarray:
    """Pick at most ``limit`` of ``indices``, keeping rare statuses fully visible.

    Each status gets an equal share of the budget; statuses with fewer points than their
    share keep all of them and pass the rest on. Sampling is seeded so reports are
    reproducible.
    """
    if len(indices) <= limit:
        return indices
    rng = np.random.default_rng(0)
    groups = {s: indices[status[indices] == s] for s in set(status[indices].tolist())}
    order = sorted(groups, key=lambda k: (len(groups[k]), str(k)))  # deterministic
    remaining, picked = limit, []
    for n_left, s in enumerate(order):
        share = remaining // (len(groups) - n_left)
        group = groups[s]
        take = group if len(group) <= share else rng.choice(group, share, replace=False)
        picked.append(take)
        remaining -= len(take)
    return np.sort(np.concatenate(picked))


# --------------------------------------------------------------------------- formatting


def _esc(value: Any) -> str:
    """Escape any value for HTML text or attribute context."""
    return html.escape(str(value), quote=True)


def _badge(status: str | None) -> str:
    """A coloured status label."""
    if status is None:
        return _DASH
    return (f'<span class="badge" style="background:{_status_color(status)}">'
            f"{_esc(status)}</span>")


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], *,
           numeric: Collection[int] = (), table_id: str | None = None) -> str:
    """An HTML table from escaped headers and pre-rendered (already escaped) cells.

    Cells made with :func:`_num_cell` are right-aligned; ``numeric`` right-aligns the
    matching header cells too.
    """
    if not rows:
        return _NONE
    head = "".join(
        f'<th class="num">{_esc(h)}</th>' if i in numeric else f"<th>{_esc(h)}</th>"
        for i, h in enumerate(headers)
    )
    body = "\n".join(
        "<tr>" + "".join(c if c.startswith("<td") else f"<td>{c}</td>" for c in row) + "</tr>"
        for row in rows
    )
    id_attr = f' id="{_esc(table_id)}"' if table_id else ""
    return (f"<table{id_attr}>\n<thead><tr>{head}</tr></thead>\n"
            f"<tbody>\n{body}\n</tbody>\n</table>\n")


def _num_cell(text: str, extra_class: str = "") -> str:
    """A right-aligned table cell for a number (``text`` must already be escaped)."""
    cls = f"num {extra_class}".strip()
    return f'<td class="{cls}">{text}</td>'


def _fmt_int(value: Any) -> str:
    """Integer with thousands separators, or a dash for null."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return _DASH
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return _esc(value)


def _fmt_row(value: Any) -> str:
    """A row number as a plain integer (no separators, so it can be copied), or a dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return _DASH
    try:
        return str(int(value))
    except (TypeError, ValueError):
        return _esc(value)


def _fmt_score(value: Any, *, signed: bool = False) -> str:
    """Score-like float with 4 decimals (optionally signed), or a dash for null/NaN."""
    if value is None or not _is_number(value) or math.isnan(float(value)):
        return _DASH
    return f"{float(value):+.4f}" if signed else f"{float(value):.4f}"


def _fmt_value(value: Any) -> str:
    """A threshold or other summary value: numbers compactly, anything else escaped."""
    if isinstance(value, bool) or not _is_number(value):
        return _esc(value)
    return f"{float(value):g}" if isinstance(value, float) else f"{value:,}"


def _fmt_seconds(value: float) -> str:
    """Seconds as ``1.23 s``, or minutes and seconds past a minute."""
    value = float(value)
    if value >= 60:
        minutes, secs = divmod(value, 60)
        return f"{int(minutes)} min {secs:04.1f} s"
    return f"{value:.2f} s"


def _pct(part: float, total: float) -> str:
    """Percentage of ``part`` in ``total`` with one decimal; a dash when total is zero."""
    return f"{100.0 * part / total:.1f} %" if total else _DASH


def _is_number(value: Any) -> bool:
    """True for ints and floats (not bools), including numpy scalars."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, bool)


def _as_int(value: Any) -> int:
    """Best-effort int for counts from a JSON summary (invalid values count as 0)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _mapping(value: Any) -> dict[str, Any]:
    """``value`` if it is a mapping, else an empty dict (tolerates missing summary keys)."""
    return dict(value) if isinstance(value, Mapping) else {}
