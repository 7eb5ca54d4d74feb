"""Comparison core: Dice similarity of packed CLKs, candidate search, blocking.

Public API (see docs/comparison.md)::

    dice_pairs(a, b) -> float64[n]
    iter_candidates(queries, refs, threshold, *, top_k=None, workers=None,
                    chunk_queries=512, dedupe=False, blocking=None, device="cpu")
    find_candidates(queries, refs, threshold, **same) -> Candidates(q, r, score)
    kernel_info() -> "avx512-vpopcntdq" | "avx2" | "portable" | "numpy"

Kernels run on a :class:`Backend` (``get_backend()``): the C extension, or the numpy
fallback when the extension cannot load (or ``PPRL_KERNEL=numpy``).
"""

from pprl.compare.backend import (
    Backend,
    CpuBackend,
    available_kernels,
    get_backend,
    kernel_info,
    register_backend,
    select_kernel,
)
from pprl.compare.blocking import (
    Blocking,
    BlockKeys,
    LshBlocking,
    blocked_pairs,
    pair_completeness,
    reduction_ratio,
)
from pprl.compare.numpy_backend import NumpyBackend
from pprl.compare.search import (
    Candidates,
    as_clks,
    concat_candidates,
    dice_indexed,
    dice_pairs,
    find_candidates,
    iter_candidates,
    popcounts,
    sort_candidates,
)
from pprl.compare.types import BlockKeyPair, PreparedRefs, SearchParams

__all__ = [
    "Backend",
    "BlockKeyPair",
    "CpuBackend",
    "NumpyBackend",
    "PreparedRefs",
    "SearchParams",
    "BlockKeys",
    "Blocking",
    "LshBlocking",
    "blocked_pairs",
    "pair_completeness",
    "reduction_ratio",
    "Candidates",
    "as_clks",
    "available_kernels",
    "concat_candidates",
    "dice_indexed",
    "dice_pairs",
    "find_candidates",
    "get_backend",
    "iter_candidates",
    "kernel_info",
    "popcounts",
    "register_backend",
    "select_kernel",
    "sort_candidates",
]
