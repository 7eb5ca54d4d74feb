"""Inputs that once ended in "internal error" (exit 1) instead of one ``error:`` line:
file names that are not UTF-8, a codec that is not a text encoding, unbounded --top-k,
synth's --seed and --people, a clkhash JSON file nested 100,000 levels deep, and a
register whose embedded schema carries crafted ``pprl.verify`` thresholds."""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from adversarial.harness import Case, check_refused

MATCH = ["match", "register.parquet", "insurer.parquet"]
VERIFY_CLAIMS = ["--claims", "insurer.parquet", "--out", "new-results"]
#: One byte that is not UTF-8, as Python shows it in a file name (surrogate escape);
#: subprocess turns it back into the byte 0xff on the command line.
FF = "\udcff"
#: How the error line shows it: a visible escape, never the raw surrogate.
SHOWN = "\\udcff"


def encode(out: str = "new.parquet", *extra: str) -> list[str]:
    return [
        "encode",
        "data/insurer.csv",
        "--schema",
        "jp-resident",
        "--secret",
        "secret.key",
        "--out",
        out,
        "--processes",
        "1",
        *extra,
    ]


def _bad_input_name(t: Path) -> list[str]:
    shutil.copy(t / "register.parquet", t / f"{FF}.parquet")
    return ["inspect", f"{FF}.parquet"]


def _bad_encode_out(t: Path) -> list[str]:
    (t / "enc").mkdir()
    return encode(f"enc/{FF}\udcfe.parquet")


def _deep_json(t: Path) -> list[str]:
    (t / "deep.json").write_text("[" * 100_000, encoding="utf-8")
    return ["inspect", "deep.json"]


def _crafted_register(edit: Callable[[dict[str, Any]], None]) -> Callable[[Path], list[str]]:
    """A register file whose embedded schema ``edit`` changed, digests recomputed (so
    only the threshold checks can catch it)."""

    def setup(t: Path) -> list[str]:
        from pprl.store import read_encodings, write_encodings

        enc = read_encodings(t / "register.parquet")
        edit(enc.meta["schema"])
        write_encodings(enc, t / "crafted.parquet")
        return ["verify", "--reference", "crafted.parquet", *VERIFY_CLAIMS]

    return setup


def _set_verify(name: str, value: object) -> Callable[[dict[str, Any]], None]:
    return lambda schema: schema["pprl"]["verify"].__setitem__(name, value)


CASES = [
    # 1. file names that are not UTF-8: refused before pyarrow sees them
    Case("inspect-non-utf8-name", _bad_input_name, [f"{SHOWN}.parquet", "valid UTF-8"]),
    Case(
        "verify-non-utf8-out",
        lambda t: [
            "verify",
            "--reference",
            "register.parquet",
            "--claims",
            "insurer.parquet",
            "--out",
            f"n09{FF}",
        ],
        ["--out", f"n09{SHOWN}", "valid UTF-8"],
    ),
    Case("encode-non-utf8-out", _bad_encode_out, ["--out", f"enc/{SHOWN}", "valid UTF-8"]),
    Case(
        "match-non-utf8-out",
        lambda t: [*MATCH, "--out", f"n11{FF}.csv"],
        ["--out", f"n11{SHOWN}.csv", "valid UTF-8"],
    ),
    # 2. codecs that are not text encodings, or none at all
    Case(
        "encode-rot13",
        lambda t: encode("x.parquet", "--encoding", "rot13"),
        ["--encoding", "rot13", "not a text encoding", "insurer.csv"],
    ),
    Case(
        "encode-unknown-codec",
        lambda t: encode("x.parquet", "--encoding", "nope"),
        ["--encoding", "nope", "insurer.csv"],
    ),
    Case(
        "encode-undefined-codec",
        lambda t: encode("x.parquet", "--encoding", "undefined"),
        ["--encoding", "undefined", "insurer.csv"],
    ),
    # 3. --top-k beyond any buffer
    Case(
        "match-top-k-20-digits",
        lambda t: [*MATCH, "--out", "l.csv", "--top-k", "99999999999999999999"],
        ["--top-k"],
    ),
    Case(
        "match-top-k-2-32",
        lambda t: [*MATCH, "--out", "l.csv", "--top-k", "4294967296"],
        ["--top-k"],
    ),
    Case(
        "match-top-k-1001",
        lambda t: [*MATCH, "--out", "l.csv", "--top-k", "1001"],
        ["--top-k", "1000"],
    ),
    # 4. synth seeds numpy cannot take, populations no memory holds; no --out left behind
    Case(
        "synth-seed-negative",
        lambda t: ["synth", "--people", "300", "--seed", "-1", "--out", "s"],
        ["--seed"],
    ),
    Case(
        "synth-seed-2-32",
        lambda t: ["synth", "--people", "300", "--seed", "4294967296", "--out", "s"],
        ["--seed"],
    ),
    Case(
        "synth-people-10-12",
        lambda t: ["synth", "--people", "1000000000000", "--seed", "1", "--out", "s"],
        ["--people"],
    ),
    # 5. clkhash JSON nested 100,000 levels
    Case("inspect-deep-json", _deep_json, ["deep.json", "deeper"]),
    # 6. crafted pprl.verify in the register's embedded schema
    Case(
        "verify-schema-pprl-text",
        _crafted_register(lambda s: s.__setitem__("pprl", "x")),
        ["crafted.parquet", "schema field pprl"],
    ),
    Case(
        "verify-schema-verify-list",
        _crafted_register(lambda s: s["pprl"].__setitem__("verify", [1, 2])),
        ["crafted.parquet", "schema field pprl.verify"],
    ),
    Case(
        "verify-schema-threshold-text",
        _crafted_register(_set_verify("confirm_score", "0.9")),
        ["crafted.parquet", "pprl.verify.confirm_score", "number"],
    ),
    Case(
        "verify-schema-threshold-nan",
        _crafted_register(_set_verify("confirm_score", math.nan)),
        ["crafted.parquet", "pprl.verify.confirm_score", "finite"],
    ),
    Case(
        "verify-schema-threshold-range",
        _crafted_register(_set_verify("margin_review", -2)),
        ["crafted.parquet", "pprl.verify.margin_review", "between"],
    ),
    Case(
        "verify-schema-threshold-unknown",
        _crafted_register(_set_verify("bogus", 0.5)),
        ["crafted.parquet", "pprl.verify.bogus"],
    ),
    Case(
        "verify-schema-thresholds-inverted",
        _crafted_register(_set_verify("suspect_score", 0.9)),
        ["crafted.parquet", "pprl.verify", "suspect_score"],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_refused(case: Case, world: Path, tmp_path: Path) -> None:
    check_refused(case, world, tmp_path)


def test_cli_top_k_bound_is_the_library_bound() -> None:
    from pprl_cli.matching import MAX_TOP_K as CLI_MAX

    from pprl.compare.search import MAX_TOP_K

    assert CLI_MAX == MAX_TOP_K


def test_library_refuses_out_of_range_top_k_and_synth_sizes(tmp_path: Path) -> None:
    import numpy as np

    from pprl.compare import find_candidates
    from pprl.errors import InputError
    from pprl.synth import SynthConfig, generate

    a = np.zeros((2, 16), np.uint64)
    with pytest.raises(ValueError, match="top_k"):
        find_candidates(a, a, 0.5, top_k=4294967296)
    for people, seed, what in [
        (300, -1, "--seed"),
        (300, 2**32, "--seed"),
        (10**12, 1, "--people"),
    ]:
        with pytest.raises(InputError, match=what):
            generate(SynthConfig(people=people, seed=seed), tmp_path / "s", None)
    assert not (tmp_path / "s").exists()
