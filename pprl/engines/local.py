"""The local engine: verification and matching in this process.

It runs the same plans as the Dask engine (:mod:`pprl.verify.plan`,
:mod:`pprl.match_core`), each stage as one partition holding the whole files, with
the numba and C kernels on ``threads`` threads. Files are read whole
(:func:`pprl.store.read_encodings`, paths or fsspec URLs).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa

from pprl.engines import kernel_threads, started_at
from pprl.match_core import MatchOptions, check_match, links_table, make_blocking, match_rows
from pprl.partition import Layout, Piece, whole_piece
from pprl.store import Encodings, read_encodings
from pprl.verify.outputs import VerifyResult
from pprl.verify.plan import (
    Accumulator,
    StageProgress,
    ThresholdSpec,
    VerifyPlan,
    finish,
    join_partition,
    plan_verify,
    search_partition,
)

__all__ = ["match_local", "run_verify_plan", "verify_local"]


def _quiet(stage: str) -> None:
    """A progress callback that reports nothing."""


def verify_local(
    reference: str | Path,
    claims: Sequence[str | Path],
    *,
    thresholds: ThresholdSpec = None,
    blocking: Sequence[str] | None = None,
    progress: StageProgress | None = None,
    threads: int | None = None,
) -> VerifyResult:
    """:func:`pprl.verify.verify` in this process."""
    say = progress or _quiet
    start = started_at()
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    say("reading encoding files")
    ref = read_encodings(reference)
    encs = [read_encodings(c) for c in claims]
    ref_outline, claim_outlines = ref.outline(), [e.outline() for e in encs]
    total = len(ref) + sum(len(e) for e in encs)
    plan = plan_verify(
        ref_outline,
        claim_outlines,
        thresholds=thresholds,
        blocking=blocking,
        layout=Layout(1, max(1, total)),
    )
    timings["read"] = time.perf_counter() - t0
    with kernel_threads(threads):
        acc = run_verify_plan(plan, ref, encs, say, timings)
    del ref, encs  # findings need rows and labels only; the CLKs are most of the memory
    return finish(plan, acc, ref_outline, claim_outlines, timings, say, start)


def run_verify_plan(
    plan: VerifyPlan,
    ref: Encodings,
    claims: Sequence[Encodings],
    say: StageProgress,
    timings: dict[str, float],
) -> Accumulator:
    """Every stage of ``plan`` as one whole-file partition, folded into an
    :class:`Accumulator`."""
    side = _ClaimsSide(claims)
    acc = Accumulator(plan)
    th = plan.thresholds
    t = time.perf_counter()
    say("joining claims to the register")
    acc.add_join(
        join_partition(
            whole_piece(ref, None, attrs=plan.attrs),
            side.piece(None, None, plan.attrs),
            th.different_people,
        )
    )
    timings["join"] = time.perf_counter() - t
    everyone = list(range(len(claims)))
    for stage in plan.searches:
        t = time.perf_counter()
        say(f"searching the blocks of {stage.key}")
        files = stage.searching_files()
        search = side.piece(stage.key, files, plan.attrs)
        near = None
        if stage.near_rank >= 0:
            near = search if files == everyone else side.piece(stage.key, everyone)
        acc.add_search(
            stage,
            search_partition(
                whole_piece(ref, stage.key, attrs=plan.attrs),
                search,
                near,
                th.search_score,
                th.same_person,
            ),
        )
        timings[f"search:{stage.key}"] = time.perf_counter() - t
    return acc


class _ClaimsSide:
    """The claims files concatenated in order, as whole pieces; the CLKs are
    concatenated once (not at all for a single file)."""

    def __init__(self, claims: Sequence[Encodings]) -> None:
        self.claims = list(claims)
        self.clks = claims[0].clks if len(claims) == 1 else np.concatenate([c.clks for c in claims])
        self.idx = np.arange(sum(len(c) for c in claims), dtype=np.int64)

    def piece(self, block: str | None, files: list[int] | None, attrs: Sequence[str] = ()) -> Piece:
        """The claims of ``files`` (None: all) keyed by ``block`` (None: the pseudonym);
        the other files' records are marked as lacking the key. ``attrs``: block keys
        carried along (:attr:`Piece.attrs`)."""
        whole = [whole_piece(e, None, attrs=attrs).attrs for e in self.claims]
        carried = tuple(
            (np.concatenate([w[j][0] for w in whole]), np.concatenate([w[j][1] for w in whole]))
            if len(whole) > 1
            else whole[0][j]
            for j in range(len(attrs))
        )
        keys, valid = [], []
        for f, enc in enumerate(self.claims):
            if block is None:
                key, ok = enc.tokens, enc.has_token
            elif block in enc.block_keys:
                key, ok = enc.block_keys[block]
            else:
                key, ok = np.zeros(len(enc), np.uint64), np.zeros(len(enc), bool)
            keys.append(key)
            valid.append(ok if files is None or f in files else np.zeros(len(enc), bool))
        if len(self.claims) == 1:
            return Piece(self.idx, self.clks, keys[0], valid[0], carried)
        return Piece(self.idx, self.clks, np.concatenate(keys), np.concatenate(valid), carried)


def match_local(
    a_path: str | Path,
    b_path: str | Path | None,
    opts: MatchOptions,
    *,
    progress: StageProgress | None = None,
) -> pa.Table:
    """:func:`pprl.match.match_files` in this process: the row-range plan as one range."""
    say = progress or _quiet
    say("reading encoding files")
    a = read_encodings(a_path)
    b = read_encodings(b_path) if b_path is not None else None
    choice = check_match(a.outline(), None if b is None else b.outline(), opts)
    blocking = make_blocking(choice, a, b)
    say("searching candidate pairs")
    with kernel_threads(opts.threads):
        q, r, s = match_rows(a, b, blocking, 0, len(a), opts, opts.threads)
    return links_table(a.outline(), None if b is None else b.outline(), q, r, s, opts)
