"""Old and variant kanji folded to their common form (髙 → 高, 﨑 → 崎, 邊 → 辺).

The table lives in ``pprl/data/kanji_variants.tsv`` (see its header and
docs/normalization.md for sources and the folding policy). NFKC already folds the
CJK compatibility ideographs; this table covers the unified ideographs NFKC leaves alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from importlib import resources

_TABLE = "kanji_variants.tsv"


def _read_table() -> list[tuple[str, str, str]]:
    """Parse the TSV into (variant, canonical, kind) rows, skipping comments and blanks."""
    text = resources.files("pprl").joinpath("data", _TABLE).read_text(encoding="utf-8")
    rows = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        variant, canonical, kind, *_ = line.split("\t")
        rows.append((variant, canonical, kind))
    return rows


@cache
def variant_pairs() -> tuple[tuple[str, str, str], ...]:
    """All (variant, canonical, kind) rows of the variant-kanji table, read once."""
    return tuple(_read_table())


@cache
def _translation() -> dict[int, str]:
    """The ``str.translate`` table built from ``variant_pairs``."""
    return {ord(variant): canonical for variant, canonical, _ in variant_pairs()}


@cache
def _variant_search() -> Callable[[str], re.Match[str] | None]:
    """A search for any variant kanji of the table (cheaper than translating)."""
    return re.compile("[" + "".join(re.escape(v) for v, _, _ in variant_pairs()) + "]").search


def fold_variants(value: str) -> str:
    """Replace each variant kanji in ``value`` by its common form.

    The table is one-step (no canonical form is itself a variant), so the fold is
    idempotent.
    """
    if _variant_search()(value) is None:  # the common case: nothing to fold
        return value
    return value.translate(_translation())
