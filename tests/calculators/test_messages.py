"""The usual mistakes get a message naming the argument to change."""
import chainer.functions as F
import chainer.links as L
import numpy
import pytest

from saliency_ext import (GradientCalculator, OcclusionCalculator, ReportEntry,
                          SaliencyReport, TableVisualizer)
from tests.calculators.models import MLP, data

X = data(n=20)
T = (numpy.arange(20) % 3).astype(numpy.int32)


def test_label_index_that_takes_the_input_names_label_index():
    calculator = GradientCalculator(MLP(), target='label', label_index=0)
    with pytest.raises(TypeError) as caught:
        calculator.compute((X, T))
    message = str(caught.value)
    assert 'has dtype int32' in message
    assert 'label_index=0 withholds converted array 0 (float32 (16, 4)) as the label' \
        in message
    assert 'change label_index (-1 for the last)' in message


def test_a_label_passed_to_the_model_names_label_index():
    calculator = GradientCalculator(MLP(), target='top')
    with pytest.raises(TypeError, match=r'eval_fun MLP.forward\(x\) cannot take the 2 '
                                        r'model input\(s\).*float32 \(16, 4\), int32 '
                                        r'\(16,\).*pass label_index=-1') as caught:
        calculator.compute((X, T))
    assert isinstance(caught.value.__cause__, TypeError)


def test_the_arity_check_reads_an_old_style_call_and_lets_a_classifier_through():
    class OldStyle(MLP):
        def __call__(self, x, t):
            return self.forward(x)[:, 0]

    GradientCalculator(OldStyle()).compute((X, T))
    GradientCalculator(L.Classifier(MLP())).compute((X, T))  # forward(*args)


def test_a_probe_of_inputs_only_names_label_index():
    calculator = GradientCalculator(MLP(), target='label', label_index=-1)
    with pytest.raises(ValueError, match=r"label_index=-1 takes the only array.*float32 "
                                         r"\(16, 4\).*inputs only.*Leave label_index"):
        calculator.compute(X)


@pytest.mark.parametrize('probe, kind', [
    ({'x': X, 't': T}, 'dict'), ('iris.csv', 'str'), (b'raw', 'bytes')])
def test_dict_and_string_probes_are_refused_in_the_constructor(probe, kind):
    entry = ReportEntry(GradientCalculator(MLP(), target='top'), TableVisualizer())
    with pytest.raises(TypeError, match=r'probe must be an array, a tuple of arrays '
                                        r'such as \(x, t\).*got a {}'.format(kind)):
        SaliencyReport(probe, {'e': entry})
    with pytest.raises(TypeError, match='data must be an array'):
        entry.calculator.compute(probe)


def test_occlusion_of_a_scalar_names_the_fix():
    model = MLP()
    calculator = OcclusionCalculator(model, slide_axis=1,
                                     eval_fun=lambda x: F.mean(model(x)))
    with pytest.raises(ValueError, match=r"eval_fun returned a scalar. Explain one value "
                                         r"per item.*reduce='no'.*target='top'"):
        calculator.compute(X)
