"""End-to-end synthetic run: population -> claims -> planted errors -> numbers -> files."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from pprl.errors import InputError, PprlError
from pprl.resultset import MANIFEST, output_file, read_manifest
from pprl.synth.config import BANK_KIND_WEIGHTS, INSURER_KIND_WEIGHTS, SynthConfig, SynthSummary
from pprl.synth.export import EXPORT_FILE, write_export
from pprl.synth.households import Population, build_population
from pprl.synth.mislinks import (
    INVALID,
    WRONG,
    ClaimPlan,
    PlantState,
    bank_owners,
    insurer_owners,
    plant,
    plant_namesakes,
)
from pprl.synth.names import Names, load_names
from pprl.synth.noise import KanaEligibility, decide
from pprl.synth.numbers import invalid_variants, transposition_pairs, unique_numbers
from pprl.synth.writer import (
    BANK_COLUMNS,
    INSURER_COLUMNS,
    REGISTER_COLUMNS,
    TRUTH_COLUMNS,
    ChunkWriter,
    Formatter,
    bank_chunk,
    insurer_chunk,
    register_chunk,
    truth_chunk,
    write_chunks,
)

Progress = Callable[[int, int], None]

FILES = ("register.csv", "insurer.csv", "bank.csv", "truth.csv", EXPORT_FILE)
"""Every file synth writes (``bank.csv`` only with bank claims, ``insurer-export.csv``
only with ``export_layout``; without, a stale one is removed, as it would contradict
``truth.csv``)."""


def _rng(seed: int, *stream: int) -> np.random.Generator:
    """Independent deterministic stream per purpose (and per chunk)."""
    return np.random.default_rng([seed, *stream])


def _extra_namesakes(config: SynthConfig, pop: Population, state: PlantState) -> None:
    """Plant namesakes beyond the natural ones (some sharing the birth date)."""
    rng = _rng(config.seed, 2)
    n = int(round(len(pop) * config.profile.extra_namesake_rate))
    src = rng.choice(len(pop), size=n, replace=False)
    plant_namesakes(rng, pop, src, rng.random(n) < config.profile.extra_namesake_same_dob, state)
    state.locked[:] = False  # background namesakes may still be used by planted errors


def _assign_numbers(config: SynthConfig, pop: Population, state: PlantState) -> None:
    """Unique valid numbers for everyone; transposition pairs get neighbouring numbers."""
    rng = _rng(config.seed, 3)
    pop.number[:] = unique_numbers(rng, len(pop))
    pairs = list(state.pairs)
    n_extra = int(round(len(pop) * config.profile.transposition_pair_rate))
    if n_extra:  # background neighbours among residents not involved in planted errors
        pick = np.unique(rng.integers(0, len(pop), 4 * n_extra + 64))
        pick = rng.permutation(pick[~state.locked[pick]])[: 2 * n_extra]
        pairs += list(zip(pick[0::2].tolist(), pick[1::2].tolist(), strict=False))
    if pairs:
        who = np.asarray(pairs, dtype=np.int64)
        nums = transposition_pairs(rng, len(who), pop.number)
        pop.number[who[:, 0]] = nums[:, 0]
        pop.number[who[:, 1]] = nums[:, 1]
    ordered = np.sort(pop.number)
    if (ordered[1:] == ordered[:-1]).any():  # pragma: no cover - guarded by construction
        raise RuntimeError("internal error: duplicate My Numbers generated")


def _resolve(
    plan: ClaimPlan, pop: Population, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Linked and true numbers per claim row, after all numbers are final."""
    true = pop.number[plan.owner]
    linked = true.copy()
    wrong = plan.status == WRONG
    linked[wrong] = pop.number[plan.target[wrong]]
    inv = plan.status == INVALID
    linked[inv] = invalid_variants(true[inv], rng)
    return linked, true


def _result_set_holding(folder: Path) -> Path | None:
    """``folder`` or the folder above it that is a pprl result set (a valid manifest)."""
    for p in (folder, *folder.parents):
        if (p / MANIFEST).is_file():
            try:
                read_manifest(p)
            except PprlError:
                continue
            return p
    return None


def check_out(config: SynthConfig, out_dir: Path, force: bool = False) -> None:
    """Whether :func:`generate` may write into ``out_dir``, checked before any work and
    without creating anything: a valid config; ``out_dir`` not inside a pprl result set
    (even with ``force``: its manifest would no longer match); and no file synth writes
    (or removes: a stale ``bank.csv``) already there unless ``force``. Raises
    :class:`InputError` naming the folder or file."""
    config.validate()
    out_dir = Path(out_dir)
    home = _result_set_holding(Path(os.path.abspath(out_dir)).resolve())
    if home is not None:
        raise InputError(
            f"--out {out_dir}: {home} is a pprl result set; synth never writes into one, "
            "even with --force"
        )
    for name in FILES:
        p = out_dir / name
        if p.is_dir():
            raise InputError(f"--out {out_dir}: {p} is a folder")
        if (p.exists() or p.is_symlink()) and not force:
            raise InputError(f"--out {out_dir}: {p} exists; pass --force to replace it")


def generate(
    config: SynthConfig,
    out_dir: Path,
    progress: Progress | None = None,
    *,
    force: bool = False,
) -> SynthSummary:
    """Generate register, insurer (and bank) claims and truth into ``out_dir``.

    Deterministic for ``config.seed``. :func:`check_out` runs first: an existing file
    is replaced only with ``force``. Every file is written to a temporary name and
    renamed into place only when all are complete; a run that fails removes the
    folders it created.
    """
    check_out(config, out_dir, force)
    out_dir = Path(out_dir)
    created = [p for p in (out_dir, *out_dir.parents) if not p.exists()]
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create output directory {out_dir}: {exc.strerror}") from exc
    try:
        return _generate(config, out_dir, progress, force)
    except BaseException:
        for folder in created:  # deepest first; only if the run left them empty
            try:
                folder.rmdir()
            except OSError:
                break
        raise


def _generate(
    config: SynthConfig, out_dir: Path, progress: Progress | None, force: bool
) -> SynthSummary:
    """:func:`generate` once ``out_dir`` exists."""
    t0 = time.perf_counter()
    names = load_names()
    pop = build_population(
        _rng(config.seed, 1),
        config.people,
        names,
        config.profile.register_old_kanji_rate,
        config.profile.twin_rate,
    )
    state = PlantState(np.zeros(len(pop), dtype=bool))
    _extra_namesakes(config, pop, state)
    plans = _plan_claims(config, pop, state)
    _assign_numbers(config, pop, state)
    total = len(pop) + sum(len(p.owner) for _, p, _ in plans)
    done = [0]

    def tick(n: int) -> None:
        """Count written rows and report them to the caller."""
        done[0] += n
        if progress is not None:
            progress(done[0], total)

    files = _write_all(config, out_dir, pop, names, plans, tick, force)
    planted = {f: p.counts() for f, p, _ in plans}
    return SynthSummary(
        len(pop),
        len(pop.households),
        len(plans[0][1].owner),
        len(plans[1][1].owner) if len(plans) > 1 else 0,
        planted,
        files,
        time.perf_counter() - t0,
        config.profile.name,
    )


def _plan_claims(
    config: SynthConfig, pop: Population, state: PlantState
) -> list[tuple[str, ClaimPlan, int]]:
    """Choose claim owners and plant errors: [(file name, plan, stream id)]."""
    rng = _rng(config.seed, 4)
    m = config.insurer_claims()
    plans = [
        (
            "insurer.csv",
            plant(
                rng,
                pop,
                insurer_owners(rng, pop, m),
                round(m * config.mislink_rate),
                round(m * config.invalid_rate),
                INSURER_KIND_WEIGHTS,
                state,
            ),
            10,
        )
    ]
    if config.bank_claims:
        b = config.bank_claims
        plans.append(
            (
                "bank.csv",
                plant(
                    rng,
                    pop,
                    bank_owners(rng, pop, b),
                    round(b * config.mislink_rate),
                    round(b * config.invalid_rate),
                    BANK_KIND_WEIGHTS,
                    state,
                ),
                20,
            )
        )
    return plans


def _write_all(
    config: SynthConfig,
    out_dir: Path,
    pop: Population,
    names: Names,
    plans: list[tuple[str, ClaimPlan, int]],
    tick: Callable[[int], None],
    force: bool,
) -> dict[str, Path]:
    """Write every file to a temporary name (:func:`pprl.resultset.output_file`), then
    rename them all into place; on any error the temporary files are removed."""
    fmt = Formatter(names)
    elig = KanaEligibility(names)
    chunk = config.chunk_rows
    lock = threading.Lock()
    writers: dict[str, ChunkWriter] = {}

    def safe_tick(n: int) -> None:
        """Progress from two threads (register writer and claims)."""
        with lock:
            tick(n)

    with ExitStack() as stack:

        def open_writer(name: str, columns: list[str]) -> ChunkWriter:
            """A writer for ``out_dir/name`` into a temporary file renamed on success."""
            path = out_dir / name
            tmp = stack.enter_context(output_file(path, force=force))
            writers[name] = w = ChunkWriter(path, columns, tmp)
            stack.callback(w.close)  # closed before its file is renamed or removed
            return w

        open_writer("register.csv", REGISTER_COLUMNS)
        open_writer("truth.csv", TRUTH_COLUMNS)
        pool = ThreadPoolExecutor(max_workers=1)  # the register is written while claims are built
        try:
            register_job = pool.submit(
                write_chunks,
                writers["register.csv"],
                len(pop),
                chunk,
                lambda a, b: register_chunk(fmt, pop, a, b),
                safe_tick,
            )
            for fname, plan, stream in plans:
                cols = INSURER_COLUMNS if fname == "insurer.csv" else BANK_COLUMNS
                w = open_writer(fname, cols)
                linked, true = _resolve(plan, pop, _rng(config.seed, stream))
                build = insurer_chunk if fname == "insurer.csv" else bank_chunk
                for a in range(0, len(plan.owner), chunk):
                    b = min(len(plan.owner), a + chunk)
                    rng = _rng(config.seed, stream, 1 + a // chunk)
                    part = ClaimPlan(
                        plan.owner[a:b], plan.target[a:b], plan.kind[a:b], plan.status[a:b]
                    )
                    bits, surname = decide(
                        rng,
                        config.profile.noise,
                        pop,
                        names,
                        elig,
                        part.owner,
                        bank=fname == "bank.csv",
                    )
                    w.write(build(fmt, pop, part, linked[a:b], bits, surname, rng))
                    writers["truth.csv"].write(
                        truth_chunk(fname, a, part, linked[a:b], true[a:b], bits)
                    )
                    safe_tick(b - a)
            register_job.result()
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        finally:
            pool.shutdown(wait=True)
        for w in writers.values():
            w.close()
        if config.export_layout:  # from the finished insurer file, renamed with the rest
            export = out_dir / EXPORT_FILE
            tmp = stack.enter_context(output_file(export, force=force))
            write_export(writers["insurer.csv"].tmp, tmp, config.seed)
            exported = {EXPORT_FILE: export}
        else:
            exported = {}
    for name in ("bank.csv", EXPORT_FILE):  # from an earlier run (--force): they would
        stale = out_dir / name  # contradict the new insurer.csv and truth.csv
        wanted = len(plans) > 1 if name == "bank.csv" else config.export_layout
        if not wanted and (stale.exists() or stale.is_symlink()):
            stale.unlink()
    return {**{name: w.path for name, w in writers.items()}, **exported}
