"""Tune the built-in schemas' k values and tokenization by measured separation.

For each candidate variant of ``jp-resident`` (or ``jp-bank-holder``) this script
encodes the same noisy synthetic population, verifies the insurer's (bank's) claims and
measures how well same-person scores separate from different-person scores:

* ``same``: Dice of a claim with its true owner's register record
  (claimed score of correct links, best-alternative score of wrong links);
* ``other``: Dice of a claim with the most similar *other* resident
  (best alternative of correct links, claimed score of wrong links);
* ``AUC``: probability that a random ``same`` exceeds a random ``other``;
* ``overlap``: fraction of correct links whose closest other resident scores within
  0.02 of (or above) the true owner — the cases no threshold can separate;
* the verification quality at the best margin threshold.

Run:  .venv/bin/python benchmarks/tune_schema.py [--people 50000] [--schema jp-resident]
"""

from __future__ import annotations

import argparse
import copy
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow.csv as pacsv

from pprl.keys import load_secret, write_secret
from pprl.party import encode_records
from pprl.read import read_csv
from pprl.schema import builtin_document, parse_schema
from pprl.store import write_encodings
from pprl.synth import SynthConfig, generate
from pprl.verify import Thresholds, verify


def set_k(
    doc: dict,
    field: str,
    k: int,
    *,
    n: int | None = None,
    positional: bool | None = None,
    strategy: str = "bitsPerFeature",
) -> None:
    """Change one feature's k (and optionally its n-gram size) in a schema document."""
    for feat in doc["features"]:
        if feat["identifier"] == field:
            feat["hashing"]["strategy"] = {strategy: k}
            if n is not None:
                feat["hashing"]["comparison"]["n"] = n
            if positional is not None:
                feat["hashing"]["comparison"]["positional"] = positional
            return
    raise KeyError(field)


def resident_variants() -> dict[str, dict]:
    """Candidate variants of jp-resident, from the shipped one to sparser ones."""
    base = builtin_document("jp-resident")
    out = {"shipped": base}
    names = ["family_name_kanji", "given_name_kanji", "family_name_kana", "given_name_kana"]
    for label, k_name, k_dob, k_sex, k_post, k_addr in [
        ("dense (150/120/30/60/120)", 150, 120, 30, 60, 120),
        ("medium (100/80/20/40/80)", 100, 80, 20, 40, 80),
        ("sparse (70/60/15/30/60)", 70, 60, 15, 30, 60),
        ("sparse, names up (90/60/10/25/50)", 90, 60, 10, 25, 50),
        ("very sparse (50/40/10/20/40)", 50, 40, 10, 20, 40),
    ]:
        doc = copy.deepcopy(base)
        for f in names:
            set_k(doc, f, k_name)
        set_k(doc, "date_of_birth", k_dob)
        set_k(doc, "sex", k_sex)
        set_k(doc, "postcode", k_post)
        set_k(doc, "address", k_addr)
        out[label] = doc
    doc = copy.deepcopy(out["sparse (70/60/15/30/60)"])
    for f in names:
        set_k(doc, f, 70, n=1)
    out["sparse, name unigrams"] = doc
    doc = copy.deepcopy(out["sparse (70/60/15/30/60)"])
    set_k(doc, "date_of_birth", 60, n=2, positional=False)
    out["sparse, dob bigrams"] = doc
    return out


def bank_variants() -> dict[str, dict]:
    """Candidate variants of jp-bank-holder."""
    base = builtin_document("jp-bank-holder")
    out = {"shipped": base}
    for k_name, k_dob in [(300, 120), (200, 150), (150, 150), (150, 200), (120, 200), (100, 200)]:
        doc = copy.deepcopy(base)
        set_k(doc, "account_holder_kana", k_name)
        set_k(doc, "date_of_birth", k_dob)
        out[f"name {k_name} / dob {k_dob}"] = doc
    return out


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(pos > neg) + P(pos == neg) / 2, by ranks."""
    both = np.concatenate([pos, neg])
    ranks = np.argsort(np.argsort(both, kind="stable"), kind="stable").astype(float) + 1
    # average ranks of ties
    _, inv, counts = np.unique(both, return_inverse=True, return_counts=True)
    sums = np.bincount(inv, weights=ranks)
    ranks = (sums / counts)[inv]
    r_pos = ranks[: len(pos)].sum()
    return float((r_pos - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def measure(findings, truth_file: str, rows_truth) -> dict:
    """Separation and best-margin quality of one verification result."""
    f = findings
    link = rows_truth["link_status"]
    score = np.nan_to_num(f.column("score").to_numpy(zero_copy_only=False), nan=0.0)
    cand = np.nan_to_num(f.column("candidate_score").to_numpy(zero_copy_only=False), nan=0.0)
    correct, wrong = link == "correct", link == "wrong"
    same = np.concatenate([score[correct], cand[wrong]])
    other = np.concatenate([cand[correct], score[wrong]])
    margin = cand - score
    overlap = float((margin[correct] > -0.02).mean())
    best = None
    for t in np.arange(-0.10, 0.10, 0.005):
        flag = margin >= t
        tp, fp = int((flag & wrong).sum()), int((flag & correct).sum())
        rec = tp / max(wrong.sum(), 1)
        fa = 1000 * fp / max(correct.sum(), 1)
        if rec >= 0.995 and (best is None or fa < best[2]):
            best = (round(float(t), 3), rec, fa)
    return {
        "same_mean": float(same.mean()),
        "other_mean": float(other.mean()),
        "auc": auc(same, other),
        "overlap": overlap,
        "margin_at_recall_0995": best[0] if best else None,
        "false_alarms_at_recall_0995": best[2] if best else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--schema", default="jp-resident", choices=["jp-resident", "jp-bank-holder"]
    )
    args = parser.parse_args()
    bank = args.schema == "jp-bank-holder"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate(
            SynthConfig(
                people=args.people, seed=args.seed, bank_claims=args.people // 4 if bank else 0
            ),
            root / "data",
        )
        secret = load_secret(write_secret(root / "k"))
        register = read_csv(root / "data" / "register.csv")
        claims_name = "bank.csv" if bank else "insurer.csv"
        claims = read_csv(root / "data" / claims_name)
        truth = pacsv.read_csv(
            root / "data" / "truth.csv",
            convert_options=pacsv.ConvertOptions(
                column_types={"linked_number": "string", "true_number": "string"}
            ),
        )
        truth = truth.filter(truth.column("file").to_numpy(zero_copy_only=False) == claims_name)
        order = np.argsort(truth.column("row").to_numpy())
        rows_truth = {
            "link_status": truth.column("link_status").to_numpy(zero_copy_only=False)[order]
        }
        variants = bank_variants() if bank else resident_variants()
        print(
            f"| variant ({args.schema}, {args.people:,} people) | fill | same mean | other mean "
            "| AUC | overlap | margin t @ recall 0.995 | false alarms /1,000 @ t |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for label, doc in variants.items():
            schema = parse_schema(doc, args.schema)
            t0 = time.perf_counter()
            reg_enc, _ = encode_records(register, schema, secret, party="register")
            cl_enc, _ = encode_records(claims, schema, secret, party="claims")
            write_encodings(reg_enc, root / "r.parquet")
            write_encodings(cl_enc, root / "c.parquet")
            result = verify(root / "r.parquet", [root / "c.parquet"], thresholds=Thresholds())
            m = measure(result.findings, claims_name, rows_truth)
            fill = float(np.unpackbits(reg_enc.clks[:5000].view(np.uint8)).mean())
            print(
                f"| {label} | {fill:.2f} | {m['same_mean']:.3f} | {m['other_mean']:.3f} | "
                f"{m['auc']:.4f} | {m['overlap']:.4f} | {m['margin_at_recall_0995']} | "
                f"{m['false_alarms_at_recall_0995'] if m['false_alarms_at_recall_0995'] is None else round(m['false_alarms_at_recall_0995'], 2)} |",
                flush=True,
            )
            _ = time.perf_counter() - t0
        print(
            json.dumps(
                {
                    "command": f"benchmarks/tune_schema.py --people {args.people} "
                    f"--schema {args.schema}",
                    "seed": args.seed,
                }
            )
        )


if __name__ == "__main__":
    main()
