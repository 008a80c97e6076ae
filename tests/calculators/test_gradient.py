import chainer
import chainer.links as L
import numpy
import pytest

from saliency_ext.calculators import GaussianNoiseSampler, GradientCalculator
from tests.calculators.models import BNModel, MLP, data


def test_linear_gradient_equals_weights():
    model = L.Linear(4, 1)
    x = data()
    samples = GradientCalculator(model).compute(x)
    assert samples.shape == (1, 6, 4)
    numpy.testing.assert_allclose(
        samples[0], numpy.broadcast_to(model.W.array, (6, 4)), rtol=1e-6)


def test_gradient_times_input():
    model = L.Linear(4, 1)
    x = data()
    samples = GradientCalculator(model, multiply_target=True).compute(x)
    numpy.testing.assert_allclose(samples[0], model.W.array * x, rtol=1e-5)


@pytest.mark.parametrize('target, expected_rows', [
    (2, [2, 2, 2, 2, 2, 2]),
    ('label', [0, 1, 2, 0, 1, 2]),
])
def test_class_target_picks_weight_row(target, expected_rows):
    model = L.Linear(4, 3)
    x = data()
    t = numpy.array([0, 1, 2, 0, 1, 2], numpy.int32)
    calc = GradientCalculator(model, target=target, label_index=-1)
    samples = calc.compute((x, t))
    numpy.testing.assert_allclose(samples[0], model.W.array[expected_rows],
                                  rtol=1e-6)


def test_top_target_follows_the_prediction():
    model = L.Linear(4, 3)
    x = data()
    top = (x @ model.W.array.T + model.b.array).argmax(axis=1)
    samples = GradientCalculator(model, target='top').compute(x)
    numpy.testing.assert_allclose(samples[0], model.W.array[top], rtol=1e-6)


def test_scalar_sum_objective_equals_per_item_vector():
    model = MLP()
    x = data()
    per_item = GradientCalculator(model, target=1).compute(x)
    summed = GradientCalculator(
        model, eval_fun=lambda x: chainer.functions.sum(model(x)[:, 1])
    ).compute(x)
    numpy.testing.assert_allclose(per_item, summed, rtol=1e-5)


def test_multi_output_without_target_is_refused():
    with pytest.raises(ValueError, match=r"one value per item.*\(6, 3\)"):
        GradientCalculator(MLP()).compute(data())


def test_integer_input_target_is_refused():
    model = L.EmbedID(5, 3)
    with pytest.raises(TypeError, match='int32.*VariableMonitorLinkHook'):
        GradientCalculator(model).compute(numpy.zeros((2, 3), numpy.int32))


def test_bayesgrad_samples_differ_with_dropout_and_not_without():
    x = data()
    noisy = GradientCalculator(MLP(dropout=0.5), target=0).compute(
        x, M=4, train=True)
    assert not numpy.allclose(noisy[0], noisy[1])
    # every stacked row draws its own mask, so copies of one item differ
    twins = numpy.repeat(x[:1], 2, axis=0)
    copies = GradientCalculator(MLP(dropout=0.5), target=0).compute(
        twins, train=True)
    assert not numpy.allclose(copies[0, 0], copies[0, 1])
    plain = GradientCalculator(MLP(), target=0).compute(x, M=4, train=True)
    for m in range(1, 4):
        numpy.testing.assert_array_equal(plain[0], plain[m])


def test_bayesgrad_refuses_batchnorm():
    with pytest.raises(ValueError, match="'/bn'.*BatchNormalization"):
        GradientCalculator(BNModel()).compute(data(), M=2, train=True)


def test_smoothgrad_noise_is_relative_to_each_item():
    sampler = GaussianNoiseSampler(mode='relative', scale=0.5)
    x = numpy.stack([numpy.linspace(0, 1, 20000),
                     numpy.linspace(0, 100, 20000)]).astype(numpy.float32)
    noise = sampler.sample(x)
    numpy.testing.assert_allclose(noise.std(axis=1), [0.5, 50.], rtol=0.05)
    assert GaussianNoiseSampler('absolute', 2.).sample(x).std() == \
        pytest.approx(2., rel=0.05)


def test_smoothgrad_averages_gradients_at_noisy_points():
    # For f(x) = sum(x ** 2) the gradient is 2 x, so the SmoothGrad mean
    # converges to 2 x and the samples scatter around it.
    class Square(chainer.Link):
        def forward(self, x):
            return chainer.functions.sum(x * x, axis=1)

    x = data(n=3)
    samples = GradientCalculator(Square()).compute(
        x, M=4000, noise_sampler=GaussianNoiseSampler('absolute', 0.1))
    assert samples.std(axis=0).mean() == pytest.approx(0.2, rel=0.05)
    numpy.testing.assert_allclose(samples.mean(axis=0), 2 * x, atol=0.02)


def test_model_is_left_as_found():
    model = BNModel()
    x = data()
    for link in model.links():
        link.cleargrads()
    model.l1.W.grad = numpy.full_like(model.l1.W.array, 7.)
    mean_before = model.bn.avg_mean.copy()
    hooks_before = dict(model.l1.local_link_hooks)
    with chainer.using_config('train', True):
        GradientCalculator(model).compute(x, M=3,
                                          noise_sampler=GaussianNoiseSampler())
        assert chainer.config.train is True
    numpy.testing.assert_array_equal(model.l1.W.grad, 7.)
    assert model.l2.W.grad is None
    numpy.testing.assert_array_equal(model.bn.avg_mean, mean_before)
    assert dict(model.l1.local_link_hooks) == hooks_before


@pytest.mark.parametrize('kwargs, message', [
    (dict(M=0), 'M must be'),
    (dict(batchsize=0), 'batchsize must be'),
    (dict(noise_sampler=object()), 'sample'),
])
def test_bad_compute_arguments(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        GradientCalculator(L.Linear(4, 1)).compute(data(), **kwargs)


@pytest.mark.parametrize('kwargs, message', [
    (dict(target='best'), 'target must be'),
    (dict(target='label'), 'label_index'),
    (dict(max_batch=0), 'max_batch'),
    (dict(eval_fun=3), 'eval_fun'),
    (dict(target_extractor='embed'), 'target_extractor'),
])
def test_bad_constructor_arguments(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        GradientCalculator(L.Linear(4, 1), **kwargs)
