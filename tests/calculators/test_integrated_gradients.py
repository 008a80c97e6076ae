import chainer.links as L
import numpy
import pytest

from saliency_ext.calculators import (GaussianNoiseSampler,
                                      IntegratedGradientsCalculator)
from tests.calculators.models import MLP, data


def test_linear_zero_baseline_is_weight_times_input():
    model = L.Linear(4, 1)
    x = data()
    samples = IntegratedGradientsCalculator(model, steps=7).compute(x)
    numpy.testing.assert_allclose(samples[0], model.W.array * x, rtol=1e-5,
                                  atol=1e-6)


def test_completeness_on_a_nonlinear_model():
    model = MLP()
    x = data() * 2
    baseline = numpy.full(4, 0.5, numpy.float32)
    calc = IntegratedGradientsCalculator(model, target=1, steps=100,
                                         baseline=baseline, record_delta=True)
    attributions = calc.compute(x)[0].sum(axis=1)
    f = lambda z: model(z).array[:, 1]  # NOQA
    expected = f(x) - f(numpy.broadcast_to(baseline, x.shape))
    numpy.testing.assert_allclose(attributions, expected, rtol=0.01)
    numpy.testing.assert_allclose(calc.last_delta[0], expected - attributions,
                                  atol=1e-5)
    assert calc.last_delta.shape == (1, len(x))
    # few steps: the reported delta grows, showing the sum has not converged
    coarse = IntegratedGradientsCalculator(model, target=1, steps=1,
                                           baseline=baseline,
                                           record_delta=True)
    coarse.compute(x)
    assert numpy.abs(coarse.last_delta).max() > 10 * numpy.abs(
        calc.last_delta).max()


def test_the_delta_is_returned_when_asked_and_kept_only_on_request():
    model = MLP()
    x = data()
    calc = IntegratedGradientsCalculator(model, target=1, steps=30)
    samples, delta = calc.compute(x, M=2, return_delta=True)
    assert calc.last_delta is None  # no run state without record_delta
    assert delta.shape == (2, len(x))
    f = lambda z: model(z).array[:, 1]  # NOQA
    numpy.testing.assert_allclose(
        delta, f(x) - f(numpy.zeros_like(x)) - samples.sum(axis=2),
        rtol=1e-5, atol=1e-6)
    recording = IntegratedGradientsCalculator(model, target=1, steps=30,
                                              record_delta=True)
    numpy.testing.assert_allclose(recording.compute(x, M=2), samples)
    numpy.testing.assert_allclose(recording.last_delta, delta)


def test_delta_follows_the_noised_point_under_smoothgrad():
    model = MLP()
    calc = IntegratedGradientsCalculator(model, target=0, steps=200,
                                         record_delta=True)
    calc.compute(data(), M=3, noise_sampler=GaussianNoiseSampler())
    assert numpy.abs(calc.last_delta).max() < 1e-3


def test_callable_baseline():
    model = L.Linear(4, 1)
    x = data()
    samples = IntegratedGradientsCalculator(
        model, baseline=lambda t: t * 0.25).compute(x)
    numpy.testing.assert_allclose(samples[0], model.W.array * x * 0.75,
                                  rtol=1e-5, atol=1e-6)


def test_baseline_of_the_wrong_shape():
    calc = IntegratedGradientsCalculator(L.Linear(4, 1),
                                         baseline=numpy.zeros(3))
    with pytest.raises(ValueError, match=r'baseline of shape \(3,\).*\(4,\)'):
        calc.compute(data())


@pytest.mark.parametrize('kwargs, error', [
    (dict(steps=0), ValueError), (dict(baseline='zeros'), TypeError)])
def test_bad_arguments(kwargs, error):
    with pytest.raises(error):
        IntegratedGradientsCalculator(L.Linear(4, 1), **kwargs)
