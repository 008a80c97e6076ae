"""A small, real training run on iris for the report tests, and the ways a
run is resumed."""
import os
import re

import chainer
import chainer.functions as F
import chainer.links as L
import numpy
import pytest
from chainer import training
from chainer.training import extensions
from sklearn.datasets import load_iris

from saliency_ext import (GaussianNoiseSampler, GradientCalculator,
                          IntegratedGradientsCalculator, ReportEntry,
                          SaliencyReport, TableVisualizer)
from saliency_ext.metrics import mean_rank_correlation


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
                 log=True, **report_kwargs):
    """Returns (trainer, predictor); the same seed gives the same run.
    ``entries`` may be a callable that makes them from the predictor, or a
    tuple naming some of :func:`entries`."""
    numpy.random.seed(seed)
    predictor = MLP()
    model = L.Classifier(predictor)
    optimizer = chainer.optimizers.Adam()
    optimizer.setup(model)
    dataset = iris()
    iterator = chainer.iterators.SerialIterator(dataset, 32)
    updater = training.StandardUpdater(iterator, optimizer)
    trainer = training.Trainer(updater, (epochs, 'epoch'), out=str(out))
    if log:
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
        elif isinstance(made, tuple):  # names of some of them
            kwargs['entries'] = {name: entry for name, entry in entries(
                predictor).items() if name in made}
        trainer.extend(SaliencyReport(dataset, **kwargs))
    return trainer, predictor


class LocalComm(object):
    """A one-process stand-in for a ChainerMN communicator: what ChainerMN's
    snapshot and checkpointer extensions use, without MPI."""
    rank, size = 0, 1

    def gather_obj(self, obj, root=0):
        return [obj]

    def bcast_obj(self, obj, max_buf_len=None, root=0):
        return obj


#: The ways a run is resumed: ``serializers.load_npz`` before ``run``,
#: ``snapshot(autoload=True)``, ChainerMN's multi-node snapshot (autoload at
#: its ``initialize``, after the report's) and ChainerMN's checkpointer
#: (``maybe_load`` before ``run``; it deletes its files when training ends).
RESUME_STYLES = ('load_npz', 'autoload', 'chainermn_snapshot',
                 'chainermn_checkpointer')
SNAPSHOT = 'snapshot_iter_{.updater.iteration}'


def snapshot_iterations(out, pattern=r'snapshot_iter_(\d+)'):
    """``(iteration, name)`` of the snapshots in ``out``, oldest first."""
    return sorted((int(m.group(1)), m.group(0)) for m in map(
        re.compile(pattern).fullmatch, os.listdir(out)) if m)


def latest_snapshot(out, pattern=r'snapshot_iter_(\d+)'):
    """The snapshot of the highest iteration in ``out``, or None."""
    found = snapshot_iterations(out, pattern)
    return os.path.join(out, found[-1][1]) if found else None


def add_resume(trainer, style, trigger):
    """Takes snapshots at ``trigger`` and resumes from the latest one in the
    way ``style`` names (one of :data:`RESUME_STYLES`)."""
    import chainermn
    if style == 'load_npz':
        trainer.extend(extensions.snapshot(filename=SNAPSHOT), trigger=trigger)
        latest = latest_snapshot(trainer.out)
        if latest:
            chainer.serializers.load_npz(latest, trainer)
    elif style == 'autoload':
        trainer.extend(extensions.snapshot(filename=SNAPSHOT, autoload=True),
                       trigger=trigger)
    elif style == 'chainermn_snapshot':
        trainer.extend(chainermn.extensions.multi_node_snapshot(
            LocalComm(), extensions.snapshot(filename=SNAPSHOT, autoload=True),
            [0]), trigger=trigger)
    elif style == 'chainermn_checkpointer':
        checkpointer = chainermn.create_multi_node_checkpointer(
            'checkpoint', LocalComm())
        checkpointer.maybe_load(trainer, trainer.updater.get_optimizer('main'))
        trainer.extend(checkpointer, trigger=trigger)
    else:
        raise ValueError('unknown resume style {!r}'.format(style))


def assert_series_continues(layout, new, entry='vanilla'):
    """The first report of the resumed session (records ``new``, from
    epoch 3) is compared with epoch 2 of session 0, the last report before
    the snapshot: its ``rank_corr`` is the one of those two maps."""
    at2 = [r for r in layout.records(entry, session=0)
           if r['epoch'] == 2][0]
    at3 = [r for r in new if r['entry'] == entry and r['epoch'] == 3][0]
    assert at3['rank_corr'] == pytest.approx(mean_rank_correlation(
        layout.read_arrays(at2)['saliency'],
        layout.read_arrays(at3)['saliency']))
