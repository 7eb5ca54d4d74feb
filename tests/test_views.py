"""What each party receives: views built from findings, checked on random findings.

Property tests build findings with random claims files, random party assignments and
random cross-check partners, and check that a party's view holds exactly the rows of
its own files, names a cross-check reason only when the other record is the party's
own, and without scores names no score band.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pprl.errors import InputError
from pprl.verify.model import (
    CROSS_CHECK_REASONS,
    STATUSES,
    InputInfo,
    Reason,
    Thresholds,
    VerifySummary,
)
from pprl.verify.outputs import (
    OTHER_RECORD_CONFLICT,
    SCORE_BAND_REASONS,
    VerifyResult,
    deliveries,
    party_view,
    reason_masks,
    reason_texts,
    same_party_reasons,
    with_cases,
)
from pprl.verify.outputs import reference_view as make_reference_view

LABELS = ["insurer", "bank", "協会けんぽ", "pension-01"]
CROSS_CODES = {r.label for r in Reason if r & CROSS_CHECK_REASONS}
BAND_CODES = {r.label for r in Reason if r & SCORE_BAND_REASONS}
NSDP = Reason.NUMBER_SHARED_BY_DIFFERENT_PEOPLE
PUSN = Reason.PERSON_UNDER_SEVERAL_NUMBERS
ACBOR = Reason.ALTERNATIVE_CLAIMED_BY_OTHER_RECORD


@st.composite
def worlds(draw: st.DrawFn) -> dict[str, object]:
    """Claims files of random sizes, each held by a random party, with random
    cross-check partners and the reasons they set."""
    sizes = draw(st.lists(st.integers(0, 6), min_size=1, max_size=5))
    holders = [draw(st.sampled_from(LABELS)) for _ in sizes]
    n = sum(sizes)
    file_of = np.repeat(np.arange(len(sizes)), sizes).astype(np.int64)
    ints = st.integers(-1, max(n - 1, 0))
    refs = st.integers(-1, 5)
    pairs = draw(st.lists(st.tuples(ints, ints), max_size=8)) if n > 1 else []
    a = np.array([i for i, j in pairs if 0 <= i < j], dtype=np.int64)
    b = np.array([j for i, j in pairs if 0 <= i < j], dtype=np.int64)
    near = np.array([draw(ints) for _ in range(n)], dtype=np.int64)
    near[near == np.arange(n)] = -1
    claimed = np.array([draw(refs) for _ in range(n)], dtype=np.int64)
    cand = np.array([draw(refs) for _ in range(n)], dtype=np.int64)
    cand[cand == claimed] = -1
    other = [draw(st.integers(0, (1 << 7) - 1)) for _ in range(n)]  # register reasons
    masks = np.array(other, dtype=np.uint16)
    masks[a] |= np.uint16(NSDP)
    masks[b] |= np.uint16(NSDP)
    masks[near >= 0] |= np.uint16(PUSN)
    for i in range(n):
        if cand[i] >= 0 and any(claimed[j] == cand[i] for j in range(n) if j != i):
            masks[i] |= np.uint16(ACBOR)
    return {
        "sizes": sizes,
        "holders": holders,
        "file_of": file_of,
        "a": a,
        "b": b,
        "near": near,
        "claimed": claimed,
        "cand": cand,
        "masks": masks,
        "status": [draw(st.sampled_from(STATUSES)) for _ in range(n)],
    }


def result_of(w: dict[str, object]) -> VerifyResult:
    sizes, holders = w["sizes"], w["holders"]
    file_of = np.asarray(w["file_of"])
    n = len(file_of)
    party_of_file = np.array([LABELS.index(h) for h in holders], dtype=np.int64)
    party = party_of_file[file_of] if n else np.zeros(0, np.int64)
    findings = pa.table(
        {
            "claims_file": pa.array([f"f{f}.parquet" for f in file_of], pa.string()),
            "claims_party": pa.array([holders[f] for f in file_of], pa.string()),
            "claim_row": pa.array(np.concatenate([np.arange(s) for s in sizes]).astype(np.int64)),
            "status": pa.array(w["status"], pa.string()),
            "score": pa.array(np.linspace(0, 1, n)),
            "reason": reason_texts(np.asarray(w["masks"])),
        }
    )
    same = same_party_reasons(
        party,
        np.asarray(w["claimed"]),
        np.asarray(w["cand"]),
        np.asarray(w["a"]),
        np.asarray(w["b"]),
        np.asarray(w["near"]),
    )
    summary = VerifySummary(
        pprl_version="test",
        claims=n,
        counts={},
        reasons={},
        thresholds=Thresholds(),
        blocking=[],
        inputs=[InputInfo(file="register.parquet", role="reference", party="register", records=6)],
    )
    per_claims = [(h, findings.slice(0, 0)) for h in holders]
    return VerifyResult(findings, summary, per_claims, findings.slice(0, 0), same)


def partners(w: dict[str, object], i: int, reason: Reason) -> set[int]:
    """The claims behind ``reason`` on claim ``i``, found the slow way."""
    a, b = list(np.asarray(w["a"])), list(np.asarray(w["b"]))
    near, claimed, cand = (np.asarray(w[k]) for k in ("near", "claimed", "cand"))
    if reason == NSDP:
        return {y for x, y in zip(a, b, strict=True) if x == i} | {
            x for x, y in zip(a, b, strict=True) if y == i
        }
    if reason == PUSN:
        return {int(near[i])} if near[i] >= 0 else set()
    return {j for j in range(len(claimed)) if j != i and cand[i] >= 0 and claimed[j] == cand[i]}


def codes(text: str | None) -> set[str]:
    return set(filter(None, (text or "").split(";")))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds(), st.booleans())
def test_a_party_sees_its_own_rows_and_its_own_conflicts_only(w, with_scores):
    result = result_of(w)
    holders = w["holders"]
    file_of = np.asarray(w["file_of"])
    masks = np.asarray(w["masks"])
    labels = dict.fromkeys(holders)
    views = deliveries(result, with_scores)
    assert [d.party for d in views] == [*labels, "register"]
    assert len({d.name.casefold() for d in views}) == len(views)  # one file each
    for d in views[:-1]:
        view = d.table.to_pylist()
        mine = [i for i in range(len(file_of)) if holders[file_of[i]] == d.party]
        # exactly the rows of the party's own files, in findings order, named as its own
        assert [(r["claims_file"], r["claim_row"]) for r in view] == [
            (f"f{file_of[i]}.parquet", result.findings.column("claim_row")[i].as_py()) for i in mine
        ]
        assert {r["party"] for r in view} <= {d.party}
        assert d.table.schema.metadata[b"pprl.party"] == d.party.encode()
        assert ("score" in d.table.column_names) == with_scores
        for i, row in zip(mine, view, strict=True):
            shown = codes(row["reason"])
            full = {r.label for r in Reason if masks[i] & r.value}
            for reason in (NSDP, PUSN, ACBOR):
                own = any(holders[file_of[j]] == d.party for j in partners(w, i, reason))
                assert (reason.label in shown) == (reason.label in full and own), (i, reason)
            if not with_scores:
                assert not shown & BAND_CODES
                assert OTHER_RECORD_CONFLICT not in shown
            else:
                assert shown - {OTHER_RECORD_CONFLICT} == full - (CROSS_CODES - shown)
                if OTHER_RECORD_CONFLICT in shown:
                    assert shown == {OTHER_RECORD_CONFLICT} and full <= CROSS_CODES
        # and the same holds for the file a party receives: the CSV reads back as the view
        with tempfile.TemporaryDirectory() as tmp:
            from pprl.csvout import write_csv

            write_csv(d.table, Path(tmp) / d.name)
            back = pacsv.read_csv(
                Path(tmp) / d.name,
                convert_options=pacsv.ConvertOptions(strings_can_be_null=False),
            )
            assert back.column("claim_row").to_pylist() == d.table.column("claim_row").to_pylist()
            assert set(back.column("party").to_pylist()) <= {d.party}


def case_findings(w: dict[str, object], order: np.ndarray | None = None) -> pa.Table:
    """The world's claims as findings with register rows (in ``order``, default as drawn)."""
    n = len(np.asarray(w["file_of"]))
    idx = np.arange(n) if order is None else order
    claimed, cand = np.asarray(w["claimed"])[idx], np.asarray(w["cand"])[idx]
    return pa.table(
        {
            "claims_party": pa.array([w["holders"][f] for f in np.asarray(w["file_of"])[idx]]),
            "claim_row": pa.array(idx.astype(np.int64)),
            "status": pa.array([w["status"][i] for i in idx], pa.string()),
            "candidate_ref_row": pa.array(cand, pa.int64(), mask=cand < 0),
            "claimed_ref_row": pa.array(claimed, pa.int64(), mask=claimed < 0),
        }
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds(), st.binary(min_size=32, max_size=32), st.randoms(use_true_random=False))
def test_cases_pair_register_rows_and_say_nothing_else(w, key, rnd):
    """Claims share a case exactly when they name the same claimed row, likely owner and
    status; the register holder's view lists each case's rows once and is the same
    whichever parties, files, rows and how many claims stand behind its cases."""
    findings = with_cases(case_findings(w), key)
    n = findings.num_rows
    status, case = w["status"], findings.column("case").to_pylist()
    claimed, cand = np.asarray(w["claimed"]), np.asarray(w["cand"])
    for i in range(n):
        assert (case[i] is None) == (status[i] == "confirmed")
        for j in range(n):
            if case[i] is None or case[j] is None:
                continue
            same = (claimed[i], cand[i], status[i]) == (claimed[j], cand[j], status[j])
            alone = claimed[i] < 0 and cand[i] < 0
            assert (case[i] == case[j]) == (i == j or (same and not alone)), (i, j)
    view = make_reference_view(findings, "register")
    assert view.column_names == ["party", "ref_row", "role", "status", "case"]
    rows = view.to_pylist()
    assert [(r["case"], r["role"]) for r in rows] == sorted({(r["case"], r["role"]) for r in rows})
    want = {
        (case[i], role, int(row), status[i])
        for i in range(n)
        if case[i] is not None
        for role, row in (("claimed", claimed[i]), ("likely_true_owner", cand[i]))
        if row >= 0
    }
    assert {(r["case"], r["role"], r["ref_row"], r["status"]) for r in rows} == want
    # the same claims in another order, some twice, from other parties: the same view
    order = rnd.sample(range(n), n) + [rnd.randrange(n) for _ in range(n and 3)]
    again = case_findings(w, np.array(order, dtype=np.int64))
    again = again.set_column(0, "claims_party", pa.array(["bank"] * again.num_rows))
    assert make_reference_view(with_cases(again, key), "register").equals(view)
    # and each claims party's view carries its claims' case ids
    result = result_of(w)
    result.findings = result.findings.append_column("case", findings.column("case"))
    for d in deliveries(result)[:-1]:
        mine = [i for i in range(n) if w["holders"][np.asarray(w["file_of"])[i]] == d.party]
        assert d.table.column("case").to_pylist() == [case[i] for i in mine]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, (1 << 10) - 1), max_size=30))
def test_reason_masks_invert_reason_texts(masks):
    arr = np.array(masks, dtype=np.uint16)
    assert reason_masks(reason_texts(arr)).tolist() == arr.tolist()


def test_party_view_selects_by_party_not_by_file():
    findings = pa.table(
        {
            "claims_file": ["x.parquet", "y.parquet", "x.parquet"],
            "claims_party": ["bank", "insurer", "bank"],
            "claim_row": pa.array([0, 0, 1], pa.int64()),
            "status": ["review", "suspect", "confirmed"],
            "score": [0.7, 0.2, 0.9],
            "reason": ["weak_score;number_shared_by_different_people", "low_score", "match"],
        }
    )
    view = party_view(findings, "bank", with_scores=False)
    assert view.column_names == ["party", "claims_file", "claim_row", "status", "reason"]
    assert view.to_pylist() == [
        {
            "party": "bank",
            "claims_file": "x.parquet",
            "claim_row": 0,
            "status": "review",
            "reason": "",
        },
        {
            "party": "bank",
            "claims_file": "x.parquet",
            "claim_row": 1,
            "status": "confirmed",
            "reason": "match",
        },
    ]
    assert party_view(findings, "nobody").num_rows == 0


@pytest.mark.parametrize(
    "label", ["a/b", "a[/x]", "ins\x1b[2J", "=HYPERLINK(1)", "y" * 5000, "..", "a b"]
)
def test_encode_refuses_bad_labels_before_reading(tmp_path, label):
    """``--party`` is checked before the CSV is opened (this CSV does not exist)."""
    from pprl.keys import Secret
    from pprl.party import encode_csv
    from pprl.schema import load_schema

    secret = Secret("0" * 64)
    with pytest.raises(InputError) as err:
        encode_csv(tmp_path / "none.csv", load_schema("jp-resident"), secret, party=label)
    message = str(err.value)
    assert "--party" in message and "\n" not in message and "\x1b" not in message
    assert repr(label[:40])[1:-1][:20] in message


def test_encode_refuses_a_file_name_that_is_no_label(tmp_path):
    from pprl.party import party_label

    with pytest.raises(InputError, match=r"my insurer.*--party"):
        party_label(None, tmp_path / "my insurer.csv")
    assert party_label(None, tmp_path / "協会けんぽ.csv") == "協会けんぽ"
    assert party_label("bank", tmp_path / "my insurer.csv") == "bank"


def test_match_links_csv_is_spreadsheet_safe(tmp_path):
    """``write_links`` goes through :func:`pprl.csvout.write_csv`: a text column holding a
    formula is written as text, numbers as numbers."""
    from pprl.match import write_links

    table = pa.table({"a_row": [0, 1], "note": ["=1+1", "ok"], "score": [0.9, -0.5]})
    path = write_links(table, tmp_path / "links.csv")
    back = pacsv.read_csv(path)
    assert back.column("note").to_pylist() == ["'=1+1", "ok"]
    assert back.column("score").to_pylist() == [0.9, -0.5]
