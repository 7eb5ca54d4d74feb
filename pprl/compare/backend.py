"""Backend boundary for the comparison core.

Callers (candidate search, blocking, the CLI) only talk to a :class:`Backend`;
the CPU backend wraps the compiled kernel in :mod:`pprl.compare._kernel`.  A GPU
backend (``--device cuda``) can later be registered with :func:`register_backend`
without touching callers.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Protocol, runtime_checkable

import numpy as np

from pprl.compare import _kernel

KERNEL_ENV = "PPRL_KERNEL"


@runtime_checkable
class Backend(Protocol):
    """What the comparison core needs from a compute device."""

    name: str

    def popcounts(self, clks: np.ndarray) -> np.ndarray:
        """Return uint32 popcount of every row of a (n, words) uint64 array."""
        ...

    def dice_rows(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Return float64 Dice of aligned rows of two equal-shape uint64 arrays."""
        ...

    def dice_index(
        self, a: np.ndarray, b: np.ndarray, qi: np.ndarray, rj: np.ndarray,
        pop_a: np.ndarray, pop_b: np.ndarray,
    ) -> np.ndarray:
        """Return float64 Dice of the index pairs (a[qi[k]], b[rj[k]])."""
        ...

    def search(self, **kwargs: object) -> tuple[int, int, int]:
        """Run one resumable candidate-search call (see ``_kernel.search``)."""
        ...


class CpuBackend:
    """The compiled C kernel (AVX-512 / AVX2 / portable, chosen at runtime)."""

    name = "cpu"

    def popcounts(self, clks: np.ndarray) -> np.ndarray:
        """Row popcounts via the C kernel (GIL released)."""
        out = np.empty(clks.shape[0], dtype=np.uint32)
        if clks.shape[0]:
            _kernel.popcount(clks, clks.shape[1], out)
        return out

    def dice_rows(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Aligned-row Dice via the C kernel."""
        out = np.empty(a.shape[0], dtype=np.float64)
        if a.shape[0]:
            _kernel.dice_rows(a, b, a.shape[1], out)
        return out

    def dice_index(
        self, a: np.ndarray, b: np.ndarray, qi: np.ndarray, rj: np.ndarray,
        pop_a: np.ndarray, pop_b: np.ndarray,
    ) -> np.ndarray:
        """Index-pair Dice via the C kernel (bounds-checked in C)."""
        out = np.empty(qi.shape[0], dtype=np.float64)
        if qi.shape[0]:
            _kernel.dice_index(a, b, a.shape[1], qi, rj, pop_a, pop_b, out)
        return out

    def search(self, **kw: object) -> tuple[int, int, int]:
        """One call of the resumable C search; arguments as in ``_kernel.search``."""
        return _kernel.search(
            kw["q"], kw["qpop"], kw["qid"], kw["rblk"], kw["rpop"], kw["rpopd"], kw["rid"],
            kw["start"], kw["words"], kw["bits"], kw["threshold"], kw["dedupe"],
            kw["q_base"], kw["top_k"], kw["oq"], kw["or_"], kw["os"], kw["qpos"], kw["rpos"],
        )


_BACKENDS: dict[str, Callable[[], Backend]] = {"cpu": CpuBackend}


def register_backend(device: str, factory: Callable[[], Backend]) -> None:
    """Make a backend available under ``device`` (e.g. ``"cuda"``)."""
    _BACKENDS[device] = factory


def get_backend(device: str = "cpu") -> Backend:
    """Return a backend instance for ``device``; raises ValueError if unknown."""
    try:
        return _BACKENDS[device]()
    except KeyError:
        raise ValueError(f"unknown compare device {device!r} (have {sorted(_BACKENDS)})") from None


def kernel_info() -> str:
    """Name of the active CPU kernel path: 'avx512-vpopcntdq', 'avx2' or 'portable'."""
    return _kernel.info()


def available_kernels() -> tuple[str, ...]:
    """Kernel paths this CPU can run, slowest first."""
    return _kernel.available()


def select_kernel(name: str) -> str:
    """Force a kernel path ('auto', 'portable', 'avx2', 'avx512-vpopcntdq'); returns it.

    Process-wide: meant for tests and benchmarks that check all paths agree.
    """
    return _kernel.select(name)


def _apply_env() -> None:
    """Honour ``PPRL_KERNEL`` (e.g. ``PPRL_KERNEL=portable``) at import time."""
    want = os.environ.get(KERNEL_ENV, "").strip()
    if want:
        select_kernel(want)


_apply_env()
