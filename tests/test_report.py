"""Tests for pprl.report: the self-contained HTML report of a verification run.

The summaries are real :class:`VerifySummary` objects, built directly for hand-made
findings or taken from a small :func:`pprl.verify.verify` run. The figures are checked
as matplotlib objects (which thresholds each draws, where, in which style), the page
by parsing it.
"""

from __future__ import annotations

import base64
import dataclasses
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pprl.errors import InputError
from pprl.report import (
    MAX_SCATTER_POINTS,
    REASON_MEANINGS,
    STATUS_COLORS,
    STATUS_MEANINGS,
    THRESHOLD_MEANINGS,
    THRESHOLD_STYLES,
    render_report,
    write_report,
)
from pprl.report.findings import FindingsArrays
from pprl.report.html import status_counts, suspect_order
from pprl.report.plots import (
    histogram_figure,
    probability_figure,
    reasons_figure,
    scatter_figure,
    subsample,
)
from pprl.store import Encodings, write_encodings
from pprl.verify import verify
from pprl.verify.model import (
    CROSS_CHECK_REASONS,
    InputInfo,
    Reason,
    Status,
    Thresholds,
    VerifySummary,
)

HOSTILE = "<script>alert('x')</script>[/x]\"q\""
STARTED = "2026-11-24T01:00:00+00:00"
THRESHOLDS = Thresholds(
    confirm_score=0.85, suspect_score=0.6, margin_suspect=0.08, margin_review=0.02
)

SCHEMA = pa.schema(
    [
        ("claims_file", pa.string()),
        ("claim_row", pa.int64()),
        ("status", pa.string()),
        ("score", pa.float64()),
        ("reason", pa.string()),
        ("candidate_ref_row", pa.int64()),
        ("candidate_score", pa.float64()),
        ("margin", pa.float64()),
    ]
)

# claims_file, claim_row, status, score, reason, candidate_ref_row, candidate_score, margin
ROWS = [
    ("a.csv", 0, "confirmed", 0.97, "match", None, None, None),
    ("a.csv", 1, "confirmed", 0.91, "match", 17, 0.52, -0.39),
    ("a.csv", 2, "confirmed", 0.88, "match", None, None, None),
    ("a.csv", 3, "review", 0.74, "weak_score;thin_evidence", 40, 0.75, 0.01),
    ("a.csv", 4, "review", 0.70, "weak_score;person_under_several_numbers", None, None, None),
    ("a.csv", 5, "suspect", 0.41, "low_score;better_match_elsewhere", 101, 0.93, 0.52),
    ("a.csv", 6, "suspect", 0.55, "better_match_elsewhere", 102, 0.80, 0.25),
    (HOSTILE, 7, "suspect", 0.30, "low_score;better_match_elsewhere", 103, 0.82, 0.52),
    ("a.csv", 8, "suspect", 0.35, "low_score;number_shared_by_different_people", None, None, None),
    ("a.csv", 9, "unknown_number", None, "no_register_record", None, None, None),
    ("a.csv", 10, "invalid_number", None, "no_valid_number", None, None, None),
    ("a.csv", 11, "invalid_number", None, "no_valid_number", None, None, None),
]

# Top-suspect order: suspects by margin desc then score asc (null margin last), then reviews.
EXPECTED_ORDER = [7, 5, 6, 8, 3, 4]


def _findings(rows: list[tuple[object, ...]] = ROWS) -> pa.Table:
    """A findings table from row tuples in SCHEMA column order."""
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in SCHEMA]
    return pa.table(
        {f.name: pa.array(list(c), f.type) for f, c in zip(SCHEMA, columns, strict=True)}
    )


def _summary(findings: pa.Table, **changes: object) -> VerifySummary:
    """A summary as the engine makes it, with counts taken from ``findings``."""
    counts = {s.label: 0 for s in Status}
    reasons: dict[str, int] = {}
    for status, reason in zip(
        findings["status"].to_pylist(), findings["reason"].to_pylist(), strict=True
    ):
        counts[status] += 1
        for code in reason.split(";"):
            reasons[code] = reasons.get(code, 0) + 1
    summary = VerifySummary(
        pprl_version="0.1.0",
        claims=findings.num_rows,
        counts=counts,
        reasons=dict(sorted(reasons.items(), key=lambda kv: -kv[1])),
        thresholds=THRESHOLDS,
        blocking=["dob", "kana_name"],
        inputs=[
            InputInfo(
                file="register.parquet",
                role="reference",
                party="city",
                records=1000,
                digest="0123456789abcdef" * 4,
                key_fingerprint="kf-1",
                schema="jp-resident",
            ),
            InputInfo(
                file="claims.parquet",
                role="claims",
                party="insurer",
                records=findings.num_rows,
                digest="fedcba9876543210" * 4,
                key_fingerprint="kf-1",
                schema="jp-resident",
            ),
        ],
        timings={"load": 0.5, "compare": 2.25, "decide": 0.01},
        warnings=[],
        started_at=STARTED,
    )
    return dataclasses.replace(summary, **changes)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def report() -> str:
    """The report of the hand-built findings, rendered once for all tests."""
    findings = _findings()
    return render_report(findings, _summary(findings))


def _suspect_rows(text: str) -> list[int]:
    """Claim rows of the top-suspects table, in order of appearance."""
    table = text.split('<table id="top-suspects">', 1)[1].split("</table>", 1)[0]
    return [
        int(m) for m in re.findall(r'<tr><td class="path">[^<]*</td><td class="num">(\d+)', table)
    ]


def _dashes(line: object) -> tuple[float, tuple[float, ...]]:
    """A line's dash pattern as drawn (matplotlib has no public getter for it)."""
    offset, pattern = line._dash_pattern  # type: ignore[attr-defined]
    return offset, tuple(pattern or ())


def _png_uris(text: str) -> list[str]:
    return re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)


def _threshold_lines(fig: object) -> dict[str, object]:
    """Threshold lines of a one-axes figure by name (the label before `` = ``)."""
    (ax,) = fig.axes  # type: ignore[attr-defined]
    return {
        line.get_label().split(" = ")[0]: line
        for line in ax.get_lines()
        if not line.get_label().startswith("_")
    }


# --------------------------------------------------------------------------- real run


def _clk(rng: np.random.Generator) -> np.ndarray:
    return np.packbits(rng.random(1024) < 0.3).view("<u8").copy()


def _variant(rng: np.random.Generator, clk: np.ndarray, keep: float) -> np.ndarray:
    """Keep a fraction of the set bits and add as many random ones: Dice about ``keep``."""
    bits = np.unpackbits(clk.view(np.uint8)).astype(bool)
    on, off = np.flatnonzero(bits), np.flatnonzero(~bits)
    drop = rng.choice(on, int(round(len(on) * (1 - keep))), replace=False)
    bits[drop] = False
    bits[rng.choice(off, len(drop), replace=False)] = True
    return np.packbits(bits).view("<u8").copy()


def _write(clks: list[np.ndarray], tokens: list[int | None], label: str, path: Path) -> None:
    n = len(clks)
    toks = np.stack(
        [
            np.frombuffer(t.to_bytes(4, "little") * 8, np.uint8)
            if t is not None
            else np.zeros(32, np.uint8)
            for t in tokens
        ]
    )
    write_encodings(
        Encodings(
            rows=np.arange(n, dtype=np.int64),
            tokens=toks,
            has_token=np.array([t is not None for t in tokens]),
            clks=np.stack(clks),
            meta={
                "party": label,
                "key_fingerprint": "a" * 16,
                "schema_digest": "b" * 32,
                "schema_name": "jp-resident",
            },
            block_keys={"all": (np.zeros(n, np.uint64), np.ones(n, bool))},
        ),
        path,
    )


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[pa.Table, VerifySummary]:
    """Findings and summary of a real verify run with every status and a cross-check."""
    rng = np.random.default_rng(11)
    tmp = tmp_path_factory.mktemp("run")
    register = [_clk(rng) for _ in range(60)]
    register.append(_variant(rng, register[5], 0.99))  # 60: a twin of 5
    _write(register, list(range(len(register))), "register", tmp / "register.parquet")
    claims = [_variant(rng, register[i], 0.95) for i in range(40)]
    tokens: list[int | None] = list(range(40))
    claims += [_variant(rng, register[41], 0.95), _variant(rng, register[42], 0.95)]
    tokens += [43, 44]  # someone else's number: suspect
    claims += [_variant(rng, register[45], 0.55), _clk(rng)]
    tokens += [45, 46]  # weak: review; nobody: low score
    claims += [
        register[5].copy(),
        _variant(rng, register[47], 0.95),
        _variant(rng, register[48], 0.95),
    ]
    tokens += [5, None, 999]  # twin; invalid; unknown number
    claims.append(_variant(rng, register[49], 0.95))
    tokens.append(0)  # number 0 shared by two people
    _write(claims, tokens, "insurer", tmp / "insurer.parquet")  # files hold valid labels only
    result = verify(tmp / "register.parquet", [tmp / "insurer.parquet"])
    return result.findings, dataclasses.replace(result.summary, started_at=STARTED)


def test_real_run_report(real_run: tuple[pa.Table, VerifySummary]) -> None:
    """A real run's report shows its counts, plots and suspects, and no mismatch warning."""
    findings, summary = real_run
    assert {s for s, n in summary.counts.items() if n} == {s.label for s in Status}
    assert summary.reasons.get("number_shared_by_different_people", 0) >= 2
    text = render_report(findings, summary)
    assert f"{summary.claims:,} claim records verified" in text
    for status, n in summary.counts.items():
        assert re.search(rf'>{status}</span></td><td class="num">{n:,}</td>', text), status
    assert len(_png_uris(text)) == 3
    assert "differ from the findings" not in text
    suspects = findings.filter(pa.compute.equal(findings["status"], "suspect"))
    assert set(_suspect_rows(text)) >= set(suspects["claim_row"].to_pylist())
    assert f'<time datetime="{STARTED}">' in text
    assert "<td>cross-checks between claims</td>" in text


# --------------------------------------------------------------------------- figures


def test_histogram_draws_only_score_thresholds() -> None:
    """The histogram has confirm_score and suspect_score, at their values, styled apart."""
    findings = _findings()
    lines = _threshold_lines(histogram_figure(FindingsArrays(findings), THRESHOLDS))
    assert set(lines) == {"confirm_score", "suspect_score"}
    for name, line in lines.items():
        value = getattr(THRESHOLDS, name)
        assert list(line.get_xdata()) == [value, value]  # type: ignore[attr-defined]
        assert line.get_label() == f"{name} = {value:g}"  # type: ignore[attr-defined]
    patterns = {_dashes(line) for line in lines.values()}
    assert len(patterns) == 2
    legend = histogram_figure(FindingsArrays(findings), THRESHOLDS).axes[0].get_legend()
    texts = [t.get_text() for t in legend.get_texts()]
    assert "confirm_score = 0.85" in texts and "suspect_score = 0.6" in texts
    assert not any(t.startswith(("margin", "search", "same", "different")) for t in texts)


def test_scatter_draws_each_boundary_where_it_applies() -> None:
    """Score thresholds run vertically up to their margin threshold; margin thresholds run
    horizontally from their score threshold to the right; four distinct styles."""
    data = FindingsArrays(_findings())
    chosen = np.flatnonzero(~np.isnan(data.score) & ~np.isnan(data.margin))
    fig = scatter_figure(data, chosen, THRESHOLDS)
    lines = _threshold_lines(fig)
    assert set(lines) == {"confirm_score", "suspect_score", "margin_suspect", "margin_review"}
    (ax,) = fig.axes
    y_lo, _ = ax.get_ylim()
    _, x_hi = ax.get_xlim()
    t = THRESHOLDS
    expected = {
        "suspect_score": ([t.suspect_score] * 2, [y_lo, t.margin_suspect]),
        "confirm_score": ([t.confirm_score] * 2, [y_lo, t.margin_review]),
        "margin_suspect": ([t.suspect_score, x_hi], [t.margin_suspect] * 2),
        "margin_review": ([t.confirm_score, x_hi], [t.margin_review] * 2),
    }
    for name, (xs, ys) in expected.items():
        line = lines[name]
        assert list(line.get_xdata()) == pytest.approx(xs), name  # type: ignore[attr-defined]
        assert list(line.get_ydata()) == pytest.approx(ys), name  # type: ignore[attr-defined]
    assert len({_dashes(line) for line in lines.values()}) == 4
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "margin_review = 0.02" in texts and "search_score = 0.5" not in texts


def test_threshold_styles_are_shared_across_figures() -> None:
    """A threshold looks the same in the histogram and in the scatter."""
    data = FindingsArrays(_findings())
    chosen = np.flatnonzero(~np.isnan(data.score) & ~np.isnan(data.margin))
    hist = _threshold_lines(histogram_figure(data, THRESHOLDS))
    scatter = _threshold_lines(scatter_figure(data, chosen, THRESHOLDS))
    for name in hist:
        assert _dashes(hist[name]) == _dashes(scatter[name])
        assert hist[name].get_color() == scatter[name].get_color()  # type: ignore[attr-defined]
    assert set(THRESHOLD_STYLES) - {"confirm_below", "suspect_above"} == set(scatter)
    cuts = _threshold_lines(probability_figure(data, THRESHOLDS))
    assert set(cuts) == {"confirm_below", "suspect_above"}


def test_reason_chart_splits_groups_on_log_axes() -> None:
    """Claim-vs-register and cross-check reasons get a panel each, on a log axis, so a
    count of 3 stays visible beside 100,000."""
    reasons = {
        Reason.MATCH: 100_000,
        Reason.LOW_SCORE: 3,
        Reason.THIN_EVIDENCE: 12,
        Reason.NUMBER_SHARED_BY_DIFFERENT_PEOPLE: 5,
        Reason.PERSON_UNDER_SEVERAL_NUMBERS: 1,
    }
    fig = reasons_figure(reasons)
    assert len(fig.axes) == 2
    panels = {ax.get_title(loc="left"): ax for ax in fig.axes}
    assert set(panels) == {"claim vs register", "cross-checks between claims"}
    for title, ax in panels.items():
        assert ax.get_xscale() == "log"
        labels = {t.get_text() for t in ax.get_yticklabels()}
        cross = title.startswith("cross")
        assert labels == {r.label for r in reasons if bool(r & CROSS_CHECK_REASONS) == cross}
        assert ax.get_xlim()[0] < 1  # a bar of 1 has visible length
    widths = sorted(p.get_width() for p in panels["claim vs register"].patches)
    assert widths == [3, 12, 100_000]


def test_reason_chart_without_cross_checks_has_one_panel() -> None:
    fig = reasons_figure({Reason.MATCH: 10, Reason.WEAK_SCORE: 2})
    assert [ax.get_title(loc="left") for ax in fig.axes] == ["claim vs register"]


def test_embedded_images_are_valid_png(report: str) -> None:
    """Plots are embedded as base64 PNG data URIs (reasons, histogram, scatter)."""
    uris = _png_uris(report)
    assert len(uris) == 3
    for uri in uris:
        assert base64.b64decode(uri).startswith(b"\x89PNG\r\n\x1a\n")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 4), max_size=300), st.integers(1, 120))
def test_subsample_bounds_and_keeps_rare_statuses(codes: list[int], limit: int) -> None:
    """At most ``limit`` sorted distinct points; a status with no more points than an even
    share of the budget keeps them all."""
    status = np.array(codes, dtype=np.int8)
    indices = np.arange(len(codes))
    picked = subsample(indices, status, limit)
    assert len(picked) == min(len(codes), limit)
    assert list(picked) == sorted(set(picked.tolist()))
    assert set(picked.tolist()) <= set(indices.tolist())
    present = set(codes)
    if len(codes) > limit and present:
        share = limit // len(present)
        for code in present:
            n = codes.count(code)
            if n <= share:
                assert int((status[picked] == code).sum()) == n


def test_scatter_subsample_caption() -> None:
    """Large inputs are subsampled for the scatter, and the caption says so."""
    n = MAX_SCATTER_POINTS + 5000
    rows = [("a.csv", i, "confirmed", 0.9, "match", 1, 0.5, -0.4) for i in range(n)]
    rows.append(("a.csv", n, "suspect", 0.3, "low_score", 2, 0.9, 0.6))
    findings = _findings(rows)
    text = render_report(findings, _summary(findings))
    assert f"a sample of {MAX_SCATTER_POINTS:,} of {n + 1:,}" in text


# --------------------------------------------------------------------------- page


class _Tags(HTMLParser):
    """Collects every start tag with its attributes, and all text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


ALLOWED_TAGS = {
    "html",
    "head",
    "meta",
    "title",
    "style",
    "body",
    "main",
    "header",
    "h1",
    "h2",
    "h3",
    "p",
    "em",
    "strong",
    "time",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "code",
    "span",
    "dl",
    "dt",
    "dd",
    "figure",
    "img",
    "figcaption",
    "footer",
}
ALLOWED_ATTRS = {
    "lang",
    "charset",
    "name",
    "content",
    "class",
    "style",
    "id",
    "title",
    "datetime",
    "src",
    "alt",
}


def test_hostile_labels_and_paths_are_escaped() -> None:
    """Markup, Rich-style markup and quotes in file names, parties, warnings, block keys
    and timings stay text: no new tags or attributes appear, and the text reads back."""
    findings = _findings()
    evil_input = InputInfo(
        file=f"/data/{HOSTILE}.parquet",
        role="claims",
        party=HOSTILE,
        records=12,
        digest='" onmouseover="alert(1)',
        key_fingerprint=HOSTILE,
        schema=HOSTILE,
    )
    summary = _summary(
        findings,
        warnings=[f"check {HOSTILE}"],
        blocking=[HOSTILE],
        timings={HOSTILE: 1.0},
        started_at=HOSTILE,
    )
    summary = dataclasses.replace(summary, inputs=[summary.inputs[0], evil_input])
    text = render_report(findings, summary)
    parser = _Tags()
    parser.feed(text)
    assert {tag for tag, _ in parser.tags} <= ALLOWED_TAGS
    assert {a for _, attrs in parser.tags for a in attrs} <= ALLOWED_ATTRS
    assert "<script" not in text.lower() and 'onmouseover="' not in text
    readable = "".join(parser.text)
    for shown in (f"/data/{HOSTILE}.parquet", f"Warning: check {HOSTILE}", "[/x]"):
        assert shown in readable
    assert readable.count(HOSTILE) >= 8  # file, party, key, schema, claims file, ...
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;[/x]&quot;q&quot;" in text


def test_no_network_references(report: str) -> None:
    """Nothing is loaded from the network: no URLs, no external scripts or stylesheets."""
    lowered = report.lower()
    assert "http://" not in lowered and "https://" not in lowered
    assert "<script" not in lowered and "<link" not in lowered
    assert "@import" not in lowered and "url(" not in lowered


def test_started_at_in_header_and_title(report: str) -> None:
    header = report.split("</header>", 1)[0]
    assert f'Run started <time datetime="{STARTED}">{STARTED}</time>' in header
    assert f"<title>pprl verification report — {STARTED}</title>" in report


def test_started_at_absent() -> None:
    findings = _findings()
    text = render_report(findings, _summary(findings, started_at=None))
    assert "Run started" not in text and "<time" not in text
    assert "<title>pprl verification report</title>" in text


def test_statuses_and_counts(report: str) -> None:
    """Every status appears with its count and percentage, from the summary."""
    for status, count, pct in [
        ("confirmed", 3, "25.0 %"),
        ("review", 2, "16.7 %"),
        ("suspect", 4, "33.3 %"),
        ("unknown_number", 1, "8.3 %"),
        ("invalid_number", 2, "16.7 %"),
    ]:
        row = re.search(
            rf">{status}</span></td><td class=\"num\">(\d+)</td>"
            rf"<td class=\"num\">([^<]+)</td>",
            report,
        )
        assert row, status
        assert (int(row.group(1)), row.group(2)) == (count, pct)
    assert "12 claim records verified" in report


def test_reasons_table_groups_and_counts(report: str) -> None:
    """Reasons are counted from the summary, grouped, and every code explained."""
    table = report.split('<table id="reasons">', 1)[1].split("</table>", 1)[0]
    rows = re.findall(
        r"<tr><td><code>(\w+)</code></td><td>([^<]+)</td>"
        r'<td class="num">(\d+)</td>',
        table,
    )
    found = {code: (group, int(n)) for code, group, n in rows}
    assert found["low_score"] == ("claim vs register", 3)
    assert found["person_under_several_numbers"] == ("cross-checks between claims", 1)
    groups = [group for _, group, _ in rows]
    assert groups == sorted(groups, key=lambda g: g.startswith("cross"))


def test_summary_counts_win_over_findings() -> None:
    """Counts come from the summary; a disagreeing findings table is flagged."""
    findings = _findings()
    summary = _summary(findings)
    summary = dataclasses.replace(summary, counts={**summary.counts, "confirmed": 4}, claims=13)
    text = render_report(findings, summary)
    assert "differ from the findings" in text
    assert "13 claim records verified" in text
    assert "differ from the findings" not in render_report(findings, _summary(findings))


def test_warnings_blocking_and_thresholds_shown(report: str) -> None:
    findings = _findings()
    warning = "the reference holds 2 pseudonym(s) more than once"
    text = render_report(findings, _summary(findings, warnings=[warning]))
    assert f'<p class="warn">Warning: {warning}</p>' in text
    assert "<code>dob</code>, <code>kana_name</code>" in report
    table = report.split('<table id="thresholds">', 1)[1].split("</table>", 1)[0]
    for name, value in THRESHOLDS.to_json().items():
        assert f'<code>{name}</code></td><td class="num">{value:g}</td>' in table


def test_top_suspects_order(report: str) -> None:
    """Suspects by margin desc then score asc, then reviews; confirmed rows excluded."""
    assert _suspect_rows(report) == EXPECTED_ORDER
    assert suspect_order(FindingsArrays(_findings())).tolist() == EXPECTED_ORDER


def test_max_rows_limits_suspects() -> None:
    """max_rows caps the suspects table and says how many were left out."""
    findings = _findings()
    text = render_report(findings, _summary(findings), max_rows=2)
    assert _suspect_rows(text) == EXPECTED_ORDER[:2]
    assert "Showing 2 of 6" in text


def test_header_inputs_and_timings(report: str) -> None:
    for text in [
        "pprl version 0.1.0",
        "reference",
        "insurer",
        "0123456789abcdef",
        "kf-1",
        "jp-resident",
        "compare",
        "2.25 s",
        "likely a wrong link",
        "All inputs were encoded with the same key",
    ]:
        assert text in report


def test_empty_findings_render() -> None:
    """Zero claims still give a complete report saying none, without figures."""
    empty = _findings([])
    text = render_report(empty, _summary(empty))
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert "zero findings" in text
    assert text.count('class="none"') >= 3
    assert "data:image/png" not in text


def test_no_scores_and_no_suspects() -> None:
    """Only number problems: no score figures, no suspects table, the reason chart only."""
    rows = [r for r in ROWS if r[2] in ("unknown_number", "invalid_number")]
    findings = _findings(rows)
    text = render_report(findings, _summary(findings))
    assert "no claim has a claimed-pair score" in text
    assert 'id="top-suspects"' not in text
    assert len(_png_uris(text)) == 1


def test_chunked_and_dictionary_columns() -> None:
    """Multi-chunk tables and dictionary-encoded string columns give the same report."""
    findings = _findings()
    halves = pa.concat_tables([findings.slice(0, 5), findings.slice(5)])
    status = pa.chunked_array([c.dictionary_encode() for c in halves["status"].chunks])
    encoded = halves.set_column(halves.schema.get_field_index("status"), "status", status)
    summary = _summary(findings)
    assert render_report(encoded, summary) == render_report(findings, summary)


def test_bad_findings_and_summary_refused() -> None:
    """Unknown statuses or reasons and missing columns are one-line input errors."""
    findings = _findings()
    with pytest.raises(InputError, match="unknown status.*'withdrawn'"):
        bad = _findings([*ROWS, ("a.csv", 12, "withdrawn", 0.5, "match", None, None, None)])
        render_report(bad, _summary(findings))
    with pytest.raises(InputError, match="lacks column.*margin"):
        render_report(findings.drop_columns(["margin"]), _summary(findings))
    with pytest.raises(InputError, match="unknown code.*'nonsense'"):
        render_report(findings, _summary(findings, reasons={"nonsense": 1}))
    with pytest.raises(InputError, match="unknown status.*'maybe'"):
        render_report(findings, _summary(findings, counts={"maybe": 1}))


def test_status_counts_fill_absent_statuses() -> None:
    findings = _findings()
    counts = status_counts(_summary(findings, counts={"confirmed": 12}))
    assert counts == {s: (12 if s is Status.CONFIRMED else 0) for s in Status}


def test_vocabulary_covers_the_model() -> None:
    """Every status, reason and threshold of the model has its colour or meaning."""
    assert set(STATUS_COLORS) == set(STATUS_MEANINGS) == set(Status)
    assert set(REASON_MEANINGS) == set(Reason)
    assert set(THRESHOLD_MEANINGS) == set(Thresholds.names())
    assert len(set(THRESHOLD_STYLES.values())) == len(THRESHOLD_STYLES)


def test_write_report_is_atomic(tmp_path: Path) -> None:
    """write_report leaves exactly the report, replacing an old one, and no temp file."""
    target = tmp_path / "report.html"
    target.write_text("old", encoding="utf-8")
    findings = _findings()
    out = write_report(findings, _summary(findings), target)
    assert out == target
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_write_report_failure_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the final rename fails, neither the target nor a temp file is left behind."""
    import pprl.report as report_module

    def fail(*_args: object) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(report_module.os, "replace", fail)
    empty = _findings([])
    with pytest.raises(OSError, match="disk gone"):
        write_report(empty, _summary(empty), tmp_path / "report.html")
    assert list(tmp_path.iterdir()) == []
