"""Which CSV column feeds each schema field: header names, Japanese aliases, explicit
``--column`` mappings and fields built from several columns.

:func:`resolve_columns` is the one place a party's own layout is mapped onto a schema;
every missing field is named in one error with the headers present.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pprl.encode.factorize import Factorized
from pprl.errors import InputError
from pprl.headers import HeaderMatcher, check_column_map, shown_headers
from pprl.labels import shown
from pprl.read import CsvData
from pprl.schema import Schema

__all__ = ["matched_column_map", "resolve_columns"]


def resolve_columns(
    data: CsvData, schema: Schema, column_map: dict[str, str]
) -> dict[str, Sequence[str]]:
    """Find the input column for every schema field (and the link key) by header name.

    ``column_map`` maps canonical field names to the CSV's own header names; other
    fields are found by their canonical name or a Japanese header alias
    (:mod:`pprl.headers`). A field with ``sources`` in the schema extension (e.g. a bank
    holder name made of family and given name) is built by joining those columns with a
    space. Ignored fields may be absent. Extra CSV columns are ignored. Every missing
    field is named in one error, with the headers present.
    """
    needed = list(schema.fields)
    if schema.link_key and schema.link_key not in needed:
        needed.append(schema.link_key)
    known = set(needed) | {s for parts in schema.sources.values() for s in parts}
    check_column_map(column_map, known, schema.name)
    matcher = HeaderMatcher(data.path, data.header, column_map)
    resolved: dict[str, Sequence[str]] = {}
    missing: list[str] = []
    for name in needed:
        actual = matcher.find(name)
        if actual is not None:
            resolved[name] = data.columns[actual]
            continue
        parts = [matcher.find(s) for s in schema.sources.get(name, ())]
        if parts and None not in parts:
            resolved[name] = _joined([data.columns[p] for p in parts if p is not None])
        elif name in schema.ignored and name != schema.link_key:
            resolved[name] = Factorized([""], np.zeros(data.nrows, dtype=np.int32))
        else:
            missing.append(name)
    if missing:
        raise InputError(_missing_columns_message(data, schema, missing, matcher))
    return resolved


def _joined(cols: list[Sequence[str]]) -> Sequence[str]:
    """The non-empty values of several columns joined with a space, record by record;
    factorized columns are joined once per distinct combination of values."""
    if not all(isinstance(c, Factorized) for c in cols):
        return [" ".join(v for v in vs if v) for vs in zip(*cols, strict=True)]
    facs = [c for c in cols if isinstance(c, Factorized)]
    codes = np.stack([c.inv.astype(np.int64) for c in facs], axis=1)
    combos, inverse = np.unique(codes, axis=0, return_inverse=True)
    uniq = [
        " ".join(v for v in (c.uniq[j] for c, j in zip(facs, combo, strict=True)) if v)
        for combo in combos.tolist()
    ]
    return Factorized(uniq, inverse.reshape(-1))


def matched_column_map(data: CsvData, schema: Schema, column_map: dict[str, str]) -> dict[str, str]:
    """{field: header} for the schema fields (and link key) that :func:`resolve_columns`
    finds in ``data`` by name, explicit mapping or Japanese alias."""
    matcher = HeaderMatcher(data.path, data.header, column_map)
    names = [*schema.fields, *([schema.link_key] if schema.link_key else [])]
    return {name: h for name in names if (h := matcher.find(name)) is not None}


def _missing_columns_message(
    data: CsvData, schema: Schema, missing: list[str], matcher: HeaderMatcher
) -> str:
    """One line naming every missing field, the headers present and how to map one."""

    def what(name: str) -> str:
        text = f"'{name}'"
        if name == schema.link_key:
            text += " (the link key)"
        if name in schema.sources:
            text += f" (or its parts {' and '.join(repr(s) for s in schema.sources[name])})"
        if name in matcher.unmatched_explicit:
            text += f" (--column {name}={shown(matcher.unmatched_explicit[name])} names no header)"
        return text

    noun = "column for schema field" if len(missing) == 1 else "columns for schema fields"
    return (
        f"{data.path}: missing {noun} {', '.join(what(m) for m in missing)} required by "
        f"schema '{schema.name}'; headers present: {shown_headers(data.header)} "
        "(map a header with --column FIELD=HEADER; Japanese header names recognised out "
        "of the box are listed in docs/schema.md)"
    )
