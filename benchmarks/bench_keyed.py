"""Records/s of the data holder's keyed hashes: pseudonyms, block keys and BLIP noise.

Usage: python benchmarks/bench_keyed.py [--records N]

Each is timed (CPU seconds of this process, best of two) in its batch form
(pprl.encode.keyed, pprl.privacy.blip: keyed BLAKE3 in numba) and in the form it
replaced, one ``blake3`` package call per record (BLIP: generator v1, kept here only for
this comparison); pseudonyms and block keys are checked to be identical.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
from blake3 import blake3

from pprl.encode import keyed
from pprl.privacy import blip

KEY = bytes(range(32))


def cpu(fn: Callable[[], object], repeat: int = 2) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.process_time()
        out = fn()
        best = min(best, time.process_time() - start)
    return best, out


def pseudonyms_per_record(values: list[str]) -> np.ndarray:
    joined = b"".join(blake3(v.encode(), key=KEY).digest() for v in values)
    return np.frombuffer(joined, np.uint8).reshape(-1, 32)


def block_keys_per_record(name: str, parts: list[tuple[np.ndarray, list[str]]]) -> np.ndarray:
    out = np.zeros(len(parts[0][0]), np.uint64)
    for i, codes in enumerate(zip(*(c.tolist() for c, _ in parts), strict=True)):
        if min(codes) >= 0:
            text = "\x1f".join([name, *(t[c] for (_, t), c in zip(parts, codes, strict=True))])
            out[i] = int.from_bytes(blake3(text.encode(), key=KEY).digest(length=8), "little")
    return out


def blip_v1(clks: np.ndarray, epsilon: float) -> np.ndarray:
    """The replaced generator: 16 bits of a keyed XOF per CLK bit, f rounded to 1/65536."""
    nbits = clks.shape[1] * 64
    threshold = round(blip.flip_probability(epsilon) * 65536)
    raw = np.ascontiguousarray(clks).view(np.uint8)
    out = np.empty_like(clks)
    for start in range(0, len(clks), 1 << 14):
        rows = raw[start : start + (1 << 14)]
        noise = np.frombuffer(
            b"".join(blake3(r.tobytes(), key=KEY).digest(length=2 * nbits) for r in rows), "<u2"
        ).reshape(len(rows), nbits)
        flips = np.packbits(noise < threshold, axis=1).view("<u8")
        out[start : start + len(rows)] = clks[start : start + len(rows)] ^ flips
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    n = ap.parse_args().records
    rng = np.random.default_rng(0)
    numbers = [f"{x:012d}" for x in rng.integers(0, 10**12, n)]
    years = [str(y) for y in range(1920, 2020)]
    kana = [chr(0x30A2 + i) for i in range(40)]
    postcodes = [f"{p:07d}" for p in range(0, 10**7, 97)]
    dates = [
        f"{y}-{m:02d}-{d:02d}" for y in range(1920, 2020) for m in range(1, 13) for d in (1, 15)
    ]

    def codes(table: list[str]) -> np.ndarray:
        c = rng.integers(0, len(table), n)
        c[rng.random(n) < 0.01] = -1
        return c

    keys = {
        "year_kana": [(codes(years), years), (codes(kana), kana)],
        "postcode": [(codes(postcodes), postcodes)],
        "dob_sex": [(codes(dates), dates), (codes(["1", "2"]), ["1", "2"])],
    }
    clks = rng.integers(0, 2**63, size=(n, 16), dtype=np.uint64)
    keyed.pseudonyms(KEY, numbers[:100])  # load the compiled kernels before timing
    keyed.block_key_hashes(KEY, "warm", [(np.arange(3), ["a", "b", "c"])])
    blip.blip(clks[:100], 3.0, KEY)

    rows = []
    t_new, p_new = cpu(lambda: keyed.pseudonyms(KEY, numbers))
    t_old, p_old = cpu(lambda: pseudonyms_per_record(numbers), 1)
    assert (p_new == p_old).all()
    rows.append(("pseudonyms", t_old, t_new))
    t_new, b_new = cpu(lambda: [keyed.block_key_hashes(KEY, k, p)[0] for k, p in keys.items()])
    t_old, b_old = cpu(lambda: [block_keys_per_record(k, p) for k, p in keys.items()], 1)
    assert all((a == b).all() for a, b in zip(b_new, b_old, strict=True))
    rows.append((f"{len(keys)} block keys", t_old, t_new))
    t_new, _ = cpu(lambda: blip.blip(clks, 3.0, KEY))
    t_old, _ = cpu(lambda: blip_v1(clks, 3.0), 1)
    rows.append(("BLIP ε=3, l=1024 (v1 → v2)", t_old, t_new))
    print(f"{n:,} records, CPU seconds (records/s)\n")
    print("| hash | per record (blake3 package) | batch (numba) | speed-up |")
    print("|---|---|---|---|")
    for name, old, new in rows:
        print(
            f"| {name} | {old:.2f} s ({n / old:,.0f}/s) | {new:.3f} s ({n / new:,.0f}/s) | {old / new:.0f}× |"
        )


if __name__ == "__main__":
    main()
