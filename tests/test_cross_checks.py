"""Claims sharing one number: the cross-check stays linear in their count (issue #12).

Small groups (up to ``GroupLimits.exact``) compare every two claims, as always; larger
ones compare each claim with two representatives only; groups above
``GroupLimits.many`` get ``number_claimed_by_many_records`` on every claim. Checked on
hand-built encodings, on the comparisons actually made (a counter on the Dice kernel)
and through both engines.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pprl.verify.cross_checks as cc
from pprl.store import Encodings, write_encodings
from pprl.verify import Reason, Thresholds, verify
from pprl.verify.cross_checks import (
    GROUP_LIMITS,
    GroupLimits,
    many_records,
    pairs_within_groups,
    shared_number_pairs,
)
from pprl.verify.model import CROSS_CHECK_REASONS

WORDS = 16
DIFFERENT = Thresholds().different_people
MANY = "number_claimed_by_many_records"
SHARED = "number_shared_by_different_people"


def people(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` random 1024-bit CLKs with about 30% of bits set (unrelated people)."""
    return np.packbits(rng.random((n, WORDS * 64)) < 0.3, axis=1).view("<u8").copy()


def variants(rng: np.random.Generator, clks: np.ndarray, flip: float) -> np.ndarray:
    """The same people with a fraction ``flip`` of their bits flipped: Dice with the
    original about 0.985 for 0.01, 0.97 for 0.02, 0.58 for 0.3 (strangers: 0.3)."""
    noise = np.packbits(rng.random((len(clks), WORDS * 64)) < flip, axis=1).view("<u8")
    return clks ^ noise


def dice(clks: np.ndarray, i: int, j: int) -> float:
    bits = np.unpackbits(clks[[i, j]].view(np.uint8), axis=1).astype(bool)
    total = int(bits[0].sum() + bits[1].sum())
    return 2.0 * int((bits[0] & bits[1]).sum()) / total if total else 0.0


def all_pairs(clks: np.ndarray, number: np.ndarray) -> set[tuple[int, int]]:
    """The check as it was: every two claims with one number, scoring as two people."""
    return {
        (i, j)
        for i in range(len(number))
        for j in range(i + 1, len(number))
        if number[i] >= 0 and number[i] == number[j] and dice(clks, i, j) < DIFFERENT
    }


@pytest.fixture()
def counted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many pairs each call of the cross-check's Dice kernel scored."""
    calls: list[int] = []
    kernel = cc.dice_indexed

    def counting(a: np.ndarray, b: np.ndarray, ia: np.ndarray, ib: np.ndarray) -> np.ndarray:
        calls.append(len(ia))
        return kernel(a, b, ia, ib)

    monkeypatch.setattr(cc, "dice_indexed", counting)
    return calls


# ------------------------------------------------------------------------ the core


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(st.integers(1, GROUP_LIMITS.exact), min_size=1, max_size=12),
    persons=st.integers(1, 3),
    seed=st.integers(0, 2**32 - 1),
)
def test_small_groups_compare_every_two_claims_as_before(
    sizes: list[int], persons: int, seed: int
) -> None:
    """Up to ``exact`` claims on a number: exactly the pairs of the all-pairs check."""
    rng = np.random.default_rng(seed)
    number = np.repeat(np.arange(len(sizes)), sizes)
    number[rng.random(len(number)) < 0.1] = -1  # some claims carry no number
    base = people(rng, persons)
    clks = variants(rng, base[rng.integers(0, persons, len(number))], 0.02)
    score = rng.random(len(number))
    a, b = shared_number_pairs(clks, number, DIFFERENT, score)
    assert set(zip(a.tolist(), b.tolist(), strict=True)) == all_pairs(clks, number)
    assert (a < b).all()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    size=st.integers(GROUP_LIMITS.exact + 1, 40),
    persons=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_large_groups_flag_whoever_differs_from_a_representative(
    size: int, persons: int, seed: int
) -> None:
    """Above ``exact``: every pair found is one the all-pairs check finds too, every
    claim unlike the best-scoring claim is flagged, and at most 2 comparisons a claim."""
    rng = np.random.default_rng(seed)
    base = people(rng, persons)
    who = rng.integers(0, persons, size)
    clks = variants(rng, base[who], 0.02)
    number = np.zeros(size, np.int64)
    score = rng.random(size)
    a, b = shared_number_pairs(clks, number, DIFFERENT, score)
    found = set(zip(a.tolist(), b.tolist(), strict=True))
    assert found <= all_pairs(clks, number)
    assert len(found) == len(a) <= 2 * (size - 1)
    rep = int(np.argmax(score))
    flagged = set(a.tolist()) | set(b.tolist())
    unlike = {i for i in range(size) if i != rep and dice(clks, i, rep) < DIFFERENT}
    assert unlike <= flagged
    if persons > 1 and len(set(who.tolist())) > 1:  # two people: both sides are flagged
        assert flagged == set(range(size))


def test_a_group_of_two_people_is_flagged_like_the_all_pairs_check() -> None:
    """Twelve claims of A (the number's owner, best scores) and eight of B on one number:
    every claim flagged, as comparing every two would; A's claims among themselves and
    B's among themselves are one person."""
    rng = np.random.default_rng(3)
    a_, b_ = people(rng, 2)
    clks = np.concatenate([variants(rng, np.repeat(a_[None], 12, 0), 0.02)] * 1)
    clks = np.concatenate([clks, variants(rng, np.repeat(b_[None], 8, 0), 0.02)])
    score = np.r_[np.full(12, 0.9), np.full(8, 0.3)]
    number = np.zeros(20, np.int64)
    a, b = shared_number_pairs(clks, number, DIFFERENT, score)
    assert set(a.tolist()) | set(b.tolist()) == set(range(20))
    assert all((i < 12) != (j < 12) for i, j in zip(a, b, strict=True))  # always A with B
    same = variants(rng, np.repeat(a_[None], 20, 0), 0.02)
    a, b = shared_number_pairs(same, number, DIFFERENT, score)
    assert len(a) == 0  # one person twenty times: nothing to flag


def test_the_representative_is_the_best_scoring_claim() -> None:
    """Above ``exact``, claims are compared with the claim scoring best against the
    register, not with each other: two claims each like it (Dice 0.67) but unlike each
    other (0.33) are not flagged, though comparing every two would flag them."""
    r = np.zeros(WORDS * 64, bool)
    r[:300] = True
    x, y = r.copy(), r.copy()
    x[:100], x[300:400] = False, True
    y[100:200], y[400:500] = False, True
    rows = [x] + [r] * 8 + [y]  # x first in file order, y last
    clks = np.packbits(np.array(rows), axis=1).view("<u8").copy()
    assert dice(clks, 0, 1) == pytest.approx(2 / 3) and dice(clks, 0, 9) == pytest.approx(1 / 3)
    number = np.zeros(10, np.int64)
    score = np.r_[0.6, np.full(8, 0.95), 0.6]
    a, b = shared_number_pairs(clks, number, DIFFERENT, score)
    assert len(a) == 0
    assert all_pairs(clks, number) == {(0, 9)}
    a, b = shared_number_pairs(clks, number, DIFFERENT, score, GroupLimits(exact=10))
    assert list(zip(a.tolist(), b.tolist(), strict=True)) == [(0, 9)]


def test_five_thousand_claims_on_one_number_cost_linear_comparisons(counted: list[int]) -> None:
    """5,000 strangers on one number (a placeholder) plus 300 ordinary pairs: every
    stranger flagged, with at most 2 comparisons each; the all-pairs check would score
    12.5 million pairs."""
    rng = np.random.default_rng(5)
    n = 5000
    clks = people(rng, n + 600)
    number = np.r_[np.zeros(n, np.int64), np.repeat(np.arange(n, n + 600, 2), 2)]
    score = rng.random(n + 600)
    a, b = shared_number_pairs(clks, number, DIFFERENT, score)
    assert set(a.tolist()) | set(b.tolist()) >= set(range(n))
    assert sum(counted) <= 2 * n + 300
    assert len(a) <= 2 * n + 300
    assert many_records(number).sum() == n


def test_pairs_within_groups_is_still_every_pair() -> None:
    keys = np.array([5, 1, 5, 5, 2, 1])
    a, b = pairs_within_groups(keys)
    assert sorted(zip(a.tolist(), b.tolist(), strict=True)) == [
        (0, 2),
        (0, 3),
        (1, 5),
        (2, 3),
    ]


def test_many_records_counts_whole_groups() -> None:
    limits = GroupLimits(exact=2, many=3)
    number = np.array([0, 0, 0, 3, 3, 3, 3, -1, 8])
    assert many_records(number, limits).tolist() == [0, 0, 0, 1, 1, 1, 1, 0, 0]
    assert not many_records(np.full(4, -1)).any()
    assert not many_records(np.empty(0, np.int64)).any()


@pytest.mark.parametrize(
    ("exact", "many"), [(0, 50), (8, 0), (9, 8), (True, 50), (8, 2.5), (-1, -1)]
)
def test_group_limits_are_checked(exact: object, many: object) -> None:
    with pytest.raises(ValueError, match="group limit"):
        GroupLimits(exact=exact, many=many)  # type: ignore[arg-type]


def test_the_new_reason_is_a_cross_check_with_its_own_bit() -> None:
    """Appended as the next bit: the codes stored before keep their bits."""
    assert Reason.NUMBER_CLAIMED_BY_MANY_RECORDS.value == 1 << 10
    assert Reason.ALTERNATIVE_CLAIMED_BY_OTHER_RECORD.value == 1 << 9
    assert Reason.NUMBER_CLAIMED_BY_MANY_RECORDS & CROSS_CHECK_REASONS
    assert max(r.value for r in Reason) < 1 << 16  # fits the uint16 reason masks


# ------------------------------------------------------------------ through verify


def write(path: Path, clks: np.ndarray, numbers: list[int | None], label: str) -> None:
    n = len(clks)
    tokens = np.zeros((n, 32), np.uint8)
    for i, t in enumerate(numbers):
        if t is not None:
            tokens[i] = np.frombuffer(t.to_bytes(4, "little") * 8, np.uint8)
    write_encodings(
        Encodings(
            rows=np.arange(n, dtype=np.int64),
            tokens=tokens,
            has_token=np.array([t is not None for t in numbers]),
            clks=clks,
            meta={
                "party": label,
                "key_fingerprint": "a" * 16,
                "schema_digest": "b" * 32,
                "schema_name": "jp-resident",
            },
            block_keys={"all": (np.arange(n, dtype=np.uint64) % 7, np.ones(n, bool))},
        ),
        path,
    )


def placeholder_case(root: Path, group: int, seed: int = 11) -> tuple[Path, Path]:
    """A register of 200 people; claims: ``group`` records on number 0 (its owner first,
    then a weak match of the owner, then strangers and register people), then 100
    ordinary correct claims, one claims file."""
    rng = np.random.default_rng(seed)
    register = people(rng, 200)
    write(root / "register.parquet", register, list(range(200)), "register")
    owner = variants(rng, register[:1], 0.01)
    weak = variants(rng, register[:1], 0.3)  # the owner after a move: weak_score
    others = np.concatenate(
        [people(rng, group // 2), variants(rng, register[rng.integers(1, 200, group)], 0.01)]
    )[: group - 2]
    ordinary = variants(rng, register[100:200], 0.01)
    clks = np.concatenate([owner, weak, others, ordinary])
    write(root / "insurer.parquet", clks, [0] * group + list(range(100, 200)), "insurer")
    return root / "register.parquet", root / "insurer.parquet"


def findings(result) -> tuple[list[str], list[str]]:  # type: ignore[no-untyped-def]
    return (
        result.findings.column("status").to_pylist(),
        result.findings.column("reason").to_pylist(),
    )


def test_a_placeholder_number_is_flagged_on_every_claim(tmp_path: Path, counted: list[int]) -> None:
    """5,000 claims on one number: each gets ``number_claimed_by_many_records`` and none
    is confirmed; the owner's own claim goes to review, claims scoring low are suspect,
    a weak one is not confirmed; the ordinary claims beside them are untouched. Pairs
    scored: O(n)."""
    n = 5000
    ref, claims = placeholder_case(tmp_path, n)
    result = verify(ref, [claims], threads=1)
    status, reason = findings(result)
    assert all(MANY in r.split(";") for r in reason[:n])
    assert all(SHARED in r.split(";") for r in reason[:n])  # unlike the owner's claim
    assert "confirmed" not in status[:n]
    assert status[0] == "review" and "match" not in reason[0].split(";")
    # a weak claim on a placeholder number: the mislink model (fitted to these 5,000
    # claims, nearly all on the placeholder) takes it for a mislink
    assert status[1] in ("review", "suspect") and "weak_score" in reason[1]
    low = ["low_score" in r for r in reason[2:n]]
    assert all(low) and set(status[2:n]) == {"suspect"}
    assert set(status[n:]) == {"confirmed"}
    assert all(MANY not in r and SHARED not in r for r in reason[n:])
    assert result.summary.reasons[MANY] == n
    assert sum(counted) <= 2 * n  # the shared-number check's comparisons


@pytest.mark.parametrize(("group", "flagged"), [(GROUP_LIMITS.many, False), (51, True)])
def test_the_limit_is_more_than_many_claims(tmp_path: Path, group: int, flagged: bool) -> None:
    """50 claims on one number are not flagged as many; 51 are (the owner's confirmed
    claim then goes to review)."""
    assert GROUP_LIMITS.many == 50
    ref, claims = placeholder_case(tmp_path, group)
    status, reason = findings(verify(ref, [claims], threads=1))
    assert all((MANY in r) == flagged for r in reason[:group])
    assert status[0] == ("review" if flagged else "confirmed")
    assert "match" in reason[0].split(";") or flagged


def test_the_many_limit_counts_claims_of_every_file(tmp_path: Path) -> None:
    """30 claims in each of two files on one number are 60 on it: all flagged."""
    rng = np.random.default_rng(2)
    register = people(rng, 50)
    write(tmp_path / "register.parquet", register, list(range(50)), "register")
    for label in ("insurer", "bank"):
        write(tmp_path / f"{label}.parquet", people(rng, 30), [7] * 30, label)
    result = verify(
        tmp_path / "register.parquet",
        [tmp_path / "insurer.parquet", tmp_path / "bank.parquet"],
        threads=1,
    )
    assert all(MANY in r for r in result.findings.column("reason").to_pylist())


# --------------------------------------------------------------- the Dask engine


def test_dask_engine_gives_the_same_findings(tmp_path: Path, dask_scheduler: str) -> None:
    """A placeholder group, medium groups and ordinary claims, cut into several
    pseudonym-range partitions: the Dask engine's findings are the local engine's."""
    from pprl.engines.dask import verify_dask

    ref, claims = placeholder_case(tmp_path, 400)
    run: Callable[..., object] = verify_dask
    got = run(ref, [claims], scheduler=dask_scheduler, partition_rows=64)
    want = verify(ref, [claims], threads=1)
    assert got.findings.equals(want.findings)  # type: ignore[attr-defined]
    assert want.summary.reasons[MANY] == 400
