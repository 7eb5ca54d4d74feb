"""Benchmark pprl.encode.encode_clks against clkhash.clk.generate_clks.

Usage: python benchmarks/bench_encode.py [--records N] [--quick] [--repeat R]

Synthesizes N Japanese-like identity records with numpy (Zipf-distributed surnames and
given names from a few thousand distinct values, birth dates over 90 years, postcodes,
mostly-distinct addresses), encodes them with both encoders under the same 1024-bit
schema (a stand-in for pprl's built-in ``jp-resident`` schema), checks the outputs
are bit-identical and prints a markdown table with records/s and the speed ratio.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np
from clkhash import schema as clk_schema
from clkhash.clk import generate_clks

from pprl.encode import bitarrays_to_clks, encode_clks

SECRET = "benchmark-secret-not-for-production"

KANJI = list(
    "佐藤鈴木高橋田中伊渡辺山本中村小林加藤吉田山口松井上木清水森池斎橋本石川前坂"
    "岡野藤原村西長谷川近遠青柳菅大島原野宮崎内村太郎花子美智恵健一翔大輔陽菜愛結"
    "真由奈和子幸雄博明正樹直人優香里沙織彩千春秋冬夏光良"
)
KANA = list(
    "あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよ"
    "らりるれろわをんがぎぐげござじずぜぞだでどばびぶべぼぱぴぷぺぽゃゅょっー"
)
PREFS = [
    "北海道",
    "青森県",
    "岩手県",
    "宮城県",
    "秋田県",
    "山形県",
    "福島県",
    "茨城県",
    "栃木県",
    "群馬県",
    "埼玉県",
    "千葉県",
    "東京都",
    "神奈川県",
    "新潟県",
    "富山県",
    "石川県",
    "福井県",
    "山梨県",
    "長野県",
    "岐阜県",
    "静岡県",
    "愛知県",
    "三重県",
    "滋賀県",
    "京都府",
    "大阪府",
    "兵庫県",
    "奈良県",
    "和歌山県",
    "鳥取県",
    "島根県",
    "岡山県",
    "広島県",
    "山口県",
    "徳島県",
    "香川県",
    "愛媛県",
    "高知県",
    "福岡県",
    "佐賀県",
    "長崎県",
    "熊本県",
    "大分県",
    "宮崎県",
    "鹿児島県",
    "沖縄県",
]

SCHEMA = {
    "version": 3,
    "clkConfig": {
        "l": 1024,
        "kdf": {
            "type": "HKDF",
            "hash": "SHA256",
            "salt": "SlAtcmVzaWRlbnQtYmVuY2g=",
            "info": "Y2xr",
            "keySize": 64,
        },
    },
    "features": [
        {"identifier": "my_number", "ignored": True},
        {
            "identifier": "family_name_kanji",
            "format": {"type": "string", "encoding": "utf-8", "maxLength": 20},
            "hashing": {
                "comparison": {"type": "ngram", "n": 2},
                "strategy": {"bitsPerFeature": 120},
                "hash": {"type": "blakeHash"},
                "missingValue": {"sentinel": "", "replaceWith": ""},
            },
        },
        {
            "identifier": "given_name_kanji",
            "format": {"type": "string", "encoding": "utf-8", "maxLength": 20},
            "hashing": {
                "comparison": {"type": "ngram", "n": 2},
                "strategy": {"bitsPerFeature": 100},
                "hash": {"type": "blakeHash"},
            },
        },
        {
            "identifier": "family_name_kana",
            "format": {"type": "string", "encoding": "utf-8", "maxLength": 30},
            "hashing": {
                "comparison": {"type": "ngram", "n": 2},
                "strategy": {"bitsPerFeature": 100},
                "hash": {"type": "blakeHash"},
            },
        },
        {
            "identifier": "given_name_kana",
            "format": {"type": "string", "encoding": "utf-8", "maxLength": 30},
            "hashing": {
                "comparison": {"type": "ngram", "n": 2},
                "strategy": {"bitsPerFeature": 80},
                "hash": {"type": "blakeHash"},
            },
        },
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
            "format": {"type": "enum", "values": ["1", "2", "9"]},
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
    ],
}


def _zipf_pick(rng: np.random.Generator, pool: list[str], n: int, s: float = 1.1) -> list[str]:
    """Draw n items from pool with Zipf-like frequencies (rank r has weight 1 / r**s)."""
    w = 1.0 / np.arange(1, len(pool) + 1) ** s
    idx = rng.choice(len(pool), size=n, p=w / w.sum())
    return [pool[i] for i in idx.tolist()]


def _distinct_words(
    rng: np.random.Generator, alphabet: list[str], count: int, lo: int, hi: int
) -> list[str]:
    """``count`` distinct random words of lo..hi characters from alphabet."""
    seen: dict[str, None] = {}
    while len(seen) < count:
        k = int(rng.integers(lo, hi + 1))
        seen["".join(rng.choice(alphabet, size=k).tolist())] = None
    return list(seen)


def synthesize(n: int, seed: int = 7) -> list[list[str]]:
    """Columns (in SCHEMA field order) of n Japanese-like synthetic records."""
    rng = np.random.default_rng(seed)
    fam = _distinct_words(rng, KANJI, 4000, 1, 3)
    fam_kana = dict(zip(fam, _distinct_words(rng, KANA, len(fam), 2, 6), strict=True))
    giv = _distinct_words(rng, KANJI, 3000, 1, 3)
    giv_kana = dict(zip(giv, _distinct_words(rng, KANA, len(giv), 2, 5), strict=True))
    family = _zipf_pick(rng, fam, n)
    given = _zipf_pick(rng, giv, n, s=0.9)
    day0 = np.datetime64("1934-01-01")
    dob = (day0 + rng.integers(0, 90 * 365, size=n)).astype(str).tolist()
    sex = rng.choice(["1", "2", "9"], size=n, p=[0.49, 0.5, 0.01]).tolist()
    pc_pool = [
        f"{a:03d}-{b:04d}"
        for a, b in zip(
            rng.integers(0, 1000, 30000).tolist(),
            rng.integers(0, 10000, 30000).tolist(),
            strict=True,
        )
    ]
    postcode = _zipf_pick(rng, pc_pool, n, s=0.6)
    cities = _distinct_words(rng, KANJI, 1700, 2, 3)
    towns = _distinct_words(rng, KANJI, 20000, 2, 4)
    pref = rng.integers(0, len(PREFS), n).tolist()
    city = rng.integers(0, len(cities), n).tolist()
    town = rng.integers(0, len(towns), n).tolist()
    nums = rng.integers(1, 40, size=(n, 3)).tolist()
    address = [
        f"{PREFS[p]}{cities[c]}市{towns[t]}{a}丁目{b}番{c2}号"
        for p, c, t, (a, b, c2) in zip(pref, city, town, nums, strict=True)
    ]
    my_number = [f"{x:012d}" for x in rng.integers(0, 10**12, n).tolist()]
    kana_f = [fam_kana[f] for f in family]
    kana_g = [giv_kana[g] for g in given]
    return [my_number, family, given, kana_f, kana_g, dob, sex, postcode, address]


def _time(fn, repeat: int) -> tuple[float, object]:
    """Median wall time of ``repeat`` calls of fn, and the last result."""
    times, res = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), res


def main() -> None:
    """Run the benchmark and print a markdown table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument(
        "--quick", action="store_true", help="20,000 records, clkhash single-process only"
    )
    ap.add_argument("--repeat", type=int, default=5, help="pprl runs per setting (median)")
    args = ap.parse_args()
    n = 20_000 if args.quick else args.records
    ncpu = os.cpu_count() or 1
    schema = clk_schema.from_json_dict(SCHEMA)
    t0 = time.perf_counter()
    cols = synthesize(n)
    t_syn = time.perf_counter() - t0
    rows = list(zip(*cols, strict=True))
    distinct = {f["identifier"]: len(set(c)) for f, c in zip(SCHEMA["features"], cols, strict=True)}

    encode_clks(schema, [c[:100] for c in cols], SECRET)  # load/compile numba kernels
    results: list[tuple[str, str, float]] = []
    ours = None
    for w in sorted({1, ncpu}):
        t, ours = _time(lambda w=w: encode_clks(schema, cols, SECRET, workers=w), args.repeat)
        results.append((f"pprl encode_clks (median of {args.repeat})", str(w), t))
    t, auto = _time(lambda: encode_clks(schema, cols, SECRET), args.repeat)
    results.append((f"pprl encode_clks (median of {args.repeat})", "auto", t))
    identical = True
    clk_times = []
    for w in [1] if args.quick else sorted({1, ncpu}):
        t1 = time.perf_counter()
        ref = generate_clks(rows, schema, SECRET, max_workers=w)
        clk_times.append(time.perf_counter() - t1)
        results.insert(len(clk_times) - 1, ("clkhash 0.18.3 generate_clks", str(w), clk_times[-1]))
        ref_bytes = bitarrays_to_clks(ref).tobytes()
        identical &= ref_bytes == ours.tobytes() and ref_bytes == auto.tobytes()
    best_clk = min(clk_times)

    cpu = "?"
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    print(
        f"records: {n:,}  synth: {t_syn:.2f}s  nproc: {ncpu}  cpu: {cpu}  "
        f"python {platform.python_version()}  load average: "
        + " ".join(f"{x:.2f}" for x in os.getloadavg())
    )
    print("distinct values per field: " + ", ".join(f"{k}={v:,}" for k, v in distinct.items()))
    print()
    print("| encoder | workers | time (s) | records/s | vs best clkhash |")
    print("|---|---|---:|---:|---:|")
    for name, w, t in results:
        print(f"| {name} | {w} | {t:.3f} | {n / t:,.0f} | {best_clk / t:.1f}x |")
    print()
    print(f"bit-identical: {identical}")
    if not identical:
        raise SystemExit("outputs differ from clkhash")


if __name__ == "__main__":
    main()
