"""Benchmark: pprl candidate search vs anonlink, plus a scaling curve.

    .venv/bin/python benchmarks/bench_compare.py            # full: 30k x 30k, scaling to 1e6
    .venv/bin/python benchmarks/bench_compare.py --quick    # small, for a smoke run
    taskset -c 0 .venv/bin/python benchmarks/bench_compare.py --per-path   # pairs/s per core, per kernel path
    .venv/bin/python benchmarks/bench_compare.py --match 50000  # whole `pprl match` per path vs anonlink

Data for pprl vs anonlink: (1) real clkhash 0.18 encodings (1024-bit, the
clkhash.randomnames v2 schema: name, DOB, gender...) of two clkhash.randomnames
files with 80 % overlap -- the same kind of data anonlink's own benchmarks use;
(2) synthetic clkhash-style filters (20-40 % bits set, half of B noisy copies).
Data for the scaling curve (up to 1e6 refs, too slow to clkhash-encode here):
synthetic clkhash-style filters from pprl.compare.synthetic.  Rates are nominal
comparisons (n x m) per wall-clock second; "CPU use" is process CPU time / wall
time (2.0 = both cores busy for us), which shows when other jobs share the
machine.  Prints markdown tables.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

from pprl.compare import available_kernels, iter_candidates, kernel_info, select_kernel
from pprl.compare.synthetic import linked_pair, realistic_clks


def cpu_name() -> str:
    """CPU model string from /proc/cpuinfo (or platform)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def clkhash_files(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two n-record clkhash-encoded files (80 % overlap) as packed uint64 arrays."""
    import random
    from importlib.resources import files

    from clkhash import clk, randomnames, schema

    random.seed(seed)
    names = randomnames.NameList(int(n * 1.3) + 10)
    s1, s2 = names.generate_subsets(n, 0.8)
    with (files("clkhash") / "data" / "randomnames-schema-v2.json").open() as f:
        sch = schema.from_json_file(f)

    def enc(rows: list) -> np.ndarray:
        """clkhash-encode PII rows into packed uint64 filters."""
        clks = clk.generate_clks([[str(x) for x in r] for r in rows], sch, "bench-secret")
        raw = b"".join(c.tobytes() for c in clks)
        return np.frombuffer(raw, dtype="<u8").reshape(len(clks), -1).copy()

    return enc(s1), enc(s2)


def time_pprl(
    a: np.ndarray, b: np.ndarray, threshold: float, workers: int, repeat: int
) -> tuple[float, int, float]:
    """Best wall time of the streaming search (chunks consumed, not stored), pair count,
    and CPU use (process CPU seconds per wall second) of that run."""
    best, count, use = float("inf"), 0, 0.0
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        count = sum(c.q.size for c in iter_candidates(a, b, threshold, workers=workers))
        dt = time.perf_counter() - t0
        if dt < best:
            best, use = dt, (time.process_time() - c0) / dt
    return best, count, use


def time_anonlink(a: np.ndarray, b: np.ndarray, threshold: float) -> tuple[float, int]:
    """Wall time of anonlink.find_candidate_pairs (bitarray conversion not timed)."""
    from anonlink.candidate_generation import find_candidate_pairs
    from anonlink.similarities import dice_coefficient_accelerated

    from pprl.encode import clks_to_bitarrays

    da, db = clks_to_bitarrays(a), clks_to_bitarrays(b)
    t0 = time.perf_counter()
    sims, _, _ = find_candidate_pairs([da, db], dice_coefficient_accelerated, threshold)
    return time.perf_counter() - t0, len(sims)


def versus_anonlink(n: int, workers: int, repeat: int, skip_anonlink: bool, data: str) -> None:
    """pprl vs anonlink on n x n CLKs at thresholds 0.8 and 0.6.

    data="clkhash": real clkhash encodings; data="synthetic": the token-model
    filters of pprl.compare.synthetic (half of B are noisy copies of A).
    """
    if data == "clkhash":
        a, b = clkhash_files(n)
        label = "clkhash (randomnames v2 schema)"
    else:
        a, b, _ = linked_pair(n, seed=1)
        label = "synthetic clkhash-style"
    pops = np.unpackbits(a.view(np.uint8), axis=1).sum(axis=1) / 1024
    print(
        f"\n### pprl vs anonlink, {n:,} x {n:,} {label} 1024-bit CLKs "
        f"(bits set {pops.min():.0%}-{pops.max():.0%}, mean {pops.mean():.0%})\n"
    )
    print(
        "| threshold | candidates | pprl time (s) | pprl pairs/s | pprl CPU use "
        "| pprl pairs per CPU-s | anonlink time (s) | anonlink pairs/s | speed-up |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for t in (0.8, 0.6):
        tp, cp, use = time_pprl(a, b, t, workers, repeat)
        if skip_anonlink:
            ta, ca = float("nan"), cp
        else:
            ta, ca = time_anonlink(a, b, t)
        assert ca == cp, f"candidate counts differ: pprl {cp} vs anonlink {ca}"
        print(
            f"| {t} | {cp:,} | {tp:.3f} | {n * n / tp:.3e} | {use:.2f} "
            f"| {n * n / (tp * use):.3e} | {ta:.2f} "
            f"| {n * n / ta:.3e} "
            f"| {ta / tp:.1f}x |"
        )


def scale_one(nq: int, nr: int, threshold: float, workers: int) -> dict:
    """One scaling point (run in a fresh process so peak RSS is its own)."""
    a, _ = realistic_clks(nq, seed=2)
    b, _ = realistic_clks(nr, seed=3)
    b[: nq // 2] = a[: nq // 2]
    base = current_rss_mb()
    reset_peak_rss()
    t0, c0 = time.perf_counter(), time.process_time()
    count = sum(c.q.size for c in iter_candidates(a, b, threshold, workers=workers))
    dt = time.perf_counter() - t0
    use = (time.process_time() - c0) / dt
    peak = peak_rss_mb()
    data_mb = (a.nbytes + b.nbytes) / 2**20
    return {
        "nq": nq,
        "nr": nr,
        "time": dt,
        "count": count,
        "use": use,
        "peak_mb": peak,
        "search_extra_mb": peak - base,
        "data_mb": data_mb,
    }


def _status_mb(field: str) -> float:
    """A memory field of /proc/self/status in MiB (Linux)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def current_rss_mb() -> float:
    """Resident set size now."""
    return _status_mb("VmRSS")


def peak_rss_mb() -> float:
    """Peak resident set size since the last reset_peak_rss()."""
    return _status_mb("VmHWM")


def reset_peak_rss() -> None:
    """Reset the kernel's peak-RSS counter (Linux >= 4.0), so the peak is the search's own."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def scaling(nq: int, sizes: list[int], threshold: float, workers: int) -> None:
    """Time and peak memory as the reference file grows."""
    print(f"\n### Scaling: {nq:,} queries vs growing reference file, threshold {threshold}\n")
    print(
        "| refs | comparisons | time (s) | pairs/s | CPU use | candidates | input data (MiB) "
        "| peak RSS during search (MiB) | peak minus RSS before search (MiB) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for nr in sizes:
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--scale-one",
                str(nq),
                str(nr),
                str(threshold),
                str(workers),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"| {nr:,} | {nq * nr:.2e} | {r['time']:.2f} | {nq * nr / r['time']:.3e} "
            f"| {r['use']:.2f} "
            f"| {r['count']:,} | {r['data_mb']:.0f} | {r['peak_mb']:.0f} "
            f"| {r['search_extra_mb']:.0f} |"
        )


def per_path(n: int, threshold: float, repeat: int, data: str) -> None:
    """Single-thread pairs/s of every kernel path, best of ``repeat``.

    Run under ``taskset -c 0``.  "pairs per CPU-s" divides by the process CPU time, so
    it stays meaningful when other jobs share the core (wall time does not);
    candidate counts must agree across paths."""
    if data == "clkhash":
        a, b = clkhash_files(n)
    else:
        a, b, _ = linked_pair(n, seed=1)
    paths = list(available_kernels())
    if "numpy" not in paths:  # older trees have no numpy fallback
        try:
            select_kernel("numpy")
            paths.insert(0, "numpy")
        except (ValueError, RuntimeError):
            pass
    print(
        f"\n### Per kernel path, 1 thread, {n:,} x {n:,} {data} 1024-bit CLKs, "
        f"threshold {threshold}, best of {repeat}\n"
    )
    print("| path | candidates | CPU time (s) | pairs per CPU-s | wall (s) | pairs per wall-s |")
    print("|---|---|---|---|---|---|")
    counts = set()
    for path in paths:
        select_kernel(path)
        # the numpy fallback is ~100x slower: time it on a slice of the queries
        qa = a[: max(1, n // 50)] if path == "numpy" else a
        best_cpu, best_wall, cp = float("inf"), float("inf"), 0
        for _ in range(repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            cp = sum(c.q.size for c in iter_candidates(qa, b, threshold, workers=1))
            best_wall = min(best_wall, time.perf_counter() - t0)
            best_cpu = min(best_cpu, time.process_time() - c0)
        if qa is a:
            counts.add(cp)
        pairs = qa.shape[0] * b.shape[0]
        print(
            f"| {path} | {cp:,} | {best_cpu:.3f} | {pairs / best_cpu:.3e} | {best_wall:.3f} "
            f"| {pairs / best_wall:.3e} |",
            flush=True,
        )
    select_kernel("auto")
    assert len(counts) == 1, f"kernel paths disagree on the candidate count: {counts}"


def match_command(n: int, threshold: float, repeat: int, skip_anonlink: bool) -> None:
    """Wall time of the whole ``pprl match A B`` command (read, search, greedy 1:1, write)
    on n x n clkhash encodings, per kernel path (``PPRL_KERNEL``), beside anonlink's
    single-threaded candidate generation + greedy solve on the same CLKs."""
    import tempfile
    from pathlib import Path

    from pprl.store import Encodings, write_encodings

    a, b = clkhash_files(n)
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for name, clks in (("a", a), ("b", b)):
            enc = Encodings(
                rows=np.arange(len(clks), dtype=np.int64),
                tokens=np.zeros((len(clks), 32), np.uint8),
                has_token=np.zeros(len(clks), bool),
                clks=clks,
            )
            files.append(str(write_encodings(enc, Path(tmp) / f"{name}.parquet")))
        pprl = str(Path(sys.executable).with_name("pprl"))
        print(
            f"\n### Whole `pprl match` command, {n:,} x {n:,} clkhash 1024-bit CLKs, "
            f"threshold {threshold}, best of {repeat}\n"
        )
        print("| engine | kernel path | threads | links | wall (s) | pairs/s |")
        print("|---|---|---|---|---|---|")
        for path in [p for p in ("avx2", "avx512-vpopcntdq") if p in available_kernels()]:
            best = float("inf")
            out = Path(tmp) / "links.parquet"
            for _ in range(repeat):
                t0 = time.perf_counter()
                subprocess.run(
                    [pprl, "match", *files, "--threshold", str(threshold), "--out", str(out)],
                    env=dict(os.environ, PPRL_KERNEL=path),
                    check=True,
                    capture_output=True,
                    timeout=600,
                )
                best = min(best, time.perf_counter() - t0)
            import pyarrow.parquet as pq

            links = pq.read_metadata(out).num_rows
            print(
                f"| pprl match | {path} | {os.cpu_count()} | {links:,} | {best:.2f} "
                f"| {n * n / best:.3e} |",
                flush=True,
            )
        if not skip_anonlink:
            from anonlink.candidate_generation import find_candidate_pairs
            from anonlink.similarities import dice_coefficient_accelerated
            from anonlink.solving import greedy_solve

            from pprl.encode import clks_to_bitarrays

            da, db = clks_to_bitarrays(a), clks_to_bitarrays(b)
            t0 = time.perf_counter()
            cands = find_candidate_pairs([da, db], dice_coefficient_accelerated, threshold)
            groups = greedy_solve(cands)
            dt = time.perf_counter() - t0
            print(
                f"| anonlink find_candidate_pairs + greedy_solve (no I/O) | - | 1 "
                f"| {len(groups):,} | {dt:.2f} | {n * n / dt:.3e} |"
            )


def main() -> None:
    """Parse arguments and run the selected benchmarks."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, one repeat")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--no-anonlink", action="store_true")
    ap.add_argument("--max-refs", type=int, default=1_000_000)
    ap.add_argument(
        "--per-path",
        action="store_true",
        help="only the single-thread pairs/s of every kernel path",
    )
    ap.add_argument("--n", type=int, default=20_000, help="file size for --per-path")
    ap.add_argument("--repeat", type=int, default=3, help="repeats for --per-path (best kept)")
    ap.add_argument(
        "--data", choices=("synthetic", "clkhash"), default="synthetic", help="data for --per-path"
    )
    ap.add_argument("--threshold", type=float, default=0.8, help="threshold for --per-path")
    ap.add_argument(
        "--match",
        type=int,
        metavar="N",
        help="only time the whole `pprl match` command on N x N clkhash CLKs",
    )
    ap.add_argument("--scale-one", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.match:
        print(
            f"Machine: {cpu_name()}, {os.cpu_count()} logical CPUs; "
            f"Python {platform.python_version()}, numpy {np.__version__}"
        )
        match_command(args.match, args.threshold, args.repeat, args.no_anonlink)
        return
    if args.per_path:
        print(f"Machine: {cpu_name()}; Python {platform.python_version()}, numpy {np.__version__}")
        per_path(args.n, args.threshold, args.repeat, args.data)
        return
    if args.scale_one:
        nq, nr, t, w = args.scale_one
        print(json.dumps(scale_one(int(nq), int(nr), float(t), int(w))))
        return
    print(
        f"Machine: {cpu_name()}, {os.cpu_count()} logical CPUs; kernel path: {kernel_info()}; "
        f"workers: {args.workers}; Python {platform.python_version()}, numpy {np.__version__}"
    )
    n = 5_000 if args.quick else 30_000
    for data in ("clkhash", "synthetic"):
        versus_anonlink(n, args.workers, 1 if args.quick else 3, args.no_anonlink, data)
    sizes = [s for s in (10_000, 100_000, 1_000_000, 10_000_000) if s <= args.max_refs]
    scaling(1_000 if args.quick else 10_000, sizes[:2] if args.quick else sizes, 0.8, args.workers)


if __name__ == "__main__":
    main()
