"""pprl match: 1:1 links, all candidates, dedupe, blocking and refusals, via the CLI."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from pprl_cli.main import app
from typer.testing import CliRunner

from pprl.compare import find_candidates
from pprl.compare.synthetic import linked_pair, random_clks
from pprl.match import threshold_estimate
from pprl.solve import greedy_solve
from pprl.store import Encodings, read_encodings, write_encodings


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


# ------------------------------------------------------------------ threshold from the data


@pytest.fixture()
def noisy(tmp_path):
    """Two files whose true pairs score about 0.72-0.85: the default 0.8 misses many."""
    a, b, truth = linked_pair(500, seed=4, flip=0.2)
    write(tmp_path / "a.parquet", a)
    write(tmp_path / "b.parquet", b)
    return tmp_path, {(int(t), j) for j, t in enumerate(truth) if t >= 0}


def f1(path, true):
    links = pq.read_table(path)
    found = set(
        zip(links.column("a_row").to_pylist(), links.column("b_row").to_pylist(), strict=True)
    )
    tp = len(found & true)
    return 2 * tp / (len(found) + len(true))


def test_threshold_chosen_from_the_data(noisy):
    path, true = noisy
    result = run(path / "a.parquet", path / "b.parquet", "--out", path / "auto.parquet")
    assert result.exit_code == 0, result.output
    assert "chosen from the data: estimated precision" in result.output
    est = threshold_estimate(pq.read_table(path / "auto.parquet"))
    assert est is not None and est.fallback is None and est.threshold < 0.75
    assert est.precision > 0.99 and est.recall > 0.99
    assert f"threshold {est.threshold:.4f}" in result.output
    assert f1(path / "auto.parquet", true) > 0.99
    fixed = run(
        path / "a.parquet", path / "b.parquet", "--threshold", "0.8", "--out", path / "f.parquet"
    )
    assert fixed.exit_code == 0 and "estimated precision" not in fixed.output
    assert f1(path / "f.parquet", true) < 0.9  # the old default fails the bound


def test_chosen_threshold_gives_the_links_of_that_threshold(noisy):
    path, _ = noisy
    for extra in ([], ["--all-candidates"], ["--top-k", "2"]):
        auto, fixed = path / "auto.parquet", path / "fixed.parquet"
        assert (
            run(path / "a.parquet", path / "b.parquet", *extra, "--out", auto, "--force").exit_code
            == 0
        )
        est = threshold_estimate(pq.read_table(auto))
        assert est is not None
        args = ["--threshold", repr(est.threshold), *extra, "--out", fixed, "--force"]
        assert run(path / "a.parquet", path / "b.parquet", *args).exit_code == 0
        assert pq.read_table(auto).equals(pq.read_table(fixed))  # same rows, same order


def test_explicit_threshold_unchanged(files):
    """An explicit --threshold writes exactly the 1:1 links of the candidate search,
    byte for byte, with no estimate in the file."""
    path, _ = files
    out = path / "links.parquet"
    assert (
        run(path / "a.parquet", path / "b.parquet", "--threshold", "0.7", "--out", out).exit_code
        == 0
    )
    a, b = read_encodings(path / "a.parquet"), read_encodings(path / "b.parquet")
    c = find_candidates(a.clks, b.clks, 0.7)
    q, r, s = greedy_solve(c.q, c.r, c.score)
    order = np.lexsort((r, q, -s))
    expect = pa.table(
        {
            "a_row": pa.array(a.rows[q[order]], pa.int64()),
            "b_row": pa.array(b.rows[r[order]], pa.int64()),
            "score": pa.array(s[order], pa.float64()),
        }
    )
    pq.write_table(expect, path / "expect.parquet")
    assert out.read_bytes() == (path / "expect.parquet").read_bytes()
    assert threshold_estimate(pq.read_table(out)) is None
    csv_out = path / "links.csv"
    assert (
        run(
            path / "a.parquet", path / "b.parquet", "--threshold", "0.7", "--out", csv_out
        ).exit_code
        == 0
    )
    assert pacsv.read_csv(csv_out).equals(expect)


def test_no_overlap_falls_back_clearly(tmp_path):
    write(tmp_path / "a.parquet", random_clks(300, seed=1))
    write(tmp_path / "b.parquet", random_clks(300, seed=2))
    result = run(tmp_path / "a.parquet", tmp_path / "b.parquet", "--out", tmp_path / "l.csv")
    assert result.exit_code == 0, result.output
    assert "threshold 0.8 (the default:" in result.output
    assert pacsv.read_csv(tmp_path / "l.csv").num_rows == 0


def test_tiny_files_fall_back(tmp_path):
    a, b, _ = linked_pair(10, seed=2)
    write(tmp_path / "a.parquet", a)
    write(tmp_path / "b.parquet", b)
    result = run(tmp_path / "a.parquet", tmp_path / "b.parquet", "--out", tmp_path / "l.parquet")
    assert result.exit_code == 0, result.output
    assert "too few to fit" in result.output
    est = threshold_estimate(pq.read_table(tmp_path / "l.parquet"))
    assert est is not None and est.threshold == 0.8 and est.fallback


def test_dedupe_threshold_from_the_data(tmp_path):
    a, b, truth = linked_pair(300, seed=6, flip=0.2)
    both = np.concatenate([a, b])
    write(tmp_path / "ab.parquet", both)
    result = run(tmp_path / "ab.parquet", "--dedupe", "--out", tmp_path / "d.parquet")
    assert result.exit_code == 0, result.output
    est = threshold_estimate(pq.read_table(tmp_path / "d.parquet"))
    assert est is not None and est.fallback is None and est.population == "best pairs per record"
    links = pq.read_table(tmp_path / "d.parquet")
    found = set(
        zip(links.column("a_row").to_pylist(), links.column("b_row").to_pylist(), strict=True)
    )
    true = {(int(t), 300 + j) for j, t in enumerate(truth) if t >= 0}
    assert 2 * len(found & true) / (len(found) + len(true)) > 0.98
