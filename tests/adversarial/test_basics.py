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
