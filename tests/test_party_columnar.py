"""The columnar pipeline (Arrow reading, one normalization per distinct value, keyed
hashes per distinct value) writes exactly what encoding record by record gives: same
CLKs, pseudonyms, block keys, rows and reports."""

from __future__ import annotations

import csv
import json
from importlib import resources

import numpy as np
import pytest
from blake3 import blake3

import pprl.encode.encoder
import pprl.party
import pprl.read
from pprl.encode import encode_clks
from pprl.keys import load_secret, pseudonym, write_secret
from pprl.mynumber import is_valid
from pprl.normalize import NORMALIZERS
from pprl.party import encode_csv
from pprl.privacy.harden import hardened_clks
from pprl.schema import load_schema
from pprl.synth import SynthConfig, generate


@pytest.fixture(scope="module")
def population(tmp_path_factory):
    root = tmp_path_factory.mktemp("pop")
    generate(SynthConfig(people=2000, seed=11), root / "data")
    return root / "data"


def per_record(path, schema, secret):
    """The encoding computed record by record (the pipeline before it went columnar)."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if any(r.values())]
    norm = {
        f: [NORMALIZERS[schema.normalizers.get(f, "none")](r[f]) for r in rows]
        for f in [*schema.fields, schema.link_key]
        if f not in schema.ignored or f == schema.link_key
    }
    columns = [[v or "" for v in norm[f]] if f in norm else [""] * len(rows) for f in schema.fields]
    if schema.hardening.active:
        clks = hardened_clks(schema, columns, norm, {}, secret, workers=1)
    else:
        clks = encode_clks(schema.clk, columns, secret.clk_secret, workers=1)
    numbers = norm[schema.link_key]
    valid = np.array([v is not None and is_valid(v) for v in numbers])
    tokens = np.zeros((len(rows), 32), dtype=np.uint8)
    for i in np.flatnonzero(valid):
        tokens[i] = np.frombuffer(pseudonym(secret.pseudonym_key, numbers[i]), dtype=np.uint8)
    blocks = {}
    for spec in schema.block_keys:
        values, ok = np.zeros(len(rows), dtype=np.uint64), np.zeros(len(rows), dtype=bool)
        for i in range(len(rows)):
            vals = [norm[p.field][i] for p in spec.parts]
            if all(vals):
                text = "\x1f".join(
                    [spec.name]
                    + [v[p.start : p.stop] for v, p in zip(vals, spec.parts, strict=True)]
                )
                digest = blake3(text.encode(), key=secret.block_key).digest(length=8)
                values[i], ok[i] = int.from_bytes(digest, "little"), True
        blocks[spec.name] = (values, ok)
    return clks, tokens, valid, blocks


def no_blip(tmp_path):
    doc = json.loads(resources.files("pprl").joinpath("schemas", "jp-resident.json").read_text())
    del doc["pprl"]["hardening"]
    path = tmp_path / "plain.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return load_schema(str(path))


def quoted_copy(src, dst):
    """The same records with every field of the second half quoted (the csv module reads
    them, after Arrow read the first half)."""
    lines = src.read_text(encoding="utf-8").splitlines()
    half = len(lines) // 2
    quoted = [",".join(f'"{v}"' for v in line.split(",")) for line in lines[half:]]
    dst.write_text("\n".join(lines[:half] + quoted) + "\n", encoding="utf-8")
    return dst


@pytest.mark.parametrize("blip", [False, True])
@pytest.mark.parametrize("quoted", [False, True])
def test_columnar_equals_per_record(population, tmp_path, monkeypatch, blip, quoted):
    monkeypatch.setattr(pprl.read, "BLOCK_BYTES", 1 << 14)  # many blocks
    monkeypatch.setattr(pprl.party, "PARALLEL_DISTINCT", 50)  # the process pool too
    monkeypatch.setattr(pprl.encode.encoder, "PARALLEL_MIN_RECORDS", 50)
    secret = load_secret(write_secret(tmp_path / "k"))
    schema = load_schema("jp-resident") if blip else no_blip(tmp_path)
    path = population / "register.csv"
    if quoted:
        path = quoted_copy(path, tmp_path / "register.csv")
    clks, tokens, valid, blocks = per_record(path, schema, secret)
    for processes in (1, 2):
        enc, report = encode_csv(path, schema, secret, chunk_rows=700, processes=processes)
        np.testing.assert_array_equal(enc.clks, clks)
        np.testing.assert_array_equal(enc.tokens, tokens)
        np.testing.assert_array_equal(enc.has_token, valid)
        np.testing.assert_array_equal(enc.rows, np.arange(len(valid)))
        assert report.invalid_link_key_rows == np.flatnonzero(~valid).tolist()
        for name, (values, ok) in blocks.items():
            np.testing.assert_array_equal(enc.block_keys[name][1], ok)
            np.testing.assert_array_equal(enc.block_keys[name][0], values)


def test_unnormalizable_rows_are_reported_by_input_row(tmp_path):
    secret = load_secret(write_secret(tmp_path / "k"))
    path = tmp_path / "in.csv"
    header = "my_number,family_name_kanji,given_name_kanji,family_name_kana,given_name_kana,"
    header += "date_of_birth,sex,postcode,address"
    rows = [
        "123456789018,山田,太郎,ヤマダ,タロウ,1980-01-01,1,100-0001,東京都千代田区1-2-3",
        "123456789018,山田,花子,ヤマダ,ハナコ,1980-02-30,2,100-0001,東京都千代田区1-2-3",
        ",山田,,ヤマダ,,not a date,x,12,",
        "123456789018,山田,花子,ヤマダ,ハナコ,1980-02-30,2,100-0001,東京都千代田区1-2-3",
    ]
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    enc, report = encode_csv(path, load_schema("jp-resident"), secret, processes=1)
    assert report.unnormalizable == {
        "date_of_birth": [1, 2, 3],
        "sex": [2],
        "postcode": [2],
    }
    assert report.missing_link_key_rows == [2]
    assert enc.block_keys["kanji_name"][1].tolist() == [True, True, False, True]
    assert enc.block_keys["dob"][1].tolist() == [True, False, False, False]
