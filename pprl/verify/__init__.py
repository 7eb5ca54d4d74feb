"""Claimed-link verification: the central matcher's main job.

For every claim record (a party's record together with the individual number it was
linked to, both encoded), :func:`verify` answers: does the registered person behind
that number look like this record, and does somebody else in the register look like
it clearly better? It works on encoding files only; the matcher never holds the secret.

Steps, in the order data flows (one module each; together the verification core):

1. :mod:`~pprl.verify.join` each claim to the register on the link-key pseudonym
   (no pseudonym -> ``invalid_number``; no register record -> ``unknown_number``);
2. :mod:`~pprl.verify.score` the claimed pair (Dice of the CLKs);
3. :mod:`~pprl.verify.search` the register for the best match other than the claimed
   record, within keyed blocks, giving ``candidate_ref_row``, ``candidate_score`` and
   ``margin = candidate_score - score``;
4. :mod:`~pprl.verify.decide` ``confirmed`` / ``review`` / ``suspect`` from the score and
   the margin together (:class:`Thresholds`), with the reasons that drove the decision;
5. :mod:`~pprl.verify.cross_checks`: one number claimed by different people, one person
   claimed under several numbers, and alternatives claimed by another record;
6. :mod:`~pprl.verify.outputs`: findings, party views, summary, files.

:mod:`~pprl.verify.plan` arranges steps 1-3 as stages of picklable partitions, which an
engine (:mod:`pprl.engines.local`, :mod:`pprl.engines.dask`) runs; the core never
imports an engine. This package's :func:`verify` is the public entry point: it picks
the engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pprl.errors import InputError
from pprl.verify.model import (
    CROSS_CHECK_REASONS,
    REASONS,
    STATUSES,
    InputInfo,
    Reason,
    Status,
    Thresholds,
    VerifySummary,
)

if TYPE_CHECKING:
    from pprl.compare.keyed import block_pair_count
    from pprl.engines.dask import TlsFiles
    from pprl.store import Encodings, Outline
    from pprl.verify.decide import ClaimsResult
    from pprl.verify.outputs import VerifyResult, party_view, reference_view, write_outputs
    from pprl.verify.plan import StageProgress, ThresholdSpec, VerifyPlan

__all__ = [
    "CROSS_CHECK_REASONS",
    "REASONS",
    "STATUSES",
    "ClaimsResult",
    "InputInfo",
    "Reason",
    "StageProgress",
    "Status",
    "ThresholdSpec",
    "Thresholds",
    "VerifyPlan",
    "VerifyResult",
    "VerifySummary",
    "block_pair_count",
    "party_view",
    "reference_view",
    "schema_thresholds",
    "verify",
    "write_outputs",
]


def schema_thresholds(enc: Encodings | Outline, overrides: ThresholdSpec = None) -> Thresholds:
    """Thresholds for files of this schema: the built-in defaults, then the schema's
    ``pprl.verify`` values (tuned for it), with ``overrides`` (e.g. CLI options) on top;
    a full :class:`Thresholds` as ``overrides`` is returned as given."""
    from pprl.verify.plan import resolve_thresholds

    return resolve_thresholds(enc, overrides)


def verify(
    reference: str | Path,
    claims: Sequence[str | Path],
    *,
    thresholds: ThresholdSpec = None,
    blocking: Sequence[str] | None = None,
    progress: StageProgress | None = None,
    threads: int | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    tls: TlsFiles | None = None,
) -> VerifyResult:
    """Verify every claim record of ``claims`` against the ``reference`` register.

    ``thresholds``: None (the schema's tuned values), a mapping of overrides applied on
    top of them (e.g. ``{"confirm_score": 0.7}``), or a full :class:`Thresholds`, used
    exactly as given (the schema's values then do not apply; build one with
    :meth:`Thresholds.for_schema` to start from them). ``blocking``: the block keys to
    search within (default: every key the files share). Paths may be fsspec URLs.

    Engines: ``threads`` kernel threads in this process (default: all cores);
    ``workers`` a local Dask cluster of that many processes; ``scheduler`` a running Dask
    scheduler's address; ``tls`` (:class:`pprl.engines.dask.TlsFiles`) connects to
    either over TLS. All give identical findings; without ``workers`` or ``scheduler``
    dask is never imported.
    """
    if workers is not None or scheduler is not None:
        if threads is not None:
            raise InputError(
                "threads apply to the single-process engine; with --workers or "
                "--scheduler each worker uses its own threads"
            )
        from pprl.engines.dask import verify_dask

        return verify_dask(
            reference,
            claims,
            thresholds=thresholds,
            blocking=blocking,
            progress=progress,
            workers=workers,
            scheduler=scheduler,
            tls=tls,
        )
    if tls is not None:
        raise InputError("TLS applies to a Dask cluster: give --workers or --scheduler too")
    from pprl.engines.local import verify_local

    return verify_local(
        reference,
        claims,
        thresholds=thresholds,
        blocking=blocking,
        progress=progress,
        threads=threads,
    )


_OUTPUTS = ("VerifyResult", "party_view", "reference_view", "write_outputs")
_PLAN = ("StageProgress", "ThresholdSpec", "VerifyPlan")


def __getattr__(name: str) -> Any:
    """Load the rest of the API on first use: the vocabulary (:mod:`~pprl.verify.model`)
    imports without numpy, pyarrow or the comparison kernels (the CLI's help needs only
    the thresholds)."""
    if name in _OUTPUTS:
        from pprl.verify import outputs

        value = getattr(outputs, name)
    elif name in _PLAN:
        from pprl.verify import plan

        value = getattr(plan, name)
    elif name == "ClaimsResult":
        from pprl.verify.decide import ClaimsResult

        value = ClaimsResult
    elif name == "block_pair_count":
        from pprl.compare.keyed import block_pair_count

        value = block_pair_count
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value
