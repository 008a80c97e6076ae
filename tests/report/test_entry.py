"""ReportEntry: its validation and its settings."""
import json

import chainer
import numpy
import pytest
from chainer.dataset import concat_examples

from saliency_ext import (GaussianNoiseSampler, GradientCalculator,
                          ImageVisualizer, IntegratedGradientsCalculator,
                          ReportEntry, TableVisualizer, abs_max_scaler)
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
    (dict(show_std=True, compute=dict(M=3)), TypeError,
     'TableVisualizer has no visualize_spread'),
    (dict(show_std=True, visualizer=ImageVisualizer()), ValueError,
     'M > 1'),
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
    entry.arrays(iris()[:3], concat_examples)
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


class SampleIndexNoise(object):
    """Adds its sample's index m to every feature of every item: the rows
    are drawn sample-major, ``n_items`` rows per sample."""

    def __init__(self, n_items):
        self.n_items = n_items

    def sample(self, target):
        m = numpy.arange(len(target)) // self.n_items
        return numpy.broadcast_to(m[:, None], target.shape).astype(
            target.dtype)


class Linear(chainer.Chain):
    def __init__(self, w):
        super(Linear, self).__init__()
        with self.init_scope():
            self.linear = chainer.links.Linear(len(w), 1, initialW=w[None])

    def forward(self, x):
        return self.linear(x)[:, 0]


def test_arrays_hold_the_mean_and_with_samples_the_spread():
    """Gradient x input of a linear model with noise m added in sample m:
    ``w * (x + m)``, whose mean and population std over m = 0..3 are known."""
    w = numpy.array([1., -2., 0.5, 3.], numpy.float32)
    x = numpy.stack([features for features, _ in iris()[:3]])
    calc = GradientCalculator(Linear(w), multiply_target=True)
    entry = ReportEntry(calc, TableVisualizer(), compute=dict(
        M=4, noise_sampler=SampleIndexNoise(3)))
    arrays = entry.arrays(x, concat_examples)
    m = numpy.arange(4.)
    numpy.testing.assert_allclose(arrays['saliency'], w * (x + m.mean()),
                                  rtol=1e-5)
    numpy.testing.assert_allclose(arrays['saliency_std'],
                                  numpy.broadcast_to(numpy.abs(w) * m.std(),
                                                     x.shape), rtol=1e-5)
    single = ReportEntry(calc, TableVisualizer()).arrays(x, concat_examples)
    assert set(single) == {'saliency'}


def test_spread_is_drawn_beside_each_item_on_the_maps_scale():
    images = numpy.random.RandomState(0).rand(2, 1, 6, 6).astype(
        numpy.float32)
    saliency = numpy.random.RandomState(1).randn(2, 6, 6)
    std = numpy.abs(numpy.random.RandomState(2).randn(2, 6, 6))
    calc = GradientCalculator(Linear(numpy.ones(36, numpy.float32)))
    visualizer = ImageVisualizer()
    entry = ReportEntry(calc, visualizer, compute=dict(M=5), show_std=True,
                        include_mean=True, visualize=dict(alpha=0.7))
    bound = [{'image': images[0, 0]}, {'image': images[1, 0]}]
    pictures = dict(entry.render(saliency, bound, std=std))
    for i in range(2):
        top = numpy.abs(saliency[i]).max()
        mean_tile = visualizer.visualize(saliency[i], image=images[i, 0],
                                         alpha=0.7)
        spread_tile = visualizer.visualize_spread(
            std[i], image=images[i, 0], alpha=0.7, top=top)
        picture = pictures['item_{:02d}'.format(i)]
        assert picture.shape == (6, 6 + 8 + 6, 3)
        numpy.testing.assert_array_equal(picture[:, -6:], spread_tile)
        numpy.testing.assert_array_equal(picture[:, :6], mean_tile)
        assert (picture[:, 6:14] == 255).all()  # the gap
    # the probe's mean has no spread of its own: one panel (under its title)
    assert pictures['mean'].shape[1] == 6
    # a fixed scale sets the spread's top too
    fixed = ReportEntry(calc, visualizer, compute=dict(M=5), show_std=True,
                        scale=(-4., 2.))
    picture = dict(fixed.render(saliency, [{}, {}], numpy.array(
        [[-4., 2.]] * 2), std=std))['item_00']
    spread_tile = visualizer.visualize_spread(std[0], top=4.)
    numpy.testing.assert_array_equal(picture[:, -6:], spread_tile[:, -6:])


def test_the_mean_is_drawn_as_the_items_are_its_caption_says_what_it_is():
    # The report's caption names the mean ("mean of 3 probe items"): the
    # bars drawn under it carry no second title of their own.
    saliency = numpy.array([[1., -2., 0., 3.], [3., 0., 1., -1.],
                            [-1., 2., 2., 1.]])
    visualizer = TableVisualizer()
    entry = ReportEntry(GRAD, visualizer, include_mean=True)
    pictures = dict(entry.render(saliency, [{}] * 3))
    numpy.testing.assert_array_equal(
        pictures['mean'], visualizer.visualize(saliency.mean(axis=0)))
    assert entry.mean_title(saliency) == 'mean of 3 probe items'
