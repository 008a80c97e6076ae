import numpy
import pytest

from saliency_ext.calculators import aggregate, spread

SAMPLES = numpy.array([[[1., -2.], [3., 4.]],
                       [[-3., 2.], [1., 0.]]])  # (M=2, N=2, F=2)


@pytest.mark.parametrize('method, expected', [
    ('raw', [[-1., 0.], [2., 2.]]),
    ('abs', [[2., 2.], [2., 2.]]),
    ('square', [[5., 4.], [5., 8.]]),
])
def test_methods(method, expected):
    numpy.testing.assert_allclose(aggregate(SAMPLES, method), expected)


def test_channel_axes_are_summed_after_the_method():
    images = numpy.arange(2 * 3 * 2 * 4 * 5, dtype=float).reshape(
        2, 3, 2, 4, 5) - 100
    out = aggregate(images, 'abs', ch_axis=2)
    assert out.shape == (3, 4, 5)
    numpy.testing.assert_allclose(out, numpy.abs(images).sum(2).mean(0))
    both = aggregate(images, 'raw', ch_axis=(2, -1))
    numpy.testing.assert_allclose(both, images.sum(axis=(2, 4)).mean(0))


@pytest.mark.parametrize('kwargs, error, message', [
    (dict(method='mean'), ValueError, "'mean'"),
    (dict(ch_axis=0), ValueError, 'sample axis'),
    (dict(ch_axis=5), ValueError, 'out of range'),
    (dict(ch_axis=1.5), TypeError, 'ch_axis'),
])
def test_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        aggregate(SAMPLES, **kwargs)


@pytest.mark.parametrize('method, expected', [
    # population std over the two samples: half their difference
    ('raw', [[2., 2.], [1., 2.]]),
    ('abs', [[1., 0.], [1., 2.]]),
    ('square', [[4., 0.], [4., 8.]]),
])
def test_spread_is_the_population_std_of_what_is_averaged(method, expected):
    numpy.testing.assert_allclose(spread(SAMPLES, method), expected)


def test_spread_sums_channels_first_and_is_zero_for_one_sample():
    images = numpy.random.RandomState(0).randn(5, 3, 2, 4, 4)
    numpy.testing.assert_allclose(spread(images, 'abs', ch_axis=2),
                                  numpy.abs(images).sum(2).std(0))
    assert not spread(images[:1], ch_axis=2).any()
