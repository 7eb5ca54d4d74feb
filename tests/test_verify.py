"""Verification on hand-built encodings: every status, reason and cross-check."""

from __future__ import annotations

import json
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest

from pprl.errors import InputError, MismatchError, PprlError
from pprl.store import Encodings, write_encodings
from pprl.verify import Thresholds, verify, write_outputs
from pprl.verify.outputs import CASE_PATTERN, case_ids, reference_view

WORDS = 16


@pytest.fixture()
def rng() -> np.random.Generator:
    """A generator seeded per test, so fixtures do not depend on the order tests run in."""
    return np.random.default_rng(7)


def person(rng: np.random.Generator) -> np.ndarray:
    """A random 1024-bit CLK with about 30% of bits set."""
    bits = rng.random(WORDS * 64) < 0.3
    return np.packbits(bits).view("<u8").copy()


def variant(rng: np.random.Generator, clk: np.ndarray, keep: float) -> np.ndarray:
    """Keep a fraction of the set bits and add as many random ones: Dice about ``keep``."""
    bits = np.unpackbits(clk.view(np.uint8)).astype(bool)
    on = np.flatnonzero(bits)
    off = np.flatnonzero(~bits)
    drop = rng.choice(on, int(round(len(on) * (1 - keep))), replace=False)
    add = rng.choice(off, len(drop), replace=False)
    bits[drop] = False
    bits[add] = True
    return np.packbits(bits).view("<u8").copy()


def token(i: int) -> np.ndarray:
    return np.frombuffer(i.to_bytes(4, "little") * 8, dtype=np.uint8)


def encodings(clks, tokens, label, path, schema=None) -> Encodings:
    n = len(clks)
    has = np.array([t is not None for t in tokens])
    toks = np.stack([token(t) if t is not None else np.zeros(32, np.uint8) for t in tokens])
    enc = Encodings(
        rows=np.arange(n, dtype=np.int64),
        tokens=toks,
        has_token=has,
        clks=np.stack(clks),
        meta={
            "party": label,
            "key_fingerprint": "a" * 16,
            "schema_digest": "b" * 32,
            "schema_name": "jp-resident",
            **({"schema": schema} if schema else {}),
        },
        block_keys={"all": (np.zeros(n, np.uint64), np.ones(n, bool))},
    )
    write_encodings(enc, path)
    return enc


@pytest.fixture()
def case(tmp_path, rng):
    a, b, c, e = person(rng), person(rng), person(rng), person(rng)
    c_twin = variant(rng, c, 0.99)
    register = [a, b, c, c_twin, person(rng)]
    write = encodings(register, [1, 2, 3, 4, 5], "register", tmp_path / "register.parquet")
    a_claimed = variant(rng, a, 0.97)
    claims = [
        (a_claimed, 1),  # 0 confirmed
        (
            variant(rng, b, 0.97),
            1,
        ),  # 1 B's record under A's number: suspect, better match elsewhere
        (variant(rng, a, 0.56), 1),  # 2 weak: review
        (e, 1),  # 3 unrelated person, not in register: suspect, low score
        (variant(rng, a_claimed, 0.98), None),  # 4 invalid number
        (variant(rng, a_claimed, 0.98), 99),  # 5 unknown number, the same person as claim 0
        (c.copy(), 3),  # 6 twin: thin evidence, review
    ]
    encodings(
        [c for c, _ in claims], [t for _, t in claims], "insurer", tmp_path / "insurer.parquet"
    )
    return tmp_path, write


def run(tmp_path, **kw):
    return verify(tmp_path / "register.parquet", [tmp_path / "insurer.parquet"], **kw)


def column(result, name):
    return result.findings.column(name).to_pylist()


def test_statuses_and_reasons(case):
    tmp_path, _ = case
    result = run(tmp_path)
    status, reason = column(result, "status"), column(result, "reason")
    assert status[0] == "confirmed"
    assert status[1] == "suspect" and "better_match_elsewhere" in reason[1]
    assert status[2] == "review" and "weak_score" in reason[2]
    assert status[3] == "suspect" and "low_score" in reason[3]
    assert status[4] == "invalid_number" and reason[4].startswith("no_valid_number")
    assert status[5] == "unknown_number" and reason[5].startswith("no_register_record")
    assert status[6] == "review" and "thin_evidence" in reason[6]


def test_best_alternative_is_the_true_owner(case):
    tmp_path, _ = case
    result = run(tmp_path)
    cand, claimed = column(result, "candidate_ref_row"), column(result, "claimed_ref_row")
    assert claimed[1] == 0 and cand[1] == 1  # claimed A, really B
    assert cand[4] == 0 and cand[5] == 0  # invalid/unknown numbers: owner is A
    assert cand[6] == 3  # the twin
    assert cand[0] != claimed[0]
    margin = column(result, "margin")[1]
    scores = column(result, "candidate_score")[1] - column(result, "score")[1]
    assert margin == pytest.approx(scores)


def test_cross_checks(case):
    tmp_path, _ = case
    reason = column(run(tmp_path), "reason")
    # claims 0-3 share number 1 but are different people
    assert "number_shared_by_different_people" in reason[1]
    assert "number_shared_by_different_people" in reason[3]
    # claim 4 (no number) and 5 (unknown number) are A again: the same person as claim 0
    # is claimed under number 99 and number 1
    assert "person_under_several_numbers" in reason[5]


def test_alternative_claimed_by_another_record(case):
    """A claim whose best alternative is a register record other claims hold is flagged;
    one whose alternative nobody claims is not."""
    tmp_path, _ = case
    reason = column(run(tmp_path), "reason")
    assert "alternative_claimed_by_other_record" in reason[5]  # A, claimed by claim 0
    assert "alternative_claimed_by_other_record" in reason[4]
    assert "alternative_claimed_by_other_record" not in reason[1]  # B: nobody claims it
    assert "alternative_claimed_by_other_record" not in reason[6]  # the twin's record


def test_thresholds_are_options(case):
    tmp_path, _ = case
    strict = run(tmp_path, thresholds=Thresholds(confirm_score=0.999))
    assert column(strict, "status")[0] == "review"


TUNED = {"pprl": {"verify": {"confirm_score": 0.7, "suspect_score": 0.3, "search_score": 0.4}}}


def test_threshold_overrides_keep_the_schemas_tuned_values(tmp_path, rng):
    """A mapping overrides single values on top of the schema's; a full Thresholds is used
    exactly as given; no thresholds means the schema's values."""
    a = person(rng)
    encodings([a], [1], "register", tmp_path / "register.parquet", schema=TUNED)
    encodings([variant(rng, a, 0.9)], [1], "insurer", tmp_path / "insurer.parquet", schema=TUNED)
    tuned = Thresholds(confirm_score=0.7, suspect_score=0.3, search_score=0.4)
    assert run(tmp_path).summary.thresholds == tuned
    overridden = run(tmp_path, thresholds={"confirm_score": 0.8, "margin_suspect": None})
    assert overridden.summary.thresholds == Thresholds(
        confirm_score=0.8, suspect_score=0.3, search_score=0.4
    )
    given = Thresholds(confirm_score=0.9)
    assert run(tmp_path, thresholds=given).summary.thresholds == given
    with pytest.raises(InputError, match="unknown verification threshold"):
        run(tmp_path, thresholds={"confirm": 0.8})
    with pytest.raises(InputError, match="must not exceed"):
        run(tmp_path, thresholds={"suspect_score": 0.9})


def test_summary_names_the_keys_searched_and_when(case, tmp_path):
    """``blocking`` lists the block keys actually searched (here the only shared one, not
    the register's extra key); ``started_at`` is ISO 8601 UTC."""
    from datetime import datetime

    path, _ = case
    from pprl.store import read_encodings

    reg = read_encodings(path / "register.parquet")
    reg.block_keys["register_only"] = (
        np.arange(len(reg), dtype=np.uint64),
        np.ones(len(reg), bool),
    )
    del reg.meta["digest"]
    write_encodings(reg, tmp_path / "register.parquet")
    result = verify(tmp_path / "register.parquet", [path / "insurer.parquet"])
    assert result.summary.blocking == ["all"]
    started = datetime.fromisoformat(result.summary.started_at)
    assert started.utcoffset() is not None and started.utcoffset().total_seconds() == 0
    assert result.summary.to_json()["started_at"] == result.summary.started_at


def test_local_engine_reads_fsspec_urls(case):
    """``file://`` URLs give the same findings as paths."""
    tmp_path, _ = case
    plain = run(tmp_path)
    urls = verify(
        f"file://{tmp_path / 'register.parquet'}", [f"file://{tmp_path / 'insurer.parquet'}"]
    )
    assert urls.findings.drop(["claims_file"]).equals(plain.findings.drop(["claims_file"]))
    assert urls.findings.column("claims_file").to_pylist()[0] == "insurer.parquet"


def test_missing_url_is_one_line_error(tmp_path):
    with pytest.raises(InputError, match="cannot open|not found|No such file"):
        verify(f"file://{tmp_path / 'nothing.parquet'}", [f"file://{tmp_path / 'x.parquet'}"])


def test_threads_option_gives_identical_findings(case):
    tmp_path, _ = case
    assert run(tmp_path, threads=1).findings.equals(run(tmp_path, threads=2).findings)


def test_outputs_written(case, tmp_path):
    path, _ = case
    result = run(path)
    out = tmp_path / "out"
    write_outputs(result, out)
    names = {p.name for p in out.rglob("*") if p.is_file()}
    assert {
        "findings.csv",
        "findings.parquet",
        "summary.json",
        "report.html",
        "insurer.csv",
        "register.reference.csv",
    } <= names
    summary = json.loads((out / "summary.json").read_text())
    assert summary["counts"]["suspect"] == 2
    assert sum(summary["counts"].values()) == 7
    party = (out / "parties" / "insurer.csv").read_text()
    assert "candidate_ref_row" not in party and "claimed_ref_row" not in party
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]


def test_mismatched_inputs_refused(case, rng):
    tmp_path, _ = case
    other = encodings([person(rng)], [1], "x", tmp_path / "other.parquet")
    other.meta["key_fingerprint"] = "c" * 16
    write_encodings(other, tmp_path / "other.parquet")
    with pytest.raises(MismatchError, match="different secrets"):
        verify(tmp_path / "register.parquet", [tmp_path / "other.parquet"])


def test_reference_as_claims_refused(case):
    tmp_path, _ = case
    with pytest.raises(InputError, match="reference file itself"):
        verify(tmp_path / "register.parquet", [tmp_path / "register.parquet"])


def test_duplicate_register_numbers_are_reported(tmp_path, rng):
    a = person(rng)
    encodings(
        [variant(rng, a, 0.7), a, person(rng), person(rng)],
        [1, 1, 2, 2],
        "register",
        tmp_path / "register.parquet",
    )
    encodings([variant(rng, a, 0.98)], [1], "insurer", tmp_path / "insurer.parquet")
    result = run(tmp_path)
    assert column(result, "claimed_ref_row") == [1]
    assert any("holds 2 pseudonym(s) more than once" in w for w in result.summary.warnings)


def test_pseudonyms_sharing_their_first_bytes_are_different_numbers(tmp_path, rng):
    """Pseudonyms are compared on all 32 bytes: two that share the first 8 bytes (the
    sort key) are two numbers, neither a duplicate nor a shared number."""
    a, b = person(rng), person(rng)
    reg = encodings([a, b], [1, 2], "register", tmp_path / "register.parquet")
    reg.tokens[1, :8] = reg.tokens[0, :8]  # same first 8 bytes, different pseudonyms
    del reg.meta["digest"]
    write_encodings(reg, tmp_path / "register.parquet")
    claims = encodings(
        [variant(rng, a, 0.97), variant(rng, b, 0.97)],
        [1, 2],
        "insurer",
        tmp_path / "insurer.parquet",
    )
    claims.tokens[:] = reg.tokens
    del claims.meta["digest"]
    write_encodings(claims, tmp_path / "insurer.parquet")
    result = run(tmp_path)
    assert column(result, "claimed_ref_row") == [0, 1]
    assert column(result, "status") == ["confirmed", "confirmed"]
    assert not result.summary.warnings


SCORE_BANDS = {"low_score", "weak_score", "thin_evidence", "better_match_elsewhere"}
CROSS = {
    "number_shared_by_different_people",
    "person_under_several_numbers",
    "alternative_claimed_by_other_record",
}


def codes(text: str) -> set[str]:
    return set(filter(None, text.split(";")))


def test_scores_can_be_withheld_from_claims_parties(case, tmp_path):
    """Without scores a claims party gets statuses, but no reason that places its score
    or its best alternative's in a band; the findings keep every reason."""
    path, _ = case
    out = tmp_path / "out"
    result = run(path)
    write_outputs(result, out, party_scores=False)
    view = pacsv.read_csv(out / "parties" / "insurer.csv")
    assert view.column_names == ["party", "claims_file", "claim_row", "status", "reason", "case"]
    assert view.column("status").to_pylist() == column(result, "status")
    assert [c or None for c in view.column("case").to_pylist()] == column(result, "case")
    full = [codes(r) for r in column(result, "reason")]
    assert set().union(*full) & SCORE_BANDS  # the findings have them ...
    shown = [codes(r or "") for r in view.column("reason").to_pylist()]
    assert not set().union(*shown) & SCORE_BANDS  # ... the party's view has none
    assert shown == [f - SCORE_BANDS for f in full]  # all its own records: the rest stays


def test_views_name_their_party_inside(case, tmp_path):
    """Every view says whose it is: a ``party`` column in CSV and Parquet, and the label
    in the Parquet schema metadata (so an empty view names its party too)."""
    import pyarrow.parquet as pq

    path, _ = case
    out = tmp_path / "out"
    write_outputs(run(path), out, formats=("parquet",))
    claims = pq.read_table(out / "parties" / "insurer.parquet")
    ref = pq.read_table(out / "parties" / "register.reference.parquet")
    assert set(claims.column("party").to_pylist()) == {"insurer"}
    assert set(ref.column("party").to_pylist()) == {"register"}
    assert claims.schema.metadata[b"pprl.party"] == b"insurer"
    assert ref.schema.metadata[b"pprl.party"] == b"register"
    assert ref.schema.metadata[b"pprl.view"] == b"reference"


def test_summary_maps_each_party_to_its_file_and_digest(case, tmp_path):
    """summary.json says which file went to which party, with the file's blake3 digest,
    and the manifest agrees."""
    from blake3 import blake3

    path, _ = case
    out = tmp_path / "out"
    write_outputs(run(path), out)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    parties = {(p["party"], p["role"]): p for p in summary["parties"]}
    assert set(parties) == {("insurer", "claims"), ("register", "reference")}
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    listed = {f["path"]: f for f in manifest["files"]}
    for entry in parties.values():
        data = (out / entry["file"]).read_bytes()
        assert entry["blake3"] == blake3(data).hexdigest()
        assert listed[entry["file"]]["party"] == entry["party"]


def test_reference_view_shows_register_rows_not_other_parties_records(case):
    """The register holder learns which of its rows are involved and how, paired by case,
    not which party or claim row; each (case, role) once, sorted by the random case id."""
    path, _ = case
    result = run(path)
    ref = result.reference_view
    assert ref.column_names == ["party", "ref_row", "role", "status", "case"]
    rows = list(
        zip(
            *(ref.column(c).to_pylist() for c in ("case", "role", "ref_row", "status")), strict=True
        )
    )
    assert rows == sorted(rows) and len({r[:2] for r in rows}) == len(rows)
    assert all(re.fullmatch(CASE_PATTERN, r[0]) for r in rows)
    cases: dict[str, dict[str, int]] = {}
    for case_id, role, ref_row, _status in rows:
        cases.setdefault(case_id, {})[role] = ref_row
    # claim 1: B's record under A's number: A (row 0) claimed, B (row 1) its likely owner
    case_1 = column(result, "case")[1]
    assert cases[case_1] == {"claimed": 0, "likely_true_owner": 1}
    # claims 4 and 5 (invalid, unknown number) are A's records: A is the owner, nothing claimed
    case_4, case_5 = column(result, "case")[4:6]
    assert case_4 != case_5  # statuses differ
    assert cases[case_4] == cases[case_5] == {"likely_true_owner": 0}
    assert column(result, "case")[0] is None  # confirmed: no case
    findings = result.findings.filter(pc.not_equal(result.findings.column("status"), "confirmed"))
    want = {
        (c, role, r, s)
        for role, col in (
            ("claimed", "claimed_ref_row"),
            ("likely_true_owner", "candidate_ref_row"),
        )
        for c, r, s in zip(
            findings.column("case").to_pylist(),
            findings.column(col).to_pylist(),
            findings.column("status").to_pylist(),
            strict=True,
        )
        if r is not None
    }
    assert set(rows) == want


def test_claims_on_the_same_rows_share_one_case_and_ids_follow_the_inputs(case):
    """Claims with the same claimed row, likely owner and status are one case, whichever
    claim they are; ids are the same on a second run of the same files (any engine gives
    the same findings) and say nothing of the claim."""
    path, _ = case
    one, two = run(path), run(path)
    assert column(one, "case") == column(two, "case")
    findings = pa.table(
        {
            "status": ["suspect", "suspect", "review", "suspect", "unknown_number"] * 2,
            "claimed_ref_row": pa.array([3, 3, 3, 3, None] * 2, pa.int64()),
            "candidate_ref_row": pa.array([5, 5, 5, None, None] * 2, pa.int64()),
        }
    )
    ids = case_ids(findings, b"k" * 32).to_pylist()
    assert ids[0] == ids[1] == ids[5] == ids[6]  # same rows, same status
    assert len({ids[0], ids[2], ids[3], ids[4], ids[9]}) == 5  # status, owner, alone differ
    assert ids == case_ids(findings, b"k" * 32).to_pylist()  # keyed: reproducible
    other = case_ids(findings, b"j" * 32).to_pylist()
    assert not set(ids) & set(other)  # another key, other ids (2 in 20**8 odds of a clash)
    view = reference_view(findings.append_column("case", pa.array(ids)), "register")
    assert view.num_rows == 2 + 2 + 1  # (3, 5) suspect, (3, 5) review, (3, -); (-, -) none


def two_party_world(tmp_path, rng, labels):
    """Four claims in two files, with every cross-check between the files:

    * x0 (file 1) and y0 (file 2) are A's record, x0 under A's number, y0 under B's:
      person_under_several_numbers on both, and y0's alternative (A) is claimed by x0;
    * x1 (file 1) and y1 (file 2) claim C's number and are two different people, both
      scoring as a confirmed link: number_shared_by_different_people, the weaker raised
      to review.
    """
    a, b, c = person(rng), person(rng), person(rng)
    encodings([a, b, c], [1, 2, 3], "register", tmp_path / "register.parquet")
    encodings(
        [variant(rng, a, 0.99), variant(rng, c, 0.74)],
        [1, 3],
        labels[0],
        tmp_path / "one.parquet",
    )
    encodings(
        [variant(rng, a, 0.99), variant(rng, c, 0.74)],
        [2, 3],
        labels[1],
        tmp_path / "two.parquet",
    )
    return verify(
        tmp_path / "register.parquet", [tmp_path / "one.parquet", tmp_path / "two.parquet"]
    )


@pytest.mark.parametrize("with_scores", [True, False])
def test_cross_file_reasons_stay_with_their_party(tmp_path, with_scores):
    """A party's view names a conflict with another record only when that record is in
    the party's own files; one party with two files gets one view with all its rows."""
    (tmp_path / "two").mkdir()
    (tmp_path / "one").mkdir()
    split = two_party_world(tmp_path / "two", np.random.default_rng(11), ["insurer", "bank"])
    joint = two_party_world(tmp_path / "one", np.random.default_rng(11), ["insurer", "insurer"])
    # the findings (the operator's) are the same whoever holds the files; the case ids
    # are keyed by the files (their labels differ) but group the same claims
    assert split.findings.drop(["claims_party", "case"]).equals(
        joint.findings.drop(["claims_party", "case"])
    )
    a, b = column(split, "case"), column(joint, "case")
    assert [[x == y for y in a] for x in a] == [[x == y for y in b] for x in b]
    full = [codes(r) for r in split.findings.column("reason").to_pylist()]
    status = split.findings.column("status").to_pylist()
    assert {"person_under_several_numbers"} <= full[0] and full[2] >= {
        "person_under_several_numbers",
        "alternative_claimed_by_other_record",
    }
    assert "number_shared_by_different_people" in full[1] & full[3]
    raised = 1 if status[1] == "review" else 3
    assert status[raised] == "review" and not full[raised] & (SCORE_BANDS | {"match"})

    out_split, out_joint = tmp_path / "out-split", tmp_path / "out-joint"
    write_outputs(split, out_split, party_scores=with_scores)
    write_outputs(joint, out_joint, party_scores=with_scores)
    insurer = pacsv.read_csv(out_split / "parties" / "insurer.csv").to_pylist()
    bank = pacsv.read_csv(out_split / "parties" / "bank.csv").to_pylist()
    assert [r["claims_file"] for r in insurer] == ["one.parquet"] * 2
    assert [r["claims_file"] for r in bank] == ["two.parquet"] * 2
    for row in insurer + bank:
        assert not codes(row["reason"] or "") & CROSS, row
    views = {0: insurer[0], 1: insurer[1], 2: bank[0], 3: bank[1]}
    coarse = {i for i, r in views.items() if "conflict_with_other_record" in (r["reason"] or "")}
    assert coarse == ({raised} if with_scores else set())

    assert sorted(p.name for p in (out_joint / "parties").iterdir()) == [
        "insurer.csv",
        "register.reference.csv",
    ]
    together = pacsv.read_csv(out_joint / "parties" / "insurer.csv").to_pylist()
    assert [(r["claims_file"], r["claim_row"]) for r in together] == [
        ("one.parquet", 0),
        ("one.parquet", 1),
        ("two.parquet", 0),
        ("two.parquet", 1),
    ]
    bands = set() if with_scores else SCORE_BANDS
    assert [codes(r["reason"] or "") for r in together] == [f - bands for f in full]


@pytest.mark.parametrize(
    ("labels", "reference", "named"),
    [
        (["a/b"], "register", ["'a/b'", "re-encode"]),
        (["=HYPERLINK(1)"], "register", ["'=HYPERLINK(1)'", "re-encode"]),
        (["insurer"], "reg ister", ["'reg ister'", "register.parquet", "re-encode"]),
        (["A", "a"], "register", ["'a'", "'A'"]),
        (["municipality.reference"], "municipality", ["municipality.reference"]),
    ],
)
def test_bad_or_colliding_labels_refused_before_any_work(
    tmp_path, rng, monkeypatch, labels, reference, named
):
    """Files whose labels are invalid (crafted: the writer's own check is bypassed) or
    collide are refused by verify before any work."""
    import pprl.store

    monkeypatch.setattr(pprl.store, "validate_label", lambda label, **kw: label)
    encodings([person(rng)], [1], reference, tmp_path / "register.parquet")
    paths = []
    for i, label in enumerate(labels):
        paths.append(tmp_path / f"claims{i}.parquet")
        encodings([person(rng)], [1], label, paths[-1])
    monkeypatch.undo()
    with pytest.raises(PprlError) as err:
        verify(tmp_path / "register.parquet", paths)
    for fragment in named:
        assert fragment in str(err.value)


def test_file_names_cannot_inject_formulas_into_csv(case, tmp_path):
    """A claims file named like a formula reaches findings.csv and the party's view as
    text: the cell starts with an apostrophe."""
    import shutil

    path, _ = case
    shutil.copy(path / "insurer.parquet", path / "=cmd.parquet")
    result = verify(path / "register.parquet", [path / "=cmd.parquet"])
    assert set(column(result, "claims_file")) == {"=cmd.parquet"}
    out = tmp_path / "out"
    write_outputs(result, out)
    for csv in (out / "findings.csv", out / "parties" / "insurer.csv"):
        cells = set(pacsv.read_csv(csv).column("claims_file").to_pylist())
        assert cells == {"'=cmd.parquet"}, csv
        assert '"=cmd' not in csv.read_text()


def test_empty_claims_file_gives_no_findings(case):
    tmp_path, _ = case
    empty = Encodings(
        rows=np.zeros(0, np.int64),
        tokens=np.zeros((0, 32), np.uint8),
        has_token=np.zeros(0, bool),
        clks=np.zeros((0, WORDS), np.uint64),
        meta={"party": "empty", "key_fingerprint": "a" * 16, "schema_digest": "b" * 32},
        block_keys={"all": (np.zeros(0, np.uint64), np.zeros(0, bool))},
    )
    write_encodings(empty, tmp_path / "empty.parquet")
    result = verify(tmp_path / "register.parquet", [tmp_path / "empty.parquet"])
    assert result.findings.num_rows == 0
    assert result.summary.counts["confirmed"] == 0


def test_empty_reference_refused(case):
    tmp_path, _ = case
    empty = Encodings(
        rows=np.zeros(0, np.int64),
        tokens=np.zeros((0, 32), np.uint8),
        has_token=np.zeros(0, bool),
        clks=np.zeros((0, WORDS), np.uint64),
        meta={"party": "r", "key_fingerprint": "a" * 16, "schema_digest": "b" * 32},
        block_keys={"all": (np.zeros(0, np.uint64), np.zeros(0, bool))},
    )
    write_encodings(empty, tmp_path / "none.parquet")
    with pytest.raises(InputError, match="holds no records"):
        verify(tmp_path / "none.parquet", [tmp_path / "insurer.parquet"])


def test_cli_verify_and_json(case, tmp_path):
    from pprl_cli.main import app
    from typer.testing import CliRunner

    path, _ = case
    out = tmp_path / "cli-out"
    result = CliRunner().invoke(
        app,
        [
            "verify",
            "--reference",
            str(path / "register.parquet"),
            "--claims",
            str(path / "insurer.parquet"),
            "--out",
            str(out),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output[result.output.index("{") :])
    assert summary["counts"]["suspect"] == 2 and (out / "report.html").exists()


def test_cli_verify_mismatch_is_one_line_error(case, tmp_path, rng):
    from pprl_cli.main import app
    from typer.testing import CliRunner

    path, _ = case
    other = encodings([person(rng)], [1], "x", path / "other.parquet")
    other.meta["key_fingerprint"] = "c" * 16
    write_encodings(other, path / "other.parquet")
    out = tmp_path / "cli-out"
    result = CliRunner().invoke(
        app,
        [
            "verify",
            "--reference",
            str(path / "register.parquet"),
            "--claims",
            str(path / "other.parquet"),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 2
    assert result.output.startswith("error:") and len(result.output.strip().splitlines()) == 1
    assert not out.exists()
