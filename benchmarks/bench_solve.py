"""Benchmark: pprl greedy 1:1 solving vs anonlink.solving.greedy_solve.

    .venv/bin/python benchmarks/bench_solve.py           # ~5M candidates, 1M x 1M records
    .venv/bin/python benchmarks/bench_solve.py --quick   # ~500k candidates

Candidates imitate a linkage run: one true pair per linked record with a high
Dice score, plus several lower-scoring near misses per record; scores are Dice
fractions 2i/(pa+pb) of 1024-bit filters, so ties occur as in real output.
pprl gets the candidates unsorted; anonlink gets them in its own sorted order
(as find_candidate_pairs emits them) and conversion to its arrays is not timed.
Prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from array import array

import numpy as np

from pprl.solve import greedy_solve


def make_candidates(n_records: int, n_candidates: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    """(q, r, score) with unique pairs: true links plus random near misses."""
    rng = np.random.default_rng(seed)
    n_true = int(n_records * 0.8)
    tq = rng.permutation(n_records)[:n_true]
    tr = rng.permutation(n_records)[:n_true]
    extra = n_candidates - n_true
    eq = rng.integers(0, n_records, extra)
    er = rng.integers(0, n_records, extra)
    q = np.concatenate([tq, eq])
    r = np.concatenate([tr, er])
    pa = rng.integers(250, 400, q.size)
    pb = pa + rng.integers(-20, 21, q.size)
    frac = np.concatenate([rng.uniform(0.85, 1.0, n_true), rng.uniform(0.6, 0.9, extra)])
    inter = np.floor(frac * (pa + pb) / 2)
    s = 2.0 * inter / (pa + pb)
    _, u = np.unique(q.astype(np.int64) * n_records + r, return_index=True)
    perm = rng.permutation(u)
    return q[perm].astype(np.int64), r[perm].astype(np.int64), s[perm]


def anonlink_solve(q: np.ndarray, r: np.ndarray, s: np.ndarray) -> tuple[float, set]:
    """Time anonlink's greedy_solve on anonlink-ordered candidates."""
    from anonlink.solving import greedy_solve as ag
    from anonlink.solving import pairs_from_groups

    order = np.lexsort((r, q, -s))
    cands = (
        array("d", s[order].tobytes()),
        (array("I", bytes(4 * q.size)), array("I", np.ones(q.size, np.uint32).tobytes())),
        (
            array("I", q[order].astype(np.uint32).tobytes()),
            array("I", r[order].astype(np.uint32).tobytes()),
        ),
    )
    t0 = time.perf_counter()
    groups = ag(cands)
    dt = time.perf_counter() - t0
    return dt, set(pairs_from_groups(groups))


def main() -> None:
    """Run the comparison and print a markdown table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-anonlink", action="store_true")
    args = ap.parse_args()
    n_rec, n_cand = (100_000, 500_000) if args.quick else (1_000_000, 5_000_000)
    q, r, s = make_candidates(n_rec, n_cand)
    print(
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs; "
        f"Python {platform.python_version()}\n"
    )
    print(f"### Greedy 1:1 solving, {q.size:,} candidates over {n_rec:,} x {n_rec:,} records\n")
    tp, cpu = float("inf"), float("inf")
    for _ in range(1 if args.quick else 3):
        t0, c0 = time.perf_counter(), time.process_time()
        mq, mr, _ = greedy_solve(q, r, s)
        tp, cpu = min(tp, time.perf_counter() - t0), min(cpu, time.process_time() - c0)
    if args.no_anonlink:
        ta, same = float("nan"), "not run"
    else:
        ta, ref = anonlink_solve(q, r, s)
        same = "yes" if ref == set(zip(mq.tolist(), mr.tolist(), strict=True)) else "NO"
    print("| solver | wall time (s) | CPU time (s) | matches | identical to anonlink |")
    print("|---|---|---|---|---|")
    print(f"| pprl.solve.greedy_solve | {tp:.3f} | {cpu:.3f} | {mq.size:,} | {same} |")
    print(f"| anonlink greedy_solve | {ta:.2f} | - | {mq.size:,} | - |")
    print(f"\nSpeed-up: {ta / tp:.1f}x")


if __name__ == "__main__":
    main()
