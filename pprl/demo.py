"""The whole story on a small synthetic population, as ``make demo`` runs it.

synth -> keygen -> each party encodes locally -> the matcher verifies -> evaluate
against the synthetic truth. Every step calls the same library functions as the CLI.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pprl.keys import load_secret, write_secret
from pprl.party import encode_csv
from pprl.resultset import result_set
from pprl.schema import load_schema
from pprl.store import write_encodings

if TYPE_CHECKING:
    from pprl.evaluate import FindingsMetrics
    from pprl.verify.model import VerifySummary


@dataclass
class DemoResult:
    """Paths and metrics of a demo run."""

    out: Path
    summary: VerifySummary
    metrics: FindingsMetrics
    bank_summary: VerifySummary | None
    bank_metrics: FindingsMetrics | None


def prepare(
    work: Path,
    people: int,
    seed: int,
    say: Callable[[str], None],
    processes: int | None = None,
    out: Path | None = None,
) -> tuple[Path, Path]:
    """Steps 1-3 of the story in ``work``: synthesize the population under ``data/``,
    make the holders' secret under ``holders/``, and encode each party's file into
    ``matcher/`` (register.parquet, insurer.parquet, register-bank.parquet,
    bank.parquet). ``out`` is where ``work`` will be switched in (named in messages).
    Returns the data and matcher folders."""
    from pprl.synth import SynthConfig, generate

    data, holders, matcher = work / "data", work / "holders", work / "matcher"
    for d in (holders, matcher):
        d.mkdir(parents=True)
    say(f"1. synthesizing {people:,} residents with planted mislinks -> {(out or work) / 'data'}")
    generate(SynthConfig(people=people, seed=seed, bank_claims=people // 10), data)
    say("2. data holders share a secret (pprl keygen); the matcher never sees it")
    secret = load_secret(write_secret(holders / "secret.key"))
    say("3. each data holder encodes its records locally (pprl encode)")
    resident, bank = load_schema("jp-resident"), load_schema("jp-bank-holder")
    jobs = [
        ("register.csv", resident, "municipality", "register", "register.parquet"),
        ("insurer.csv", resident, "insurer", "claims", "insurer.parquet"),
        ("register.csv", bank, "municipality", "register", "register-bank.parquet"),
        ("bank.csv", bank, "bank", "claims", "bank.parquet"),
    ]
    for csv_name, schema, party, role, enc_name in jobs:
        enc, _ = encode_csv(
            data / csv_name, schema, secret, party=party, role=role, processes=processes
        )
        write_encodings(enc, matcher / enc_name)
    return data, matcher


def run_demo(
    out: Path,
    people: int = 20_000,
    seed: int = 2023,
    say: Callable[[str], None] = print,
    *,
    processes: int | None = None,
    threads: int | None = None,
    force: bool = False,
) -> DemoResult:
    """Run synth, keygen, encode (register, insurer, bank), verify and evaluate in ``out``.

    ``processes`` sizes the encoding, ``threads`` the verification (None: all cores).
    ``out`` is one result set (:mod:`pprl.resultset`): it must be new, empty or a previous
    demo's output (replaced); ``force`` also replaces another pprl result set. A folder
    pprl did not write is refused, never deleted."""
    from pprl.evaluate import evaluate_findings
    from pprl.verify import verify, write_outputs

    with result_set(out, "demo", force=force, replaces=("demo",)) as rs:
        work = rs.path
        data, matcher = prepare(work, people, seed, say, processes, out)
        say("4. the matcher verifies every claimed link with encodings only (pprl verify)")
        result = verify(
            matcher / "register.parquet", [matcher / "insurer.parquet"], threads=threads
        )
        write_outputs(
            result,
            work / "verify-insurer",
            inputs=[matcher / "register.parquet", matcher / "insurer.parquet"],
        )
        bank_result = verify(
            matcher / "register-bank.parquet", [matcher / "bank.parquet"], threads=threads
        )
        write_outputs(
            bank_result,
            work / "verify-bank",
            inputs=[matcher / "register-bank.parquet", matcher / "bank.parquet"],
        )
        say("5. scoring the findings against the synthetic truth (pprl evaluate)")
        metrics = evaluate_findings(
            work / "verify-insurer" / "findings.parquet",
            data / "truth.csv",
            register=data / "register.csv",
        )
        bank_metrics = evaluate_findings(
            work / "verify-bank" / "findings.parquet",
            data / "truth.csv",
            register=data / "register.csv",
        )
    return DemoResult(out, result.summary, metrics, bank_result.summary, bank_metrics)
