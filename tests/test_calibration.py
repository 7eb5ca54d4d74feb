"""Calibration of the mislink probability on labelled synthetic populations: the
expected calibration error (10 bins) is at most 0.05, and the estimated number of
mislinks is close to the planted one. A few thousand people per population here; the
larger runs are marked slow (docs/benchmarks.md, "Calibrated mislink probability",
records them)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pprl.evaluate import calibration, evaluate_findings
from pprl.keys import load_secret
from pprl.party import encode_csv
from pprl.report import render_report
from pprl.schema import load_schema
from pprl.store import write_encodings
from pprl.synth import SynthConfig, generate
from pprl.synth.config import PROFILES
from pprl.verify import VerifyResult, verify

SECRET = "ca1b" * 16
MAX_ECE = 0.05


def run(root: Path, people: int, seed: int, profile: str) -> tuple[VerifyResult, Path]:
    """Synthesize, encode and verify one population; the truth file's path."""
    generate(SynthConfig(people=people, seed=seed, profile=PROFILES[profile]), root / "data")
    (root / "secret.key").write_text(SECRET + "\n", encoding="ascii")
    (root / "secret.key").chmod(0o600)
    secret = load_secret(root / "secret.key")
    schema = load_schema("jp-resident")
    for csv_name, party in (("register.csv", "municipality"), ("insurer.csv", "insurer")):
        enc, _ = encode_csv(root / "data" / csv_name, schema, secret, party=party)
        write_encodings(enc, root / csv_name.replace(".csv", ".parquet"))
    result = verify(root / "register.parquet", [root / "insurer.parquet"], threads=2)
    return result, root / "data" / "truth.csv"


def check_calibrated(result: VerifyResult, truth: Path) -> None:
    metrics = evaluate_findings(result.findings, truth, "insurer.csv")
    cal = metrics.calibration
    assert cal is not None and cal.claims > 0.95 * metrics.claims
    assert cal.ece <= MAX_ECE, cal.to_json()
    # the sum of probabilities estimates the number of mislinks
    assert abs(cal.expected - cal.observed) <= max(5.0, 0.3 * cal.observed), cal.to_json()
    mislinks = result.summary.mislinks
    assert mislinks is not None and mislinks.fallback is None
    assert mislinks.expected == pytest.approx(cal.expected)
    assert mislinks.low <= mislinks.expected <= mislinks.high
    page = render_report(result.findings, result.summary)
    assert "<h2>Mislink probability</h2>" in page
    assert f"about {mislinks.expected:,.0f} ({mislinks.low:,.0f}–{mislinks.high:,.0f})" in page


@pytest.mark.parametrize("profile", ["default", "hard"])
def test_small_population_is_calibrated(tmp_path: Path, profile: str) -> None:
    """3,000 people (1,500 insurer claims, about 15 mislinks)."""
    result, truth = run(tmp_path, 3000, 11, profile)
    check_calibrated(result, truth)


@pytest.mark.slow
@pytest.mark.parametrize("profile", ["default", "hard"])
@pytest.mark.parametrize("seed", [1, 2])
def test_larger_populations_are_calibrated(tmp_path: Path, profile: str, seed: int) -> None:
    """20,000 people (10,000 insurer claims, 100 mislinks), two seeds per profile."""
    result, truth = run(tmp_path, 20000, seed, profile)
    check_calibrated(result, truth)


def test_ece_of_known_cases() -> None:
    """Hand-built: perfectly calibrated bins give 0; a constant 0.5 on a 10% rate gives
    0.4; NaN probabilities are left out."""
    p = np.array([0.05] * 20 + [0.95] * 20)
    y = np.array([True] * 1 + [False] * 19 + [True] * 19 + [False] * 1)
    assert calibration(p, y).ece == pytest.approx(0.0)
    q = np.full(10, 0.5)
    z = np.array([True] + [False] * 9)
    cal = calibration(np.r_[q, np.nan], np.r_[z, True])
    assert cal.ece == pytest.approx(0.4) and cal.claims == 10 and cal.observed == 1
    assert [b.count for b in cal.bins] == [10] and cal.bins[0].low == 0.5


def test_reliability_plot_is_written_and_bad_names_are_refused(tmp_path: Path) -> None:
    from pprl.errors import InputError
    from pprl.evaluate import check_plot, plot_reliability

    rng = np.random.default_rng(1)
    p = rng.random(500)
    cal = calibration(p, rng.random(500) < p)
    target = tmp_path / "rel.png"
    plot_reliability(cal, target)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(InputError, match="--reliability-plot"):
        check_plot(tmp_path / "rel.xyz", option="--reliability-plot")
    with pytest.raises(InputError, match="--reliability-plot"):
        check_plot(target, option="--reliability-plot")  # exists, no --force
