"""Step 2: score each claimed pair (Dice of the two CLKs)."""

from __future__ import annotations

import numpy as np

from pprl.compare import dice_indexed

__all__ = ["score_claimed"]


def score_claimed(claim_clks: np.ndarray, ref_clks: np.ndarray, claimed: np.ndarray) -> np.ndarray:
    """Dice of each claim with its claimed register record (``claimed`` positions into
    ``ref_clks``, -1 none); NaN where there is none."""
    score = np.full(len(claimed), np.nan)
    has = claimed >= 0
    if has.any():
        score[has] = dice_indexed(claim_clks, ref_clks, np.flatnonzero(has), claimed[has])
    return score
