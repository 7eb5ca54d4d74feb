"""Re-identification by the audit's attacks vs verification quality, per hardening.

Synthesizes one population, derives the attacker's name-frequency list from the
register (the strongest public list possible: the true frequencies), then for each
built-in schema and each hardening: every party encodes locally, the matcher verifies,
``pprl.evaluate.evaluate_findings`` scores the findings, and ``pprl.privacy.audit``
attacks the register's encoding file (truth = the register itself).

    .venv/bin/python benchmarks/bench_privacy.py --people 20000
"""

from __future__ import annotations

import argparse
import collections
import copy
import csv
import tempfile
import time
from pathlib import Path
from typing import Any

from pprl.evaluate import evaluate_findings
from pprl.keys import load_secret, write_secret
from pprl.party import encode_csv
from pprl.privacy.audit import audit
from pprl.schema import builtin_document, parse_schema
from pprl.store import write_encodings
from pprl.synth import SynthConfig, generate
from pprl.verify import verify, write_outputs

HARDENINGS: dict[str, dict[str, Any]] = {
    "none": {},
    "salt: birth year": {"salt": {"field": "date_of_birth", "stop": 4}},
    "balance + permute": {"balance": True},
    "BLIP ε=4 (f=0.018)": {"blip": {"epsilon": 4}},
    "BLIP ε=3 (f=0.047)": {"blip": {"epsilon": 3}},
    "BLIP ε=2 (f=0.119)": {"blip": {"epsilon": 2}},
    "decoys 5%": {"decoys": {"fraction": 0.05}},
    "salt + BLIP ε=4 + balance": {"salt": {"field": "date_of_birth", "stop": 4},
                                   "blip": {"epsilon": 4}, "balance": True},
    "salt + BLIP ε=3 + balance": {"salt": {"field": "date_of_birth", "stop": 4},
                                   "blip": {"epsilon": 3}, "balance": True},
}
NAME_FIELDS = ("family_name_kanji", "given_name_kanji", "family_name_kana", "given_name_kana")


def write_names(register: Path, out: Path) -> Path:
    """The attacker's list: true name frequencies of the register, per field and full name."""
    counts: collections.Counter[tuple[str, str]] = collections.Counter()
    with register.open(encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            for f in NAME_FIELDS:
                counts[(f, r[f])] += 1
            counts[("kana_name", f"{r['family_name_kana']} {r['given_name_kana']}")] += 1
            counts[("kanji_name", f"{r['family_name_kanji']} {r['given_name_kanji']}")] += 1
            counts[("account_holder_kana", r["family_name_kana"] + r["given_name_kana"])] += 1
    with out.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["field", "name", "frequency"])
        for (f, v), k in counts.items():
            w.writerow([f, v, k])
    return out


def balanced_thresholds(document: dict[str, Any], fill: float) -> None:
    """Balanced Dice is 1 - (popcount_a + popcount_b)(1 - Dice)/l: map the tuned thresholds
    with the schema's measured fill so they mean the same separation."""
    v = document["pprl"]["verify"]
    k = 2 * fill
    v["confirm_score"] = round(1 - k * (1 - v["confirm_score"]), 3)
    v["suspect_score"] = round(1 - k * (1 - v["suspect_score"]), 3)
    v["margin_suspect"] = round(k * v["margin_suspect"], 3)
    v["margin_review"] = round(k * v["margin_review"], 3)


FILL = {"jp-resident": 0.35, "jp-bank-holder": 0.27}
JOBS = {"jp-resident": ("insurer.csv", "insurer"), "jp-bank-holder": ("bank.csv", "bank")}


def run_one(data: Path, work: Path, secret_path: Path, schema_name: str, hardening: dict,
            names: Path) -> dict[str, Any]:
    """Encode register and claims with one hardening, verify, evaluate, audit."""
    secret = load_secret(secret_path)
    document = copy.deepcopy(builtin_document(schema_name))
    if hardening:
        document["pprl"]["hardening"] = hardening
    if hardening.get("balance"):
        balanced_thresholds(document, FILL[schema_name])
    schema = parse_schema(document, schema_name)
    claims_csv, label = JOBS[schema_name]
    work.mkdir(parents=True)
    for csv_name, party in (("register.csv", "register"), (claims_csv, label)):
        enc, _ = encode_csv(data / csv_name, schema, secret, party=party)
        write_encodings(enc, work / f"{party}.parquet")
    result = verify(work / "register.parquet", [work / f"{label}.parquet"])
    write_outputs(result, work / "out")
    m = evaluate_findings(work / "out" / "findings.parquet", data / "truth.csv",
                          register=data / "register.csv")
    report = audit(work / "register.parquet", names, data / "register.csv")
    rates = {a["attack"]: a["reidentified_rate"] for a in report["attacks"]}
    accuracy = next(a for a in report["attacks"] if a["attack"] == "pattern_mining"
                    )["field_accuracy"]
    family = next((f for f in ("family_name_kana", "account_holder_kana")
                   if f in report["baseline_most_frequent_name_accuracy"]), "")
    return {"recall": m["overall"]["suspect_or_review"]["recall"],
            "false_alarms": m["false_alarms_per_1000_correct"]["suspect"]
            + m["false_alarms_per_1000_correct"]["review"],
            "frequency": rates["frequency"], "pattern": rates["pattern_mining"],
            "family": accuracy.get(family, 0.0),
            "baseline": report["baseline_most_frequent_name_accuracy"].get(family, 0.0),
            "entropy": report["leakage"]["bit_entropy_mean"],
            "popcount_std": report["leakage"]["popcount_std"]}


def main() -> None:
    """Print the table of docs/privacy.md."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--schemas", default="jp-resident,jp-bank-holder")
    parser.add_argument("--only", default=None, help="comma-separated hardening labels")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate(SynthConfig(people=args.people, seed=args.seed,
                             bank_claims=args.people // 10), root / "data")
        names = write_names(root / "data" / "register.csv", root / "names.csv")
        secret = write_secret(root / "secret.key")
        print("| schema | hardening | re-id frequency | re-id pattern mining | pattern mining: "
              "surname (kana) right | recall (flagged) | false alarms /1,000 (suspect+review) "
              "| bit entropy | popcount sd |\n|---|---|---:|---:|---:|---:|---:|---:|---:|")
        for schema_name in args.schemas.split(","):
            for i, (label, hardening) in enumerate(HARDENINGS.items()):
                if args.only and label not in args.only.split(","):
                    continue
                t = time.perf_counter()
                r = run_one(root / "data", root / f"{schema_name}-{i}", secret, schema_name,
                            hardening, names)
                print(f"| {schema_name} | {label} | {100 * r['frequency']:.3f}% | "
                      f"{100 * r['pattern']:.3f}% | {100 * r['family']:.1f}% "
                      f"(baseline {100 * r['baseline']:.1f}%) | "
                      f"{r['recall']:.4f} | {r['false_alarms']:.2f} | "
                      f"{r['entropy']:.3f} | {r['popcount_std']:.1f} |"
                      f" <!-- {time.perf_counter() - t:.0f} s -->", flush=True)


if __name__ == "__main__":
    main()
