"""Step 6: what a run hands back: the findings table, each party's view, the register
holder's view, the summary, and the files they are written to."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pprl import __version__
from pprl.errors import InputError
from pprl.resultset import result_set
from pprl.store import Outline
from pprl.verify.decide import ClaimsResult
from pprl.verify.model import STATUSES, InputInfo, Reason, Thresholds, VerifySummary

__all__ = [
    "VerifyResult",
    "build_summary",
    "findings_table",
    "input_info",
    "party_view",
    "reason_texts",
    "reference_view",
    "safe_name",
    "write_outputs",
]


@dataclass
class VerifyResult:
    """Everything a verification run produced, before it is written."""

    findings: pa.Table
    summary: VerifySummary
    per_claims: list[tuple[str, pa.Table]]
    reference_view: pa.Table


def _labels(codes: np.ndarray, names: Sequence[str]) -> pa.Array:
    """String column from integer codes, built by arrow (no Python string per row)."""
    return pa.DictionaryArray.from_arrays(
        pa.array(codes.astype(np.int32)), pa.array(list(names), pa.string())
    ).cast(pa.string())


def reason_texts(masks: np.ndarray) -> pa.Array:
    """``code;code`` strings for reason bitmasks, in :class:`Reason` bit order."""
    uniq, inverse = np.unique(masks, return_inverse=True)
    texts = [";".join(r.label for r in Reason if int(m) & r.value) for m in uniq]
    return _labels(inverse.reshape(-1), texts)


def findings_table(res: ClaimsResult, ref: Outline) -> pa.Table:
    """One row per claim: the findings format of the CLI contract."""
    n = len(res.enc)
    name = res.enc.path.name if res.enc.path else res.enc.label
    ref_rows = ref.rows

    def rows_of(idx: np.ndarray) -> pa.Array:
        return pa.array(
            np.where(idx >= 0, ref_rows[np.maximum(idx, 0)] if len(ref_rows) else 0, 0),
            type=pa.int64(),
            mask=idx < 0,
        )

    def floats(x: np.ndarray) -> pa.Array:
        return pa.array(np.nan_to_num(x), type=pa.float64(), mask=np.isnan(x))

    return pa.table(
        {
            "claims_file": _labels(np.zeros(n, np.int8), [name]),
            "claims_party": _labels(np.zeros(n, np.int8), [res.enc.label]),
            "claim_row": pa.array(res.enc.rows, type=pa.int64()),
            "status": _labels(res.status, STATUSES),
            "score": floats(res.score),
            "reason": reason_texts(res.reasons),
            "candidate_ref_row": rows_of(res.cand),
            "candidate_score": floats(res.cand_score),
            "margin": floats(res.cand_score - res.score),
            "claimed_ref_row": rows_of(res.claimed),
        }
    )


def party_view(table: pa.Table, with_scores: bool = True) -> pa.Table:
    """What a claims party receives: its own rows, status, reason and (unless withheld) score.

    Register rows are never included: they belong to the register holder. Withholding
    scores (``with_scores=False``) stops a claims party from learning how similar its
    records are to records it cannot see.
    """
    columns = (
        ["claim_row", "status", "score", "reason"]
        if with_scores
        else ["claim_row", "status", "reason"]
    )
    return table.select(columns)


def reference_view(findings: pa.Table) -> pa.Table:
    """What the reference party receives: its rows named in a finding, and why.

    For each non-confirmed claim: the register row that was claimed and, where found,
    the register row that is likely the true owner, with the claim it relates to.
    """
    t = findings.filter(pc.not_equal(findings.column("status"), "confirmed"))
    parts = []
    for role, column in (
        ("claimed", "claimed_ref_row"),
        ("likely_true_owner", "candidate_ref_row"),
    ):
        sub = t.filter(pc.is_valid(t.column(column)))
        parts.append(
            pa.table(
                {
                    "ref_row": sub.column(column),
                    "role": _labels(np.zeros(sub.num_rows, np.int8), [role]),
                    "claims_party": sub.column("claims_party"),
                    "claim_row": sub.column("claim_row"),
                    "status": sub.column("status"),
                }
            )
        )
    return pa.concat_tables(parts)


def _value_counts(column: pa.ChunkedArray) -> dict[str, int]:
    """{value: count} of a string column, counted by arrow."""
    counts = pc.value_counts(column)
    return dict(
        zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True)
    )


def input_info(enc: Outline, role: str) -> InputInfo:
    """One input file as the summary records it."""
    return InputInfo(
        file=str(enc.path),
        role=role,
        party=enc.label,
        records=len(enc),
        digest=enc.meta.get("digest"),
        key_fingerprint=enc.meta.get("key_fingerprint"),
        schema=enc.meta.get("schema_name"),
        schema_digest=enc.meta.get("schema_digest"),
    )


def build_summary(
    findings: pa.Table,
    ref: Outline,
    claims: Sequence[Outline],
    th: Thresholds,
    blocking: Sequence[str],
    duplicates: int,
    timings: dict[str, float],
    started_at: str,
) -> VerifySummary:
    """Counts per status and reason, thresholds, inputs, timings and warnings.

    ``blocking`` are the block keys searched; ``duplicates`` how many pseudonyms the
    register holds more than once (all 32 bytes compared).
    """
    by_status = _value_counts(findings.column("status"))
    counts = {st: int(by_status.get(st, 0)) for st in STATUSES}
    reasons: dict[str, int] = {}
    for text, n in _value_counts(findings.column("reason")).items():
        for code in filter(None, text.split(";")):
            reasons[code] = reasons.get(code, 0) + n
    inputs = [input_info(ref, "reference")] + [input_info(e, "claims") for e in claims]
    warnings = []
    unknown = findings.filter(pc.equal(findings.column("status"), "unknown_number"))
    unknown_by_party = _value_counts(unknown.column("claims_party")) if unknown.num_rows else {}
    for enc in claims:
        n_unknown = unknown_by_party.get(enc.label, 0)
        if len(enc) and n_unknown > 0.5 * len(enc):
            warnings.append(
                f"{n_unknown} of {len(enc)} claims of {enc.label} have numbers not in "
                "the reference: is the reference really the register?"
            )
    if duplicates:
        warnings.append(
            f"the reference holds {duplicates} pseudonym(s) more than once; claims "
            "on them were scored against the best-matching record"
        )
    return VerifySummary(
        pprl_version=__version__,
        claims=findings.num_rows,
        counts=counts,
        reasons=dict(sorted(reasons.items(), key=lambda kv: -kv[1])),
        thresholds=th,
        blocking=list(blocking),
        inputs=inputs,
        timings=timings,
        warnings=warnings,
        started_at=started_at,
    )


def safe_name(label: str) -> str:
    """A file-name-safe version of a party label."""
    keep = "".join(c if c.isalnum() or c in "-_." else "_" for c in label)
    return keep.strip("._") or "party"


def write_outputs(
    result: VerifyResult,
    out_dir: str | Path,
    *,
    party_scores: bool = True,
    formats: Sequence[str] = ("parquet", "csv"),
    force: bool = False,
) -> list[Path]:
    """Write findings, per-party views, summary.json and report.html into ``out_dir``.

    ``party_scores=False`` withholds scores from the claims parties' views. The findings
    are written once per format in ``formats`` (``parquet``, ``csv``); the parties' views
    as CSV when ``csv`` is among them, else as Parquet.

    The files are one result set (:mod:`pprl.resultset`): written in a temporary folder
    beside ``out_dir``, listed with their blake3 digests (and the party each view goes to)
    in ``manifest.json``, written last, and switched in with one rename. ``out_dir`` must
    be new, empty, or (with ``force``) pprl's own previous result set; anything else is
    refused and left untouched.
    """
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from pprl.report import render_report

    bad = sorted(set(formats) - {"parquet", "csv"})
    if bad or not formats:
        raise InputError(f"findings formats are parquet and csv, not {', '.join(bad) or 'none'}")
    suffix = "csv" if "csv" in formats else "parquet"

    def write(table: pa.Table, path: Path) -> None:
        if path.suffix == ".csv":
            pacsv.write_csv(table, path)
        else:
            pq.write_table(table, path)

    out = Path(out_dir)
    with result_set(out, "verify", force=force) as rs:
        tmp = rs.path
        for fmt in dict.fromkeys(formats):
            write(result.findings, tmp / f"findings.{fmt}")
        parties = tmp / "parties"
        parties.mkdir()
        used: set[str] = set()
        for label, table in result.per_claims:
            name = safe_name(label)
            while name in used:
                name += "_"
            used.add(name)
            write(party_view(table, party_scores), parties / f"{name}.{suffix}")
            rs.deliver(label, f"parties/{name}.{suffix}", "claims")
        ref_label = safe_name(result.summary.reference.party)
        write(result.reference_view, parties / f"{ref_label}.reference.{suffix}")
        rs.deliver(
            result.summary.reference.party, f"parties/{ref_label}.reference.{suffix}", "reference"
        )
        (tmp / "summary.json").write_text(
            json.dumps(result.summary.to_json(), ensure_ascii=False, indent=2), encoding="utf-8"
        )
        (tmp / "report.html").write_text(
            render_report(result.findings, result.summary), encoding="utf-8"
        )
    return [out / rel for rel in rs.files]
