"""Synthetic Japanese populations with planted mislinks (see docs/synthetic-data.md).

``generate(SynthConfig(people=..., seed=...), out_dir)`` writes ``register.csv``,
``insurer.csv``, optionally ``bank.csv``, and ``truth.csv``; ``SynthConfig(...,
profile=PROFILES["hard"])`` generates the harder population instead of the default.

The names below load on first use, so ``pprl.synth.config`` (the CLI's option bounds)
imports without the generator and numpy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pprl.synth.config import PROFILES, NoiseRates, Profile, SynthConfig, SynthSummary
    from pprl.synth.generator import generate

__all__ = ["PROFILES", "NoiseRates", "Profile", "SynthConfig", "SynthSummary", "generate"]


def __getattr__(name: str) -> Any:
    """Import the module that defines ``name`` when it is first asked for."""
    if name in ("PROFILES", "NoiseRates", "Profile", "SynthConfig", "SynthSummary"):
        from pprl.synth import config

        value = getattr(config, name)
    elif name == "generate":
        from pprl.synth import generator

        value = generator.generate
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value
