"""Quality metrics: verification findings against synthetic truth, and plain linkage results.

Definitions (see docs/synthetic-data.md):

* positives are claims whose truth ``link_status`` is ``wrong`` or ``invalid_number``;
* a claim is *flagged* in mode ``suspect_or_review`` when its status is not
  ``confirmed``, and in mode ``suspect_only`` when its status is ``suspect``,
  ``unknown_number`` or ``invalid_number`` (``review`` does not count);
* per error kind, precision is computed one-vs-correct: that kind's flagged claims
  against the false alarms on correct links;
* only the claims files named in the findings (or ``claims_file``) are scored; within
  them a claim without a finding counts as not flagged (``missing_findings``);
* the precision-recall curve ranks claims by ``margin`` (or ``-score`` when findings lack
  it): claims without a score are flagged at every threshold, claims with a score but
  no alternative (no margin) only when every claim is;
* calibration (findings with ``mislink_probability``): the claims with a probability,
  in :data:`CALIBRATION_BINS` equal bins of it; per bin the mean probability against
  the share whose truth ``link_status`` is ``wrong``; the expected calibration error
  (ECE) is the mean of their absolute differences weighted by the bin's claims.

The metrics are typed dataclasses (:class:`FindingsMetrics`, :class:`LinksMetrics`) with
``to_json()``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from pprl.errors import InputError
from pprl.resultset import MANIFEST, check_result_set

FINDING_COLUMNS = ("claims_file", "claim_row", "status")
STATUSES = ("confirmed", "review", "suspect", "unknown_number", "invalid_number")
HARD_FLAGS = ("suspect", "unknown_number", "invalid_number")
MODES = ("suspect_only", "suspect_or_review")
LINK_STATUSES = ("correct", "wrong", "invalid_number")
TRUTH_COLUMNS = ("file", "row", "linked_number", "true_number", "link_status", "error_kind")
_ROW_BITS = 40
CALIBRATION_BINS = 10


@dataclass(frozen=True)
class PRF:
    """Counts with precision, recall and F1 (0 where undefined)."""

    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float

    def to_json(self) -> dict[str, int | float]:
        """JSON-able dict."""
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
        }


@dataclass(frozen=True)
class Detection:
    """Detection of ``count`` positives in both flagging modes (see the module docstring)."""

    count: int
    suspect_only: PRF
    suspect_or_review: PRF

    def to_json(self) -> dict[str, Any]:
        """JSON-able dict."""
        return {
            "count": self.count,
            "suspect_only": self.suspect_only.to_json(),
            "suspect_or_review": self.suspect_or_review.to_json(),
        }


@dataclass(frozen=True)
class FalseAlarms:
    """Correct links not confirmed, per 1,000 correct links."""

    review: float
    suspect: float
    total: float

    def to_json(self) -> dict[str, float]:
        """JSON-able dict."""
        return {"review": self.review, "suspect": self.suspect, "total": self.total}


@dataclass(frozen=True)
class OwnerCount:
    """Of ``count`` links, how many name a candidate and how many name the true owner."""

    count: int
    with_candidate: int
    correct_owner: int
    accuracy: float

    def to_json(self) -> dict[str, int | float]:
        """JSON-able dict."""
        return {
            "count": self.count,
            "with_candidate": self.with_candidate,
            "correct_owner": self.correct_owner,
            "accuracy": self.accuracy,
        }


@dataclass(frozen=True)
class OwnerAccuracy:
    """True-owner top-1 accuracy for wrong links and for invalid numbers."""

    wrong: OwnerCount
    invalid_number: OwnerCount

    def to_json(self) -> dict[str, Any]:
        """JSON-able dict."""
        return {"wrong": self.wrong.to_json(), "invalid_number": self.invalid_number.to_json()}


@dataclass(frozen=True)
class PRPoint:
    """One point of a precision-recall curve: flag (or link) when the value >= threshold.

    ``threshold`` is ``inf`` for the claims flagged at every threshold (no score) and
    ``-inf`` for those flagged only when everything is.
    """

    threshold: float
    precision: float
    recall: float
    flagged: int

    def to_json(self) -> dict[str, Any]:
        """JSON-able dict (infinite thresholds become null; ``rule`` in :class:`PRCurve`)."""
        return {
            "threshold": _finite(self.threshold),
            "precision": self.precision,
            "recall": self.recall,
            "flagged": self.flagged,
        }


@dataclass(frozen=True)
class PRBest(PRPoint):
    """The F1-maximising point."""

    f1: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """JSON-able dict."""
        return {**super().to_json(), "f1": self.f1}


@dataclass(frozen=True)
class PRCurve:
    """Precision-recall curve over the values of column ``over``, with its best point."""

    over: str
    rule: str
    best: PRBest | None
    points: list[PRPoint] = field(default_factory=list)

    def describe(self, point: PRPoint) -> str:
        """The flagging rule a point stands for, e.g. ``flag margin >= 0.0400``."""
        t = point.threshold
        if t == np.inf:
            return "flag only claims without a score"
        if t == -np.inf:
            return "flag all claims"
        if self.over == "-score":
            return f"flag score <= {-t:.4f}"
        verb = "link" if self.over == "score" else "flag"
        return f"{verb} {self.over} >= {t:.4f}"

    def to_json(self) -> dict[str, Any]:
        """JSON-able dict; the best point carries its rule (and ``score_threshold`` over
        ``-score``)."""
        best: dict[str, Any] | None = None
        if self.best is not None:
            best = {**self.best.to_json(), "rule": self.describe(self.best)}
            if self.over == "-score" and np.isfinite(self.best.threshold):
                best["score_threshold"] = -self.best.threshold
        return {
            "over": self.over,
            "rule": self.rule,
            "best": best,
            "points": [p.to_json() for p in self.points],
        }


@dataclass(frozen=True)
class CalibrationBin:
    """One bin ``[low, high)`` of predicted probabilities (the last bin includes 1)."""

    low: float
    high: float
    count: int
    mean_probability: float
    observed: float

    def to_json(self) -> dict[str, float | int]:
        """JSON-able dict."""
        return {
            "low": self.low,
            "high": self.high,
            "count": self.count,
            "mean_probability": self.mean_probability,
            "observed": self.observed,
        }


@dataclass(frozen=True)
class Calibration:
    """How well predicted probabilities match observed frequencies: the expected
    calibration error ``ece`` over ``bins`` (empty bins left out), the ``claims`` scored,
    the ``expected`` number of positives (sum of probabilities) and the ``observed``."""

    ece: float
    claims: int
    expected: float
    observed: int
    bins: list[CalibrationBin] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """JSON-able dict."""
        return {
            "ece": self.ece,
            "claims": self.claims,
            "expected": self.expected,
            "observed": self.observed,
            "bins": [b.to_json() for b in self.bins],
        }


def calibration(
    probability: np.ndarray, positive: np.ndarray, bins: int = CALIBRATION_BINS
) -> Calibration:
    """The calibration of ``probability`` against the 0/1 truth ``positive`` (NaN
    probabilities left out): ECE over ``bins`` equal-width bins of [0, 1]."""
    ok = ~np.isnan(probability)
    p, y = probability[ok], positive[ok].astype(np.float64)
    idx = np.clip((p * bins).astype(np.int64), 0, bins - 1)
    out, ece = [], 0.0
    for k in range(bins):
        sel = idx == k
        n = int(sel.sum())
        if n == 0:
            continue
        mp, obs = float(p[sel].mean()), float(y[sel].mean())
        ece += n / len(p) * abs(mp - obs)
        out.append(CalibrationBin(k / bins, (k + 1) / bins, n, mp, obs))
    return Calibration(float(ece), int(len(p)), float(p.sum()), int(y.sum()), out)


@dataclass(frozen=True)
class FindingsMetrics:
    """``pprl verify`` findings scored against the synthetic truth."""

    files: list[str]
    claims: int
    positives: int
    correct_links: int
    missing_findings: int
    unmatched_findings: int
    overall: Detection
    per_error_kind: dict[str, Detection]
    false_alarms_per_1000_correct: FalseAlarms
    status_counts: dict[str, int]
    true_owner_top1: OwnerAccuracy | None
    pr_curve: PRCurve
    calibration: Calibration | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-able dict."""
        return {
            "files": list(self.files),
            "claims": self.claims,
            "positives": self.positives,
            "correct_links": self.correct_links,
            "missing_findings": self.missing_findings,
            "unmatched_findings": self.unmatched_findings,
            "overall": self.overall.to_json(),
            "per_error_kind": {k: v.to_json() for k, v in self.per_error_kind.items()},
            "false_alarms_per_1000_correct": self.false_alarms_per_1000_correct.to_json(),
            "status_counts": dict(self.status_counts),
            "true_owner_top1": None
            if self.true_owner_top1 is None
            else self.true_owner_top1.to_json(),
            "pr_curve": self.pr_curve.to_json(),
            "calibration": None if self.calibration is None else self.calibration.to_json(),
        }


@dataclass(frozen=True)
class LinksMetrics:
    """A linkage result scored against true pairs."""

    links: int
    duplicate_links: int
    true_pairs: int
    quality: PRF
    pr_curve: PRCurve | None

    def to_json(self) -> dict[str, Any]:
        """JSON-able dict (``tp``, ``precision``… at the top level)."""
        out: dict[str, Any] = {
            "links": self.links,
            "duplicate_links": self.duplicate_links,
            "true_pairs": self.true_pairs,
            **self.quality.to_json(),
        }
        if self.pr_curve is not None:
            out["pr_curve"] = self.pr_curve.to_json()
        return out


def _read_table(
    source: pa.Table | str | Path, what: str, types: dict[str, pa.DataType] | None = None
) -> pa.Table:
    """Read a CSV or Parquet file (or pass a table through) with string/number types.

    A file inside a pprl result set (a ``manifest.json`` beside it) is read only when
    the whole set matches its manifest: a half-written or edited set is refused. The
    path is resolved first, so a symbolic link to such a file is checked too."""
    if isinstance(source, pa.Table):
        return source
    path = Path(source)
    if not path.is_file():
        raise InputError(f"{what} file not found: {path}")
    for folder in dict.fromkeys((path.parent, path.resolve().parent)):
        if (folder / MANIFEST).is_file():
            check_result_set(folder)
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            return pq.read_table(path)
        convert = pacsv.ConvertOptions(column_types=types or {}, strings_can_be_null=False)
        return pacsv.read_csv(path, convert_options=convert)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"cannot read {what} file {path}: {str(exc).splitlines()[0]}") from exc


def _require(table: pa.Table, columns: tuple[str, ...], what: str) -> None:
    """Raise :class:`InputError` naming the missing columns."""
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise InputError(f"{what} lacks column(s): {', '.join(missing)}")


def _np(table: pa.Table, column: str, dtype: Any = None) -> np.ndarray:
    """A column as numpy (nulls become NaN for floats, -1 for integers, '' for strings)."""
    col = table.column(column)
    if dtype is float:
        return np.asarray(
            pc.fill_null(pc.cast(col, pa.float64()), np.nan).to_numpy(), dtype=np.float64
        )
    if dtype is int:
        return np.asarray(pc.fill_null(pc.cast(col, pa.int64()), -1).to_numpy(), dtype=np.int64)
    return np.asarray(
        pc.fill_null(pc.cast(col, pa.string()), "").to_numpy(zero_copy_only=False), dtype=object
    )


def _stem(name: str) -> str:
    """``dir/insurer.parquet`` -> ``insurer``: findings name encoding files, truth CSVs."""
    base = str(name).replace("\\", "/").rsplit("/", 1)[-1]
    return base.split(".", 1)[0]


def _stem_mask(column: pa.ChunkedArray, wanted: set[str]) -> pa.Array:
    """Boolean mask: the file name in ``column`` has a stem in ``wanted``."""
    idx, values = _codes(column)
    keep = np.array([_stem(v) in wanted for v in values], dtype=bool)
    return pa.array(keep[idx] if len(keep) else np.zeros(len(idx), dtype=bool))


def _codes(column: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, list[str]]:
    """Dictionary-encode a string column: (int codes, distinct values). Fast for few values."""
    enc = pc.dictionary_encode(pc.fill_null(pc.cast(column, pa.string()), ""))
    if isinstance(enc, pa.ChunkedArray):
        enc = (
            enc.combine_chunks()
            if enc.num_chunks
            else pa.array([], pa.string()).dictionary_encode()
        )
    return enc.indices.to_numpy(zero_copy_only=False).astype(np.int64), enc.dictionary.to_pylist()


def _labels(column: pa.ChunkedArray | pa.Array, vocab: tuple[str, ...], what: str) -> np.ndarray:
    """Codes into ``vocab`` (position) for a low-cardinality string column; unknown -> error."""
    idx, values = _codes(column)
    bad = sorted(set(values) - set(vocab))
    if bad:
        raise InputError(f"{what} has unknown value(s): {', '.join(map(str, bad[:5]))}")
    lut = np.array([vocab.index(v) for v in values], dtype=np.int64)
    return lut[idx] if len(lut) else idx


def _keys(files: pa.ChunkedArray, rows: np.ndarray, stems: dict[str, int]) -> np.ndarray:
    """Join key per row: stem id in the high bits, row number in the low bits."""
    idx, values = _codes(files)
    ids = np.array([stems.setdefault(_stem(u), len(stems)) for u in values], dtype=np.int64)
    return ((ids[idx] if len(ids) else idx) << _ROW_BITS) + rows.astype(np.int64)


def prf(tp: int, fp: int, fn: int) -> PRF:
    """Precision, recall and F1 from counts (0 where undefined)."""
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return PRF(int(tp), int(fp), int(fn), p, r, f)


def pr_curve(
    suspicion: np.ndarray,
    positive: np.ndarray,
    max_points: int = 200,
    *,
    over: str = "suspicion",
    rule: str = "",
    n_positives: int | None = None,
) -> PRCurve:
    """Precision-recall over thresholds ``suspicion >= t`` and the F1-maximising ``t``.

    NaN suspicion is left out of the ranking (never flagged); ``+inf`` is flagged at every
    threshold and ``-inf`` only when everything is. Recall is relative to ``n_positives``
    (default: the positives in ``positive``, NaN rows included).
    """
    ok = ~np.isnan(suspicion)
    s, y = suspicion[ok], positive[ok]
    n_pos = int(positive.sum()) if n_positives is None else int(n_positives)
    if not len(s) or not n_pos:
        return PRCurve(over, rule, None, [])
    order = np.argsort(-s, kind="stable")
    s, y = s[order], y[order]
    last = np.r_[np.flatnonzero(s[1:] != s[:-1]), len(s) - 1]  # end of each tie group
    tp = np.cumsum(y)[last]
    flagged = last + 1
    precision = tp / flagged
    recall = tp / n_pos
    f1 = np.where(tp > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-300), 0.0)
    best = int(np.argmax(f1))
    pick = np.unique(
        np.r_[np.linspace(0, len(last) - 1, min(max_points, len(last))).astype(int), best]
    )
    points = [
        PRPoint(float(s[last[i]]), float(precision[i]), float(recall[i]), int(flagged[i]))
        for i in pick
    ]
    top = PRBest(
        float(s[last[best]]),
        float(precision[best]),
        float(recall[best]),
        int(flagged[best]),
        float(f1[best]),
    )
    return PRCurve(over, rule, top, points)


def _finite(x: float) -> float | None:
    """JSON-safe float (infinities become None)."""
    return float(x) if np.isfinite(x) else None


def _register_numbers(register: str | Path | pa.Table | None) -> np.ndarray | None:
    """Register row -> my_number strings, or None when no register is available."""
    if register is None:
        return None
    if not isinstance(register, pa.Table) and not Path(register).is_file():
        return None
    try:
        if isinstance(register, pa.Table):
            table = register
        else:
            table = pacsv.read_csv(
                Path(register),
                convert_options=pacsv.ConvertOptions(
                    column_types={"my_number": pa.string()}, include_columns=["my_number"]
                ),
            )
    except (pa.ArrowInvalid, KeyError) as exc:
        raise InputError(f"cannot read my_number from register {register}: {exc}") from exc
    return _as_int_numbers(table.column("my_number"))


def _as_int_numbers(column: pa.ChunkedArray) -> np.ndarray:
    """12-digit number strings as int64 (-1 for empty/non-numeric) for fast comparison."""
    try:
        return np.asarray(pc.fill_null(pc.cast(column, pa.int64()), -1).to_numpy(), dtype=np.int64)
    except pa.ArrowException:  # invalid or unsupported cast: fall back to Python
        vals = column.to_pylist()
        return np.array([int(v) if v and str(v).isdigit() else -1 for v in vals], dtype=np.int64)


def _suspicion(findings: pa.Table) -> tuple[np.ndarray, str]:
    """Suspicion per finding: the ``suspicion`` or ``margin`` column if present, else -score.

    Claims without a score (no claimed pair: unknown or invalid number) are flagged at
    every threshold (``+inf``). A claim with a score but no ``margin`` has no alternative
    in the register: the margin gives no reason to flag it, so it is flagged only when
    every claim is (``-inf``).
    """
    has_score = "score" in findings.column_names
    scored = (
        ~np.isnan(_np(findings, "score", float))
        if has_score
        else np.zeros(findings.num_rows, dtype=bool)
    )
    for col in ("suspicion", "margin"):
        if col in findings.column_names:
            s = _np(findings, col, float)
            return np.where(np.isnan(s), np.where(scored, -np.inf, np.inf), s), col
    if not has_score:
        return np.full(findings.num_rows, np.nan), "none"
    s = -_np(findings, "score", float)
    return np.where(np.isnan(s), np.inf, s), "-score"


def evaluate_findings(
    findings: pa.Table | str | Path,
    truth: str | Path | pa.Table,
    claims_file: str | None = None,
    register: str | Path | pa.Table | None = None,
) -> FindingsMetrics:
    """Score ``pprl verify`` findings against ``truth.csv``.

    ``register`` maps register rows to numbers for the true-owner accuracy; it defaults
    to ``register.csv`` beside ``truth`` (skipped if absent).
    """
    f = _read_table(
        findings,
        "findings",
        {
            "claims_file": pa.string(),
            "claim_row": pa.int64(),
            "status": pa.string(),
            "score": pa.float64(),
            "candidate_ref_row": pa.int64(),
            "mislink_probability": pa.float64(),
        },
    )
    t = _read_table(
        truth,
        "truth",
        {c: pa.string() for c in TRUTH_COLUMNS if c != "row"}
        | {"row": pa.int64(), "noise": pa.string()},
    )
    _require(f, FINDING_COLUMNS, "findings")
    _require(t, TRUTH_COLUMNS, "truth")
    if register is None and not isinstance(truth, pa.Table):
        register = Path(truth).with_name("register.csv")
    if claims_file is not None:
        wanted = {_stem(claims_file)}
        names = _codes(f.column("claims_file"))[1]
        if len(names) == 1 and _stem(names[0]) not in wanted:
            # one claims file under another name (e.g. ins.parquet for insurer.csv)
            f = f.set_column(
                f.column_names.index("claims_file"),
                "claims_file",
                pa.array([claims_file] * f.num_rows, pa.string()),
            )
        f = f.filter(_stem_mask(f.column("claims_file"), wanted))
    else:  # score only the claims files the findings cover (insurer findings vs full truth)
        wanted = {_stem(v) for v in _codes(f.column("claims_file"))[1]}
    t = t.filter(_stem_mask(t.column("file"), wanted))
    stems: dict[str, int] = {}
    tkey = _keys(t.column("file"), _np(t, "row", int), stems)
    fkey = _keys(f.column("claims_file"), _np(f, "claim_row", int), stems)
    order = np.argsort(fkey, kind="stable")
    pos = np.searchsorted(fkey[order], tkey)
    if len(order):
        hit = (pos < len(order)) & (fkey[order][np.minimum(pos, len(order) - 1)] == tkey)
        fi = np.where(hit, order[np.minimum(pos, len(order) - 1)], -1)  # finding per truth row
    else:
        hit, fi = np.zeros(len(tkey), dtype=bool), np.full(len(tkey), -1)
    source_name = "the truth table" if isinstance(truth, pa.Table) else str(truth)
    if not hit.any():
        raise InputError(
            f"no claim of the findings matches the truth file {source_name} (claims files "
            f"{', '.join(sorted(wanted)) or 'none'}): findings of another population or "
            "claims file?"
        )
    reg_numbers = _register_numbers(register)
    _check_same_population(f, t, fi, hit, reg_numbers, source_name)
    vocab = (*STATUSES, "missing")
    fstatus = _labels(f.column("status"), STATUSES, "findings status")
    status = np.where(hit, fstatus[np.maximum(fi, 0)] if len(f) else 0, vocab.index("missing"))
    link = np.asarray(LINK_STATUSES)[
        _labels(t.column("link_status"), LINK_STATUSES, "truth link_status")
    ]
    kind_idx, kind_values = _codes(t.column("error_kind"))
    kind = (
        np.asarray(kind_values + [""], dtype=object)[kind_idx]
        if len(kind_idx)
        else np.empty(0, object)
    )
    positive = np.isin(link, ("wrong", "invalid_number"))
    correct = link == "correct"
    hard = [vocab.index(x) for x in HARD_FLAGS]
    flagged = {
        "suspect_only": np.isin(status, hard),
        "suspect_or_review": np.isin(status, hard + [vocab.index("review")]),
    }
    cal = None
    if "mislink_probability" in f.column_names:
        prob_f = _np(f, "mislink_probability", float)
        prob = np.where(hit, prob_f[np.maximum(fi, 0)] if len(f) else np.nan, np.nan)
        cal = calibration(prob, link == "wrong")
    susp_f, source = _suspicion(f)
    susp = np.where(hit, susp_f[np.maximum(fi, 0)] if len(f) else np.nan, np.nan)
    return FindingsMetrics(
        files=sorted(wanted),
        claims=int(len(t)),
        positives=int(positive.sum()),
        correct_links=int(correct.sum()),
        missing_findings=int((~hit).sum()),
        unmatched_findings=int(len(f) - hit.sum()),  # assumes one finding per claim
        overall=_detection(int(positive.sum()), flagged, positive, correct),
        per_error_kind=_per_kind(kind, positive, correct, flagged),
        false_alarms_per_1000_correct=_false_alarms(status, correct, vocab),
        status_counts={
            v: int((status == i).sum()) for i, v in enumerate(vocab) if (status == i).any()
        },
        true_owner_top1=_owner_accuracy(f, t, fi, link, reg_numbers),
        pr_curve=pr_curve(susp, positive, over=source, rule=_rule(source)),
        calibration=cal,
    )


def _check_same_population(
    f: pa.Table,
    t: pa.Table,
    fi: np.ndarray,
    hit: np.ndarray,
    reg_numbers: np.ndarray | None,
    source_name: str,
) -> None:
    """Refuse findings and truth of different populations. Claim rows alone cannot tell
    (every synthetic population numbers its claims from 0), but the register row each
    claim's number led to (``claimed_ref_row``) must hold the number the truth says the
    claim was linked to: when most comparable claims disagree, the truth (and its
    register) are not the ones the findings were made from."""
    if reg_numbers is None or "claimed_ref_row" not in f.column_names or not len(f):
        return
    claimed = _np(f, "claimed_ref_row", int)
    rows = np.where(hit, claimed[np.maximum(fi, 0)], -1)
    linked = _as_int_numbers(t.column("linked_number"))
    comparable = (rows >= 0) & (linked >= 0)
    n = int(comparable.sum())
    if n == 0:
        return
    inside = comparable & (rows < len(reg_numbers))
    agree = int((reg_numbers[np.where(inside, rows, 0)][inside] == linked[inside]).sum())
    if 2 * agree < n:
        raise InputError(
            f"the findings do not match the truth file {source_name}: for {n - agree} of "
            f"{n} claims the register row found for the claimed number does not hold the "
            "number the truth records (findings of another population?)"
        )


def _rule(source: str) -> str:
    """Human-readable flagging rule for the curve's threshold."""
    if source == "-score":
        return "flag when -score >= threshold (score <= -threshold); no score = always flagged"
    return (
        f"flag when {source} >= threshold; no score = always flagged; a score but no "
        f"{source} (no alternative) = flagged only when all are"
    )


def _counts(flag: np.ndarray, positive: np.ndarray, correct: np.ndarray) -> tuple[int, int, int]:
    """(tp, fp, fn) where fp counts flagged correct links."""
    return int((flag & positive).sum()), int((flag & correct).sum()), int((~flag & positive).sum())


def _detection(
    count: int, flagged: dict[str, np.ndarray], positive: np.ndarray, correct: np.ndarray
) -> Detection:
    """Precision/recall/F1 of ``positive`` against the correct links, in both modes."""
    return Detection(
        count,
        prf(*_counts(flagged["suspect_only"], positive, correct)),
        prf(*_counts(flagged["suspect_or_review"], positive, correct)),
    )


def _per_kind(
    kind: np.ndarray, positive: np.ndarray, correct: np.ndarray, flagged: dict[str, np.ndarray]
) -> dict[str, Detection]:
    """One-vs-correct precision/recall/F1 per planted error kind."""
    out: dict[str, Detection] = {}
    for k in sorted(set(kind[positive].tolist())):
        sel = positive & (kind == k)
        out[k] = _detection(int(sel.sum()), flagged, sel, correct)
    return out


def _false_alarms(status: np.ndarray, correct: np.ndarray, vocab: tuple[str, ...]) -> FalseAlarms:
    """Correct links not confirmed, per 1,000 correct links, by status (codes into vocab)."""
    n = max(int(correct.sum()), 1)
    review = int((correct & (status == vocab.index("review"))).sum())
    hard = int((correct & np.isin(status, [vocab.index(x) for x in HARD_FLAGS])).sum())
    return FalseAlarms(1000 * review / n, 1000 * hard / n, 1000 * (review + hard) / n)


def _owner_accuracy(
    f: pa.Table, t: pa.Table, fi: np.ndarray, link: np.ndarray, reg_numbers: np.ndarray | None
) -> OwnerAccuracy | None:
    """Share of wrong (and invalid) links whose best alternative is the true owner."""
    if reg_numbers is None or "candidate_ref_row" not in f.column_names:
        return None
    cand = _np(f, "candidate_ref_row", int) if len(f) else np.empty(0, dtype=np.int64)
    cand_t = np.where(fi >= 0, cand[np.maximum(fi, 0)] if len(cand) else -1, -1)
    valid = (cand_t >= 0) & (cand_t < len(reg_numbers))
    number = np.where(valid, reg_numbers[np.where(valid, cand_t, 0)], -1)
    good = valid & (number == _as_int_numbers(t.column("true_number"))) & (number >= 0)

    def count(label: str) -> OwnerCount:
        sel = link == label
        return OwnerCount(
            int(sel.sum()),
            int((sel & valid).sum()),
            int((sel & good).sum()),
            float((sel & good).sum() / sel.sum()) if sel.any() else 0.0,
        )

    return OwnerAccuracy(count("wrong"), count("invalid_number"))


def evaluate_links(
    links: str | Path | pa.Table, truth_pairs: str | Path | pa.Table
) -> LinksMetrics:
    """Precision/recall/F1 of a linkage result (``a_row, b_row[, score]``) against true pairs."""
    lk = _read_table(
        links, "links", {"a_row": pa.int64(), "b_row": pa.int64(), "score": pa.float64()}
    )
    tp_ = _read_table(truth_pairs, "truth pairs", {"a_row": pa.int64(), "b_row": pa.int64()})
    _require(lk, ("a_row", "b_row"), "links")
    _require(tp_, ("a_row", "b_row"), "truth pairs")
    lkey = (_np(lk, "a_row", int) << 32) + _np(lk, "b_row", int)
    tkey = np.unique((_np(tp_, "a_row", int) << 32) + _np(tp_, "b_row", int))
    lkey_u, first = np.unique(lkey, return_index=True)
    match = np.isin(lkey_u, tkey)
    tp = int(match.sum())
    curve = None
    if "score" in lk.column_names:  # recall is relative to all true pairs, found or not
        curve = pr_curve(
            _np(lk, "score", float)[first],
            match,
            over="score",
            rule="link when score >= threshold",
            n_positives=len(tkey),
        )
    return LinksMetrics(
        int(len(lkey_u)),
        int(len(lkey) - len(lkey_u)),
        int(len(tkey)),
        prf(tp, len(lkey_u) - tp, len(tkey) - tp),
        curve,
    )


@contextmanager
def _as_plot_option(option: str = "--plot") -> Iterator[None]:
    """Name ``option`` (not ``--out``) in the refusals of the shared output-file checks."""
    try:
        yield
    except InputError as exc:
        text = str(exc)
        if text.startswith("--out "):
            raise InputError(f"{option} " + text.removeprefix("--out ")) from None
        raise


def check_plot(
    path: str | Path,
    *,
    force: bool = False,
    inputs: Sequence[str | Path] = (),
    option: str = "--plot",
) -> None:
    """Whether :func:`plot_pr` (or :func:`plot_reliability`) may write ``path`` (checked
    before any work): a format not an input of the run (even with ``force``), not an
    existing file without ``force`` (:func:`pprl.resultset.check_output_file`), a format
    matplotlib writes. Refusals name ``option``."""
    from pprl.resultset import check_output_file

    with _as_plot_option(option):
        check_output_file(path, force=force, inputs=inputs)
    plot_format(path, option)


def plot_format(path: str | Path, option: str = "--plot") -> str:
    """The image format of a plot file, from its suffix (``png`` without one); raises
    :class:`InputError` naming ``path`` for a suffix matplotlib cannot write."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backend_bases import FigureCanvasBase

    suffix = Path(path).suffix.lower().lstrip(".")
    if not suffix:
        return "png"
    supported = FigureCanvasBase.get_supported_filetypes()
    if suffix not in supported:
        raise InputError(
            f"{option} {path}: cannot write a .{suffix} image; use one of "
            + ", ".join(f".{s}" for s in sorted(supported))
        )
    return suffix


def plot_pr(
    curve: PRCurve,
    path: str | Path,
    title: str = "Precision-recall",
    *,
    force: bool = False,
    inputs: Sequence[str | Path] = (),
) -> None:
    """Write the precision-recall curve as an image (matplotlib, Agg backend; the format
    from ``path``'s suffix, PNG without one) through :func:`pprl.resultset.output_file`:
    written to a temporary file and renamed into place, an existing file replaced only
    with ``force``, and an input of the run (``inputs``) never."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from pprl.resultset import output_file

    fmt = plot_format(path)
    fig, ax = plt.subplots(figsize=(5, 4), dpi=120)
    ax.plot([p.recall for p in curve.points], [p.precision for p in curve.points], marker=".", lw=1)
    best = curve.best
    if best is not None:
        ax.scatter(
            [best.recall],
            [best.precision],
            color="red",
            zorder=3,
            label=f"max F1 {best.f1:.3f}: {curve.describe(best)}",
        )
        ax.legend(loc="lower left")
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1.02), ylim=(0, 1.02), title=title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    try:
        with _as_plot_option(), output_file(path, force=force, inputs=inputs) as tmp:
            fig.savefig(tmp, format=fmt)
    except OSError as exc:
        raise InputError(f"cannot write plot {path}: {exc.strerror}") from exc
    finally:
        plt.close(fig)


def plot_reliability(
    cal: Calibration,
    path: str | Path,
    title: str = "Mislink probability: reliability",
    *,
    force: bool = False,
    inputs: Sequence[str | Path] = (),
) -> None:
    """Write the reliability diagram of ``cal`` as an image: per bin the observed share
    of mislinks against the mean predicted probability (the diagonal is perfect
    calibration), point size by claims; written like :func:`plot_pr`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from pprl.resultset import output_file

    option = "--reliability-plot"
    fmt = plot_format(path, option)
    fig, ax = plt.subplots(figsize=(5, 4), dpi=120)
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label="perfect calibration")
    if cal.bins:
        counts = np.array([b.count for b in cal.bins], dtype=float)
        sizes = 20 + 180 * np.sqrt(counts / counts.max())
        ax.plot([b.mean_probability for b in cal.bins], [b.observed for b in cal.bins], lw=1)
        ax.scatter(
            [b.mean_probability for b in cal.bins],
            [b.observed for b in cal.bins],
            s=sizes,
            zorder=3,
            label=f"ECE {cal.ece:.4f} ({cal.claims:,} claims, {len(cal.bins)} bins)",
        )
    ax.legend(loc="upper left")
    ax.set(
        xlabel="mean mislink probability (bin)",
        ylabel="observed share of mislinks",
        xlim=(-0.02, 1.02),
        ylim=(-0.02, 1.02),
        title=title,
    )
    ax.grid(alpha=0.3)
    fig.tight_layout()
    try:
        with _as_plot_option(option), output_file(path, force=force, inputs=inputs) as tmp:
            fig.savefig(tmp, format=fmt)
    except OSError as exc:
        raise InputError(f"cannot write plot {path}: {exc.strerror}") from exc
    finally:
        plt.close(fig)
