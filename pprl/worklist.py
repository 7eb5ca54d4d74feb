"""Local worklists: a party's result view joined back onto its own CSV, for its staff.

``pprl worklist`` runs at the data holder. The matcher's findings name a party's
records only by their 0-based data-row number; this module turns a party's view
(``parties/<label>.csv`` or ``.parquet`` from ``pprl verify``) into rows its staff can
act on: the record's 1-based line in the CSV file (the header is line 1; blank lines
and line breaks inside quoted fields counted, :func:`data_lines`), every column of the
party's own CSV in its order, then status, reason and the next step in plain Japanese
or English (:data:`TEXTS`).

Before joining, the CSV is checked against the local sidecar ``pprl encode`` wrote
(:mod:`pprl.sidecar`): same data-row count, same blake3 digest of its bytes, the view's
party label and role among the encodings made from it. Rows at or past the CSV's row
count are the party's decoy records (:mod:`pprl.privacy.decoys`) and are dropped.

Rows needing action come first: ``suspect``, then ``unknown_number`` and
``invalid_number``, then ``review`` (:data:`ORDER`); ``confirmed`` rows only on request
(``include_all``); a view with case ids adds each claim's case. The register holder's
reference view gives the register variant: one row per case, the claimed record (its
line and every register column) beside the likely true owner's, then the status, the
next step and the case id to quote to the matcher's operator (docs/protocol.md says
what the case ids reveal).

Public API::

    read_view(path, max_records) -> View
    data_lines(path, codec, rows) -> (line numbers, data rows in the file)
    build_worklist(results, data, ...) -> Worklist
    write_worklist(worklist, out, force=..., inputs=...) -> Path
    default_lang(environ) -> "ja" | "en"
"""

from __future__ import annotations

import codecs
import csv
import io
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pprl.errors import InputError
from pprl.labels import shown
from pprl.read import iter_csv, require_regular_file
from pprl.report.vocabulary import REASON_MEANINGS
from pprl.resultset import file_digest
from pprl.sidecar import (
    EncodingEntry,
    Sidecar,
    check_csv,
    check_encoding,
    default_path,
    read_sidecar,
)
from pprl.verify.model import REASONS, STATUSES, Reason, Status
from pprl.verify.outputs import CASE_PATTERN, OTHER_RECORD_CONFLICT

__all__ = [
    "LANGS",
    "ORDER",
    "TEXTS",
    "View",
    "Worklist",
    "build_worklist",
    "data_lines",
    "default_lang",
    "read_view",
    "write_worklist",
]

LANGS = ("ja", "en")

#: Statuses in worklist order: most urgent first. ``confirmed`` needs no action.
ORDER: tuple[Status, ...] = (
    Status.SUSPECT,
    Status.UNKNOWN_NUMBER,
    Status.INVALID_NUMBER,
    Status.REVIEW,
    Status.CONFIRMED,
)
NEEDS_ACTION = frozenset(s.label for s in ORDER if s is not Status.CONFIRMED)
ROLES = ("claimed", "likely_true_owner")

CLAIMS_COLUMNS = ("party", "claims_file", "claim_row", "status", "reason")
REFERENCE_COLUMNS = ("party", "ref_row", "role", "status", "case")
REFERENCE_ROWS_PER_RECORD = 64
"""A bound on a register row's lines in a reference view, to refuse a file far larger
than a view can be: a row is in one case per other row and status of the claims naming
it, a handful in practice."""
VIEW_BYTES_PER_ROW = 2048  # a generous bound on one view line (label, file name, codes)
VIEW_BYTES_SLACK = 1 << 20
READ_CHUNK_ROWS = 200_000
SCAN_BLOCK = 1 << 24
BYTE_SAFE_CODECS = frozenset({"utf-8", "utf-8-sig", "cp932", "shift_jis", "euc_jp", "ascii"})
"""Codecs whose multibyte characters never contain the bytes of ``"``, CR or LF: line
numbers are found on the bytes (:func:`data_lines`)."""


# ------------------------------------------------------------------ plain-language texts
@dataclass(frozen=True)
class Texts:
    """Everything a worklist says, in one language."""

    line: str
    status: str
    reason: str
    next_step: str
    case: str
    sides: Mapping[str, str]
    statuses: Mapping[str, str]
    reasons: Mapping[str, str]
    steps: Mapping[str, str]
    case_steps: Mapping[str, str]
    lower_priority: str
    joiner: str
    end: str = ""
    colon: str = ": "


_REASONS_EN = {r.label: text for r, text in REASON_MEANINGS.items()}
_REASONS_EN[OTHER_RECORD_CONFLICT] = (
    "the link conflicts with a record of another party (the matcher's operator holds the details)"
)

TEXTS: dict[str, Texts] = {
    "en": Texts(
        line="line",
        status="status",
        reason="reason",
        next_step="next step",
        case="case",
        sides={"claimed": "claimed", "likely_true_owner": "likely owner"},
        statuses={
            "suspect": "suspect: likely a wrong link",
            "unknown_number": "number not in the register",
            "invalid_number": "invalid or missing number",
            "review": "review",
            "confirmed": "confirmed",
        },
        reasons=_REASONS_EN,
        steps={
            "suspect": "Check this record (name, date of birth, the number as typed) against "
            "the person's documents; if it does not hold, ask the person for proof of their "
            "number and correct the link.",
            "unknown_number": "Check the number for typing errors against the source "
            "document; if it is as written, ask the person for their number.",
            "invalid_number": "Obtain the correct number from the person or the source "
            "document and correct the record.",
            "review": "Lower priority: most are correct links after a change of name or "
            "address. Check the record when convenient; ask the person if in doubt.",
            "confirmed": "No action needed.",
        },
        case_steps={
            "both": "Another party's record carries the number of the claimed record but "
            "looks more like the likely owner. Check both records (name, date of birth, "
            "number); quote the case to the matcher's operator to reach the party holding "
            "the claim.",
            "claimed": "Another party's record carries this record's number but does not "
            "match it well. Check that this record is current and correct; quote the case "
            "to the matcher's operator to reach the party holding the claim.",
            "likely_true_owner": "Another party's record, whose number is missing, invalid "
            "or not in the register, looks like this person. Check this record; quote the "
            "case to the matcher's operator to bring the two parties together.",
        },
        lower_priority="Lower priority: most are correct links after a change of name or address. ",
        joiner="; ",
    ),
    "ja": Texts(
        line="行",
        status="状態",
        reason="理由",
        next_step="次の対応",
        case="案件ID",
        sides={"claimed": "番号の指す記録", "likely_true_owner": "本人と思われる記録"},
        statuses={
            "suspect": "誤りの疑い",
            "unknown_number": "台帳にない番号",
            "invalid_number": "無効な番号",
            "review": "要確認",
            "confirmed": "確認済み",
        },
        reasons={
            Reason.MATCH.label: "台帳の記録とよく一致し、ほかに近い記録もありません",
            Reason.WEAK_SCORE.label: "台帳の記録との一致がやや弱い（氏の変更や転居でよく起きます）",
            Reason.LOW_SCORE.label: "台帳の記録とほとんど一致しません",
            Reason.BETTER_MATCH_ELSEWHERE.label: "台帳の別の記録のほうが明らかによく一致します"
            "（本来の本人の可能性）",
            Reason.THIN_EVIDENCE.label: "台帳の別の記録も同じくらい一致します"
            "（双子、同姓同名で生年月日も同じ人など）",
            Reason.NUMBER_SHARED_BY_DIFFERENT_PEOPLE.label: "同じ番号が、別人と思われる複数の"
            "記録に付いています",
            Reason.PERSON_UNDER_SEVERAL_NUMBERS.label: "同じ人と思われる記録が、別々の番号で"
            "登録されています",
            Reason.ALTERNATIVE_CLAIMED_BY_OTHER_RECORD.label: "よりよく一致する台帳の記録は、"
            "別の記録の番号が指しています",
            Reason.NUMBER_CLAIMED_BY_MANY_RECORDS.label: "一人や一家族ではありえない数の記録が"
            "この番号を使っています（000000000000 などの仮番号？）",
            Reason.NO_REGISTER_RECORD.label: "この番号の記録が台帳にありません",
            Reason.NO_VALID_NUMBER.label: "番号が空欄か、チェックデジットが合いません",
            OTHER_RECORD_CONFLICT: "他の機関の記録と矛盾があります（詳細は照合の運用者が保持）",
        },
        steps={
            "suspect": "この記録（氏名・生年月日・入力した番号）を本人確認書類と照らし合わせて"
            "ください。合わなければ本人に番号の確認書類を求め、紐付けを訂正してください。",
            "unknown_number": "番号を元の書類と照らして入力誤りがないか確認し、書類どおりなら"
            "本人に番号を確認してください。",
            "invalid_number": "本人または元の書類から正しい番号を確認し、記録を訂正してください。",
            "review": "優先度は低め：多くは氏名や住所が変わった正しい紐付けです。手が空いたときに"
            "記録を確認し、疑わしければ本人に確認してください。",
            "confirmed": "対応不要です。",
        },
        case_steps={
            "both": "他の機関の記録が「番号の指す記録」の番号を使っていますが、"
            "「本人と思われる記録」のほうによく似ています。両方の記録（氏名・生年月日・番号）を"
            "確認してください。番号を使っている機関とは、案件IDを伝えて照合の運用者を通じて"
            "連絡できます。",
            "claimed": "他の機関の記録がこの記録の番号を使っていますが、よく一致しません。"
            "この記録が最新で正しいか確認してください。相手の機関とは、案件IDを伝えて照合の"
            "運用者を通じて連絡できます。",
            "likely_true_owner": "番号が空欄・無効・台帳にない他の機関の記録が、この記録の人に"
            "よく似ています。この記録を確認してください。案件IDを伝えて照合の運用者を通じて"
            "双方で確認できます。",
        },
        lower_priority="優先度は低め：多くは氏名や住所が変わった正しい紐付けです。",
        joiner="。",
        end="。",
        colon="：",
    ),
}


def default_lang(environ: Mapping[str, str] | None = None) -> str:
    """``ja`` when the locale (``LC_ALL``, else ``LC_MESSAGES``, else ``LANG``, the first
    that is set) starts with ``ja``; otherwise ``en``."""
    env = os.environ if environ is None else environ
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name, "")
        if value:
            return "ja" if value.lower().startswith("ja") else "en"
    return "en"


def reason_text(codes: str, texts: Texts) -> str:
    """Plain words for a view's ``code;code`` reason (empty when it has none)."""
    text = texts.joiner.join(texts.reasons[c] for c in codes.split(";") if c)
    return text + texts.end if text else ""


# ------------------------------------------------------------------ the result view
@dataclass(frozen=True)
class View:
    """A party's result view, checked: ``kind`` ``claims`` or ``reference``; ``party``
    its label (None for an empty CSV view, which names nobody); ``rows`` the 0-based
    data rows; ``status`` the status labels; ``detail`` the reason codes (claims) or the
    role (reference); ``files`` the claims file of each row (claims views); ``cases``
    the case id of each row ("" none; empty list: a claims view without cases)."""

    path: Path
    kind: str
    party: str | None
    rows: np.ndarray
    status: list[str]
    detail: list[str]
    files: list[str]
    cases: list[str] = field(default_factory=list)

    @property
    def role(self) -> str:
        """The encoding role this view is for: ``claims`` or ``register``."""
        return "claims" if self.kind == "claims" else "register"

    def claims_files(self) -> list[str]:
        return list(dict.fromkeys(self.files))

    def only(self, keep: np.ndarray) -> View:
        idx = np.flatnonzero(keep).tolist()
        return View(
            self.path,
            self.kind,
            self.party,
            self.rows[keep],
            [self.status[i] for i in idx],
            [self.detail[i] for i in idx],
            [self.files[i] for i in idx] if self.files else [],
            [self.cases[i] for i in idx] if self.cases else [],
        )


def _header(path: Path) -> list[str]:
    """The header of a CSV view (its first record), as written by ``pprl verify``."""
    try:
        with open(path, encoding="utf-8-sig", newline="", errors="strict") as fh:
            first = fh.readline(1 << 16)
        return next(csv.reader(io.StringIO(first)), [])
    except UnicodeDecodeError:
        raise InputError(
            f"{path}: not UTF-8; give the result view as pprl verify wrote it"
        ) from None
    except csv.Error as exc:
        raise InputError(f"{path}: malformed header ({exc})") from None


def _read_table(path: Path, max_bytes: int) -> tuple[pa.Table, dict[bytes, bytes]]:
    """The view as a table of text columns (CSV) or as stored (Parquet), with the
    Parquet schema metadata; larger than ``max_bytes``: refused unread."""
    size = path.stat().st_size
    if size > max_bytes:
        raise InputError(
            f"{path}: {size:,} bytes, more than a result view of this file can hold "
            f"({max_bytes:,}); is it the right file?"
        )
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic == b"PAR1":
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise InputError(f"{path}: not a readable Parquet result view ({exc})") from None
        return table, dict(table.schema.metadata or {})
    header = _header(path)
    wanted = [c for c in (*CLAIMS_COLUMNS, *REFERENCE_COLUMNS) if c in header]
    wanted = list(dict.fromkeys(wanted))
    _check_columns(path, header)
    import pyarrow.csv as pacsv

    try:
        table = pacsv.read_csv(
            path,
            convert_options=pacsv.ConvertOptions(
                include_columns=wanted,
                column_types={c: pa.string() for c in wanted},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowException, OSError) as exc:
        text = " ".join(str(exc).split())[:200]
        raise InputError(f"{path}: not a pprl result view ({text})") from None
    return table, {}


def _check_columns(path: Path, header: Sequence[str]) -> str:
    """The view's kind from its columns; missing columns all named at once."""
    need: tuple[str, ...]
    if "claim_row" in header:
        kind, need = "claims", CLAIMS_COLUMNS
    elif "ref_row" in header:
        kind, need = "reference", REFERENCE_COLUMNS
    else:
        raise InputError(
            f"{path}: not a pprl result view (no claim_row or ref_row column; columns: "
            f"{', '.join(shown(h, 30) for h in header[:12]) or 'none'})"
        )
    missing = [c for c in need if c not in header]
    if missing:
        made = (
            " (made by a pprl verify before case ids: run verify again)"
            if missing == ["case"]
            else ""
        )
        raise InputError(f"{path}: {kind} view lacks column(s) {', '.join(missing)}{made}")
    return kind


_FORMULA_QUOTED = r"^'[=+\-@\t\r]"


def _texts(table: pa.Table, name: str, path: Path) -> pa.ChunkedArray:
    """A text column (dictionary-decoded; a spreadsheet-safety ``'`` removed)."""
    col = table.column(name)
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        raise InputError(f"{path}: column {name} must hold text, not {col.type}")
    if col.null_count:
        first = int(np.flatnonzero(pc.is_null(col).to_numpy(zero_copy_only=False))[0])
        raise InputError(f"{path}: line {first + 2}: column {name} is empty")
    quoted = pc.match_substring_regex(col, _FORMULA_QUOTED)
    if pc.any(quoted).as_py():
        col = pc.if_else(quoted, pc.utf8_slice_codeunits(col, 1), col)
    return col


def _first_bad(ok: pa.ChunkedArray | pa.Array) -> int | None:
    bad = np.flatnonzero(~np.asarray(ok.to_numpy(zero_copy_only=False), dtype=bool))
    return int(bad[0]) if len(bad) else None


def _row_numbers(table: pa.Table, name: str, path: Path) -> np.ndarray:
    col = table.column(name)
    if pa.types.is_integer(col.type):
        if col.null_count:
            first = int(np.flatnonzero(pc.is_null(col).to_numpy(zero_copy_only=False))[0])
            raise InputError(f"{path}: line {first + 2}: column {name} is empty")
        rows = np.asarray(col.to_numpy(), dtype=np.int64)
        bad = np.flatnonzero(rows < 0)
        if len(bad):
            i = int(bad[0])
            raise InputError(f"{path}: line {i + 2}: {name} {rows[i]} is not a row number")
        return rows
    text = _texts(table, name, path)
    at = _first_bad(pc.match_substring_regex(text, r"^[0-9]{1,18}$"))
    if at is not None:
        value = text[at].as_py()
        raise InputError(f"{path}: line {at + 2}: {name} {shown(value)} is not a row number")
    return np.asarray(pc.cast(text, pa.int64()).to_numpy(), dtype=np.int64)


def _check_values(text: pa.ChunkedArray, allowed: Sequence[str], what: str, path: Path) -> None:
    at = _first_bad(pc.is_in(text, value_set=pa.array(list(allowed), pa.string())))
    if at is not None:
        raise InputError(
            f"{path}: line {at + 2}: {what} {shown(text[at].as_py())} is not one of "
            f"{', '.join(allowed)}"
        )


def _check_reasons(text: pa.ChunkedArray, path: Path) -> None:
    known = {*REASONS, OTHER_RECORD_CONFLICT}
    for value in pc.unique(text).to_pylist():
        unknown = [c for c in value.split(";") if c and c not in known]
        if unknown:
            at = _first_bad(pc.not_equal(text, value))
            line = "" if at is None else f"line {at + 2}: "
            raise InputError(f"{path}: {line}unknown reason code {shown(unknown[0])}")


def read_view(path: str | os.PathLike[str], max_records: int) -> View:
    """Read and check a party's result view (CSV or Parquet, as ``pprl verify`` wrote
    it). ``max_records`` bounds the file: at most that many records' worth of rows and
    bytes (the encoded records, decoys included). Every problem is one
    :class:`InputError` line naming the file and, where there is one, the line."""
    p = require_regular_file(path, "--results")
    per_record = REFERENCE_ROWS_PER_RECORD
    table, meta = _read_table(p, VIEW_BYTES_SLACK + VIEW_BYTES_PER_ROW * per_record * max_records)
    kind = _check_columns(p, table.column_names)
    stored_kind = meta.get(b"pprl.view", b"").decode("utf-8", "replace")
    if stored_kind and stored_kind != kind:
        raise InputError(f"{p}: the file says it is a {stored_kind} view but has {kind} columns")
    limit = max_records if kind == "claims" else per_record * max_records
    if table.num_rows > limit:
        raise InputError(
            f"{p}: {table.num_rows:,} rows, more than this party's file can have ({limit:,})"
        )
    party_col = _texts(table, "party", p)
    labels = pc.unique(party_col).to_pylist()
    if len(labels) > 1:
        raise InputError(
            f"{p}: holds rows of several parties ({', '.join(shown(x) for x in labels[:3])}): "
            "not one party's view"
        )
    stored_party = meta.get(b"pprl.party", b"").decode("utf-8", "replace") or None
    party = labels[0] if labels else stored_party
    if labels and stored_party and stored_party != labels[0]:
        raise InputError(f"{p}: the file names party {shown(stored_party)} but its rows another")
    status = _texts(table, "status", p)
    _check_values(status, STATUSES, "status", p)
    if kind == "claims":
        rows = _row_numbers(table, "claim_row", p)
        detail = _texts(table, "reason", p)
        _check_reasons(detail, p)
        files = _texts(table, "claims_file", p).to_pylist()
    else:
        rows = _row_numbers(table, "ref_row", p)
        detail = _texts(table, "role", p)
        _check_values(detail, ROLES, "role", p)
        files = []
    cases = _cases(table, p, required=kind == "reference")
    return View(p, kind, party, rows, status.to_pylist(), detail.to_pylist(), files, cases)


def _cases(table: pa.Table, path: Path, required: bool) -> list[str]:
    """The ``case`` column's ids ("" none; none allowed only where not ``required``),
    each as :func:`pprl.verify.outputs.case_ids` writes them; [] without the column."""
    if "case" not in table.column_names:
        return []
    col = table.column("case")
    if pa.types.is_null(col.type):
        col = col.cast(pa.string())
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        raise InputError(f"{path}: column case must hold text, not {col.type}")
    text = pc.fill_null(col, "")
    ok = pc.match_substring_regex(text, CASE_PATTERN)
    if not required:
        ok = pc.or_(ok, pc.equal(text, ""))
    at = _first_bad(ok)
    if at is not None:
        value = text[at].as_py()
        what = "is empty" if not value else f"{shown(value)} is not a pprl case id"
        raise InputError(f"{path}: line {at + 2}: case {what}")
    return [str(c) for c in text.to_pylist()]


def _refuse_duplicates(view: View) -> None:
    """One line per claim (claims); per case one status and each role once (reference)."""
    if view.kind == "claims":
        seen: set[int] = set()
        for row in view.rows.tolist():
            if row in seen:
                raise InputError(f"{view.path}: row {row} is listed twice: not a pprl result view")
            seen.add(row)
        return
    status_of: dict[str, str] = {}
    roles: set[tuple[str, str]] = set()
    for case, role, status in zip(view.cases, view.detail, view.status, strict=True):
        if (case, role) in roles:
            raise InputError(
                f"{view.path}: case {case} names two {role} rows: not a pprl result view"
            )
        if status_of.setdefault(case, status) != status:
            raise InputError(f"{view.path}: case {case} has two statuses: not a pprl result view")
        roles.add((case, role))


# ------------------------------------------------------------------ the party's CSV
def _codec(label: str) -> str:
    """The codec to read a CSV with, from the encoding :mod:`pprl.read` reported
    (``utf-8`` stands for UTF-8 with or without a byte-order mark)."""
    return "utf-8-sig" if codecs.lookup(label).name == "utf-8" else label


def _lines_on_bytes(path: Path, wanted: np.ndarray) -> tuple[np.ndarray, int] | None:
    """Line numbers of the ``wanted`` data rows (sorted, unique), found on the bytes;
    None when the file has a ``"`` or a lone CR (records may then span lines or end
    otherwise: :func:`_lines_by_reader` decides). A record is a line; a blank line (no
    byte, or a lone CR before its LF) is none; line 1 is the header."""
    out = np.zeros(len(wanted), dtype=np.int64)
    seen_rows = 0  # data rows before this block
    lines_done = 0  # lines ended before this block
    prev_nl = -1  # file offset of the last LF
    last_byte = -1
    pending_cr = False
    offset = 0
    with open(path, "rb") as fh:
        while block := fh.read(SCAN_BLOCK):
            b = np.frombuffer(block, dtype=np.uint8)
            if pending_cr and b[0] != 10:
                return None
            if (b == 34).any():
                return None
            cr = np.flatnonzero(b == 13)
            inner = cr[cr + 1 < len(b)]
            if len(inner) and (b[inner + 1] != 10).any():
                return None
            pending_cr = bool(len(cr)) and int(cr[-1]) == len(b) - 1
            nl = np.flatnonzero(b == 10)
            ends = nl + offset
            starts = np.concatenate(([prev_nl + 1], ends[:-1] + 1)) if len(ends) else ends
            length = ends - starts
            before = np.where(nl > 0, b[np.maximum(nl - 1, 0)], last_byte)
            blank = (length == 0) | ((length == 1) & (before == 13))
            index = lines_done + np.arange(len(ends))  # 0-based line index of each line
            data = np.flatnonzero(~blank & (index >= 1))
            lo, hi = np.searchsorted(wanted, [seen_rows, seen_rows + len(data)])
            if hi > lo:
                out[lo:hi] = index[data[wanted[lo:hi] - seen_rows]] + 1
            seen_rows += len(data)
            lines_done += len(ends)
            if len(ends):
                prev_nl = int(ends[-1])
            last_byte = int(b[-1])
            offset += len(b)
    if pending_cr:
        return None
    if offset > prev_nl + 1 and lines_done >= 1:  # a last data line without LF
        at = int(np.searchsorted(wanted, seen_rows))
        if at < len(wanted) and wanted[at] == seen_rows:
            out[at] = lines_done + 1
        seen_rows += 1
    return out, seen_rows


def _lines_by_reader(path: Path, codec: str, wanted: np.ndarray) -> tuple[np.ndarray, int]:
    """Line numbers of the ``wanted`` data rows as Python's csv reader counts them (the
    first line of each record), skipping blank records as :mod:`pprl.read` does."""
    out = np.zeros(len(wanted), dtype=np.int64)
    want = {int(r): i for i, r in enumerate(wanted.tolist())}
    csv.field_size_limit(1 << 30)
    row = 0
    try:
        with open(path, encoding=codec, newline="", errors="strict") as fh:
            reader = csv.reader(fh, strict=True)
            before = 0
            header = True
            for record in reader:
                start = before + 1
                before = reader.line_num
                if header:
                    header = False
                    continue
                if not record or (len(record) == 1 and record[0] == ""):
                    continue
                i = want.get(row)
                if i is not None:
                    out[i] = start
                row += 1
    except (UnicodeError, csv.Error) as exc:
        raise InputError(f"{path}: cannot number its lines ({exc})") from None
    return out, row


def data_lines(
    path: str | os.PathLike[str], codec: str, rows: np.ndarray
) -> tuple[np.ndarray, int]:
    """The 1-based line in the file of each of ``rows`` (0-based data rows, sorted,
    unique) and the number of data rows found: the header is line 1, blank lines are
    no rows but are counted as lines, a record spanning lines (a quoted line break)
    starts on the line given. On the bytes when the file allows (no ``"``, no lone CR,
    a codec in :data:`BYTE_SAFE_CODECS`), else with Python's csv reader."""
    p = Path(path)
    wanted = np.asarray(rows, dtype=np.int64)
    if codecs.lookup(codec).name in {codecs.lookup(c).name for c in BYTE_SAFE_CODECS}:
        found = _lines_on_bytes(p, wanted)
        if found is not None:
            return found
    return _lines_by_reader(p, codec, wanted)


@dataclass
class PartyRecords:
    """The wanted rows of the party's CSV: header, each row's values, and the file's
    data-row count and text encoding."""

    header: tuple[str, ...]
    values: dict[int, list[str]]
    nrows: int
    encoding: str


def read_records(path: Path, encoding: str | None, rows: np.ndarray) -> PartyRecords:
    """Stream the party's CSV as ``pprl encode`` reads it (:func:`pprl.read.iter_csv`),
    keeping only ``rows`` (sorted, unique), so memory follows the worklist, not the file."""
    values: dict[int, list[str]] = {}
    header: tuple[str, ...] = ()
    label = encoding or "utf-8"
    nrows = 0
    for chunk in iter_csv(path, encoding, READ_CHUNK_ROWS):
        header, label = chunk.header, chunk.encoding
        lo = chunk.first_row
        a, b = np.searchsorted(rows, [lo, lo + chunk.nrows])
        columns = [chunk.columns[h] for h in header]
        for r in rows[a:b].tolist():
            values[r] = [col[r - lo] for col in columns]
        nrows = lo + chunk.nrows
    return PartyRecords(header, values, nrows, label)


# ------------------------------------------------------------------ the worklist
@dataclass
class Worklist:
    """What is written: ``header``; ``rows`` of values (the line number an int, every
    other cell text); ``text_columns`` the indices of the party's own columns (always
    text: IDs keep their leading zeros); ``counts`` listed rows per status; ``omitted``
    confirmed rows left out; ``notes`` lines for the person running the command."""

    header: list[str]
    rows: list[list[int | str]]
    text_columns: list[int]
    kind: str
    party: str | None
    counts: dict[str, int] = field(default_factory=dict)
    omitted: int = 0
    notes: list[str] = field(default_factory=list)
    int_columns: list[int] = field(default_factory=lambda: [0])


def _free(taken: set[str]) -> Callable[[str], str]:
    """A namer that renames ``… (pprl)`` a title already in ``taken``."""

    def free(name: str) -> str:
        while name in taken:
            name = f"{name} (pprl)"
        taken.add(name)
        return name

    return free


def _own_names(texts: Texts, cases: bool, header: Sequence[str]) -> tuple[str, list[str]]:
    """A claims worklist's own column titles, renamed ``… (pprl)`` where the party's CSV
    has a column of that name; ``cases``: with the case column."""
    free = _free(set(header))
    line = free(texts.line)
    tail = [free(texts.status), free(texts.reason), free(texts.next_step)]
    return line, tail + ([free(texts.case)] if cases else [])


def _register_worklist(
    view: View, data_path: Path, party: PartyRecords, texts: Texts, notes: list[str]
) -> Worklist:
    """The register holder's worklist: one row per case, the claimed record and the
    likely true owner side by side (each its line and every register column; a side
    the case lacks left empty), then status, next step and the case id."""
    sides: dict[str, dict[str, int]] = {}
    status_of: dict[str, str] = {}
    for case, role, row, status in zip(
        view.cases, view.detail, view.rows.tolist(), view.status, strict=True
    ):
        sides.setdefault(case, {})[role] = row
        status_of[case] = status
    wanted = np.unique(view.rows)
    lines, counted = data_lines(data_path, _codec(party.encoding), wanted)
    if counted != party.nrows:
        raise InputError(
            f"{data_path}: found {counted} data rows while numbering lines but {party.nrows} "
            "while reading; cannot give line numbers"
        )
    line_of = dict(zip(wanted.tolist(), lines.tolist(), strict=True))
    rank = {s.label: i for i, s in enumerate(ORDER)}
    width = len(party.header)
    empty: list[int | str] = [""] * (1 + width)

    def side(case: str, role: str) -> list[int | str]:
        row = sides[case].get(role)
        return empty if row is None else [line_of[row], *party.values[row]]

    def sort_key(case: str) -> tuple[int, int, int, str]:
        lines = [line_of[sides[case][r]] if r in sides[case] else 0 for r in ROLES]
        return (rank[status_of[case]], lines[0] or lines[1], lines[1], case)

    out_rows: list[list[int | str]] = []
    counts: dict[str, int] = {}
    for case in sorted(sides, key=sort_key):
        status = status_of[case]
        counts[status] = counts.get(status, 0) + 1
        shape = "both" if len(sides[case]) == len(ROLES) else next(iter(sides[case]))
        step = texts.case_steps[shape]
        if status == Status.REVIEW.label:
            step = texts.lower_priority + step
        out_rows.append(
            [
                *side(case, "claimed"),
                *side(case, "likely_true_owner"),
                texts.statuses[status],
                step,
                case,
            ]
        )
    free = _free(set())
    header = [
        free(f"{texts.sides[role]}{texts.colon}{title}")
        for role in ROLES
        for title in (texts.line, *party.header)
    ]
    header += [free(texts.status), free(texts.next_step), free(texts.case)]
    return Worklist(
        header=header,
        rows=out_rows,
        text_columns=[*range(1, 1 + width), *range(2 + width, 2 + 2 * width), len(header) - 1],
        kind=view.kind,
        party=view.party,
        counts={s.label: counts[s.label] for s in ORDER if s.label in counts},
        notes=notes,
        int_columns=[0, 1 + width],
    )


def _sidecar_for(data: Path, given: Path | None) -> tuple[Path, Sidecar]:
    path = given if given is not None else default_path(data)
    if given is None and not path.exists():
        raise InputError(
            f"{data}: no local sidecar {path.name} beside it, so pprl cannot check that this "
            "is the file that was encoded; pass --sidecar FILE if it was moved (pprl encode "
            "writes it beside the CSV), or --no-check to join without checking"
        )
    return path, read_sidecar(path)


def _check_data(side: Sidecar, where: Path, data: Path, encoding: str | None) -> None:
    """Refuse a CSV that is not byte for byte the encoded one, naming what differs: the
    row count when that differs (counted only then), else the digest."""
    digest = file_digest(data)
    if digest == side.csv.blake3:
        return
    try:
        rows = read_records(data, encoding, np.zeros(0, dtype=np.int64)).nrows
    except InputError:
        rows = side.csv.rows  # unreadable as encoded: the digest says enough
    check_csv(side, where, data, rows, digest)
    raise AssertionError("check_csv accepted a different digest")  # pragma: no cover


def build_worklist(
    results: str | os.PathLike[str],
    data: str | os.PathLike[str],
    *,
    lang: str = "en",
    include_all: bool = False,
    sidecar: str | os.PathLike[str] | None = None,
    check: bool = True,
    claims_file: str | None = None,
) -> Worklist:
    """Join a party's result view onto its CSV (see the module docstring).

    ``sidecar``: the local sidecar (default: beside ``data``); ``check=False`` joins
    without one (no digest, party or role check; a note says so, and rows past the
    CSV's end are dropped as possible decoys). ``claims_file``: the name the matcher
    gave the encoding file, when it differs from the name it was written under.
    """
    if lang not in TEXTS:
        raise InputError(f"--lang must be {' or '.join(LANGS)}, not {shown(lang)}")
    texts = TEXTS[lang]
    data_path = require_regular_file(data, "--data")
    notes: list[str] = []
    entry: EncodingEntry | None = None
    side: Sidecar | None = None
    where: Path | None = None
    if check:
        where, side = _sidecar_for(data_path, None if sidecar is None else Path(sidecar))
        bound = max([e.records for e in side.encodings], default=side.csv.rows)
    else:
        notes.append(
            f"not checked that {data_path} is the file that was encoded (--no-check): "
            "if it is not, rows point at the wrong records"
        )
        bound = max(data_path.stat().st_size // 2, 1)
    view = read_view(results, bound)
    if side is not None and where is not None:
        # --claims-file NAME: the user says NAME is this CSV's encoding, renamed
        files = [] if claims_file is not None else view.claims_files()
        entry = side.entry_for(where, view.party, view.role, files)
        check_encoding(entry, where)
    if view.kind == "claims":
        names = view.claims_files()
        chosen = claims_file or (entry.file if entry is not None else None)
        if chosen is not None and names and chosen not in names:
            raise InputError(
                f"{view.path}: holds no findings for claims file {shown(chosen)} (only "
                f"{', '.join(shown(n) for n in names[:5])})"
            )
        if chosen is None and len(names) > 1:
            raise InputError(
                f"{view.path}: holds findings for {len(names)} claims files "
                f"({', '.join(shown(n) for n in names[:5])}); name the one --data was encoded "
                "into with --claims-file NAME"
            )
        if chosen is not None:
            view = view.only(np.array([f == chosen for f in view.files], dtype=bool))
    _refuse_duplicates(view)
    encoding = _codec(side.csv.text_encoding) if side is not None else None
    if side is not None and where is not None:
        _check_data(side, where, data_path, encoding)
    records = entry.records if entry is not None else None
    if records is not None:
        past = np.flatnonzero(view.rows >= records)
        if len(past):
            raise InputError(
                f"{view.path}: row {int(view.rows[past[0]])} is out of range: "
                f"{data_path.name} was encoded with {records} records"
            )
    party = read_records(data_path, encoding, np.unique(view.rows))
    if side is not None and party.nrows != side.csv.rows:  # the same bytes, read otherwise
        raise InputError(
            f"{data_path}: read as {party.nrows} data rows, encoded as {side.csv.rows}"
        )
    real = view.rows < party.nrows
    dropped = int((~real).sum())
    if dropped:
        notes.append(
            f"{dropped} finding(s) on rows past the CSV's {party.nrows} data rows left out "
            "(decoy records)"
            if check
            else f"{dropped} finding(s) on rows past the CSV's {party.nrows} data rows left "
            "out: decoy records, or this is not the file that was encoded"
        )
        view = view.only(real)
    if view.kind == "reference":
        return _register_worklist(view, data_path, party, texts, notes)
    rank = {s.label: i for i, s in enumerate(ORDER)}
    status_rank = np.array([rank[s] for s in view.status], dtype=np.int64)
    listed = (
        np.ones(len(view.rows), dtype=bool)
        if include_all
        else np.array([s in NEEDS_ACTION for s in view.status], dtype=bool)
    )
    omitted = int((~listed).sum())
    view = view.only(listed)
    status_rank = status_rank[listed]
    wanted = np.unique(view.rows)
    lines, counted = data_lines(data_path, _codec(party.encoding), wanted)
    if counted != party.nrows:
        raise InputError(
            f"{data_path}: found {counted} data rows while numbering lines but {party.nrows} "
            "while reading; cannot give line numbers"
        )
    line_of = dict(zip(wanted.tolist(), lines.tolist(), strict=True))
    line_arr = np.array([line_of[r] for r in view.rows.tolist()], dtype=np.int64)
    order = np.lexsort((line_arr, status_rank))
    line_title, tail = _own_names(texts, view.cases != [], party.header)
    out_rows: list[list[int | str]] = []
    counts: dict[str, int] = {}
    for i in order.tolist():
        status = view.status[i]
        counts[status] = counts.get(status, 0) + 1
        out_rows.append(
            [
                int(line_arr[i]),
                *party.values[int(view.rows[i])],
                texts.statuses[status],
                reason_text(view.detail[i], texts),
                texts.steps[status],
                *([view.cases[i]] if view.cases else []),
            ]
        )
    width = len(party.header)
    return Worklist(
        header=[line_title, *party.header, *tail],
        rows=out_rows,
        text_columns=list(range(1, 1 + width)),
        kind=view.kind,
        party=view.party,
        counts={s.label: counts[s.label] for s in ORDER if s.label in counts},
        omitted=omitted,
        notes=notes,
    )


# ------------------------------------------------------------------ writing
FORMATS = ("xlsx", "csv")


def output_format(out: str | os.PathLike[str]) -> str:
    """``xlsx`` or ``csv`` from ``out``'s extension; anything else refused."""
    suffix = Path(out).suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise InputError(f"--out {out}: give a .xlsx or .csv file name")
    return suffix


def worklist_table(wl: Worklist) -> pa.Table:
    """The worklist as an Arrow table: line numbers int64 (empty where a register case
    lacks that record), everything else text."""
    columns = list(zip(*wl.rows, strict=True)) if wl.rows else [() for _ in wl.header]
    ints = set(wl.int_columns)
    arrays = [
        pa.array([None if v == "" else v for v in col], type=pa.int64())
        if i in ints
        else pa.array(list(col), type=pa.string())
        for i, col in enumerate(columns)
    ]
    return pa.Table.from_arrays(arrays, names=wl.header)


def write_worklist(
    wl: Worklist,
    out: str | os.PathLike[str],
    *,
    force: bool = False,
    inputs: Sequence[str | os.PathLike[str]] = (),
) -> Path:
    """Write ``wl`` atomically as ``.xlsx`` (:mod:`pprl.xlsxout`) or ``.csv`` (UTF-8
    with a byte-order mark, spreadsheet-safe: :func:`pprl.csvout.write_csv`); an
    existing file only with ``force``, an input never."""
    from pprl.resultset import output_file

    fmt = output_format(out)
    with output_file(out, force=force, inputs=inputs) as tmp:
        if fmt == "csv":
            from pprl.csvout import write_csv

            write_csv(worklist_table(wl), tmp, bom=True)
        else:
            from pprl.xlsxout import write_xlsx

            sheet = "worklist" if wl.kind == "claims" else "register"
            write_xlsx(wl.header, wl.rows, tmp, text_columns=wl.text_columns, sheet=sheet)
    return Path(out)
