"""Result sets: a command's outputs, written as one unit that never destroys anything.

A **result set** is a folder of outputs (``pprl verify --out DIR``, ``pprl demo --out
DIR``) that appears complete or not at all:

* everything is written into a sibling temporary folder ``.<name>.pprl-tmp-<hex>`` in
  the same parent folder;
* ``manifest.json`` is written last inside it: format, pprl version, time, the command
  that wrote it, and every file's relative path, size and blake3 digest (and, for the
  files delivered to a party, the party's label and role);
* it is switched in with one rename: onto a new name, over an empty folder, or (with
  ``force``) exchanged atomically with pprl's own previous result set
  (``renameat2(RENAME_EXCHANGE)``; where the file system lacks it, the old set is
  renamed to ``.<name>.pprl-old-<hex>`` first and put back by the next run if the
  process died in between).

``--out`` must be new, an empty folder, or a result set pprl wrote itself (a valid
manifest and no file it does not list); a result set is replaced only with ``force``.
A lock (``flock`` on the sibling file ``.<name>.pprl-lock``) keeps two runs off one
``--out``; the next run that takes the lock removes the temporary folders and files of
killed runs. :func:`check_result_set` verifies a set against its manifest for readers.

**Single output files** (encoding files, links) go through :func:`output_file`: a
temporary ``.<name>.pprl-tmp-<hex>`` file renamed into place, the same lock and clean-up,
an existing file kept unless ``force``, and an input of the same run (the CSV, the key
file) never overwritten, even with ``force``.

Test hook: ``PPRL_TEST_PAUSE_AT=<stage>=<marker file>`` makes the process create the
marker file and sleep (at most :data:`PAUSE_SECONDS`) when it reaches ``<stage>``, so
a test can kill it at that exact point. Stages: ``files`` (a set's files written, no
manifest yet), ``manifest`` (manifest written, not switched in), ``old-moved`` (the
two-rename fallback only: old set moved away, new not yet in), ``switched`` (new set in
place, old not yet deleted), ``file`` (a single file's temporary written, not renamed).
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from blake3 import blake3

from pprl import __version__
from pprl.errors import InputError, IntegrityError

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "MANIFEST",
    "Manifest",
    "ManifestFile",
    "ResultSetWriter",
    "check_output_file",
    "check_result_set",
    "check_target",
    "leftovers",
    "output_file",
    "read_manifest",
    "result_set",
    "scratch_path",
    "tidy",
]

FORMAT = "pprl-result-set"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
TMP_TAG = ".pprl-tmp-"
OLD_TAG = ".pprl-old-"
LOCK_TAG = ".pprl-lock"
PAUSE_ENV = "PPRL_TEST_PAUSE_AT"
PAUSE_SECONDS = 60.0
_RANDOM = r"[0-9a-f]{12}"
_CHUNK = 1 << 20


# ----------------------------------------------------------------------------- manifest


@dataclass(frozen=True)
class ManifestFile:
    """One file of a result set: where, how big, its blake3 digest, and to whom it goes."""

    path: str
    size: int
    blake3: str
    party: str | None = None
    role: str | None = None

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"path": self.path, "size": self.size, "blake3": self.blake3}
        if self.party is not None:
            entry["party"] = self.party
            entry["role"] = self.role
        return entry


@dataclass(frozen=True)
class Manifest:
    """``manifest.json`` of a result set."""

    kind: str
    created: str
    pprl_version: str
    files: tuple[ManifestFile, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "pprl_version": self.pprl_version,
            "created": self.created,
            "kind": self.kind,
            "parties": [
                {"party": f.party, "role": f.role, "file": f.path}
                for f in self.files
                if f.party is not None
            ],
            "files": [f.to_json() for f in self.files],
        }


def _safe_relative(rel: object) -> str | None:
    """``rel`` if it is a plain relative path inside the set (no ``..``, not absolute)."""
    if not isinstance(rel, str) or not rel or "\\" in rel or "\x00" in rel:
        return None
    parts = rel.split("/")
    if rel.startswith("/") or any(p in ("", ".", "..") for p in parts) or rel == MANIFEST:
        return None
    return rel


def _parse_manifest(doc: object, where: Path) -> Manifest:
    """A :class:`Manifest` from parsed JSON, or :class:`IntegrityError` naming ``where``."""
    bad = IntegrityError(f"{where}: not a valid pprl result-set manifest")
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise bad
    if doc.get("format_version") != FORMAT_VERSION:
        raise IntegrityError(
            f"{where}: result-set format version {doc.get('format_version')!r} is not "
            f"{FORMAT_VERSION}"
        )
    entries = doc.get("files")
    if not isinstance(entries, list):
        raise bad
    files = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise bad
        rel = _safe_relative(entry.get("path"))
        size, digest = entry.get("size"), entry.get("blake3")
        if rel is None or not isinstance(size, int) or not isinstance(digest, str):
            raise bad
        party, role = entry.get("party"), entry.get("role")
        files.append(
            ManifestFile(
                rel,
                size,
                digest,
                party if isinstance(party, str) else None,
                role if isinstance(role, str) else None,
            )
        )
    if len({f.path for f in files}) != len(files):
        raise bad
    return Manifest(
        kind=str(doc.get("kind", "")),
        created=str(doc.get("created", "")),
        pprl_version=str(doc.get("pprl_version", "")),
        files=tuple(files),
    )


def read_manifest(folder: str | os.PathLike[str]) -> Manifest:
    """The manifest of the result set ``folder`` (its files are not checked)."""
    path = Path(folder) / MANIFEST
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{folder}: not a pprl result set (no {MANIFEST})") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        raise IntegrityError(f"{path}: not a valid pprl result-set manifest") from None
    return _parse_manifest(doc, path)


def _digest(path: Path, sync: bool = False) -> tuple[int, str]:
    """(size, blake3 hex) of a file, read in chunks; ``sync`` also flushes it to disk."""
    h = blake3()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
        if sync:
            os.fsync(f.fileno())
    return size, h.hexdigest()


def file_digest(path: str | os.PathLike[str]) -> str:
    """The blake3 hex digest of a file's bytes (as listed in a manifest)."""
    return _digest(Path(path))[1]


def _walk(folder: Path) -> Iterator[tuple[str, bool]]:
    """(relative path, is a plain file) of every non-folder entry under ``folder``,
    symbolic links included and never followed."""
    for root, dirs, files in os.walk(folder, followlinks=False):
        base = Path(root)
        for name in files + [d for d in dirs if (base / d).is_symlink()]:
            p = base / name
            yield p.relative_to(folder).as_posix(), p.is_file() and not p.is_symlink()


def check_result_set(folder: str | os.PathLike[str]) -> Manifest:
    """Verify a result set: every file its manifest lists is there with its size and
    blake3 digest. Raises :class:`IntegrityError` naming the first file that is missing
    or changed (a half-written or edited set); files it does not list are ignored."""
    root = Path(folder)
    manifest = read_manifest(root)
    for f in manifest.files:
        p = root / f.path
        if p.is_symlink() or not p.is_file():
            raise IntegrityError(f"{root}: result set is incomplete: {f.path} is missing")
        size, digest = _digest(p)
        if size != f.size or digest != f.blake3:
            raise IntegrityError(
                f"{root}: result set was changed after pprl wrote it: {f.path} does not "
                "match its manifest digest"
            )
    return manifest


# --------------------------------------------------------------------- target and lock


def _target(path: str | os.PathLike[str]) -> Path:
    """The absolute path to write; a symbolic link is followed to what it names."""
    p = Path(os.path.abspath(os.fspath(path)))
    return p.resolve() if p.is_symlink() else p


def _pause(stage: str) -> None:
    """Test hook (see the module docstring): pause at ``stage`` so a test can kill us."""
    spec = os.environ.get(PAUSE_ENV, "")
    wanted, _, marker = spec.partition("=")
    if wanted != stage or not marker:
        return
    Path(marker).write_text(str(os.getpid()), encoding="utf-8")
    time.sleep(PAUSE_SECONDS)


def _sibling(target: Path, tag: str) -> Path:
    return target.parent / f".{target.name}{tag}"


def _leftover_pattern(t: Path) -> re.Pattern[str]:
    return re.compile(
        "("
        + re.escape(f".{t.name}{TMP_TAG}")
        + "|"
        + re.escape(f".{t.name}{OLD_TAG}")
        + ")"
        + _RANDOM
    )


def leftovers(target: str | os.PathLike[str]) -> list[Path]:
    """Temporary folders/files of runs that wrote ``target`` and died (or are running:
    call this with the lock held)."""
    t = _target(target)
    pattern = _leftover_pattern(t)
    try:
        names = os.listdir(t.parent)
    except OSError:
        return []
    return sorted(t.parent / n for n in names if pattern.fullmatch(n))


Inputs = Sequence[str | os.PathLike[str]]


def _chain(given: str | os.PathLike[str]) -> list[Path]:
    """The path ``given`` as spelled (made absolute) and fully resolved, each with every
    folder above it: every path whose removal or replacement would take ``given`` along."""
    raw = Path(os.path.abspath(os.fspath(given)))
    try:
        real = raw.resolve()
    except (OSError, RuntimeError):
        real = raw
    return [raw, *raw.parents, real, *real.parents]


def _same_dir(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or os.path.samefile(a, b)
    except (OSError, RuntimeError):
        return False


def _check_inputs(out: str | os.PathLike[str], target: Path, inputs: Inputs, folder: bool) -> None:
    """Refuse (one line naming the input) an input of the run that pprl's lock release
    or leftover clean-up for ``target`` would remove (named like its lock or temporary
    files, or inside such a path) and, with ``folder``, an input inside ``target``."""
    pattern = _leftover_pattern(target)
    lock_name = _sibling(target, LOCK_TAG).name
    for given in inputs:
        if "://" in os.fspath(given):
            continue
        for q in dict.fromkeys(_chain(given)):
            if not q.name:
                continue
            if (q.name == lock_name or pattern.fullmatch(q.name)) and _same_dir(
                q.parent, target.parent
            ):
                raise InputError(
                    f"input {given} is named like pprl's lock or temporary file for --out "
                    f"{out}; rename it or give another --out"
                )
            if folder and _same_file(q, target):
                raise InputError(
                    f"--out {out} is or holds an input of this run ({given}); pprl never replaces "
                    "its inputs or the key file, even with --force; give another folder"
                )


def _is_input(path: Path, inputs: Inputs) -> bool:
    """Whether removing ``path`` would remove an input of the run (or what holds one)."""
    return any(
        _same_file(q, path)
        for given in inputs
        if "://" not in os.fspath(given)
        for q in _chain(given)
    )


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _io_error(target: Path, exc: OSError) -> InputError:
    reason = exc.strerror or (str(exc).splitlines() or [type(exc).__name__])[0]
    return InputError(f"cannot write {target}: {reason[:1].lower() + reason[1:]}")


def _check_parent(target: Path, what: str) -> None:
    """Refuse a path with no name (``/``) and a parent folder pprl cannot write into."""
    if not target.name:
        raise InputError(f"--out {target}: give a {what} name")
    parent = next((p for p in target.parents if p.exists()), None)
    if parent is not None and not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"cannot write {target}: {parent} is not writable")


@contextmanager
def _locked(target: Path, inputs: Inputs = ()) -> Iterator[list[Path]]:
    """Hold the sibling lock of ``target`` (refusing at once if another run holds it);
    then put back an old set a killed run left moved away, and remove the leftovers of
    killed runs (yielded), never one that is (or holds) an input of the run. The lock
    file is removed on release."""
    lock = _sibling(target, LOCK_TAG)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _io_error(target, exc) from None
    fd = -1
    for _ in range(50):  # the file can be unlinked by its holder between open and flock
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise _io_error(target, exc) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise InputError(
                f"another pprl run is writing {target}; wait for it to finish"
            ) from None
        try:
            st = os.stat(lock)
            same = (st.st_ino, st.st_dev) == (os.fstat(fd).st_ino, os.fstat(fd).st_dev)
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
        fd = -1
    if fd < 0:
        raise InputError(f"cannot lock {target}: its lock file keeps changing")
    try:
        _recover(target, inputs)
        removed = [old for old in leftovers(target) if not _is_input(old, inputs)]
        for old in removed:
            _remove(old)
        yield removed
    finally:
        try:
            if not _is_input(lock, inputs):
                os.unlink(lock)
        except OSError:
            pass
        os.close(fd)


def _recover(target: Path, inputs: Inputs = ()) -> None:
    """Put back an old result set that a run killed between the two renames of the
    fallback switch moved away (only when nothing is at ``target``)."""
    if target.exists() or target.is_symlink():
        return
    for old in leftovers(target):
        if OLD_TAG in old.name and old.is_dir() and not _is_input(old, inputs):
            try:
                read_manifest(old)
            except (InputError, IntegrityError):
                continue
            os.rename(old, target)
            return


# ----------------------------------------------------------------------- folder targets


def _extra_files(target: Path, manifest: Manifest) -> list[str]:
    """Entries of ``target`` its manifest does not account for: files it does not list,
    links, and folders (empty or not) that hold none of its files."""
    listed = {f.path for f in manifest.files} | {MANIFEST}
    extra = {rel for rel, plain in _walk(target) if not plain or rel not in listed}
    folders = {p.as_posix() for f in manifest.files for p in Path(f.path).parents} - {"."}
    for root, dirs, _ in os.walk(target, followlinks=False):
        for d in dirs:
            rel = (Path(root) / d).relative_to(target).as_posix()
            if not (Path(root) / d).is_symlink() and rel not in folders:
                extra.add(rel + "/")
    return sorted(extra)


def _changed_files(target: Path, manifest: Manifest) -> list[str]:
    """Files of the set whose size or blake3 digest is not the manifest's (a file the
    manifest lists that is gone loses nothing and is not reported)."""
    changed = []
    for f in manifest.files:
        p = target / f.path
        if p.is_symlink() or not p.exists():
            continue
        if not p.is_file():
            changed.append(f.path)
            continue
        try:
            size, digest = _digest(p)
        except OSError:
            changed.append(f.path)
            continue
        if size != f.size or digest != f.blake3:
            changed.append(f.path)
    return changed


def _shown(names: Sequence[str]) -> str:
    return ", ".join(names[:3]) + (", …" if len(names) > 3 else "")


def check_target(
    out: str | os.PathLike[str],
    *,
    force: bool = False,
    replaces: Sequence[str] = (),
    inputs: Inputs = (),
) -> str:
    """Whether a result set may be written to ``out``, without touching anything.

    Returns ``"new"``, ``"empty"`` or ``"replace"``; raises :class:`InputError` naming
    ``out`` when it is a file, a non-empty folder that is not a pprl result set, a result
    set holding files or folders pprl did not write or files changed since (their blake3
    digest is not the manifest's), or a result set and neither ``force`` is given nor its
    kind is in ``replaces``. An input of the run (``inputs``: the files it reads, the key
    file) inside ``out``, or named like ``out``'s lock or temporary files, is refused
    even with ``force``."""
    target = _target(out)
    _check_inputs(out, target, inputs, folder=False)
    _check_parent(target, "folder")
    if not target.exists():
        return "new"
    if not target.is_dir():
        raise InputError(f"--out {target} is a file, not a folder; give a folder")
    try:
        empty = not any(target.iterdir())
    except OSError as exc:
        raise InputError(f"cannot read {target}: {(exc.strerror or str(exc)).lower()}") from None
    if empty:
        _not_cwd(target)
        return "empty"
    if not (target / MANIFEST).is_file():
        raise InputError(
            f"--out {target} is not empty and not a pprl result set; give a new or empty folder"
        )
    try:
        manifest = read_manifest(target)
    except (InputError, IntegrityError):
        raise InputError(
            f"--out {target} is not empty and not a pprl result set (its {MANIFEST} is not "
            "pprl's); give a new or empty folder"
        ) from None
    _check_inputs(out, target, inputs, folder=True)  # what replacing it would take along
    extra = _extra_files(target, manifest)
    if extra:
        raise InputError(
            f"--out {target} holds files pprl did not write ({_shown(extra)}); move them away "
            "or give another folder"
        )
    if not force and manifest.kind not in replaces:
        raise InputError(
            f"--out {target} exists; pass --force to replace pprl's previous result set"
        )
    changed = _changed_files(target, manifest)
    if changed:
        raise InputError(
            f"--out {target} was changed after pprl wrote it ({_shown(changed)} does not "
            "match its manifest digest); not replacing it"
        )
    _not_cwd(target)
    return "replace"


def _not_cwd(target: Path) -> None:
    """Refuse to switch out the folder this process (and likely the user's shell) is in."""
    try:
        cwd = Path.cwd().resolve()
    except OSError:
        return
    if cwd == target.resolve() or target.resolve() in cwd.parents:
        raise InputError(
            f"--out {target} is the current folder or holds it; run pprl from another folder "
            "(a result set is replaced as a whole)"
        )


def _exchange(a: Path, b: Path) -> bool:
    """Swap ``a`` and ``b`` atomically (Linux ``renameat2(RENAME_EXCHANGE)``); False where
    the platform or file system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    c_int, c_path = ctypes.c_int, ctypes.c_char_p
    renameat2.argtypes = [c_int, c_path, c_int, c_path, ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _new_name(target: Path, tag: str) -> Path:
    return _sibling(target, tag + secrets.token_hex(6))


def scratch_path(out: str | os.PathLike[str]) -> Path:
    """A fresh name beside ``out`` for a scratch file or folder of the run that writes it
    (inside :func:`output_file`, which holds ``out``'s lock). It is named like the run's
    temporary file, so the next write removes one that a killed run left behind; the
    caller creates it and removes it when done."""
    return _new_name(_target(out), TMP_TAG)


@dataclass
class ResultSetWriter:
    """Handed out by :func:`result_set`: write every file under :attr:`path` and name
    the files that go to a party with :meth:`deliver`."""

    path: Path
    kind: str
    parties: dict[str, tuple[str, str]] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    manifest: Manifest | None = None

    def deliver(self, label: str, relative: str | os.PathLike[str], role: str) -> None:
        """Record that ``relative`` (a path inside the set) goes to party ``label``."""
        self.parties[Path(relative).as_posix()] = (label, role)

    def write_manifest(self) -> Manifest:
        """Digest every file (flushing each to disk) and write ``manifest.json`` last."""
        entries = []
        for rel, plain in sorted(_walk(self.path)):
            if not plain:
                raise InputError(f"{self.path / rel}: a result set holds plain files only")
            if rel == MANIFEST:
                continue
            size, digest = _digest(self.path / rel, sync=True)
            party, role = self.parties.get(rel, (None, None))
            entries.append(ManifestFile(rel, size, digest, party, role))
        missing = sorted(set(self.parties) - {e.path for e in entries})
        if missing:
            raise InputError(f"{self.path}: delivered file(s) not written: {', '.join(missing)}")
        manifest = Manifest(
            kind=self.kind,
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            pprl_version=__version__,
            files=tuple(entries),
        )
        with open(self.path / MANIFEST, "w", encoding="utf-8") as f:
            json.dump(manifest.to_json(), f, ensure_ascii=False, indent=2)
            f.flush()
            os.fsync(f.fileno())
        for root, _, _ in os.walk(self.path):
            _fsync_dir(Path(root))
        self.files = [Path(e.path) for e in entries] + [Path(MANIFEST)]
        self.manifest = manifest
        return manifest


def _switch(tmp: Path, target: Path, how: str) -> None:
    """Put the finished set ``tmp`` at ``target`` with one atomic step."""
    if how == "new":
        try:
            os.rename(tmp, target)
        except OSError as exc:
            if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
                raise InputError(f"--out {target} appeared while pprl was writing") from None
            raise
    elif how == "empty":
        try:
            os.replace(tmp, target)  # POSIX: a folder may replace an empty folder
        except OSError as exc:
            if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
                raise InputError(f"--out {target} is no longer empty; nothing written") from None
            raise
    elif _exchange(tmp, target):
        _pause("switched")
        shutil.rmtree(tmp)  # now the old set; a crash here leaves a recognised leftover
    else:
        old = _new_name(target, OLD_TAG)
        os.rename(target, old)
        _pause("old-moved")
        os.rename(tmp, target)
        _pause("switched")
        shutil.rmtree(old)
    _fsync_dir(target.parent)


@contextmanager
def result_set(
    out: str | os.PathLike[str],
    kind: str,
    *,
    force: bool = False,
    replaces: Sequence[str] = (),
    inputs: Inputs = (),
) -> Iterator[ResultSetWriter]:
    """Write a result set to ``out`` as one unit.

    Checks ``out`` (:func:`check_target`), takes its lock, removes leftovers of killed
    runs and yields a :class:`ResultSetWriter` whose ``path`` is an empty temporary
    folder beside ``out``. When the block finishes, the manifest is written last and
    the set switched in; when it raises, the temporary folder is removed and ``out`` is
    as it was. ``kind`` names the command (``verify``, ``demo``); a previous set is
    replaced with ``force``, or without it when its kind is in ``replaces``. ``inputs``
    (the files the run reads, the key file) are never replaced or removed: one inside
    ``out`` or named like its lock or temporary files is refused.
    """
    target = _target(out)
    check_target(target, force=force, replaces=replaces, inputs=inputs)
    with _locked(target, inputs):
        try:
            tmp = _new_name(target, TMP_TAG)
            tmp.mkdir()
        except OSError as exc:
            raise _io_error(target, exc) from None
        try:
            writer = ResultSetWriter(tmp, kind)
            yield writer
            _pause("files")
            writer.write_manifest()
            _pause("manifest")
            # again, locked: the folder may have changed while the files were written
            how = check_target(target, force=force, replaces=replaces, inputs=inputs)
            _switch(tmp, target, how)
        except OSError as exc:
            raise _io_error(target, exc) from None
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)


def tidy(out: str | os.PathLike[str]) -> list[Path]:
    """Take ``out``'s lock, put back a set a killed run left moved away, and remove
    the leftovers of killed runs; returns what was removed. Refuses while a run holds
    the lock."""
    with _locked(_target(out)) as removed:
        return removed


# ------------------------------------------------------------------------- single files


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.resolve() == b.resolve():
            return True
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_output_file(
    out: str | os.PathLike[str],
    *,
    force: bool = False,
    inputs: Sequence[str | os.PathLike[str]] = (),
) -> Path:
    """Whether a single output file may be written to ``out``, without touching anything.

    Refuses (:class:`InputError` naming ``out``) an input of the same run (compared by
    resolved path and by ``os.path.samefile``) even with ``force``, a folder, and an
    existing file without ``force``; and an input named like ``out``'s lock or temporary
    files (one line naming the input). Returns the path that will be written."""
    target = _target(out)
    _check_inputs(out, target, inputs, folder=False)
    raw = Path(os.path.abspath(os.fspath(out)))
    for given in inputs:
        if "://" in os.fspath(given):
            continue
        src = Path(os.path.abspath(os.fspath(given)))
        if _same_file(raw, src) or _same_file(target, src):
            raise InputError(
                f"--out {out} is an input of this run ({given}); pprl never overwrites its "
                "inputs or the key file, even with --force"
            )
    _check_parent(target, "file")
    if target.is_dir():
        raise InputError(f"--out {out} is a folder; give a file name")
    if (target.exists() or target.is_symlink()) and not force:
        raise InputError(f"--out {out} exists; pass --force to replace it")
    if _looks_like_key(target):
        raise InputError(
            f"--out {out}{' (a link to ' + str(target) + ')' if target != raw else ''} holds "
            "a pprl secret key; pprl never overwrites a key file, even with --force"
        )
    return target


_KEY_TEXT = re.compile(rb"\s*[0-9a-fA-F]{64}\s*")


def _looks_like_key(path: Path) -> bool:
    """Whether ``path`` is a regular file holding what ``pprl keygen`` writes (64 hex
    characters): such a file is never replaced, whichever command writes (``pprl
    evaluate --plot`` has no key file among its inputs to compare with)."""
    try:
        if not path.is_file() or path.stat().st_size > 1024:
            return False
        with open(path, "rb") as fh:
            return _KEY_TEXT.fullmatch(fh.read(1025)) is not None
    except OSError:
        return False


@contextmanager
def output_file(
    out: str | os.PathLike[str],
    *,
    force: bool = False,
    inputs: Sequence[str | os.PathLike[str]] = (),
) -> Iterator[Path]:
    """Yield a temporary path beside ``out``; on success rename it to ``out``.

    :func:`check_output_file` decides whether ``out`` may be written; the write holds
    ``out``'s lock and removes leftovers of killed runs first. Without ``force`` the
    file is linked into place, so a file that appeared meanwhile is never replaced.
    """
    target = check_output_file(out, force=force, inputs=inputs)
    with _locked(target, inputs):
        tmp = _new_name(target, TMP_TAG)
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666))
        except OSError as exc:
            raise _io_error(target, exc) from None
        try:
            yield tmp
            _pause("file")
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            check_output_file(out, force=force, inputs=inputs)  # again, locked
            if force:
                os.replace(tmp, target)
            else:
                try:
                    os.link(tmp, target)
                except FileExistsError:
                    raise InputError(f"--out {out} appeared while pprl was writing") from None
                except OSError:  # no hard links on this file system
                    os.replace(tmp, target)
            _fsync_dir(target.parent)
        except OSError as exc:
            raise _io_error(target, exc) from None
        finally:
            tmp.unlink(missing_ok=True)
