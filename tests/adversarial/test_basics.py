"""Hostile inputs that pprl already refused before this suite existed: missing files,
a file that is not an encoding file, out-of-range match thresholds."""

from __future__ import annotations

from pathlib import Path

import pytest

from adversarial.harness import Case, check_refused

CASES = [
    Case(
        "verify-missing-reference",
        lambda t: [
            "verify",
            "--reference",
            "nope.parquet",
            "--claims",
            "insurer.parquet",
            "--out",
            "new-results",
        ],
        ["nope.parquet"],
    ),
    Case(
        "verify-csv-as-reference",
        lambda t: [
            "verify",
            "--reference",
            "data/register.csv",
            "--claims",
            "insurer.parquet",
            "--out",
            "new-results",
        ],
        ["register.csv"],
    ),
    Case(
        "match-threshold-above-one",
        lambda t: [
            "match",
            "register.parquet",
            "insurer.parquet",
            "--threshold",
            "1.5",
            "--out",
            "links.csv",
            "--format",
            "csv",
        ],
        ["threshold"],
    ),
    Case(
        "encode-missing-csv",
        lambda t: [
            "encode",
            "data/nope.csv",
            "--schema",
            "jp-resident",
            "--secret",
            "secret.key",
            "--out",
            "x.parquet",
        ],
        ["nope.csv"],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_refused(case: Case, world: Path, tmp_path: Path) -> None:
    check_refused(case, world, tmp_path)


def clkhash_json_claims(t: Path) -> list[str]:
    from adversarial.harness import run_pprl

    made = run_pprl(
        "encode",
        "data/insurer.csv",
        "--schema",
        "jp-resident",
        "--secret",
        "secret.key",
        "--party",
        "insurer",
        "--format",
        "clkhash-json",
        "--out",
        "insurer.json",
        "--processes",
        "1",
        cwd=t,
    )
    assert made.returncode == 0, made.stderr
    return [
        "verify",
        "--reference",
        "register.parquet",
        "--claims",
        "insurer.json",
        "--out",
        "new-results",
    ]


def test_clkhash_json_claims_are_refused_saying_why(world: Path, tmp_path: Path) -> None:
    """A new user passed a clkhash JSON file to verify and was told to use a schema with
    block keys, which it had: the error now names the real cause."""
    check_refused(
        Case(
            "verify-clkhash-json-claims",
            clkhash_json_claims,
            ["insurer.json", "clkhash JSON"],
            watch=lambda t: [t / "new-results", t / "results"],
        ),
        world,
        tmp_path,
    )
