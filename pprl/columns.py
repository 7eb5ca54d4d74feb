"""Which CSV column feeds each schema field: header names, Japanese aliases, explicit
``--column`` mappings, fields built from several columns and family/given names split
from one full-name column (:mod:`pprl.fullname`).

:func:`resolve_columns` is the one place a party's own layout is mapped onto a schema;
every missing field is named in one error with the headers present.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pprl.encode.factorize import Factorized
from pprl.errors import InputError
from pprl.fullname import FULL_NAMES, FullName, split_full_names
from pprl.headers import HeaderMatcher, check_column_map, shown_headers
from pprl.labels import shown
from pprl.read import CsvData
from pprl.schema import Schema

__all__ = ["matched_column_map", "resolve_columns"]

_NAME_PARTS = {part: fn for fn in FULL_NAMES for part in (fn.family, fn.given)}


def resolve_columns(
    data: CsvData, schema: Schema, column_map: dict[str, str]
) -> dict[str, Sequence[str]]:
    """Find the input column for every schema field (and the link key) by header name.

    ``column_map`` maps canonical field names to the CSV's own header names; other
    fields are found by their canonical name or a Japanese header alias
    (:mod:`pprl.headers`). A field with ``sources`` in the schema extension (e.g. a bank
    holder name made of family and given name) is built by joining those columns with a
    space. A family/given name pair may come from one full-name column (氏名, 氏名カナ:
    ``full_name_kanji``, ``full_name_kana``), split by :mod:`pprl.fullname`; split
    columns win over a full-name column found by alias, an explicit
    ``--column full_name_kanji=…`` wins over split columns found by alias. Ignored
    fields may be absent. Extra CSV columns are ignored. Every missing field is named
    in one error, with the headers present.
    """
    needed = list(schema.fields)
    if schema.link_key and schema.link_key not in needed:
        needed.append(schema.link_key)
    known = set(needed) | {s for parts in schema.sources.values() for s in parts}
    known |= {fn.name for fn in FULL_NAMES if {fn.family, fn.given} & known}
    check_column_map(column_map, known, schema.name)
    names = _Names(data, HeaderMatcher(data.path, data.header, column_map), column_map)
    resolved: dict[str, Sequence[str]] = {}
    missing: list[str] = []
    for name in needed:
        column = names.column(name)
        if column is not None:
            resolved[name] = column
            continue
        sources = schema.sources.get(name, ())
        whole = names.whole_name(sources)
        parts = [names.column(s) for s in sources] if whole is None else []
        if whole is not None:
            resolved[name] = whole
        elif parts and all(p is not None for p in parts):
            cols = [p for p in parts if p is not None]
            resolved[name] = _joined(cols)
        elif name in schema.ignored and name != schema.link_key:
            resolved[name] = Factorized([""], np.zeros(data.nrows, dtype=np.int32))
        else:
            missing.append(name)
    if missing:
        raise InputError(_missing_columns_message(data, schema, missing, names.matcher))
    return resolved


class _Names:
    """Columns of one file by field, with family/given names split from a full-name
    column where that applies (see :func:`resolve_columns`)."""

    def __init__(self, data: CsvData, matcher: HeaderMatcher, column_map: dict[str, str]) -> None:
        self.data = data
        self.matcher = matcher
        self.column_map = column_map
        self._split: dict[str, tuple[Sequence[str], Sequence[str]]] = {}
        self._readers: dict[str, str] = {}  # header -> the name field reading it

    def column(self, name: str) -> Sequence[str] | None:
        """The column of field ``name`` (None: the file has none)."""
        fn = _NAME_PARTS.get(name)
        if fn is not None and self._use_full_name(fn):
            whole = self.matcher.find(fn.name)
            assert whole is not None  # checked by _use_full_name
            self._check_one_reader(fn.name, whole)
            family, given = self._split_column(fn)
            return family if name == fn.family else given
        header = self.matcher.find(name)
        if header is None:
            return None
        if fn is not None:
            self._check_one_reader(name, header)
        return self.data.columns[header]

    def whole_name(self, sources: Sequence[str]) -> Sequence[str] | None:
        """The full-name column when ``sources`` is exactly its family and given name
        (a bank holder name): used as it is, no split needed."""
        for fn in FULL_NAMES:
            if tuple(sources) == (fn.family, fn.given) and self._use_full_name(fn):
                header = self.matcher.find(fn.name)
                return None if header is None else self.data.columns[header]
        return None

    def _use_full_name(self, fn: FullName) -> bool:
        """Whether ``fn``'s family and given name come from its full-name column."""
        whole = self.matcher.find(fn.name)
        if whole is None:
            return False
        path = self.data.path
        if fn.name in self.column_map:
            both = [f for f in (fn.family, fn.given) if f in self.column_map]
            if both:
                raise InputError(
                    f"{path}: --column {fn.name}={shown(whole)} and --column "
                    f"{both[0]}={shown(self.column_map[both[0]])} both given: map either "
                    f"the full name or its parts '{fn.family}' and '{fn.given}'"
                )
            return True
        family, given = self.matcher.find(fn.family), self.matcher.find(fn.given)
        if (family is None) != (given is None):
            have, lack = (fn.family, fn.given) if given is None else (fn.given, fn.family)
            raise InputError(
                f"{path}: header {shown(family or given or '')} holds '{have}' but no "
                f"header holds '{lack}', and {shown(whole)} holds a full name "
                f"('{fn.name}'): map the missing part with --column {lack}=HEADER, or "
                f"split the full name with --column {fn.name}={_as_arg(whole)}"
            )
        return family is None

    def _split_column(self, fn: FullName) -> tuple[Sequence[str], Sequence[str]]:
        if fn.name not in self._split:
            header = self.matcher.find(fn.name)
            assert header is not None  # checked by _use_full_name
            self._split[fn.name] = split_full_names(self.data.columns[header])
        return self._split[fn.name]

    def _check_one_reader(self, name: str, header: str) -> None:
        """Refuse two name fields reading one column (``--column family_name_kanji=氏名
        --column given_name_kanji=氏名`` would hash the whole name twice)."""
        other = self._readers.setdefault(header, name)
        if other == name:
            return
        fn = _NAME_PARTS.get(name)
        pair = fn is not None and {other, name} == {fn.family, fn.given}
        hint = (
            f"a full name in one column is split by pprl: map it with --column "
            f"{fn.name if fn else name}={_as_arg(header)} instead"
            if pair
            else "map each field to its own column"
        )
        raise InputError(
            f"{self.data.path}: fields '{other}' and '{name}' both read the column "
            f"{shown(header)}; {hint}"
        )


def _as_arg(header: str) -> str:
    """``header`` as written after ``--column FIELD=`` in a suggestion."""
    return header if header.isprintable() and len(header) <= 64 else shown(header)


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
        whole = None
        if name in schema.sources:
            text += f" (or its parts {' and '.join(repr(s) for s in schema.sources[name])}"
            pair = [fn for fn in FULL_NAMES if (fn.family, fn.given) == schema.sources[name]]
            whole = pair[0].name if pair else None
            text += f", or a full-name column '{whole}')" if whole else ")"
        fn = _NAME_PARTS.get(name)
        if fn is not None and (name == fn.given or fn.given not in missing):
            both = fn.family in missing and fn.given in missing
            text += f" (or{', for both,' if both else ''} a full-name column '{fn.name}')"
            whole = fn.name
        if whole in matcher.unmatched_explicit:
            text += (
                f" (--column {whole}={shown(matcher.unmatched_explicit[whole])} names no header)"
            )
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
