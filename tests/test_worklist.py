"""``pprl worklist`` end to end: a small synthetic world encoded and verified through the
CLI, each party's view joined back onto its own CSV, checked line by line against the
CSV file itself; the local sidecar; hostile views and CSVs; and line numbering with
blank lines and quoted line breaks (property-tested)."""

from __future__ import annotations

import csv
import io
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pyarrow.csv as pacsv
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from pprl_cli.main import app
from typer.testing import CliRunner

from pprl.resultset import file_digest
from pprl.sidecar import SUFFIX, default_path, read_sidecar
from pprl.worklist import ORDER, TEXTS, data_lines, default_lang

runner = CliRunner()
STATUS_RANK = {s.label: i for i, s in enumerate(ORDER)}


def pprl(*args: object, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args], env={"LANG": "C", **(env or {})})
    return result.exit_code, result.output


def refused(args: list[object], *fragments: str) -> str:
    code, output = pprl(*args)
    line = output.strip()
    assert code == 2, output
    assert line.startswith("error: ") and "\n" not in line and "Traceback" not in output, output
    for fragment in fragments:
        assert fragment in line, (fragment, line)
    return line


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("wl")
    steps: list[list[object]] = [
        ["synth", "--people", 300, "--seed", 5, "--mislink-rate", 0.2, "--invalid-rate", 0.05]
        + ["--out", root / "data"],
        ["keygen", root / "secret.key"],
        ["encode", root / "data/register.csv", "--schema", "jp-resident", "--secret"]
        + [root / "secret.key", "--party", "municipality", "--role", "register"]
        + ["--out", root / "register.parquet", "--processes", 1],
        ["encode", root / "data/insurer.csv", "--schema", "jp-resident", "--secret"]
        + [root / "secret.key", "--party", "insurer", "--out", root / "insurer.parquet"]
        + ["--processes", 1],
        ["verify", "--reference", root / "register.parquet", "--claims"]
        + [root / "insurer.parquet", "--out", root / "results"],
    ]
    for args in steps:
        code, output = pprl(*args)
        assert code == 0, (args, output)
    return root


def csv_lines(path: Path) -> list[list[str]]:
    """The file's records by line (1-based index 0 unused): every record here is one line."""
    text = path.read_text(encoding="utf-8-sig")
    return [[], *(next(csv.reader([line])) if line else [] for line in text.split("\n"))]


def view_rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def sheet(path: Path) -> tuple[object, list[list[object]]]:
    ws = load_workbook(path).active
    return ws, [[c.value for c in row] for row in ws.iter_rows()]


# ------------------------------------------------------------------ the claims party
def test_claims_worklist_xlsx_names_the_partys_own_records(world: Path, tmp_path: Path) -> None:
    out = tmp_path / "wl.xlsx"
    code, output = pprl(
        "worklist",
        "--results",
        world / "results/parties/insurer.csv",
        "--data",
        world / "data/insurer.csv",
        "--out",
        out,
        "--lang",
        "en",
    )
    assert code == 0, output
    view = view_rows(world / "results/parties/insurer.csv")
    need = [r for r in view if r["status"] != "confirmed"]
    statuses = {r["status"] for r in need}
    assert {"suspect", "invalid_number"} <= statuses  # the world really has several
    ws, cells = sheet(out)
    header, rows = cells[0], cells[1:]
    own = csv_lines(world / "data/insurer.csv")[1]
    en = TEXTS["en"]
    assert header == [en.line, *own, en.status, en.reason, en.next_step, en.case]
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == f"A1:{ws.cell(1, len(header)).column_letter}{len(rows) + 1}"
    assert ws.column_dimensions["B"].width >= len("my_number")
    assert len(rows) == len(need)
    lines = csv_lines(world / "data/insurer.csv")
    status_of = {int(r["claim_row"]): r["status"] for r in view}
    back = {text: label for label, text in en.statuses.items()}
    case_of = {int(r["claim_row"]): r["case"] for r in view}
    ranks = [STATUS_RANK[back[r[-4]]] for r in rows]
    assert ranks == sorted(ranks)  # suspect first, then numbers, then review
    seen = []
    for row in rows:
        line = row[0]
        assert isinstance(line, int)
        assert row[1 : 1 + len(own)] == lines[line]  # the record on that line, every column
        data_row = line - 2  # no blank lines in a synth file
        assert en.statuses[status_of[data_row]] == row[-4]
        assert row[-2] == en.steps[status_of[data_row]]
        assert row[-1] == case_of[data_row] and row[-1]  # the case to quote to the operator
        seen.append(data_row)
    assert sorted(seen) == sorted(int(r["claim_row"]) for r in need)
    for row in ws.iter_rows(min_row=2):  # IDs are text, never numbers
        assert row[1].data_type == "s" and isinstance(row[1].value, str)
    assert any(str(r[1]).startswith("0") for r in rows), "no leading-zero number to check"


def test_all_lists_confirmed_rows_last_in_a_csv_with_bom(world: Path, tmp_path: Path) -> None:
    out = tmp_path / "wl.csv"
    code, output = pprl(
        "worklist",
        "--results",
        world / "results/parties/insurer.csv",
        "--data",
        world / "data/insurer.csv",
        "--out",
        out,
        "--all",
        env={"LANG": "ja_JP.UTF-8"},
    )
    assert code == 0, output
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    ja = TEXTS["ja"]
    assert rows[0][0] == ja.line
    assert rows[0][-4:] == [ja.status, ja.reason, ja.next_step, ja.case]
    assert len(rows) - 1 == 150
    back = {text: label for label, text in ja.statuses.items()}
    ranks = [STATUS_RANK[back[r[-4]]] for r in rows[1:]]
    assert ranks == sorted(ranks) and ranks[-1] == STATUS_RANK["confirmed"]
    lines = csv_lines(world / "data/insurer.csv")
    for r in rows[1:]:
        assert r[1:-4] == lines[int(r[0])]
        assert (r[-1] == "") == (back[r[-4]] == "confirmed")  # a case for each open claim


def test_default_language_follows_the_locale() -> None:
    assert default_lang({"LANG": "ja_JP.UTF-8"}) == "ja"
    assert default_lang({"LANG": "en_US.UTF-8"}) == "en"
    assert default_lang({}) == "en"
    assert default_lang({"LC_ALL": "ja_JP.eucJP", "LANG": "en_US"}) == "ja"
    assert default_lang({"LC_ALL": "C", "LANG": "ja_JP.UTF-8"}) == "en"
    assert default_lang({"LC_MESSAGES": "ja", "LANG": "en_US"}) == "ja"


def test_every_status_reason_and_role_has_words_in_both_languages() -> None:
    from pprl.verify.model import REASONS, STATUSES
    from pprl.verify.outputs import OTHER_RECORD_CONFLICT

    for texts in TEXTS.values():
        assert set(texts.statuses) == set(STATUSES) == set(texts.steps)
        assert set(texts.reasons) == {*REASONS, OTHER_RECORD_CONFLICT}
        assert set(texts.sides) == {"claimed", "likely_true_owner"}
        assert set(texts.case_steps) == {"both", "claimed", "likely_true_owner"}
        texts_all = [*texts.reasons.values(), *texts.steps.values(), *texts.case_steps.values()]
        assert all(v.strip() for v in texts_all)


# ------------------------------------------------------------------ the register holder
def register_worklist(world: Path, out: Path, lang: str = "en") -> list[list[object]]:
    code, output = pprl(
        "worklist",
        "--results",
        world / "results/parties/municipality.reference.csv",
        "--data",
        world / "data/register.csv",
        "--out",
        out,
        "--lang",
        lang,
    )
    assert code == 0, output
    assert "cases" in output
    if out.suffix == ".xlsx":
        return sheet(out)[1]
    return list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))


def test_register_variant_puts_the_claimed_record_beside_its_likely_owner(
    world: Path, tmp_path: Path
) -> None:
    """One row per case: the claimed register record and the likely true owner side by
    side, each with its line and every register column; for the planted mislinks of the
    synthetic world they are the records of the linked and of the true number."""
    out = tmp_path / "reg.xlsx"
    cells = register_worklist(world, out)
    ws = load_workbook(out).active
    header, rows = cells[0], cells[1:]
    en = TEXTS["en"]
    lines = csv_lines(world / "data/register.csv")
    own = lines[1]
    width = len(own)
    claimed_t, owner_t = (en.sides[r] + en.colon for r in ("claimed", "likely_true_owner"))
    assert header == [
        claimed_t + en.line,
        *(claimed_t + h for h in own),
        owner_t + en.line,
        *(owner_t + h for h in own),
        en.status,
        en.next_step,
        en.case,
    ]
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref.startswith("A1:")
    view = view_rows(world / "results/parties/municipality.reference.csv")
    assert len(rows) == len({v["case"] for v in view})  # one row per case
    back = {text: label for label, text in en.statuses.items()}
    ranks = [STATUS_RANK[back[r[-3]]] for r in rows]
    assert ranks == sorted(ranks)
    by_case: dict[str, dict[str, int]] = {}
    for v in view:
        by_case.setdefault(v["case"], {})[v["role"]] = int(v["ref_row"])
    left = slice(0, 1 + width)
    right = slice(1 + width, 2 + 2 * width)
    pairs: set[tuple[object, object]] = set()
    for r in rows:
        case = r[-1]
        for role, part in (("claimed", r[left]), ("likely_true_owner", r[right])):
            if role in by_case[case]:
                line = by_case[case][role] + 2  # no blank lines in a synth register
                assert part == [line, *lines[line]]  # that record, every column
            else:
                assert all(v in (None, "") for v in part)  # the case lacks that side
        shape = "both" if len(by_case[case]) == 2 else next(iter(by_case[case]))
        assert r[-2].endswith(en.case_steps[shape])
        if r[0] and r[1 + width]:
            pairs.add((r[1], r[2 + width]))  # (claimed number, likely owner's number)
    for row in ws.iter_rows(min_row=2):  # register IDs are text on both sides
        for cell in (row[1], row[2 + width]):
            assert cell.value is None or cell.data_type == "s"
    # planted mislinks: the claimed record holds the linked number, its likely owner the
    # true one, as truth.csv says
    assert lines[1][0] == "my_number"
    truth = list(csv.DictReader(open(world / "data/truth.csv", encoding="utf-8")))
    findings = list(csv.DictReader(open(world / "results/findings.csv", encoding="utf-8")))
    insurer = [f for f in findings if f["status"] == "suspect" and f["candidate_ref_row"]]
    mislinks = {
        (t["linked_number"], t["true_number"])
        for t in truth
        if t["file"] == "insurer.csv"
        and t["linked_number"] != t["true_number"]
        and t["linked_number"]
        and t["true_number"]
        and int(t["row"]) in {int(f["claim_row"]) for f in insurer}
    }
    assert len(mislinks) >= 5, mislinks  # the world really has several
    assert mislinks <= pairs, mislinks - pairs


def test_register_variant_in_japanese_as_csv(world: Path, tmp_path: Path) -> None:
    """The CSV carries the same rows: empty sides are empty cells, lines are numbers."""
    rows = register_worklist(world, tmp_path / "reg.csv", lang="ja")
    xlsx = register_worklist(world, tmp_path / "reg.xlsx", lang="ja")
    ja = TEXTS["ja"]
    assert rows[0][0] == "番号の指す記録：行" and rows[0][-3:] == [ja.status, ja.next_step, ja.case]
    assert [[("" if v is None else str(v)) for v in r] for r in xlsx] == rows
    assert any(r[0] == "" for r in rows[1:]) or any(r[len(rows[0]) // 2] == "" for r in rows[1:])


def test_a_reference_view_without_cases_is_refused(world: Path, tmp_path: Path) -> None:
    view = tmp_path / "ref.csv"
    view.write_text(
        '"party","ref_row","role","status"\n"municipality",3,"claimed","suspect"\n',
        encoding="utf-8",
    )
    args = worklist_args(world, world / "data/register.csv", tmp_path / "o.xlsx")
    args[2] = view
    refused(args, "lacks column(s) case", "verify again")


@pytest.mark.parametrize(
    ("rows", "fragments"),
    [
        (
            [(3, "claimed", "suspect", "BKQT-MXRZ"), (4, "claimed", "suspect", "BKQT-MXRZ")],
            ["case BKQT-MXRZ", "two claimed rows"],
        ),
        (
            [
                (3, "claimed", "suspect", "BKQT-MXRZ"),
                (4, "likely_true_owner", "review", "BKQT-MXRZ"),
            ],
            ["case BKQT-MXRZ", "two statuses"],
        ),
        ([(3, "claimed", "suspect", "=1+1")], ["line 2", "not a pprl case id"]),
        ([(3, "claimed", "suspect", "")], ["line 2", "case is empty"]),
    ],
)
def test_hostile_reference_views_get_one_line(
    world: Path, tmp_path: Path, rows: list[tuple[object, ...]], fragments: list[str]
) -> None:
    view = write_view(
        tmp_path / "ref.csv",
        [("municipality", *r) for r in rows],
        header='"party","ref_row","role","status","case"',
    )
    args = worklist_args(world, world / "data/register.csv", tmp_path / "o.xlsx")
    args[2] = view
    refused(args, *fragments)
    assert not (tmp_path / "o.xlsx").exists()


# ------------------------------------------------------------------ the local sidecar
def test_sidecar_stays_beside_the_csv_and_out_of_the_encoding(world: Path) -> None:
    csv_path = world / "data/insurer.csv"
    side = read_sidecar(default_path(csv_path))
    assert default_path(csv_path).name == "insurer.csv" + SUFFIX
    assert side.csv.rows == 150 and side.csv.blake3 == file_digest(csv_path)
    assert side.csv.text_encoding == "utf-8" and side.csv.name == "insurer.csv"
    (entry,) = side.encodings
    assert (entry.file, entry.party, entry.role, entry.records) == (
        "insurer.parquet",
        "insurer",
        "claims",
        150,
    )
    encoded = (world / "insurer.parquet").read_bytes()
    assert side.csv.blake3.encode() not in encoded and b"pprl-local" not in encoded
    assert not list(world.glob(f"*{SUFFIX}"))  # nothing beside the files that are sent


def test_encoding_again_keeps_one_entry_per_output(world: Path, tmp_path: Path) -> None:
    data = tmp_path / "insurer.csv"
    shutil.copy(world / "data/insurer.csv", data)
    for out in ("a.parquet", "b.parquet", "a.parquet"):
        code, output = pprl(
            "encode",
            data,
            "--schema",
            "jp-resident",
            "--secret",
            world / "secret.key",
            "--out",
            tmp_path / out,
            "--force",
            "--processes",
            1,
        )
        assert code == 0, output
    side = read_sidecar(default_path(data))
    assert sorted(e.file for e in side.encodings) == ["a.parquet", "b.parquet"]
    data.write_text(data.read_text(encoding="utf-8") + data.read_text().splitlines()[1] + "\n")
    code, output = pprl(
        "encode",
        data,
        "--schema",
        "jp-resident",
        "--secret",
        world / "secret.key",
        "--out",
        tmp_path / "c.parquet",
        "--processes",
        1,
    )
    assert code == 0, output
    side = read_sidecar(default_path(data))  # other content: replaced whole
    assert [e.file for e in side.encodings] == ["c.parquet"] and side.csv.rows == 151


def test_a_foreign_file_at_the_sidecar_place_is_left_alone(world: Path, tmp_path: Path) -> None:
    data = tmp_path / "insurer.csv"
    shutil.copy(world / "data/insurer.csv", data)
    default_path(data).write_text("my notes\n", encoding="utf-8")
    args = ["encode", data, "--schema", "jp-resident", "--secret", world / "secret.key"]
    code, output = pprl(*args, "--out", tmp_path / "x.parquet", "--processes", 1)
    assert code == 0 and "warning" in output and "not a pprl sidecar" in output, output
    assert default_path(data).read_text(encoding="utf-8") == "my notes\n"
    refused(
        [*args, "--out", tmp_path / "y.parquet", "--sidecar", default_path(data)],
        "--sidecar",
        "not a pprl sidecar",
    )
    assert not (tmp_path / "y.parquet").exists()


@pytest.fixture
def copied(world: Path, tmp_path: Path) -> Path:
    """The insurer's CSV and sidecar in a folder of their own."""
    for name in ("insurer.csv", "insurer.csv" + SUFFIX):
        shutil.copy(world / "data" / name, tmp_path / name)
    return tmp_path


def worklist_args(world: Path, data: Path, out: Path, *extra: object) -> list[object]:
    view = world / "results/parties/insurer.csv"
    return ["worklist", "--results", view, "--data", data, "--out", out, *extra]


def test_a_changed_csv_is_refused_naming_what_differs(world: Path, copied: Path) -> None:
    data = copied / "insurer.csv"
    text = data.read_text(encoding="utf-8")
    data.write_text(text + text.splitlines()[1] + "\n", encoding="utf-8")
    refused(worklist_args(world, data, copied / "o.xlsx"), "151 data rows", "150")
    data.write_text(text.replace("東京都", "東京府", 1), encoding="utf-8")
    refused(worklist_args(world, data, copied / "o.xlsx"), "digest", "changed")
    assert not (copied / "o.xlsx").exists()


def test_missing_sidecar_is_refused_with_a_hint_and_no_check_warns(
    world: Path, copied: Path
) -> None:
    default_path(copied / "insurer.csv").unlink()
    out = copied / "o.csv"
    refused(worklist_args(world, copied / "insurer.csv", out), "--sidecar", "--no-check")
    code, output = pprl(*worklist_args(world, copied / "insurer.csv", out, "--no-check"))
    assert code == 0 and "warning" in output and "not checked" in output, output
    assert out.exists()
    moved = copied / "elsewhere.json"
    shutil.copy(world / "data" / ("insurer.csv" + SUFFIX), moved)
    code, output = pprl(
        *worklist_args(world, copied / "insurer.csv", out, "--sidecar", moved, "--force")
    )
    assert code == 0 and "warning" not in output, output


def test_another_partys_view_is_refused(world: Path, tmp_path: Path) -> None:
    refused(
        [
            "worklist",
            "--results",
            world / "results/parties/insurer.csv",
            "--data",
            world / "data/register.csv",
            "--out",
            tmp_path / "o.xlsx",
        ],
        "insurer",
        "municipality",
    )
    refused(
        [
            "worklist",
            "--results",
            world / "results/parties/municipality.reference.csv",
            "--data",
            world / "data/insurer.csv",
            "--out",
            tmp_path / "o.xlsx",
        ],
        "municipality",
    )


def write_view(path: Path, rows: list[tuple[object, ...]], header: str | None = None) -> Path:
    head = header or '"party","claims_file","claim_row","status","score","reason"'
    body = "".join(
        ",".join(f'"{v}"' if isinstance(v, str) else str(v) for v in r) + "\n" for r in rows
    )
    path.write_text(head + "\n" + body, encoding="utf-8")
    return path


HOSTILE = {
    "missing columns": ('"party","claim_row"\n"insurer",1\n', ["lacks", "claims_file", "status"]),
    "no row column": ('"a","b"\n1,2\n', ["not a pprl result view"]),
    "out of range": (None, ["row 5000", "out of range"]),
    "duplicate": (None, ["row 3", "twice"]),
    "several parties": (None, ["several parties"]),
    "bad status": (None, ["status", "'fine'"]),
    "bad row": (None, ["claim_row", "'x1'"]),
    "bad reason": (None, ["unknown reason code", "'because'"]),
    "binary": (b"\x00\xff\xfe\x01" * 100, ["not UTF-8"]),
    "parquet garbage": (b"PAR1" + b"\x00" * 100, ["Parquet"]),
    "empty": (b"", ["not a pprl result view"]),
}
ROWS = {
    "out of range": [("insurer", "insurer.parquet", 5000, "suspect", 0.3, "low_score")],
    "duplicate": [("insurer", "insurer.parquet", 3, "suspect", 0.3, "low_score")] * 2,
    "several parties": [
        ("insurer", "insurer.parquet", 3, "suspect", 0.3, "low_score"),
        ("bank", "insurer.parquet", 4, "suspect", 0.3, "low_score"),
    ],
    "bad status": [("insurer", "insurer.parquet", 3, "fine", 0.3, "low_score")],
    "bad row": [("insurer", "insurer.parquet", "x1", "suspect", 0.3, "low_score")],
    "bad reason": [("insurer", "insurer.parquet", 3, "suspect", 0.3, "because")],
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_views_get_one_line(world: Path, tmp_path: Path, case: str) -> None:
    content, fragments = HOSTILE[case]
    view = tmp_path / "view.csv"
    if content is None:
        write_view(view, ROWS[case])
    elif isinstance(content, bytes):
        view.write_bytes(content)
    else:
        view.write_text(content, encoding="utf-8")
    args = worklist_args(world, world / "data/insurer.csv", tmp_path / "o.xlsx")
    args[2] = view
    line = refused(args, *fragments)
    assert "Traceback" not in line
    assert not (tmp_path / "o.xlsx").exists()


def test_a_huge_view_is_refused_unread(world: Path, tmp_path: Path) -> None:
    view = tmp_path / "huge.csv"
    with open(view, "wb") as fh:
        fh.write(b'"party","claims_file","claim_row","status","score","reason"\n')
        fh.truncate(50 << 30)  # sparse: 50 GB on paper, nothing on disk
    args = worklist_args(world, world / "data/insurer.csv", tmp_path / "o.xlsx")
    args[2] = view
    refused(args, "bytes", "right file")


def test_outputs_are_checked_like_every_command(world: Path, tmp_path: Path) -> None:
    data = world / "data/insurer.csv"
    out = tmp_path / "o.xlsx"
    out.write_bytes(b"old")
    refused(worklist_args(world, data, out), "exists", "--force")
    assert out.read_bytes() == b"old"
    code, output = pprl(*worklist_args(world, data, out, "--force"))
    assert code == 0, output
    refused(worklist_args(world, data, data, "--force"), "input")
    refused(worklist_args(world, data, tmp_path / "o.txt"), ".xlsx or .csv")
    refused(worklist_args(world, data, tmp_path / "o.csv", "--lang", "fr"), "--lang")
    assert data.read_bytes().startswith(b"my_number")


# ------------------------------------------------------------------ hand-built cases
def test_order_decoys_and_several_claims_files(world: Path, copied: Path) -> None:
    """Statuses in worklist order, lines ascending within each; rows past the CSV's end
    but within the encoded records are decoys (dropped, said); rows of another claims
    file of the same party are not this CSV's."""
    side_path = default_path(copied / "insurer.csv")
    doc = json.loads(side_path.read_text(encoding="utf-8"))
    doc["encodings"][0]["records"] = 160  # as if 10 decoys had been appended
    side_path.write_text(json.dumps(doc), encoding="utf-8")
    view = write_view(
        copied / "view.csv",
        [
            ("insurer", "insurer.parquet", 9, "review", 0.6, "weak_score"),
            ("insurer", "insurer.parquet", 4, "invalid_number", "", "no_valid_number"),
            ("insurer", "insurer.parquet", 7, "unknown_number", "", "no_register_record"),
            ("insurer", "insurer.parquet", 2, "review", 0.7, "conflict_with_other_record"),
            ("insurer", "insurer.parquet", 8, "suspect", 0.3, "low_score;better_match_elsewhere"),
            ("insurer", "insurer.parquet", 1, "confirmed", 1.0, "match"),
            ("insurer", "insurer.parquet", 155, "unknown_number", "", "no_register_record"),
            ("insurer", "other.parquet", 3, "suspect", 0.2, "low_score"),
        ],
    )
    out = copied / "o.csv"
    code, output = pprl(
        "worklist", "--results", view, "--data", copied / "insurer.csv", "--out", out
    )
    assert code == 0 and "decoy" in output, output
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))[1:]
    assert [int(r[0]) for r in rows] == [10, 9, 6, 4, 11]  # suspect, unknown, invalid, review x2
    en = TEXTS["en"]
    assert rows[0][-2] == en.reasons["low_score"] + "; " + en.reasons["better_match_elsewhere"]
    assert rows[3][-2] == en.reasons["conflict_with_other_record"]
    code, output = pprl(
        "worklist",
        "--results",
        view,
        "--data",
        copied / "insurer.csv",
        "--out",
        copied / "other.csv",
        "--claims-file",
        "other.parquet",
    )
    assert code == 0, output
    rows = list(csv.reader(io.StringIO((copied / "other.csv").read_text(encoding="utf-8-sig"))))
    assert [r[0] for r in rows[1:]] == ["5"]
    write_view(view, [("insurer", "insurer.parquet", 170, "suspect", 0.3, "low_score")])
    refused(
        ["worklist", "--results", view, "--data", copied / "insurer.csv", "--out", out, "--force"],
        "row 170",
        "out of range",
    )


def test_formulas_control_characters_and_blank_lines(world: Path, tmp_path: Path) -> None:
    """Cells that look like formulas stay text in Excel (and get a ' in CSV); control
    characters are escaped; blank lines and quoted line breaks count in line numbers."""
    src = (world / "data/insurer.csv").read_text(encoding="utf-8").splitlines()
    rows = [next(csv.reader([line])) for line in src]
    rows[1][8] = '=HYPERLINK("http://x")'
    rows[2][8] = "@SUM(A1)"
    rows[3][8] = "first line\nsecond line"
    rows[4][8] = "bell\x07here"
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(rows[0])
    w.writerow(rows[1])
    buf.write("\r\n\r\n")  # two blank lines: lines 3 and 4
    for r in rows[2:6]:
        w.writerow(r)
    data = tmp_path / "insurer.csv"
    data.write_text(buf.getvalue(), encoding="cp932", errors="replace", newline="")
    code, output = pprl(
        "encode",
        data,
        "--schema",
        "jp-resident",
        "--secret",
        world / "secret.key",
        "--party",
        "insurer",
        "--out",
        tmp_path / "insurer.parquet",
        "--processes",
        1,
    )
    assert code == 0, output
    assert read_sidecar(default_path(data)).csv.text_encoding == "cp932"
    view = write_view(
        tmp_path / "view.csv",
        [("insurer", "insurer.parquet", i, "suspect", 0.2, "low_score") for i in range(5)],
    )
    out = tmp_path / "o.xlsx"
    code, output = pprl("worklist", "--results", view, "--data", data, "--out", out)
    assert code == 0, output
    ws, cells = sheet(out)
    lines = [r[0] for r in cells[1:]]
    assert lines == [2, 5, 6, 8, 9]  # header 1, row 0 on 2, blanks 3-4, row 2 spans 6-7
    assert cells[1][9] == '=HYPERLINK("http://x")' and ws.cell(2, 10).data_type == "s"
    assert cells[2][9] == "@SUM(A1)" and cells[3][9] == "first line\nsecond line"
    assert cells[4][9] == "bell\\x07here"
    csv_out = tmp_path / "o.csv"
    code, output = pprl("worklist", "--results", view, "--data", data, "--out", csv_out)
    assert code == 0, output
    table = pacsv.read_csv(csv_out)
    assert table.column(9).to_pylist()[:2] == ['\'=HYPERLINK("http://x")', "'@SUM(A1)"]


def test_a_parquet_view_works_too(world: Path, tmp_path: Path) -> None:
    code, output = pprl(
        "verify",
        "--reference",
        world / "register.parquet",
        "--claims",
        world / "insurer.parquet",
        "--out",
        tmp_path / "res",
        "--format",
        "parquet",
    )
    assert code == 0, output
    out_pq, out_csv = tmp_path / "a.csv", tmp_path / "b.csv"
    for view, out in (
        (tmp_path / "res/parties/insurer.parquet", out_pq),
        (world / "results/parties/insurer.csv", out_csv),
    ):
        code, output = pprl(
            "worklist", "--results", view, "--data", world / "data/insurer.csv", "--out", out
        )
        assert code == 0, output
    assert out_pq.read_bytes() == out_csv.read_bytes()


# ------------------------------------------------------------------ line numbering
records = st.lists(
    st.lists(st.text(st.sampled_from('ab,"\n\r 漢'), max_size=4), min_size=2, max_size=2),
    max_size=12,
)


def csv_field(value: str) -> str:
    """RFC 4180 quoting: a field with a comma, quote, CR or LF is quoted."""
    if any(ch in value for ch in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


@settings(max_examples=150, deadline=None)
@given(records, st.lists(st.integers(0, 12), max_size=4), st.sampled_from(["\n", "\r\n"]))
def test_line_numbers_match_the_file(rows: list[list[str]], blanks: list[int], end: str) -> None:
    """Whatever the quoting, line breaks in fields and blank lines, the line given for a
    data row is the line its record starts on, on the byte path and the reader path."""
    text = "h1,h2" + end
    line = 2
    expected = []
    for i, r in enumerate(rows):
        text += end * blanks.count(i)
        line += blanks.count(i)
        expected.append(line)
        record = ",".join(csv_field(v) for v in r) + end
        flat = record.replace("\r\n", "\n").replace("\r", "\n")
        line += flat.count("\n")
        text += record
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f.csv"
        wanted = np.arange(len(rows))
        for codec in ("utf-8-sig", "utf-16"):
            path.write_text(text, encoding=codec, newline="")
            lines, n = data_lines(path, codec, wanted)
            assert n == len(rows)
            assert lines.tolist() == expected


def test_line_numbers_on_the_byte_path_span_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks that end inside a line, right after a CR or right after an LF."""
    import pprl.worklist as wl

    text = "h\r\n" + "".join(("\r\n" if i % 3 == 0 else "") + f"v{i}\r\n" for i in range(40))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f.csv"
        path.write_bytes(text.encode("ascii"))
        whole = data_lines(path, "utf-8-sig", np.arange(40))
        for block in (1, 2, 3, 5, 7):
            monkeypatch.setattr(wl, "SCAN_BLOCK", block)
            assert wl._lines_on_bytes(path, np.arange(40)) is not None
            lines, n = data_lines(path, "utf-8-sig", np.arange(40))
            assert n == 40 and lines.tolist() == whole[0].tolist()
    expected = [2 + i + (i // 3 + 1) for i in range(40)]
    assert whole[0].tolist() == expected


def test_a_lone_cr_leaves_the_bytes_to_the_reader(tmp_path: Path) -> None:
    """Python's reader (which pprl encode uses) ends a line at a lone CR: so do the line
    numbers, and the byte path steps aside."""
    import pprl.worklist as wl

    path = tmp_path / "f.csv"
    path.write_bytes(b"h,i\na,b\rc,d\n\ne,f\n")
    assert wl._lines_on_bytes(path, np.arange(3)) is None
    lines, n = data_lines(path, "utf-8-sig", np.arange(3))
    assert n == 3 and lines.tolist() == [2, 3, 5]


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"not json", "not valid JSON"),
        (b'{"format": "other"}', "not a pprl local sidecar"),
        (b"[" * 100 + b"]" * 100, "nested deeper"),
        (b" " * (2 << 20), "bytes"),
        ("records", "fewer than the CSV's"),
        ("role", "role must be"),
    ],
)
def test_hostile_sidecars_get_one_line(
    world: Path, copied: Path, content: bytes | str, fragment: str
) -> None:
    side = default_path(copied / "insurer.csv")
    if isinstance(content, str):
        doc = json.loads(side.read_text(encoding="utf-8"))
        doc["encodings"][0][content] = 3 if content == "records" else "owner"
        side.write_text(json.dumps(doc), encoding="utf-8")
    else:
        side.write_bytes(content)
    refused(worklist_args(world, copied / "insurer.csv", copied / "o.xlsx"), str(side), fragment)
