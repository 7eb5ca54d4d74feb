"""Backend boundary for the comparison core.

Callers (candidate search, blocking, keyed top-k, greedy solving, the CLI) only
talk to a :class:`Backend`.  Two CPU backends ship:

* :class:`CpuBackend` -- the compiled C kernel :mod:`pprl.compare._kernel`
  (paths ``avx512-vpopcntdq``, ``avx2``, ``portable``, chosen at runtime) and a
  numba kernel for top-k by block keys;
* :class:`~pprl.compare.numpy_backend.NumpyBackend` -- plain numpy, used
  automatically when the extension cannot be loaded, or on request.

``get_backend("cpu")`` returns whichever of the two is active; ``PPRL_KERNEL``
(``auto``, ``portable``, ``avx2``, ``avx512-vpopcntdq``, ``numpy``) or
:func:`select_kernel` chooses.  Another device (e.g. a GPU) can be added with
:func:`register_backend` without touching callers.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from pprl.compare.numpy_backend import NumpyBackend
from pprl.compare.types import (
    LANES,
    BlockKeyLike,
    Candidates,
    F64Array,
    I64Array,
    PreparedRefs,
    SearchParams,
    U32Array,
    U64Matrix,
)


def _load_extension() -> ModuleType | None:
    """The compiled kernel, or None when it is not built (or built for another platform)."""
    try:
        return importlib.import_module("pprl.compare._kernel")
    except ImportError:
        return None


_kernel = _load_extension()

KERNEL_ENV = "PPRL_KERNEL"
NUMPY = "numpy"


@runtime_checkable
class Backend(Protocol):
    """What the comparison core needs from a compute device.

    Inputs are validated by the callers in :mod:`pprl.compare`: packed CLKs are
    C-contiguous ``(n, words)`` uint64 with the same ``words``; index arrays int64.
    Every backend returns the same pairs and bit-identical scores.
    """

    name: str

    def popcounts(self, clks: U64Matrix) -> U32Array:
        """Popcount of every row."""
        ...

    def dice_rows(self, a: U64Matrix, b: U64Matrix) -> F64Array:
        """Dice of aligned rows of two equal-shape arrays (0.0 when both rows are empty)."""
        ...

    def dice_index(
        self,
        a: U64Matrix,
        b: U64Matrix,
        qi: I64Array,
        rj: I64Array,
        pop_a: U32Array,
        pop_b: U32Array,
    ) -> F64Array:
        """Dice of the index pairs ``(a[qi[k]], b[rj[k]])``; IndexError if out of range."""
        ...

    def search(
        self, refs: PreparedRefs, q: U64Matrix, qpop: U32Array, qid: I64Array, params: SearchParams
    ) -> list[Candidates]:
        """Every pair of the query block ``q`` (ids ``qid``, popcounts ``qpop``, sorted by
        popcount) with the prepared refs scoring ``>= params.threshold``, or each query's
        ``params.top_k`` best (score desc, then lower ref id), as pieces of at most about
        ``params.buffer`` pairs.  Ids in the output are ``qid`` and ``refs.rid`` values."""
        ...

    def topk_by_block_keys(
        self,
        queries: U64Matrix,
        refs: U64Matrix,
        keys: Sequence[BlockKeyLike],
        *,
        k: int,
        threshold: float,
        exclude: I64Array,
    ) -> tuple[I64Array, F64Array]:
        """Best ``k`` refs per query among refs sharing any block key (the union of the
        blocks), never ``exclude[q]``; ``(ref_index, score)`` of shape (n_queries, k), best
        first, -1 / -1.0 where fewer than ``k`` reach ``threshold``.

        Ties follow the visit order: keys in the order given, within a key ascending ref
        index; a ref enters the k best only with a score above the current k-th, so with
        one key the result is the k best by (score desc, ref index asc), and with k=1 a
        tie goes to the first key, then the lower index (the rule the Dask engine's
        ``fold_best`` reproduces)."""
        ...

    def greedy_mask(
        self, q: I64Array, r: I64Array, score: F64Array, nq: int, nr: int, max_rounds: int = 64
    ) -> NDArray[np.bool_]:
        """Mask of the pairs greedy 1:1 matching accepts (anonlink's order: score desc,
        then q, then r; a repeated pair only at its first occurrence).  ``max_rounds``
        bounds the parallel rounds before a sequential scan (where a backend has rounds)."""
        ...


class CpuBackend:
    """The compiled C kernel (AVX-512 / AVX2 / portable, chosen at runtime)."""

    name = "cpu"

    def __init__(self) -> None:
        if _kernel is None:
            raise RuntimeError("the compiled kernel pprl.compare._kernel is not available")
        self._k: ModuleType = _kernel

    def popcounts(self, clks: U64Matrix) -> U32Array:
        """Row popcounts via the C kernel (GIL released)."""
        out = np.empty(clks.shape[0], dtype=np.uint32)
        if clks.shape[0]:
            self._k.popcount(clks, clks.shape[1], out)
        return out

    def dice_rows(self, a: U64Matrix, b: U64Matrix) -> F64Array:
        """Aligned-row Dice via the C kernel."""
        out = np.empty(a.shape[0], dtype=np.float64)
        if a.shape[0]:
            self._k.dice_rows(a, b, a.shape[1], out)
        return out

    def dice_index(
        self,
        a: U64Matrix,
        b: U64Matrix,
        qi: I64Array,
        rj: I64Array,
        pop_a: U32Array,
        pop_b: U32Array,
    ) -> F64Array:
        """Index-pair Dice via the C kernel (bounds-checked in C)."""
        out = np.empty(qi.shape[0], dtype=np.float64)
        if qi.shape[0]:
            self._k.dice_index(a, b, a.shape[1], qi, rj, pop_a, pop_b, out)
        return out

    def search(
        self, refs: PreparedRefs, q: U64Matrix, qpop: U32Array, qid: I64Array, params: SearchParams
    ) -> list[Candidates]:
        """Run the resumable C search until the block is done.

        Each kernel call fills fresh buffers that become a piece as they are (no copy,
        no concatenation: at low thresholds the output is large); sparse pieces are
        compacted so they do not pin a whole buffer.
        """
        top_k = params.top_k
        cap = max(params.buffer, 4 * top_k, 4 * LANES)  # the kernel works on groups of 4 queries
        parts: list[Candidates] = []
        qpos, rpos = 0, -1
        while qpos < q.shape[0]:
            oq, orr, osc = (
                np.empty(cap, np.int64),
                np.empty(cap, np.int64),
                np.empty(cap, np.float64),
            )
            count, qpos, rpos = self._k.search(
                q,
                qpop,
                qid,
                refs.rblk,
                refs.rpop,
                refs.rpopd,
                refs.rid,
                refs.start,
                refs.words,
                refs.bits,
                float(params.threshold),
                params.dedupe,
                params.q_base,
                top_k,
                oq,
                orr,
                osc,
                qpos,
                rpos,
            )
            if count:
                piece = Candidates(oq[:count], orr[:count], osc[:count])
                if count < cap // 2:
                    piece = Candidates(piece.q.copy(), piece.r.copy(), piece.score.copy())
                parts.append(piece)
        return parts

    def topk_by_block_keys(
        self,
        queries: U64Matrix,
        refs: U64Matrix,
        keys: Sequence[BlockKeyLike],
        *,
        k: int,
        threshold: float,
        exclude: I64Array,
    ) -> tuple[I64Array, F64Array]:
        """The numba scan (parallel over queries) of :mod:`pprl.compare._keyed_numba`."""
        from pprl.compare._keyed_numba import topk_numba  # numba is slow to import

        nq = queries.shape[0]
        out_r = np.full((nq, k), -1, dtype=np.int64)
        out_s = np.full((nq, k), -1.0, dtype=np.float64)
        topk_numba(
            queries,
            refs,
            self.popcounts(queries),
            self.popcounts(refs),
            keys,
            exclude,
            threshold,
            out_r,
            out_s,
        )
        return out_r, out_s

    def greedy_mask(
        self, q: I64Array, r: I64Array, score: F64Array, nq: int, nr: int, max_rounds: int = 64
    ) -> NDArray[np.bool_]:
        """Greedy 1:1 in C (rounds of locally dominant pairs, then a sorted scan)."""
        keep = np.zeros(q.shape[0], dtype=np.uint8)
        if q.shape[0]:
            self._k.greedy(q, r, score, nq, nr, max_rounds, keep)
        return keep.view(bool)


_use_numpy = _kernel is None


def _cpu() -> Backend:
    """The active CPU backend."""
    return NumpyBackend() if _use_numpy else CpuBackend()


_BACKENDS: dict[str, Callable[[], Backend]] = {"cpu": _cpu, NUMPY: NumpyBackend}


def register_backend(device: str, factory: Callable[[], Backend]) -> None:
    """Make a backend available under ``device`` (e.g. ``"cuda"``)."""
    _BACKENDS[device] = factory


def get_backend(device: str = "cpu") -> Backend:
    """Return a backend instance for ``device``; raises ValueError if unknown."""
    try:
        factory = _BACKENDS[device]
    except KeyError:
        raise ValueError(f"unknown compare device {device!r} (have {sorted(_BACKENDS)})") from None
    return factory()


def kernel_info() -> str:
    """Name of the active CPU kernel path: 'avx512-vpopcntdq', 'avx2', 'portable' or 'numpy'."""
    if _use_numpy or _kernel is None:
        return NUMPY
    return str(_kernel.info())


def available_kernels() -> tuple[str, ...]:
    """Kernel paths this machine can run, slowest first ('numpy' always)."""
    if _kernel is None:
        return (NUMPY,)
    return (NUMPY, *(str(p) for p in _kernel.available()))


def select_kernel(name: str) -> str:
    """Force a kernel path ('auto', 'numpy', 'portable', 'avx2', 'avx512-vpopcntdq'); returns it.

    'auto' is the fastest path available (numpy when the extension is missing).
    Process-wide: meant for tests and benchmarks that check all paths agree.
    """
    global _use_numpy
    if name == NUMPY:
        _use_numpy = True
        return NUMPY
    if _kernel is None:
        if name == "auto":
            return NUMPY
        raise RuntimeError(
            f"kernel path {name!r} needs the compiled extension, which is not available"
        )
    chosen = str(_kernel.select(name))
    _use_numpy = False
    return chosen


def _apply_env() -> None:
    """Honour ``PPRL_KERNEL`` (e.g. ``PPRL_KERNEL=portable``) at import time."""
    want = os.environ.get(KERNEL_ENV, "").strip()
    if want:
        select_kernel(want)


_apply_env()
