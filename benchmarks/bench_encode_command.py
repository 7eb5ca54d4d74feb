"""Benchmark ``pprl encode`` as a whole command (start-up, CSV in, file out) against
clkhash's own whole path, in the same run.

Usage::

    python benchmarks/bench_encode_command.py                      # 100k, 200k, 1M records
    python benchmarks/bench_encode_command.py --quick              # 2,000 and 5,000
    python benchmarks/bench_encode_command.py --records 300 --skip-clkhash
    python benchmarks/bench_encode_command.py --register /tmp/s1m/register.csv

Every measurement is a subprocess timed by wall clock from start to exit, with the
child's CPU time (its whole tree) and peak RSS (the largest single process of the
tree) from ``os.wait4``. This script imports nothing heavy itself, so the RSS is the
command's own. Inputs, written once into ``--workdir`` and reused:

* a register from ``pprl synth --people N --seed 1 --claims 0`` (N = the largest size),
  or ``--register CSV`` (any register.csv of ``pprl synth``), cut to the first n rows
  for each size;
* a secret from ``pprl keygen``;
* a plain clkhash v3 schema (:data:`PLAIN_SCHEMA`: no pprl extension, so values are
  hashed as read) over the register's columns.

Rows of the table:

* ``pprl encode`` with the plain schema (Parquet out), and clkhash 0.18.3 doing the
  same as a clkhash user (:data:`CLKHASH_SCRIPT`: ``clkhash.clk.generate_clk_from_csv``
  on the same CSV, schema and secret, CLKs written as clkhash JSON), with the speed
  ratio; the two outputs are read back and compared CLK by CLK (bit-identical: yes/no);
* ``pprl encode --schema jp-resident --role register`` at the largest size: all
  normalization, hardening, block keys and pseudonyms;
* start-up: ``pprl --help``, ``pprl --version`` and ``pprl encode`` of a one-record
  CSV (median of 5 runs each).

The issue's targets (docs/benchmarks.md, "Encoding as a whole command"): jp-resident at
1,000,000 records >= 250,000 records/s on 2 cores; the plain schema at 1,000,000 records
>= 10x clkhash and bit-identical. clkhash at 1,000,000 records takes a minute or more.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

#: The plain clkhash v3 schema over a ``pprl synth`` register's columns, in their order
#: (clkhash checks the header against the features): identifiers ignored; names as
#: bigrams, date of birth and postcode as positional unigrams, sex exact, address
#: bigrams; 1024 bits, BLAKE2b, HKDF-SHA256.
PLAIN_SCHEMA: dict[str, object] = {
    "version": 3,
    "clkConfig": {
        "l": 1024,
        "kdf": {
            "type": "HKDF",
            "hash": "SHA256",
            "salt": base64.b64encode(b"bench-encode-command").decode("ascii"),
            "info": base64.b64encode(b"clk").decode("ascii"),
            "keySize": 64,
        },
    },
    "features": [
        {"identifier": "my_number", "ignored": True},
        *(
            {
                "identifier": name,
                "format": {"type": "string", "encoding": "utf-8", "maxLength": 40},
                "hashing": {
                    "comparison": {"type": "ngram", "n": 2},
                    "strategy": {"bitsPerFeature": bits},
                    "hash": {"type": "blakeHash"},
                    "missingValue": {"sentinel": "", "replaceWith": ""},
                },
            }
            for name, bits in (
                ("family_name_kanji", 120),
                ("given_name_kanji", 100),
                ("family_name_kana", 100),
                ("given_name_kana", 80),
            )
        ),
        {
            "identifier": "date_of_birth",
            "format": {"type": "date", "format": "%Y-%m-%d"},
            "hashing": {
                "comparison": {"type": "ngram", "n": 1, "positional": True},
                "strategy": {"bitsPerFeature": 96},
                "hash": {"type": "blakeHash"},
            },
        },
        {
            "identifier": "sex",
            "format": {"type": "enum", "values": ["M", "F"]},
            "hashing": {
                "comparison": {"type": "exact"},
                "strategy": {"bitsPerToken": 24},
                "hash": {"type": "blakeHash"},
            },
        },
        {
            "identifier": "postcode",
            "format": {"type": "string", "encoding": "utf-8", "pattern": "[0-9]{3}-[0-9]{4}"},
            "hashing": {
                "comparison": {"type": "ngram", "n": 1, "positional": True},
                "strategy": {"bitsPerFeature": 64},
                "hash": {"type": "blakeHash"},
            },
        },
        {
            "identifier": "address",
            "format": {"type": "string", "encoding": "utf-8", "maxLength": 120},
            "hashing": {
                "comparison": {"type": "ngram", "n": 2},
                "strategy": {"bitsPerFeature": 200},
                "hash": {"type": "blakeHash"},
            },
        },
        {"identifier": "household_id", "ignored": True},
    ],
}

#: What a clkhash user runs: the schema, the secret (the key file's text) and the CSV
#: in, the CLKs out as clkhash JSON. Arguments: SCHEMA SECRET CSV OUT.
CLKHASH_SCRIPT = """\
import json, sys
from clkhash import clk, schema
from clkhash.serialization import serialize_bitarray

schema_path, secret_path, csv_path, out_path = sys.argv[1:5]
with open(schema_path, encoding="utf-8") as fh:
    sch = schema.from_json_file(fh)
with open(secret_path, encoding="ascii") as fh:
    secret = fh.read().strip()
with open(csv_path, newline="", encoding="utf-8") as fh:
    clks = clk.generate_clk_from_csv(fh, secret, sch, progress_bar=False)
with open(out_path, "w", encoding="utf-8") as fh:
    json.dump({"clks": [serialize_bitarray(c) for c in clks]}, fh)
"""

PLAIN_LABEL = "pprl encode, plain clkhash schema"
QUICK_SIZES = (2_000, 5_000)
FULL_SIZES = (100_000, 200_000, 1_000_000)
STARTUP_REPEAT = 5


@dataclass(frozen=True)
class Run:
    """One timed subprocess."""

    label: str
    records: int
    wall_s: float
    cpu_s: float
    peak_rss_mib: float

    @property
    def rate(self) -> float:
        return self.records / self.wall_s if self.wall_s > 0 else float("inf")


class BenchError(RuntimeError):
    """A command of the benchmark failed; the message names it."""


def pprl_command() -> list[str]:
    """The ``pprl`` console script beside this interpreter, as a user runs it (falls
    back to the entry point's module when the script is missing)."""
    script = Path(sys.executable).with_name("pprl")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from pprl_cli.main import app; sys.exit(app())"]


def timed(label: str, records: int, cmd: list[str], workdir: Path) -> Run:
    """Run ``cmd`` to completion; wall clock, CPU (user + sys) and peak RSS of the child.
    A non-zero exit raises :class:`BenchError` with the end of its stderr."""
    with tempfile.TemporaryFile(dir=workdir) as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            tail = err.read().decode("utf-8", "replace")[-2000:]
            raise BenchError(f"{label} failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")
    # ru_maxrss is in KiB on Linux
    return Run(label, records, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def median_run(label: str, records: int, cmd: list[str], workdir: Path, repeat: int) -> Run:
    """The run with the median wall time of ``repeat`` runs."""
    runs = [timed(label, records, cmd, workdir) for _ in range(repeat)]
    return sorted(runs, key=lambda r: r.wall_s)[len(runs) // 2]


# ------------------------------------------------------------------ inputs
def prepare_register(workdir: Path, people: int, given: Path | None) -> Path:
    """The register CSV to cut from: ``given``, or one made by ``pprl synth`` (seed 1)
    in ``workdir`` (kept for the next run)."""
    if given is not None:
        return given
    folder = workdir / f"synth-{people}-seed1"
    register = folder / "register.csv"
    if not register.is_file():
        cmd = [*pprl_command(), "synth", "--people", str(people), "--seed", "1"]
        cmd += ["--claims", "0", "--out", str(folder), "--force"]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return register


def head_csv(source: Path, rows: int, target: Path) -> int:
    """Write the header and the first ``rows`` data rows of ``source`` to ``target``
    (line by line: synth writes no quoted newlines); return the rows written."""
    written = 0
    with source.open("rb") as src, target.open("wb") as dst:
        dst.write(src.readline())
        for line in src:
            if written == rows:
                break
            dst.write(line)
            written += 1
    return written


#: Reads a pprl encoding file and a clkhash JSON file and prints how many CLKs each
#: holds and whether they are equal, CLK by CLK. Run as its own process, so that this
#: script stays small: a child started from a large parent can report the parent's
#: memory as its own peak RSS (vfork, then exec, on Linux).
COMPARE_SCRIPT = """\
import base64, json, sys
from pprl.store import read_encodings

ours = read_encodings(sys.argv[1]).clks.astype("<u8", copy=False)
with open(sys.argv[2], encoding="utf-8") as fh:
    theirs = json.load(fh)["clks"]
same = len(ours) == len(theirs) and all(
    row.tobytes() == base64.b64decode(ref) for row, ref in zip(ours, theirs)
)
print(json.dumps({"pprl": len(ours), "clkhash": len(theirs), "same": same}))
"""


def same_clks(pprl_file: Path, clkhash_file: Path) -> tuple[bool, int]:
    """Whether the two files hold the same CLKs in the same order; and pprl's count."""
    proc = subprocess.run(
        [sys.executable, "-c", COMPARE_SCRIPT, str(pprl_file), str(clkhash_file)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise BenchError(
            f"comparing {pprl_file} with {clkhash_file} failed:\n{proc.stderr[-2000:]}"
        )
    result = json.loads(proc.stdout)
    return bool(result["same"]), int(result["pprl"])


# ------------------------------------------------------------------ report
def machine_line() -> str:
    """CPU model, cores, Python, load average and the kernel choice (PPRL_KERNEL)."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            cpu = next(ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    kernel = os.environ.get("PPRL_KERNEL", "default")
    return (
        f"cpu: {cpu}; usable cores: {usable}; Python {platform.python_version()}; "
        f"load average: {load}; PPRL_KERNEL: {kernel}"
    )


def table(runs: list[Run], anchors: dict[int, Run]) -> str:
    """Markdown table; the ratios are clkhash's wall (CPU) time over pprl's with the same
    plain schema and CSV: on a busy machine the CPU ratio is the steadier one."""
    lines = [
        "| command | records | wall s | CPU s | records/s | peak RSS MiB "
        "| vs clkhash: wall (CPU) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        anchor = anchors.get(r.records)
        ratio = ""
        if anchor is not None and r.label == PLAIN_LABEL:  # same schema, same CSV
            ratio = f"{anchor.wall_s / r.wall_s:.1f}x ({anchor.cpu_s / r.cpu_s:.1f}x)"
        rate = f"{r.rate:,.0f}" if r.records > 1 else ""
        lines.append(
            f"| {r.label} | {r.records:,} | {r.wall_s:.2f} | {r.cpu_s:.2f} | {rate} | "
            f"{r.peak_rss_mib:,.0f} | {ratio} |"
        )
    return "\n".join(lines)


# ------------------------------------------------------------------ main
def parse_sizes(text: str) -> tuple[int, ...]:
    """``100000,200000`` -> (100000, 200000); each a positive integer."""
    try:
        sizes = tuple(int(part.replace("_", "")) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of record counts: {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"record counts must be positive: {text!r}")
    return tuple(sorted(set(sizes)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--records",
        type=parse_sizes,
        default=None,
        metavar="N[,N...]",
        help="record counts (default: 100000,200000,1000000; jp-resident runs at the largest)",
    )
    parser.add_argument("--quick", action="store_true", help="2,000 and 5,000 records")
    parser.add_argument("--skip-clkhash", action="store_true", help="pprl only (no anchor)")
    parser.add_argument(
        "--startup-repeat",
        type=int,
        default=STARTUP_REPEAT,
        metavar="R",
        help=f"runs of each start-up command, median reported (default {STARTUP_REPEAT}; 0: none)",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="where inputs and outputs go (kept; default: a temporary folder, removed)",
    )
    parser.add_argument(
        "--register",
        type=Path,
        default=None,
        help="a pprl synth register.csv with at least the largest size of rows "
        "(default: synthesize one in --workdir)",
    )
    args = parser.parse_args(argv)
    sizes = args.records or (QUICK_SIZES if args.quick else FULL_SIZES)
    if args.register is not None and not args.register.is_file():
        parser.error(f"--register {args.register}: no such file")
    if args.startup_repeat < 0:
        parser.error("--startup-repeat must be 0 or more")
    options = (args.register, args.skip_clkhash, args.startup_repeat)
    if args.workdir is None:
        with tempfile.TemporaryDirectory(prefix="bench-encode-command-") as tmp:
            return run_all(sizes, Path(tmp), *options)
    args.workdir.mkdir(parents=True, exist_ok=True)
    return run_all(sizes, args.workdir, *options)


def run_all(
    sizes: tuple[int, ...],
    workdir: Path,
    register: Path | None,
    skip_clkhash: bool,
    startup_repeat: int,
) -> int:
    """Prepare the inputs, run every command, print the table; 1 when the outputs of
    pprl and clkhash differ, else 0."""
    pprl = pprl_command()
    source = prepare_register(workdir, max(sizes), register)
    key = workdir / "bench.key"
    if not key.is_file():
        subprocess.run([*pprl, "keygen", str(key)], check=True, stdout=subprocess.DEVNULL)
    schema = workdir / "plain-clkhash-schema.json"
    schema.write_text(json.dumps(PLAIN_SCHEMA, indent=2), encoding="utf-8")
    clkhash_script = workdir / "clkhash_user.py"
    clkhash_script.write_text(CLKHASH_SCRIPT, encoding="utf-8")

    print(f"# pprl encode as a whole command\n\n{machine_line()}\n", flush=True)
    runs: list[Run] = []
    anchors: dict[int, Run] = {}
    verdicts: list[str] = []
    for size in sizes:
        csv_path = workdir / f"register-{size}.csv"
        n = head_csv(source, size, csv_path)
        if n < size:
            raise BenchError(f"{source} has {n:,} rows, fewer than {size:,}")
        out = workdir / f"plain-{size}.parquet"
        cmd = [*pprl, "encode", str(csv_path), "--schema", str(schema), "--secret", str(key)]
        cmd += ["--out", str(out), "--force"]
        runs.append(timed(PLAIN_LABEL, n, cmd, workdir))
        print(f"pprl plain {n:,}: {runs[-1].wall_s:.2f} s", flush=True)
        if not skip_clkhash:
            ref = workdir / f"clkhash-{size}.json"
            ref_cmd = [sys.executable, str(clkhash_script), str(schema), str(key), str(csv_path)]
            label = "clkhash 0.18.3 generate_clk_from_csv"
            anchors[n] = timed(label, n, [*ref_cmd, str(ref)], workdir)
            runs.append(anchors[n])
            print(f"clkhash {n:,}: {anchors[n].wall_s:.2f} s", flush=True)
            same, count = same_clks(out, ref)
            verdicts.append(f"{n:,} records: {'yes' if same else 'NO'} ({count:,} CLKs)")
            ref.unlink()
        out.unlink()
    largest = workdir / f"register-{max(sizes)}.csv"
    out = workdir / "jp-resident.parquet"
    cmd = [*pprl, "encode", str(largest), "--schema", "jp-resident", "--secret", str(key)]
    cmd += ["--out", str(out), "--role", "register", "--force"]
    runs.append(timed("pprl encode --schema jp-resident --role register", max(sizes), cmd, workdir))
    out.unlink()
    print(f"pprl jp-resident {max(sizes):,}: {runs[-1].wall_s:.2f} s", flush=True)

    one = workdir / "register-1.csv"
    head_csv(source, 1, one)
    encode_one = ["encode", str(one), "--schema", "jp-resident", "--secret", str(key)]
    encode_one += ["--out", str(workdir / "one.parquet"), "--force"]
    startup = (
        (["--help"], "start-up: pprl --help"),
        (["--version"], "start-up: pprl --version"),
        (encode_one, "start-up: pprl encode, 1 record (jp-resident)"),
    )
    for args, label in startup if startup_repeat else ():
        name = f"{label}, median of {startup_repeat}"
        runs.append(median_run(name, 1, [*pprl, *args], workdir, startup_repeat))

    print()
    print(table(runs, anchors))
    print()
    if verdicts:
        print("bit-identical (pprl Parquet vs clkhash JSON, CLK by CLK): " + "; ".join(verdicts))
    print(f"schema: {schema.name} (plain clkhash v3); register: {source}")
    return 0 if all(": yes" in v for v in verdicts) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
