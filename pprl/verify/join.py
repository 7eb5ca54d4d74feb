"""Step 1: join each claim to the register on the link-key pseudonym.

No pseudonym -> the claim is ``invalid_number``; no register record with it ->
``unknown_number``. Pseudonyms are matched on all 32 bytes; the first 8 (a keyed hash)
serve as a sort key only.
"""

from __future__ import annotations

import numpy as np

from pprl.compare import dice_pairs

__all__ = ["join_claims", "token_index", "token_keys"]

_BLOCK = 1 << 20  # claims per block when comparing whole pseudonyms


def token_keys(tokens: np.ndarray) -> np.ndarray:
    """First 8 bytes of each (n, 32) pseudonym as uint64: the join's sort key."""
    return np.ascontiguousarray(tokens[:, :8]).view("<u8").ravel()


def token_index(tokens: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Records with a pseudonym, sorted by join key: (positions in order, sorted keys)."""
    keys = token_keys(tokens)
    idx = np.flatnonzero(valid)
    order = idx[np.argsort(keys[idx], kind="stable")]
    return order, keys[order]


def join_claims(
    ref_tokens: np.ndarray,
    ref_valid: np.ndarray,
    ref_clks: np.ndarray,
    claim_tokens: np.ndarray,
    claim_valid: np.ndarray,
    claim_clks: np.ndarray,
) -> np.ndarray:
    """For each claim, the position of the register record with its pseudonym (-1 none).

    When the register holds a pseudonym more than once (a data error there), the claim
    is joined to the record that scores best against it (the first on a tie).
    """
    order, sorted_keys = token_index(ref_tokens, ref_valid)
    ckeys = token_keys(claim_tokens)
    lo = np.searchsorted(sorted_keys, ckeys, "left")
    hi = np.searchsorted(sorted_keys, ckeys, "right")
    claimed = np.full(len(ckeys), -1, dtype=np.int64)
    if not len(order):
        return claimed
    single = claim_valid & (hi - lo == 1)
    cand = order[np.minimum(lo, len(order) - 1)]
    exact = single & _same_tokens(ref_tokens, cand, claim_tokens)
    claimed[exact] = cand[exact]
    for i in np.flatnonzero(claim_valid & (hi - lo > 1)):
        members = [r for r in order[lo[i] : hi[i]] if (ref_tokens[r] == claim_tokens[i]).all()]
        if not members:
            continue
        scores = dice_pairs(
            np.repeat(claim_clks[i : i + 1], len(members), axis=0), ref_clks[members]
        )
        claimed[i] = members[int(np.argmax(scores))]
    return claimed


def _same_tokens(ref_tokens: np.ndarray, cand: np.ndarray, claim_tokens: np.ndarray) -> np.ndarray:
    """Whether ``ref_tokens[cand[i]] == claim_tokens[i]`` in full, compared block by block
    (gathering all tokens at once would copy them twice)."""
    out = np.empty(len(cand), dtype=bool)
    for start in range(0, len(cand), _BLOCK):
        stop = start + _BLOCK
        out[start:stop] = (ref_tokens[cand[start:stop]] == claim_tokens[start:stop]).all(axis=1)
    return out
