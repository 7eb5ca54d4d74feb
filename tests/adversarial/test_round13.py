"""Round 13's features under hostile input: full-name columns and ``--column``, the CSV
reader's hand-over to the csv module, the local sidecar, ``pprl worklist`` and output
paths that lead to a key file. Each case was found by trying it; each is a clean
one-line refusal (exit 2, nothing changed) or, for the worklist's CSV, a safe cell."""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import pytest

from adversarial.harness import Case, check_refused, run_pprl, snapshot

ENCODE = ["--schema", "jp-resident", "--secret", "secret.key", "--processes", "1"]
NAMES_HEADER = ["個人番号", "名前", "カナ", "生年月日", "性別", "郵便番号", "住所"]
NAMES_ROW = [
    "139315959525",
    "石井伸安",
    "ｲｼｲ ﾉﾌﾞﾔｽ",
    "昭和59年9月3日",
    "男",
    "847-5076",
    "佐賀県唐津市",
]


def names_file(t: Path) -> str:
    """A two-name-column export: 名前 (the full name) and カナ (its reading)."""
    with open(t / "names.csv", "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([NAMES_HEADER, NAMES_ROW])
    return "names.csv"


def encode_names(*columns: str):
    def setup(t: Path) -> list[str]:
        mapping = [a for c in columns for a in ("--column", c)]
        return ["encode", names_file(t), *ENCODE, "--out", "n.parquet", *mapping]

    return setup


def quote_then_bad_byte(t: Path) -> list[str]:
    """A CP932 export whose line 4 has a quoted line break (the reader hands the rest of
    the file to the csv module there) and whose line 101 has bytes CP932 lacks."""
    with open(t / "data" / "insurer.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    rows[2][-1] = rows[2][-1] + "\n2F"  # data row 1: a quoted field spanning two lines
    with open(t / "q.csv", "w", encoding="cp932", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    data = (t / "q.csv").read_bytes().split(b"\n")
    data[100] = data[100].replace(b",", b",\x81\x7f", 1)  # line 101 of the file
    (t / "q.csv").write_bytes(b"\n".join(data))
    return ["encode", "q.csv", *ENCODE, "--out", "q.parquet", "--encoding", "cp932"]


def crafted_sidecar(key: str, value: object):
    def setup(t: Path) -> list[str]:
        path = t / "data" / "insurer.csv.pprl-local.json"
        doc = json.loads(path.read_text(encoding="utf-8"))
        doc["csv"][key] = value
        path.write_text(json.dumps(doc), encoding="utf-8")
        return worklist_args()

    return setup


def worklist_args(*extra: str) -> list[str]:
    return [
        "worklist", "--results", "results/parties/insurer.csv", "--data", "data/insurer.csv",
        "--out", "wl.csv", *extra,
    ]  # fmt: skip


def encoding_replaced(t: Path) -> list[str]:
    """The insurer's encoding file written again, with --force, from another CSV of the
    same size and party: the view is then about that file's records. (The sidecar,
    copied with the world, is pointed at this copy's encoding file first.)"""
    sidecar = t / "data" / "insurer.csv.pprl-local.json"
    doc = json.loads(sidecar.read_text(encoding="utf-8"))
    for entry in doc["encodings"]:
        entry["path"] = str(t / entry["file"])
    sidecar.write_text(json.dumps(doc), encoding="utf-8")
    other = t / "other.csv"
    with open(t / "data" / "register.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    n = sum(1 for _ in open(t / "data" / "insurer.csv", encoding="utf-8")) - 1
    header = rows[0]
    with open(other, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([header, *rows[-n:]])
    result = run_pprl(
        "encode", other, *ENCODE, "--party", "insurer", "--out", "insurer.parquet", "--force",
        cwd=t,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return worklist_args()


def link_to_key(option: str, name: str):
    def setup(t: Path) -> list[str]:
        os.symlink("secret.key", t / name)
        return [
            "evaluate", "--findings", "results/findings.parquet", "--truth", "data/truth.csv",
            option, name, "--force",
        ]  # fmt: skip

    return setup


def copy_of_key(t: Path) -> list[str]:
    shutil.copy(t / "secret.key", t / "key.png")
    return [
        "evaluate", "--findings", "results/findings.parquet", "--truth", "data/truth.csv",
        "--plot", "key.png", "--force",
    ]  # fmt: skip


CASES = [
    Case(
        "encode-full-name-field-mapped-twice",
        encode_names("full_name_kanji=名前", "full_name_kanji=カナ"),
        ["'full_name_kanji' given twice", "'名前'", "'カナ'"],
    ),
    Case(
        "encode-one-column-as-kanji-and-kana-full-name",
        encode_names("full_name_kanji=名前", "full_name_kana=名前"),
        ["names.csv", "'full_name_kanji'", "'full_name_kana'", "'名前'"],
    ),
    Case(
        "encode-one-column-as-full-name-and-another-part",
        encode_names("full_name_kanji=名前", "family_name_kana=名前", "given_name_kana=カナ"),
        ["names.csv", "'full_name_kanji'", "'family_name_kana'", "'名前'"],
    ),
    Case(
        "encode-undecodable-bytes-after-csv-module-takes-over",
        quote_then_bad_byte,
        ["q.csv", "not valid cp932", "line 101"],  # the file's line 101, not a data row
    ),
    Case(
        "worklist-sidecar-unknown-text-encoding",
        crafted_sidecar("text_encoding", "no-such-codec"),
        ["insurer.csv.pprl-local.json", "'text_encoding'", "not a known codec"],
    ),
    Case(
        "worklist-sidecar-binary-codec",
        crafted_sidecar("text_encoding", "zlib_codec"),
        ["insurer.csv.pprl-local.json", "'text_encoding'", "not a text encoding"],
    ),
    Case(
        "worklist-encoding-file-replaced-from-another-csv",
        encoding_replaced,
        ["insurer.parquet", "no longer holds the encoding", "insurer.csv.pprl-local.json"],
        watch=lambda t: [t / "data", t / "results", t / "wl.csv"],
    ),
    Case(
        "evaluate-reliability-plot-link-to-key",
        link_to_key("--reliability-plot", "rel.png"),
        ["--reliability-plot rel.png", "secret key", "never overwrites a key file"],
    ),
    Case(
        "evaluate-plot-over-a-copy-of-the-key",
        copy_of_key,
        ["--plot key.png", "secret key"],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_round13_refusals(case: Case, world: Path, tmp_path: Path) -> None:
    check_refused(case, world, tmp_path)


def test_encode_decode_error_line_is_the_file_line(world: Path, tmp_path: Path) -> None:
    """The byte offset named is the file's, and it holds the bad bytes."""
    work = tmp_path / "w"
    shutil.copytree(world, work, symlinks=True)
    result = run_pprl(*quote_then_bad_byte(work), cwd=work)
    assert result.returncode == 2, result.stderr
    offset = int(result.stderr.split("at byte ")[1].split(",")[0])
    assert (work / "q.csv").read_bytes()[offset : offset + 2] == b"\x81\x7f"


def test_worklist_csv_header_from_party_csv_is_never_a_formula(world: Path, tmp_path: Path) -> None:
    """A party's own column title like =HYPERLINK(...) is a column of the worklist: in
    the .csv it gets the same apostrophe as a risky value, in the .xlsx it is text."""
    work = tmp_path / "w"
    shutil.copytree(world, work, symlinks=True)
    data = work / "data" / "insurer.csv"
    with open(data, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    risky = ['=HYPERLINK("http://x","y")', "@SUM(1)", "+1", "-1"]
    rows = [[*rows[0], *risky], *[[*r, *risky] for r in rows[1:]]]
    with open(data, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    step = ["encode", data, *ENCODE, "--party", "insurer", "--out", "insurer.parquet", "--force"]
    for args in (
        step,
        ["verify", "--reference", "register.parquet", "--claims", "insurer.parquet",
         "--out", "results", "--force"],
        [*worklist_args("--all")],
        ["worklist", "--results", "results/parties/insurer.csv", "--data", "data/insurer.csv",
         "--out", "wl.xlsx", "--all"],
    ):  # fmt: skip
        result = run_pprl(*args, cwd=work)
        assert result.returncode == 0, (args, result.stderr)
    with open(work / "wl.csv", encoding="utf-8-sig", newline="") as fh:
        table = list(csv.reader(fh))
    for row in table:
        for cell in row:
            assert cell[:1] not in ("=", "+", "-", "@"), (cell, row[:2])
    assert [f"'{r}" for r in risky] == table[0][-len(risky) - 4 : -4]
    from openpyxl import load_workbook

    sheet = load_workbook(work / "wl.xlsx").active
    cells = [c for row in sheet.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    assert risky[0] in [c.value for c in sheet[1]]


def test_full_name_mapped_twice_to_the_same_header_is_one_mapping(
    world: Path, tmp_path: Path
) -> None:
    """Repeating the same --column FIELD=HEADER is harmless and encodes."""
    before = snapshot(world / "secret.key")
    names_file(tmp_path)
    shutil.copy(world / "secret.key", tmp_path / "secret.key")
    args = encode_names("full_name_kanji=名前", "full_name_kanji=名前", "full_name_kana=カナ")
    result = run_pprl(*args(tmp_path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert snapshot(world / "secret.key") == before
