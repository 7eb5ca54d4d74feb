"""Evaluation metrics on hand-built findings and truth with hand-computed answers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from pprl_cli.evaluation import evaluate
from typer.testing import CliRunner

from pprl.errors import InputError
from pprl.evaluate import (
    FalseAlarms,
    OwnerCount,
    PRCurve,
    evaluate_findings,
    evaluate_links,
    plot_pr,
    pr_curve,
)

REG = [f"{i:012d}" for i in range(100, 110)]
# row: (link_status, error_kind, true_number register row)
TRUTH = [
    ("correct", "none", 0),
    ("correct", "none", 1),
    ("correct", "none", 2),
    ("correct", "none", 3),
    ("wrong", "homonym", 1),
    ("wrong", "family", 2),
    ("invalid_number", "invalid_check_digit", 5),
    ("correct", "none", 7),
]
# row: (status, score, candidate_ref_row)
FINDINGS = [
    ("confirmed", 0.95, None),
    ("review", 0.80, None),
    ("suspect", 0.50, None),
    ("confirmed", 0.90, None),
    ("suspect", 0.60, 1),
    ("review", 0.85, 0),
    ("invalid_number", None, None),
    ("confirmed", 0.97, None),
]


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    """truth.csv + register.csv in one directory, findings as Parquet and CSV."""
    truth = pa.table(
        {
            "file": ["insurer.csv"] * len(TRUTH),
            "row": list(range(len(TRUTH))),
            "linked_number": ["x"] * len(TRUTH),
            "true_number": [REG[r] for _, _, r in TRUTH],
            "link_status": [s for s, _, _ in TRUTH],
            "error_kind": [k for _, k, _ in TRUTH],
            "noise": [""] * len(TRUTH),
        }
    )
    pacsv.write_csv(truth, tmp_path / "truth.csv")
    pacsv.write_csv(pa.table({"my_number": REG}), tmp_path / "register.csv")
    findings = pa.table(
        {
            "claims_file": ["insurer.parquet"] * len(FINDINGS),
            "claim_row": list(range(len(FINDINGS))),
            "status": [s for s, _, _ in FINDINGS],
            "score": pa.array([x for _, x, _ in FINDINGS], pa.float64()),
            "reason": [""] * len(FINDINGS),
            "candidate_ref_row": pa.array([c for _, _, c in FINDINGS], pa.int64()),
            "candidate_score": pa.array([None] * len(FINDINGS), pa.float64()),
        }
    )
    pq.write_table(findings, tmp_path / "findings.parquet")
    pacsv.write_csv(findings, tmp_path / "findings.csv")
    return {
        "truth": tmp_path / "truth.csv",
        "parquet": tmp_path / "findings.parquet",
        "csv": tmp_path / "findings.csv",
        "dir": tmp_path,
    }


@pytest.mark.parametrize("kind", ["parquet", "csv"])
def test_overall_and_per_kind(files: dict[str, Path], kind: str) -> None:
    """3 positives, 5 correct; hand-computed P/R/F1 for both flagging modes."""
    m = evaluate_findings(files[kind], files["truth"])
    assert m.positives == 3 and m.correct_links == 5 and m.missing_findings == 0
    s = m.overall.suspect_only  # flagged rows 2, 4, 6
    assert (s.tp, s.fp, s.fn) == (2, 1, 1)
    assert s.precision == pytest.approx(2 / 3) and s.f1 == pytest.approx(2 / 3)
    r = m.overall.suspect_or_review  # flagged rows 1, 2, 4, 5, 6
    assert (r.tp, r.fp, r.fn) == (3, 2, 0)
    assert r.precision == pytest.approx(0.6) and r.recall == 1 and r.f1 == pytest.approx(0.75)
    fam = m.per_error_kind["family"]
    assert fam.count == 1
    assert fam.suspect_only.recall == 0 and fam.suspect_or_review.precision == pytest.approx(1 / 3)
    assert m.per_error_kind["homonym"].suspect_only.precision == pytest.approx(0.5)
    assert m.false_alarms_per_1000_correct == FalseAlarms(review=200.0, suspect=200.0, total=400.0)
    assert m.status_counts == {"confirmed": 3, "review": 2, "suspect": 2, "invalid_number": 1}


def test_owner_accuracy_uses_register_beside_truth(files: dict[str, Path]) -> None:
    """Row 4's candidate is the true owner, row 5's is not."""
    owner = evaluate_findings(files["parquet"], files["truth"]).true_owner_top1
    assert owner is not None
    assert owner.wrong == OwnerCount(count=2, with_candidate=2, correct_owner=1, accuracy=0.5)
    assert owner.invalid_number.accuracy == 0.0


def test_best_threshold_over_negative_score(files: dict[str, Path]) -> None:
    """Flagging the five lowest-scored (incl. unscored) claims maximises F1 = 0.75."""
    curve = evaluate_findings(files["parquet"], files["truth"]).pr_curve
    assert curve.over == "-score"
    best = curve.best
    assert best is not None and best.flagged == 5
    assert best.f1 == pytest.approx(0.75) and best.threshold == pytest.approx(-0.85)
    assert best.precision == pytest.approx(0.6) and best.recall == pytest.approx(1.0)
    assert curve.describe(best) == "flag score <= 0.8500"
    assert curve.to_json()["best"]["score_threshold"] == pytest.approx(0.85)


def test_pr_curve_best_threshold() -> None:
    """Flagging the top three of four (two positives) gives the best F1 = 0.8."""
    c = pr_curve(np.array([3.0, 2.0, 1.0, 0.0]), np.array([True, False, True, False]))
    assert c.best is not None
    assert c.best.f1 == pytest.approx(0.8) and c.best.threshold == 1.0


def test_margin_column_preferred(files: dict[str, Path]) -> None:
    """A ``margin`` column is used as suspicion when present."""
    f = pq.read_table(files["parquet"])
    margin = [0.0, 0.1, 0.0, 0.0, 0.5, 0.4, None, 0.0]
    f = f.append_column("margin", pa.array(margin, pa.float64()))
    curve = evaluate_findings(f, files["truth"]).pr_curve
    assert curve.over == "margin" and curve.best is not None
    assert curve.best.f1 == pytest.approx(1.0) and curve.best.threshold == 0.4


def test_claims_without_an_alternative_are_not_always_flagged(files: dict[str, Path]) -> None:
    """A claim with a score but no margin (nothing else in the register came close) gives
    the margin rule no reason to flag it: only the unscored claim (row 6) is flagged at
    every threshold. Counting the no-alternative claims as always flagged, as before,
    put the four correct ones at the top and capped the best F1 at 0.6."""
    f = pq.read_table(files["parquet"])
    margin = [None, 0.1, None, None, 0.5, 0.4, None, None]
    f = f.append_column("margin", pa.array(margin, pa.float64()))
    curve = evaluate_findings(f, files["truth"]).pr_curve
    assert curve.best is not None
    assert curve.best.f1 == pytest.approx(1.0) and curve.best.threshold == 0.4
    assert curve.best.flagged == 3 and curve.describe(curve.best) == "flag margin >= 0.4000"
    top, last = curve.points[0], curve.points[-1]
    assert top.threshold == np.inf and top.flagged == 1 and top.precision == 1.0
    assert curve.describe(top) == "flag only claims without a score"
    assert last.threshold == -np.inf and last.flagged == 8 and last.recall == 1.0
    assert curve.describe(last) == "flag all claims"
    doc = json.dumps(curve.to_json(), allow_nan=False)  # no Infinity in the JSON
    assert json.loads(doc)["points"][0]["threshold"] is None


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.one_of(st.none(), st.floats(-1, 1)), st.booleans()), min_size=1, max_size=30
    )
)
def test_pr_curve_best_is_max_f1_of_its_points(rows: list[tuple[float | None, bool]]) -> None:
    """The best point's F1 is the largest over every threshold, computed by brute force."""
    s = np.array([np.nan if x is None else x for x, _ in rows])
    y = np.array([p for _, p in rows])
    c = pr_curve(s, y, max_points=10_000)
    if not y.sum() or np.isnan(s).all():
        assert c.best is None
        return
    f1s = []
    for t in np.unique(s[~np.isnan(s)]):
        flag = s >= t
        tp = int((flag & y).sum())
        p, r = tp / flag.sum(), tp / y.sum()
        f1s.append(2 * p * r / (p + r) if tp else 0.0)
    assert c.best is not None and c.best.f1 == pytest.approx(max(f1s))
    assert len(c.points) == len(f1s)


def test_missing_findings_and_filter(files: dict[str, Path]) -> None:
    """Claims without findings count as not flagged; --claims-file filters by stem."""
    f = pq.read_table(files["parquet"]).slice(0, 6)  # rows 6 and 7 have no finding
    m = evaluate_findings(f, files["truth"], claims_file="insurer.csv")
    assert m.missing_findings == 2
    assert m.overall.suspect_only.fn == 2  # row 5 (review) and row 6 (missing)
    with pytest.raises(InputError, match="no claim of the findings matches the truth"):
        evaluate_findings(f, files["truth"], claims_file="bank.csv")  # truth has no bank rows


def test_only_files_in_findings_are_scored(files: dict[str, Path]) -> None:
    """Insurer findings against a truth that also lists bank claims: bank rows are ignored."""
    t = pacsv.read_csv(files["truth"])
    bank = t.set_column(0, "file", pa.array(["bank.csv"] * t.num_rows))
    m = evaluate_findings(
        files["parquet"], pa.concat_tables([t, bank]), register=files["dir"] / "register.csv"
    )
    assert m.files == ["insurer"] and m.claims == 8 and m.missing_findings == 0
    assert m.true_owner_top1 is not None and m.true_owner_top1.wrong.correct_owner == 1


def test_bad_inputs(files: dict[str, Path], tmp_path: Path) -> None:
    """Missing columns and unknown statuses are one-line input errors."""
    with pytest.raises(InputError, match="lacks column"):
        evaluate_findings(pa.table({"claims_file": ["a.csv"]}), files["truth"])
    bad = pq.read_table(files["parquet"]).set_column(2, "status", pa.array(["odd"] * 8))
    with pytest.raises(InputError, match="unknown value"):
        evaluate_findings(bad, files["truth"])
    with pytest.raises(InputError, match="not found"):
        evaluate_findings(tmp_path / "nope.csv", files["truth"])


def test_links() -> None:
    """3 of 4 links true, 3 of 4 true pairs found; best threshold keeps all four links."""
    links = pa.table({"a_row": [0, 1, 2, 4], "b_row": [0, 1, 3, 4], "score": [0.9, 0.8, 0.7, 0.2]})
    truth = pa.table({"a_row": [0, 1, 2, 4], "b_row": [0, 1, 2, 4]})
    m = evaluate_links(links, truth)
    q = m.quality
    assert (q.tp, q.fp, q.fn) == (3, 1, 1)
    assert q.precision == 0.75 and q.recall == 0.75
    assert m.pr_curve is not None and m.pr_curve.best is not None
    best = m.pr_curve.best
    assert best.threshold == 0.2 and best.f1 == pytest.approx(0.75)
    assert m.to_json()["tp"] == 3 and m.to_json()["pr_curve"]["best"]["recall"] == 0.75


def test_plot_and_cli(files: dict[str, Path], tmp_path: Path) -> None:
    """The CLI prints JSON with --json, writes a PNG, and turns input errors into exit 2."""
    app = typer.Typer()
    app.command()(evaluate)
    png = tmp_path / "pr.png"
    res = CliRunner().invoke(
        app,
        [
            "--findings",
            str(files["parquet"]),
            "--truth",
            str(files["truth"]),
            "--json",
            "--plot",
            str(png),
        ],
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["overall"]["suspect_or_review"]["tp"] == 3
    assert json.loads(res.stdout)["pr_curve"]["best"]["rule"] == "flag score <= 0.8500"
    assert png.read_bytes()[:4] == b"\x89PNG"
    res = CliRunner().invoke(
        app, ["--findings", str(files["parquet"]), "--truth", str(files["truth"])]
    )
    assert res.exit_code == 0 and "Mislink detection" in res.stdout
    assert "best F1 0.750: flag score <= 0.8500 (P 60.0%, R 100.0%)" in res.stdout
    res = CliRunner().invoke(app, ["--truth", str(files["truth"])])
    assert res.exit_code == 2 and "error:" in res.output
    plot_pr(PRCurve("margin", "", None, []), tmp_path / "empty.png")
