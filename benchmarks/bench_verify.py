"""Verification quality and speed on synthetic populations.

Quality (default): synthesize a population with insurer and bank claims, encode every
party locally, verify, and score the findings against the truth with ``pprl evaluate``.
It also writes the separation plot (claimed score vs margin, by truth) used to choose
the default thresholds, and a grid of threshold choices with their recall and false
alarms, so the defaults in the built-in schemas can be checked and re-tuned.

Speed (``--speed``): N claims against an N-person register, end to end from the
encoding files (reading, join, scoring, search, cross-checks, writing), excluding
synthesis and encoding, with peak RSS.

    .venv/bin/python benchmarks/bench_verify.py --people 200000
    .venv/bin/python benchmarks/bench_verify.py --speed --people 1000000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow.csv as pacsv

from pprl.evaluate import evaluate_findings
from pprl.keys import load_secret, write_secret
from pprl.party import encode_csv
from pprl.schema import load_schema
from pprl.store import read_encodings, write_encodings
from pprl.synth import SynthConfig, generate
from pprl.verify import schema_thresholds, verify, write_outputs


def encode_all(data: Path, out: Path, bank: bool) -> None:
    """Each party encodes locally with the shared secret."""
    secret = load_secret(write_secret(out / "secret.key"))
    resident = load_schema("jp-resident")
    jobs = [
        ("register.csv", resident, "register.parquet"),
        ("insurer.csv", resident, "insurer.parquet"),
    ]
    if bank:
        bank_schema = load_schema("jp-bank-holder")
        jobs += [
            ("register.csv", bank_schema, "register-bank.parquet"),
            ("bank.csv", bank_schema, "bank.parquet"),
        ]
    for csv, schema, name in jobs:
        enc, _ = encode_csv(data / csv, schema, secret, party=name.split(".")[0])
        write_encodings(enc, out / name)


def truth_for(data: Path, file: str) -> dict[str, np.ndarray]:
    """Truth columns of one claims file, in row order."""
    t = pacsv.read_csv(
        data / "truth.csv",
        convert_options=pacsv.ConvertOptions(
            column_types={"linked_number": "string", "true_number": "string"}
        ),
    )
    t = t.filter(t.column("file").to_numpy(zero_copy_only=False) == file)
    order = np.argsort(t.column("row").to_numpy())
    return {
        c: t.column(c).to_numpy(zero_copy_only=False)[order] for c in ("link_status", "error_kind")
    }


def plot_separation(findings, truth, thresholds, path: Path, title: str) -> None:
    """Claimed score vs margin, correct links grey, wrong links coloured by kind."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    score = findings.column("score").to_numpy(zero_copy_only=False)
    margin = findings.column("margin").to_numpy(zero_copy_only=False)
    margin = np.where(np.isnan(margin), -0.6, margin)  # no alternative found: plot at the bottom
    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=110)
    correct = truth["link_status"] == "correct"
    ax.scatter(score[correct], margin[correct], s=3, c="0.6", alpha=0.4, label="correct link")
    kinds = sorted(set(truth["error_kind"][truth["link_status"] == "wrong"]))
    for kind in kinds:
        sel = (truth["link_status"] == "wrong") & (truth["error_kind"] == kind)
        ax.scatter(score[sel], margin[sel], s=9, alpha=0.8, label=f"wrong: {kind}")
    ax.axhline(
        thresholds.margin_suspect,
        color="red",
        ls="--",
        lw=1,
        label=f"margin_suspect {thresholds.margin_suspect}",
    )
    ax.axhline(
        thresholds.margin_review,
        color="orange",
        ls="--",
        lw=1,
        label=f"margin_review {thresholds.margin_review}",
    )
    ax.axvline(
        thresholds.suspect_score,
        color="red",
        ls=":",
        lw=1,
        label=f"suspect_score {thresholds.suspect_score}",
    )
    ax.axvline(
        thresholds.confirm_score,
        color="orange",
        ls=":",
        lw=1,
        label=f"confirm_score {thresholds.confirm_score}",
    )
    ax.set_xlabel("claimed score (Dice of claim and claimed register record)")
    ax.set_ylabel("margin (best other register record - claimed score)\n-0.6 = none found ≥ 0.5")
    ax.set_title(title)
    ax.legend(fontsize=7, loc="upper left", markerscale=2)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def threshold_grid(findings, truth, th) -> list[str]:
    """Recall and false alarms for a grid of (margin_suspect, margin_review) choices."""
    score = np.nan_to_num(findings.column("score").to_numpy(zero_copy_only=False), nan=-1)
    margin = np.nan_to_num(findings.column("margin").to_numpy(zero_copy_only=False), nan=-9)
    status = findings.column("status").to_numpy(zero_copy_only=False)
    no_pair = np.isin(status, ["unknown_number", "invalid_number"])
    wrong = truth["link_status"] == "wrong"
    correct = truth["link_status"] == "correct"
    rows = [
        "| margin_suspect | margin_review | recall (suspect) | recall (flagged) | "
        "suspect /1,000 correct | review /1,000 correct |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for ms in (0.02, 0.04, 0.06):
        for mr in (-0.01, -0.02, -0.03, -0.05):
            susp = (margin >= ms) | (score < th.suspect_score)
            flag = susp | (margin > mr) | (score < th.confirm_score)
            susp, flag = susp & ~no_pair, flag & ~no_pair
            rows.append(
                f"| {ms} | {mr} | {susp[wrong].mean():.4f} | {flag[wrong].mean():.4f} | "
                f"{1000 * susp[correct].mean():.2f} | "
                f"{1000 * (flag & ~susp)[correct].mean():.2f} |"
            )
    return rows


def quality(args: argparse.Namespace, root: Path) -> None:
    data, enc = root / "data", root / "enc"
    enc.mkdir()
    generate(SynthConfig(people=args.people, seed=args.seed, bank_claims=args.people // 10), data)
    encode_all(data, enc, bank=True)
    for label, ref, claims, csv in (
        ("insurer", "register", "insurer", "insurer.csv"),
        ("bank", "register-bank", "bank", "bank.csv"),
    ):
        result = verify(enc / f"{ref}.parquet", [enc / f"{claims}.parquet"])
        out = root / f"verify-{label}"
        write_outputs(result, out)
        m = evaluate_findings(
            out / "findings.parquet", data / "truth.csv", register=data / "register.csv"
        )
        flagged, susp = m.overall.suspect_or_review, m.overall.suspect_only
        fa = m.false_alarms_per_1000_correct
        print(f"\n### {label} claims ({m.claims:,} claims, {m.positives:,} wrong or invalid)\n")
        print("| error kind | n | recall (flagged) | recall (suspect) |\n|---|---:|---:|---:|")
        for kind, v in m.per_error_kind.items():
            print(
                f"| {kind} | {v.count} | {v.suspect_or_review.recall:.4f} | "
                f"{v.suspect_only.recall:.4f} |"
            )
        print(f"| **all** | {m.positives} | {flagged.recall:.4f} | {susp.recall:.4f} |")
        owner = "n/a" if m.true_owner_top1 is None else f"{m.true_owner_top1.wrong.accuracy:.4f}"
        print(
            f"\nfalse alarms per 1,000 correct links: suspect {fa.suspect:.2f}, review "
            f"{fa.review:.2f}; true owner top-1: {owner}"
        )
        truth = truth_for(data, csv)
        th = schema_thresholds(read_encodings(enc / f"{ref}.parquet"))
        if args.plots:
            path = Path(args.plots) / f"separation-{label}.png"
            plot_separation(
                result.findings,
                truth,
                th,
                path,
                f"{label} claims vs register, {args.people:,} people (seed {args.seed})",
            )
            print(f"\nplot: {path}")
        print("\n" + "\n".join(threshold_grid(result.findings, truth, th)))


# runs the pprl CLI and reports its own peak RSS (KiB) as the last line of stderr
MEASURED_CLI = """
import resource, sys
from pprl_cli.main import app
try:
    app(sys.argv[1:])
finally:
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""


def speed(args: argparse.Namespace, root: Path) -> None:
    data, enc = root / "data", root / "enc"
    if not (enc / "insurer.parquet").exists():  # reuse encodings kept with --workdir
        enc.mkdir(exist_ok=True)
        t = time.perf_counter()
        generate(SynthConfig(people=args.people, seed=args.seed, claims=args.people), data)
        print(f"synth: {time.perf_counter() - t:.1f} s", flush=True)
        t = time.perf_counter()
        encode_all(data, enc, bank=False)
        print(f"encode (both files): {time.perf_counter() - t:.1f} s", flush=True)
    # verify in a fresh process, as the matcher runs it, so peak RSS is verify's own
    cmd = [
        sys.executable,
        "-c",
        MEASURED_CLI,
        "verify",
        "--reference",
        str(enc / "register.parquet"),
        "--claims",
        str(enc / "insurer.parquet"),
        "--out",
        str(root / "out"),
        "--json",
    ]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t
    rss = int(proc.stderr.strip().splitlines()[-1]) / 1024
    summary = json.loads(proc.stdout)
    print("\n| register | claims | verify wall s (CLI, end to end) | claims/s | peak RSS MiB |")
    print("|---:|---:|---:|---:|---:|")
    print(
        f"| {args.people:,} | {summary['claims']:,} | {wall:.1f} | "
        f"{summary['claims'] / wall:,.0f} | {rss:,.0f} |"
    )
    print("stages:", summary["timings"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=2023)
    parser.add_argument("--speed", action="store_true")
    parser.add_argument("--plots", default="docs/img", help="folder for separation plots ('' none)")
    parser.add_argument("--tmp", default=None, help="where to make the temporary work folder")
    parser.add_argument(
        "--workdir", default=None, help="keep data and encodings here and reuse them (speed mode)"
    )
    args = parser.parse_args()
    if args.workdir:
        Path(args.workdir).mkdir(parents=True, exist_ok=True)
        (speed if args.speed else quality)(args, Path(args.workdir))
        return
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        (speed if args.speed else quality)(args, Path(tmp))


if __name__ == "__main__":
    main()
