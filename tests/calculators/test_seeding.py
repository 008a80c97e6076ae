"""Per-item seeds (``compute(..., item_seeds=...)``): an item's noise and
dropout masks come from its own seed, whatever it is computed with."""
import numpy
import pytest

from saliency_ext.calculators import (GaussianNoiseSampler,
                                      GradientCalculator,
                                      IntegratedGradientsCalculator,
                                      OcclusionCalculator)
from tests.calculators.models import MLP, data

SEEDS = [(7, i, 3) for i in range(6)]


def methods():
    model = MLP(dropout=0.5)
    grad = GradientCalculator(model, target=0)
    return {
        'smoothgrad': (grad, dict(M=5, noise_sampler=GaussianNoiseSampler())),
        'bayesgrad': (grad, dict(M=5, train=True)),
        'ig bayes': (IntegratedGradientsCalculator(model, target=0, steps=4),
                     dict(M=3, train=True)),
        'occlusion bayes': (OcclusionCalculator(model, target=0,
                                                slide_axis=1),
                            dict(M=3, train=True)),
    }


@pytest.mark.parametrize('name', sorted(methods()))
def test_an_item_draws_the_same_samples_in_any_group(name):
    calc, options = methods()[name]
    x = data()
    together = calc.compute(x, batchsize=6, item_seeds=SEEDS, **options)
    in_pairs = calc.compute(x, batchsize=2, item_seeds=SEEDS, **options)
    alone = numpy.concatenate([
        calc.compute(x[i:i + 1], item_seeds=SEEDS[i:i + 1], **options)
        for i in range(6)], axis=1)
    numpy.testing.assert_allclose(in_pairs, together, rtol=1e-6, atol=1e-7)
    numpy.testing.assert_allclose(alone, together, rtol=1e-6, atol=1e-7)
    # the samples are random: another seed draws others, and so does each
    # sample of an item
    other = calc.compute(x, item_seeds=[(8,) + s[1:] for s in SEEDS],
                         **options)
    assert not numpy.allclose(other, together)
    assert not numpy.allclose(together[0], together[1])


def test_seeded_samples_leave_the_global_random_state():
    calc, options = methods()['bayesgrad']
    before = numpy.random.get_state()
    calc.compute(data(), item_seeds=SEEDS, noise_sampler=GaussianNoiseSampler(),
                 **options)
    after = numpy.random.get_state()
    numpy.testing.assert_array_equal(after[1], before[1])
    assert after[2] == before[2]


def test_the_blocks_of_one_sample_see_the_same_dropout_masks():
    # Occlusion with a window that changes nothing (fill equal to the
    # input) scores f(x) - f(x): zero only if both blocks share the masks
    model = MLP(dropout=0.5)
    calc = OcclusionCalculator(model, target=0, slide_axis=1, fill=1.)
    x = numpy.ones((3, 4), numpy.float32)
    seeded = calc.compute(x, M=4, train=True, item_seeds=SEEDS[:3])
    assert not seeded.any()
    unseeded = calc.compute(x, M=4, train=True)  # every row its own mask
    assert unseeded.any()


class OldSampler(object):
    def sample(self, target):
        return numpy.zeros_like(target)


@pytest.mark.parametrize('kwargs, error, message', [
    (dict(item_seeds=SEEDS[:5]), ValueError, '5 seeds for 6 items'),
    (dict(item_seeds=[-1] * 6), ValueError, r'item_seeds\[0\]'),
    (dict(item_seeds=[1.5] * 6), ValueError, r'item_seeds\[0\]'),
    (dict(item_seeds=7), TypeError, 'one seed per item'),
    (dict(item_seeds=SEEDS, noise_sampler=OldSampler()), TypeError,
     'sample\\(target, rng=rng\\)'),
])
def test_bad_item_seeds(kwargs, error, message):
    calc = GradientCalculator(MLP(), target=0)
    with pytest.raises(error, match=message):
        calc.compute(data(), M=2, **kwargs)
