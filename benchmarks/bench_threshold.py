"""Thresholds chosen by the data: F1 of ``pprl match`` at 0.8, at the estimated
threshold and at the best threshold in hindsight.

Usage::

    .venv/bin/python benchmarks/bench_threshold.py [--people 20000] [--seed 1] \
        [--data jp|clkhash|both] [--keep DIR]

Data:

* ``jp``: a seeded two-party set built on ``pprl synth``'s register. A and B each hold
  half of the residents (a quarter of the residents are in both). B carries typical
  noise, each kind independently per record: a typo (one character replaced) in a name
  field (4 %), in the kana (3 %), in the birth date (2 %) or the address (2 %); one
  field missing (3 %); family and given name swapped, kanji and kana (``--swap-rate``, default 0.5 %). Both are
  encoded with the built-in ``jp-resident`` schema (no link key) and a fresh secret.
* ``clkhash``: two ``clkhash.randomnames`` files (80 % overlap; the shared records are
  identical, clkhash's own subset generator), encoded with clkhash's randomnames v2
  schema, with and without the same kind of noise on B (``clkhash+noise``).

For each set the script runs ``pprl.match.match_files`` once with the threshold chosen
from the data (:mod:`pprl.mixture`), and once at a low floor to find F1 at 0.8 and at
every threshold (the best in hindsight); links are 1:1 (greedy), as ``pprl match``
writes by default. Prints one markdown row per set.
"""

from __future__ import annotations

import argparse
import csv
import random
import tempfile
import time
from pathlib import Path

import numpy as np

JP_FIELDS = (
    "my_number",
    "family_name_kanji",
    "given_name_kanji",
    "family_name_kana",
    "given_name_kana",
    "date_of_birth",
    "sex",
    "postcode",
    "address",
)
KATAKANA = [chr(c) for c in range(0x30A2, 0x30F3)]


def _typo(rng: random.Random, value: str, alphabet: list[str]) -> str:
    """One character of ``value`` replaced by another from ``alphabet``."""
    if not value:
        return value
    i = rng.randrange(len(value))
    return value[:i] + rng.choice([c for c in alphabet if c != value[i]]) + value[i + 1 :]


def _valid_date(text: str, fmt: str) -> bool:
    import datetime

    try:
        datetime.datetime.strptime(text, fmt)
    except ValueError:
        return False
    return True


def add_noise(
    rows: list[dict[str, str]],
    fields: dict[str, str],
    seed: int,
    swap_rate: float = 0.005,
    dob_format: str | None = None,
) -> list[str]:
    """Typical noise on ``rows`` in place; returns the noise applied per row.

    ``fields`` names the roles: ``family``, ``given``, ``family_kana``, ``given_kana``
    (optional), ``dob``, ``address`` (optional), ``sex`` (optional): the columns they
    are in. ``dob_format``: keep birth dates valid in this ``strptime`` format and
    never empty (clkhash refuses invalid dates).
    """
    rng = random.Random(seed)
    name_chars = sorted({c for r in rows for k in ("family", "given") for c in r[fields[k]]})
    kana = fields.get("family_kana")
    applied = []
    for r in rows:
        kinds = []
        if rng.random() < 0.04:
            f = fields[rng.choice(("family", "given"))]
            r[f] = _typo(rng, r[f], name_chars)
            kinds.append("name_typo")
        if kana and rng.random() < 0.03:
            f = fields[rng.choice(("family_kana", "given_kana"))]
            r[f] = _typo(rng, r[f], KATAKANA)
            kinds.append("kana_typo")
        if rng.random() < 0.02:
            new = _typo(rng, r[fields["dob"]], list("0123456789"))
            if dob_format is None or _valid_date(new, dob_format):
                r[fields["dob"]] = new
                kinds.append("dob_typo")
        if "address" in fields and rng.random() < 0.02:
            r[fields["address"]] = _typo(rng, r[fields["address"]], name_chars)
            kinds.append("address_typo")
        if rng.random() < 0.03:
            f = fields[
                rng.choice([k for k in fields if k != "sex" and (k != "dob" or not dob_format)])
            ]
            r[f] = ""
            kinds.append("missing")
        if rng.random() < swap_rate:
            pairs = [("family", "given")] + ([("family_kana", "given_kana")] if kana else [])
            for x, y in pairs:
                r[fields[x]], r[fields[y]] = r[fields[y]], r[fields[x]]
            kinds.append("swapped_names")
        applied.append(";".join(kinds))
    return applied


def _write_csv(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, header, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def jp_two_party(
    people: int, seed: int, out: Path, swap_rate: float = 0.005
) -> tuple[Path, Path, np.ndarray]:
    """A and B encoding files and the true pairs (a_row, b_row) of a two-party set."""
    from pprl.keys import load_secret, write_secret
    from pprl.party import encode_csv
    from pprl.schema import load_schema
    from pprl.store import write_encodings
    from pprl.synth import SynthConfig, generate

    generate(SynthConfig(people=people, seed=seed, claims=100), out / "synth", force=True)
    with (out / "synth" / "register.csv").open(encoding="utf-8") as f:
        reg = [{k: r[k] for k in JP_FIELDS} for r in csv.DictReader(f)]
    rng = np.random.default_rng(seed)
    n = len(reg)
    a_idx = rng.permutation(n)[: n // 2]
    b_idx = rng.permutation(n)[: n // 2]
    a_rows = [dict(reg[i]) for i in a_idx]
    b_rows = [dict(reg[i]) for i in b_idx]
    roles = {
        "family": "family_name_kanji",
        "given": "given_name_kanji",
        "family_kana": "family_name_kana",
        "given_kana": "given_name_kana",
        "dob": "date_of_birth",
        "address": "address",
        "sex": "sex",
    }
    add_noise(b_rows, roles, seed + 1, swap_rate)
    _write_csv(out / "a.csv", list(JP_FIELDS), a_rows)
    _write_csv(out / "b.csv", list(JP_FIELDS), b_rows)
    secret = load_secret(write_secret(out / f"secret-{seed}.key"))
    sch = load_schema("jp-resident")  # the number becomes a pseudonym; match ignores it
    paths = []
    for name in ("a", "b"):
        enc, _ = encode_csv(out / f"{name}.csv", sch, secret)
        write_encodings(enc, out / f"{name}.parquet")
        paths.append(out / f"{name}.parquet")
    pos_in_b = {int(p): j for j, p in enumerate(b_idx)}
    truth = np.array(
        [(i, pos_in_b[int(p)]) for i, p in enumerate(a_idx) if int(p) in pos_in_b], np.int64
    ).reshape(-1, 2)
    return paths[0], paths[1], truth


def clkhash_two_party(
    n: int, seed: int, out: Path, noise: bool, swap_rate: float = 0.005
) -> tuple[Path, Path, np.ndarray]:
    """Two clkhash.randomnames files (80 % overlap) as pprl encoding files, the true
    pairs, and (``noise``) the typical noise on B."""
    from importlib.resources import files

    from clkhash import clk, randomnames, schema

    from pprl.store import Encodings, write_encodings

    random.seed(seed)
    names = randomnames.NameList(int(n * 1.3) + 10)
    s1, s2 = names.generate_subsets(n, 0.8)
    with (files("clkhash") / "data" / "randomnames-schema-v2.json").open() as f:
        sch = schema.from_json_file(f)
    key_a = {tuple(map(str, r)): i for i, r in enumerate(s1)}
    truth = np.array(
        [(key_a[tuple(map(str, r))], j) for j, r in enumerate(s2) if tuple(map(str, r)) in key_a],
        np.int64,
    ).reshape(-1, 2)
    rows_b = [[str(x) for x in r] for r in s2]
    if noise:  # columns: INDEX, NAME freetext, DOB YYYY/MM/DD, GENDER
        recs = [
            {"name": r[1].split(" ")[0], "last": " ".join(r[1].split(" ")[1:]), "dob": r[2]}
            for r in rows_b
        ]
        roles = {"family": "last", "given": "name", "dob": "dob"}
        add_noise(recs, roles, seed + 1, swap_rate, dob_format="%Y/%m/%d")
        for r, rec in zip(rows_b, recs, strict=True):
            name = f"{rec['name']} {rec['last']}".strip()
            r[1] = name if len(name) >= 3 else r[1]  # the schema's shortest name
            r[2] = rec["dob"]
    paths = []
    for name, rows in (("a", [[str(x) for x in r] for r in s1]), ("b", rows_b)):
        clks = clk.generate_clks(rows, sch, f"bench-secret-{seed}")
        raw = b"".join(c.tobytes() for c in clks)
        packed = np.frombuffer(raw, dtype="<u8").reshape(len(clks), -1).copy()
        m = len(rows)
        enc = Encodings(
            rows=np.arange(m, dtype=np.int64),
            tokens=np.zeros((m, 32), np.uint8),
            has_token=np.zeros(m, bool),
            clks=packed,
            block_keys={},
            meta={"key_fingerprint": "c" * 16, "schema_digest": "0" * 32},
        )
        write_encodings(enc, out / f"{name}.parquet")
        paths.append(out / f"{name}.parquet")
    return paths[0], paths[1], truth


def f1_of(links: tuple[np.ndarray, np.ndarray], truth: np.ndarray) -> tuple[float, float, float]:
    """Precision, recall and F1 of links (a_row, b_row arrays) against true pairs."""
    found = set(zip(links[0].tolist(), links[1].tolist(), strict=True))
    true = set(map(tuple, truth.tolist()))
    tp = len(found & true)
    p = tp / len(found) if found else 1.0
    r = tp / len(true) if true else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def hindsight(
    a_row: np.ndarray, b_row: np.ndarray, score: np.ndarray, truth: np.ndarray
) -> tuple[float, float]:
    """The threshold with the best F1 over 1:1 links solved at a low floor, and that F1.

    Greedy 1:1 links at threshold t are the links at the floor with a score >= t, so one
    solve gives every threshold's links."""
    true = set(map(tuple, truth.tolist()))
    hit = np.array([(x, y) in true for x, y in zip(a_row.tolist(), b_row.tolist(), strict=True)])
    order = np.argsort(-score, kind="stable")
    s, h = score[order], hit[order]
    tp = np.cumsum(h)
    k = np.arange(1, len(s) + 1)
    f1 = 2 * tp / (k + len(true))
    last = np.r_[s[1:] != s[:-1], True]  # a threshold keeps every tie
    best = int(np.argmax(np.where(last, f1, -1)))
    return float(s[best]), float(f1[best])


def measure(label: str, a: Path, b: Path, truth: np.ndarray, floor: float) -> str:
    """One markdown row: F1 at 0.8, at the chosen threshold and in hindsight."""
    from pprl.match import MatchOptions, match_files, threshold_estimate

    t0 = time.process_time()
    auto = match_files(a, b, MatchOptions(auto_threshold=True))
    cpu_auto = time.process_time() - t0
    est = threshold_estimate(auto)
    low = match_files(a, b, MatchOptions(threshold=floor))
    ar, br, sc = (np.asarray(low.column(c)) for c in ("a_row", "b_row", "score"))
    at08 = sc >= 0.8
    _, _, f1_08 = f1_of((ar[at08], br[at08]), truth)
    p, r, f1 = f1_of((np.asarray(auto.column("a_row")), np.asarray(auto.column("b_row"))), truth)
    t_best, f1_best = hindsight(ar, br, sc, truth)
    assert est is not None
    return (
        f"| {label} | {len(pa_rows(a)):,} × {len(pa_rows(b)):,} | {len(truth):,} | {f1_08:.4f} "
        f"| {est.threshold:.3f} | {est.precision:.4f} / {est.recall:.4f} | {p:.4f} / {r:.4f} "
        f"| **{f1:.4f}** | {t_best:.3f} | {f1_best:.4f} | {cpu_auto:.1f} |"
    )


def pa_rows(path: Path) -> np.ndarray:
    from pprl.store import read_encodings

    return read_encodings(path).rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument(
        "--people", type=int, default=20_000, help="jp: residents; clkhash: records per file"
    )
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--data", choices=("jp", "clkhash", "both"), default="both")
    ap.add_argument("--floor", type=float, default=0.5, help="floor of the hindsight search")
    ap.add_argument("--swap-rate", type=float, default=0.005)
    ap.add_argument("--noise-only", action="store_true", help="clkhash: only the noisy set")
    ap.add_argument("--keep", type=Path, default=None)
    args = ap.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="bench_threshold_"))
    print(
        "| data | A × B | true pairs | F1 at 0.8 | chosen threshold | estimated P / R "
        "| measured P / R | F1 chosen | best threshold | best F1 | CPU s (auto match) |"
    )
    print("|---|---|---:|---:|---:|---|---|---:|---:|---:|---:|")
    if args.data in ("jp", "both"):
        out = base / "jp"
        out.mkdir(parents=True, exist_ok=True)
        a, b, truth = jp_two_party(args.people, args.seed, out, args.swap_rate)
        label = (
            f"jp-resident, {args.people:,} residents, seed {args.seed}, swaps {args.swap_rate:.1%}"
        )
        print(measure(label, a, b, truth, args.floor), flush=True)
    if args.data in ("clkhash", "both"):
        for noise in (False, True) if args.data == "both" or not args.noise_only else (True,):
            out = base / ("clkhash-noise" if noise else "clkhash")
            out.mkdir(parents=True, exist_ok=True)
            a, b, truth = clkhash_two_party(args.people // 2, args.seed, out, noise, args.swap_rate)
            label = "clkhash randomnames" + (" + noise on B" if noise else "")
            print(measure(label, a, b, truth, args.floor), flush=True)


if __name__ == "__main__":
    main()
