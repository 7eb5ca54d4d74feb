"""Re-identification by the audit's attacks vs verification quality, per hardening.

Synthesizes one population, derives the attacker's name-frequency list from the
register (the strongest public list possible: the true frequencies), then for each
built-in schema and each hardening: every party encodes locally, the matcher verifies,
``pprl.evaluate.evaluate_findings`` scores the findings, and ``pprl.privacy.audit``
attacks the register's encoding file (truth = the register itself).

    .venv/bin/python benchmarks/bench_privacy.py --people 20000

With ``--secrets N`` every configuration is run with N different secrets on the same
population (secret i is derived from ``--seed`` and i, so the run is reproducible): the
attacks' success depends on the secret (it decides which q-grams collide in which bits),
so one secret says little. It prints a row per run, then per configuration the mean and
maximum re-identification of each attack, the minimum recall and the maximum false
alarms. The label "none" means no hardening at all (the built-in schemas ship BLIP).

With ``--graph-overlap F`` the graph-matching attack runs too: the attacker holds the
plaintext of a random share F of the register's people (their register rows, without
numbers), once knowing no encoded row and once knowing the encoded row of a share
``--graph-known`` of its records (seeds); both are scored like the other attacks.
"""

from __future__ import annotations

import argparse
import collections
import copy
import csv
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from blake3 import blake3

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
    "salt + BLIP ε=4 + balance": {
        "salt": {"field": "date_of_birth", "stop": 4},
        "blip": {"epsilon": 4},
        "balance": True,
    },
    "salt + BLIP ε=3 + balance": {
        "salt": {"field": "date_of_birth", "stop": 4},
        "blip": {"epsilon": 3},
        "balance": True,
    },
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


ATTACKER_COLUMNS = (
    "family_name_kanji",
    "given_name_kanji",
    "family_name_kana",
    "given_name_kana",
    "date_of_birth",
    "sex",
    "postcode",
    "address",
)


def write_attacker_records(
    register: Path, out: Path, share: float, known: float, seed: int
) -> tuple[Path, Path]:
    """The graph attacker's plaintext: a random ``share`` of the register's people (their
    register values, no numbers), as two files: without and with ``known_row`` for a
    random ``known`` share of them."""
    with register.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    rng = random.Random(seed)
    held = sorted(rng.sample(range(len(rows)), round(share * len(rows))))
    seeds = set(rng.sample(held, round(known * len(held))))
    plain, seeded = out / "attacker-records.csv", out / "attacker-records-known.csv"
    with (
        plain.open("w", encoding="utf-8", newline="") as f1,
        seeded.open("w", encoding="utf-8", newline="") as f2,
    ):
        w1, w2 = csv.writer(f1), csv.writer(f2)
        w1.writerow(ATTACKER_COLUMNS)
        w2.writerow((*ATTACKER_COLUMNS, "known_row"))
        for i in held:
            values = [rows[i][c] for c in ATTACKER_COLUMNS]
            w1.writerow(values)
            w2.writerow([*values, i if i in seeds else ""])
    return plain, seeded


def balanced_thresholds(document: dict[str, Any], fill: float) -> None:
    """Balanced Dice is 1 - (popcount_a + popcount_b)(1 - Dice)/l: map the tuned thresholds
    with the schema's measured fill so they mean the same separation."""
    v = document["pprl"]["verify"]
    k = 2 * fill
    v["confirm_score"] = round(1 - k * (1 - v["confirm_score"]), 3)
    v["suspect_score"] = round(1 - k * (1 - v["suspect_score"]), 3)
    v["margin_suspect"] = round(k * v["margin_suspect"], 3)
    v["margin_review"] = round(k * v["margin_review"], 3)


def hardened_document(schema_name: str, hardening: dict[str, Any]) -> dict[str, Any]:
    """The built-in schema with exactly this hardening: ``{}`` removes the shipped default
    (BLIP ε=3), so the "none" row really is unhardened."""
    document = copy.deepcopy(builtin_document(schema_name))
    document["pprl"].pop("hardening", None)
    if hardening:
        document["pprl"]["hardening"] = hardening
    return document


def derived_secret(path: Path, seed: int, index: int) -> Path:
    """Write secret number ``index`` of a reproducible series (blake3 of seed and index):
    benchmark secrets only, never for real data."""
    path.write_text(
        blake3(f"bench_privacy secret {seed} {index}".encode()).hexdigest() + "\n", encoding="ascii"
    )
    path.chmod(0o600)
    return path


FILL = {"jp-resident": 0.35, "jp-bank-holder": 0.27}
JOBS = {"jp-resident": ("insurer.csv", "insurer"), "jp-bank-holder": ("bank.csv", "bank")}


def run_one(
    data: Path,
    work: Path,
    secret_path: Path,
    schema_name: str,
    hardening: dict,
    names: Path,
    attacker: tuple[Path, Path] | None = None,
) -> dict[str, Any]:
    """Encode register and claims with one hardening, verify, evaluate, audit (and with
    ``attacker`` files, run the graph-matching attack without and with known rows)."""
    secret = load_secret(secret_path)
    document = hardened_document(schema_name, hardening)
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
    m = evaluate_findings(
        work / "out" / "findings.parquet", data / "truth.csv", register=data / "register.csv"
    )
    report = audit(work / "register.parquet", names, data / "register.csv")
    rates = {a["attack"]: a["reidentified_rate"] for a in report["attacks"]}
    accuracy = next(a for a in report["attacks"] if a["attack"] == "pattern_mining")[
        "field_accuracy"
    ]
    family = next(
        (
            f
            for f in ("family_name_kana", "account_holder_kana")
            if f in report["baseline_most_frequent_name_accuracy"]
        ),
        "",
    )
    out = {
        "recall": m.overall.suspect_or_review.recall,
        "false_alarms": m.false_alarms_per_1000_correct.suspect
        + m.false_alarms_per_1000_correct.review,
        "frequency": rates["frequency"],
        "pattern": rates["pattern_mining"],
        "family": accuracy.get(family, 0.0),
        "baseline": report["baseline_most_frequent_name_accuracy"].get(family, 0.0),
        "entropy": report["leakage"]["bit_entropy_mean"],
        "popcount_std": report["leakage"]["popcount_std"],
    }
    pairs = zip(("graph", "graph_known"), attacker, strict=True) if attacker else ()
    for key, records in pairs:
        graph = audit(
            work / "register.parquet", None, data / "register.csv", attacker_records=records
        )
        result_g = graph["attacks"][0]
        out[key] = result_g["reidentified_rate"]
        out[f"{key}_claims"] = (result_g["records_claimed"], result_g["claims_correct"])
        out["graph_cover"] = graph["attacker_records_cover_rate"]
    return out


HEADER = (
    "| schema | hardening | re-id frequency | re-id pattern mining | pattern mining: "
    "surname (kana) right | recall (flagged) | false alarms /1,000 (suspect+review) "
    "| bit entropy | popcount sd |\n|---|---|---:|---:|---:|---:|---:|---:|---:|"
)


GRAPH_HEADER = (
    " re-id graph matching, no known rows (claims: right/made) | re-id graph "
    "matching, known rows (claims: right/made) |",
    "---:|---:|",
)


def row_text(schema_name: str, label: str, r: dict[str, Any]) -> str:
    """One markdown row of the per-run table."""
    text = (
        f"| {schema_name} | {label} | {100 * r['frequency']:.3f}% | "
        f"{100 * r['pattern']:.3f}% | {100 * r['family']:.1f}% "
        f"(baseline {100 * r['baseline']:.1f}%) | "
        f"{r['recall']:.4f} | {r['false_alarms']:.2f} | "
        f"{r['entropy']:.3f} | {r['popcount_std']:.1f} |"
    )
    for key in ("graph", "graph_known"):
        if key in r:
            made, right = r[f"{key}_claims"]
            text += f" {100 * r[key]:.3f}% ({right}/{made}) |"
    return text


def mean_max(runs: list[dict[str, Any]], key: str, digits: int = 3) -> str:
    """ "mean% / max%" of one measure over runs."""
    values = [r[key] for r in runs]
    return f"{100 * sum(values) / len(values):.{digits}f}% / {100 * max(values):.{digits}f}%"


def summary_table(results: dict[tuple[str, str], list[dict[str, Any]]]) -> str:
    """Per configuration over all secrets: mean and max re-identification of each attack,
    mean and max name-field accuracy, min recall, max false alarms."""
    graph = all("graph" in r for runs in results.values() for r in runs)
    lines = [
        "| schema | hardening | secrets | re-id frequency: mean / max | re-id pattern "
        "mining: mean / max | surname (kana) right: mean / max | recall: min | "
        "false alarms /1,000: max |"
        + (
            " re-id graph matching, no known rows: mean / max "
            "| re-id graph matching, known rows: mean / max |"
            if graph
            else ""
        ),
        "|---|---|---:|---:|---:|---:|---:|---:|" + ("---:|---:|" if graph else ""),
    ]
    for (schema_name, label), runs in results.items():
        lines.append(
            f"| {schema_name} | {label} | {len(runs)} | {mean_max(runs, 'frequency')} | "
            f"{mean_max(runs, 'pattern')} | {mean_max(runs, 'family', 1)} | "
            f"{min(r['recall'] for r in runs):.4f} | "
            f"{max(r['false_alarms'] for r in runs):.2f} |"
            + (f" {mean_max(runs, 'graph')} | {mean_max(runs, 'graph_known')} |" if graph else "")
        )
    return "\n".join(lines)


def main() -> None:
    """Print the table of docs/privacy.md (with --secrets: per-run rows, then a summary)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--schemas", default="jp-resident,jp-bank-holder")
    parser.add_argument("--only", default=None, help="comma-separated hardening labels")
    parser.add_argument(
        "--secrets",
        type=int,
        default=0,
        help="repeat each configuration with N reproducible secrets and "
        "summarize (default: one random secret)",
    )
    parser.add_argument(
        "--graph-overlap",
        type=float,
        default=0.0,
        help="run the graph-matching attack with an attacker holding this "
        "share of the register's people in plaintext (0: not run)",
    )
    parser.add_argument(
        "--graph-known",
        type=float,
        default=0.01,
        help="share of the attacker's records whose encoded row it knows, "
        "for the second graph-matching run",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate(
            SynthConfig(people=args.people, seed=args.seed, bank_claims=args.people // 10),
            root / "data",
        )
        names = write_names(root / "data" / "register.csv", root / "names.csv")
        attacker = (
            write_attacker_records(
                root / "data" / "register.csv",
                root,
                args.graph_overlap,
                args.graph_known,
                args.seed,
            )
            if args.graph_overlap
            else None
        )
        if args.secrets:
            secrets = [
                derived_secret(root / f"secret-{k}.key", args.seed, k) for k in range(args.secrets)
            ]
        else:
            secrets = [write_secret(root / "secret.key")]
        header = HEADER.replace(
            "| schema |", "| schema | secret |" if args.secrets else "| schema |"
        )
        header = header.replace("|---|---|", "|---|---|---|" if args.secrets else "|---|---|")
        if attacker:
            top, rule = header.split("\n")
            header = f"{top}{GRAPH_HEADER[0]}\n{rule}{GRAPH_HEADER[1]}"
        print(header)
        results: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for schema_name in args.schemas.split(","):
            for i, (label, hardening) in enumerate(HARDENINGS.items()):
                if args.only and label not in args.only.split(","):
                    continue
                for k, secret in enumerate(secrets):
                    t = time.perf_counter()
                    r = run_one(
                        root / "data",
                        root / f"{schema_name}-{i}-{k}",
                        secret,
                        schema_name,
                        hardening,
                        names,
                        attacker,
                    )
                    results.setdefault((schema_name, label), []).append(r)
                    text = row_text(schema_name, label, r)
                    if args.secrets:
                        text = text.replace(f"| {schema_name} |", f"| {schema_name} | {k} |", 1)
                    print(f"{text} <!-- {time.perf_counter() - t:.0f} s -->", flush=True)
        if args.secrets:
            print()
            print(summary_table(results))


if __name__ == "__main__":
    main()
