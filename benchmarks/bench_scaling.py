"""Strong scaling of ``pprl verify`` on a local Dask cluster, and per-stage unit costs.

N claims against an N-person register (synthesized and encoded as in
``bench_verify.py --speed``, or reused from ``--data``). For each worker count the
cluster (N processes, 1 thread each, loopback) is started first and not timed; the
timed run is ``verify(..., scheduler=address)`` from the encoding files to the findings
(driver read + checks, cluster join/score/search, cross-checks, findings). The findings
of every run are compared with the single-process engine's.

Unit costs for the projection are measured in this process with numba on 1 thread:
register load + digest check, index build, join + claimed score, best-alternative
search, each per record, and the bytes a worker holds per register record.

    .venv/bin/python benchmarks/bench_scaling.py --people 1000000 --workers 1,2,4,8
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numba

sys.path.insert(0, str(Path(__file__).parent))

from bench_verify import encode_all  # noqa: E402

from pprl.compare.keyed import block_pair_count  # noqa: E402
from pprl.distributed import (  # noqa: E402
    join_prepared,
    load_encodings,
    prepare_register,
    topk1_prepared,
    verify_distributed,
)
from pprl.synth import SynthConfig, generate  # noqa: E402
from pprl.verify import verify  # noqa: E402


def make_data(people: int, seed: int, root: Path) -> Path:
    """Synthesize and encode register + claims once (reused when already there)."""
    enc = root / "enc"
    if (enc / "register.parquet").exists() and (enc / "insurer.parquet").exists():
        return enc
    generate(SynthConfig(people=people, seed=seed, claims=people), root / "data")
    enc.mkdir(parents=True, exist_ok=True)
    encode_all(root / "data", enc, bank=False)
    return enc


def small_row_groups(path: Path, rows: int) -> Path:
    """The claims file rewritten with ``rows``-row row groups (same content and digest), so
    a task reads only its own rows; ``write_encodings`` defaults to 1,048,576-row groups."""
    import pyarrow.parquet as pq

    out = path.with_name(f"{path.stem}-rg{rows}.parquet")
    if not out.exists():
        pq.write_table(pq.read_table(path), out, row_group_size=rows, compression="zstd")
    return out


def worker_cpu(client) -> float:
    """CPU seconds (user + system) used so far by all worker processes together."""
    import resource

    def cpu() -> float:
        """This worker process's CPU seconds."""
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    return float(sum(client.run(cpu).values()))


def same_findings(a, b) -> bool:
    """All findings columns equal."""
    return all(a.findings.column(c).to_pylist() == b.findings.column(c).to_pylist()
               for c in a.findings.column_names)


def unit_costs(enc: Path) -> dict[str, float]:
    """Seconds per record of each worker stage (1 thread) and worker bytes per register record."""
    numba.set_num_threads(1)
    t = time.perf_counter()
    ref = load_encodings(enc / "register.parquet")
    load = time.perf_counter() - t
    t = time.perf_counter()
    reg = prepare_register(ref)
    index = time.perf_counter() - t
    claims = load_encodings(enc / "insurer.parquet")
    names = sorted(n for n in claims.block_keys if n in ref.block_keys)
    t = time.perf_counter()
    claimed = join_prepared(reg, claims)
    from pprl.compare import dice_pairs

    has = claimed >= 0
    dice_pairs(claims.clks[has], ref.clks[claimed[has]])
    join = time.perf_counter() - t
    t = time.perf_counter()
    topk1_prepared(reg, claims, names, 0.5, claimed)
    search = time.perf_counter() - t
    pairs = {n: block_pair_count([(*claims.block_keys[n], *ref.block_keys[n])]) for n in names}
    held = (sum(a.nbytes for a in (ref.rows, ref.tokens, ref.has_token, ref.clks, reg.pop,
                                   reg.token_order, reg.token_sorted))
            + sum(v.nbytes + ok.nbytes for v, ok in ref.block_keys.values())
            + sum(o.nbytes + s.nbytes for o, s in reg.blocks.values()))
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    n, m = len(ref), len(claims)
    return {"register": n, "claims": m, "load_s_per_ref": load / n,
            "index_s_per_ref": index / n, "join_score_s_per_claim": join / m,
            "search_s_per_claim": search / m, "search_s_per_pair": search / sum(pairs.values()),
            "pairs_per_claim": {k: v / m for k, v in pairs.items()}, "worker_bytes_per_ref": held / n,
            "driver_claims_bytes_per_claim": claims.clks.nbytes / m + 32 + 8 + 1
            + 9 * len(claims.block_keys), "block_keys": len(names)}


def main() -> None:
    """Run the single-process baseline, every worker count (cold and warm), unit costs."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2023)
    parser.add_argument("--workers", default="1,2,4,8")
    parser.add_argument("--partition-rows", type=int, default=32768)
    parser.add_argument("--data", default=None, help="folder to keep/reuse synth + encodings")
    args = parser.parse_args()
    from distributed import Client, LocalCluster

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.data) if args.data else Path(tmp)
        enc = make_data(args.people, args.seed, root)
        ref = enc / "register.parquet"
        claims = [small_row_groups(enc / "insurer.parquet", args.partition_rows)]
        print(f"machine: {platform.processor() or platform.machine()}, nproc {os.cpu_count()}, "
              f"Python {platform.python_version()}, load average {os.getloadavg()}", flush=True)
        t = time.perf_counter()
        base = verify(ref, claims)
        single = time.perf_counter() - t
        print(f"single-process engine (numba, {numba.config.NUMBA_NUM_THREADS} threads): "
              f"{single:.1f} s {base.summary['timings']}", flush=True)
        rows = []
        for n in [int(w) for w in args.workers.split(",")]:
            with LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                              host="127.0.0.1", dashboard_address=None) as cluster, \
                    Client(cluster) as client:
                for kind in ("cold", "warm"):  # warm: register already loaded on the workers
                    cpu0, t = worker_cpu(client), time.perf_counter()
                    res = verify_distributed(ref, claims, scheduler=cluster.scheduler_address,
                                             partition_rows=args.partition_rows)
                    wall, cpu = time.perf_counter() - t, worker_cpu(client) - cpu0
                    stage = res.summary["timings"]["score_search"]
                    ok = same_findings(base, res)
                    rows.append((n, kind, wall, stage, cpu, ok))
                    print(f"workers {n} {kind}: {wall:.1f} s (cluster stage {stage:.1f} s, worker "
                          f"CPU {cpu:.1f} s), identical {ok}, load {os.getloadavg()[0]:.1f}",
                          flush=True)
        print("\n| workers | register | wall s | cluster stage s | worker CPU s | "
              "stage speedup | stage efficiency | identical |\n|---:|---|---:|---:|---:|---:|---:|---|")
        for n, kind, wall, stage, cpu, ok in rows:
            t1 = next(r[3] for r in rows if r[0] == rows[0][0] and r[1] == kind)
            print(f"| {n} | {kind} | {wall:.1f} | {stage:.1f} | {cpu:.1f} | {t1 / stage:.2f} | "
                  f"{t1 / (n * stage):.2f} | {ok} |")
        print("\nunit costs:", json.dumps(unit_costs(enc), indent=1))


if __name__ == "__main__":
    main()
