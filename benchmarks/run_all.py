"""Run every benchmark in sequence, each in its own process with a timeout (``make bench``).

    .venv/bin/python benchmarks/run_all.py                    # small sizes: a smoke run
    .venv/bin/python benchmarks/run_all.py --size full        # the sizes docs/benchmarks.md records
    .venv/bin/python benchmarks/run_all.py --only encode,verify --timeout 1200

Each benchmark's output is printed as it comes, under a header naming the exact command
(record it with the CPU beside any figure you copy into docs/benchmarks.md). A benchmark
that fails or runs past ``--timeout`` is reported and the others still run; the exit
status is 1 when any did not succeed. ``tune_schema.py`` is a tuning tool, not a
benchmark, and is not run.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Benchmark:
    """One benchmark script and its arguments at each size."""

    name: str
    script: str
    small: tuple[str, ...]
    full: tuple[str, ...]


BENCHMARKS = (
    Benchmark(
        "encode", "bench_encode.py", ("--records", "5000", "--repeat", "1"), ("--records", "100000")
    ),
    Benchmark("encode-command", "bench_encode_command.py", ("--quick",), ()),
    Benchmark("compare", "bench_compare.py", ("--quick", "--max-refs", "100000"), ()),
    Benchmark("solve", "bench_solve.py", ("--quick",), ()),
    Benchmark("synth", "bench_synth.py", ("--people", "50000"), ("--quick",)),
    Benchmark(
        "verify-quality",
        "bench_verify.py",
        ("--people", "5000", "--plots", ""),
        ("--people", "200000", "--plots", ""),
    ),
    Benchmark(
        "verify-speed",
        "bench_verify.py",
        ("--speed", "--people", "20000"),
        ("--speed", "--people", "1000000"),
    ),
    Benchmark(
        "scaling",
        "bench_scaling.py",
        ("--people", "5000", "--workers", "1,2", "--repeat", "1"),
        ("--people", "1000000", "--workers", "1,2"),
    ),
    Benchmark(
        "privacy", "bench_privacy.py", ("--people", "3000", "--only", "none"), ("--people", "20000")
    ),
)


def command(bench: Benchmark, size: str) -> list[str]:
    """The command line that runs ``bench`` at ``size`` with this interpreter."""
    args = bench.small if size == "small" else bench.full
    return [sys.executable, str(HERE / bench.script), *args]


def run(cmd: list[str], timeout: float) -> tuple[str, float]:
    """Run ``cmd`` with its output going straight to ours; ``(outcome, seconds)``.

    The benchmark gets its own process group, so on timeout its children (Dask workers,
    encoding pools) are killed with it.
    """
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=HERE.parent, start_new_session=True)
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        return f"timed out after {timeout:.0f} s", time.perf_counter() - start
    except KeyboardInterrupt:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        raise
    return ("ok" if rc == 0 else f"failed (exit {rc})"), time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    names = [b.name for b in BENCHMARKS]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--size",
        choices=("small", "full"),
        default="small",
        help="small: a smoke run of a few minutes (default); full: the "
        "sizes recorded in docs/benchmarks.md (hours)",
    )
    parser.add_argument(
        "--only",
        default=",".join(names),
        help=f"comma-separated benchmarks to run (default: all of {', '.join(names)})",
    )
    parser.add_argument(
        "--timeout", type=float, default=900.0, help="seconds each benchmark may run (default: 900)"
    )
    parser.add_argument("--list", action="store_true", help="print the commands and exit")
    args = parser.parse_args(argv)
    wanted = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = sorted(set(wanted) - set(names))
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(names)}")
    chosen = [b for b in BENCHMARKS if b.name in wanted]
    if args.list:
        for bench in chosen:
            print(f"{bench.name}: {' '.join(command(bench, args.size))}")
        return 0
    print(
        f"# benchmarks ({args.size}) on {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}",
        flush=True,
    )
    results = []
    for bench in chosen:
        cmd = command(bench, args.size)
        print(f"\n## {bench.name}\n\n$ {' '.join(cmd)}\n", flush=True)
        outcome, seconds = run(cmd, args.timeout)
        results.append((bench.name, outcome, seconds))
        print(f"\n[{bench.name}: {outcome}, {seconds:.1f} s]", flush=True)
    print("\n## summary\n")
    for name, outcome, seconds in results:
        print(f"- {name}: {outcome} ({seconds:.1f} s)")
    return 0 if all(outcome == "ok" for _, outcome, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
