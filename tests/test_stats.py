"""The statistics kernels against hand-worked cases and their defining identities."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from redoubt.studies.stats import (
    clusters_needed,
    cumulative_incidence,
    kaplan_meier,
    mcnemar_exact,
    newcombe_paired,
    paired_counts,
    paired_median_difference,
    pairs_needed,
    sign_flip_p,
    wilson,
)


def test_wilson_known_interval():
    p, lo, hi = wilson(23, 100)  # Wilson score interval, z = 1.96: (0.1584, 0.3215)
    assert p == 0.23 and lo == pytest.approx(0.1584, abs=1e-4) and hi == pytest.approx(0.3215, abs=1e-4)


@pytest.mark.parametrize("k,n", [(0, 1), (3, 5), (0, 40), (17, 40), (200, 200), (123, 1000)])
def test_wilson_is_scipys(k, n):
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(method="wilson")
    assert wilson(k, n)[1:] == pytest.approx((ci.low, ci.high), abs=1e-12)


def test_aalen_johansen_hand_worked():
    # t=1: 6 at risk, cause 1      -> CIF1 = 1/6,                  S = 5/6
    # t=2: 5 at risk, cause 2 (+1 censored at 2, still at risk)    -> CIF2 = 5/6 * 1/5 = 1/6,  S = 4/6
    # t=3: 3 at risk, cause 1      -> CIF1 = 1/6 + 4/6 * 1/3 = 7/18, S = 4/9
    # t=5: 1 at risk, cause 2      -> CIF2 = 1/6 + 4/9 = 11/18,    S = 0
    t, cif = cumulative_incidence([1, 2, 2, 3, 4, 5], [1, 2, 0, 1, 0, 2])
    assert t.tolist() == [0, 1, 2, 3, 5]
    np.testing.assert_allclose(cif[0], [0, 1 / 6, 1 / 6, 7 / 18, 7 / 18])
    np.testing.assert_allclose(cif[1], [0, 0, 1 / 6, 1 / 6, 11 / 18])


def test_without_censoring_it_is_the_share_of_runs():
    rng = np.random.default_rng(3)
    d = rng.integers(1, 40, 300)
    c = rng.integers(1, 3, 300)
    t, cif = cumulative_incidence(d, c)
    for k in (1, 2):
        expected = [np.mean((d <= u) & (c == k)) for u in t]
        np.testing.assert_allclose(cif[k - 1], expected)
    assert cif[:, -1].sum() == pytest.approx(1.0)


def test_one_cause_is_one_minus_kaplan_meier():
    rng = np.random.default_rng(4)
    d = rng.integers(1, 60, 200).astype(float)
    c = (rng.random(200) < 0.7).astype(int)
    t, cif = cumulative_incidence(d, c)
    tk, s, _, _ = kaplan_meier(d, c.astype(bool))
    np.testing.assert_allclose(t, tk)
    np.testing.assert_allclose(cif[0], 1 - s)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 3)), min_size=1, max_size=60))
def test_incidences_and_survival_add_to_one(runs):
    d, c = np.array(runs).T
    t, cif = cumulative_incidence(d, c, n_causes=3)
    assert cif.shape == (3, len(t)) and (np.diff(cif, axis=1) >= -1e-12).all()
    if (c > 0).any():
        _, s, _, _ = kaplan_meier(d, c > 0)
        np.testing.assert_allclose(cif.sum(axis=0) + s, 1.0, atol=1e-12)


def test_bad_causes_refused():
    with pytest.raises(ValueError):
        cumulative_incidence([1, 2], [1, 4], n_causes=2)


# ---------------------------------------------------------------- paired comparisons ----------------------
def test_paired_counts_and_the_difference_they_give():
    base = [True, True, False, False, False, True]
    other = [True, False, True, True, False, True]
    assert paired_counts(base, other) == (2, 2, 1, 1)  # both, only other, only base, neither
    d, lo, hi = newcombe_paired(2, 2, 1, 1)
    assert d == pytest.approx(4 / 6 - 3 / 6) and lo < d < hi


def test_newcombe_is_antisymmetric_and_independent_pairs_give_the_unpaired_interval():
    d, lo, hi = newcombe_paired(30, 25, 10, 135)
    d2, lo2, hi2 = newcombe_paired(30, 10, 25, 135)  # the variants swapped
    assert (d2, lo2, hi2) == pytest.approx((-d, -hi, -lo))
    # No correlation between the pairs (ad = bc): Newcombe's interval for independent proportions (method 10 of
    # his 1998 paper on independent samples), built from the two Wilson intervals.
    both, only_o, only_b, neither = 10, 10, 40, 40  # p_other = 0.2, p_base = 0.5; 10*40 == 10*40
    p1, l1, u1 = wilson(both + only_o, 100)
    p2, l2, u2 = wilson(both + only_b, 100)
    unpaired = (p1 - p2 - np.hypot(p1 - l1, u2 - p2), p1 - p2 + np.hypot(u1 - p1, p2 - l2))
    assert newcombe_paired(both, only_o, only_b, neither)[1:] == pytest.approx(unpaired)


def test_newcombe_covers_the_true_difference_about_95_percent_of_the_time():
    """Coverage over 4,000 simulated paired experiments of 200 pairs with strongly correlated outcomes."""
    rng = np.random.default_rng(20)
    probs = [0.30, 0.06, 0.02, 0.62]  # both, only other, only base, neither: a difference of +4 points
    truth = probs[1] - probs[2]
    hits = 0
    for counts in rng.multinomial(200, probs, size=4000):
        _, lo, hi = newcombe_paired(*map(int, counts))
        hits += lo <= truth <= hi
    assert 0.93 <= hits / 4000 <= 0.975


def test_mcnemar_exact_is_the_binomial_test_of_the_discordant_pairs():
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(9, 2) == pytest.approx(2 * sum(__import__("math").comb(11, k) for k in range(3)) / 2**11)
    assert mcnemar_exact(2, 9) == mcnemar_exact(9, 2)


def test_pairs_needed_gives_about_80_percent_power():
    """At the number of pairs it names, a McNemar test at 5% rejects about 80% of the time."""
    only_other, only_base, n = 14, 6, 200  # discordance 10%, difference 4 points
    need = pairs_needed(only_other, only_base, n)
    assert 350 < need < 600
    assert pairs_needed(5, 5, 200) == np.inf
    rng = np.random.default_rng(4)
    counts = rng.multinomial(int(need), [0.3, only_other / n, only_base / n, 0.7 - 0.1], size=1500)
    power = np.mean([mcnemar_exact(int(c[1]), int(c[2])) < 0.05 for c in counts])
    assert 0.72 <= power <= 0.88


def test_paired_median_difference_cancels_what_the_pairs_share():
    rng = np.random.default_rng(5)
    shared = rng.normal(60, 25, 300)  # a large spread the two variants share
    d, lo, hi = paired_median_difference(shared, shared + 3, seed=1)
    assert d == pytest.approx(3) and lo == pytest.approx(3) and hi == pytest.approx(3)
    noisy = shared + 3 + rng.normal(0, 1, 300)
    d, lo, hi = paired_median_difference(shared, noisy, seed=1)
    assert lo < d < hi and 1 < lo and hi < 5
    assert paired_median_difference(shared, noisy, seed=1) == (d, lo, hi)  # seeded


def test_sign_flip_p_enumerates_small_samples_and_holds_its_level():
    """Four equal differences: 2 of the 16 sign patterns are as extreme (p = 1/8); none at all: p = 1. On
    symmetric null data the test rejects at 5% about 5% of the time, and under a shift nearly always."""
    assert sign_flip_p([1.0, 1.0, 1.0, 1.0]) == pytest.approx(2 / 16)
    assert sign_flip_p([0.0, 0.0, 0.0]) == 1.0
    assert sign_flip_p([0.5, -0.5]) == 1.0
    rng = np.random.default_rng(8)
    null = [sign_flip_p(rng.normal(0, 1, 30), seed=i, resamples=2000) < 0.05 for i in range(400)]
    assert 0.025 <= np.mean(null) <= 0.085
    shifted = [sign_flip_p(rng.normal(0.8, 1, 30), seed=i, resamples=2000) < 0.05 for i in range(100)]
    assert np.mean(shifted) >= 0.95


def test_clusters_needed_gives_about_80_percent_power():
    """At the number of units it names (from a large pilot), a sign-flip test at 5% rejects about 80% of the time."""
    rng = np.random.default_rng(3)
    need = clusters_needed(rng.normal(0.4, 1.0, 4000))
    assert 40 <= need <= 60  # (1.96 + 0.84)^2 / 0.4^2 = 49
    assert clusters_needed([0.5, -0.5]) == np.inf and np.isnan(clusters_needed([1.0]))
    power = np.mean([sign_flip_p(rng.normal(0.4, 1.0, int(need)), seed=i, resamples=1000) < 0.05
                     for i in range(300)])
    assert 0.7 <= power <= 0.9
