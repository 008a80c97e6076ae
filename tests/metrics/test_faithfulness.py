"""Deletion and insertion curves against closed forms and references."""
import math

import chainer
import numpy
import pytest

from saliency_ext import (GradientCalculator, IntegratedGradientsCalculator,
                          VariableMonitorLinkHook)
from saliency_ext.metrics import area, deletion_insertion, rankings
from tests.calculators.models import EmbedModel


class LinearScore(chainer.Link):
    """f(x) = sum(w * x) + b over one item's target, float64."""

    def __init__(self, shape, seed=0):
        super(LinearScore, self).__init__()
        rng = numpy.random.RandomState(seed)
        with self.init_scope():
            self.w = chainer.Parameter(rng.randn(*shape))
            self.b = chainer.Parameter(numpy.array(0.3))

    def forward(self, x):
        axes = tuple(range(1, x.ndim))
        return chainer.functions.sum(x * chainer.functions.broadcast_to(
            self.w, x.shape), axis=axes) + chainer.functions.broadcast_to(
                self.b, (len(x),))


def closed_form(attributions, order, kind, steps):
    """A linear model's curve with a zero baseline: f(x_k) - f(0) is the
    sum of the attributions w * x of the positions that keep x."""
    total = attributions.sum()
    curve = []
    for k in range(steps + 1):
        first = attributions[order[:math.ceil(k * len(order) / steps)]].sum()
        curve.append((total - first if kind == 'deletion' else first) / total)
    return numpy.array(curve)


@pytest.mark.parametrize('item_shape,ch_axis', [((7,), None),
                                                ((2, 3, 4), 2)])
@pytest.mark.parametrize('steps', [10, 4])
def test_a_linear_model_follows_the_closed_form(item_shape, ch_axis, steps):
    model = LinearScore(item_shape)
    x = numpy.random.RandomState(1).randn(8, *item_shape)
    calc = IntegratedGradientsCalculator(model, steps=3)
    saliency = calc.aggregate(calc.compute(x), ch_axis=ch_axis)
    real = numpy.ones(saliency.shape, bool)
    result = deletion_insertion(calc, x, saliency, real, steps=steps,
                                ch_axis=ch_axis, seed=5)
    # per map position, the attributions w * x summed over the channels;
    # they add up to f(x) - f(0), whose sign orders the map
    attributions = (model.w.array * x).sum(axis=1) if ch_axis else \
        model.w.array * x
    change = attributions.reshape(len(x), -1).sum(axis=1)
    left_out = numpy.abs(change) <= 0.1 * numpy.median(numpy.abs(change))
    numpy.testing.assert_array_equal(result.left_out, left_out)
    assert (change < 0).any() and (change > 0).any()
    for i in numpy.flatnonzero(~left_out):
        a = attributions[i].ravel()
        by_map = numpy.argsort(-numpy.sign(change[i]) * saliency[i].ravel(),
                               kind='stable')
        by_chance = numpy.random.RandomState([5, i]).permutation(a.size)
        for kind in ('deletion', 'insertion'):
            for suffix, order in (('', by_map), ('_random', by_chance)):
                expected = closed_form(a, order, kind, steps)
                curve = result.curves[kind + suffix][i]
                numpy.testing.assert_allclose(curve, expected, rtol=0,
                                              atol=1e-6)
                assert area(curve[None])[0] == pytest.approx(
                    numpy.trapz(expected, dx=1. / steps), abs=1e-6)
    f = lambda z: (model.w.array * z).reshape(len(z), -1).sum(1) + 0.3  # NOQA
    numpy.testing.assert_allclose(result.explained, f(x), rtol=1e-12)
    numpy.testing.assert_allclose(result.baseline, f(0 * x), rtol=1e-12)


def test_deletion_removes_atoms_at_the_embedding_and_keeps_padding():
    numpy.random.seed(1)  # weights whose f(x) - f(baseline) is not tiny
    model = EmbedModel()
    tokens = numpy.array([[1, 2, 3, 0], [4, 5, 0, 0]], numpy.int32)
    real = tokens > 0  # token 0 is padding here
    hook = VariableMonitorLinkHook(model.embed)
    calc = GradientCalculator(model, target_extractor=hook)
    saliency = numpy.array([[0.3, 0.9, 0.1, 5.], [0.2, 0.7, 9., 9.]])
    result = deletion_insertion(calc, tokens, saliency, real, steps=2,
                                curves=('deletion',), ch_axis=3)
    embedded = numpy.tanh(model.embed.W.array[tokens])          # (N, T, U)
    per_token = (embedded * model.out.W.array[0]).sum(axis=2) + \
        model.out.b.array[0]
    zero = model.out.b.array[0]  # a token whose embedding is removed

    def f(deleted):
        return numpy.where(deleted, zero, per_token).sum(axis=1)

    fx = f(numpy.zeros_like(real))
    fb = f(real)  # every real atom removed, the padding kept
    numpy.testing.assert_allclose(result.explained, fx, rtol=1e-5)
    numpy.testing.assert_allclose(result.baseline, fb, rtol=1e-5)
    # step 1 of 2 removes ceil(D / 2) atoms, the largest first in the
    # direction of f(x) - f(b): of item 0 (D = 3) two atoms, of item 1
    # (D = 2) one
    half = numpy.zeros_like(real)
    for i, count in ((0, 2), (1, 1)):
        toward = numpy.sign(fx[i] - fb[i]) * saliency[i, :real[i].sum()]
        half[i, numpy.argsort(-toward, kind='stable')[:count]] = True
    expected = (f(half) - fb) / (fx - fb)
    numpy.testing.assert_allclose(result.curves['deletion'][:, 1], expected,
                                  rtol=1e-4)


class RowCounter(object):
    def __init__(self, model):
        self.model, self.rows, self.calls = model, 0, 0

    def __call__(self, x):
        self.rows += len(x)
        self.calls += 1
        return self.model(x)


@pytest.mark.parametrize('curves,per_item', [
    (('deletion',), 2 * 10), (('insertion',), 2 * 10),
    (('deletion', 'insertion'), 4 * 10 - 2), ((), 2)])
def test_forward_rows_per_item_and_batched_passes(curves, per_item):
    model = LinearScore((6,))
    counter = RowCounter(model)
    calc = GradientCalculator(model, eval_fun=counter, max_batch=100)
    x = numpy.random.RandomState(0).randn(8, 6)
    saliency = numpy.abs(x)
    deletion_insertion(calc, x, saliency, numpy.ones_like(x, bool),
                       curves=curves, steps=10)
    assert counter.rows == 8 * per_item  # at most 2 K per item and curve
    # the two ends in one pass, then the inner steps, 12 blocks a pass
    assert counter.calls == 1 + math.ceil((counter.rows - 16) / 96)


def test_the_integrated_gradients_baseline_is_the_deletion_baseline():
    model = LinearScore((5,))
    x = numpy.random.RandomState(2).randn(3, 5)
    baseline = numpy.linspace(-1, 1, 5)
    calc = IntegratedGradientsCalculator(model, baseline=baseline)
    saliency = calc.aggregate(calc.compute(x))
    result = deletion_insertion(calc, x, saliency, numpy.ones_like(x, bool),
                                steps=5)
    expected = (model.w.array * baseline).sum() + 0.3
    numpy.testing.assert_allclose(result.baseline, [expected] * 3)
    numpy.testing.assert_allclose(result.curves['insertion'][:, -1], 1.)
    numpy.testing.assert_allclose(result.curves['deletion'][:, -1], 0.)


def test_items_whose_value_does_not_move_are_left_out():
    model = LinearScore((4,))
    x = numpy.random.RandomState(3).randn(3, 4)
    x[1] = 0.  # f(x) == f(baseline)
    calc = GradientCalculator(model)
    result = deletion_insertion(calc, x, numpy.abs(x) + 1,
                                numpy.ones_like(x, bool), steps=4)
    assert result.left_out.tolist() == [False, True, False]
    assert numpy.isnan(result.curves['deletion'][1]).all()
    assert numpy.isfinite(result.curves['deletion'][[0, 2]]).all()


def test_maps_that_do_not_fit_the_target_are_refused():
    model = LinearScore((2, 3))
    x = numpy.ones((2, 2, 3))
    calc = GradientCalculator(model)
    with pytest.raises(ValueError, match=r'shaped \(4,\) per item, the target '
                                         r'\(2, 3\) \(ch_axis=None\)'):
        deletion_insertion(calc, x, numpy.ones((2, 4)),
                           numpy.ones((2, 4), bool))


def test_an_item_keeps_its_rankings_in_any_batch():
    saliency = numpy.random.RandomState(4).randn(5, 3, 3)
    real = numpy.ones(saliency.shape, bool)
    real[2, 2] = False
    whole = rankings(saliency, real, seed=7)
    alone = rankings(saliency[2:3], real[2:3], items=[2], seed=7)
    numpy.testing.assert_array_equal(alone[:, 0], whole[:, 2])
    # padding ranks after the 6 real positions; the map's largest first
    assert (whole[:, 2][:, ~real[2]] >= 6).all()
    assert whole[0, 2].ravel()[numpy.argmax(saliency[2, :2])] == 0
