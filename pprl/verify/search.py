"""Step 3: search the register for each claim's best match other than the claimed record,
within keyed blocks (see :mod:`pprl.compare.keyed`), and each claim's most similar other
claim (for the cross-checks).

A search is planned per block key and per key-range partition: :func:`top2` finds the
two best records of one block-key range, and :func:`fold_best` folds one key's result
into the running best with the rule of the kernel searching every key at once (so a
whole-file partition and many small ones give the same answer).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pprl.compare.keyed import topk_by_block_keys
from pprl.errors import InputError
from pprl.store import Outline

__all__ = ["block_key_names", "fold_best", "joined_names", "search_names", "top2"]

NO_KEY = 1 << 30  # "no key yet" in fold_best's running key rank


def block_key_names(ref: Outline, claims: Outline, names: Sequence[str] | None) -> list[str]:
    """The block keys to search within: ``names``, or every key both files carry (in the
    claims file's order); refuses chosen keys that a file lacks."""
    common = [n for n in claims.block_key_names if n in ref.block_key_names]
    chosen = common if names is None else [n for n in names if n in common]
    if names is not None and len(chosen) != len(names):
        missing = sorted(set(names) - set(common))
        raise InputError(
            f"block key(s) {', '.join(missing)} are not in both encoding files "
            f"(available: {', '.join(common) or 'none'})"
        )
    return chosen


def search_names(ref: Outline, claims: Outline, names: Sequence[str] | None) -> list[str]:
    """:func:`block_key_names`, refusing a claims file that shares no block key."""
    chosen = block_key_names(ref, claims, names)
    if not chosen and claims.meta.get("format") == "clkhash-json":
        raise InputError(
            f"{claims.path}: a clkhash JSON file holds CLKs only, no pseudonyms or block "
            "keys; verify needs pprl's Parquet encoding files (pprl encode without "
            "--format clkhash-json)"
        )
    if not chosen:
        raise InputError(
            f"{claims.path}: no block keys shared with the reference; encode both "
            "with a schema that defines block_keys (e.g. jp-resident)"
        )
    return chosen


def joined_names(claims: Sequence[Outline], names: Sequence[str] | None) -> list[str]:
    """The block keys of the claim-to-claim search: those every claims file carries (in
    the first file's order), limited to ``names`` when given."""
    common = (
        [n for n in claims[0].block_key_names if all(n in c.block_key_names for c in claims)]
        if claims
        else []
    )
    return [n for n in common if n in names] if names is not None else common


def top2(
    q_clks: np.ndarray,
    q_values: np.ndarray,
    q_valid: np.ndarray,
    r_idx: np.ndarray,
    r_clks: np.ndarray,
    r_values: np.ndarray,
    r_valid: np.ndarray,
    threshold: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Best two references in each query's block (``r_idx`` of them, -1 none) and their
    scores (-1.0 none).

    A search for the best record other than one excluded record (the claimed one, or the
    claim itself) finds it among these two, with the same tie-breaking (lowest index
    first): :func:`fold_best` picks it.
    """
    r2, s2 = topk_by_block_keys(
        q_clks, r_clks, [(q_values, q_valid, r_values, r_valid)], k=2, threshold=threshold
    )
    found = r2 >= 0
    return np.where(found, r_idx[np.maximum(r2, 0)] if len(r_idx) else -1, -1), s2


def fold_best(
    best: np.ndarray,
    best_s: np.ndarray,
    best_key: np.ndarray,
    q: np.ndarray,
    r2: np.ndarray,
    s2: np.ndarray,
    exclude: np.ndarray,
    key: int,
    carried: tuple[np.ndarray, np.ndarray] | None = None,
) -> None:
    """Fold one block key's two best records per query into the running best, in place.

    The rule of the kernel searching keys one after another: a higher score wins; on a
    tie the key searched first (lower ``key``) keeps its record. ``exclude[q]`` is the
    record never returned for query ``q``. ``carried``: (running values per query,
    values per found record shaped like ``r2``), folded along with the records (the
    evidence key states of each query against each record).
    """
    skip = (r2[:, 0] >= 0) & (r2[:, 0] == exclude[q])
    r = np.where(skip, r2[:, 1], r2[:, 0])
    s = np.where(skip, s2[:, 1], s2[:, 0])
    cur_s, cur_key = best_s[q], best_key[q]
    better = (r >= 0) & ((s > cur_s) | ((s == cur_s) & (key < cur_key)))
    best[q[better]], best_s[q[better]], best_key[q[better]] = r[better], s[better], key
    if carried is not None:
        running, values = carried
        running[q[better]] = np.where(skip, values[:, 1], values[:, 0])[better]
