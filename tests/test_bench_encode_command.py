"""benchmarks/bench_encode_command.py keeps working: a run at a few hundred records
(synth, pprl encode with a plain clkhash schema and jp-resident, clkhash's own path,
the start-up commands) finishes, and pprl's CLKs equal clkhash's. Nothing is timed."""

from __future__ import annotations

import base64
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_encode_command.py"


def _bench() -> ModuleType:
    """The script as a module (benchmarks/ is not a package)."""
    name = "bench_encode_command"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, SCRIPT)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # its dataclass looks itself up there
        spec.loader.exec_module(module)
    return sys.modules[name]


def test_tiny_run_is_bit_identical_to_clkhash(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--records", "150,300", "--workdir", str(tmp_path)]
        + ["--startup-repeat", "1"],
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    rows = [line for line in out.splitlines() if line.startswith("| ")][1:]  # minus the header
    labels = [row.split("|")[1].strip() for row in rows]
    assert labels.count("pprl encode, plain clkhash schema") == 2
    assert labels.count("clkhash 0.18.3 generate_clk_from_csv") == 2
    assert "pprl encode --schema jp-resident --role register" in labels
    assert sum(label.startswith("start-up:") for label in labels) == 3
    assert "150 records: yes (150 CLKs); 300 records: yes (300 CLKs)" in out
    assert (tmp_path / "synth-300-seed1" / "register.csv").is_file()  # kept for the next run
    assert not list(tmp_path.glob("*.parquet"))[1:]  # large outputs removed (one.parquet stays)


def test_head_csv(tmp_path):
    bench = _bench()
    src = tmp_path / "in.csv"
    src.write_text("a,b\n1,2\n3,4\n5,6\n", encoding="utf-8")
    assert bench.head_csv(src, 2, tmp_path / "two.csv") == 2
    assert (tmp_path / "two.csv").read_text(encoding="utf-8") == "a,b\n1,2\n3,4\n"
    assert bench.head_csv(src, 10, tmp_path / "all.csv") == 3  # fewer rows than asked


ROWS = (
    "my_number,family_name_kanji,given_name_kanji,family_name_kana,given_name_kana,"
    "date_of_birth,sex,postcode,address,household_id\n"
    "014068638772,加藤,幹宏,カトウ,ミキヒロ,1985-03-04,M,231-9263,神奈川県横浜市中区元町5丁目12番24号,H0\n"
    "136608200575,小林,大,コバヤシ,ダイ,1979-10-18,M,780-2703,高知県高知市本町6丁目11番1号,H1\n"
    "455954608902,小林,悠利,コバヤシ,ユウリ,1981-03-24,F,780-2703,高知県高知市本町6丁目11番1号,H1\n"
)


def test_clk_comparison_sees_one_flipped_bit(tmp_path):
    """The bit-identity check reads both formats and notices a single differing bit."""
    from pprl.keys import load_secret, write_secret
    from pprl.party import encode_csv
    from pprl.schema import parse_schema
    from pprl.store import write_clkhash_json, write_encodings

    bench = _bench()
    csv_path = tmp_path / "three.csv"
    csv_path.write_text(ROWS, encoding="utf-8")
    schema = parse_schema(json.loads(json.dumps(bench.PLAIN_SCHEMA)), "plain")
    secret = load_secret(write_secret(tmp_path / "k.key"))
    enc, _ = encode_csv(csv_path, schema, secret)
    pprl_file = tmp_path / "enc.parquet"
    write_encodings(enc, pprl_file)
    raw = enc.clks.astype("<u8").tobytes()
    width = enc.clks.shape[1] * 8
    rows = [raw[i * width : (i + 1) * width] for i in range(len(enc))]
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"clks": [base64.b64encode(r).decode() for r in rows]}))
    assert bench.same_clks(pprl_file, good) == (True, len(rows))
    flipped = bytearray(rows[-1])
    flipped[3] ^= 0x10
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps({"clks": [base64.b64encode(r).decode() for r in [*rows[:-1], bytes(flipped)]]})
    )
    assert bench.same_clks(pprl_file, bad) == (False, len(rows))
    shorter = tmp_path / "shorter.json"
    shorter.write_text(json.dumps({"clks": [base64.b64encode(r).decode() for r in rows[:-1]]}))
    assert bench.same_clks(pprl_file, shorter) == (False, len(rows))
    written = tmp_path / "written.json"
    write_clkhash_json(enc, written)  # pprl's own clkhash JSON: the same CLKs
    assert bench.same_clks(pprl_file, written) == (True, 3)


@pytest.mark.parametrize("bad", ["0", "-5", "ten", ","])
def test_records_option_refuses_bad_counts(bad, capsys):
    with pytest.raises(SystemExit) as exc:
        _bench().main(["--records", bad, "--skip-clkhash"])
    assert exc.value.code == 2
    assert "--records" in capsys.readouterr().err
