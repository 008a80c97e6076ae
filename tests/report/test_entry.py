"""ReportEntry: its validation and its settings."""
import json

import numpy
import pytest
from chainer.dataset import concat_examples

from saliency_ext import (GaussianNoiseSampler, GradientCalculator,
                          IntegratedGradientsCalculator, ReportEntry,
                          TableVisualizer, abs_max_scaler)
from tests.report.training import MLP, iris

PREDICTOR = MLP()
GRAD = GradientCalculator(PREDICTOR, target='label', label_index=-1)


@pytest.mark.parametrize('kwargs, error, message', [
    (dict(calculator=object()), TypeError, 'saliency calculator'),
    (dict(visualizer=object()), TypeError, 'visualize method'),
    (dict(compute=dict(M=2, steps=3)), ValueError, r"\['steps'\]"),
    (dict(compute=[1]), TypeError, 'compute must be a dict'),
    (dict(method='mean'), ValueError, "'mean'"),
    (dict(ch_axis=1), ValueError, 'ch_axis'),
    (dict(ch_axis='channels'), ValueError, 'ch_axis'),
    (dict(visualize='bars'), TypeError, 'visualize must be a dict'),
    (dict(item_kwargs=3), TypeError, 'item_kwargs'),
    (dict(scale=(1, 1)), ValueError, 'vmin < vmax'),
    (dict(scale='last'), ValueError, "'first'"),
    (dict(scale='first', visualize=dict(scaler=abs_max_scaler)), ValueError,
     'not both'),
    (dict(scale=(-1, 1), visualize=dict(scaler=abs_max_scaler)), ValueError,
     'not both'),
])
def test_bad_entries_are_refused(kwargs, error, message):
    arguments = dict(calculator=GRAD, visualizer=TableVisualizer())
    arguments.update(kwargs)
    with pytest.raises(error, match=message):
        ReportEntry(arguments.pop('calculator'), arguments.pop('visualizer'),
                    **arguments)


def test_good_entries_are_taken():
    entry = ReportEntry(GRAD, TableVisualizer(), compute=dict(M=3),
                        method='abs', ch_axis=(2, -1), scale=[-1, 2],
                        visualize=dict(feature_names=list('abcd')))
    assert entry.scale == (-1.0, 2.0)
    assert entry.compute_options == {'M': 3}


def test_settings_describe_the_calculator_not_its_run_state():
    ig = IntegratedGradientsCalculator(PREDICTOR, target='label',
                                       label_index=-1, steps=5,
                                       record_delta=True)
    entry = ReportEntry(ig, TableVisualizer(), compute=dict(
        M=2, noise_sampler=GaussianNoiseSampler(scale=0.1)))
    before = entry.settings()
    entry.saliency(iris()[:3], concat_examples)
    assert ig.last_delta is not None
    assert entry.settings() == before
    assert json.loads(json.dumps(before)) == before
    assert before == dict(
        calculator='IntegratedGradientsCalculator',
        options=dict(target='label', label_index=-1, steps=5,
                     baseline='zeros', target_extractor='model input 0',
                     output_extractor=None),
        compute=dict(M=2, noise_sampler=dict(
            type='GaussianNoiseSampler', mode='relative', scale=0.1)),
        method='raw', ch_axis=None, visualizer='TableVisualizer')


def test_settings_tell_baselines_apart():
    def settings(baseline):
        return IntegratedGradientsCalculator(
            PREDICTOR, baseline=baseline).settings()['baseline']
    ones = numpy.ones(4, numpy.float32)
    assert settings(ones) == settings(ones.copy()) != settings(ones * 2)
    assert settings(None) == 'zeros'
    assert 'callable' in settings(lambda x: x * 0)
