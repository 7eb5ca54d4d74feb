"""CLK (cryptographic long-term key) encoder, bit-identical to clkhash but much faster.

Modules: :mod:`~pprl.encode.encoder` (``encode_clks``, one job per field),
:mod:`~pprl.encode.factorize` (distinct values, code points),
:mod:`~pprl.encode.clkhash_compat` (clkhash's rules per field, comparison and strategy
class), :mod:`~pprl.encode.hashing` (key derivation, BLAKE2b and double-hash tables),
:mod:`~pprl.encode.kernels` (numba), :mod:`~pprl.encode.pool` (field jobs over
processes, shared-memory output), :mod:`~pprl.encode.bitarrays` (clkhash interop),
:mod:`~pprl.encode.blake3_kernel` (keyed BLAKE3 of many records in numba) and
:mod:`~pprl.encode.keyed` (pseudonyms and block keys on it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pprl.encode.bitarrays import bitarrays_to_clks, clks_to_bitarrays
    from pprl.encode.encoder import encode_clks
    from pprl.encode.pool import WorkerError, idle_cpus

__all__ = ["WorkerError", "bitarrays_to_clks", "clks_to_bitarrays", "encode_clks", "idle_cpus"]


def __getattr__(name: str) -> Any:
    """Import the module that defines ``name`` when it is first asked for, so that a
    light submodule (:mod:`~pprl.encode.hashing`) loads without numba and the kernels."""
    if name in ("bitarrays_to_clks", "clks_to_bitarrays"):
        from pprl.encode import bitarrays

        value = getattr(bitarrays, name)
    elif name == "encode_clks":
        from pprl.encode.encoder import encode_clks

        value = encode_clks
    elif name in ("WorkerError", "idle_cpus"):
        from pprl.encode import pool

        value = getattr(pool, name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value
