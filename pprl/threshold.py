"""Choosing ``pprl match``'s threshold from the data.

Without ``--threshold``, ``pprl match`` searches at a low *floor* and fits the two-class
mixture of :mod:`pprl.mixture` to the scores it found, without labels:

* two files: the scores of the greedy 1:1 links at the floor. Greedy links at a
  threshold ``t`` are exactly the links at the floor that score ``>= t`` (greedy takes
  pairs by descending score), so this is the population the threshold acts on. Links
  that would score below the floor are censored: ``min(|A|, |B|)`` minus the links found;
* one file (``--dedupe``): each record's best pair.

The threshold is the one with the highest estimated F1; precision and recall are the
model's estimates there (recall of the true pairs the 1:1 links can find: a true pair
scoring like chance, e.g. with most fields swapped or missing, is invisible to any
threshold and to the estimate). Where the data cannot support a fit (too few pairs, no
match class) the default threshold is used and :attr:`ThresholdEstimate.fallback` says
why.

:func:`search_floor` picks the floor from a sample of pairs so that the search at the
floor stays within a pair budget.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np

from pprl.mixture import fit_mixture
from pprl.solve import greedy_solve

__all__ = [
    "DEFAULT_THRESHOLD",
    "METADATA_KEY",
    "ThresholdEstimate",
    "estimate_threshold",
    "search_floor",
]

DEFAULT_THRESHOLD = 0.8
"""The threshold used when none is given and the data cannot choose one."""
FLOORS = (0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8)
"""Search floors tried, lowest first."""
PAIR_BUDGET = 5_000_000
"""Most candidate pairs the search at the floor is expected to produce."""
MIN_PAIRS = 30
"""Fewest scores the mixture is fitted to."""
MIN_MATCHES = 3.0
"""Fewest expected matches for the data to count as having a match class."""
MIN_F1 = 0.5
"""Lowest estimated F1 at the chosen threshold for the fit to be trusted."""
METADATA_KEY = b"pprl.threshold"
"""Schema-metadata key of the estimate in a links table (and its Parquet file)."""


@dataclass(frozen=True)
class ThresholdEstimate:
    """The threshold chosen from the data and what the model says about it.

    ``precision``/``recall`` are None on a fallback; ``population`` names the scores
    fitted (``1:1 links`` or ``best pair per record``), ``observed`` how many scored at
    or above ``floor`` and ``censored`` how many more the model placed below it;
    ``match_share`` is the estimated share of true pairs among them."""

    threshold: float
    precision: float | None
    recall: float | None
    floor: float
    population: str
    observed: int
    censored: int
    match_share: float | None = None
    fallback: str | None = None

    def to_json(self) -> str:
        """The estimate as a JSON object."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> ThresholdEstimate:
        """An estimate written by :meth:`to_json`."""
        return cls(**json.loads(text))

    def describe(self) -> str:
        """One line for people."""
        if self.fallback is not None:
            return (
                f"threshold {self.threshold:g} (the default: {self.fallback}; "
                "give --threshold to choose one)"
            )
        assert self.precision is not None and self.recall is not None
        return (
            f"threshold {self.threshold:.4f} chosen from the data: estimated precision "
            f"{self.precision:.4f}, recall {self.recall:.4f} (a two-class mixture fitted "
            f"to {self.observed:,} {self.population} scoring >= {self.floor:g})"
        )


def _fallback(
    floor: float, population: str, observed: int, censored: int, why: str
) -> ThresholdEstimate:
    """The default threshold, saying why the data could not choose one."""
    return ThresholdEstimate(
        DEFAULT_THRESHOLD, None, None, floor, population, observed, censored, None, why
    )


def _population(
    q: np.ndarray, r: np.ndarray, s: np.ndarray, n_a: int, n_b: int | None
) -> tuple[str, np.ndarray, int]:
    """The scores to fit, their name and the number of records below the floor."""
    if n_b is not None:
        _, _, links = greedy_solve(q, r, s)
        return "1:1 links", links, max(0, min(n_a, n_b) - links.shape[0])
    best = np.full(n_a, -1.0)
    np.maximum.at(best, q, s)
    np.maximum.at(best, r, s)
    found = best[best >= 0]
    return "best pairs per record", found, n_a - found.shape[0]


def estimate_threshold(
    q: np.ndarray,
    r: np.ndarray,
    s: np.ndarray,
    *,
    floor: float,
    n_a: int,
    n_b: int | None,
) -> ThresholdEstimate:
    """The threshold with the best estimated F1 for candidate pairs ``(q, r, s)`` found
    at ``floor`` between ``n_a`` records of A and ``n_b`` of B (None: a dedupe of A).

    Never raises on odd data: too few pairs, no match class or a poor fit give the
    default threshold with the reason in ``fallback``."""
    population, scores, censored = _population(q, r, s, n_a, n_b)
    observed = int(scores.shape[0])
    if observed < MIN_PAIRS:
        why = f"only {observed} {population} score >= {floor:g}, too few to fit"
        return _fallback(floor, population, observed, censored, why)
    model = fit_mixture(scores, floor=floor, censored=censored)
    if model.weight * model.count < MIN_MATCHES:
        why = f"the {population} show no match class (no overlap between the files?)"
        return _fallback(floor, population, observed, censored, why)
    t = model.best_threshold(floor)
    p, rec = model.precision_recall(t)
    if model.f1(t) < MIN_F1:
        why = f"matches and non-matches are not told apart (estimated F1 {model.f1(t):.2f})"
        return _fallback(floor, population, observed, censored, why)
    return ThresholdEstimate(t, p, rec, floor, population, observed, censored, model.weight)


def search_floor(
    a_sample: np.ndarray, b_sample: np.ndarray | None, n_a: int, n_b: int | None
) -> float:
    """The lowest of :data:`FLOORS` at which an all-pairs search of ``n_a`` × ``n_b``
    records (a dedupe of A when ``n_b`` is None) is expected to find at most
    :data:`PAIR_BUDGET` pairs, judged from every pair between the samples (packed CLKs);
    the highest floor when none is. Blocking only lowers the count."""
    from pprl.compare import iter_candidates

    dedupe = b_sample is None or n_b is None
    m = a_sample.shape[0]
    sample_pairs = (
        m * (m - 1) // 2 if dedupe else m * (0 if b_sample is None else b_sample.shape[0])
    )
    total = n_a * (n_a - 1) // 2 if dedupe else n_a * (n_b or 0)
    if sample_pairs == 0 or total == 0:
        return FLOORS[0]
    found = [
        c.score
        for c in iter_candidates(
            a_sample, None if dedupe else b_sample, FLOORS[0], dedupe=dedupe, workers=None
        )
    ]
    scores = np.concatenate(found) if found else np.empty(0)
    for floor in FLOORS:
        if np.count_nonzero(scores >= floor) / sample_pairs * total <= PAIR_BUDGET:
            return floor
    return FLOORS[-1]
