"""Synthetic Japanese populations with planted mislinks (see docs/synthetic-data.md).

``generate(SynthConfig(people=..., seed=...), out_dir)`` writes ``register.csv``,
``insurer.csv``, optionally ``bank.csv``, and ``truth.csv``.
"""

from __future__ import annotations

from pprl.synth.config import NoiseRates, SynthConfig, SynthSummary
from pprl.synth.generator import generate

__all__ = ["NoiseRates", "SynthConfig", "SynthSummary", "generate"]
