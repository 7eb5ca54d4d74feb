"""The data holder's commands end to end: keygen, encode, inspect, schema show; bad input."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
from pprl_cli.main import app
from typer.testing import CliRunner

from pprl.store import read_encodings

runner = CliRunner()

HEADER = (
    "my_number,family_name_kanji,given_name_kanji,family_name_kana,given_name_kana,"
    "date_of_birth,sex,postcode,address,note\n"
)
ROWS = [
    "123456789018,髙橋,一郎,ﾀｶﾊｼ,ｲﾁﾛｳ,昭和55年5月3日,1,〒100-0013,東京都千代田区霞が関一丁目2番3号,x\n",
    "000000000019,山﨑,花子,やまざき,はなこ,1990/01/02,女,5300001,大阪府大阪市北区梅田1-2-3,y\n",
    "123456789012,齋藤,次郎,サイトウ,ジロウ,19751224,男,060-0001,北海道札幌市中央区北1条西2丁目3,z\n",
]


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture()
def secret(tmp_path):
    path = tmp_path / "secret.key"
    result = invoke("keygen", path)
    assert result.exit_code == 0, result.output
    return path


def write_csv(path, rows=ROWS, header=HEADER, encoding="utf-8"):
    path.write_bytes((header + "".join(rows)).encode(encoding))
    return path


def test_encode_cp932_and_inspect(tmp_path, secret):
    csv = write_csv(tmp_path / "register.csv", encoding="cp932")
    out = tmp_path / "register.parquet"
    result = invoke(
        "encode",
        csv,
        "--schema",
        "jp-resident",
        "--secret",
        secret,
        "--out",
        out,
        "--party",
        "municipality",
    )
    assert result.exit_code == 0, result.output
    assert "cp932" in result.output
    assert "row(s) with invalid link key" in result.output and "rows 2" in result.output
    enc = read_encodings(out)
    assert list(enc.rows) == [0, 1, 2]
    assert list(enc.has_token) == [True, True, False]
    assert enc.meta["party"] == "municipality" and enc.nbits == 1024
    info = invoke("inspect", out, "--json")
    assert info.exit_code == 0
    data = json.loads(info.output)
    assert data["statistics"]["records"] == 3
    assert data["metadata"]["key_fingerprint"] == enc.meta["key_fingerprint"]
    secret_text = secret.read_text().strip()
    for output in (result.output, info.output, out.read_bytes().decode("latin-1")):
        assert secret_text not in output


def test_variants_encode_identically(tmp_path, secret):
    """Spelling variants of one person give the same CLK after normalization."""
    a = write_csv(tmp_path / "a.csv", [ROWS[0]])
    b = write_csv(
        tmp_path / "b.csv",
        [
            "123456789018,高橋,一郎,タカハシ,イチロウ,1980-05-03,M,1000013,東京都千代田区霞が関1-2-3,x\n"
        ],
    )
    for src in (a, b):
        assert (
            invoke(
                "encode",
                src,
                "--schema",
                "jp-resident",
                "--secret",
                secret,
                "--out",
                src.with_suffix(".parquet"),
            ).exit_code
            == 0
        )
    ea, eb = read_encodings(a.with_suffix(".parquet")), read_encodings(b.with_suffix(".parquet"))
    assert (ea.clks == eb.clks).all() and (ea.tokens == eb.tokens).all()


def test_column_mapping_and_clkhash_json(tmp_path, secret):
    csv = write_csv(tmp_path / "in.csv", header=HEADER.replace("date_of_birth", "birthday"))
    out = tmp_path / "out.json"
    result = invoke(
        "encode",
        csv,
        "--schema",
        "jp-resident",
        "--secret",
        secret,
        "--out",
        out,
        "--column",
        "date_of_birth=birthday",
        "--format",
        "clkhash-json",
    )
    assert result.exit_code == 0, result.output
    assert len(json.loads(out.read_text())["clks"]) == 3
    assert len(read_encodings(out)) == 3


def test_schema_show():
    result = invoke("schema", "show", "jp-resident")
    assert result.exit_code == 0
    doc = json.loads(result.output)
    assert doc["clkConfig"]["l"] == 1024 and doc["pprl"]["link_key"] == "my_number"
    assert invoke("schema", "show", "nope").exit_code == 2


def test_keygen_refuses_overwrite(tmp_path, secret):
    before = secret.read_text()
    result = invoke("keygen", secret)
    assert result.exit_code == 2 and "exists" in result.output
    assert secret.read_text() == before


def bad_cases(tmp_path, secret):
    good = write_csv(tmp_path / "good.csv")
    wrong_key = tmp_path / "wrong.key"
    wrong_key.write_text("not a key")
    return {
        "missing column": (
            write_csv(
                tmp_path / "m.csv",
                [r.replace(",1,", ",") for r in ROWS[:1]],
                HEADER.replace("sex,", ""),
            ),
            ["--schema", "jp-resident"],
            "missing column for schema field 'sex'",
        ),
        "unknown schema": (good, ["--schema", "nope"], "unknown schema 'nope'"),
        "wrong key file": (
            good,
            ["--schema", "jp-resident", "--secret", wrong_key],
            "not a pprl secret file",
        ),
        "malformed row": (
            write_csv(tmp_path / "bad.csv", ROWS + ["1,2,3\n"]),
            ["--schema", "jp-resident"],
            "row 3 (line 5): expected 10 fields",
        ),
        "strict link key": (
            good,
            ["--schema", "jp-resident", "--strict"],
            "row 2: missing or invalid link key 'my_number'",
        ),
        "not utf-8": ((tmp_path / "latin.csv"), ["--schema", "jp-resident"], "pass --encoding"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "missing column",
        "unknown schema",
        "wrong key file",
        "malformed row",
        "strict link key",
        "not utf-8",
    ],
)
def test_bad_input_one_line_error_no_output(tmp_path, secret, case):
    (tmp_path / "latin.csv").write_bytes(HEADER.encode() + "1,José,,,,,,,,\n".encode("latin-1"))
    src, options, message = bad_cases(tmp_path, secret)[case]
    if "--secret" not in options:
        options = [*options, "--secret", secret]
    out = tmp_path / "out.parquet"
    result = invoke("encode", src, *options, "--out", out)
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert message in text
    assert text.startswith("error:") and len(result.output.strip().splitlines()) == 1
    named = {"wrong key file": "wrong.key", "unknown schema": "nope"}.get(case, src.name)
    assert named in text
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.parquet")]


def test_damaged_files_refused(tmp_path, secret):
    csv = write_csv(tmp_path / "in.csv")
    out = tmp_path / "e.parquet"
    assert (
        invoke("encode", csv, "--schema", "jp-resident", "--secret", secret, "--out", out).exit_code
        == 0
    )
    data = out.read_bytes()
    (tmp_path / "trunc.parquet").write_bytes(data[: len(data) - 100])
    result = invoke("inspect", tmp_path / "trunc.parquet")
    assert result.exit_code == 2 and "truncated or damaged" in result.output
    table = pq.read_table(out)
    pq.write_table(table.slice(1), tmp_path / "edited.parquet")
    result = invoke("inspect", tmp_path / "edited.parquet")
    assert result.exit_code == 2 and "truncated or edited" in " ".join(result.output.split())


def test_plain_clkhash_schema_hashes_values_as_read_like_clkhash(tmp_path, secret):
    """A plain clkhash schema (no pprl extension, no normalizers): every value is hashed
    exactly as read, whitespace-only and padded ones included, so `pprl encode` gives
    clkhash's CLKs bit for bit (whitespace-only values once became '')."""
    from clkhash import clk
    from clkhash import schema as clk_schema

    from pprl.encode import clks_to_bitarrays

    def field(name: str) -> dict:
        return {
            "identifier": name,
            "format": {"type": "string", "encoding": "utf-8"},
            "hashing": {
                "comparison": {"type": "ngram", "n": 2},
                "strategy": {"bitsPerFeature": 100},
                "hash": {"type": "doubleHash"},
            },
        }

    doc = {
        "version": 3,
        "clkConfig": {"l": 1024, "kdf": {"type": "HKDF"}},
        "features": [field("name"), field("city")],
    }
    schema_path = tmp_path / "plain.json"
    schema_path.write_text(json.dumps(doc), encoding="utf-8")
    rows = [["山田", "東京"], ["  ", "大阪"], [" 佐藤 ", " "], ["", "\u3000"], ["a b", "x"]]
    csv = tmp_path / "plain.csv"
    csv.write_text("name,city\n" + "".join(f"{a},{b}\n" for a, b in rows), encoding="utf-8")
    out = tmp_path / "plain.parquet"
    result = invoke("encode", csv, "--schema", schema_path, "--secret", secret, "--out", out,
                    "--party", "p")  # fmt: skip
    assert result.exit_code == 0, result.output
    with open(schema_path, encoding="utf-8") as fh:
        sch = clk_schema.from_json_file(fh)
    with open(csv, newline="", encoding="utf-8") as fh:
        expected = clk.generate_clk_from_csv(
            fh, secret.read_text().strip(), sch, progress_bar=False
        )
    got = clks_to_bitarrays(read_encodings(out).clks)
    assert [g.tobytes() for g in got] == [e.tobytes() for e in expected]
