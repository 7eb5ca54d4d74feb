"""``pprl evaluate``: score verification findings (or a linkage result) against truth."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pprl_cli.common import (
    console,
    fail,
    input_file,
    output_file,
    print_json,
    shown,
    user_errors,
    writing,
)

if TYPE_CHECKING:
    from pprl.evaluate import FindingsMetrics, LinksMetrics


@user_errors
def evaluate(
    truth: Annotated[
        Path,
        typer.Option(
            "--truth",
            metavar="FILE",
            help="truth.csv from pprl synth (or true a_row,b_row pairs with --links).",
        ),
    ],
    findings: Annotated[
        Path | None,
        typer.Option(
            "--findings",
            metavar="FILE",
            show_default="none: give this or --links",
            help="Findings from pprl verify (CSV or Parquet).",
        ),
    ] = None,
    links: Annotated[
        Path | None,
        typer.Option(
            "--links",
            metavar="FILE",
            show_default="none: give this or --findings",
            help="A linkage result (a_row,b_row,score) to score instead of findings.",
        ),
    ] = None,
    register: Annotated[
        Path | None,
        typer.Option(
            "--register",
            metavar="FILE",
            show_default="register.csv beside --truth",
            help="register.csv for true-owner accuracy.",
        ),
    ] = None,
    claims_file: Annotated[
        str | None,
        typer.Option(
            "--claims-file",
            metavar="NAME",
            show_default="every claims file in the findings",
            help="Only score this claims file (e.g. insurer.csv).",
        ),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            metavar="PNG",
            show_default="no plot",
            help="Write the precision-recall curve to this image (.png, .pdf, .svg, ...).",
        ),
    ] = None,
    reliability_plot: Annotated[
        Path | None,
        typer.Option(
            "--reliability-plot",
            metavar="PNG",
            show_default="no plot",
            help="Write the reliability diagram of the findings' mislink_probability to this "
            "image.",
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Replace an existing --plot or --reliability-plot file (never an input).",
        ),
    ] = False,
) -> None:
    """Precision, recall and F1 of mislink detection, false alarms, a PR curve and the
    calibration (ECE) of the mislink probability."""
    from pprl.evaluate import (
        FindingsMetrics,
        LinksMetrics,
        check_plot,
        evaluate_findings,
        evaluate_links,
        plot_pr,
        plot_reliability,
    )

    metrics: FindingsMetrics | LinksMetrics
    for path in (truth, findings, links, register):
        if path is not None:
            input_file(path)
    inputs = [p for p in (truth, findings, links, register) if p is not None]
    if register is None:
        inputs.append(truth.parent / "register.csv")  # read when present
    if plot is not None:
        output_file(plot, "--plot")
        check_plot(plot, force=force, inputs=inputs)
    if reliability_plot is not None:
        if links is not None:
            fail("--reliability-plot needs --findings (a linkage result has no probabilities)")
        if plot is not None and reliability_plot.resolve() == plot.resolve():
            fail("--reliability-plot and --plot must be different files")
        output_file(reliability_plot, "--reliability-plot")
        check_plot(reliability_plot, force=force, inputs=inputs, option="--reliability-plot")
    if findings is not None and links is None:
        metrics = evaluate_findings(findings, truth, claims_file, register)
    elif links is not None and findings is None:
        metrics = evaluate_links(links, truth)
    else:
        fail("give exactly one of --findings or --links")
    if plot is not None and metrics.pr_curve is not None:
        with writing(plot):
            plot_pr(metrics.pr_curve, plot, force=force, inputs=inputs)
    if reliability_plot is not None:
        cal = metrics.calibration if isinstance(metrics, FindingsMetrics) else None
        if cal is None:
            fail(f"{findings}: the findings have no mislink_probability column to calibrate")
        assert cal is not None
        with writing(reliability_plot):
            plot_reliability(cal, reliability_plot, force=force, inputs=inputs)
    if json_out:
        print_json(metrics.to_json(), allow_nan=False)
    elif isinstance(metrics, LinksMetrics):
        _print_links(metrics)
    else:
        _print_findings(metrics)


def _pct(x: float) -> str:
    """Format a ratio as a percentage."""
    return f"{100 * x:.1f}%"


def _print_findings(m: FindingsMetrics) -> None:
    """Rich tables: overall and per-kind detection, false alarms, owner accuracy, threshold."""
    from rich.table import Table

    table = Table(
        title=f"Mislink detection ({m.claims:,} claims, {m.positives:,} positives)",
        caption="susp: suspect/unknown/invalid flagged; +rev: review flagged too",
    )
    table.add_column("error kind", no_wrap=True)
    for col in ("n", "P susp", "R susp", "F1 susp", "P +rev", "R +rev", "F1 +rev"):
        table.add_column(col, justify="right", no_wrap=True)
    rows = [("overall", m.overall), *m.per_error_kind.items()]
    for name, d in rows:
        table.add_row(
            shown(name),  # error kinds come from the truth file
            f"{d.count:,}",
            *(
                f"{getattr(v, k):.3f}"
                for v in (d.suspect_only, d.suspect_or_review)
                for k in ("precision", "recall", "f1")
            ),
        )
    console.print(table)
    fa = m.false_alarms_per_1000_correct
    console.print(
        f"false alarms per 1,000 correct links: review {fa.review:.2f}, "
        f"suspect {fa.suspect:.2f}, total {fa.total:.2f}"
    )
    if m.true_owner_top1 is not None:
        w = m.true_owner_top1.wrong
        console.print(
            f"true owner top-1 (wrong links): {_pct(w.accuracy)} ({w.correct_owner:,}/{w.count:,})"
        )
    if m.missing_findings or m.unmatched_findings:
        console.print(
            f"claims without a finding: {m.missing_findings:,}; "
            f"findings without truth: {m.unmatched_findings:,}"
        )
    best = m.pr_curve.best
    if best is not None:
        console.print(
            f"best F1 {best.f1:.3f}: {shown(m.pr_curve.describe(best))} "
            f"(P {_pct(best.precision)}, R {_pct(best.recall)})",
            highlight=False,
        )
    cal = m.calibration
    if cal is not None and cal.claims:
        console.print(
            f"mislink probability: ECE {cal.ece:.4f} over {len(cal.bins)} bins; "
            f"expected {cal.expected:,.1f} mislinks, observed {cal.observed:,} "
            f"(of {cal.claims:,} claims with a probability)",
            highlight=False,
        )


def _print_links(m: LinksMetrics) -> None:
    """Rich table for a linkage result."""
    from rich.table import Table

    table = Table(title="Linkage quality")
    for col in ("links", "true pairs", "precision", "recall", "F1"):
        table.add_column(col, justify="right")
    q = m.quality
    table.add_row(
        f"{m.links:,}", f"{m.true_pairs:,}", _pct(q.precision), _pct(q.recall), f"{q.f1:.3f}"
    )
    console.print(table)
    best = None if m.pr_curve is None else m.pr_curve.best
    if m.pr_curve is not None and best is not None:
        console.print(
            f"best F1 {best.f1:.3f}: {shown(m.pr_curve.describe(best))} "
            f"(P {_pct(best.precision)}, R {_pct(best.recall)})",
            highlight=False,
        )
