"""The data holder's pipeline: chunked encoding equals whole-file encoding."""

from __future__ import annotations

import numpy as np
import pytest

from pprl.keys import load_secret, write_secret
from pprl.party import encode_csv, encode_records
from pprl.read import read_csv
from pprl.schema import load_schema
from pprl.store import read_encodings
from pprl.synth import SynthConfig, generate


@pytest.fixture(scope="module")
def population(tmp_path_factory):
    root = tmp_path_factory.mktemp("pop")
    generate(SynthConfig(people=3000, seed=5, bank_claims=300), root / "data")
    return root


@pytest.mark.parametrize(
    "schema_name,csv",
    [
        ("jp-resident", "insurer.csv"),
        ("jp-bank-holder", "bank.csv"),
        ("jp-bank-holder", "register.csv"),
    ],
)
def test_chunked_equals_whole(population, tmp_path, schema_name, csv):
    secret = load_secret(write_secret(tmp_path / "k"))
    schema = load_schema(schema_name)
    path = population / "data" / csv
    whole, whole_report = encode_records(read_csv(path), schema, secret, processes=1)
    chunked, report = encode_csv(path, schema, secret, chunk_rows=257, processes=1)
    np.testing.assert_array_equal(whole.clks, chunked.clks)
    np.testing.assert_array_equal(whole.tokens, chunked.tokens)
    np.testing.assert_array_equal(whole.rows, chunked.rows)
    for name in whole.block_keys:
        np.testing.assert_array_equal(whole.block_keys[name][0], chunked.block_keys[name][0])
    assert report.invalid_link_key_rows == whole_report.invalid_link_key_rows
    assert report.records == whole_report.records == len(whole)


def test_invalid_numbers_reported_by_input_row(population, tmp_path):
    secret = load_secret(write_secret(tmp_path / "k"))
    path = population / "data" / "insurer.csv"
    enc, report = encode_csv(path, load_schema("jp-resident"), secret, chunk_rows=100, processes=1)
    numbers = read_csv(path).columns["my_number"]
    from pprl.mynumber import is_valid

    expected = [i for i, n in enumerate(numbers) if not is_valid(n)]
    assert expected and report.invalid_link_key_rows == expected
    assert list(np.flatnonzero(~enc.has_token)) == expected


def test_encode_workers_give_the_same_file(population, tmp_path, monkeypatch):
    """`pprl encode --processes 2` (normalization and hashing spread over processes) writes
    exactly the file that one process writes."""
    from pprl_cli.main import app
    from typer.testing import CliRunner

    import pprl.encode.encoder
    import pprl.party

    monkeypatch.setattr(pprl.party, "PARALLEL_DISTINCT", 50)  # force the process pool
    monkeypatch.setattr(pprl.encode.encoder, "PARALLEL_MIN_RECORDS", 50)
    secret = write_secret(tmp_path / "k")
    digests = []
    for workers in ("1", "2"):
        out = tmp_path / f"enc{workers}.parquet"
        result = CliRunner().invoke(
            app,
            [
                "encode",
                str(population / "data" / "insurer.csv"),
                "--schema",
                "jp-resident",
                "--secret",
                str(secret),
                "--out",
                str(out),
                "--processes",
                workers,
            ],
        )
        assert result.exit_code == 0, result.output
        digests.append(read_encodings(out).meta["digest"])
    assert digests[0] == digests[1]


def test_column_map_naming_no_schema_field_is_refused(tmp_path):
    """A --column mapping for a field the schema does not have was silently ignored."""
    from pprl.columns import resolve_columns
    from pprl.errors import InputError
    from pprl.read import read_csv
    from pprl.schema import load_schema

    path = tmp_path / "in.csv"
    path.write_text("my_number,family_name_kanji\n123,山田\n", encoding="utf-8")
    with pytest.raises(InputError, match="'surname' is not a field of schema 'jp-resident'"):
        resolve_columns(
            read_csv(path), load_schema("jp-resident"), {"surname": "family_name_kanji"}
        )
