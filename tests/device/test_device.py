"""The calculators, the report and the replay on the device of ``--device``
(GPU 0 with ``pytest --device 0``; the CPU by default): the numbers the CPU
gives, training left as it was, events TensorBoard reads, and the random
state of the device untouched."""
import copy
import os

import chainer
import chainer.functions as F
import chainer.links as L
import numpy
import pytest
from chainer import training
from tensorboard.backend.event_processing.event_accumulator import \
    EventAccumulator

from saliency_ext import (GaussianNoiseSampler, GradCAMCalculator,
                          GradientCalculator, IntegratedGradientsCalculator,
                          OcclusionCalculator, ReportLayout, SaliencyReport,
                          VariableMonitorLinkHook)
from saliency_ext.datasets import concat_mols, load_esol
from saliency_ext.metrics import deletion_insertion, randomized_parameters
from saliency_ext.models import GraphRegressor
from saliency_ext.random_state import preserved_random_state
from saliency_ext.replay.cli import main as replay_main
from tests.calculators.models import MLP, data
from tests.report import training as iris_training

REPLAY_CONFIG = '{}:replay_config'.format(os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'replay',
    'test_replay.py'))


class CNN(chainer.Chain):
    def __init__(self):
        super(CNN, self).__init__()
        with self.init_scope():
            self.conv = L.Convolution2D(3, 4, ksize=3, pad=1)
            self.out = L.Linear(4 * 8 * 8, 3)

    def forward(self, x):
        return self.out(F.relu(self.conv(x)))


def mlp_case():
    return MLP(), data(n=6), {'target': 'top'}, None, 1


def cnn_case():
    images = numpy.random.RandomState(1).rand(4, 3, 8, 8).astype(
        numpy.float32)
    return CNN(), images, {'target': 1}, None, (2, 3)


def ggnn_case():
    numpy.random.seed(2)
    model = GraphRegressor()
    return model, load_esol().dataset[:6], dict(label_index=-1), \
        concat_mols, 1


METHODS = {
    'vanilla': lambda model, slide, **kw: GradientCalculator(model, **kw),
    'grad_x_input': lambda model, slide, **kw: GradientCalculator(
        model, multiply_target=True, **kw),
    'integrated_gradients': lambda model, slide, **kw:
        IntegratedGradientsCalculator(model, steps=8, **kw),
    'occlusion': lambda model, slide, **kw: OcclusionCalculator(
        model, slide_axis=slide, **kw),
}


def explained(case, model, method):
    _, items, kwargs, converter, slide = case
    kwargs = dict(kwargs)
    if converter is concat_mols:  # atom ids: explain the embedding
        kwargs['target_extractor'] = VariableMonitorLinkHook(
            model.graph.embed)
        kwargs['eval_fun'] = lambda atoms, adjs: model(atoms, adjs)[:, 0]
    calc = METHODS[method](model, slide, **kwargs)
    return calc.compute(items, batchsize=len(items),
                        converter=converter or chainer.dataset.concat_examples)


@pytest.mark.parametrize('make_case', [mlp_case, cnn_case, ggnn_case],
                         ids=['mlp', 'cnn', 'ggnn'])
@pytest.mark.parametrize('method', sorted(METHODS))
def test_deterministic_methods_give_the_numbers_of_the_cpu(device, make_case,
                                                           method):
    case = make_case()
    on_cpu = explained(case, case[0], method)
    model = copy.deepcopy(case[0]).to_device(device)
    on_device = explained(case, model, method)
    assert isinstance(on_device, numpy.ndarray)
    numpy.testing.assert_allclose(on_device, on_cpu, rtol=1e-4, atol=1e-5)


class StridedCNN(chainer.Chain):
    """A 4 x 4 map of 8 x 8 images, so that Grad-CAM resizes it."""

    def __init__(self):
        super(StridedCNN, self).__init__()
        with self.init_scope():
            self.conv = L.Convolution2D(3, 4, ksize=3, stride=2, pad=1)
            self.out = L.Linear(4 * 4 * 4, 3)

    def forward(self, x):
        return self.out(F.relu(self.conv(x)))


@pytest.mark.parametrize('mode', ['gradcam', 'layercam'])
def test_gradcam_gives_the_numbers_of_the_cpu(device, mode):
    numpy.random.seed(4)
    model = StridedCNN()
    images = cnn_case()[1]

    def maps(model):
        return GradCAMCalculator(
            model, mode=mode, target='top',
            target_extractor=VariableMonitorLinkHook(model.conv)).compute(
                images, batchsize=len(images))
    on_cpu = maps(model)
    on_device = maps(copy.deepcopy(model).to_device(device))
    assert isinstance(on_device, numpy.ndarray)
    assert on_device.shape == (1, 4, 8, 8) and on_cpu.any()
    numpy.testing.assert_allclose(on_device, on_cpu, rtol=1e-4, atol=1e-5)


def test_sampled_methods_draw_on_the_device_and_keep_its_state(device):
    model = MLP(dropout=0.5).to_device(device)
    calc = GradientCalculator(model, target=0)
    xp = device.xp
    xp.random.seed(3)
    expected = xp.random.rand(5)
    xp.random.seed(3)
    with preserved_random_state():
        bayes = calc.compute(data(n=3), M=8, train=True)
        smooth = calc.compute(data(n=3), M=8,
                              noise_sampler=GaussianNoiseSampler())
    numpy.testing.assert_array_equal(chainer.backend.CpuDevice().send(
        xp.random.rand(5)), chainer.backend.CpuDevice().send(expected))
    for samples in (bayes, smooth):  # each sample its own mask or noise
        assert numpy.isfinite(samples).all()
        assert len({samples[m].tobytes() for m in range(8)}) == 8


def train_iris(out, device, report):
    """Two epochs of the iris MLP with dropout on ``device``; returns the
    trained parameters on the CPU."""
    numpy.random.seed(0)
    device.xp.random.seed(0)
    predictor = iris_training.MLP()
    model = L.Classifier(predictor)
    model.to_device(device)
    optimizer = chainer.optimizers.Adam()
    optimizer.setup(model)
    iterator = chainer.iterators.SerialIterator(iris_training.iris(), 32)
    updater = training.StandardUpdater(iterator, optimizer, device=device)
    trainer = training.Trainer(updater, (2, 'epoch'), out=str(out))
    if report:
        trainer.extend(SaliencyReport(
            iris_training.iris(), iris_training.entries(predictor),
            probe_size=6, seed=1))
    trainer.run()
    return {name: chainer.backend.CpuDevice().send(p.array)
            for name, p in predictor.namedparams()}


def test_the_report_on_the_device_leaves_training_as_it_was(device,
                                                            tmp_path):
    plain = train_iris(tmp_path / 'plain', device, report=False)
    reported = train_iris(tmp_path / 'reported', device, report=True)
    for name, value in plain.items():
        numpy.testing.assert_array_equal(reported[name], value, err_msg=name)
    records = ReportLayout(tmp_path / 'reported' / 'saliency').records()
    assert len(records) == 9 and all(r['error'] is None for r in records)
    events = EventAccumulator(str(tmp_path / 'reported' / 'tensorboard'),
                              size_guidance={'images': 0})
    events.Reload()
    assert [e.step for e in events.Images(
        events.Tags()['images'][0])] == [0, 1, 2]


def test_the_replay_on_the_device_gives_the_maps_of_the_cpu(device,
                                                            tmp_path):
    numpy.random.seed(0)
    predictor = iris_training.MLP()
    model = L.Classifier(predictor)
    optimizer = chainer.optimizers.Adam()
    optimizer.setup(model)
    iterator = chainer.iterators.SerialIterator(iris_training.iris(), 32)
    trainer = training.Trainer(training.StandardUpdater(iterator, optimizer),
                               (2, 'epoch'), out=str(tmp_path / 'train'))
    trainer.extend(chainer.training.extensions.snapshot(
        filename='snapshot_epoch_{.updater.epoch}'), trigger=(1, 'epoch'))
    trainer.run()
    outs = {}
    for name, spec in (('cpu', '-1'), ('device', str(device))):
        outs[name] = tmp_path / name
        assert replay_main([str(tmp_path / 'train'), '--config',
                            REPLAY_CONFIG, '--out', str(outs[name]),
                            '--device', spec, '--no-progress',
                            '--no-evolution']) == 0
    cpu, on_device = (ReportLayout(outs[n] / 'saliency')
                      for n in ('cpu', 'device'))
    for entry in ('vanilla', 'ig'):  # deterministic entries
        assert len(on_device.records(entry)) == 2
        for ours, theirs in zip(on_device.records(entry),
                                cpu.records(entry)):
            numpy.testing.assert_allclose(
                on_device.read_arrays(ours)['saliency'],
                cpu.read_arrays(theirs)['saliency'], rtol=1e-4, atol=1e-6)


def test_deletion_and_insertion_give_the_numbers_of_the_cpu(device):
    model = MLP()
    on_device = copy.deepcopy(model).to_device(device)
    x = data(n=6)
    results = []
    for explained in (model, on_device):
        calc = IntegratedGradientsCalculator(
            explained, target=1, steps=8,
            baseline=numpy.full(4, 0.5, numpy.float32))
        saliency = calc.aggregate(calc.compute(x))
        results.append(deletion_insertion(
            calc, x, saliency, numpy.ones(saliency.shape, bool), steps=5))
    cpu, gpu = results
    numpy.testing.assert_allclose(gpu.explained, cpu.explained, rtol=1e-5)
    for name, curve in cpu.curves.items():
        numpy.testing.assert_allclose(gpu.curves[name], curve, rtol=1e-4,
                                      atol=1e-5, err_msg=name)


def test_the_randomised_model_on_the_device_is_put_back(device):
    model = MLP().to_device(device)
    before = {name: p.array for name, p in model.namedparams()}
    copies = {name: chainer.backend.CpuDevice().send(a).copy()
              for name, a in before.items()}
    x = device.send(data(n=3))
    with randomized_parameters(model):
        for name, param in model.namedparams():
            assert isinstance(param.array, type(before[name]))
        randomised = model(x).array
    for name, param in model.namedparams():
        assert param.array is before[name]
        numpy.testing.assert_array_equal(
            chainer.backend.CpuDevice().send(param.array), copies[name])
    assert not numpy.allclose(chainer.backend.CpuDevice().send(randomised),
                              chainer.backend.CpuDevice().send(
                                  model(x).array))
