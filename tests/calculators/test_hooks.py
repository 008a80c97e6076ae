import chainer
import chainer.links as L
import numpy
import pytest

from saliency_ext.calculators import (GaussianNoiseSampler,
                                      GradientCalculator,
                                      IntegratedGradientsCalculator)
from saliency_ext.hooks import VariableMonitorLinkHook
from tests.calculators.models import MLP, EmbedModel, data

TOKENS = numpy.array([[1, 2, 3], [4, 0, 5]], numpy.int32)


def embedded_reference(model):
    """The same saliency computed with the embedding fed as a float input."""
    class FromEmbedding(chainer.Link):
        def forward(self, h):
            return chainer.functions.sum(
                model.out(chainer.functions.tanh(h), n_batch_axes=2),
                axis=(1, 2))
    emb = model.embed.W.array[TOKENS]
    return FromEmbedding(), emb


def test_gradient_at_the_embedding_equals_gradient_on_embedded_input():
    model = EmbedModel()
    hook = VariableMonitorLinkHook(model.embed)
    ig = IntegratedGradientsCalculator(model, target_extractor=hook, steps=6)
    samples = ig.compute(TOKENS)
    plain, emb = embedded_reference(model)
    expected = IntegratedGradientsCalculator(plain, steps=6).compute(emb)
    assert samples.shape == (1, 2, 3, 5)
    numpy.testing.assert_allclose(samples, expected, rtol=1e-5, atol=1e-7)
    assert not model.embed.local_link_hooks


def test_smoothgrad_at_the_embedding():
    model = EmbedModel()
    hook = VariableMonitorLinkHook(model.embed)
    samples = GradientCalculator(model, target_extractor=hook).compute(
        TOKENS, M=3, noise_sampler=GaussianNoiseSampler())
    assert samples.shape == (3, 2, 3, 5)
    assert not numpy.allclose(samples[0], samples[1])


def test_output_extractor_explains_the_watched_variable():
    # Explaining hidden unit 3 of the first layer: the gradient is W1[3].
    model = MLP()
    calc = GradientCalculator(
        model, output_extractor=VariableMonitorLinkHook(model.l1), target=3)
    samples = calc.compute(data())
    numpy.testing.assert_allclose(
        samples[0], numpy.broadcast_to(model.l1.W.array[3], (6, 4)),
        rtol=1e-6)
    assert not model.l1.local_link_hooks


def test_hook_is_removed_when_the_computation_raises():
    model = EmbedModel()
    hook = VariableMonitorLinkHook(model.embed)

    def broken(tokens):
        model(tokens)
        raise RuntimeError('boom')

    calc = GradientCalculator(model, eval_fun=broken, target_extractor=hook)
    with pytest.raises(RuntimeError, match='boom'):
        calc.compute(TOKENS)
    assert not model.embed.local_link_hooks
    assert hook.process is None
    # the link works unhooked afterwards
    assert model(TOKENS).shape == (2,)


def test_hook_that_never_fires_names_the_link():
    model = EmbedModel()
    stray = L.Linear(2, 2)
    model.add_link('unused', stray)
    calc = GradientCalculator(
        model, target_extractor=VariableMonitorLinkHook(stray))
    with pytest.raises(ValueError, match="'/unused' ran 0 times"):
        calc.compute(TOKENS)
    assert not stray.local_link_hooks


def test_pre_hook_needs_a_variable():
    model = EmbedModel()
    calc = GradientCalculator(model, target_extractor=VariableMonitorLinkHook(
        model.embed, timing='pre'))
    with pytest.raises(TypeError, match="timing='pre'.*'embed'"):
        calc.compute(TOKENS)


def test_bad_hook_arguments():
    with pytest.raises(ValueError, match='timing'):
        VariableMonitorLinkHook(L.Linear(2, 2), timing='during')
    with pytest.raises(TypeError):
        VariableMonitorLinkHook(lambda x: x)
