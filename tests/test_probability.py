"""The mislink probability: the latent-class EM, the term-frequency adjustment, the
statuses it decides, the interval of the expected count, and the column in findings
and views."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pprl.mixture import fit_latent_classes
from pprl.partition import Piece
from pprl.store import Outline
from pprl.verify.decide import ClaimsResult, reason_bit
from pprl.verify.evidence import State, evidence_rank
from pprl.verify.model import Reason, Status, Thresholds
from pprl.verify.plan import pair_states, value_counts
from pprl.verify.probability import (
    ALTERNATIVE_LEVELS,
    MIN_CLAIMS,
    NEVER_MISLINK,
    TF_LIMIT,
    claim_features,
    compare_evidence,
    decide_by_probability,
    estimate_mislink,
    mislink_interval,
    tf_offset,
)
from pprl.verify.search import fold_best

# ------------------------------------------------------------------ the latent-class EM


def planted(n: int, prior: float, seed: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Three conditionally independent features of two known classes."""
    rng = np.random.default_rng(seed)
    y = rng.random(n) < prior
    pos = [np.array([0.6, 0.3, 0.1]), np.array([0.1, 0.2, 0.7]), np.array([0.5, 0.5])]
    neg = [np.array([0.05, 0.15, 0.8]), np.array([0.8, 0.15, 0.05]), np.array([0.95, 0.05])]
    codes = []
    for p, q in zip(pos, neg, strict=True):
        a = rng.choice(len(p), size=n, p=p)
        b = rng.choice(len(q), size=n, p=q)
        codes.append(np.where(y, a, b).astype(np.int64))
    return codes, y


def test_em_recovers_a_planted_mixture() -> None:
    codes, y = planted(20000, 0.1, 1)
    start = np.where(codes[0] == 0, 0.9, 0.1)
    model = fit_latent_classes(codes, [3, 3, 2], start)
    assert model.converged
    assert model.prior == pytest.approx(0.1, abs=0.01)
    assert model.pos[0] == pytest.approx([0.6, 0.3, 0.1], abs=0.03)
    assert model.neg[1] == pytest.approx([0.8, 0.15, 0.05], abs=0.02)
    p = model.posterior(codes)
    assert p[y].mean() > 0.7 and p[~y].mean() < 0.05
    assert abs(p.sum() - y.sum()) < 0.05 * y.sum()


def test_em_is_deterministic_and_the_offset_moves_the_odds() -> None:
    codes, _ = planted(3000, 0.2, 2)
    start = np.full(3000, 0.3)
    a = fit_latent_classes(codes, [3, 3, 2], start)
    b = fit_latent_classes(codes, [3, 3, 2], start)
    assert a.loglik == b.loglik and (a.posterior(codes) == b.posterior(codes)).all()
    off = np.full(3000, np.log(4.0))
    z0, z1 = a.log_odds(codes), a.log_odds(codes, off)
    assert np.allclose(z1 - z0, np.log(4.0))


@pytest.mark.parametrize(
    ("codes", "levels", "init"),
    [
        ([], [], np.zeros(3)),
        ([np.array([0, 1, 2])], [2], np.zeros(3)),  # code out of range
        ([np.array([0, 1])], [2], np.zeros(3)),  # one code per record
        ([np.array([0, -1, 1])], [2], np.zeros(3)),
    ],
)
def test_em_refuses_bad_input(codes, levels, init) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        fit_latent_classes(codes, levels, init)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.integers(0, 3), min_size=5, max_size=60),
    st.lists(st.floats(0, 1), min_size=5, max_size=60),
)
def test_posteriors_are_probabilities(levels: list[int], start: list[float]) -> None:
    n = min(len(levels), len(start))
    codes = [np.asarray(levels[:n], dtype=np.int64)]
    model = fit_latent_classes(codes, [4], np.asarray(start[:n]))
    p = model.posterior(codes)
    assert ((p >= 0) & (p <= 1)).all()
    assert 0 < model.prior < 1


# ------------------------------------------------------------- term-frequency adjustment


def test_tf_counts_the_register_values() -> None:
    ref = np.array([5, 5, 5, 7, 9, 9], dtype=np.uint64)
    ok = np.array([True, True, True, True, True, False])
    q = np.array([5, 7, 9, 11, 5], dtype=np.uint64)
    qok = np.array([True, True, True, True, False])
    freq, records, squares = value_counts(ref, ok, q, qok)
    assert freq.tolist() == [3, 1, 1, 0, 0]
    assert (records, squares) == (5, 9 + 1 + 1)


def test_a_common_name_counts_for_less_than_a_rare_one() -> None:
    """Agreeing on a name 1,000 of 100,000 records carry raises the mislink odds;
    agreeing on a unique one lowers them; not agreeing changes nothing."""
    records, squares = 100_000, 1_000 * 1_000 + 99_000  # one common name, the rest unique
    agree = np.array([True, True, False])
    freq = np.array([1_000, 1, 1_000])
    off = tf_offset([agree], [freq], [(records, squares)])
    assert off[0] > 0 > off[1] and off[2] == 0
    assert off[0] == pytest.approx(np.log(min(1_000 * records / squares, TF_LIMIT)))
    assert off[1] == pytest.approx(np.log(1 * records / squares))


def test_tf_is_clipped_and_two_name_keys_are_averaged() -> None:
    agree = np.array([True, True])
    huge = tf_offset([agree], [np.array([10**6, 1])], [(10**6, 10**6)])
    assert huge[0] == pytest.approx(np.log(TF_LIMIT))
    kanji = tf_offset([agree], [np.array([4, 1])], [(100, 200)])
    kana = tf_offset([agree], [np.array([1, 1])], [(100, 200)])
    both = tf_offset([agree, agree], [np.array([4, 1]), np.array([1, 1])], [(100, 200)] * 2)
    assert both == pytest.approx((kanji + kana) / 2)
    only_kanji = tf_offset(
        [agree, np.array([False, False])], [np.array([4, 1]), np.array([1, 1])], [(100, 200)] * 2
    )
    assert only_kanji == pytest.approx(kanji)


def test_tf_averages_one_over_correct_links() -> None:
    """A correct link agrees on a value with probability ∝ its frequency: the factor
    tf(v) / Σ tf² averages 1 over them (unclipped)."""
    counts = np.array([50, 20, 10, 5] + [1] * 100)
    records, squares = int(counts.sum()), int((counts**2).sum())
    weights = counts / records  # a correct link's value
    factor = counts * records / squares
    assert (weights * factor).sum() == pytest.approx(1.0)


# -------------------------------------------------------------------- deciding statuses


def result(score: list[float], cand: list[float], reasons: list[int], status: list[int]):  # type: ignore[no-untyped-def]
    n = len(score)
    enc = Outline(rows=np.arange(n), has_token=np.ones(n, dtype=bool), meta={"party": "p"})
    res = ClaimsResult(
        enc,
        np.zeros(n, dtype=np.int64),
        np.asarray(score, dtype=float),
        np.where(np.isnan(cand), -1, 1).astype(np.int64),
        np.asarray(cand, dtype=float),
    )
    res.status = np.asarray(status, dtype=np.int8)
    res.reasons = np.asarray(reasons, dtype=np.uint16)
    return res


B = reason_bit


def test_the_cut_points_decide() -> None:
    th = Thresholds(confirm_below=0.1, suspect_above=0.6)
    nan = float("nan")
    res = result(
        [0.9, 0.6, 0.9, 0.9, 0.3, 0.9, 0.7],
        [nan, nan, nan, 0.5, nan, 0.89, nan],
        [
            B(Reason.MATCH),
            B(Reason.WEAK_SCORE),
            B(Reason.MATCH),
            B(Reason.MATCH),
            B(Reason.LOW_SCORE),
            B(Reason.THIN_EVIDENCE),
            B(Reason.NO_REGISTER_RECORD),
        ],
        [0, 1, 0, 0, 2, 1, int(Status.UNKNOWN_NUMBER)],
    )
    p = np.array([0.01, 0.02, 0.3, 0.95, 0.01, 0.99, nan])
    decide_by_probability(res, p, th)
    labels = [Status(s).label for s in res.status]
    assert labels == [
        "confirmed",  # low probability
        "confirmed",  # a weak score, yet a low probability: confirmed, reason match only
        "review",  # between the cut points
        "suspect",  # high
        "suspect",  # low_score stays suspect whatever the model says
        "review",  # thin evidence only: a person must look
        "unknown_number",  # untouched
    ]
    r = res.reasons
    assert r[1] == B(Reason.MATCH)
    assert r[2] == B(Reason.WEAK_SCORE)  # no band reason held: the nearest one
    assert r[3] == B(Reason.WEAK_SCORE) and not r[3] & B(Reason.MATCH)
    assert r[5] == B(Reason.THIN_EVIDENCE)
    assert r[6] == B(Reason.NO_REGISTER_RECORD)


def test_a_flagged_claim_with_a_better_alternative_says_so() -> None:
    res = result([0.8], [0.85], [B(Reason.MATCH)], [0])
    decide_by_probability(res, np.array([0.9]), Thresholds())
    assert res.status[0] == Status.SUSPECT
    assert res.reasons[0] == B(Reason.BETTER_MATCH_ELSEWHERE)


def test_cut_points_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="confirm_below"):
        Thresholds(confirm_below=0.6, suspect_above=0.5)
    with pytest.raises(ValueError, match="between"):
        Thresholds(suspect_above=1.5)


def test_too_few_claims_give_no_model() -> None:
    n = MIN_CLAIMS - 1
    est = estimate_mislink(
        np.ones(n, dtype=bool),
        np.full(n, 0.9),
        np.full(n, np.nan),
        np.zeros(n, dtype=np.uint16),
        np.zeros(n, dtype=np.int8),
    )
    assert est.model is None and est.fallback and np.isnan(est.probability).all()


def test_the_interval_is_poisson_binomial() -> None:
    p = np.array([0.5, 0.5, 0.0, 1.0, np.nan])
    mean, low, high = mislink_interval(p)
    assert mean == 2.0
    sd = np.sqrt(0.5)
    assert low == pytest.approx(2.0 - 1.959964 * sd) and high == pytest.approx(2.0 + 1.959964 * sd)
    assert mislink_interval(np.zeros(3)) == (0.0, 0.0, 0.0)
    _, lo, hi = mislink_interval(np.full(4, 0.999))
    assert lo >= 0 and hi <= 4


def test_claims_parties_see_the_probability_only_with_scores() -> None:
    """Like the scores and the evidence: in a party's view with scores, withheld
    with ``--no-scores``."""
    import pyarrow as pa

    from pprl.verify.outputs import party_view

    findings = pa.table(
        {
            "claims_file": ["a.parquet", "b.parquet"],
            "claims_party": ["a", "b"],
            "claim_row": pa.array([0, 0], pa.int64()),
            "status": ["confirmed", "suspect"],
            "score": [0.9, 0.3],
            "reason": ["match", "low_score"],
            "evidence": [None, None],
            "mislink_probability": [0.001, 0.97],
        }
    )
    shown = party_view(findings, "a", with_scores=True)
    assert shown.column("mislink_probability").to_pylist() == [0.001]
    hidden = party_view(findings, "b", with_scores=False)
    assert "mislink_probability" not in hidden.column_names
    assert "score" not in hidden.column_names


def test_cli_refuses_inverted_cut_points(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """One line naming both options, exit 2, before any file is read."""
    from pprl_cli.main import app
    from typer.testing import CliRunner

    args = ["verify", "--reference", "r.parquet", "--claims", "c.parquet"]
    out = ["--out", str(tmp_path / "out")]
    result = CliRunner().invoke(
        app, [*args, *out, "--confirm-below", "0.6", "--suspect-above", "0.5"]
    )
    assert result.exit_code == 2
    assert "--confirm-below (0.6) must not exceed --suspect-above (0.5)" in result.output
    result = CliRunner().invoke(app, [*args, *out, "--suspect-above", "1.5"])
    assert result.exit_code == 2 and "--suspect-above must be a number from 0 to 1" in result.output


# ------------------------------------------- the claimed record's evidence vs the alternative's


def codes_of(**states: int) -> int:
    """An attribute code (pprl.verify.evidence) from states: 1 agree, 2 differ, 3 missing."""
    order = ("kanji", "kana", "dob", "sex", "address")
    return sum(states.get(a, 0) << (2 * i) for i, a in enumerate(order))


def test_the_birth_date_outweighs_the_names() -> None:
    same = codes_of(kanji=1, kana=1, dob=1)
    maiden = codes_of(kanji=2, kana=2, dob=1)  # a changed name keeps the birth date
    relative = codes_of(kanji=1, kana=1, dob=2)  # a namesake relative: another birth date
    twin = codes_of(kanji=2, kana=1, dob=1)
    missing = codes_of(kanji=1, kana=1, dob=3)
    ranks = evidence_rank(np.array([same, maiden, relative, twin, missing, 0], np.uint16))
    assert ranks.tolist() == [5, 3, 2, 4, 2, 0]
    claimed = np.array([maiden, relative, same, same, twin], np.uint16)
    alternative = np.array([relative, maiden, same, twin, same], np.uint16)
    assert compare_evidence(claimed, alternative).tolist() == [1, -1, 0, 1, -1]


def test_close_alternatives_are_split_by_the_evidence() -> None:
    nan = float("nan")
    score = np.array([0.9, 0.9, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7])
    cand = np.array([nan, 0.6, 0.72, 0.72, 0.69, 0.8, 0.6, 0.65, 0.65])
    alt = B(Reason.ALTERNATIVE_CLAIMED_BY_OTHER_RECORD)
    reasons = np.array([0, alt, 0, alt, alt, alt, alt, 0, 0], np.uint16)
    compare = np.array([0, 1, 1, 1, 0, -1, 1, 0, 1])
    codes, levels, names = claim_features(score, cand, reasons, -0.03, compare)
    close = codes[names.index("close_alternative")]
    assert levels[names.index("close_alternative")] == len(ALTERNATIVE_LEVELS)
    # none, far, close better (x2), close alike, close worse, far, near alike, near better
    assert close.tolist() == [0, 1, 3, 4, 5, 6, 1, 2, 1]
    assert np.flatnonzero(NEVER_MISLINK).tolist() == [3, 4]
    # where the claimed record agrees better, the claimed alternative is in the level only
    claimed_elsewhere = codes[names.index(Reason.ALTERNATIVE_CLAIMED_BY_OTHER_RECORD.label)]
    assert claimed_elsewhere.tolist() == [0, 1, 0, 0, 1, 1, 1, 0, 0]
    # no comparison: every close alternative is "alike", every near one too
    codes, _, _ = claim_features(score, cand, reasons, -0.03)
    assert codes[names.index("close_alternative")].tolist() == [0, 1, 5, 5, 5, 5, 1, 2, 2]


def test_an_impossible_level_is_kept_out_of_class_one() -> None:
    codes, y = planted(5000, 0.1, 3)
    start = np.where(codes[0] == 0, 0.9, 0.1)
    never = np.array([False, False, True])
    model = fit_latent_classes(codes, [3, 3, 2], start, impossible_pos=(None, never, None))
    # the data's counts are dropped there: only the prior's pseudo-count is left
    assert model.pos[1][2] == pytest.approx((1.0 / 3) / (model.prior * model.count + 1.0), rel=1e-3)
    assert model.posterior(codes)[codes[1] == 2].max() < 0.05
    with pytest.raises(ValueError, match="mask"):
        fit_latent_classes(codes, [3, 3, 2], start, impossible_pos=(None, never[:2], None))
    with pytest.raises(ValueError, match="per feature"):
        fit_latent_classes(codes, [3, 3, 2], start, impossible_pos=(None, never))


def population_with_relatives(seed: int) -> dict[str, np.ndarray]:
    """Hand-built claims: 9,000 plain correct links (mostly high scores, 15% lowered by
    noise; any alternative far);
    150 correct links whose close alternative is a relative (a maiden name and a move
    lower the score; the claimed record agrees on the birth date, the relative does
    not; half the relatives hold claims of their own); 100 mislinks whose true owner
    scores about as well or better and agrees better."""
    rng = np.random.default_rng(seed)
    nan = float("nan")
    alt = B(Reason.ALTERNATIVE_CLAIMED_BY_OTHER_RECORD)
    plain, rel, wrong = 9000, 150, 100
    noisy = rng.random(plain) < 0.15
    score = np.concatenate(
        [
            np.where(noisy, rng.uniform(0.55, 0.9, plain), rng.uniform(0.9, 1.0, plain)),
            rng.uniform(0.6, 0.8, rel),
            rng.uniform(0.6, 0.8, wrong),
        ]
    )
    far = rng.random(plain) < 0.4
    cand = np.concatenate(
        [
            np.where(far, score[:plain] - 0.3, nan),
            score[plain : plain + rel] + rng.uniform(-0.02, 0.05, rel),
            score[plain + rel :] + rng.uniform(-0.02, 0.1, wrong),
        ]
    )
    reasons = np.concatenate(
        [
            np.zeros(plain, np.uint16),
            np.where(rng.random(rel) < 0.5, alt, 0).astype(np.uint16),
            np.where(rng.random(wrong) < 0.2, alt, 0).astype(np.uint16),
        ]
    )
    compare = np.concatenate([np.where(far, 1, 0), np.ones(rel), -np.ones(wrong)]).astype(int)
    status = np.where(np.nan_to_num(cand - score, nan=-1) > -0.03, 2, 0).astype(np.int8)
    truth = np.concatenate([np.zeros(plain + rel, bool), np.ones(wrong, bool)])
    relative = np.zeros(len(score), bool)
    relative[plain : plain + rel] = True
    return {
        "score": score,
        "cand": cand,
        "reasons": reasons,
        "compare": compare,
        "status": status,
        "truth": truth,
        "relative": relative,
    }


def test_correct_links_with_a_close_relative_are_not_taken_for_mislinks() -> None:
    """Without the comparison EM makes "has a close alternative" the mislink class and
    the relatives' links go with it; with it they are confirmed and the mislinks stay."""
    d = population_with_relatives(5)
    has = np.ones(len(d["score"]), bool)
    args = (has, d["score"], d["cand"], d["reasons"], d["status"])
    blind = estimate_mislink(*args).probability
    seeing = estimate_mislink(*args, compare=d["compare"]).probability
    assert np.median(blind[d["relative"]]) > 0.5  # the failure the comparison fixes
    assert np.quantile(seeing[d["relative"]], 0.95) < 0.05
    assert seeing[d["truth"]].min() > 0.5
    assert abs(seeing.sum() - d["truth"].sum()) < 0.1 * d["truth"].sum()


def test_the_search_keeps_the_alternatives_key_states() -> None:
    """pair_states compares each claim with its found records (register idx, not
    positions); fold_best carries the states of the record it keeps."""
    u = np.uint64
    ref = Piece(
        np.array([10, 11, 12], np.int64),
        np.zeros((3, 1), np.uint64),
        np.zeros(3, np.uint64),
        attrs=((np.array([7, 8, 7], u), np.array([True, True, False])),),
    )
    claims = Piece(
        np.array([0, 1], np.int64),
        np.zeros((2, 1), np.uint64),
        np.zeros(2, np.uint64),
        attrs=((np.array([7, 7], u), np.array([True, True])),),
    )
    r = np.array([[12, 10], [11, -1]])
    states = pair_states(ref, claims, r)
    assert states.tolist() == [[State.MISSING, State.AGREE], [State.DIFFER, 0]]
    assert pair_states(ref, Piece(claims.idx, claims.clk, claims.key), r).sum() == 0
    best, best_s, best_key = np.full(2, -1), np.full(2, -1.0), np.full(2, 99)
    carried = np.zeros(2, np.uint16)
    claimed = np.array([12, 5])  # claim 0's claimed record is 12: skipped, 10 kept
    fold_best(
        best,
        best_s,
        best_key,
        claims.idx,
        r,
        np.array([[0.9, 0.8], [0.7, -1.0]]),
        claimed,
        0,
        (carried, states),
    )
    assert best.tolist() == [10, 11] and carried.tolist() == [State.AGREE, State.DIFFER]
