"""Rank correlation of two maps, against scipy's Spearman."""
import numpy
import pytest
from scipy.stats import spearmanr

from saliency_ext.metrics import (mean_rank_correlation, rank_correlation,
                                  rank_correlations)


def test_rank_correlation_is_spearmans_rho():
    rng = numpy.random.RandomState(0)
    for _ in range(5):
        a = rng.randn(4, 5)
        b = a + rng.randn(4, 5)
        assert rank_correlation(a, b) == pytest.approx(
            spearmanr(a.ravel(), b.ravel())[0], abs=1e-12)
    assert rank_correlation([1., 2., 3.], [3., 2., 1.]) == pytest.approx(-1)
    assert numpy.isnan(rank_correlation([1., 1.], [1., 2.]))
    assert numpy.isnan(rank_correlation([numpy.nan, 1.], [1., 2.]))


def test_per_item_correlations_over_real_positions():
    a = numpy.array([[1., 2., 3., 50.], [1., 2., 3., 4.]])
    b = numpy.array([[1., 2., 3., -50.], [4., 3., 2., 1.]])
    real = numpy.array([[True, True, True, False], [True] * 4])
    numpy.testing.assert_allclose(rank_correlations(a, b, real), [1., -1.])
    assert mean_rank_correlation(a, b, real) == pytest.approx(0.)
    assert rank_correlations(a, b)[0] < 1  # the padding counts without real
