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

:func:`fit_latent_classes` is the same two-class EM over several *discrete* features
at once (a latent-class, Fellegi–Sunter style naive-Bayes model: the features are
taken as independent within each class), with the same shape constraint available per
feature (one class's distribution non-decreasing over the feature's ordered levels,
fitted by pool-adjacent-violators) and a fixed per-record log-odds offset (evidence
whose likelihood ratio is known in advance, such as a term-frequency adjustment).
``pprl verify`` fits it to every claim to estimate each one's mislink probability
(:mod:`pprl.verify.probability`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "DEFAULT_BINS",
    "Beta",
    "LatentClassModel",
    "ScoreMixture",
    "fit_latent_classes",
    "fit_mixture",
]

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


# ----------------------------------------------------- several discrete features (naive Bayes)


@dataclass(frozen=True)
class LatentClassModel:
    """A fitted two-class model over discrete features: ``prior`` is the share of class
    1 among the ``count`` records; ``pos[f]`` and ``neg[f]`` the probabilities of each
    level of feature ``f`` (named ``names[f]``) in class 1 and class 0."""

    prior: float
    names: tuple[str, ...]
    pos: tuple[np.ndarray, ...]
    neg: tuple[np.ndarray, ...]
    count: int
    loglik: float
    iterations: int
    converged: bool

    def log_ratios(self) -> tuple[np.ndarray, ...]:
        """Per feature and level, ``log P(level | 1) - log P(level | 0)``."""
        return tuple(np.log(p) - np.log(n) for p, n in zip(self.pos, self.neg, strict=True))

    def log_odds(self, codes: list[np.ndarray], offset: np.ndarray | None = None) -> np.ndarray:
        """Posterior log-odds of class 1 for records with these feature levels (one
        array of level codes per feature) and the fixed ``offset``."""
        n = len(codes[0]) if codes else 0
        out = np.full(n, np.log(self.prior) - np.log1p(-self.prior))
        for lr, c in zip(self.log_ratios(), codes, strict=True):
            out += lr[c]
        if offset is not None:
            out += offset
        return out

    def posterior(self, codes: list[np.ndarray], offset: np.ndarray | None = None) -> np.ndarray:
        """Probability of class 1 for each record (see :meth:`log_odds`)."""
        z = self.log_odds(codes, offset)
        return np.asarray(0.5 * (1.0 + np.tanh(0.5 * z)), dtype=np.float64)  # stable logistic


def _class_pmf(counts: np.ndarray, alpha: float, increasing: bool) -> np.ndarray:
    """A class's level probabilities from expected counts, with ``alpha`` spread evenly
    over the levels (so no level is impossible), non-decreasing when asked."""
    c = counts + alpha / counts.shape[0]
    return increasing_pmf(c) if increasing else np.asarray(c / c.sum(), dtype=np.float64)


def fit_latent_classes(
    codes: list[np.ndarray],
    levels: list[int],
    init: np.ndarray,
    *,
    names: tuple[str, ...] | None = None,
    increasing_neg: tuple[bool, ...] | None = None,
    impossible_pos: tuple[np.ndarray | None, ...] | None = None,
    offset: np.ndarray | None = None,
    alpha: float = 1.0,
    max_iter: int = 500,
    tol: float = 1e-9,
) -> LatentClassModel:
    """Fit the two-class model to records with these discrete features by EM.

    ``codes[f]`` holds each record's level of feature ``f`` (``0 .. levels[f] - 1``);
    ``init`` each record's starting probability of class 1 (a rough rule is enough: EM
    moves it). ``increasing_neg[f]``: class 0's distribution over feature ``f``'s levels
    must not decrease (levels ordered). ``impossible_pos[f]``: a mask of feature ``f``'s
    levels that class 1 does not take (None: any); its expected counts there are
    dropped, so only the prior's share ``alpha / levels`` is left (known structure: a
    level that speaks against class 1 however the rest of the data looks, which EM on
    its own may absorb into class 1 when that class is small). ``offset``: a fixed log-odds of class 1 per
    record, added to the features' (its likelihood ratio is known, not fitted). ``alpha``
    is spread evenly over a feature's levels and added to each class's expected counts
    (a Dirichlet prior of total weight ``alpha``: no level gets probability 0, and a
    small class's distribution is not flattened by the prior). The result is deterministic: the same input
    gives the same model, bit for bit.
    """
    n = int(init.shape[0])
    if n == 0 or not codes:
        raise ValueError("no records or no features to fit")
    if len(levels) != len(codes) or any(len(c) != n for c in codes):
        raise ValueError("one level count and one code per record for every feature")
    for c, k in zip(codes, levels, strict=True):
        if c.size and (int(c.min()) < 0 or int(c.max()) >= k):
            raise ValueError("feature codes must lie in 0 .. levels - 1")
    inc = increasing_neg or (False,) * len(codes)
    never = impossible_pos or (None,) * len(codes)
    if len(inc) != len(codes) or len(never) != len(codes):
        raise ValueError("one shape constraint and one impossible-level mask per feature")
    keep = [
        np.ones(k) if m is None else (~np.asarray(m, dtype=bool)).astype(np.float64)
        for m, k in zip(never, levels, strict=True)
    ]
    if any(len(w) != k for w, k in zip(keep, levels, strict=True)):
        raise ValueError("an impossible-level mask needs one entry per level")
    labels = names or tuple(f"f{i}" for i in range(len(codes)))
    off = np.zeros(n) if offset is None else np.asarray(offset, dtype=np.float64)
    r = np.clip(np.asarray(init, dtype=np.float64), 1e-6, 1.0 - 1e-6)
    prev, ll, it, converged = -np.inf, -np.inf, 0, False
    pos: tuple[np.ndarray, ...] = ()
    neg: tuple[np.ndarray, ...] = ()
    prior = 0.5
    while it < max_iter:
        it += 1
        total = float(r.sum())
        prior = min(max(total / n, 1e-9), 1.0 - 1e-9)
        pos = tuple(
            _class_pmf(np.bincount(c, weights=r, minlength=k) * w, alpha, False)
            for c, k, w in zip(codes, levels, keep, strict=True)
        )
        neg = tuple(
            _class_pmf(np.bincount(c, weights=1.0 - r, minlength=k), alpha, up)
            for c, k, up in zip(codes, levels, inc, strict=True)
        )
        lp = np.full(n, np.log(prior)) + off
        ln = np.full(n, np.log1p(-prior))
        for p, q, c in zip(pos, neg, codes, strict=True):
            lp += np.log(p)[c]
            ln += np.log(q)[c]
        top = np.maximum(lp, ln)
        ll = float((top + np.log(np.exp(lp - top) + np.exp(ln - top))).sum())
        r = 0.5 * (1.0 + np.tanh(0.5 * (lp - ln)))
        if abs(ll - prev) <= tol * max(1.0, abs(ll)):
            converged = True
            break
        prev = ll
    return LatentClassModel(prior, labels, pos, neg, n, ll, it, converged)
