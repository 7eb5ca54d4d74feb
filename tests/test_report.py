"""Tests for pprl.report: the self-contained HTML report of a verification run."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pyarrow as pa
import pytest

from pprl.report import MAX_SCATTER_POINTS, render_report, write_report

EVIL_FILE = "<script>alert('x')</script>.csv"

SCHEMA = pa.schema([
    ("claims_file", pa.string()),
    ("claim_row", pa.int64()),
    ("status", pa.string()),
    ("score", pa.float64()),
    ("reason", pa.string()),
    ("candidate_ref_row", pa.int64()),
    ("candidate_score", pa.float64()),
    ("margin", pa.float64()),
])

# claims_file, claim_row, status, score, reason, candidate_ref_row, candidate_score, margin
ROWS = [
    ("a.csv", 0, "confirmed", 0.97, "score_high", None, None, None),
    ("a.csv", 1, "confirmed", 0.91, "score_high", 17, 0.52, -0.39),
    ("a.csv", 2, "confirmed", 0.88, "score_high", None, None, None),
    ("a.csv", 3, "review", 0.74, "thin_evidence", 40, 0.75, 0.01),
    ("a.csv", 4, "review", 0.70, "low_score", None, None, None),
    ("a.csv", 5, "suspect", 0.41, "low_score;better_match_elsewhere", 101, 0.93, 0.52),
    ("a.csv", 6, "suspect", 0.55, "better_match_elsewhere", 102, 0.80, 0.25),
    (EVIL_FILE, 7, "suspect", 0.30, "low_score;better_match_elsewhere", 103, 0.82, 0.52),
    ("a.csv", 8, "suspect", 0.35, "low_score", None, None, None),
    ("a.csv", 9, "unknown_number", None, "no_register_record", None, None, None),
    ("a.csv", 10, "invalid_number", None, "no_valid_number", None, None, None),
    ("a.csv", 11, "invalid_number", None, "no_valid_number", None, None, None),
]

# Expected top-suspect order: suspects by margin desc then score asc (null margin last),
# then reviews the same way.
EXPECTED_ORDER = [7, 5, 6, 8, 3, 4]


def _findings(rows: list[tuple] = ROWS) -> pa.Table:
    """Build a findings table from row tuples in SCHEMA column order."""
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in SCHEMA]
    return pa.table({f.name: pa.array(list(c), f.type) for f, c in zip(SCHEMA, columns,
                                                                          strict=True)})


def _summary(findings: pa.Table) -> dict:
    """A summary like the engine's, with counts derived from ``findings``."""
    counts: dict[str, int] = {}
    reasons: dict[str, int] = {}
    for status, reason in zip(findings["status"].to_pylist(), findings["reason"].to_pylist(),
                              strict=True):
        counts[status] = counts.get(status, 0) + 1
        for code in reason.split(";"):
            reasons[code] = reasons.get(code, 0) + 1
    return {
        "counts": counts,
        "reasons": reasons,
        "thresholds": {"confirm_score": 0.85, "suspect_score": 0.6, "margin_review": 0.02,
                       "margin_suspect": 0.08},
        "inputs": [
            {"file": "register.parquet", "role": "reference", "party": "city",
             "records": 1000, "digest": "0123456789abcdef" * 4, "key_fingerprint": "kf-1"},
            {"file": "claims.parquet", "role": "claims", "party": "insurer",
             "records": len(findings), "digest": "fedcba9876543210" * 4,
             "key_fingerprint": "kf-1"},
        ],
        "timings": {"load": 0.5, "compare": 2.25, "decide": 0.01},
        "started_at": "2026-11-24T01:00:00+00:00",
        "pprl_version": "0.1.0",
    }


@pytest.fixture(scope="module")
def report() -> str:
    """The report of the hand-built findings, rendered once for all tests."""
    findings = _findings()
    return render_report(findings, _summary(findings))


def _suspect_rows(text: str) -> list[int]:
    """Claim rows of the top-suspects table, in order of appearance."""
    table = text.split('<table id="top-suspects">', 1)[1].split("</table>", 1)[0]
    body = table.split("<tbody>", 1)[1]
    return [int(m) for m in re.findall(r'<tr><td>[^<]*</td><td class="num">(\d+)</td>', body)]


def test_statuses_and_counts(report: str) -> None:
    """Every status appears with its count and percentage."""
    for status, count, pct in [("confirmed", 3, "25.0 %"), ("review", 2, "16.7 %"),
                               ("suspect", 4, "33.3 %"), ("unknown_number", 1, "8.3 %"),
                               ("invalid_number", 2, "16.7 %")]:
        row = re.search(rf">{status}</span></td><td class=\"num\">(\d+)</td>"
                        rf"<td class=\"num\">([^<]+)</td>", report)
        assert row, status
        assert (int(row.group(1)), row.group(2)) == (count, pct)
    assert "12 claim records verified" in report


def test_reason_codes_counted(report: str) -> None:
    """Multi-code reasons are split and every code is listed."""
    for code in ["score_high", "low_score", "better_match_elsewhere", "thin_evidence",
                 "no_register_record", "no_valid_number"]:
        assert f"<code>{code}</code>" in report
    assert re.search(r"<code>low_score</code></td><td class=\"num\">4</td>", report)


def test_embedded_images_are_valid_png(report: str) -> None:
    """Plots are embedded as base64 PNG data URIs (reasons, histogram, scatter)."""
    uris = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', report)
    assert len(uris) == 3
    for uri in uris:
        assert base64.b64decode(uri).startswith(b"\x89PNG\r\n\x1a\n")


def test_no_network_references(report: str) -> None:
    """Nothing is loaded from the network: no URLs, no external scripts or stylesheets."""
    lowered = report.lower()
    assert "http://" not in lowered and "https://" not in lowered
    assert "<script" not in lowered and "<link" not in lowered
    assert "@import" not in lowered and "url(" not in lowered


def test_top_suspects_order(report: str) -> None:
    """Suspects by margin desc then score asc, then reviews; confirmed rows excluded."""
    assert _suspect_rows(report) == EXPECTED_ORDER


def test_max_rows_limits_suspects() -> None:
    """max_rows caps the suspects table and says how many were left out."""
    findings = _findings()
    text = render_report(findings, _summary(findings), max_rows=2)
    assert _suspect_rows(text) == EXPECTED_ORDER[:2]
    assert "Showing 2 of 6" in text


def test_claims_file_name_is_escaped(report: str) -> None:
    """A hostile file name is shown as text, never as markup."""
    assert "<script>" not in report
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;.csv" in report


def test_header_inputs_and_tables(report: str) -> None:
    """Inputs, run time, version, thresholds and timings are all shown."""
    for text in ["2026-11-24T01:00:00+00:00", "pprl version 0.1.0", "reference", "insurer",
                 "0123456789abcdef", "kf-1", "confirm_score", "margin_suspect", "compare",
                 "2.25 s", "likely a wrong link"]:
        assert text in report


def test_empty_findings_render() -> None:
    """Zero findings and an empty summary still give a complete report saying none."""
    text = render_report(_findings([]), {})
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert "zero findings" in text
    assert text.count('class="none"') >= 4
    assert "data:image/png" not in text


def test_table_without_columns_renders() -> None:
    """A findings table without any columns is treated as zero findings."""
    assert "zero findings" in render_report(pa.table({}), {"counts": {}})


def test_all_null_scores_and_no_suspects() -> None:
    """No scores at all and no suspect/review rows: no plots of scores, tables say none."""
    rows = [r for r in ROWS if r[2] in ("unknown_number", "invalid_number")]
    findings = _findings(rows)
    text = render_report(findings, _summary(findings))
    assert "all scores are null" in text
    assert 'id="top-suspects"' not in text
    assert text.count("data:image/png;base64,") == 1  # the reason chart only


def test_status_absent_and_unknown_status() -> None:
    """A missing status shows 0; a status the report does not know is still shown."""
    rows = [r for r in ROWS if r[2] != "review"] + [("a.csv", 12, "withdrawn", 0.5, "x",
                                                    None, None, None)]
    findings = _findings(rows)
    text = render_report(findings, {"thresholds": {"cut": 0.7}})
    assert re.search(r'>review</span></td><td class="num">0</td>', text)
    assert re.search(r'>withdrawn</span></td><td class="num">1</td>', text)


def test_chunked_and_dictionary_columns() -> None:
    """Multi-chunk tables and dictionary-encoded string columns give the same report."""
    findings = _findings()
    halves = pa.concat_tables([findings.slice(0, 5), findings.slice(5)])
    status = pa.chunked_array([c.dictionary_encode() for c in halves["status"].chunks])
    encoded = halves.set_column(halves.schema.get_field_index("status"), "status", status)
    summary = _summary(findings)
    assert render_report(encoded, summary) == render_report(findings, summary)


def test_summary_count_mismatch_warns() -> None:
    """Counts in the summary that disagree with the findings are flagged."""
    findings = _findings()
    summary = _summary(findings)
    summary["counts"]["confirmed"] += 1
    assert "differ from the findings" in render_report(findings, summary)


def test_scatter_subsample_keeps_rare_statuses() -> None:
    """Large inputs are subsampled for the scatter, and the caption says so."""
    n = MAX_SCATTER_POINTS + 5000
    rows = [("a.csv", i, "confirmed", 0.9, "score_high", 1, 0.5, -0.4) for i in range(n)]
    rows.append(("a.csv", n, "suspect", 0.3, "low_score", 2, 0.9, 0.6))
    findings = _findings(rows)
    text = render_report(findings, _summary(findings))
    assert f"a sample of {MAX_SCATTER_POINTS:,} of {n + 1:,}" in text


def test_write_report_is_atomic(tmp_path: Path) -> None:
    """write_report leaves exactly the report, replacing an old one, and no temp file."""
    target = tmp_path / "report.html"
    target.write_text("old", encoding="utf-8")
    findings = _findings()
    out = write_report(findings, _summary(findings), target)
    assert out == target and target.exists()
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_write_report_failure_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    """If the final rename fails, neither the target nor a temp file is left behind."""
    import pprl.report as report_module

    def fail(*_args: object) -> None:
        """Stand-in for os.replace that fails like a full or vanished disk."""
        raise OSError("disk gone")

    monkeypatch.setattr(report_module.os, "replace", fail)
    with pytest.raises(OSError, match="disk gone"):
        write_report(_findings([]), {}, tmp_path / "report.html")
    assert list(tmp_path.iterdir()) == []
