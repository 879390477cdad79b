"""The statistics kernels against hand-worked cases and their defining identities."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model.stats import cumulative_incidence, kaplan_meier, wilson


def test_wilson_known_interval():
    p, lo, hi = wilson(23, 100)  # Wilson score interval, z = 1.96: (0.1584, 0.3215)
    assert p == 0.23 and lo == pytest.approx(0.1584, abs=1e-4) and hi == pytest.approx(0.3215, abs=1e-4)


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
