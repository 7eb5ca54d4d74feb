"""Real-export headers: Japanese header names encode like canonical ones; a missing,
doubled or reversed column mapping and a Shift_JIS misread are one clean refusal."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from adversarial.harness import Case, check_refused, run_pprl
from pprl.headers import ALIASES

ENCODE = ["encode", "--schema", "jp-resident", "--secret", "secret.key", "--out", "new.parquet"]


def japanese_copy(
    src: Path, dst: Path, rename: dict[str, str] | None = None, *, cp932_only: bool = False
) -> Path:
    """``src`` with each canonical header renamed to its first alias (or ``rename``),
    written as CP932; ``cp932_only`` puts a character Shift_JIS lacks into a name."""
    with open(src, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    names = {f: a[0] for f, a in ALIASES.items()} | (rename or {})
    rows[0] = [names.get(h, h) for h in rows[0]]
    if cp932_only:
        rows[1][rows[0].index(names["family_name_kanji"])] = "髙橋"
    with open(dst, "w", encoding="cp932", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return dst


def encode(*extra: str):
    return lambda t: [ENCODE[0], *extra, *ENCODE[1:]]


def with_file(name: str, rename: dict[str, str] | None = None, **kw: bool):
    def setup(t: Path) -> list[str]:
        japanese_copy(t / "data" / "insurer.csv", t / "data" / name, rename, **kw)
        return [ENCODE[0], f"data/{name}", *ENCODE[1:]]

    return setup


def extra_column(name: str, header: str):
    """Add a column ``header`` copying the first alias column of ``name``."""

    def setup(t: Path) -> list[str]:
        path = japanese_copy(t / "data" / "insurer.csv", t / "data" / "two.csv")
        with open(path, encoding="cp932", newline="") as fh:
            rows = list(csv.reader(fh))
        i = rows[0].index(ALIASES[name][0])
        rows = [[*r, header if n == 0 else r[i]] for n, r in enumerate(rows)]
        with open(path, "w", encoding="cp932", newline="") as fh:
            csv.writer(fh).writerows(rows)
        return [ENCODE[0], "data/two.csv", *ENCODE[1:]]

    return setup


CASES = [
    Case(
        "encode-every-missing-column-at-once",
        with_file(
            "missing.csv",
            {"family_name_kanji": "x0", "given_name_kanji": "x1", "sex": "x2"},
        ),
        [
            "missing.csv",
            "'family_name_kanji'",
            "'given_name_kanji'",
            "'sex'",
            "headers present",
            "'x0'",
            "full-name column 'full_name_kanji'",
        ],
    ),
    Case(
        "encode-one-full-name-column-for-family-and-given",
        lambda t: [
            *with_file("full.csv", {"family_name_kanji": "氏名", "given_name_kanji": "名前2"})(t),
            "--column",
            "family_name_kanji=氏名",
            "--column",
            "given_name_kanji=氏名",
        ],
        ["full.csv", "both read the column '氏名'", "--column full_name_kanji=氏名"],
    ),
    Case(
        "encode-one-split-column-beside-a-full-name",
        with_file("half.csv", {"family_name_kanji": "姓", "given_name_kanji": "氏名"}),
        ["half.csv", "'姓' holds 'family_name_kanji'", "--column full_name_kanji=氏名"],
    ),
    Case(
        "encode-two-headers-one-field",
        extra_column("family_name_kanji", "氏"),
        ["two.csv", "'姓'", "'氏'", "family_name_kanji"],
    ),
    Case(
        "encode-reversed-column-mapping",
        lambda t: [*with_file("jp.csv")(t), "--column", "個人番号=my_number"],
        ["did you mean --column my_number=個人番号"],
    ),
    Case(
        "encode-column-mapping-to-absent-header",
        lambda t: [*with_file("jp.csv")(t), "--column", "my_number=番号"],
        ["jp.csv", "'my_number'", "'番号' names no header"],
    ),
    Case(
        "encode-shift-jis-on-cp932-file",
        lambda t: [*with_file("w.csv", cp932_only=True)(t), "--encoding", "shift_jis"],
        ["w.csv", "not valid shift_jis", "--encoding cp932"],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_header_refusals(case: Case, world: Path, tmp_path: Path) -> None:
    check_refused(case, world, tmp_path)


@pytest.mark.parametrize("source", ["insurer.csv", "register.csv"])
def test_japanese_cp932_export_encodes_like_canonical_headers(
    source: str, world: Path, tmp_path: Path
) -> None:
    """Only --schema/--secret/--out (plus the same party and role): same CLKs, pseudonyms,
    block keys and metadata as the canonical-header UTF-8 file."""
    data = world / "data" / source
    japanese = japanese_copy(data, tmp_path / source, cp932_only=False)
    assert "個人番号" in japanese.read_text(encoding="cp932").splitlines()[0]
    outs = []
    for i, path in enumerate([data, japanese]):
        out = tmp_path / f"{i}.parquet"
        result = run_pprl(
            "encode", path, "--schema", "jp-resident", "--secret", world / "secret.key",
            "--out", out, "--party", "p",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        outs.append(out.read_bytes())
    assert "(cp932)" in result.stdout
    assert outs[0] == outs[1]


def full_name_copy(src: Path, dst: Path, space: str) -> Path:
    """``src`` as a CP932 export whose names are one kanji column (氏名) and one
    half-width kana column (ﾌﾘｶﾞﾅ), family and given joined by ``space``."""
    import jaconv

    with open(src, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    header = ["個人番号", "氏名", "ﾌﾘｶﾞﾅ", "生年月日", "性別", "郵便番号", "住所"]
    with open(dst, "w", encoding="cp932", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(header)
        for r in rows:
            kana = r["family_name_kana"] + space + r["given_name_kana"]
            out.writerow(
                [
                    r["my_number"],
                    r["family_name_kanji"] + space.replace(" ", "\u3000") + r["given_name_kanji"],
                    jaconv.z2h(kana, kana=True, ascii=False, digit=False),
                    r["date_of_birth"],
                    r["sex"],
                    r["postcode"],
                    r["address"],
                ]
            )
    return dst


def test_full_name_export_with_spaces_encodes_like_split_columns(
    world: Path, tmp_path: Path
) -> None:
    """A CP932 export with 「山田　太郎」 and ｢ﾔﾏﾀﾞ ﾀﾛｳ｣ columns, encoded with only
    --schema/--secret/--out (plus the same party): the same file, byte for byte, as the
    split-column original."""
    data = world / "data" / "insurer.csv"
    combined = full_name_copy(data, tmp_path / "full.csv", " ")
    outs = []
    for i, path in enumerate([data, combined]):
        out = tmp_path / f"{i}.parquet"
        result = run_pprl(
            "encode", path, "--schema", "jp-resident", "--secret", world / "secret.key",
            "--out", out, "--party", "p",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
