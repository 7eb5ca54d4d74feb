"""Hostile party labels: refused when encoding (``--party``, or a CSV file name used as
the label) and when verifying (crafted encoding files, labels whose result files would
collide), each with exit 2, one line naming the label, and nothing written.

Also: a claims file named like a spreadsheet formula reaches the CSVs as text.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.csv as pacsv
import pytest

from adversarial.harness import Case, check_refused, run_pprl

LONG = "y" * 5000
ESC = "ins\x1b[2Jred"
MARKUP = "ins[/x]"


def encode(label: str | None, csv: str = "data/insurer.csv", out: str = "x.parquet") -> list[str]:
    party = ["--party", label] if label is not None else []
    return [
        "encode",
        csv,
        "--schema",
        "jp-resident",
        "--secret",
        "secret.key",
        *party,
        "--out",
        out,
        "--processes",
        "1",
    ]


def relabel(tmp: Path, source: str, label: str, name: str) -> str:
    """A copy of encoding file ``source`` whose metadata names party ``label`` (as a
    crafted or pre-validation file would), written with a fresh digest: the writer's
    own label check is bypassed, so only the readers stand between it and the outputs."""
    from unittest import mock

    from pprl.store import read_encodings, write_encodings

    enc = read_encodings(tmp / source)
    enc.meta = {k: v for k, v in enc.meta.items() if k != "digest"}
    enc.meta["party"] = label
    with mock.patch("pprl.store.validate_label", lambda label, **kw: label):
        write_encodings(enc, tmp / name)
    return name


def verify(reference: str, *claims: str) -> list[str]:
    args = ["verify", "--reference", reference]
    for c in claims:
        args += ["--claims", c]
    return [*args, "--out", "new-results"]


def verify_crafted(name: str, label: str) -> Case:
    """Verify with a claims file whose metadata holds ``label``; the error names the
    file, the label (escaped, cut) and how to fix it."""
    return Case(
        f"verify-label-{name}",
        lambda t: verify("register.parquet", relabel(t, "insurer.parquet", label, "bad.parquet")),
        [repr(label)[1:25], "bad.parquet", "re-encode"],
    )


def encode_default_label(t: Path) -> list[str]:
    shutil.copy(t / "data" / "insurer.csv", t / "data" / "my insurer.csv")
    return encode(None, "data/my insurer.csv")


def reference_suffix(t: Path) -> list[str]:
    """A claims party that calls itself the register's view: a valid label on its own."""
    done = run_pprl(*encode("municipality.reference", out="claims.parquet"), cwd=t)
    assert done.returncode == 0, done.stderr
    return verify("register.parquet", "claims.parquet")


def case_collision(t: Path) -> list[str]:
    upper = relabel(t, "insurer.parquet", "Insurer", "upper.parquet")
    return verify("register.parquet", "insurer.parquet", upper)


def bad_register(t: Path) -> list[str]:
    return verify(relabel(t, "register.parquet", "city/hall", "reg.parquet"), "insurer.parquet")


CASES = [
    Case("encode-label-slash", lambda t: encode("a/b"), ["'a/b'", "--party", "'/'"]),
    Case(
        "encode-label-formula",
        lambda t: encode('=HYPERLINK("http://x")'),
        ["=HYPERLINK", "--party", "'='"],
    ),
    Case("encode-label-5000-chars", lambda t: encode(LONG), ["--party", "64 characters"]),
    Case("encode-label-ansi-escape", lambda t: encode(ESC), ["--party", "\\x1b"]),
    Case("encode-label-dot-dot", lambda t: encode(".."), ["--party", "'..'"]),
    Case("encode-label-from-file-name", encode_default_label, ["'my insurer'", "--party"]),
    verify_crafted("slash", "a/b"),
    verify_crafted("formula", '=HYPERLINK("http://x")'),
    verify_crafted("5000-chars", LONG),
    verify_crafted("ansi-escape", ESC),
    verify_crafted("space", "my insurer"),
    Case("verify-label-case-collision", case_collision, ["'Insurer'", "'insurer'", "distinct"]),
    Case("verify-label-reference-suffix", reference_suffix, ["municipality.reference"]),
    Case("verify-register-label-bad", bad_register, ["reg.parquet", "'city/hall'", "re-encode"]),
]
MARKUP_CASES = [
    Case("encode-label-markup", lambda t: encode(MARKUP), ["--party", MARKUP]),
    verify_crafted("markup", MARKUP),
]


def assert_no_escape(stderr: str) -> None:
    assert "\x1b" not in stderr, "a raw escape character reached the terminal"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_refused(case: Case, world: Path, tmp_path: Path) -> None:
    assert_no_escape(check_refused(case, world, tmp_path).stderr)


@pytest.mark.parametrize("case", MARKUP_CASES, ids=[c.id for c in MARKUP_CASES])
def test_refused_markup_labels(case: Case, world: Path, tmp_path: Path) -> None:
    check_refused(case, world, tmp_path)


def test_formula_file_name_reaches_csv_as_text(world: Path, tmp_path: Path) -> None:
    """``=cmd.parquet`` as a claims file: findings.csv and the party's view hold the name
    with a leading apostrophe, so a spreadsheet shows it instead of running it."""
    work = tmp_path / "w"
    shutil.copytree(world, work, symlinks=True)
    shutil.copy(work / "insurer.parquet", work / "=cmd.parquet")
    done = run_pprl(*verify("register.parquet", "=cmd.parquet"), cwd=work)
    assert done.returncode == 0, done.stderr
    for csv in ("findings.csv", "parties/insurer.csv"):
        names = set(pacsv.read_csv(work / "new-results" / csv).column("claims_file").to_pylist())
        assert names == {"'=cmd.parquet"}, csv
