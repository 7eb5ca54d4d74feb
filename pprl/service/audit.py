"""The audit log: every token use appended to a hash-chained table.

Each entry's hash is blake3 over the previous entry's hash and the entry's own fields
(canonical JSON), so editing, removing or reordering any entry breaks the chain from
there on; the one-row head table records the last hash, so cutting entries off the end is
noticed too. :func:`verify_chain` names the first broken link.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from blake3 import blake3
from sqlalchemy.engine import Connection, Engine

from pprl.service.db import audit_head, audit_log, transaction

GENESIS = "0" * 64
FIELDS = ("seq", "at", "action", "outcome", "campaign", "party", "role", "detail")


def now() -> str:
    """The current UTC time, ISO 8601 with microseconds (stored as text: hashed as is)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def entry_hash(prev_hash: str, entry: dict[str, object]) -> str:
    """blake3 of the previous hash and the entry's fields."""
    body = json.dumps(
        {k: entry[k] for k in FIELDS}, ensure_ascii=False, sort_keys=True, separators=(",", ":")
    )
    return blake3(f"{prev_hash}\n{body}".encode()).hexdigest()


def append(
    conn: Connection,
    action: str,
    outcome: str,
    *,
    campaign: str = "",
    party: str = "",
    role: str = "",
    detail: str = "",
) -> int:
    """Append one entry inside the caller's write transaction (:func:`transaction`);
    returns its sequence number. Updating the head row first serializes writers."""
    conn.execute(sa.update(audit_head).where(audit_head.c.id == 1).values(seq=audit_head.c.seq))
    head = conn.execute(sa.select(audit_head.c.seq, audit_head.c.hash)).one()
    seq = int(head.seq) + 1
    entry: dict[str, object] = {
        "seq": seq,
        "at": now(),
        "action": action,
        "outcome": outcome,
        "campaign": campaign,
        "party": party,
        "role": role,
        "detail": " ".join(detail.split())[:500],
    }
    digest = entry_hash(head.hash, entry)
    conn.execute(sa.insert(audit_log).values(**entry, prev_hash=head.hash, hash=digest))
    conn.execute(
        sa.update(audit_head).where(audit_head.c.id == 1).values(seq=entry["seq"], hash=digest)
    )
    return seq


def record(engine: Engine, action: str, outcome: str, **fields: str) -> int:
    """:func:`append` in its own transaction (for refusals, whose work was rolled back)."""
    with transaction(engine) as conn:
        return append(conn, action, outcome, **fields)


@dataclass(frozen=True)
class ChainReport:
    """The outcome of a check: entries read, and the first broken link (None: intact)."""

    entries: int
    broken: str | None


def _rows(conn: Connection) -> Iterator[sa.Row[tuple[object, ...]]]:
    return iter(conn.execute(sa.select(audit_log).order_by(audit_log.c.seq)))


def verify_chain(engine: Engine) -> ChainReport:
    """Recompute the chain from the first entry; report the first link that fails."""
    with engine.connect() as conn:
        prev, expected_seq, count = GENESIS, 1, 0
        for row in _rows(conn):
            entry = dict(row._mapping)
            seq = entry["seq"]
            if seq != expected_seq:
                return ChainReport(
                    count, f"entry {expected_seq} is missing (the next entry is {seq})"
                )
            if entry["prev_hash"] != prev:
                return ChainReport(
                    count,
                    f"entry {seq}: its previous-hash does not match entry {seq - 1} "
                    "(an entry was removed, reordered or edited)",
                )
            if entry_hash(prev, entry) != entry["hash"]:
                return ChainReport(
                    count,
                    f"entry {seq} ({entry['action']}): its fields do not match its hash "
                    "(the entry was edited)",
                )
            prev, expected_seq, count = entry["hash"], expected_seq + 1, count + 1
        head = conn.execute(sa.select(audit_head.c.seq, audit_head.c.hash)).one_or_none()
        if head is None or head.seq != count or head.hash != prev:
            last = head.seq if head is not None else "?"
            return ChainReport(
                count,
                f"the log ends at entry {count} but its head records entry {last} "
                "(entries were cut off the end, or the head was edited)",
            )
    return ChainReport(count, None)


def export_jsonl(engine: Engine, out: str | os.PathLike[str], *, force: bool = False) -> int:
    """Write the whole log to ``out`` as JSON Lines, one entry a line in sequence order
    with its previous hash and hash (so the chain can be checked from the file alone);
    atomic (:func:`pprl.resultset.output_file`). Returns the number of entries."""
    from pprl.resultset import output_file

    n = 0
    with output_file(out, force=force) as tmp, open(tmp, "w", encoding="utf-8") as f:
        with engine.connect() as conn:
            for row in _rows(conn):
                f.write(json.dumps(dict(row._mapping), ensure_ascii=False) + "\n")
                n += 1
    return n
