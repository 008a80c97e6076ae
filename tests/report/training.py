"""A small, real training run on iris for the report tests."""
import chainer
import chainer.functions as F
import chainer.links as L
import numpy
from chainer import training
from chainer.training import extensions
from sklearn.datasets import load_iris

from saliency_ext import (GaussianNoiseSampler, GradientCalculator,
                          IntegratedGradientsCalculator, ReportEntry,
                          SaliencyReport, TableVisualizer)


class MLP(chainer.Chain):
    def __init__(self):
        super(MLP, self).__init__()
        with self.init_scope():
            self.l1 = L.Linear(4, 16)
            self.l2 = L.Linear(16, 3)

    def forward(self, x):
        return self.l2(F.dropout(F.relu(self.l1(x)), 0.3))


def iris():
    data = load_iris()
    return chainer.datasets.TupleDataset(data.data.astype(numpy.float32),
                                         data.target.astype(numpy.int32))


def entries(predictor, **overrides):
    grad = GradientCalculator(predictor, target='label', label_index=-1)
    ig = IntegratedGradientsCalculator(predictor, target='label',
                                       label_index=-1, steps=10)
    made = {
        'vanilla': ReportEntry(grad, TableVisualizer(), include_mean=True),
        'smooth bayes': ReportEntry(grad, TableVisualizer(), compute=dict(
            M=5, train=True, noise_sampler=GaussianNoiseSampler())),
        'ig': ReportEntry(ig, TableVisualizer(), scale='first'),
    }
    made.update(overrides)
    return made


def make_trainer(out, epochs=3, report=True, seed=0, snapshot=None,
                 **report_kwargs):
    """Returns (trainer, predictor); the same seed gives the same run.
    ``entries`` may be a callable that makes them from the predictor."""
    numpy.random.seed(seed)
    predictor = MLP()
    model = L.Classifier(predictor)
    optimizer = chainer.optimizers.Adam()
    optimizer.setup(model)
    dataset = iris()
    iterator = chainer.iterators.SerialIterator(dataset, 32)
    updater = training.StandardUpdater(iterator, optimizer)
    trainer = training.Trainer(updater, (epochs, 'epoch'), out=str(out))
    trainer.extend(extensions.LogReport(), name='LogReport')
    if snapshot:
        trainer.extend(extensions.snapshot(
            filename='snapshot_epoch_{.updater.epoch}'),
            trigger=(snapshot, 'epoch'))
    if report:
        kwargs = dict(probe_size=6, seed=1)
        kwargs.update(report_kwargs)
        made = kwargs.get('entries', entries)
        if callable(made):
            kwargs['entries'] = made(predictor)
        trainer.extend(SaliencyReport(dataset, **kwargs))
    return trainer, predictor
