"""The insurer's claims as a typical Japanese system export (``pprl synth --export-layout``).

Real exports rarely look like the schema: CP932, Japanese headers, the holder's own
record ID (被保険者番号), the full name in one column (with a full-width space or none),
the kana name in half-width katakana, dates in the Japanese era form (昭和60年3月4日), sex
as 男/女. This file holds the same records as ``insurer.csv``, row for row, in that
layout, so the real-export path (encode with no ``--column``, verify, worklist) can be
tried end to end; ``truth.csv`` scores it with ``pprl evaluate --claims-file insurer.csv``.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

import jaconv

EXPORT_FILE = "insurer-export.csv"
EXPORT_HEADER = [
    "被保険者番号",
    "個人番号",
    "氏名",
    "氏名カナ",
    "生年月日",
    "性別",
    "郵便番号",
    "住所",
]
SPACE_SHARE = 0.5  # full names written with a full-width space; the rest with none
_ERAS = ((2019, 5, 1, "令和"), (1989, 1, 8, "平成"), (1926, 12, 25, "昭和"), (1912, 7, 30, "大正"))


def wareki(iso: str) -> str:
    """``1985-03-04`` as ``昭和60年3月4日`` (the first year as 元年); other forms unchanged
    (synth already writes some dates as people do)."""
    parts = iso.split("-")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return iso
    y, m, d = (int(p) for p in parts)
    for ey, em, ed, era in _ERAS:
        if (y, m, d) >= (ey, em, ed):
            n = y - ey + 1
            return f"{era}{'元' if n == 1 else n}年{m}月{d}日"
    return iso


def write_export(src: Path, dst: Path, seed: int) -> int:
    """Write ``dst`` (CP932, CRLF) from the claims CSV ``src``; returns the record count.

    Deterministic for ``seed``. Record IDs are ``10000000`` + the 0-based row.
    Characters CP932 cannot hold are written as ``?`` (as Windows exports do).
    """
    rng = random.Random(seed)
    n = 0
    with (
        open(src, encoding="utf-8", newline="") as fh,
        open(dst, "w", encoding="cp932", errors="replace", newline="") as out,
    ):
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(EXPORT_HEADER)
        for row in csv.DictReader(fh):
            sep = "\u3000" if rng.random() < SPACE_SHARE else ""
            kana = f"{row['family_name_kana']} {row['given_name_kana']}".strip()
            writer.writerow(
                [
                    f"{10_000_000 + n:08d}",
                    row["my_number"],
                    f"{row['family_name_kanji']}{sep}{row['given_name_kanji']}",
                    jaconv.z2h(kana, kana=True, ascii=False, digit=False),
                    wareki(row["date_of_birth"]),
                    {"M": "男", "F": "女"}.get(row["sex"], row["sex"]),
                    row["postcode"],
                    row["address"],
                ]
            )
            n += 1
    return n
