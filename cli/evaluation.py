"""``pprl evaluate``: score verification findings (or a linkage result) against truth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from pprl.errors import InputError, PprlError


def evaluate(
    truth: Annotated[Path, typer.Option(
        "--truth", help="truth.csv from pprl synth (or true a_row,b_row pairs with --links).")],
    findings: Annotated[Path | None, typer.Option(
        "--findings", help="Findings from pprl verify (CSV or Parquet).")] = None,
    links: Annotated[Path | None, typer.Option(
        "--links", help="A linkage result (a_row,b_row,score) to score instead of findings.")] = None,
    register: Annotated[Path | None, typer.Option(
        "--register", help="register.csv for true-owner accuracy (default: beside --truth).")] = None,
    claims_file: Annotated[str | None, typer.Option(
        "--claims-file", help="Only score this claims file (e.g. insurer.csv).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
    plot: Annotated[Path | None, typer.Option(
        "--plot", help="Write the precision-recall curve to this PNG.")] = None,
) -> None:
    """Precision, recall and F1 of mislink detection, false alarms and a PR curve."""
    from pprl.evaluate import evaluate_findings, evaluate_links, plot_pr

    err = Console(stderr=True)
    try:
        if (findings is None) == (links is None):
            raise InputError("give exactly one of --findings or --links")
        if findings is not None:
            metrics = evaluate_findings(findings, truth, claims_file, register)
        else:
            metrics = evaluate_links(links, truth)
        if plot is not None and metrics.get("pr_curve"):
            plot_pr(metrics["pr_curve"], plot)
    except PprlError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(2) from None
    if json_out:
        typer.echo(json.dumps(metrics, indent=2, ensure_ascii=False))
    elif findings is not None:
        _print_findings(metrics)
    else:
        _print_links(metrics)


def _pct(x: float) -> str:
    """Format a ratio as a percentage."""
    return f"{100 * x:.1f}%"


def _print_findings(m: dict[str, Any]) -> None:
    """Rich tables: overall and per-kind detection, false alarms, owner accuracy, threshold."""
    console = Console()
    table = Table(title=f"Mislink detection ({m['claims']:,} claims, {m['positives']:,} positives)",
                  caption="susp: suspect/unknown/invalid flagged; +rev: review flagged too")
    table.add_column("error kind", no_wrap=True)
    for col in ("n", "P susp", "R susp", "F1 susp", "P +rev", "R +rev", "F1 +rev"):
        table.add_column(col, justify="right", no_wrap=True)
    rows = [("overall", m["positives"], m["overall"])]
    rows += [(k, v["count"], v) for k, v in m["per_error_kind"].items()]
    for name, n, v in rows:
        s, r = v["suspect_only"], v["suspect_or_review"]
        table.add_row(name, f"{n:,}", *(f"{v[k]:.3f}" for v in (s, r)
                                        for k in ("precision", "recall", "f1")))
    console.print(table)
    fa = m["false_alarms_per_1000_correct"]
    console.print(f"false alarms per 1,000 correct links: review {fa['review']:.2f}, "
                  f"suspect {fa['suspect']:.2f}, total {fa['total']:.2f}")
    owner = m.get("true_owner_top1")
    if owner:
        w = owner["wrong"]
        console.print(f"true owner top-1 (wrong links): {_pct(w['accuracy'])} "
                      f"({w['correct_owner']:,}/{w['count']:,})")
    if m["missing_findings"] or m["unmatched_findings"]:
        console.print(f"claims without a finding: {m['missing_findings']:,}; "
                      f"findings without truth: {m['unmatched_findings']:,}")
    best = m["pr_curve"].get("best")
    if best:
        if "score_threshold" in best:
            rule = f"flag score <= {best['score_threshold']:.4f}"
        else:
            thr = best["threshold"]
            rule = f"flag {m['pr_curve']['over']} >= {thr:.4f}" if thr is not None else "flag all"
        console.print(f"best F1 {best['f1']:.3f}: {rule} (P {_pct(best['precision'])}, "
                      f"R {_pct(best['recall'])})")


def _print_links(m: dict[str, Any]) -> None:
    """Rich table for a linkage result."""
    table = Table(title="Linkage quality")
    for col in ("links", "true pairs", "precision", "recall", "F1"):
        table.add_column(col, justify="right")
    table.add_row(f"{m['links']:,}", f"{m['true_pairs']:,}", _pct(m["precision"]),
                  _pct(m["recall"]), f"{m['f1']:.3f}")
    Console().print(table)
