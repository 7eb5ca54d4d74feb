"""Adversarial load: many claims carrying one number (issue #12, bounded resources).

A placeholder number in real data (``000000000000`` with a valid check digit, or one
number keyed for a whole family) puts thousands of claims on one pseudonym. This builds
that case at scale and times ``pprl verify`` on it in a fresh process:

* a register of ``--people`` residents and ``--claims`` claim records, every one of them
  carrying the number of register record 0; each claim is a slightly noisy copy of a
  different resident (distinct people, as behind a placeholder number);
* the files' metadata (key fingerprint, schema, party) comes from a small real run of
  ``pprl synth`` + ``pprl keygen`` + ``pprl encode``; CLKs, pseudonyms and block keys are
  then drawn directly (1,024-bit CLKs with about a quarter of the bits set, block values
  shared by about 40 residents for the date of birth and 3 for the names), so building
  a million records takes seconds instead of minutes of encoding.

It runs ``pprl verify --reference ... --claims ... --out ...`` as a subprocess, measures
its wall time and peak RSS (``ru_maxrss`` of that process, from ``os.wait4``), checks
from ``summary.json`` that every claim got ``number_claimed_by_many_records``, and
prints one JSON line. The target: 100,000 claims on one number against a 1M register
within 1.5 GB.

    .venv/bin/python benchmarks/bench_adversarial.py
    .venv/bin/python benchmarks/bench_adversarial.py --people 100000 --claims 20000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from pprl.store import Encodings, read_encodings, write_encodings

REASON = "number_claimed_by_many_records"
TARGET_MIB = 1.5e9 / 2**20  # 1.5 GB (decimal), in MiB


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def pprl(*args: str, cwd: Path) -> None:
    """Run the pprl CLI (the one beside this interpreter), failing loudly."""
    exe = str(Path(sys.executable).with_name("pprl"))
    subprocess.run([exe, *args], cwd=cwd, check=True, capture_output=True, timeout=600)


def seed_files(work: Path) -> tuple[Encodings, Encodings]:
    """A small real register and claims file: their metadata is what verify checks."""
    pprl("synth", "--people", "200", "--seed", "12", "--out", "data", cwd=work)
    pprl("keygen", "secret.key", cwd=work)
    for csv, party in (("register.csv", "municipality"), ("insurer.csv", "insurer")):
        pprl(
            "encode",
            f"data/{csv}",
            "--schema",
            "jp-resident",
            "--secret",
            "secret.key",
            "--party",
            party,
            "--out",
            f"seed-{party}.parquet",
            cwd=work,
        )
    return (
        read_encodings(work / "seed-municipality.parquet"),
        read_encodings(work / "seed-insurer.parquet"),
    )


def random_clks(rng: np.random.Generator, n: int, words: int) -> np.ndarray:
    """``n`` unrelated CLKs, about a quarter of the bits set."""
    out = np.empty((n, words), np.uint64)
    for start in range(0, n, 1 << 18):  # in slices: a few temporaries at a time
        stop = min(n, start + (1 << 18))
        shape = (stop - start, words)
        out[start:stop] = rng.integers(0, 2**64, shape, np.uint64, endpoint=False) & rng.integers(
            0, 2**64, shape, np.uint64, endpoint=False
        )
    return out


def noisy(rng: np.random.Generator, clks: np.ndarray) -> np.ndarray:
    """The same people with about 3% of their bits flipped (Dice with the original ~0.9)."""
    noise = rng.integers(0, 2**64, clks.shape, np.uint64, endpoint=False)
    for _ in range(4):
        noise &= rng.integers(0, 2**64, clks.shape, np.uint64, endpoint=False)
    return clks ^ noise


def meta_of(seed: Encodings) -> dict[str, Any]:
    """The seed file's metadata without what each file computes for itself."""
    return {k: v for k, v in seed.meta.items() if k not in ("digest", "count")}


def build(work: Path, people: int, claims: int, seed: int) -> tuple[Path, Path]:
    """The register and the claims file, every claim on register record 0's number."""
    if claims >= people:
        raise SystemExit("--claims must be smaller than --people (one resident per claim)")
    ref_seed, claims_seed = seed_files(work)
    rng = np.random.default_rng(seed)
    words = ref_seed.clks.shape[1]
    names = list(ref_seed.block_keys)
    pools = {n: max(1, people // (40 if n == "dob" else 3)) for n in names}
    values = {n: rng.integers(0, 2**63, pools[n], np.int64).astype(np.uint64) for n in names}
    ref_keys = {n: values[n][rng.integers(0, pools[n], people)] for n in names}
    ref = Encodings(
        rows=np.arange(people, dtype=np.int64),
        tokens=rng.integers(0, 256, (people, 32), np.uint8),
        has_token=np.ones(people, bool),
        clks=random_clks(rng, people, words),
        block_keys={n: (ref_keys[n], np.ones(people, bool)) for n in names},
        meta=meta_of(ref_seed),
    )
    who = rng.choice(np.arange(1, people), claims, replace=False)  # distinct residents
    claim = Encodings(
        rows=np.arange(claims, dtype=np.int64),
        tokens=np.repeat(ref.tokens[:1], claims, axis=0),  # one number for all
        has_token=np.ones(claims, bool),
        clks=noisy(rng, ref.clks[who]),
        block_keys={n: (ref_keys[n][who], np.ones(claims, bool)) for n in names},
        meta=meta_of(claims_seed),
    )
    write_encodings(ref, work / "register.parquet")
    write_encodings(claim, work / "claims.parquet")
    return work / "register.parquet", work / "claims.parquet"


def run_verify(ref: Path, claims: Path, out: Path, extra: list[str]) -> tuple[float, float, int]:
    """``pprl verify`` in a fresh process: (wall s, peak RSS MiB, exit status)."""
    exe = str(Path(sys.executable).with_name("pprl"))
    cmd = [exe, "verify", "--reference", str(ref), "--claims", str(claims), "--out", str(out)]
    log = out.with_name("verify.log")
    with log.open("wb") as err:
        t = time.perf_counter()
        proc = subprocess.Popen([*cmd, *extra], stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak RSS
        wall = time.perf_counter() - t
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    if code:
        tail = log.read_text(errors="replace").strip()[-400:]
        raise SystemExit(f"pprl verify failed ({code}): {tail}")
    return wall, usage.ru_maxrss / 1024, code


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--people", type=int, default=1_000_000, help="register size")
    p.add_argument("--claims", type=int, default=100_000, help="claims, all on one number")
    p.add_argument("--seed", type=int, default=20261201)
    p.add_argument("--threads", type=int, default=None, help="pprl verify --threads")
    p.add_argument("--workers", type=int, default=None, help="pprl verify --workers (Dask)")
    p.add_argument("--workdir", type=Path, default=None, help="keep the files here")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="pprl-adversarial-") as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        ref, claims = build(work, args.people, args.claims, args.seed)
        built = time.perf_counter() - t
        extra = ["--threads", str(args.threads)] if args.threads else []
        extra += ["--workers", str(args.workers)] if args.workers else []
        load = os.getloadavg()
        wall, rss, _ = run_verify(ref, claims, work / "results", extra)
        summary = json.loads((work / "results" / "summary.json").read_text())
    flagged = int(summary["reasons"].get(REASON, 0))
    print(
        json.dumps(
            {
                "bench": "adversarial-one-number",
                "people": args.people,
                "claims": args.claims,
                "engine": f"dask --workers {args.workers}" if args.workers else "local",
                "verify_wall_s": round(wall, 2),
                "peak_rss_mib": round(rss, 1),
                "within_1_5_gb": rss <= TARGET_MIB,
                "flagged": flagged,
                "all_flagged": flagged == args.claims,
                "counts": summary["counts"],
                "cross_check_s": summary["timings"].get("cross_check"),
                "build_s": round(built, 1),
                "loadavg_before": [round(x, 2) for x in load],
                "cpu": cpu_model(),
                "cores": os.cpu_count(),
            }
        )
    )


if __name__ == "__main__":
    main()
