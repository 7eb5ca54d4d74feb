"""Which CSV column holds which schema field: Japanese header aliases and their rules.

A Japanese export names its columns in Japanese (``個人番号``, ``姓``, ``生年月日``…), not
with the schema's canonical field names. :data:`ALIASES` is the one table of header
names recognised out of the box (documented in docs/schema.md). A field's column is,
in this order of precedence:

1. the header named by an explicit ``--column field=HEADER``;
2. a header exactly equal to the canonical field name (``my_number``);
3. the one header whose normalized form (:func:`normalize_header`: NFKC, spaces
   including U+3000 removed, case-folded, BOM removed) equals the normalized field name
   or one of its aliases. Two such headers for one field are an error naming both.

A header claimed by an explicit ``--column`` is not matched to another field by alias.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

from pprl.errors import InputError
from pprl.labels import shown

#: canonical field -> header names recognised for it (matched after normalize_header)
ALIASES: dict[str, tuple[str, ...]] = {
    "my_number": (
        "個人番号",
        "マイナンバー",
        "個人番号（マイナンバー）",
        "マイナンバー（個人番号）",
    ),
    "family_name_kanji": ("姓", "氏", "姓（漢字）", "氏（漢字）"),
    "given_name_kanji": ("名", "名（漢字）"),
    "family_name_kana": (
        "姓カナ",
        "姓（カナ）",
        "セイ",
        "氏カナ",
        "氏（カナ）",
        "姓フリガナ",
        "姓（フリガナ）",
        "フリガナ（姓）",
    ),
    "given_name_kana": (
        "名カナ",
        "名（カナ）",
        "メイ",
        "名フリガナ",
        "名（フリガナ）",
        "フリガナ（名）",
    ),
    # a whole name in one column, split into the two fields above (pprl.fullname)
    "full_name_kanji": (
        "氏名",
        "氏名（漢字）",
        "漢字氏名",
        "氏名漢字",
        "名前",
        "お名前",
        "被保険者氏名",
    ),
    "full_name_kana": (
        "氏名カナ",
        "氏名（カナ）",
        "カナ氏名",
        "氏名フリガナ",
        "氏名（フリガナ）",
        "フリガナ",
        "フリガナ氏名",
        "ふりがな",
        "氏名ふりがな",
        "氏名（ふりがな）",
        "よみがな",
        "ヨミガナ",
        "カナ",
        "名前カナ",
        "お名前カナ",
        "被保険者氏名カナ",
    ),
    "date_of_birth": ("生年月日",),
    "sex": ("性別",),
    "postcode": ("郵便番号", "〒"),
    "address": ("住所",),
    "account_holder_kana": (
        "口座名義",
        "口座名義カナ",
        "口座名義（カナ）",
        "口座名義人",
        "口座名義人カナ",
        "名義人カナ",
    ),
}

SHOWN_HEADERS = 20  # headers listed in a missing-column error before "(+N more)"


def normalize_header(text: str) -> str:
    """``text`` as headers are compared: BOM removed, NFKC (full-width brackets and
    half-width kana become their usual forms), every space removed (U+3000 too),
    case-folded."""
    text = unicodedata.normalize("NFKC", text.replace("\ufeff", ""))
    return "".join(ch for ch in text if not ch.isspace()).casefold()


_ALIAS_FIELD: dict[str, str] = {
    normalize_header(alias): name for name, aliases in ALIASES.items() for alias in aliases
}


def alias_field(header: str) -> str | None:
    """The canonical field ``header`` is an alias of (None: none)."""
    return _ALIAS_FIELD.get(normalize_header(header))


def shown_headers(header: Sequence[str], limit: int = SHOWN_HEADERS) -> str:
    """The headers of a file for an error message: each escaped and cut, at most
    ``limit`` of them."""
    text = ", ".join(shown(h) for h in header[:limit])
    if len(header) > limit:
        text += f", … (+{len(header) - limit} more)"
    return text or "none"


class HeaderMatcher:
    """Finds the header of each schema field in one file (see the module docstring)."""

    def __init__(
        self, path: Path | str, header: Sequence[str], column_map: Mapping[str, str]
    ) -> None:
        self.path = path
        self.header = tuple(header)
        self.column_map = dict(column_map)
        self.unmatched_explicit: dict[str, str] = {}  # field -> --column header not found
        explicit = {self._explicit(name, actual) for name, actual in column_map.items()}
        self._claimed = {h for h in explicit if h is not None}

    def _explicit(self, name: str, actual: str) -> str | None:
        """The header ``--column name=actual`` names: exact, else the one header equal
        after normalization; None (remembered for the error message) if there is none."""
        if actual in self.header:
            return actual
        close = [h for h in self.header if normalize_header(h) == normalize_header(actual)]
        if len(close) == 1:
            return close[0]
        self.unmatched_explicit[name] = actual
        return None

    def find(self, name: str) -> str | None:
        """The header holding field ``name``, or None if the file has none."""
        if name in self.column_map:
            return self._explicit(name, self.column_map[name])
        if name in self.header:
            return name
        wanted = {normalize_header(name)} | {normalize_header(a) for a in ALIASES.get(name, ())}
        found = [h for h in self.header if h not in self._claimed and normalize_header(h) in wanted]
        if len(found) > 1:
            raise InputError(
                f"{self.path}: headers {shown(found[0])} and {shown(found[1])} both name "
                f"schema field '{name}'; choose one with --column {name}=HEADER"
            )
        return found[0] if found else None


def check_column_map(
    column_map: Mapping[str, str], known: Collection[str], schema_name: str
) -> None:
    """Refuse ``--column`` mappings whose left side is not a field of the schema, with a
    suggestion when the mapping looks reversed (``HEADER=field``) or names an alias."""
    for left in sorted(set(column_map) - set(known)):
        right = column_map[left]
        if right in known:
            header = left if left.isprintable() and len(left) <= 64 else shown(left)
            raise InputError(
                f"--column {shown(left)}={shown(right)}: {shown(left)} is not a field of "
                f"schema '{schema_name}' but '{right}' is (the field comes first, your "
                f"header second): did you mean --column {right}={header}?"
            )
        target = alias_field(left)
        hint = (
            f"; {shown(left)} is a header name recognised for '{target}': did you mean "
            f"--column {target}={right}?"
            if target in known
            else ""
        )
        raise InputError(
            f"--column {shown(left)}=…: {shown(left)} is not a field of schema "
            f"'{schema_name}' (its fields: {', '.join(sorted(known))}){hint}"
        )
