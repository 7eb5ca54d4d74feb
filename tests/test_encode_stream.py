"""``pprl encode`` in bounded memory: the streamed writer (chunks spilled beside the
output, digested column by column, written row group by row group) writes exactly the
bytes of the in-memory path, and leaves nothing behind when it fails or is killed."""

from __future__ import annotations

import copy
import csv
import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pprl import store
from pprl.columns import matched_column_map
from pprl.errors import InputError
from pprl.keys import load_secret, write_secret
from pprl.party import encode_csv, encode_csv_file, encode_records
from pprl.privacy.decoys import decoy_chunk
from pprl.read import iter_csv
from pprl.resultset import leftovers
from pprl.schema import builtin_document, load_schema, parse_schema
from pprl.store import (
    Encodings,
    concat_encodings,
    encodings_writer,
    read_encodings,
    write_clkhash_json,
    write_encodings,
)
from pprl.synth import SynthConfig, generate


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("stream")
    generate(SynthConfig(people=400, seed=11), root / "data")
    with (root / "data" / "insurer.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    number = rows[0].index("my_number")
    rows[30][number], rows[41][number] = "123", ""  # an invalid and a missing link key
    with (root / "data" / "broken.csv").open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    return {
        "root": root,
        "insurer": root / "data" / "insurer.csv",
        "broken": root / "data" / "broken.csv",
        "register": root / "data" / "register.csv",
        "secret": load_secret(write_secret(root / "secret.key")),
    }


def decoy_schema(fraction: float = 1.0):
    """jp-resident (BLIP noise) with decoys: up to 1.5 fake records per real one."""
    doc = copy.deepcopy(builtin_document("jp-resident"))
    doc["pprl"]["hardening"]["decoys"] = {"fraction": fraction}
    return parse_schema(doc, "jp-resident-decoys")


def in_memory(world: dict, csv: Path, schema, out: Path, **options) -> bytes:
    """Today's path: the whole file's encodings in memory, then write_encodings."""
    row_group_size = options.pop("row_group_size", 1 << 20)
    enc, _ = encode_csv(csv, schema, world["secret"], processes=1, **options)
    write_encodings(enc, out, row_group_size=row_group_size)
    return out.read_bytes()


def streamed(world: dict, csv: Path, schema, out: Path, **options):
    written, report = encode_csv_file(
        csv, out, schema, world["secret"], processes=1, memory_rows=0, **options
    )
    assert leftovers(out) == [], "the spill and the temporary file are gone"
    return written, report


@pytest.mark.parametrize(
    "csv,schema_name", [("broken", "jp-resident"), ("register", "jp-bank-holder")]
)
def test_streamed_file_is_byte_identical_to_the_in_memory_one(world, tmp_path, csv, schema_name):
    schema = load_schema(schema_name)
    whole = in_memory(world, world[csv], schema, tmp_path / "whole.parquet", role="claims")
    written, report = streamed(
        world,
        world[csv],
        schema,
        tmp_path / "streamed.parquet",
        chunk_rows=7,
        row_group_size=50,
        role="claims",
    )
    data = (tmp_path / "streamed.parquet").read_bytes()
    assert pq.ParquetFile(tmp_path / "streamed.parquet").num_row_groups > 2
    a, b = read_encodings(tmp_path / "whole.parquet"), read_encodings(tmp_path / "streamed.parquet")
    assert a.meta == b.meta == written.meta and written.count == len(a) == report.records
    for column in ("row", "token", "clk"):
        assert pq.read_table(tmp_path / "streamed.parquet", columns=[column]).equals(
            pq.read_table(tmp_path / "whole.parquet", columns=[column])
        )
    # the same row groups as one row group: the same records and digest
    one = in_memory(
        world, world[csv], schema, tmp_path / "one.parquet", role="claims", row_group_size=50
    )
    assert data == one and read_encodings(tmp_path / "one.parquet").meta == b.meta
    assert len(whole) < len(data)  # one row group there (less row-group overhead)
    if csv == "broken":
        assert not b.has_token.all(), "null pseudonyms (invalid numbers) go through the spill"


def test_decoys_streamed_in_chunks_equal_decoys_encoded_at_once(world, tmp_path):
    """Decoys (up to 1.5 per real record here, drawn from the first chunk's values) are
    encoded chunk by chunk too: the file is the one with all decoys encoded at once."""
    schema, secret, path = decoy_schema(), world["secret"], world["insurer"]
    chunks = list(iter_csv(path, None, 7))
    parts = [encode_records(c, schema, secret, processes=1)[0] for c in chunks]
    records = sum(c.nrows for c in chunks)
    found = matched_column_map(chunks[0], schema, {})
    decoys = decoy_chunk(chunks[0], schema, secret, records, found)
    assert decoys is not None and decoys.nrows > 7
    parts.append(encode_records(decoys, schema, secret, processes=1)[0])
    write_encodings(concat_encodings(parts), tmp_path / "a.parquet")
    written, report = streamed(world, path, schema, tmp_path / "b.parquet", chunk_rows=7)
    assert written.count == records + decoys.nrows and report.records == records
    assert (tmp_path / "b.parquet").read_bytes() == (tmp_path / "a.parquet").read_bytes()
    assert (
        in_memory(world, path, schema, tmp_path / "c.parquet", chunk_rows=7)
        == (tmp_path / "a.parquet").read_bytes()
    )


def test_clkhash_json_is_written_as_it_comes(world, tmp_path):
    schema = load_schema("jp-resident")
    enc, _ = encode_csv(world["insurer"], schema, world["secret"], processes=1)
    write_clkhash_json(enc, tmp_path / "a.json")
    written, _ = streamed(
        world, world["insurer"], schema, tmp_path / "b.json", chunk_rows=7, format="clkhash-json"
    )
    assert (tmp_path / "b.json").read_bytes() == (tmp_path / "a.json").read_bytes()
    assert written.count == len(enc) and written.meta["party"] == "insurer"


@pytest.mark.parametrize("format,suffix", [("parquet", "parquet"), ("clkhash-json", "json")])
def test_zero_rows(world, tmp_path, format, suffix):
    csv = tmp_path / "none.csv"
    csv.write_text(world["insurer"].read_text(encoding="utf-8").splitlines()[0] + "\n")
    schema = load_schema("jp-resident")
    enc, _ = encode_csv(csv, schema, world["secret"], processes=1)
    assert len(enc) == 0
    expected = tmp_path / f"a.{suffix}"
    if format == "parquet":
        write_encodings(enc, expected)
    else:
        write_clkhash_json(enc, expected)
    written, _ = streamed(world, csv, schema, tmp_path / f"b.{suffix}", format=format)
    assert written.count == 0
    assert (tmp_path / f"b.{suffix}").read_bytes() == expected.read_bytes()


# ------------------------------------------------------------------ the writer itself


def random_encodings(rng: np.random.Generator, n: int, words: int, names: tuple) -> Encodings:
    has = rng.random(n) < 0.8
    tokens = rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
    tokens[~has] = 0  # as the encoder leaves them
    return Encodings(
        rows=np.arange(n, dtype=np.int64) * 3,
        tokens=tokens,
        has_token=has,
        clks=rng.integers(0, 2**63, size=(n, words), dtype=np.uint64),
        block_keys={
            name: (rng.integers(0, 2**63, size=n, dtype=np.uint64), rng.random(n) < 0.7)
            for name in names
        },
        meta={
            "party": "p",
            "role": "claims",
            "key_fingerprint": "0" * 16,
            "schema_digest": "1" * 32,
        },
    )


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(0, 300),
    cuts=st.lists(st.integers(0, 300), max_size=6),
    words=st.sampled_from([1, 2, 16]),
    names=st.sampled_from([(), ("b",), ("zz", "a", "m")]),
    memory_rows=st.integers(-1, 320),
    row_group_size=st.integers(1, 400),
    seed=st.integers(0, 2**32 - 1),
)
def test_writer_matches_write_encodings_for_any_cut(
    tmp_path_factory, n, cuts, words, names, memory_rows, row_group_size, seed
):
    """Any chunking, any in-memory limit, any row group size: the bytes of write_encodings."""
    tmp = tmp_path_factory.mktemp("w")
    enc = random_encodings(np.random.default_rng(seed), n, words, names)
    bounds = [0, *sorted(c for c in cuts if c <= n), n]
    parts = [
        Encodings(
            rows=enc.rows[a:b],
            tokens=enc.tokens[a:b],
            has_token=enc.has_token[a:b],
            clks=enc.clks[a:b],
            block_keys={k: (v[a:b], m[a:b]) for k, (v, m) in enc.block_keys.items()},
            meta=enc.meta,
        )
        for a, b in zip(bounds[:-1], bounds[1:], strict=True)
    ]
    write_encodings(concat_encodings(parts), tmp / "a.parquet", row_group_size=row_group_size)
    with encodings_writer(
        tmp / "b.parquet", memory_rows=memory_rows, row_group_size=row_group_size
    ) as writer:
        for part in parts:
            writer.add(part)
        spilled = writer._files != {}
    assert spilled == (n > memory_rows)
    assert (tmp / "b.parquet").read_bytes() == (tmp / "a.parquet").read_bytes()
    assert writer.meta == read_encodings(tmp / "b.parquet").meta and writer.count == n
    assert leftovers(tmp / "b.parquet") == []


def test_spill_lies_beside_the_output_while_writing_and_goes_after(tmp_path):
    out = tmp_path / "enc.parquet"
    enc = random_encodings(np.random.default_rng(1), 50, 2, ("a",))
    with encodings_writer(out, memory_rows=10) as writer:
        writer.add(enc)
        spill = [p for p in leftovers(out) if p.is_dir()]
        assert len(spill) == 1 and sorted(p.name for p in spill[0].iterdir()) == [
            "block0",
            "clk",
            "has",
            "row",
            "token",
            "valid0",
        ]
    assert leftovers(out) == [] and read_encodings(out).meta["count"] == 50


def test_mixed_chunks_are_refused(tmp_path):
    rng = np.random.default_rng(2)
    with pytest.raises(ValueError, match="share CLK length"):
        with encodings_writer(tmp_path / "x.parquet") as writer:
            writer.add(random_encodings(rng, 5, 2, ("a",)))
            writer.add(random_encodings(rng, 5, 4, ("a",)))
    assert not (tmp_path / "x.parquet").exists() and leftovers(tmp_path / "x.parquet") == []


def test_a_failure_midway_leaves_out_as_it_was(world, tmp_path):
    """--strict stops at a bad link key in a later chunk: the old file stays, nothing else."""
    out = tmp_path / "enc.parquet"
    out.write_bytes(b"the old file")
    with pytest.raises(InputError, match="--strict"):
        encode_csv_file(
            world["broken"],
            out,
            load_schema("jp-resident"),
            world["secret"],
            chunk_rows=7,
            memory_rows=0,
            strict=True,
            processes=1,
        )
    assert out.read_bytes() == b"the old file" and leftovers(out) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["enc.parquet"]


@pytest.mark.parametrize("where", ["spill", "parquet"])
def test_a_full_disk_is_one_line_and_leaves_nothing(world, tmp_path, monkeypatch, where):
    """ENOSPC (simulated: no small file system here) while spilling, or in Arrow's writer
    (whose errors carry no errno): one line naming --out, nothing left behind."""
    if where == "spill":

        def full(self, part):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        monkeypatch.setattr(store.EncodingsWriter, "_append", full)
    else:

        def full_arrow(self, table, row_group_size=None):
            raise OSError("[Errno 28] Error writing bytes to file. Detail: No space left on device")

        monkeypatch.setattr(pq.ParquetWriter, "write_table", full_arrow)
    out = tmp_path / "enc.parquet"
    with pytest.raises(InputError) as err:
        encode_csv_file(
            world["insurer"],
            out,
            load_schema("jp-resident"),
            world["secret"],
            chunk_rows=50,
            memory_rows=0,
            processes=1,
        )
    line = str(err.value)
    assert "\n" not in line and str(out) in line and "no space left on device" in line
    assert list(tmp_path.iterdir()) == []


def test_cli_encode_writes_the_same_file(world, tmp_path):
    """`pprl encode` goes through the streamed writer: the file read back checks, and it is
    the in-memory path's file."""
    from pprl_cli.main import app
    from typer.testing import CliRunner

    expected = in_memory(
        world, world["insurer"], load_schema("jp-resident"), tmp_path / "a.parquet", role="claims"
    )
    out = tmp_path / "b.parquet"
    result = CliRunner().invoke(
        app,
        [
            "encode",
            str(world["insurer"]),
            "--schema",
            "jp-resident",
            "--secret",
            str(world["root"] / "secret.key"),
            "--out",
            str(out),
            "--processes",
            "1",
            "--sidecar",
            str(tmp_path / "side.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == expected and leftovers(out) == []


# ------------------------------------------------------------------ kills and interrupts

SLOW_ENCODE = """
import sys
from pprl.keys import load_secret
from pprl.party import encode_csv_file
from pprl.schema import load_schema
encode_csv_file(sys.argv[1], sys.argv[2], load_schema("jp-resident"), load_secret(sys.argv[3]),
                chunk_rows=3, memory_rows=0, processes=1)
"""


def start_and_wait_for_spill(world: dict, out: Path) -> subprocess.Popen:
    """Start a slow streamed encode (3 records a chunk) and return once its spill holds data."""
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_ENCODE, world["register"], out, world["root"] / "secret.key"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        spills = [p for p in leftovers(out) if p.is_dir()]
        if spills and (spills[0] / "clk").is_file() and (spills[0] / "clk").stat().st_size:
            return proc
        time.sleep(0.01)
    proc.kill()
    raise AssertionError(f"no spill seen: {proc.stderr.read() if proc.stderr else ''}")


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL])
def test_killed_or_interrupted_while_spilling(world, tmp_path, how):
    """Ctrl-C removes the spill and the temporary file at once; after kill -9 they are
    recognisable leftovers that the next write removes. --out is never half-written."""
    out = tmp_path / "enc.parquet"
    proc = start_and_wait_for_spill(world, out)
    try:
        proc.send_signal(how)
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        if proc.stderr:
            proc.stderr.close()
    assert code != 0 and not out.exists()
    if how == signal.SIGINT:
        assert list(tmp_path.iterdir()) == []
        return
    assert any(p.is_dir() for p in leftovers(out)), "a killed run's spill is recognisable"
    small = tmp_path / "small.csv"
    small.write_text("\n".join(world["insurer"].read_text("utf-8").splitlines()[:20]) + "\n")
    encode_csv_file(small, out, load_schema("jp-resident"), world["secret"], processes=1)
    assert leftovers(out) == [] and read_encodings(out).meta["count"] == 19
    assert sorted(p.name for p in tmp_path.iterdir()) == ["enc.parquet", "small.csv"]
