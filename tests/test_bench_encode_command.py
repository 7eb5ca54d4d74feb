"""benchmarks/bench_encode_command.py keeps working: a run at a few hundred records
(synth, pprl encode with a plain clkhash schema and jp-resident, clkhash's own path,
the start-up commands) finishes, and pprl's CLKs equal clkhash's. Nothing is timed."""

from __future__ import annotations

import importlib.util
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


def test_head_csv_and_clk_readers(tmp_path):
    bench = _bench()
    src = tmp_path / "in.csv"
    src.write_text("a,b\n1,2\n3,4\n5,6\n", encoding="utf-8")
    assert bench.head_csv(src, 2, tmp_path / "two.csv") == 2
    assert (tmp_path / "two.csv").read_text(encoding="utf-8") == "a,b\n1,2\n3,4\n"
    assert bench.head_csv(src, 10, tmp_path / "all.csv") == 3  # fewer rows than asked
    ref = tmp_path / "ref.json"
    ref.write_text('{"clks": ["AAE=", "/w=="]}', encoding="utf-8")
    assert bench.read_clkhash_clks(ref) == [b"\x00\x01", b"\xff"]


@pytest.mark.parametrize("bad", ["0", "-5", "ten", ","])
def test_records_option_refuses_bad_counts(bad, capsys):
    with pytest.raises(SystemExit) as exc:
        _bench().main(["--records", bad, "--skip-clkhash"])
    assert exc.value.code == 2
    assert "--records" in capsys.readouterr().err
