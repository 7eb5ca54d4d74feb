"""CSV files that are safe to open in a spreadsheet.

Every CSV pprl writes goes through :func:`write_csv`: text cells starting with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return get a leading apostrophe, so a
spreadsheet shows them as text instead of running them as formulas (CSV injection,
OWASP). Numeric columns are written as numbers, untouched.
"""

from __future__ import annotations

import codecs
import os
import re

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

FORMULA_PATTERN = r"^[=+\-@\t\r]"


def neutralize(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Text cells that a spreadsheet would run as a formula, prefixed with ``'``."""
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        return column
    risky = pc.match_substring_regex(column, FORMULA_PATTERN)
    if not pc.any(risky).as_py():
        return column
    quoted = pc.binary_join_element_wise(pa.scalar("'", column.type), column, "")
    return pc.if_else(risky, quoted, column)


def safe_name(name: str) -> str:
    """A column title a spreadsheet would run as a formula, prefixed with ``'`` (titles
    can come from a party's own CSV header, e.g. in ``pprl worklist``)."""
    return "'" + name if re.match(FORMULA_PATTERN, name) else name


def safe_table(table: pa.Table) -> pa.Table:
    """``table`` with every text column and column title neutralized (see
    :func:`neutralize`)."""
    return pa.Table.from_arrays(
        [neutralize(table.column(i)) for i in range(table.num_columns)],
        names=[safe_name(name) for name in table.column_names],
    )


def write_csv(table: pa.Table, path: str | os.PathLike[str], *, bom: bool = False) -> None:
    """Write ``table`` as CSV with a header row, text cells neutralized; ``bom`` starts
    the file with UTF-8's byte-order mark, which Excel needs to read UTF-8 (without it
    Excel on a Japanese system decodes the file as CP932)."""
    if not bom:
        pacsv.write_csv(safe_table(table), os.fspath(path))
        return
    with open(path, "wb") as fh:
        fh.write(codecs.BOM_UTF8)
        pacsv.write_csv(safe_table(table), fh)
