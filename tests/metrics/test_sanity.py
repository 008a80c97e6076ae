"""Model randomisation and completeness."""
import numpy
import pytest

from saliency_ext import IntegratedGradientsCalculator
from saliency_ext.metrics import completeness_error, randomized_parameters
from tests.calculators.models import MLP, data


def arrays(model):
    return {name: p.array for name, p in model.namedparams()}


def test_randomized_parameters_are_fresh_seeded_and_put_back():
    model = MLP()
    before = arrays(model)
    copies = {k: v.copy() for k, v in before.items()}
    numpy.random.seed(3)
    state = numpy.random.get_state()[1].copy()
    with randomized_parameters(model):
        inside = {k: v.copy() for k, v in arrays(model).items()}
    numpy.testing.assert_array_equal(numpy.random.get_state()[1], state)
    for name, array in arrays(model).items():
        assert array is before[name]  # the same arrays, untouched
        numpy.testing.assert_array_equal(array, copies[name])
    # weights are drawn anew (LeCun normal), biases start at zero again
    assert not numpy.allclose(inside['/l1/W'], copies['/l1/W'])
    assert inside['/l1/W'].std() == pytest.approx(
        1 / numpy.sqrt(4), rel=0.3)
    assert not inside['/l1/b'].any()
    with randomized_parameters(MLP()) as again:
        numpy.testing.assert_array_equal(arrays(again)['/l2/W'],
                                         inside['/l2/W'])


def test_the_parameters_come_back_when_the_block_raises():
    model = MLP()
    before = arrays(model)
    with pytest.raises(RuntimeError):
        with randomized_parameters(model):
            raise RuntimeError('in the middle')
    assert all(arrays(model)[k] is v for k, v in before.items())


def test_completeness_error_of_integrated_gradients_shrinks_with_steps():
    model = MLP()
    x = data() * 2

    def error(steps):
        calc = IntegratedGradientsCalculator(model, target=1, steps=steps)
        attributions = calc.aggregate(calc.compute(x))
        f = model(x).array[:, 1] - model(0 * x).array[:, 1]
        return completeness_error(f, attributions,
                                  numpy.ones_like(x, bool))

    fine, coarse = error(200), error(1)
    assert fine.max() < 1e-3
    assert coarse.mean() > 10 * fine.mean()
    span = numpy.array([2., numpy.nan])
    numpy.testing.assert_allclose(
        completeness_error(span, numpy.array([[1., 0.5], [1., 1.]]),
                           numpy.array([[True, True], [True, True]])),
        [0.25, numpy.nan])
