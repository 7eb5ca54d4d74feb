"""Excel workbooks that are safe and readable: one sheet, header frozen and filtered.

Every ``.xlsx`` pprl writes goes through :func:`write_xlsx` (openpyxl, write-only mode,
so memory stays flat for long sheets):

* the header row is bold, frozen and carries an auto-filter over the whole table;
* text is stored as text, never as a formula or a number: ``=SUM(A1)`` stays those
  characters, ``012345678901`` keeps its leading zero (columns named in
  ``text_columns`` hold text only);
* characters XML cannot carry (C0 controls but tab, CR, LF) are written as visible
  escapes (``\\x1b``); a cell longer than Excel's 32,767 characters is cut with ``…``;
* column widths follow the content (East Asian wide characters count double), between
  :data:`MIN_WIDTH` and :data:`MAX_WIDTH`.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Callable, Sequence

from pprl.errors import InputError

MAX_CELL = 32_767
MAX_ROWS = 1_048_576
MAX_COLUMNS = 16_384
MIN_WIDTH = 6
MAX_WIDTH = 60
WIDTH_SAMPLE = 2_000  # rows looked at for column widths
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def cell_text(value: str) -> str:
    """``value`` as a cell can hold it: illegal XML characters escaped, cut to fit."""
    if _ILLEGAL.search(value):
        value = _ILLEGAL.sub(lambda m: f"\\x{ord(m.group()):02x}", value)
    if len(value) > MAX_CELL:
        value = value[: MAX_CELL - 1] + "…"
    return value


def display_width(value: object) -> int:
    """Columns ``value`` takes on screen: wide and full-width characters count 2."""
    text = str(value)
    if text.isascii():
        return len(text)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def column_letter(index: int) -> str:
    """Spreadsheet column name of a 0-based index: 0 -> A, 26 -> AA."""
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(65 + rest) + name
    return name


def _cell(value: object, text: bool, as_text: Callable[[object], object]) -> object:
    """``value`` as appended: plain text as it is (openpyxl stores it as text), text
    that openpyxl would read as a formula, that needs escaping or cutting, and anything
    in a text column as an explicit text cell; numbers as numbers."""
    if isinstance(value, str):
        if value[:1] == "=" or len(value) > MAX_CELL or _ILLEGAL.search(value):
            return as_text(value)
        return value
    return as_text(value) if text else value


def write_xlsx(
    header: Sequence[str],
    rows: Sequence[Sequence[int | float | str]],
    path: str | os.PathLike[str],
    *,
    text_columns: Sequence[int] = (),
    sheet: str = "sheet",
) -> None:
    """Write one sheet: ``header`` then ``rows`` (numbers stay numbers, text stays text;
    ``text_columns`` are written as text whatever they hold)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    if len(rows) + 1 > MAX_ROWS:
        raise InputError(
            f"{len(rows):,} rows do not fit in one Excel sheet ({MAX_ROWS - 1:,}); write a "
            ".csv instead"
        )
    if len(header) > MAX_COLUMNS:
        raise InputError(f"{len(header):,} columns do not fit in an Excel sheet ({MAX_COLUMNS:,})")
    text = set(text_columns)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(sheet)
    ws.freeze_panes = "A2"
    for i, title in enumerate(header):
        widest = max(
            [display_width(title) + 3, *(display_width(r[i]) for r in rows[:WIDTH_SAMPLE])]
        )
        ws.column_dimensions[column_letter(i)].width = max(MIN_WIDTH, min(MAX_WIDTH, widest + 2))

    def as_text(value: object) -> WriteOnlyCell:
        c = WriteOnlyCell(ws, value=cell_text(str(value)))
        c.data_type = "s"  # never a formula, never a number
        return c

    bold = Font(bold=True)
    titles = []
    for title in header:
        c = as_text(title)
        c.font = bold
        titles.append(c)
    ws.append(titles)
    for row in rows:
        ws.append([_cell(v, i in text, as_text) for i, v in enumerate(row)])
    ws.auto_filter.ref = f"A1:{column_letter(max(len(header) - 1, 0))}{len(rows) + 1}"
    wb.save(os.fspath(path))
