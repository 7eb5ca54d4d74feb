"""Quality metrics: verification findings against synthetic truth, and plain linkage results.

Definitions (see docs/synthetic-data.md):

* positives are claims whose truth ``link_status`` is ``wrong`` or ``invalid_number``;
* a claim is *flagged* in mode ``suspect_or_review`` when its status is not
  ``confirmed``, and in mode ``suspect_only`` when its status is ``suspect``,
  ``unknown_number`` or ``invalid_number`` (``review`` does not count);
* per error kind, precision is computed one-vs-correct: that kind's flagged claims
  against the false alarms on correct links;
* only the claims files named in the findings (or ``claims_file``) are scored; within
  them a claim without a finding counts as not flagged (``missing_findings``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from pprl.errors import InputError

FINDING_COLUMNS = ("claims_file", "claim_row", "status")
STATUSES = ("confirmed", "review", "suspect", "unknown_number", "invalid_number")
HARD_FLAGS = ("suspect", "unknown_number", "invalid_number")
MODES = ("suspect_only", "suspect_or_review")
LINK_STATUSES = ("correct", "wrong", "invalid_number")
TRUTH_COLUMNS = ("file", "row", "linked_number", "true_number", "link_status", "error_kind")
_ROW_BITS = 40


def _read_table(source: pa.Table | str | Path, what: str,
                types: dict[str, pa.DataType] | None = None) -> pa.Table:
    """Read a CSV or Parquet file (or pass a table through) with string/number types."""
    if isinstance(source, pa.Table):
        return source
    path = Path(source)
    if not path.is_file():
        raise InputError(f"{what} file not found: {path}")
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
        return pc.fill_null(pc.cast(col, pa.float64()), np.nan).to_numpy()
    if dtype is int:
        return pc.fill_null(pc.cast(col, pa.int64()), -1).to_numpy()
    return np.asarray(pc.fill_null(pc.cast(col, pa.string()), "").to_numpy(zero_copy_only=False),
                      dtype=object)


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
        enc = enc.combine_chunks() if enc.num_chunks else pa.array([], pa.string()).dictionary_encode()
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


def prf(tp: int, fp: int, fn: int) -> dict[str, float | int]:
    """Precision, recall and F1 from counts (0 where undefined)."""
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"tp": int(tp), "fp": int(fp), "fn": int(fn), "precision": p, "recall": r, "f1": f}


def pr_curve(suspicion: np.ndarray, positive: np.ndarray, max_points: int = 200) -> dict[str, Any]:
    """Precision-recall over thresholds ``suspicion >= t`` and the F1-maximising ``t``."""
    ok = ~np.isnan(suspicion)
    s, y = suspicion[ok], positive[ok]
    n_pos = int(positive.sum())
    if not len(s) or not n_pos:
        return {"best": None, "points": []}
    order = np.argsort(-s, kind="stable")
    s, y = s[order], y[order]
    last = np.r_[np.flatnonzero(s[1:] != s[:-1]), len(s) - 1]  # end of each tie group
    tp = np.cumsum(y)[last]
    flagged = last + 1
    precision = tp / flagged
    recall = tp / n_pos
    f1 = np.where(tp > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-300), 0.0)
    best = int(np.argmax(f1))
    pick = np.unique(np.r_[np.linspace(0, len(last) - 1, min(max_points, len(last))).astype(int),
                           best])
    points = [{"threshold": _finite(s[last[i]]), "precision": float(precision[i]),
               "recall": float(recall[i])} for i in pick]
    return {"best": {"threshold": _finite(s[last[best]]), "precision": float(precision[best]),
                     "recall": float(recall[best]), "f1": float(f1[best])}, "points": points}


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
            table = pacsv.read_csv(Path(register), convert_options=pacsv.ConvertOptions(
                column_types={"my_number": pa.string()}, include_columns=["my_number"]))
    except (pa.ArrowInvalid, KeyError) as exc:
        raise InputError(f"cannot read my_number from register {register}: {exc}") from exc
    return _as_int_numbers(table.column("my_number"))


def _as_int_numbers(column: pa.ChunkedArray) -> np.ndarray:
    """12-digit number strings as int64 (-1 for empty/non-numeric) for fast comparison."""
    try:
        return pc.fill_null(pc.cast(column, pa.int64()), -1).to_numpy()
    except pa.ArrowException:  # invalid or unsupported cast: fall back to Python
        vals = column.to_pylist()
        return np.array([int(v) if v and str(v).isdigit() else -1 for v in vals], dtype=np.int64)


def _suspicion(findings: pa.Table) -> tuple[np.ndarray, str]:
    """Suspicion per finding: ``suspicion`` or ``margin`` column if present, else -score.

    Claims without a score (no pair: unknown or invalid number) are maximally suspicious.
    """
    for col in ("suspicion", "margin"):
        if col in findings.column_names:
            s = _np(findings, col, float)
            return np.where(np.isnan(s), np.inf, s), col
    if "score" not in findings.column_names:
        return np.full(findings.num_rows, np.nan), "none"
    s = -_np(findings, "score", float)
    return np.where(np.isnan(s), np.inf, s), "-score"


def evaluate_findings(
    findings: pa.Table | str | Path, truth: str | Path | pa.Table, claims_file: str | None = None,
    register: str | Path | pa.Table | None = None,
) -> dict[str, Any]:
    """Score ``pprl verify`` findings against ``truth.csv``; returns JSON-able metrics.

    ``register`` maps register rows to numbers for the true-owner accuracy; it defaults
    to ``register.csv`` beside ``truth`` (skipped if absent).
    """
    f = _read_table(findings, "findings", {"claims_file": pa.string(), "claim_row": pa.int64(),
                                           "status": pa.string(), "score": pa.float64(),
                                           "candidate_ref_row": pa.int64()})
    t = _read_table(truth, "truth", {c: pa.string() for c in TRUTH_COLUMNS if c != "row"}
                    | {"row": pa.int64(), "noise": pa.string()})
    _require(f, FINDING_COLUMNS, "findings")
    _require(t, TRUTH_COLUMNS, "truth")
    if register is None and not isinstance(truth, pa.Table):
        register = Path(truth).with_name("register.csv")
    if claims_file is not None:
        wanted = {_stem(claims_file)}
        names = _codes(f.column("claims_file"))[1]
        if len(names) == 1 and _stem(names[0]) not in wanted:
            # one claims file under another name (e.g. ins.parquet for insurer.csv)
            f = f.set_column(f.column_names.index("claims_file"), "claims_file",
                             pa.array([claims_file] * f.num_rows, pa.string()))
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
    vocab = (*STATUSES, "missing")
    fstatus = _labels(f.column("status"), STATUSES, "findings status")
    status = np.where(hit, fstatus[np.maximum(fi, 0)] if len(f) else 0, vocab.index("missing"))
    link = np.asarray(LINK_STATUSES)[_labels(t.column("link_status"), LINK_STATUSES, "truth link_status")]
    kind_idx, kind_values = _codes(t.column("error_kind"))
    kind = np.asarray(kind_values + [""], dtype=object)[kind_idx] if len(kind_idx) else np.empty(0, object)
    positive = np.isin(link, ("wrong", "invalid_number"))
    correct = link == "correct"
    hard = [vocab.index(x) for x in HARD_FLAGS]
    flagged = {"suspect_only": np.isin(status, hard),
               "suspect_or_review": np.isin(status, hard + [vocab.index("review")])}
    result: dict[str, Any] = {
        "files": sorted(wanted), "claims": int(len(t)), "positives": int(positive.sum()), "correct_links": int(correct.sum()),
        "missing_findings": int((~hit).sum()),
        "unmatched_findings": int(len(f) - hit.sum()),  # assumes one finding per claim
        "overall": {m: prf(*_counts(fl, positive, correct)) for m, fl in flagged.items()},
        "per_error_kind": _per_kind(kind, positive, correct, flagged),
        "false_alarms_per_1000_correct": _false_alarms(status, correct, vocab),
        "status_counts": {v: int((status == i).sum()) for i, v in enumerate(vocab)
                          if (status == i).any()},
    }
    result["true_owner_top1"] = _owner_accuracy(f, t, fi, link, _register_numbers(register))
    susp_f, source = _suspicion(f)
    susp = np.where(hit, susp_f[np.maximum(fi, 0)] if len(f) else np.nan, np.nan)
    curve = pr_curve(susp, positive)
    result["pr_curve"] = {"over": source, "rule": _rule(source), **curve}
    if source == "-score" and curve["best"] is not None and curve["best"]["threshold"] is not None:
        curve["best"]["score_threshold"] = -curve["best"]["threshold"]
    return result


def _rule(source: str) -> str:
    """Human-readable flagging rule for the curve's threshold."""
    if source == "-score":
        return "flag when -score >= threshold (score <= -threshold); no score = always flagged"
    return f"flag when {source} >= threshold; missing = always flagged"


def _counts(flag: np.ndarray, positive: np.ndarray, correct: np.ndarray) -> tuple[int, int, int]:
    """(tp, fp, fn) where fp counts flagged correct links."""
    return int((flag & positive).sum()), int((flag & correct).sum()), int((~flag & positive).sum())


def _per_kind(kind: np.ndarray, positive: np.ndarray, correct: np.ndarray,
              flagged: dict[str, np.ndarray]) -> dict[str, Any]:
    """One-vs-correct precision/recall/F1 per planted error kind."""
    out: dict[str, Any] = {}
    for k in sorted(set(kind[positive].tolist())):
        sel = positive & (kind == k)
        out[k] = {"count": int(sel.sum())}
        for m, fl in flagged.items():
            out[k][m] = prf(*_counts(fl, sel, correct))
    return out


def _false_alarms(status: np.ndarray, correct: np.ndarray, vocab: tuple[str, ...]) -> dict[str, float]:
    """Correct links not confirmed, per 1,000 correct links, by status (codes into vocab)."""
    n = max(int(correct.sum()), 1)
    review = int((correct & (status == vocab.index("review"))).sum())
    hard = int((correct & np.isin(status, [vocab.index(x) for x in HARD_FLAGS])).sum())
    return {"review": 1000 * review / n, "suspect": 1000 * hard / n,
            "total": 1000 * (review + hard) / n}


def _owner_accuracy(f: pa.Table, t: pa.Table, fi: np.ndarray, link: np.ndarray,
                    reg_numbers: np.ndarray | None) -> dict[str, Any] | None:
    """Share of wrong (and invalid) links whose best alternative is the true owner."""
    if reg_numbers is None or "candidate_ref_row" not in f.column_names:
        return None
    cand = _np(f, "candidate_ref_row", int) if len(f) else np.empty(0, dtype=np.int64)
    cand_t = np.where(fi >= 0, cand[np.maximum(fi, 0)] if len(cand) else -1, -1)
    valid = (cand_t >= 0) & (cand_t < len(reg_numbers))
    number = np.where(valid, reg_numbers[np.where(valid, cand_t, 0)], -1)
    good = valid & (number == _as_int_numbers(t.column("true_number"))) & (number >= 0)
    out: dict[str, Any] = {}
    for label in ("wrong", "invalid_number"):
        sel = link == label
        out[label] = {"count": int(sel.sum()), "with_candidate": int((sel & valid).sum()),
                      "correct_owner": int((sel & good).sum()),
                      "accuracy": float((sel & good).sum() / sel.sum()) if sel.any() else 0.0}
    return out


def evaluate_links(links: str | Path | pa.Table, truth_pairs: str | Path | pa.Table) -> dict[str, Any]:
    """Precision/recall/F1 of a linkage result (``a_row, b_row[, score]``) against true pairs."""
    lk = _read_table(links, "links", {"a_row": pa.int64(), "b_row": pa.int64(), "score": pa.float64()})
    tp_ = _read_table(truth_pairs, "truth pairs", {"a_row": pa.int64(), "b_row": pa.int64()})
    _require(lk, ("a_row", "b_row"), "links")
    _require(tp_, ("a_row", "b_row"), "truth pairs")
    lkey = (_np(lk, "a_row", int) << 32) + _np(lk, "b_row", int)
    tkey = np.unique((_np(tp_, "a_row", int) << 32) + _np(tp_, "b_row", int))
    lkey_u, first = np.unique(lkey, return_index=True)
    match = np.isin(lkey_u, tkey)
    tp = int(match.sum())
    result: dict[str, Any] = {"links": int(len(lkey_u)), "duplicate_links": int(len(lkey) - len(lkey_u)),
                              "true_pairs": int(len(tkey)),
                              **prf(tp, len(lkey_u) - tp, len(tkey) - tp)}
    if "score" in lk.column_names:
        score = _np(lk, "score", float)[first]
        curve = pr_curve(score, match)
        if curve["best"] is not None:  # recall of the curve is relative to all true pairs
            scale = tp / max(len(tkey), 1)
            curve["best"]["recall"] *= scale
            for p in curve["points"]:
                p["recall"] *= scale
            b = curve["best"]
            b["f1"] = 2 * b["precision"] * b["recall"] / max(b["precision"] + b["recall"], 1e-300)
        result["pr_curve"] = {"over": "score", "rule": "link when score >= threshold", **curve}
    return result


def plot_pr(curve: dict[str, Any], path: str | Path, title: str = "Precision-recall") -> None:
    """Write the precision-recall curve as a PNG (matplotlib, Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = curve.get("points") or []
    fig, ax = plt.subplots(figsize=(5, 4), dpi=120)
    ax.plot([p["recall"] for p in pts], [p["precision"] for p in pts], marker=".", lw=1)
    best = curve.get("best")
    if best:
        ax.scatter([best["recall"]], [best["precision"]], color="red", zorder=3,
                   label=f"max F1 {best['f1']:.3f}")
        ax.legend(loc="lower left")
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1.02), ylim=(0, 1.02), title=title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    try:
        fig.savefig(path)
    except OSError as exc:
        raise InputError(f"cannot write plot {path}: {exc.strerror}") from exc
    finally:
        plt.close(fig)
