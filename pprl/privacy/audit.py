"""``pprl audit``: run stated attacks against an encoding file and measure what they get.

Inputs are what a curious matcher has: the encoding file (schema in its metadata), a
public name-frequency list, no secret. An optional truth file is used only to *score*
the attacks. The verdict is a measurement on the stated attacks, never a guarantee.

Name list (``--attacker-names``), CSV with a header: ``field,name,frequency`` --
``field`` a schema field (e.g. ``family_name_kana``) or a block-key name whose parts
are name fields (``kana_name``, value = the parts joined by one space); ``frequency`` a
count or share. Without a ``field`` column every row applies to every name field.
Values are normalized with the schema's normalizers before use.

Truth (``--truth``), CSV with a header: the schema's field columns (as in the party's
CSV; the party's own CSV works) and optionally ``row`` (default: line order).

Attacker records (``--attacker-records``, optional), CSV with a header: plaintext records
the attacker holds, with a column for every field the schema encodes (a field with
``sources``, like the bank holder name, may come as its source columns) and optionally
``known_row`` (the encoded row the attacker already knows the record to be, blank if
not). They enable the graph-matching attack (:mod:`pprl.privacy.graph_attack`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.csv as pacsv

from pprl.errors import InputError
from pprl.normalize import NORMALIZERS
from pprl.privacy import graph_attack
from pprl.privacy.attacks import (
    AttackResult,
    NameList,
    frequency_attack,
    name_fields,
    pattern_mining_attack,
    qgram_frequencies,
    unpack,
)
from pprl.schema import Schema, parse_schema
from pprl.store import Encodings, read_encodings

CAVEAT = (
    "These numbers measure the stated attacks on this file; they are not a guarantee "
    "against other or better attacks, nor against a party that holds the secret."
)
CLAIM_CONFIDENCE = 0.5


def _read_csv(path: Path, what: str) -> dict[str, list[str]]:
    """All columns of a CSV as strings, or a one-line InputError naming the file."""
    if not path.is_file():
        raise InputError(f"{path}: {what} file not found")
    try:
        table = pacsv.read_csv(
            path,
            convert_options=pacsv.ConvertOptions(
                strings_can_be_null=False, column_types={}, auto_dict_encode=False
            ),
            read_options=pacsv.ReadOptions(autogenerate_column_names=False),
        )
    except Exception as exc:  # arrow raises several types for unreadable CSV
        raise InputError(
            f"{path}: cannot read {what} CSV ({str(exc).splitlines()[0][:120]})"
        ) from None
    return {c: [str(v) for v in table.column(c).to_pylist()] for c in table.column_names}


def _normalizer(schema: Schema, fld: str) -> Callable[[str], str | None]:
    """The schema's normalizer for a field (identity when none)."""
    return NORMALIZERS.get(schema.normalizers.get(fld, "none"), lambda v: v)


def read_names(path: Path, schema: Schema) -> NameList:
    """Read the attacker's name-frequency list, normalized with the schema's normalizers."""
    cols = _read_csv(path, "attacker names")
    if "name" not in cols or "frequency" not in cols:
        raise InputError(f"{path}: attacker names need columns name,frequency (and field)")
    targets = name_fields(schema)
    block_names = {s.name: [p.field for p in s.parts] for s in schema.block_keys}
    out: NameList = {}
    fields = cols.get("field") or [""] * len(cols["name"])
    for i, (fld, value, freq) in enumerate(
        zip(fields, cols["name"], cols["frequency"], strict=True)
    ):
        try:
            weight = float(freq)
        except ValueError:
            raise InputError(f"{path}: row {i}: frequency {freq!r} is not a number") from None
        for target in [fld] if fld else targets:
            if target in block_names:
                parts = value.split(" ")
                if len(parts) != len(block_names[target]):
                    continue
                norm = [
                    _normalizer(schema, f)(p)
                    for f, p in zip(block_names[target], parts, strict=True)
                ]
                key = " ".join(n for n in norm if n) if all(norm) else None
            else:
                key = _normalizer(schema, target)(value)
            if key:
                out.setdefault(target, {})
                out[target][key] = out[target].get(key, 0.0) + weight
    return out


def read_truth(path: Path, schema: Schema, rows: np.ndarray) -> dict[str, np.ndarray]:
    """True normalized names per encoding record (None where the truth has no row)."""
    cols = _read_csv(path, "truth")
    n_truth = len(next(iter(cols.values()), []))
    truth_rows = [int(r) for r in cols["row"]] if "row" in cols else list(range(n_truth))
    where = {r: i for i, r in enumerate(truth_rows)}
    out = {}
    for fld in name_fields(schema):
        sources = schema.sources.get(fld, ())
        if fld in cols:
            raw = cols[fld]
        elif sources and all(s in cols for s in sources):  # e.g. bank holder from a register
            raw = [
                " ".join(v for v in vs if v) for vs in zip(*(cols[s] for s in sources), strict=True)
            ]
        else:
            continue
        norm = _normalizer(schema, fld)
        values = [norm(v) for v in raw]
        out[fld] = np.array(
            [values[where[r]] if r in where else None for r in rows.tolist()], dtype=object
        )
    return out


def bit_leakage(
    enc: Encodings, schema: Schema, names: NameList, sample: int = 50_000
) -> dict[str, Any]:
    """Bit-frequency and popcount statistics that reveal leakage."""
    bits = unpack(enc, np.arange(min(len(enc), sample)))
    if bits.shape[0] == 0:
        return {"records": 0}
    freq = bits.mean(axis=0)
    pop = bits.sum(axis=1)
    p = np.clip(freq, 1e-12, 1 - 1e-12)
    entropy = -(p * np.log2(p) + (1 - p) * np.log2(1 - p))
    top = [s for _, _, s in qgram_frequencies(schema, names, 0.01)[:50]]
    matching = (
        int(
            sum(
                bool(np.any(np.abs(freq[:, None] - np.array(top)) < 0.005, axis=1)[b])
                for b in range(len(freq))
            )
        )
        if top
        else 0
    )
    return {
        "records": int(len(enc)),
        "bits": int(bits.shape[1]),
        "bit_frequency_min": round(float(freq.min()), 4),
        "bit_frequency_max": round(float(freq.max()), 4),
        "bit_frequency_std": round(float(freq.std()), 4),
        "bit_entropy_mean": round(float(entropy.mean()), 4),
        "popcount_mean": round(float(pop.mean()), 2),
        "popcount_std": round(float(pop.std()), 2),
        "popcount_min": int(pop.min()),
        "popcount_max": int(pop.max()),
        "bits_matching_top_qgram_frequency": matching,
    }


def score_attack(
    result: AttackResult, truth: dict[str, np.ndarray] | None, schema: Schema, n: int
) -> dict[str, Any]:
    """What the attack claims, and (with truth) how many records it re-identified.

    A record is re-identified when every name field of one script (fields sharing a
    normalizer, e.g. family and given name in kana) is guessed correctly.
    """
    out: dict[str, Any] = {"attack": result.name, **result.details}
    claims = np.zeros(n, dtype=bool)
    for _, (values, conf) in result.guesses.items():
        claims |= np.array([v is not None for v in values]) & (conf >= CLAIM_CONFIDENCE)
    out["records_claimed"] = int(claims.sum())
    out["mean_confidence_of_claims"] = round(
        float(np.mean([c[claims].mean() for _, c in result.guesses.values()]))
        if claims.any()
        else 0.0,
        3,
    )
    if truth is None:
        return out
    correct = {
        f: np.array([g is not None and g == t for g, t in zip(v, truth[f], strict=True)])
        for f, (v, _) in result.guesses.items()
        if f in truth
    }
    out["field_accuracy"] = {f: round(float(c.mean()), 4) for f, c in correct.items()}
    scripts: dict[str, list[str]] = {}
    for f in name_fields(schema):
        scripts.setdefault(schema.normalizers.get(f, ""), []).append(f)
    reid = np.zeros(n, dtype=bool)
    for fields in scripts.values():
        if all(f in correct for f in fields):
            reid |= np.logical_and.reduce([correct[f] for f in fields])
    out["reidentified"] = int(reid.sum())
    out["reidentified_rate"] = round(float(reid.mean()) if n else 0.0, 5)
    out["claims_correct"] = int((reid & claims).sum())
    return out


def baseline(truth: dict[str, np.ndarray], names: NameList) -> dict[str, float]:
    """Accuracy of guessing each field's most frequent listed name for everybody."""
    out = {}
    for f, values in truth.items():
        if names.get(f):
            top = max(names[f].items(), key=lambda kv: kv[1])[0]
            out[f] = round(float(np.mean([v == top for v in values])), 4)
    return out


def attacker_coverage(
    truth: dict[str, np.ndarray], attacker: graph_attack.AttackerRecords, schema: Schema
) -> float:
    """Share of encoded records whose true name (every name field of one script) is the
    name of some attacker record: the most the graph-matching attack can re-identify."""
    covered = np.zeros(len(next(iter(truth.values()), [])), dtype=bool)
    scripts: dict[str, list[str]] = {}
    for f in name_fields(schema):
        scripts.setdefault(schema.normalizers.get(f, ""), []).append(f)
    for fields in scripts.values():
        if not all(f in truth and f in attacker.names for f in fields):
            continue
        known = set(zip(*(attacker.names[f].tolist() for f in fields), strict=True))
        covered |= np.array(
            [
                t in known and None not in t
                for t in zip(*(truth[f].tolist() for f in fields), strict=True)
            ]
        )
    return round(float(covered.mean()) if len(covered) else 0.0, 5)


def audit(
    path: str | Path,
    names_path: str | Path | None,
    truth_path: str | Path | None = None,
    *,
    sample: int = 20_000,
    attacker_records: str | Path | None = None,
) -> dict[str, Any]:
    """Run the attacks on one encoding file; return statistics, attack results, caveat.

    With a name list: the frequency and pattern-mining attacks; with attacker records:
    the graph-matching attack. At least one of the two is needed.
    """
    if names_path is None and attacker_records is None:
        raise InputError("the audit needs --attacker-names, --attacker-records or both")
    enc = read_encodings(path)
    document = enc.meta.get("schema")
    if not isinstance(document, dict):
        raise InputError(f"{path}: the file carries no schema, which the audit needs")
    schema = parse_schema(document, str(enc.meta.get("schema_name", "schema")))
    names: NameList = {}
    if names_path is not None:
        names = read_names(Path(names_path), schema)
        if not names:
            raise InputError(
                f"{names_path}: no names for any name field of schema "
                f"'{schema.name}' ({', '.join(name_fields(schema))})"
            )
    records = (
        graph_attack.read_attacker_records(attacker_records, schema)
        if attacker_records is not None
        else None
    )
    truth = read_truth(Path(truth_path), schema, enc.rows) if truth_path else None
    attacks = []
    if names:
        attacks += [
            frequency_attack(enc, schema, names),
            pattern_mining_attack(enc, schema, names, sample=sample),
        ]
    if records is not None:
        attacks.append(graph_attack.graph_matching_attack(enc, schema, records))
    scored = [score_attack(a, truth, schema, len(enc)) for a in attacks]
    knows = ["schema", "encodings"]
    knows += ["name-frequency list"] if names else []
    knows += ["plaintext records (graph matching)"] if records is not None else []
    attacker: dict[str, Any] = {"knows": knows}
    if names_path is not None:
        attacker |= {"names_file": str(names_path), "name_fields": sorted(names)}
    if records is not None:
        attacker |= {
            "records_file": str(attacker_records),
            "records": len(records),
            "known_rows": int((records.known_rows >= 0).sum()),
        }
    report: dict[str, Any] = {
        "file": str(path),
        "schema": schema.name,
        "hardening": document.get("pprl", {}).get("hardening", {}),
        "attacker": attacker,
        "leakage": bit_leakage(enc, schema, names),
        "attacks": scored,
        "caveat": CAVEAT,
    }
    if truth is not None:
        if names:
            report["baseline_most_frequent_name_accuracy"] = baseline(truth, names)
        if records is not None:
            report["attacker_records_cover_rate"] = attacker_coverage(truth, records, schema)
        report["max_reidentified_rate"] = max(s["reidentified_rate"] for s in scored)
    return report


def _hardening_text(hardening: dict[str, Any]) -> str:
    """``blip epsilon=3, salt field=date_of_birth`` for a schema's hardening settings."""
    if not hardening:
        return "none"
    parts = []
    for method, settings in hardening.items():
        if isinstance(settings, dict) and settings:
            parts.append(method + " " + " ".join(f"{k}={v}" for k, v in settings.items()))
        else:
            parts.append(str(method))
    return ", ".join(parts)


def summary_lines(report: dict[str, Any]) -> list[str]:
    """Human-readable lines of an audit report (no secrets: the audit never has one)."""
    lines = [
        f"audit of {report['file']} (schema {report['schema']}, hardening "
        f"{_hardening_text(report['hardening'])})"
    ]
    lk = report["leakage"]
    lines.append("leakage: " + ", ".join(f"{k}={v}" for k, v in lk.items()))
    for a in report["attacks"]:
        text = f"attack {a['attack']}: {a['records_claimed']} records claimed"
        if "reidentified_rate" in a:
            text += f", {a['reidentified']} re-identified ({100 * a['reidentified_rate']:.2f}%)"
        if a["attack"] == "graph_matching":
            text += (
                f" (attacker holds {a['attacker_records']} records, "
                f"{a['known_rows']} of them with a known row)"
            )
        lines.append(text)
    if "attacker_records_cover_rate" in report:
        lines.append(
            f"the attacker's records hold the true name of "
            f"{100 * report['attacker_records_cover_rate']:.1f}% of the file's records "
            "(the most graph matching can re-identify)"
        )
    lines.append(report["caveat"])
    return lines
