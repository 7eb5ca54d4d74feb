"""A two-class mixture of similarity scores, fitted without labels (EM).

Scores in [0, 1] (Dice similarities of CLKs) are modelled as a mixture of two classes
over ``bins`` equal bins of the unit interval:

* *non-matches*: a discretized beta distribution (probability ``∝ x^(a-1) (1-x)^(b-1)``
  on the bin with midpoint ``x``): the bulk of chance similarities, one hump;
* *matches*: any distribution whose probability never decreases with the score (a
  shape-constrained, non-parametric class). Matches pile up near 1 and thin out
  towards lower scores with every typo, missing or swapped field, in no fixed
  parametric shape; a beta fitted to them is pulled by their long left tail and
  misjudges recall. Non-decreasing is the constraint that keeps the two classes
  apart: the match class cannot take a hump in the middle of the range.

Discretizing
makes the model robust where Dice scores are not smooth (a pile of identical records at
exactly 1.0, the granularity of popcounts) and lets the fit see **censored** data: when
only scores at or above a floor were searched, the number of records below it is still
known, and EM spreads it over the bins below the floor by the current model.

EM alternates the posterior class of every bin (E step) with the class weight, the
non-match beta from its weighted mean and variance (the method of moments, as in
Schröder & Rahmann 2017 for beta mixtures) and the match class as the non-decreasing
distribution closest to its expected bin counts (pool-adjacent-violators, the maximum
likelihood estimate under that constraint) (M step). Several starts are tried; the fit
with the highest likelihood is kept.

The fitted :class:`ScoreMixture` gives the posterior probability of a match for any
score, the estimated precision and recall of accepting every score ``>= t``, and the
threshold that maximizes the estimated F1. It is pure numpy and knows nothing about
files or matching (``pprl.threshold`` applies it to ``pprl match``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["DEFAULT_BINS", "Beta", "ScoreMixture", "fit_mixture"]

DEFAULT_BINS = 400
"""Bins of the unit interval (width 0.0025)."""

_EPS = 1e-300


@dataclass(frozen=True)
class Beta:
    """Shape parameters of one class's (discretized) beta distribution."""

    a: float
    b: float

    @property
    def mean(self) -> float:
        """The mean ``a / (a + b)`` of the continuous beta."""
        return self.a / (self.a + self.b)

    @property
    def sd(self) -> float:
        """The standard deviation of the continuous beta."""
        s = self.a + self.b
        return float(np.sqrt(self.a * self.b / (s * s * (s + 1.0))))

    def pmf(self, bins: int) -> np.ndarray:
        """Probability of each of ``bins`` equal bins of [0, 1] (sums to 1)."""
        x = midpoints(bins)
        logp = (self.a - 1.0) * np.log(x) + (self.b - 1.0) * np.log1p(-x)
        p = np.exp(logp - logp.max())
        return np.asarray(p / p.sum(), dtype=np.float64)

    @classmethod
    def from_moments(cls, mean: float, var: float, bins: int) -> Beta:
        """The beta with this mean and variance, kept inside the bins' resolution: the
        mean within the first and last bin midpoints, the variance at least that of a
        uniform bin and below the largest a beta of that mean can have."""
        lo, hi = 0.5 / bins, 1.0 - 0.5 / bins
        m = min(max(mean, lo), hi)
        v = min(max(var, 1.0 / (12.0 * bins * bins)), 0.99 * m * (1.0 - m))
        k = m * (1.0 - m) / v - 1.0
        return cls(m * k, (1.0 - m) * k)


def midpoints(bins: int) -> np.ndarray:
    """Midpoints of ``bins`` equal bins of [0, 1]."""
    return (np.arange(bins) + 0.5) / bins


def bin_of(scores: np.ndarray, bins: int) -> np.ndarray:
    """The bin index of each score (1.0 falls in the last bin)."""
    idx = np.floor(np.asarray(scores, dtype=np.float64) * bins + 1e-9).astype(np.int64)
    return np.clip(idx, 0, bins - 1)


def increasing_pmf(counts: np.ndarray) -> np.ndarray:
    """The non-decreasing distribution over the bins closest to ``counts`` (weighted
    least squares, pool-adjacent-violators): the maximum-likelihood non-decreasing pmf
    for these bin counts. Sums to 1 (uniform when ``counts`` are all zero)."""
    c = np.asarray(counts, dtype=np.float64)
    total = float(c.sum())
    if total <= 0:
        return np.full(c.shape[0], 1.0 / c.shape[0])
    values: list[float] = []
    sizes: list[int] = []
    for v in (c / total).tolist():
        values.append(v)
        sizes.append(1)
        while len(values) > 1 and values[-2] > values[-1]:
            n = sizes[-2] + sizes[-1]
            values[-2] = (values[-2] * sizes[-2] + values[-1] * sizes[-1]) / n
            sizes[-2] = n
            values.pop()
            sizes.pop()
    out = np.repeat(np.array(values), np.array(sizes))
    return np.asarray(out / out.sum(), dtype=np.float64)


@dataclass(frozen=True)
class ScoreMixture:
    """A fitted two-class mixture: ``weight`` is the share of matches among the
    ``count`` records modelled (observed plus censored); ``match_pmf`` the match
    class's (non-decreasing) bin probabilities, ``nonmatch`` the non-match beta."""

    weight: float
    match_pmf: np.ndarray
    nonmatch: Beta
    count: int
    loglik: float
    iterations: int
    converged: bool

    @property
    def bins(self) -> int:
        """Bins of the unit interval."""
        return int(self.match_pmf.shape[0])

    @property
    def match_mean(self) -> float:
        """Mean score of the match class."""
        return float((self.match_pmf * midpoints(self.bins)).sum())

    def pmfs(self) -> tuple[np.ndarray, np.ndarray]:
        """Bin probabilities of the match and non-match classes."""
        return self.match_pmf, self.nonmatch.pmf(self.bins)

    def posterior(self, scores: np.ndarray | float) -> np.ndarray:
        """Probability that a record with each score is a match."""
        pm, pu = self.pmfs()
        idx = bin_of(np.atleast_1d(np.asarray(scores, dtype=np.float64)), self.bins)
        num = self.weight * pm[idx]
        return np.asarray(num / np.maximum(num + (1.0 - self.weight) * pu[idx], _EPS))

    def survival(self, threshold: float) -> tuple[float, float]:
        """Shares of matches and of non-matches scoring at or above ``threshold``
        (whole bins: the bin that holds ``threshold`` counts as above)."""
        pm, pu = self.pmfs()
        k = int(bin_of(np.array([threshold]), self.bins)[0])
        return float(pm[k:].sum()), float(pu[k:].sum())

    def precision_recall(self, threshold: float) -> tuple[float, float]:
        """Estimated precision and recall of accepting every score ``>= threshold``.

        Precision is 1.0 where the model expects nothing above the threshold."""
        sm, su = self.survival(threshold)
        tp, fp = self.weight * sm, (1.0 - self.weight) * su
        return (tp / (tp + fp) if tp + fp > 0 else 1.0), sm

    def f1(self, threshold: float) -> float:
        """Estimated F1 of accepting every score ``>= threshold``."""
        p, r = self.precision_recall(threshold)
        return 2.0 * p * r / (p + r) if p + r > 0 else 0.0

    def best_threshold(self, lowest: float = 0.0) -> float:
        """The bin edge ``>= lowest`` that maximizes the estimated F1 (the lowest such
        edge on ties). F1 is maximal where the posterior is about F1/2, below 0.5: a
        record a little more likely a non-match is still worth accepting for recall."""
        pm, pu = self.pmfs()
        sm = np.cumsum(pm[::-1])[::-1]
        su = np.cumsum(pu[::-1])[::-1]
        w = self.weight
        f1 = 2.0 * w * sm / np.maximum(w + w * sm + (1.0 - w) * su, _EPS)
        first = int(np.ceil(lowest * self.bins - 1e-9))
        first = min(max(first, 0), self.bins - 1)
        k = first + int(np.argmax(f1[first:]))
        return k / self.bins


Fit = tuple[float, np.ndarray, Beta, float, int, bool]


def _m_step(nm: np.ndarray, nu: np.ndarray) -> tuple[float, np.ndarray, Beta]:
    """Class weight, match pmf and non-match beta from expected bin counts."""
    bins = nm.shape[0]
    x = midpoints(bins)
    tot = max(float(nu.sum()), _EPS)
    mean = float((nu * x).sum() / tot)
    var = float((nu * (x - mean) ** 2).sum() / tot)
    total = float(nm.sum() + nu.sum())
    return (
        float(nm.sum()) / max(total, _EPS),
        increasing_pmf(nm),
        Beta.from_moments(mean, var, bins),
    )


def _em(
    hist: np.ndarray,
    first: int,
    censored: int,
    start: tuple[float, np.ndarray, Beta],
    max_iter: int,
    tol: float,
) -> Fit:
    """EM from ``start``; ``hist`` holds the observed counts (bins ``>= first``)."""
    bins = hist.shape[0]
    w, pmf, bu = start
    prev = -np.inf
    ll = prev
    for it in range(1, max_iter + 1):
        pm, pu = w * pmf, (1.0 - w) * bu.pmf(bins)
        mix = np.maximum(pm + pu, _EPS)
        nm, nu = hist * pm / mix, hist * pu / mix
        below = float(mix[:first].sum())
        if censored and below > 0:
            nm[:first] = censored * pm[:first] / below
            nu[:first] = censored * pu[:first] / below
        ll = float((hist[first:] * np.log(mix[first:])).sum())
        if censored:
            ll += censored * np.log(max(below, _EPS))
        if abs(ll - prev) <= tol * max(1.0, abs(ll)):
            return w, pmf, bu, ll, it, True
        prev = ll
        w, pmf, bu = _m_step(nm, nu)
    return w, pmf, bu, ll, max_iter, False


def fit_mixture(
    scores: np.ndarray,
    *,
    floor: float = 0.0,
    censored: int = 0,
    bins: int = DEFAULT_BINS,
    max_iter: int = 2000,
    tol: float = 1e-10,
) -> ScoreMixture:
    """Fit the two-class mixture to ``scores`` (each in [0, 1]) by EM.

    ``floor``: only scores ``>= floor`` were observed (scores below it are ignored);
    ``censored``: how many more records scored below the floor (their values unknown).
    Raises ``ValueError`` when there is no score to fit or a score is outside [0, 1]
    or NaN.
    """
    s = np.asarray(scores, dtype=np.float64).ravel()
    if np.isnan(s).any() or (s.size and (s.min() < 0.0 or s.max() > 1.0)):
        raise ValueError("scores must lie in [0, 1]")
    if not 0.0 <= floor <= 1.0 or censored < 0 or bins < 2:
        raise ValueError("floor must lie in [0, 1], censored >= 0 and bins >= 2")
    s = s[s >= floor]
    if s.size == 0:
        raise ValueError("no score at or above the floor to fit")
    first = int(np.ceil(floor * bins - 1e-9)) if floor > 0 else 0
    first = min(first, bins - 1)
    censored = censored if first > 0 else 0
    hist = np.bincount(bin_of(s, bins), minlength=bins).astype(np.float64)
    x = midpoints(bins)
    best: Fit | None = None
    for q in (0.1, 0.3, 0.5, 0.7):  # hard splits of the observed scores as starts
        cut = float(np.quantile(s, q))
        hi = hist * (x > cut)
        lo = hist - hi
        if hi.sum() == 0 or lo.sum() == 0:
            continue
        fit = _em(hist, first, censored, _m_step(hi, lo), max_iter, tol)
        if best is None or fit[3] > best[3]:
            best = fit
    if best is None:  # every score in one bin: one class, called a match
        best = (1.0, increasing_pmf(hist), Beta.from_moments(0.5, 1 / 12, bins), 0.0, 0, True)
    w, pmf, bu, ll, it, ok = best
    return ScoreMixture(w, pmf, bu, int(s.size + censored), ll, it, ok)
