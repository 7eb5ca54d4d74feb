"""The report page: its sections, tables, formatting and escaping.

Every piece of text that comes from the run (file names, party labels, warnings, reason
codes, times) goes through :func:`esc`; figures are ``data:`` URIs from
:mod:`pprl.report.plots` and the CSS is inline, so the page fetches nothing.
"""

from __future__ import annotations

import html
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from pprl.errors import InputError
from pprl.report.findings import FindingsArrays
from pprl.report.plots import (
    MAX_SCATTER_POINTS,
    histogram_figure,
    png_data_uri,
    probability_figure,
    reasons_figure,
    scatter_figure,
    subsample,
)
from pprl.report.vocabulary import (
    REASON_MEANINGS,
    REGISTER_GROUP,
    STATUS_COLORS,
    STATUS_MEANINGS,
    THRESHOLD_MEANINGS,
    reason_group,
)
from pprl.verify.evidence import ATTRIBUTES, PHRASES, phrase_of
from pprl.verify.model import InputInfo, Reason, Status, Thresholds, VerifySummary

#: Columns of the top-suspects table, in display order, with their headers.
SUSPECT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("claims_file", "Claims file"),
    ("claim_row", "Claim row"),
    ("status", "Status"),
    ("score", "Score"),
    ("candidate_ref_row", "Candidate register row"),
    ("candidate_score", "Candidate score"),
    ("margin", "Margin"),
    ("reason", "Reason"),
)

TITLE = "pprl verification report"
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
td.path { word-break: break-all; }
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


def render_page(findings: FindingsArrays, summary: VerifySummary, max_rows: int) -> str:
    """The whole HTML document of one run."""
    counts = status_counts(summary)
    reasons = reason_counts(summary)
    sections = [
        _header_html(summary),
        _glance_html(counts, summary.claims),
        _warnings_html(summary.warnings),
        _consistency_html(findings, counts, summary.claims),
        _counts_html(counts, summary.claims),
        _reasons_html(reasons, summary.claims),
        _scores_html(findings, summary.thresholds),
        _probability_html(findings, summary),
        _evidence_html(findings),
        _suspects_html(findings, max_rows),
        _thresholds_html(summary.thresholds),
        _timings_html(summary.timings),
    ]
    body = "\n".join(s for s in sections if s)
    title = TITLE + (f" — {summary.started_at}" if summary.started_at else "")
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n"
        f"{body}\n{_footer_html(summary.pprl_version)}\n</main>\n</body>\n</html>\n"
    )


# --------------------------------------------------------------------------- summary counts


def status_counts(summary: VerifySummary) -> dict[Status, int]:
    """The summary's claims per status, every status included (absent means zero)."""
    known = {s.label: s for s in Status}
    unknown = sorted(set(summary.counts) - set(known))
    if unknown:
        raise InputError(f"summary counts name unknown status(es) {', '.join(map(repr, unknown))}")
    return {s: summary.counts.get(s.label, 0) for s in Status}


def reason_counts(summary: VerifySummary) -> dict[Reason, int]:
    """The summary's claims per reason, most frequent first."""
    known = {r.label: r for r in Reason}
    unknown = sorted(set(summary.reasons) - set(known))
    if unknown:
        raise InputError(f"summary reasons name unknown code(s) {', '.join(map(repr, unknown))}")
    pairs = [(known[code], n) for code, n in summary.reasons.items()]
    return dict(sorted(pairs, key=lambda kv: (-kv[1], kv[0].label)))


# --------------------------------------------------------------------------- sections


def _header_html(summary: VerifySummary) -> str:
    """Title, run metadata, inputs table and the plain-language status explanation."""
    meta = []
    if summary.started_at:
        meta.append(
            f'Run started <time datetime="{esc(summary.started_at)}">'
            f"{esc(summary.started_at)}</time>"
        )
    meta.append(f"pprl version {esc(summary.pprl_version)}")
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
    blocking = (
        ", ".join(f"<code>{esc(k)}</code>" for k in summary.blocking) if summary.blocking else _DASH
    )
    return (
        f'<header>\n<h1>{esc(TITLE)}</h1>\n<p class="meta">{" · ".join(meta)}</p>\n'
        f"</header>\n{intro}\n<h2>What was verified</h2>\n{_inputs_html(summary.inputs)}"
        f"<p>Other register records were searched within the block keys {blocking}.</p>\n"
        f"<h3>What the statuses mean</h3>\n{_status_glossary_html()}"
    )


def _inputs_html(inputs: Sequence[InputInfo]) -> str:
    """Table of the input files: role, party, file, records, schema, digest, key."""
    rows = []
    for item in inputs:
        digest = (
            f'<code title="{esc(item.digest)}">{esc(item.digest[:16])}…</code>'
            if item.digest
            else _DASH
        )
        rows.append(
            [
                esc(item.role),
                esc(item.party),
                f'<td class="path">{esc(item.file)}</td>',
                num_cell(f"{item.records:,}"),
                f"<code>{esc(item.schema)}</code>" if item.schema else _DASH,
                digest,
                f"<code>{esc(item.key_fingerprint)}</code>" if item.key_fingerprint else _DASH,
            ]
        )
    table = html_table(
        ["Role", "Party", "File", "Records", "Schema", "File digest (prefix)", "Key fingerprint"],
        rows,
        numeric={3},
    )
    prints = {i.key_fingerprint for i in inputs} - {None, ""}
    if len(prints) == 1:
        note = '<p class="note">All inputs were encoded with the same key.</p>\n'
    elif len(prints) > 1:
        note = (
            '<p class="warn">The inputs carry different key fingerprints; encodings '
            "made with different keys cannot be compared meaningfully.</p>\n"
        )
    else:
        note = ""
    return table + note


def _status_glossary_html() -> str:
    """Definition list explaining each status in plain language."""
    items = "".join(f"<dt>{badge(s)}</dt><dd>{esc(STATUS_MEANINGS[s])}.</dd>" for s in Status)
    return f'<dl class="statuses">{items}</dl>'


def _glance_html(counts: Mapping[Status, int], total: int) -> str:
    """One plain sentence with the headline numbers."""
    if total == 0:
        return (
            '<h2>At a glance</h2>\n<p class="glance">No claim records were verified '
            "(zero findings).</p>"
        )
    parts = [
        f"<strong>{n:,}</strong> {esc(s.label.replace('_', ' '))} ({pct(n, total)})"
        for s, n in counts.items()
    ]
    return (
        f'<h2>At a glance</h2>\n<p class="glance">{total:,} claim records '
        f"verified: {', '.join(parts)}.</p>"
    )


def _warnings_html(warnings: Sequence[str]) -> str:
    """The run's warnings, one box each."""
    return "".join(f'<p class="warn">Warning: {esc(w)}</p>\n' for w in warnings)


def _consistency_html(data: FindingsArrays, counts: Mapping[Status, int], claims: int) -> str:
    """Warn when the summary's counts disagree with the findings table it came with."""
    if data.counts() == dict(counts) and data.n == claims:
        return ""
    return (
        '<p class="warn">The status counts in the run summary differ from the findings '
        "table this report was given; the counts use the summary, the plots and the "
        "suspects table use the findings.</p>"
    )


def _counts_html(counts: Mapping[Status, int], total: int) -> str:
    """Counts per status with percentages and a one-line meaning."""
    rows = [
        [badge(s), num_cell(f"{n:,}"), num_cell(pct(n, total)), esc(STATUS_MEANINGS[s])]
        for s, n in counts.items()
    ]
    rows.append(
        [
            '<span class="total">Total</span>',
            num_cell(f"{total:,}", "total"),
            num_cell(pct(total, total), "total"),
            "",
        ]
    )
    return "<h2>Results per status</h2>\n" + html_table(
        ["Status", "Claim records", "Share", "Meaning"], rows, numeric={1, 2}
    )


def _reasons_html(reasons: Mapping[Reason, int], claims: int) -> str:
    """Reason chart and table (a claim with several reasons counts for each)."""
    head = (
        "<h2>Reasons</h2>\n<p>Each claim carries one or more reasons; a claim with "
        "several is counted once for each. The reasons from comparing the claim with "
        "the register and those from cross-checking claims against each other are "
        "shown apart.</p>\n"
    )
    shown = {r: n for r, n in reasons.items() if n > 0}
    if not shown:
        return head + _NONE
    rows = [
        [
            f"<code>{esc(r.label)}</code>",
            esc(reason_group(r)),
            num_cell(f"{n:,}"),
            num_cell(pct(n, claims)),
            esc(REASON_MEANINGS[r]),
        ]
        for r, n in sorted(
            shown.items(), key=lambda kv: (reason_group(kv[0]) != REGISTER_GROUP, -kv[1])
        )
    ]
    figure = figure_html(
        png_data_uri(reasons_figure(shown)),
        "Claim records per reason, log scale (each step of the axis is ten "
        "times the previous), in two panels: claim vs register, and "
        "cross-checks between claims.",
        "Bar chart of claim records per reason, log scale",
    )
    table = html_table(
        ["Reason", "Check", "Claim records", "Share of claims", "Meaning"],
        rows,
        numeric={2, 3},
        table_id="reasons",
    )
    return head + figure + table


def _scores_html(data: FindingsArrays, thresholds: Thresholds) -> str:
    """Score histogram per status and the score-vs-margin scatter."""
    head = "<h2>Score distribution</h2>\n"
    scored = int((~np.isnan(data.score)).sum())
    if not scored:
        return head + (
            '<p class="none">none — no claim has a claimed-pair score '
            "(no claimed number was found in the register).</p>"
        )
    hist = figure_html(
        png_data_uri(histogram_figure(data, thresholds)),
        f"Claimed-pair score per status (log scale). Vertical lines: confirm_score "
        f"({thresholds.confirm_score:g}, dashed) and suspect_score "
        f"({thresholds.suspect_score:g}, dash-dotted). {scored:,} of {data.n:,} claims have "
        "a score; unknown and invalid numbers have none.",
        "Histogram of claimed-pair scores by status",
    )
    return head + hist + _scatter_html(data, thresholds)


def _probability_html(data: FindingsArrays, summary: VerifySummary) -> str:
    """The mislink probability's distribution per status and the estimated number of
    wrong links with its interval."""
    head = "<h2>Mislink probability</h2>\n"
    est = summary.mislinks
    has = int((~np.isnan(data.probability)).sum())
    if est is None or est.fallback is not None or not has:
        why = est.fallback if est is not None and est.fallback else "none was estimated"
        return head + f'<p class="none">none — {esc(why)}; the score thresholds decided.</p>'
    th = summary.thresholds
    line = (
        f"<p><strong>{esc(est.describe())}</strong>: the sum of the claims' mislink "
        "probabilities, with a 95% interval from their Poisson-binomial variance. It needs "
        "no truth; it assumes the model fits these claims (docs/verification.md).</p>\n"
    )
    hist = figure_html(
        png_data_uri(probability_figure(data, th)),
        f"Estimated mislink probability per status (log scale). Vertical lines: "
        f"confirm_below ({th.confirm_below:g}, short dashes) and suspect_above "
        f"({th.suspect_above:g}, dash-dot-dot). {has:,} of {data.n:,} claims have a "
        "probability; unknown and invalid numbers have none.",
        "Histogram of mislink probabilities by status",
    )
    return head + line + hist


def _scatter_html(data: FindingsArrays, thresholds: Thresholds) -> str:
    """Scatter of score vs margin coloured by status, subsampled for size."""
    head = "<h3>Score vs margin</h3>\n"
    usable = np.flatnonzero(~np.isnan(data.score) & ~np.isnan(data.margin))
    if not usable.size:
        return head + (
            '<p class="none">none — no claim has an alternative register record '
            f"scoring at least search_score ({thresholds.search_score:g}), so no "
            "claim has a margin.</p>"
        )
    chosen = subsample(usable, data.status, MAX_SCATTER_POINTS)
    shown = (
        f"all {len(chosen):,}"
        if len(chosen) == usable.size
        else f"a sample of {len(chosen):,} of {usable.size:,}"
    )
    caption = (
        f"Claimed-pair score vs margin ({shown} claims with an alternative register record "
        f"scoring at least search_score, {thresholds.search_score:g}; claims without one "
        "have no margin and are not drawn). Points above zero have another register record "
        "scoring higher than the claimed one. The lines are the decision boundaries, each "
        "drawn where it changes the status; the tint shows the status the score and margin "
        "give (cross-checks can still move a confirmed claim to review)."
    )
    return head + figure_html(
        png_data_uri(scatter_figure(data, chosen, thresholds)),
        caption,
        "Scatter plot of claimed-pair score against margin by status",
    )


_EVIDENCE_STATUSES = (Status.SUSPECT, Status.REVIEW)
_ATTRIBUTE_NAMES = {
    "kanji": "Name (kanji)",
    "kana": "Name (kana)",
    "dob": "Date of birth",
    "sex": "Sex",
    "address": "Address",
}
_STATE_TEXTS = ("agree", "differ", "missing", "?")


def evidence_breakdown(
    data: FindingsArrays,
) -> tuple[dict[str, dict[Status, int]], dict[str, dict[str, int]]]:
    """Among suspect and review claims: claims per explanation and status, and per
    attribute claims per state (``agree``, ``differ``, ``missing``, ``?``), counted by
    arrow over the distinct evidence texts. Empty when the findings carry no evidence."""
    if "evidence" not in data.table.column_names:
        return {}, {}
    keep = np.isin(data.status, [int(s) for s in _EVIDENCE_STATUSES])
    rows = data.table.filter(pa.array(keep)).select(["status", "evidence"])
    counts = rows.group_by(["status", "evidence"], use_threads=False).aggregate([([], "count_all")])
    phrases: dict[str, dict[Status, int]] = {}
    states: dict[str, dict[str, int]] = {a: dict.fromkeys(_STATE_TEXTS, 0) for a in ATTRIBUTES}
    for status, text, n in zip(
        counts.column("status").to_pylist(),
        counts.column("evidence").to_pylist(),
        counts.column("count_all").to_pylist(),
        strict=True,
    ):
        phrase = phrase_of(text) or "no claimed register record"
        per = phrases.setdefault(phrase, dict.fromkeys(_EVIDENCE_STATUSES, 0))
        per[Status.from_label(status)] += int(n)
        for part in (text or "").split("→", 1)[0].split():
            attr, _, state = part.partition("=")
            if attr in states and state in states[attr]:
                states[attr][state] += int(n)
    order = {p: i for i, p in enumerate(PHRASES)}
    ranked = sorted(phrases.items(), key=lambda kv: (-sum(kv[1].values()), order.get(kv[0], 99)))
    return dict(ranked), states


def _evidence_html(data: FindingsArrays) -> str:
    """Why claims are not confirmed: explanations and attribute states of the suspect
    and review claims (the findings' ``evidence`` column)."""
    phrases, states = evidence_breakdown(data)
    if "evidence" not in data.table.column_names:
        return ""
    head = (
        "<h2>Evidence of non-confirmed claims</h2>\n<p>For each suspect or review claim, "
        "the five attributes of the 2023 inspection compared between the claim record and "
        "the register record its number points to: equal after normalization "
        "(<em>agree</em>), unequal (<em>differ</em>), absent on one side "
        "(<em>missing</em>), or not visible to the matcher (<em>?</em>). The explanation "
        "follows a fixed rule table (docs/verification.md); it is a lead for the "
        "reviewer, not a verdict.</p>\n"
    )
    if not phrases:
        return head + _NONE
    total = sum(sum(v.values()) for v in phrases.values())
    rows = [
        [
            esc(phrase),
            *(num_cell(f"{per[s]:,}") for s in _EVIDENCE_STATUSES),
            num_cell(pct(sum(per.values()), total)),
        ]
        for phrase, per in phrases.items()
    ]
    by_phrase = html_table(
        ["Explanation", *(s.label for s in _EVIDENCE_STATUSES), "Share"],
        rows,
        numeric={1, 2, 3},
        table_id="evidence",
    )
    attr_rows = [
        [esc(_ATTRIBUTE_NAMES[a]), *(num_cell(f"{states[a][t]:,}") for t in _STATE_TEXTS)]
        for a in ATTRIBUTES
    ]
    by_attr = html_table(
        ["Attribute", *_STATE_TEXTS], attr_rows, numeric={1, 2, 3, 4}, table_id="attributes"
    )
    return head + by_phrase + "<h3>Attributes</h3>\n" + by_attr


def _suspects_html(data: FindingsArrays, max_rows: int) -> str:
    """Table of the suspect (then review) claims most worth a look."""
    order = suspect_order(data)
    head = (
        "<h2>Top suspects</h2>\n<p>Suspect claims first, then claims for review; within "
        "each, the largest margin (another register record matching much better) first, "
        "then the lowest score. Row numbers are 0-based data rows of the named file "
        "(claims) or of the register.</p>\n"
    )
    if not order.size or max_rows <= 0:
        return head + _NONE
    shown = order[:max_rows].tolist()
    with_evidence = "evidence" in data.table.column_names
    columns = [c for c, _ in SUSPECT_COLUMNS] + (["evidence"] if with_evidence else [])
    headers = [h for _, h in SUSPECT_COLUMNS] + (["Evidence"] if with_evidence else [])
    rows = [_suspect_row(r) for r in data.rows(shown, columns)]
    note = (
        f'<p class="note">Showing {len(shown):,} of {order.size:,} suspect and review claims.</p>\n'
    )
    return head + note + html_table(headers, rows, numeric={1, 3, 4, 5, 6}, table_id="top-suspects")


def suspect_order(data: FindingsArrays) -> npt.NDArray[np.intp]:
    """Indices of suspect then review claims, by margin descending then score ascending.

    Null margins and scores sort last within their group; ties keep row order.
    """
    is_review = data.is_status(Status.REVIEW)
    idx = np.flatnonzero(data.is_status(Status.SUSPECT) | is_review)
    margin, score = data.margin[idx], data.score[idx]
    keys = (  # np.lexsort: the last key is the primary one; the sort is stable
        np.nan_to_num(score, nan=0.0),
        np.isnan(score),
        -np.nan_to_num(margin, nan=0.0),
        np.isnan(margin),
        is_review[idx],
    )
    return idx[np.lexsort(keys)]


def _suspect_row(row: Mapping[str, Any]) -> list[str]:
    """One top-suspects row as escaped HTML cells."""
    return [
        f'<td class="path">{esc(row["claims_file"])}</td>',
        num_cell(fmt_row(row["claim_row"])),
        badge(Status.from_label(row["status"])),
        num_cell(fmt_score(row["score"])),
        num_cell(fmt_row(row["candidate_ref_row"])),
        num_cell(fmt_score(row["candidate_score"])),
        num_cell(fmt_score(row["margin"], signed=True)),
        " ".join(f"<code>{esc(c)}</code>" for c in (row["reason"] or "").split(";") if c) or _DASH,
        *([esc(row["evidence"] or _DASH)] if "evidence" in row else []),
    ]


def _thresholds_html(thresholds: Thresholds) -> str:
    """Table of the decision thresholds of the run and what each decides."""
    rows = [
        [f"<code>{esc(name)}</code>", num_cell(f"{value:g}"), esc(THRESHOLD_MEANINGS[name])]
        for name, value in thresholds.to_json().items()
    ]
    return (
        "<h2>Thresholds</h2>\n<p>The decision rules of this run used these values.</p>\n"
        + html_table(
            ["Threshold", "Value", "What it decides"], rows, numeric={1}, table_id="thresholds"
        )
    )


def _timings_html(timings: Mapping[str, float]) -> str:
    """Table of seconds per stage, with each stage's share and the total."""
    head = "<h2>Timings</h2>\n"
    if not timings:
        return head + _NONE
    total = float(sum(timings.values()))
    rows = [[esc(k), num_cell(fmt_seconds(v)), num_cell(pct(v, total))] for k, v in timings.items()]
    rows.append(
        ['<span class="total">Total</span>', num_cell(fmt_seconds(total), "total"), num_cell(_DASH)]
    )
    return head + html_table(["Stage", "Time", "Share"], rows, numeric={1, 2})


def _footer_html(version: str) -> str:
    """Closing note: what the report does and does not contain."""
    return (
        f"<footer>Generated by pprl {esc(version)}. This file is self-contained and works "
        "offline. It holds only file names, row numbers, scores and reason codes, never "
        "identities.</footer>"
    )


# --------------------------------------------------------------------------- building blocks


def esc(value: object) -> str:
    """Escape any value for HTML text or a double-quoted attribute."""
    return html.escape(str(value), quote=True)


def badge(status: Status) -> str:
    """A status label on its colour."""
    return (
        f'<span class="badge" style="background:{STATUS_COLORS[status]}">{esc(status.label)}</span>'
    )


def figure_html(uri: str, caption: str, alt: str) -> str:
    """An embedded image in a ``<figure>`` with an escaped caption and alt text."""
    return (
        f'<figure><img src="{uri}" alt="{esc(alt)}">'
        f"<figcaption>{esc(caption)}</figcaption></figure>\n"
    )


def html_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    numeric: Collection[int] = (),
    table_id: str | None = None,
) -> str:
    """A table from plain-text headers and already escaped cells.

    A cell that is a whole ``<td ...>`` element (as from :func:`num_cell`) is used as it
    is; any other cell is wrapped in ``<td>``. ``numeric`` right-aligns those headers.
    """
    if not rows:
        return _NONE
    head = "".join(
        f'<th class="num">{esc(h)}</th>' if i in numeric else f"<th>{esc(h)}</th>"
        for i, h in enumerate(headers)
    )
    body = "\n".join(
        "<tr>" + "".join(c if c.startswith("<td") else f"<td>{c}</td>" for c in row) + "</tr>"
        for row in rows
    )
    id_attr = f' id="{esc(table_id)}"' if table_id else ""
    return (
        f"<table{id_attr}>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>\n"
    )


def num_cell(text: str, extra_class: str = "") -> str:
    """A right-aligned cell for a number (``text`` must already be escaped)."""
    cls = f"num {extra_class}".strip()
    return f'<td class="{cls}">{text}</td>'


def fmt_row(value: int | None) -> str:
    """A row number as a plain integer (no separators, so it can be copied), or a dash."""
    return _DASH if value is None else str(int(value))


def fmt_score(value: float | None, *, signed: bool = False) -> str:
    """A score with 4 decimals (optionally signed), or a dash for null or NaN."""
    if value is None or value != value:
        return _DASH
    return f"{value:+.4f}" if signed else f"{value:.4f}"


def fmt_seconds(value: float) -> str:
    """Seconds as ``1.23 s``, or minutes and seconds past a minute."""
    if value >= 60:
        minutes, secs = divmod(value, 60)
        return f"{int(minutes)} min {secs:04.1f} s"
    return f"{value:.2f} s"


def pct(part: float, total: float) -> str:
    """``part`` as a percentage of ``total`` with one decimal; a dash when total is zero."""
    return f"{100.0 * part / total:.1f} %" if total else _DASH
