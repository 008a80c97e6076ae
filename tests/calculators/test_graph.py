"""A graph network whose inputs are atom-type integers, explained at its
embedding, on real ESOL molecules of different sizes."""
import chainer
import numpy
import pytest

from saliency_ext import (GaussianNoiseSampler, GradientCalculator,
                          IntegratedGradientsCalculator,
                          VariableMonitorLinkHook)
from saliency_ext.datasets import concat_mols, load_esol
from saliency_ext.models import GraphRegressor


@pytest.fixture(scope='module')
def molecules():
    esol = load_esol()
    picked = [i for i, s in enumerate(esol.smiles) if s in (
        'CCO', 'c1ccccc1', 'CCCCCCCCO', 'Oc1ccccc1')]
    assert len(picked) >= 3
    return [esol.dataset[i] for i in picked]


def predict(model):
    return lambda atoms, adjs: model(atoms, adjs)[:, 0]


def test_integrated_gradients_at_the_embedding(molecules):
    numpy.random.seed(0)
    model = GraphRegressor()
    calc = IntegratedGradientsCalculator(
        model, eval_fun=predict(model), label_index=-1, steps=100,
        target_extractor=VariableMonitorLinkHook(model.graph.embed),
        record_delta=True)
    samples = calc.compute(molecules, converter=concat_mols, batchsize=2)
    sizes = [len(m[0]) for m in molecules]
    units = model.graph.embed.W.shape[1]
    assert samples.shape == (1, len(molecules), max(sizes), units)
    per_atom = calc.aggregate(samples, ch_axis=3)
    for row, size in zip(per_atom, sizes):
        assert numpy.abs(row[:size]).sum() > 0
        numpy.testing.assert_array_equal(row[size:], 0)  # padding
    # completeness per molecule, padding included: attributions sum to
    # f(x) - f(zero embedding)
    atoms, adjs, _ = concat_mols(molecules)
    zeroing = VariableMonitorLinkHook(model.graph.embed)
    zeroing.process = lambda v: setattr(v, 'array', v.array * 0)
    with chainer.using_config('train', False):
        with zeroing:
            at_baseline = model(atoms, adjs).array[:, 0]
        difference = model(atoms, adjs).array[:, 0] - at_baseline
    numpy.testing.assert_allclose(per_atom.sum(axis=1), difference,
                                  rtol=0.01, atol=1e-4)
    numpy.testing.assert_allclose(calc.last_delta[0],
                                  difference - per_atom.sum(axis=1),
                                  atol=1e-5)
    assert not model.graph.embed.local_link_hooks


def test_each_molecule_alone_equals_batched_with_padding(molecules):
    model = GraphRegressor()
    calc = GradientCalculator(
        model, eval_fun=predict(model), label_index=-1,
        target_extractor=VariableMonitorLinkHook(model.graph.embed))
    together = calc.compute(molecules, converter=concat_mols)
    for i, molecule in enumerate(molecules):
        alone = calc.compute([molecule], converter=concat_mols)
        size = len(molecule[0])
        numpy.testing.assert_allclose(together[0, i, :size], alone[0, 0],
                                      rtol=1e-4, atol=1e-6)


def test_bayesgrad_and_smoothgrad_at_the_embedding(molecules):
    model = GraphRegressor(dropout_ratio=0.3)
    calc = GradientCalculator(
        model, eval_fun=predict(model), label_index=-1,
        target_extractor=VariableMonitorLinkHook(model.graph.embed))
    samples = calc.compute(molecules, converter=concat_mols, M=4, train=True,
                           noise_sampler=GaussianNoiseSampler())
    assert samples.shape[0] == 4
    assert not numpy.allclose(samples[0], samples[1])
