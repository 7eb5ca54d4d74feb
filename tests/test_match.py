"""pprl match: 1:1 links, all candidates, dedupe, blocking and refusals, via the CLI."""

from __future__ import annotations

import numpy as np
import pyarrow.csv as pacsv
import pytest
from pprl_cli.main import app
from typer.testing import CliRunner

from pprl.compare.synthetic import linked_pair
from pprl.store import Encodings, write_encodings


def write(path, clks, fingerprint="f" * 16, rows=None):
    n = len(clks)
    keys = (np.arange(n) % 7).astype(np.uint64)
    enc = Encodings(
        rows=np.arange(n, dtype=np.int64) if rows is None else rows,
        tokens=np.zeros((n, 32), np.uint8),
        has_token=np.zeros(n, bool),
        clks=np.ascontiguousarray(clks),
        block_keys={"k": (keys, np.ones(n, bool))},
        meta={"key_fingerprint": fingerprint, "schema_digest": "d" * 32},
    )
    write_encodings(enc, path)


@pytest.fixture()
def files(tmp_path):
    a, b, truth = linked_pair(400, seed=3)
    write(tmp_path / "a.parquet", a)
    write(tmp_path / "b.parquet", b, rows=np.arange(len(b), dtype=np.int64) + 1000)
    return tmp_path, truth


def run(*args):
    return CliRunner().invoke(app, ["match", *map(str, args)])


def test_one_to_one_links_use_the_parties_rows(files):
    path, _ = files
    result = run(
        path / "a.parquet", path / "b.parquet", "--threshold", "0.7", "--out", path / "links.csv"
    )
    assert result.exit_code == 0, result.output
    links = pacsv.read_csv(path / "links.csv")
    assert links.column_names == ["a_row", "b_row", "score"]
    a_rows, b_rows = links.column("a_row").to_pylist(), links.column("b_row").to_pylist()
    assert len(set(a_rows)) == len(a_rows) and len(set(b_rows)) == len(b_rows)  # 1:1
    assert min(b_rows) >= 1000
    scores = links.column("score").to_pylist()
    assert scores == sorted(scores, reverse=True) and min(scores) >= 0.7


def test_all_candidates_and_blocking_are_subsets(files):
    path, _ = files
    assert (
        run(
            path / "a.parquet",
            path / "b.parquet",
            "--threshold",
            "0.5",
            "--all-candidates",
            "--out",
            path / "all.csv",
        ).exit_code
        == 0
    )
    assert (
        run(
            path / "a.parquet",
            path / "b.parquet",
            "--threshold",
            "0.5",
            "--all-candidates",
            "--blocking",
            "keys",
            "--out",
            path / "blocked.csv",
        ).exit_code
        == 0
    )
    full = pacsv.read_csv(path / "all.csv")
    blocked = pacsv.read_csv(path / "blocked.csv")
    pairs = set(
        zip(full.column("a_row").to_pylist(), full.column("b_row").to_pylist(), strict=True)
    )
    kept = set(
        zip(blocked.column("a_row").to_pylist(), blocked.column("b_row").to_pylist(), strict=True)
    )
    assert kept <= pairs and len(kept) < len(pairs)
    assert all((a % 7) == ((b - 1000) % 7) for a, b in kept)


def test_dedupe_reports_each_pair_once(files):
    path, _ = files
    a, _, _ = linked_pair(50, seed=4)
    write(path / "d.parquet", np.concatenate([a, a[:5]]))
    assert (
        run(
            path / "d.parquet", "--dedupe", "--threshold", "0.99", "--out", path / "dupes.csv"
        ).exit_code
        == 0
    )
    dupes = pacsv.read_csv(path / "dupes.csv")
    pairs = sorted(
        zip(dupes.column("a_row").to_pylist(), dupes.column("b_row").to_pylist(), strict=True)
    )
    assert pairs == [(i, 50 + i) for i in range(5)]


def test_mismatched_secret_refused(files):
    path, _ = files
    a, _, _ = linked_pair(10, seed=5)
    write(path / "other.parquet", a, fingerprint="0" * 16)
    result = run(path / "a.parquet", path / "other.parquet", "--out", path / "x.csv")
    assert result.exit_code == 2 and "different secrets" in result.output
    assert not (path / "x.csv").exists()
