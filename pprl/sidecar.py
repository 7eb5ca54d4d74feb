"""The local sidecar: what a data holder's machine remembers about a CSV it encoded.

``pprl encode`` writes, beside the party's CSV, ``<CSV name>.pprl-local.json``
(:func:`default_path`; ``--sidecar FILE`` puts it elsewhere). It holds facts about the
CSV (its name, size, blake3 digest of its bytes, data-row count and text encoding) and
one entry per encoding file made from it (file name, party label, role, records
including decoys, schema, when, content digest). ``pprl worklist`` reads it to make sure the CSV it
joins results onto is byte for byte the file that was encoded, and that a result view
belongs to this party (:func:`check_csv`, :meth:`Sidecar.entry_for`).

The sidecar stays with the CSV and is **never sent to the matcher**: it is written in
the CSV's folder, not beside the encoding file that is sent, and the encoding file does
not change. It reveals the real row count (which decoy records hide from the matcher)
and a digest of the raw file.

A file at the sidecar's place that is not a pprl sidecar is never replaced. A sidecar
describing other content (the CSV was edited or replaced since) is replaced whole: its
entries were about bytes that no longer exist.
"""

from __future__ import annotations

import codecs
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pprl.boundedjson import loads_bounded, read_bounded
from pprl.errors import InputError
from pprl.resultset import file_digest, output_file

__all__ = [
    "FORMAT",
    "SUFFIX",
    "CsvFacts",
    "EncodingEntry",
    "Sidecar",
    "Stamp",
    "Plan",
    "check_csv",
    "check_encoding",
    "default_path",
    "plan",
    "read_sidecar",
    "record_encoding",
    "stamp",
    "target_problem",
]

FORMAT = "pprl-local-sidecar"
FORMAT_VERSION = 1
SUFFIX = ".pprl-local.json"
NOTE = "Local to the data holder: never send this file to the matcher (pprl worklist reads it)."
MAX_BYTES = 1 << 20
MAX_ENTRIES = 64
ROLES = ("register", "claims")


def default_path(csv: str | os.PathLike[str]) -> Path:
    """Where ``pprl encode`` writes the sidecar of ``csv`` and ``pprl worklist`` looks
    for it: beside the CSV, named ``<CSV name>.pprl-local.json``."""
    p = Path(csv)
    return p.with_name(p.name + SUFFIX)


@dataclass(frozen=True)
class CsvFacts:
    """The encoded CSV as it was: name, size, blake3 of its bytes, data rows, text
    encoding (as :mod:`pprl.read` reported it)."""

    name: str
    size: int
    blake3: str
    rows: int
    text_encoding: str


@dataclass(frozen=True)
class EncodingEntry:
    """One encoding file made from the CSV: its file name (as the matcher's findings
    name it in ``claims_file``), full path, party label, role, record count (data rows
    plus any decoys), schema name, the time it was written (ISO 8601 UTC) and the
    content digest in its metadata ("" in sidecars written before pprl recorded it)."""

    file: str
    path: str
    party: str
    role: str
    records: int
    schema: str
    created: str
    digest: str = ""


@dataclass(frozen=True)
class Sidecar:
    """A parsed sidecar: the CSV's facts and the encodings made from it, newest last."""

    csv: CsvFacts
    encodings: tuple[EncodingEntry, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "note": NOTE,
            "csv": asdict(self.csv),
            "encodings": [asdict(e) for e in self.encodings],
        }

    def entries(self, party: str, role: str) -> list[EncodingEntry]:
        """The encodings of this CSV made for ``party`` in ``role``, newest first."""
        return [e for e in reversed(self.encodings) if e.party == party and e.role == role]

    def entry_for(
        self, where: Path, party: str | None, role: str, files: list[str]
    ) -> EncodingEntry:
        """The encoding a result view is about: same party label and role and, for a
        claims view, an encoding file named in the view's ``claims_file`` values
        (``files``); a one-line :class:`InputError` naming what differs otherwise."""
        labels = sorted({e.party for e in self.encodings})
        if party is not None and party not in labels:
            raise InputError(
                f"the results are for party '{party}', but {self.csv.name} was encoded as "
                f"{_names(labels)} (sidecar {where}): not this party's results"
            )
        candidates = self.entries(party, role) if party is not None else []
        if party is None:  # an empty CSV view names no party: any entry of the role
            candidates = [e for e in reversed(self.encodings) if e.role == role]
        if not candidates:
            roles = sorted({e.role for e in self.encodings if party is None or e.party == party})
            raise InputError(
                f"the results are a {role} party's view, but {self.csv.name} was encoded "
                f"with role {_names(roles)} (sidecar {where})"
            )
        if role != "claims" or not files:
            return candidates[0]
        for entry in candidates:
            if entry.file in files:
                return entry
        raise InputError(
            f"the results hold findings for claims file {_names(files)}, but {self.csv.name} "
            f"was encoded into {_names([e.file for e in candidates])} (sidecar {where}); if "
            "the matcher received that file under another name, pass --claims-file NAME"
        )


def _names(values: list[str]) -> str:
    return ", ".join(f"'{v}'" for v in values) if values else "nothing"


def _text(doc: dict[str, Any], key: str, where: str) -> str:
    value = doc.get(key)
    if not isinstance(value, str):
        raise InputError(f"{where}: '{key}' must be text")
    return value


def _count(doc: dict[str, Any], key: str, where: str) -> int:
    value = doc.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InputError(f"{where}: '{key}' must be a whole number >= 0")
    return value


def _codec(doc: dict[str, Any], where: str) -> str:
    """The CSV's ``text_encoding``: a text codec Python knows (a crafted one is refused
    here, not met later as a codec lookup failure)."""
    value = _text(doc, "text_encoding", where)
    try:
        info = codecs.lookup(value)
    except LookupError:
        raise InputError(f"{where}: 'text_encoding' {value!r} is not a known codec") from None
    if not getattr(info, "_is_text_encoding", True):
        raise InputError(f"{where}: 'text_encoding' {value!r} is not a text encoding")
    return value


def _parse(doc: object, where: str) -> Sidecar:
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise InputError(f"{where}: not a pprl local sidecar")
    if doc.get("format_version") != FORMAT_VERSION:
        raise InputError(
            f"{where}: sidecar format version {doc.get('format_version')!r}; this pprl "
            f"reads version {FORMAT_VERSION}"
        )
    csv = doc.get("csv")
    entries = doc.get("encodings")
    if not isinstance(csv, dict) or not isinstance(entries, list):
        raise InputError(f"{where}: sidecar lacks 'csv' or 'encodings'")
    facts = CsvFacts(
        name=_text(csv, "name", where),
        size=_count(csv, "size", where),
        blake3=_text(csv, "blake3", where),
        rows=_count(csv, "rows", where),
        text_encoding=_codec(csv, where),
    )
    parsed = []
    for i, e in enumerate(entries):
        at = f"{where}: encodings[{i}]"
        if not isinstance(e, dict):
            raise InputError(f"{at}: not an object")
        entry = EncodingEntry(
            file=_text(e, "file", at),
            path=_text(e, "path", at),
            party=_text(e, "party", at),
            role=_text(e, "role", at),
            records=_count(e, "records", at),
            schema=_text(e, "schema", at),
            created=_text(e, "created", at),
            digest=_text(e, "digest", at) if "digest" in e else "",
        )
        if entry.role not in ROLES:
            raise InputError(f"{at}: role must be {' or '.join(ROLES)}, not {entry.role!r}")
        if entry.records < facts.rows:
            raise InputError(f"{at}: {entry.records} records, fewer than the CSV's {facts.rows}")
        parsed.append(entry)
    return Sidecar(facts, tuple(parsed))


def read_sidecar(path: str | os.PathLike[str]) -> Sidecar:
    """Read and check a sidecar; every problem is one :class:`InputError` line."""
    where = str(path)
    raw = read_bounded(path, MAX_BYTES, "pprl local sidecar")
    return _parse(loads_bounded(raw, where, max_bytes=MAX_BYTES), where)


def check_encoding(entry: EncodingEntry, where: Path) -> None:
    """Refuse (one line) results whose encoding file was replaced since the CSV was
    encoded into it: the file at the entry's path, when it is still there and a pprl
    Parquet encoding file, must carry the digest recorded (another CSV encoded to the
    same name with ``--force`` would otherwise have its findings joined onto this CSV's
    rows). Absent, or not such a file: nothing to compare."""
    path = Path(entry.path)
    if not entry.digest or not path.is_file():
        return
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        footer = pq.ParquetFile(path).metadata.metadata or {}
        stored = json.loads(footer[b"pprl"]).get("digest", "")
    except (pa.ArrowException, OSError, KeyError, ValueError, AttributeError):
        return
    if stored != entry.digest:
        raise InputError(
            f"{path} no longer holds the encoding recorded in {where} (it was written again "
            "from another file): these results may be about other records; encode the CSV "
            "again and have it verified"
        )


def check_csv(sidecar: Sidecar, where: Path, csv: Path, rows: int, digest: str) -> None:
    """Refuse (one line) a CSV that is not byte for byte the encoded one: the row count
    first (the clearer message), then the blake3 digest of its bytes."""
    facts = sidecar.csv
    if rows != facts.rows:
        raise InputError(
            f"{csv}: {rows} data rows, but the encoded {facts.name} had {facts.rows} "
            f"(sidecar {where}): not the file that was encoded"
        )
    if digest != facts.blake3:
        raise InputError(
            f"{csv}: content digest differs from the encoded {facts.name} (blake3 "
            f"{digest[:16]}… vs {facts.blake3[:16]}…, sidecar {where}): the file changed "
            "since it was encoded"
        )


# ------------------------------------------------------------------ writing (pprl encode)
@dataclass(frozen=True)
class Stamp:
    """A file's size and modification time: taken before encoding and compared after,
    so a CSV that changed meanwhile gets no sidecar (its digest would describe neither
    version)."""

    size: int
    mtime_ns: int


def stamp(path: str | os.PathLike[str]) -> Stamp:
    st = os.stat(path)
    return Stamp(st.st_size, st.st_mtime_ns)


def target_problem(path: Path) -> str | None:
    """Why a sidecar cannot be written at ``path`` (None: it can): something there that
    is not a pprl sidecar (never replaced), or a folder pprl cannot write in. Checked
    before encoding, touching nothing."""
    if path.is_symlink() or (path.exists() and not path.is_file()):
        return f"{path} exists and is not a pprl sidecar; it is left alone"
    if path.exists():
        try:
            read_sidecar(path)
        except InputError:
            return f"{path} exists and is not a pprl sidecar; it is left alone"
    folder = path.absolute().parent
    if not folder.is_dir():
        return f"folder {folder} does not exist"
    try:
        with tempfile.TemporaryFile(dir=folder, prefix=".pprl-probe-"):
            pass
    except OSError as exc:
        return f"cannot write in {folder} ({exc.strerror})"
    return None


def record_encoding(
    path: Path,
    csv: Path,
    before: Stamp,
    *,
    rows: int,
    text_encoding: str,
    output: Path,
    party: str,
    role: str,
    records: int,
    schema: str,
    digest: str = "",
) -> Path:
    """Add an encoding of ``csv`` to its sidecar at ``path`` (atomically; created if
    absent, replaced whole if it describes other content). ``before`` is the CSV's
    stamp from before encoding: a CSV changed since is refused (one line, nothing
    written)."""
    if stamp(csv) != before:
        raise InputError(f"{csv} changed while it was encoded; no sidecar written")
    facts = CsvFacts(
        name=csv.name,
        size=before.size,
        blake3=file_digest(csv),
        rows=rows,
        text_encoding=text_encoding,
    )
    if stamp(csv) != before:
        raise InputError(f"{csv} changed while it was encoded; no sidecar written")
    entry = EncodingEntry(
        file=output.name,
        path=str(output.absolute()),
        party=party,
        role=role,
        records=records,
        schema=schema,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        digest=digest,
    )
    old: tuple[EncodingEntry, ...] = ()
    if path.exists():
        try:
            previous = read_sidecar(path)
        except InputError:
            raise InputError(f"{path} exists and is not a pprl sidecar; it is left alone") from None
        if replace(previous.csv, name=facts.name) == facts:
            old = tuple(e for e in previous.encodings if e.path != entry.path)
    sidecar = Sidecar(facts, (*old, entry)[-MAX_ENTRIES:])
    text = json.dumps(sidecar.to_json(), ensure_ascii=False, indent=2) + "\n"
    with output_file(path, force=True, inputs=[csv, output]) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


@dataclass(frozen=True)
class Plan:
    """Where ``pprl encode`` will write the sidecar of ``csv`` (``path``), decided before
    encoding: ``problem`` says why it will not (a warning; the encoding goes on)."""

    csv: Path
    path: Path
    before: Stamp
    problem: str | None

    def write(
        self,
        output: Path,
        meta: dict[str, Any],
        records: int,
        rows: int,
        text_encoding: str,
    ) -> list[str]:
        """Record the encoding written to ``output`` (metadata ``meta``, ``records``
        records of which ``rows`` are the CSV's); returns warnings (nothing raised: the
        encoding file is written already)."""
        if self.problem:
            return []
        try:
            record_encoding(
                self.path,
                self.csv,
                self.before,
                rows=rows,
                text_encoding=text_encoding,
                output=output,
                party=str(meta.get("party", "")),
                role=str(meta.get("role", "claims")),
                records=records,
                schema=str(meta.get("schema_name", "")),
                digest=str(meta.get("digest", "")),
            )
        except (InputError, OSError) as exc:
            reason = str(exc) if isinstance(exc, InputError) else f"{self.path}: {exc.strerror}"
            return [f"no local sidecar written for pprl worklist ({reason})"]
        return []


def plan(
    csv: str | os.PathLike[str],
    given: str | os.PathLike[str] | None,
    inputs: list[str | os.PathLike[str]] | tuple[str | os.PathLike[str], ...] = (),
) -> Plan:
    """Decide, before encoding, where the sidecar of ``csv`` goes: ``given`` (``--sidecar``;
    a problem there is an error) or beside the CSV (a problem there is a warning, and
    no sidecar). ``inputs`` (the run's inputs and output) are never the sidecar."""
    from pprl.resultset import check_output_file

    source = Path(csv)
    path = Path(given) if given is not None else default_path(source)
    problem = target_problem(path)
    if problem is None:
        try:
            check_output_file(path, force=True, inputs=[source, *inputs])
        except InputError as exc:
            problem = str(exc).replace("--out ", "", 1)
    if problem and given is not None:
        raise InputError(f"--sidecar {problem}")
    if problem:
        problem = (
            f"no local sidecar will be written ({problem}); pprl worklist will then need "
            "--no-check: give --sidecar FILE in a folder you can write"
        )
    return Plan(source, path, stamp(source), problem)
