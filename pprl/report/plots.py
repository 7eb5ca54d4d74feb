"""The report's figures: matplotlib figures, and :func:`png_data_uri` to embed them.

Each figure draws only the thresholds that act on its axes, each with its own line
style (the same style for the same threshold in every figure) and named in the legend:

* score histogram: ``confirm_score`` and ``suspect_score`` (vertical, on the score axis);
* score vs margin: the decision boundaries of :func:`pprl.verify.decide`, each drawn
  only over the stretch where it changes the status — ``suspect_score`` below
  ``margin_suspect``, ``confirm_score`` below ``margin_review``, ``margin_suspect``
  right of ``suspect_score`` and ``margin_review`` right of ``confirm_score``;
* reasons: no thresholds; a log-scale bar chart in two panels, the claim-vs-register
  reasons and the cross-check reasons.

pyplot is never imported, so rendering has no global state and works without a display.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from pprl.report.findings import FindingsArrays
from pprl.report.vocabulary import CROSS_CHECK_GROUP, REGISTER_GROUP, STATUS_COLORS, reason_group
from pprl.verify.model import Reason, Status, Thresholds

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: At most this many points go into the score-vs-margin scatter, to bound the file size.
MAX_SCATTER_POINTS = 20_000

#: Line style of each threshold, the same in every figure.
THRESHOLD_STYLES: dict[str, str | tuple[int, tuple[int, ...]]] = {
    "confirm_score": "--",
    "suspect_score": "-.",
    "margin_suspect": ":",
    "margin_review": (0, (6, 2, 1, 2, 1, 2)),
    "confirm_below": (0, (2, 1)),
    "suspect_above": (0, (4, 1, 1, 1, 1, 1)),
}
#: Line colour of each threshold: the suspect boundaries dark red, the confirm ones dark green.
_THRESHOLD_COLORS: dict[str, str] = {
    "confirm_score": "#1b5e20",
    "suspect_score": "#8e0000",
    "margin_suspect": "#8e0000",
    "margin_review": "#1b5e20",
    "confirm_below": "#1b5e20",
    "suspect_above": "#8e0000",
}
_GROUP_COLORS = {REGISTER_GROUP: "#4a6fa5", CROSS_CHECK_GROUP: "#00838f"}
_SCORE_LABEL = "claimed-pair score (Dice coefficient)"


# --------------------------------------------------------------------------- figures


def reasons_figure(reasons: Mapping[Reason, int]) -> Figure:
    """Bars of claims per reason on a log axis, one panel per reason group."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    groups: dict[str, list[tuple[Reason, int]]] = {REGISTER_GROUP: [], CROSS_CHECK_GROUP: []}
    for reason, n in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0].label)):
        if n > 0:
            groups[reason_group(reason)].append((reason, n))
    panels = [(name, items) for name, items in groups.items() if items]
    if not panels:
        raise ValueError("no reason has a count above zero")
    bars_total = sum(len(items) for _, items in panels)
    fig = _new_figure(9.0, 0.8 + 0.7 * len(panels) + 0.3 * bars_total)
    axes = fig.subplots(
        len(panels),
        1,
        sharex=True,
        squeeze=False,
        height_ratios=[len(items) + 1.2 for _, items in panels],
    )[:, 0]
    top = max(n for _, items in panels for _, n in items)
    for ax, (name, items) in zip(axes, panels, strict=True):
        labels = [r.label for r, _ in reversed(items)]
        values = [n for _, n in reversed(items)]
        bars = ax.barh(labels, values, color=_GROUP_COLORS[name], height=0.65)
        ax.bar_label(bars, labels=[f"{v:,}" for v in values], padding=3, fontsize=9)
        ax.set_title(name, loc="left", fontsize=10, color="#444444")
        ax.set_xscale("log")
        ax.set_xlim(0.6, top * 4)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.tick_params(axis="y", labelsize=9)
        _tidy(ax)
    axes[-1].set_xlabel("claim records with the reason (log scale)")
    return fig


def _status_histograms(
    values_of: np.ndarray,
    data: FindingsArrays,
    thresholds: Thresholds,
    lines: tuple[str, str],
    xlabel: str,
) -> Figure:
    """Step histograms of ``values_of`` (one value per claim, NaN: none) per status on
    log counts over [0, 1], with the thresholds named in ``lines`` drawn as verticals."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    fig = _new_figure(10.0, 4.2)
    ax = fig.add_subplot()
    bins = np.linspace(0.0, 1.0, 51).tolist()
    has = ~np.isnan(values_of)
    tallest = 1.0
    for status in Status:
        values = values_of[data.is_status(status) & has]
        if values.size:
            heights, _, _ = ax.hist(
                np.clip(values, 0.0, 1.0),
                bins=bins,
                histtype="step",
                linewidth=1.6,
                color=STATUS_COLORS[status],
                label=f"{status.label} ({values.size:,})",
            )
            tallest = max(tallest, float(np.max(heights)))
    for name in lines:
        value = getattr(thresholds, name)
        ax.axvline(value, **_threshold_style(name, value))
    ax.set_yscale("log")
    ax.set_ylim(0.7, tallest * 2.0)  # headroom above the tallest bin on the log axis
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xlim(0.0, 1.0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("claim records (log scale)")
    _legend(ax)
    _tidy(ax)
    return fig


def probability_figure(data: FindingsArrays, thresholds: Thresholds) -> Figure:
    """Step histograms of the mislink probability per status (log counts) with the cut
    points ``confirm_below`` and ``suspect_above``."""
    return _status_histograms(
        data.probability,
        data,
        thresholds,
        ("confirm_below", "suspect_above"),
        "estimated mislink probability",
    )


def histogram_figure(data: FindingsArrays, thresholds: Thresholds) -> Figure:
    """Step histograms of the claimed score per status (log counts), with score thresholds."""
    return _status_histograms(
        data.score, data, thresholds, ("confirm_score", "suspect_score"), _SCORE_LABEL
    )


def scatter_figure(
    data: FindingsArrays, chosen: npt.NDArray[np.intp], thresholds: Thresholds
) -> Figure:
    """Claimed score (x) against margin (y) of the ``chosen`` claims, with the decision
    boundaries each drawn where it applies and the regions tinted by the status they give.
    """
    fig = _new_figure(10.0, 5.0)
    ax = fig.add_subplot()
    x_lo, x_hi = -0.01, 1.01
    margins = data.margin[chosen]
    low = min(float(margins.min()), thresholds.margin_review)
    high = max(float(margins.max()), thresholds.margin_suspect)
    pad = 0.05 * (high - low) or 0.05
    y_lo, y_hi = low - pad, high + pad
    ax.set_xlim(x_lo, x_hi)
    ax.set_ylim(y_lo, y_hi)

    s, c = thresholds.suspect_score, thresholds.confirm_score
    ms, mr = thresholds.margin_suspect, thresholds.margin_review
    regions = [  # (status, x0, x1, y0, y1): the status decide() gives there
        (Status.SUSPECT, x_lo, s, y_lo, y_hi),
        (Status.SUSPECT, s, x_hi, ms, y_hi),
        (Status.REVIEW, s, c, y_lo, ms),
        (Status.REVIEW, c, x_hi, mr, ms),
        (Status.CONFIRMED, c, x_hi, y_lo, mr),
    ]
    for status, x0, x1, y0, y1 in regions:
        ax.fill_between(
            [x0, x1], y0, y1, color=STATUS_COLORS[status], alpha=0.09, linewidth=0, zorder=0
        )

    size, alpha = _marker_style(len(chosen))
    usable = ~np.isnan(data.score) & ~np.isnan(data.margin)
    statuses = data.status[chosen]
    for status in Status:
        pick = chosen[statuses == int(status)]
        if not pick.size:
            continue
        total = int((usable & data.is_status(status)).sum())
        count = f"{total:,}" if total == pick.size else f"{pick.size:,} of {total:,}"
        ax.scatter(
            data.score[pick],
            data.margin[pick],
            s=size,
            alpha=alpha,
            linewidths=0,
            color=STATUS_COLORS[status],
            label=f"{status.label} ({count})",
            zorder=3,
        )

    segments = [  # (name, xs, ys): each boundary only where it separates two statuses
        ("suspect_score", (s, s), (y_lo, ms)),
        ("confirm_score", (c, c), (y_lo, mr)),
        ("margin_suspect", (s, x_hi), (ms, ms)),
        ("margin_review", (c, x_hi), (mr, mr)),
    ]
    for name, xs, ys in segments:
        ax.plot(
            xs,
            ys,
            scalex=False,
            scaley=False,
            zorder=4,
            **_threshold_style(name, getattr(thresholds, name)),
        )
    ax.set_xlabel(_SCORE_LABEL)
    ax.set_ylabel("margin (best other score − claimed score)")
    _legend(ax, markerscale=2.0 if size < 14 else 1.0)
    _tidy(ax)
    return fig


def subsample(
    indices: npt.NDArray[np.intp], status: npt.NDArray[np.int8], limit: int
) -> npt.NDArray[np.intp]:
    """At most ``limit`` of ``indices``, keeping rare statuses fully visible.

    Each status gets an equal share of the budget; statuses with fewer points than their
    share keep all of them and pass the rest on. Seeded, so reports are reproducible.
    """
    if len(indices) <= limit:
        return indices
    rng = np.random.default_rng(0)
    of = status[indices]
    groups = {int(s): indices[of == s] for s in np.unique(of)}
    order = sorted(groups, key=lambda k: (len(groups[k]), k))
    remaining, picked = limit, []
    for n_left, code in enumerate(order):
        share = remaining // (len(groups) - n_left)
        group = groups[code]
        take = group if len(group) <= share else rng.choice(group, share, replace=False)
        picked.append(take)
        remaining -= len(take)
    return np.sort(np.concatenate(picked))


# --------------------------------------------------------------------------- helpers


def _threshold_style(name: str, value: float) -> dict[str, Any]:
    """Line keyword arguments for threshold ``name``: its own dash pattern and a label."""
    return {
        "color": _THRESHOLD_COLORS[name],
        "linestyle": THRESHOLD_STYLES[name],
        "linewidth": 1.3,
        "label": f"{name} = {value:g}",
    }


def _legend(ax: Axes, markerscale: float = 1.0) -> None:
    """The legend beside the plot (never over the data), statuses first, then thresholds."""
    ax.legend(
        fontsize=8.5,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        frameon=False,
        markerscale=markerscale,
        handlelength=3.2,
    )


def _marker_style(points: int) -> tuple[float, float]:
    """Marker size and opacity: small faint dots for dense plots, big ones for sparse."""
    if points > 5000:
        return 6.0, 0.55
    if points > 500:
        return 14.0, 0.7
    return 36.0, 0.85


def _tidy(ax: Axes) -> None:
    """Light styling shared by all plots: no top/right spines, faint grid below the data."""
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(True, color="#e5e5e5", linewidth=0.6)
    ax.set_axisbelow(True)


def _new_figure(width: float, height: float) -> Figure:
    """A figure drawn by the Agg canvas, independent of pyplot and its backend."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def png_data_uri(fig: Figure) -> str:
    """Encode a figure as a ``data:image/png;base64,...`` URI (no timestamp in it)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
