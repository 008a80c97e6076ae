import chainer.functions as F
import chainer.links as L
import numpy
import pytest

from saliency_ext.calculators import GaussianNoiseSampler, OcclusionCalculator
from tests.calculators.models import data


def test_size_one_zero_fill_is_weight_times_input():
    model = L.Linear(4, 1)
    x = data()
    samples = OcclusionCalculator(model, slide_axis=1).compute(x)
    numpy.testing.assert_allclose(samples[0], model.W.array * x, rtol=1e-5,
                                  atol=1e-6)


def reference_occlusion(f, x, size, stride, fill):
    """The definition, one window at a time, for (C, H, W) items."""
    out = numpy.zeros_like(x)
    count = numpy.zeros(x.shape[2:])
    h, w = x.shape[2:]
    rows = sorted(set(list(range(0, h - size + 1, stride)) + [h - size]))
    cols = sorted(set(list(range(0, w - size + 1, stride)) + [w - size]))
    for i in rows:
        for j in cols:
            occluded = x.copy()
            occluded[:, :, i:i + size, j:j + size] = fill
            score = f(x) - f(occluded)
            out[:, :, i:i + size, j:j + size] += score[:, None, None, None]
            count[i:i + size, j:j + size] += 1
    return out / count


@pytest.mark.parametrize('size, stride', [(2, 1), (3, 2), (5, 5)])
def test_windows_match_the_definition(size, stride):
    conv = L.Convolution2D(2, 3, 3, pad=1)

    def model(x):
        return F.sum(F.tanh(conv(x)) ** 2, axis=(1, 2, 3))

    x = numpy.random.RandomState(1).randn(3, 2, 7, 6).astype(numpy.float32)
    calc = OcclusionCalculator(conv, eval_fun=model, size=size,
                               stride=stride, fill=0.5, max_batch=10)
    expected = reference_occlusion(lambda z: model(z).array, x, size, stride,
                                   0.5)
    numpy.testing.assert_allclose(calc.compute(x)[0], expected, rtol=1e-4,
                                  atol=1e-5)


def test_window_larger_than_axis():
    calc = OcclusionCalculator(L.Linear(4, 1), slide_axis=1, size=5)
    with pytest.raises(ValueError, match=r'size 5.*axis 1 \(length 4\)'):
        calc.compute(data())


@pytest.mark.parametrize('kwargs', [
    dict(slide_axis=0), dict(size=0), dict(size=(2, 2), slide_axis=1),
    dict(stride=0)])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        OcclusionCalculator(L.Linear(4, 1), **kwargs)


def test_noise_sampler_is_refused():
    with pytest.raises(ValueError, match='noise_sampler'):
        OcclusionCalculator(L.Linear(4, 1), slide_axis=1).compute(
            data(), noise_sampler=GaussianNoiseSampler())
