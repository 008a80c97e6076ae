"""Stacking samples, steps and windows into big passes changes nothing."""
import chainer
import numpy
import pytest

from saliency_ext.calculators import (GradientCalculator,
                                      IntegratedGradientsCalculator,
                                      OcclusionCalculator)
from tests.calculators.models import MLP, data

MODEL = MLP(n_hidden=32)


def reference_ig(x, baseline, steps, cls):
    """Integrated gradients, one item and one step per pass."""
    out = numpy.zeros_like(x)
    for i in range(len(x)):
        for k in range(steps):
            point = baseline + (k + 0.5) / steps * (x[i:i + 1] - baseline)
            v = chainer.Variable(point)
            grad, = chainer.grad([MODEL(v)[0, cls]], [v])
            out[i] += grad.array[0] / steps
    return out * (x - baseline)


def test_integrated_gradients_equals_the_one_pass_per_step_definition():
    x = data(n=5)
    baseline = numpy.full(4, -0.3, numpy.float32)
    samples = IntegratedGradientsCalculator(
        MODEL, target=2, steps=9, baseline=baseline).compute(x)
    numpy.testing.assert_allclose(samples[0],
                                  reference_ig(x, baseline, 9, 2),
                                  rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize('make', [
    lambda **kw: GradientCalculator(MODEL, target='top', **kw),
    lambda **kw: GradientCalculator(MODEL, target=1, multiply_target=True,
                                    **kw),
    lambda **kw: IntegratedGradientsCalculator(MODEL, target=0, steps=13,
                                               **kw),
    lambda **kw: OcclusionCalculator(MODEL, target=1, size=2, slide_axis=1,
                                     **kw),
])
def test_any_chunking_gives_the_same_numbers(make):
    x = data(n=7)
    whole = make().compute(x, M=2, batchsize=7)
    for batchsize, max_batch in [(1, 1), (3, 3), (7, 10), (4, 1000)]:
        chunked = make(max_batch=max_batch).compute(x, M=2,
                                                    batchsize=batchsize)
        # float32 rounding of BLAS kernels differs with the batch size
        numpy.testing.assert_allclose(chunked, whole, rtol=1e-5, atol=1e-6)
    numpy.testing.assert_allclose(whole[0], whole[1], rtol=1e-6, atol=1e-7)


def test_each_sample_sees_one_noise_draw_across_its_steps():
    # With a linear model IG is exact for any point, so if all steps of one
    # sample share its noisy point, attributions sum to f(x+n) - f(0) and the
    # reported completeness error is ~0 even for one step.
    import chainer.links as L
    from saliency_ext.calculators import GaussianNoiseSampler
    calc = IntegratedGradientsCalculator(L.Linear(4, 1), steps=4,
                                         record_delta=True, max_batch=6)
    calc.compute(data(n=6), M=5, noise_sampler=GaussianNoiseSampler())
    assert numpy.abs(calc.last_delta).max() < 1e-5
