"""pprl.mixture: the two-class score mixture fitted by EM without labels."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pprl.mixture import Beta, bin_of, fit_mixture, increasing_pmf


def draw(rng, n, weight, mean, sd, spread):
    """n scores: matches 1 - spread * Beta(1, 4) (density rising towards 1), non-matches
    a beta of this mean and sd; returns scores and labels."""
    m = rng.random(n) < weight
    k = mean * (1 - mean) / sd**2 - 1
    s = np.where(m, 1 - spread * rng.beta(1.0, 4.0, n), rng.beta(mean * k, (1 - mean) * k, n))
    return np.clip(s, 0, 1), m


@settings(max_examples=25, deadline=None)
@given(
    weight=st.floats(0.1, 0.9),
    mean=st.floats(0.3, 0.6),
    sd=st.floats(0.03, 0.07),
    spread=st.floats(0.1, 0.3),
    seed=st.integers(0, 2**32 - 1),
)
def test_em_recovers_the_mixture(weight, mean, sd, spread, seed):
    rng = np.random.default_rng(seed)
    s, m = draw(rng, 6000, weight, mean, sd, spread)
    fit = fit_mixture(s)
    assert abs(fit.weight - m.mean()) < 0.03
    assert abs(fit.match_mean - s[m].mean()) < 0.02
    if weight <= 0.8:  # the non-match shape, where that class has >= 1,200 scores: with
        # fewer (weight 0.9: 600) and matches reaching down to 0.7, the fitted beta
        # widens (sd off by up to 0.035) while the weight, P and R below stay right
        assert abs(fit.nonmatch.mean - s[~m].mean()) < 0.02
        assert abs(fit.nonmatch.sd - s[~m].std()) < 0.015
    t = fit.best_threshold()
    p, r = fit.precision_recall(t)
    kept = s >= t
    assert abs(r - m[kept].sum() / m.sum()) < 0.02
    assert abs(p - m[kept].mean()) < 0.02


@settings(max_examples=15, deadline=None)
@given(weight=st.floats(0.2, 0.8), mean=st.floats(0.35, 0.55), seed=st.integers(0, 2**32 - 1))
def test_censored_scores_below_the_floor(weight, mean, seed):
    """Scores below a floor are only counted: the fit still finds the class weight and
    the non-match class, most of which lies below the floor."""
    rng = np.random.default_rng(seed)
    s, m = draw(rng, 6000, weight, mean, 0.05, 0.25)
    floor = round(mean, 2)
    fit = fit_mixture(s[s >= floor], floor=floor, censored=int((s < floor).sum()))
    assert fit.count == s.size
    assert abs(fit.weight - m.mean()) < 0.03
    assert abs(fit.nonmatch.mean - s[~m].mean()) < 0.03


def test_threshold_between_the_classes_and_posterior():
    rng = np.random.default_rng(1)
    s, m = draw(rng, 20000, 0.5, 0.45, 0.05, 0.3)
    fit = fit_mixture(s)
    t = fit.best_threshold()
    assert s[~m].max() - 0.05 < t < s[m].min() + 0.15
    post = fit.posterior(np.array([0.3, 0.45, t, 0.95, 1.0]))
    assert post[0] < 0.01 and post[1] < 0.01 and post[3] > 0.99 and post[4] > 0.99
    assert ((post >= 0) & (post <= 1)).all()
    assert fit.best_threshold(0.9) >= 0.9  # never below the lowest allowed


def test_identical_records_pile_at_one():
    """Exact copies score 1.0: the match class takes the last bin."""
    rng = np.random.default_rng(2)
    s = np.concatenate([np.ones(800), rng.beta(60, 40, 200)])
    fit = fit_mixture(s)
    assert abs(fit.weight - 0.8) < 0.01
    t = fit.best_threshold()
    assert s[800:].max() < t <= 1.0
    assert fit.precision_recall(t)[1] > 0.999


def test_increasing_pmf():
    assert np.allclose(increasing_pmf(np.array([3.0, 1.0, 2.0, 6.0])), [1 / 6, 1 / 6, 1 / 6, 0.5])
    assert np.allclose(increasing_pmf(np.zeros(4)), 0.25)
    rng = np.random.default_rng(3)
    p = increasing_pmf(rng.random(50))
    assert np.all(np.diff(p) >= -1e-15) and abs(p.sum() - 1) < 1e-12


def test_beta_moments_and_bins():
    b = Beta.from_moments(0.6, 0.05**2, 400)
    assert abs(b.mean - 0.6) < 1e-12 and abs(b.sd - 0.05) < 1e-12
    assert abs(b.pmf(400).sum() - 1) < 1e-12
    assert bin_of(np.array([0.0, 0.5, 1.0]), 400).tolist() == [0, 200, 399]
    narrow = Beta.from_moments(1.0, 0.0, 400)  # kept inside the bins' resolution
    assert np.isfinite(narrow.a) and np.isfinite(narrow.b)


@pytest.mark.parametrize(
    "scores, kwargs",
    [
        ([], {}),
        ([0.5, np.nan], {}),
        ([1.2], {}),
        ([0.2, 0.3], {"floor": 0.5}),
        ([0.5], {"floor": 1.5}),
        ([0.5], {"censored": -1}),
    ],
)
def test_bad_input_refused(scores, kwargs):
    with pytest.raises(ValueError):
        fit_mixture(np.array(scores, dtype=float), **kwargs)


def test_one_bin_only():
    fit = fit_mixture(np.full(50, 0.9))
    assert fit.weight == 1.0 and fit.best_threshold() <= 0.9
