"""Benchmark ``pprl.synth.generate``: wall time, people/s and peak RSS as a markdown row.

Usage: ``.venv/bin/python benchmarks/bench_synth.py [--people N | --quick] [--keep DIR]``
(default 10 million people, ``--quick`` 1 million; claims = people / 2).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import tempfile
import time
from pathlib import Path

from pprl.synth import SynthConfig, generate


def _machine() -> str:
    """Short machine description: CPU model, usable cores, Python."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {len(os.sched_getaffinity(0))} cores, Python {platform.python_version()}"


def main() -> None:
    """Run one generation and print a markdown table row."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--people", type=int, default=10_000_000)
    ap.add_argument("--quick", action="store_true", help="1 million people")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", type=Path, default=None, help="write here and keep the files")
    args = ap.parse_args()
    people = 1_000_000 if args.quick else args.people
    out = args.keep or Path(tempfile.mkdtemp(prefix="bench_synth_"))
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    generate(SynthConfig(people=people, seed=args.seed, claims=people // 2), out)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    size = sum(p.stat().st_size for p in out.iterdir()) / 2**20
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if args.keep is None:
        shutil.rmtree(out)
    print("| people | claims | wall s | people/s | CPU s | peak RSS MiB | output MiB | machine |")
    print("|---:|---:|---:|---:|---:|---:|---:|---|")
    print(
        f"| {people:,} | {people // 2:,} | {wall:.1f} | {people / wall:,.0f} | {cpu:.1f} "
        f"| {rss:,.0f} | {size:,.0f} | {_machine()} |"
    )


if __name__ == "__main__":
    main()
