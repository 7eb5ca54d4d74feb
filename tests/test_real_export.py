"""The real-export path of issue #13, as a new user meets it: an insurer's CP932 export
with Japanese headers, its own record ID (被保険者番号), full names in one column (with and
without a space), half-width kana and era dates (``pprl synth --export-layout``)
encodes with only --schema/--secret/--out, verifies exactly as the split layout does,
and comes back as an Excel worklist naming its own record IDs."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from openpyxl import load_workbook
from pprl_cli.main import app
from typer.testing import CliRunner

from pprl.synth.export import EXPORT_HEADER, wareki

runner = CliRunner()


def pprl(*args: object) -> str:
    result = runner.invoke(app, [str(a) for a in args], env={"LANG": "C"})
    assert result.exit_code == 0, result.output
    return result.output


def test_wareki_dates() -> None:
    assert wareki("1985-03-04") == "昭和60年3月4日"
    assert wareki("1989-01-07") == "昭和64年1月7日"
    assert wareki("1989-01-08") == "平成元年1月8日"
    assert wareki("2019-05-01") == "令和元年5月1日"
    assert wareki("1912-07-29") == "1912-07-29"  # before 大正: left as it is
    assert wareki("H2.3.4") == "H2.3.4"  # already another form


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("export")
    pprl("synth", "--people", 1500, "--seed", 4, "--mislink-rate", 0.05, "--out", root / "data",
         "--export-layout")  # fmt: skip
    pprl("keygen", root / "s.key")
    common = ("--schema", "jp-resident", "--secret", root / "s.key")
    pprl("encode", root / "data" / "register.csv", *common, "--party", "municipality",
         "--role", "register", "--out", root / "reg.parquet")  # fmt: skip
    pprl("encode", root / "data" / "insurer-export.csv", *common, "--out", root / "exp.parquet")
    pprl("encode", root / "data" / "insurer.csv", *common, "--party", "insurer-export",
         "--out", root / "split.parquet")  # fmt: skip
    for name in ("exp", "split"):
        pprl("verify", "--reference", root / "reg.parquet", "--claims", root / f"{name}.parquet",
             "--out", root / f"r-{name}")  # fmt: skip
    return root


def _statuses(folder: Path) -> list[tuple[str, str]]:
    with open(folder / "findings.csv", encoding="utf-8") as fh:
        return [(r["claim_row"], r["status"]) for r in csv.DictReader(fh)]


def test_export_layout_is_the_insurer_file_row_for_row(world: Path) -> None:
    with open(world / "data" / "insurer-export.csv", encoding="cp932", newline="") as fh:
        rows = list(csv.reader(fh))
    with open(world / "data" / "insurer.csv", encoding="utf-8", newline="") as fh:
        split = list(csv.DictReader(fh))
    assert rows[0] == EXPORT_HEADER
    assert len(rows) - 1 == len(split)
    spaced = sum("\u3000" in r[2] for r in rows[1:])
    assert 0.3 < spaced / len(split) < 0.7  # both layouts of the full name occur
    assert all(r[1] == s["my_number"] for r, s in zip(rows[1:], split, strict=True))
    assert any(r[4].startswith("昭和") for r in rows[1:])
    assert all(r[5] in ("男", "女", "") for r in rows[1:])


def test_export_verifies_exactly_as_the_split_layout(world: Path) -> None:
    exported, split = _statuses(world / "r-exp"), _statuses(world / "r-split")
    assert len(exported) == 750
    assert exported == split
    assert sum(s != "confirmed" for _, s in exported) >= 30  # planted errors were found


def test_worklist_names_the_insurers_own_record_ids(world: Path) -> None:
    out = world / "worklist.xlsx"
    pprl("worklist", "--results", world / "r-exp" / "parties" / "insurer-export.csv",
         "--data", world / "data" / "insurer-export.csv", "--out", out)  # fmt: skip
    sheet = load_workbook(out).active
    assert sheet is not None
    header = [c.value for c in sheet[1]]
    assert "被保険者番号" in header
    ids = header.index("被保険者番号")
    findings = {
        int(row): status for row, status in _statuses(world / "r-exp") if status != "confirmed"
    }
    listed = [r for r in sheet.iter_rows(min_row=2, values_only=True)]
    assert len(listed) == len(findings)
    for r in listed:  # record ID 10000000 + row: the worklist names the right record
        assert isinstance(r[ids], str)
        assert int(r[ids]) - 10_000_000 in findings
