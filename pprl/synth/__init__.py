"""Synthetic Japanese populations with planted mislinks (see docs/synthetic-data.md).

``generate(SynthConfig(people=..., seed=...), out_dir)`` writes ``register.csv``,
``insurer.csv``, optionally ``bank.csv``, and ``truth.csv``; ``SynthConfig(...,
profile=PROFILES["hard"])`` generates the harder population instead of the default.
"""

from __future__ import annotations

from pprl.synth.config import PROFILES, NoiseRates, Profile, SynthConfig, SynthSummary
from pprl.synth.generator import generate

__all__ = ["PROFILES", "NoiseRates", "Profile", "SynthConfig", "SynthSummary", "generate"]
