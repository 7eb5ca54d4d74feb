"""Full-name splitting (pprl.fullname): accuracy per export layout, and speed.

Builds a synthetic register with ``pprl synth`` (seed fixed), joins each resident's
family and given name into one column in six layouts (kanji / kana / half-width kana,
with a full-width space, a half-width space or no space) and measures the share of
rows split exactly right: family and given name equal to the register's (both
NFKC-normalized, as the splitter returns them).

Two more measurements:

* unknown surnames: the known-surname list is cut to a random half (fixed seed) and
  the accuracy is measured on the residents whose surname is in the other half, an
  estimate for real surnames outside the dataset's 1,999 (every synthetic surname is
  in the list, so the main numbers are an upper bound for real data);
* speed: ``split_full_names`` over ``--rows`` rows (a register of that many residents,
  four layouts), as a list of strings and as a ``Factorized`` column; CPU seconds,
  best of three.

    .venv/bin/python benchmarks/bench_split.py
    .venv/bin/python benchmarks/bench_split.py --people 100000 --rows 1000000
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

import jaconv
import numpy as np

from pprl.encode.factorize import Factorized, factorize
from pprl.fullname import (
    KnownNames,
    _dataset_file,
    dataset_names,
    known_names,
    split_full_names,
)
from pprl.synth import SynthConfig, generate


def _half(text: str) -> str:
    return str(jaconv.z2h(text, kana=True, ascii=False, digit=False))


LAYOUTS = {
    "kanji, full-width space": ("kanji", "\u3000", str),
    "kanji, no space": ("kanji", "", str),
    "kana, full-width space": ("kana", "\u3000", str),
    "kana, no space": ("kana", "", str),
    "half-width kana, space": ("kana", " ", _half),
    "half-width kana, no space": ("kana", "", _half),
}


def register(people: int, seed: int, workdir: Path) -> list[dict[str, str]]:
    generate(SynthConfig(people=people, seed=seed, claims=0), workdir)
    with open(workdir / "register.csv", encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def accuracy(
    rows: list[dict[str, str]], script: str, sep: str, form, known: KnownNames | None = None
) -> tuple[float, int]:
    fam = [r[f"family_name_{script}"] for r in rows]
    giv = [r[f"given_name_{script}"] for r in rows]
    joined = [form(f) + sep + form(g) for f, g in zip(fam, giv, strict=True)]
    f_out, g_out = split_full_names(joined, known)
    nf = [unicodedata.normalize("NFKC", form(v)) for v in fam]
    ng = [unicodedata.normalize("NFKC", form(v)) for v in giv]
    right = sum(
        a == b and c == d for a, b, c, d in zip(f_out.tolist(), nf, g_out.tolist(), ng, strict=True)
    )
    return right / max(len(rows), 1), len(rows) - right


def held_out(rows: list[dict[str, str]], seed: int) -> dict[str, float]:
    """Accuracy on residents whose surname is not in the (halved) known list."""
    _, given = dataset_names()
    entries = []
    with _dataset_file("last_name_org.csv").open(encoding="utf-8") as fh:
        for row in csv.reader(fh):
            if len(row) > 2:
                entries.append((row[0].strip(), jaconv.hira2kata(row[2].strip())))
    rng = np.random.default_rng(seed)
    keep = rng.random(len(entries)) < 0.5
    kept = [s for (k, r), flag in zip(entries, keep, strict=True) if flag for s in (k, r)]
    dropped = {k for (k, _), flag in zip(entries, keep, strict=True) if not flag}
    known = KnownNames.from_names(kept, given)
    subset = [r for r in rows if r["family_name_kanji"] in dropped]
    out = {"residents": float(len(subset))}
    for label in ("kanji, no space", "kana, no space"):
        script, sep, form = LAYOUTS[label]
        out[label] = round(accuracy(subset, script, sep, form, known)[0], 6)
    return out


def cpu() -> float:
    return time.process_time()


def speed(rows: list[dict[str, str]], n: int, repeats: int = 3) -> dict[str, dict[str, float]]:
    """CPU seconds (best of ``repeats``) to split ``n`` rows in four layouts."""
    reps = -(-n // len(rows))
    known_names()  # the dataset is read once per process; not part of the split
    out: dict[str, dict[str, float]] = {}
    for label in (
        "kanji, no space",
        "kanji, full-width space",
        "half-width kana, no space",
        "half-width kana, space",
    ):
        script, sep, form = LAYOUTS[label]
        one = [
            form(r[f"family_name_{script}"]) + sep + form(r[f"given_name_{script}"]) for r in rows
        ]
        joined = (one * reps)[:n]
        split_full_names(joined[:1000])  # numba kernels loaded
        uniq, inv = factorize(joined)
        timings = {}
        for name, col in (("list", joined), ("factorized", Factorized(uniq, inv))):
            best = float("inf")
            for _ in range(repeats):
                t = cpu()
                split_full_names(col)
                best = min(best, cpu() - t)
            timings[f"{name}_cpu_s"] = round(best, 3)
        out[label] = {"rows": n, "distinct": len(uniq), **timings}
    t = cpu()
    known_names.cache_clear()
    known_names()
    out["known names, read once per process"] = {"cpu_s": round(cpu() - t, 3)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = register(args.people, args.seed, Path(tmp))
    result: dict[str, object] = {
        "people": args.people,
        "seed": args.seed,
        "python": sys.version.split()[0],
        "machine": platform.machine(),
    }
    for label, (script, sep, form) in LAYOUTS.items():
        share, wrong = accuracy(rows, script, sep, form)
        result[label] = {"exact": round(share, 6), "wrong": wrong}
    result["unknown surnames (held-out half)"] = held_out(rows, args.seed)
    if args.rows:
        big = rows
        if args.rows > len(rows) and args.people < args.rows:
            with tempfile.TemporaryDirectory() as tmp:
                big = register(args.rows, args.seed, Path(tmp))
        result["speed"] = speed(big, args.rows)
    print(json.dumps(result, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
