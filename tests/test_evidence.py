"""Per-attribute evidence (pprl.verify.evidence): every explanation of the rule table on
hand-built states, the attribute states on hand-built block keys, hand-written CSV rows
encoded and verified end to end, the parties' views, the report's breakdown, and a
small synthetic world whose planted wrong links get the evidence of their kind."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pprl.keys import load_secret
from pprl.mynumber import check_digit
from pprl.party import encode_csv
from pprl.report import render_report
from pprl.report.findings import FindingsArrays
from pprl.report.html import evidence_breakdown
from pprl.schema import builtin_document, load_schema
from pprl.store import Encodings, write_encodings
from pprl.synth import SynthConfig, generate
from pprl.verify import verify
from pprl.verify.evidence import (
    ATTRIBUTES,
    FAMILY_SCORE,
    PHRASES,
    RULES,
    State,
    attribute_codes,
    evidence_keys,
    explain,
    key_states,
    phrase_of,
    states_of,
)
from pprl.verify.outputs import party_view

A, D, M, U = State.AGREE, State.DIFFER, State.MISSING, State.UNSEEN
CONFIRM = 0.65


def code(kanji: State, kana: State, dob: State, sex: State = U, address: State = U) -> int:
    states = (kanji, kana, dob, sex, address)
    return sum(int(s) << (2 * i) for i, s in enumerate(states))


def phrase(c: int, score: float = 0.9, cand: float = float("nan")) -> str:
    _, texts = explain(np.array([c], np.uint16), np.array([score]), np.array([cand]), CONFIRM)
    out = phrase_of(texts[0])
    assert out is not None
    return out


# (states, score, best alternative's score, explanation): one case or more per rule
CASES = [
    (code(A, A, A, A, A), 0.9, float("nan"), "same person"),
    (code(A, A, A), 0.9, 0.5, "same person"),  # sex, address unseen, high score
    (code(A, A, A, A, D), 0.9, float("nan"), "moved, or namesake with the same birth date"),
    (code(A, A, A), 0.6, float("nan"), "moved, or namesake with the same birth date"),
    (code(A, A, A, D, A), 0.9, float("nan"), "namesake with the same birth date"),
    (code(A, A, A), 0.9, 0.95, "namesake with the same birth date"),  # a better record
    (code(A, A, D), 0.8, float("nan"), "birth-date typo or namesake"),
    (code(U, A, D), 0.8, float("nan"), "birth-date typo or namesake"),  # kana only (bank)
    (code(D, A, A), 0.8, float("nan"), "kanji variant or typo"),
    (code(A, D, A), 0.8, float("nan"), "kana variant or typo"),
    (code(D, D, A), 0.7, float("nan"), "name change or twin"),
    (code(D, D, D, U, A), 0.3, float("nan"), "likely family member"),  # address agrees
    (code(D, D, D), FAMILY_SCORE, float("nan"), "likely family member"),  # score decides
    (code(D, D, D, U, D), 0.9, float("nan"), "different person"),  # address differs
    (code(D, D, D), FAMILY_SCORE - 0.01, float("nan"), "different person"),
    (code(A, D, D), 0.5, float("nan"), "namesake or typos"),
    (code(D, A, D), 0.5, float("nan"), "namesake or typos"),
    (code(A, A, M), 0.9, float("nan"), "too little data"),  # birth date missing
    (code(M, M, A), 0.9, float("nan"), "too little data"),  # no name on one side
    (code(U, U, A), 0.9, float("nan"), "too little data"),
]


@pytest.mark.parametrize(("c", "score", "cand", "want"), CASES)
def test_each_rule_explains_its_case(c: int, score: float, cand: float, want: str) -> None:
    assert phrase(c, score, cand) == want


def test_every_explanation_has_a_hand_built_case_and_a_documented_rule() -> None:
    assert {want for *_, want in CASES} == set(PHRASES)
    assert {p for _, p in RULES} == set(PHRASES)
    doc = (Path(__file__).parents[1] / "docs" / "verification.md").read_text(encoding="utf-8")
    for p in PHRASES:
        assert f"`{p}`" in doc, p


def test_text_shows_all_five_attributes_in_the_inspections_order() -> None:
    inverse, texts = explain(
        np.array([code(A, A, D, U, M), 0], np.uint16),
        np.array([0.8, np.nan]),
        np.array([np.nan, np.nan]),
        CONFIRM,
    )
    assert texts[inverse[0]] == (
        "kanji=agree kana=agree dob=differ sex=? address=missing → birth-date typo or namesake"
    )
    assert texts[inverse[1]] is None  # no claimed record: no evidence


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 3),
            st.integers(0, 3),
            st.integers(0, 3),
            st.integers(0, 3),
            st.integers(0, 3),
            st.floats(0, 1),
            st.floats(0, 1),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_explaining_many_claims_at_once_is_explaining_each(rows: list[tuple]) -> None:
    codes = np.array([code(*map(State, r[:5])) for r in rows], np.uint16)
    score = np.array([r[5] for r in rows])
    cand = np.array([r[6] for r in rows])
    inverse, texts = explain(codes, score, cand, CONFIRM)
    for i, c in enumerate(codes.tolist()):
        text = texts[inverse[i]]
        if c == 0:
            assert text is None
            continue
        assert text is not None
        shown = " ".join(f"{a}={s.text}" for a, s in states_of(c).items())
        assert text == f"{shown} → {phrase(c, score[i], cand[i])}"


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_key_states_compare_values_and_validity(data: st.DataObject) -> None:
    n = data.draw(st.integers(1, 20))
    values = st.lists(st.integers(0, 3), min_size=n, max_size=n)
    flags = st.lists(st.booleans(), min_size=n, max_size=n)
    keys = data.draw(st.integers(1, 3))
    q_keys = [
        (np.array(data.draw(values), np.uint64), np.array(data.draw(flags))) for _ in range(keys)
    ]
    r_keys = [
        (np.array(data.draw(values), np.uint64), np.array(data.draw(flags))) for _ in range(keys)
    ]
    q = np.arange(n)
    r = np.array(data.draw(st.lists(st.integers(0, n - 1), min_size=n, max_size=n)))
    packed = key_states(q_keys, r_keys, q, r)
    for i in range(n):
        for j, ((qv, qok), (rv, rok)) in enumerate(zip(q_keys, r_keys, strict=True)):
            got = (int(packed[i]) >> (2 * j)) & 3
            if not (qok[q[i]] and rok[r[i]]):
                assert got == M
            else:
                assert got == (A if qv[q[i]] == rv[r[i]] else D)


def test_sex_is_read_from_a_dob_sex_key_only_where_the_birth_dates_agree() -> None:
    keys = (("dob", "dob"), ("dob_sex", "dob+sex"), ("kana_name", "kana"))

    def packed(dob: State, dob_sex: State) -> int:
        return int(dob) | (int(dob_sex) << 2) | (int(A) << 4)

    cases = [((A, A), A), ((A, D), D), ((D, D), U), ((A, M), M), ((M, M), M)]
    arr = np.array([packed(*k) for k, _ in cases], np.uint16)
    got = attribute_codes(arr, keys, np.ones(len(cases), bool))
    for value, (_, sex) in zip(got.tolist(), cases, strict=True):
        assert states_of(value)["sex"] == sex
        assert states_of(value)["kana"] == A and states_of(value)["kanji"] == U
    assert attribute_codes(arr, keys, np.zeros(len(cases), bool)).tolist() == [0] * len(cases)


def test_evidence_keys_follow_the_normalizers_of_the_schema() -> None:
    resident = builtin_document("jp-resident")
    names = ("dob", "kana_name", "kanji_name")
    assert evidence_keys({"schema": resident}, names) == (
        ("dob", "dob"),
        ("kana_name", "kana"),
        ("kanji_name", "kanji"),
    )
    bank = builtin_document("jp-bank-holder")
    assert evidence_keys({"schema": bank}, ("dob", "kana_name")) == (
        ("dob", "dob"),
        ("kana_name", "kana"),
    )
    # a year-of-birth slice is not the birth date; address and dob+sex keys speak
    custom = {
        "pprl": {
            "normalize": {"dob": "date", "sex": "sex", "addr": "address", "pc": "postcode"},
            "block_keys": [
                {"name": "yob", "parts": [{"field": "dob", "start": 0, "stop": 4}]},
                {"name": "birth_sex", "parts": [{"field": "dob"}, {"field": "sex"}]},
                {"name": "where", "parts": [{"field": "pc"}, {"field": "addr"}]},
            ],
        }
    }
    assert evidence_keys({"schema": custom}, ("yob", "birth_sex", "where")) == (
        ("birth_sex", "dob+sex"),
        ("where", "address"),
    )
    assert evidence_keys({"schema": {"pprl": "crafted"}}, names) == ()
    assert evidence_keys({}, ("all", "dob")) == (("dob", "dob"),)  # no schema: known names


# ------------------------------------------------------------- hand-written CSV rows


def number(i: int) -> str:
    payload = f"{100000000 + i:011d}"
    return payload + str(check_digit(payload))


HEADER = [
    "my_number",
    "family_name_kanji",
    "given_name_kanji",
    "family_name_kana",
    "given_name_kana",
    "date_of_birth",
    "sex",
    "postcode",
    "address",
]
ADDRESS_1 = ("100-0001", "東京都千代田区千代田1番1号")
ADDRESS_2 = ("530-0001", "大阪府大阪市北区梅田3丁目1番1号")
REGISTER = [
    ("佐藤", "太郎", "サトウ", "タロウ", "1980-01-01", "M", *ADDRESS_1),  # 0
    ("佐藤", "花子", "サトウ", "ハナコ", "1982-02-02", "F", *ADDRESS_1),  # 1 his wife
    ("鈴木", "一郎", "スズキ", "イチロウ", "1975-05-05", "M", *ADDRESS_2),  # 2
    ("田中", "美咲", "タナカ", "ミサキ", "1990-03-03", "F", *ADDRESS_2),  # 3
    ("山本", "健", "ヤマモト", "ケン", "1960-07-07", "M", *ADDRESS_2),  # 4
    ("山本", "誠", "ヤマモト", "マコト", "1960-07-07", "M", *ADDRESS_2),  # 5 his twin
]
# (claim record, register row its number points to, the explanation wanted)
CLAIMS = [
    (REGISTER[0], 0, "same person"),
    (
        ("佐藤", "太郎", "サトウ", "タロウ", "1980-01-10", "M", *ADDRESS_1),
        0,
        "birth-date typo or namesake",
    ),
    (
        ("田仲", "美咲", "タナカ", "ミサキ", "1990-03-03", "F", *ADDRESS_2),
        3,
        "kanji variant or typo",
    ),
    (
        ("鈴木", "一郎", "スズキ", "イチロ", "1975-05-05", "M", *ADDRESS_2),
        2,
        "kana variant or typo",
    ),
    (REGISTER[4], 5, "name change or twin"),
    (("田中", "美咲", "タナカ", "ミサキ", "", "F", *ADDRESS_2), 3, "too little data"),
    (REGISTER[0], 1, None),  # the wife's number: family member or not, by the score
]


@pytest.fixture(scope="module")
def hand_run(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("hand")
    for name, rows in (
        ("register", [(number(i), *r) for i, r in enumerate(REGISTER)]),
        ("claims", [(number(i), *r) for r, i, _ in CLAIMS]),
    ):
        with open(root / f"{name}.csv", "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(HEADER)
            writer.writerows(rows)
    (root / "secret.key").write_text("5eed" * 16 + "\n", encoding="ascii")
    (root / "secret.key").chmod(0o600)
    secret = load_secret(root / "secret.key")
    schema = load_schema("jp-resident")
    for name, party, role in (
        ("register", "municipality", "register"),
        ("claims", "insurer", "claims"),
    ):
        enc, _ = encode_csv(root / f"{name}.csv", schema, secret, party=party, role=role)
        write_encodings(enc, root / f"{name}.parquet")
    return verify(root / "register.parquet", [root / "claims.parquet"])


def test_hand_written_rows_get_their_explanation(hand_run) -> None:
    findings = hand_run.findings.to_pylist()
    assert [r["claimed_ref_row"] for r in findings] == [i for _, i, _ in CLAIMS]
    for row, (_, _, want) in zip(findings, CLAIMS, strict=True):
        text = row["evidence"]
        assert "sex=? address=?" in text  # the built-in schemas see neither
        if want is None:  # names and birth date differ: the score decides
            assert text.startswith("kanji=differ kana=differ dob=differ")
            family = row["score"] >= FAMILY_SCORE
            assert phrase_of(text) == ("likely family member" if family else "different person")
        else:
            assert phrase_of(text) == want, (row["claim_row"], text)
    assert findings[2]["evidence"].startswith("kanji=differ kana=agree dob=agree")
    assert findings[5]["evidence"].startswith("kanji=agree kana=agree dob=missing")


def test_findings_keep_the_contract_columns_and_add_evidence(hand_run) -> None:
    names = hand_run.findings.column_names
    contract = [
        "claims_file",
        "claim_row",
        "status",
        "score",
        "reason",
        "candidate_ref_row",
        "candidate_score",
    ]
    assert all(c in names for c in contract)
    assert names[-3:] == ["evidence", "mislink_probability", "case"]  # the case id comes last


def test_no_claimed_record_no_evidence(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    clks = [np.packbits(rng.random(1024) < 0.3).view("<u8").copy() for _ in range(3)]

    def write(tokens: list[int | None], label: str, path: Path) -> None:
        n = len(tokens)
        write_encodings(
            Encodings(
                rows=np.arange(n, dtype=np.int64),
                tokens=np.stack(
                    [np.frombuffer((t or 0).to_bytes(4, "little") * 8, np.uint8) for t in tokens]
                ),
                has_token=np.array([t is not None for t in tokens]),
                clks=np.stack(clks[:n]),
                meta={"party": label, "key_fingerprint": "a" * 16, "schema_digest": "b" * 32},
                block_keys={
                    "dob": (np.array([1, 2, 3][:n], np.uint64), np.ones(n, bool)),
                    "kana_name": (np.array([7, 8, 9][:n], np.uint64), np.ones(n, bool)),
                },
            ),
            path,
        )

    write([1, 2, 3], "register", tmp_path / "r.parquet")
    write([1, None, 99], "insurer", tmp_path / "c.parquet")
    res = verify(tmp_path / "r.parquet", [tmp_path / "c.parquet"])
    ev = res.findings.column("evidence").to_pylist()
    assert ev[0] == "kanji=? kana=agree dob=agree sex=? address=? → same person"
    assert ev[1] is None and ev[2] is None  # invalid and unknown numbers


def test_party_view_carries_evidence_of_its_own_rows_only_with_scores(hand_run) -> None:
    findings = hand_run.findings
    other = findings.set_column(
        findings.column_names.index("claims_party"),
        "claims_party",
        pa.array(["bank"] * findings.num_rows),
    )
    both = pa.concat_tables(
        [
            findings,
            other.set_column(
                other.column_names.index("evidence"),
                "evidence",
                pa.array(["someone else's evidence"] * other.num_rows),
            ),
        ]
    )
    view = party_view(both, "insurer", with_scores=True)
    assert view.column("evidence").to_pylist() == findings.column("evidence").to_pylist()
    hidden = party_view(both, "insurer", with_scores=False)
    assert "evidence" not in hidden.column_names and "score" not in hidden.column_names


def test_report_breaks_down_the_evidence_of_non_confirmed_claims(hand_run) -> None:
    data = FindingsArrays(hand_run.findings)
    phrases, states = evidence_breakdown(data)
    rows = hand_run.findings.to_pylist()
    open_rows = [r for r in rows if r["status"] in ("suspect", "review")]
    assert sum(sum(v.values()) for v in phrases.values()) == len(open_rows)
    assert Counter(phrase_of(r["evidence"]) or "no claimed register record" for r in open_rows) == {
        p: sum(v.values()) for p, v in phrases.items()
    }
    for a in ATTRIBUTES:
        assert sum(states[a].values()) == len(open_rows)
    html = render_report(hand_run.findings, hand_run.summary)
    assert "Evidence of non-confirmed claims" in html
    assert 'id="evidence"' in html and 'id="attributes"' in html


# --------------------------------------------------------------- a synthetic world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    """``pprl synth --people 300 --seed 5 --mislink-rate 0.2`` (enough planted wrong
    links of each kind), encoded and verified: (error kind, explanation) per claim."""
    root = tmp_path_factory.mktemp("world")
    generate(SynthConfig(people=300, seed=5, mislink_rate=0.2), root / "data")
    (root / "secret.key").write_text("5eed" * 16 + "\n", encoding="ascii")
    (root / "secret.key").chmod(0o600)
    secret = load_secret(root / "secret.key")
    schema = load_schema("jp-resident")
    for name, party, role in (
        ("register", "municipality", "register"),
        ("insurer", "insurer", "claims"),
    ):
        enc, _ = encode_csv(root / "data" / f"{name}.csv", schema, secret, party=party, role=role)
        write_encodings(enc, root / f"{name}.parquet")
    res = verify(root / "register.parquet", [root / "insurer.parquet"])
    with open(root / "data" / "truth.csv", encoding="utf-8") as fh:
        kinds = {
            int(r["row"]): r["error_kind"] for r in csv.DictReader(fh) if r["file"] == "insurer.csv"
        }
    return [(kinds[r["claim_row"]], phrase_of(r["evidence"])) for r in res.findings.to_pylist()]


def share(world, kind: str, phrases: set[str]) -> float:
    got = [p for k, p in world if k == kind]
    assert got, kind
    return sum(p in phrases for p in got) / len(got)


def test_planted_wrong_links_get_the_evidence_of_their_kind(world) -> None:
    assert share(world, "family", {"likely family member"}) >= 0.75
    assert share(world, "homonym", {"birth-date typo or namesake"}) >= 0.9
    assert share(world, "twin", {"name change or twin"}) >= 0.9
    assert share(world, "homonym_same_dob", {"namesake with the same birth date"}) >= 0.7
    assert share(world, "data_entry", {"different person"}) >= 0.8
    assert share(world, "transposed_digits", {"different person"}) >= 0.8
    assert share(world, "none", {"same person"}) >= 0.85
