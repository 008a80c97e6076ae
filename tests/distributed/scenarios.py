"""What the multi-process tests run under ``mpiexec -n 2``, and the
one-process runs they compare with.

``python -m tests.distributed.scenarios NAME OUT`` runs scenario ``NAME``
in every process with a ChainerMN communicator; each process writes what it
saw to ``OUT/rank<r>.json`` (and arrays to ``OUT/rank<r>.npz``), which the
tests in ``test_distributed.py`` read back. Everything a scenario builds is
seeded, so a process with ``comm=None`` builds the same models and reports.
"""
import json
import os
import sys

import chainer
import chainer.links as L
import numpy
from chainer import training
from chainer.training import extensions

from saliency_ext import (GaussianNoiseSampler, GradientCalculator,
                          IntegratedGradientsCalculator, OcclusionCalculator,
                          ReportEntry, ReportLayout, SaliencyReport,
                          TableVisualizer, VariableMonitorLinkHook)
from saliency_ext.datasets import concat_mols, load_esol
from saliency_ext.models import GraphRegressor
from tests.report.training import MLP, entries, iris

PROBE = 7  # in groups of 2: the two processes' shares differ in length
SEED = 3
EPOCH, ITERATION = 2, 10


# -- the maps of five methods, on iris and on molecules ------------------------

def _five(predictor, **options):
    grad = GradientCalculator(predictor, **options)
    return {
        'vanilla': dict(calculator=grad),
        'smoothgrad': dict(calculator=grad, compute=dict(
            M=4, noise_sampler=GaussianNoiseSampler())),
        'bayesgrad': dict(calculator=grad, compute=dict(M=4, train=True)),
        'integrated_gradients': dict(calculator=IntegratedGradientsCalculator(
            predictor, steps=5, **options)),
        'occlusion': dict(calculator=OcclusionCalculator(
            predictor, slide_axis=1, **options)),
    }


def map_reports(comm):
    """Reports of the five methods on iris (a dropout MLP) and on ESOL
    molecules of different sizes (a graph network explained at its
    embedding): name -> SaliencyReport."""
    numpy.random.seed(0)
    mlp = MLP()
    tables = {name: ReportEntry(visualizer=TableVisualizer(), **made)
              for name, made in _five(mlp, target='label',
                                      label_index=-1).items()}
    graph = GraphRegressor(hidden_dim=8, n_layers=2, dropout_ratio=0.3)
    molecules = {name: ReportEntry(visualizer=TableVisualizer(), ch_axis=3,
                                   **made)
                 for name, made in _five(
                     graph, label_index=-1,
                     target_extractor=VariableMonitorLinkHook(
                         graph.graph.embed),
                     eval_fun=lambda atoms, adjs: graph(atoms, adjs)[:, 0]
                 ).items()}
    esol = load_esol().dataset
    return {
        'iris': SaliencyReport(iris(), tables, probe_size=PROBE, seed=SEED,
                               comm=comm, background=False, group_size=2),
        'esol': SaliencyReport([esol[i] for i in range(40)], molecules,
                               probe_size=PROBE, seed=SEED,
                               converter=concat_mols, comm=comm,
                               background=False, group_size=2),
    }


def make_maps(out, comm=None):
    """Runs each report once at ``EPOCH``; returns ``{'<report>/<entry>':
    maps}`` as rank 0 wrote them (empty elsewhere)."""
    maps = {}
    for name, report in map_reports(comm).items():
        report.setup(os.path.join(out, name))
        report.run(EPOCH, ITERATION)
        report.finalize()
        if report.is_writer:
            for record in report.layout.records():
                assert record['error'] is None, record
                maps['{}/{}'.format(name, record['entry'])] = \
                    report.layout.read_arrays(record)['saliency']
    return maps


def scenario_maps(out, comm):
    own = os.path.join(out, 'rank{}'.format(comm.rank), 'files')
    numpy.savez(os.path.join(out, 'rank{}.npz'.format(comm.rank)),
                **make_maps(own, comm))
    return dict(files=files_under(own),
                refused=refuse_multi_node_batch_normalization(comm))


def refuse_multi_node_batch_normalization(comm):
    import chainermn

    class Normalized(chainer.Chain):
        def __init__(self):
            super(Normalized, self).__init__()
            with self.init_scope():
                self.linear = L.Linear(4, 3)
                self.norm = chainermn.links.MultiNodeBatchNormalization(3,
                                                                        comm)

        def forward(self, x):
            return self.norm(self.linear(x))

    calc = GradientCalculator(Normalized(), target=0)
    try:
        calc.compute(numpy.ones((2, 4), numpy.float32), M=2, train=True)
    except ValueError as error:
        return str(error)
    return None


# -- training with and without the report --------------------------------------

def train_iris(out, comm, *, report, epochs=3, stop=None, extend=()):
    """A data-parallel run on iris of ``epochs`` (stopped after ``stop``),
    with the ``(extension, trigger)`` pairs of ``extend``; returns
    ``(trainer, predictor)``."""
    import chainermn
    numpy.random.seed(0)
    predictor = MLP()
    model = L.Classifier(predictor)
    optimizer = chainermn.create_multi_node_optimizer(
        chainer.optimizers.Adam(), comm)
    optimizer.setup(model)
    shard = chainermn.scatter_dataset(iris() if comm.rank == 0 else None,
                                      comm, shuffle=True, seed=0)
    iterator = chainer.iterators.SerialIterator(shard, 16)
    trainer = training.Trainer(training.StandardUpdater(iterator, optimizer),
                               (stop or epochs, 'epoch'), out=out)
    for extension, trigger in extend:
        trainer.extend(extension, trigger=trigger)
    if report:
        trainer.extend(SaliencyReport(iris(), entries(predictor),
                                      probe_size=6, seed=1, comm=comm))
    return trainer, predictor


def scenario_neutral(out, comm):
    arrays = {}
    for report in (False, True):
        own = os.path.join(out, 'rank{}'.format(comm.rank),
                           'reported' if report else 'plain')
        trainer, predictor = train_iris(own, comm, report=report)
        trainer.run()
        for name, param in predictor.namedparams():
            arrays['{}{}'.format(report, name)] = param.array
    numpy.savez(os.path.join(out, 'rank{}.npz'.format(comm.rank)), **arrays)
    return dict(files=files_under(os.path.join(
        out, 'rank{}'.format(comm.rank), 'reported')))


# -- failures stop every process ------------------------------------------------

class Picky(TableVisualizer):
    """Refuses to draw in the process of rank ``refuse`` (as a process
    whose node lacks a font or a file would)."""

    def __init__(self, comm, refuse):
        super(Picky, self).__init__()
        self.comm, self.refuse = comm, refuse

    def visualize(self, saliency, **kwargs):
        if self.comm.rank == self.refuse:
            raise ValueError('no drawing here')
        return super(Picky, self).visualize(saliency, **kwargs)


def _outcome(call):
    try:
        call()
    except Exception as error:
        return dict(type=type(error).__name__, message=str(error))
    return None


def scenario_failures(out, comm):
    import chainermn
    own = os.path.join(out, 'rank{}'.format(comm.rank))
    data = iris()

    def failing_in_rank_1():
        trainer, predictor = train_iris(own + '/picky', comm, report=False)
        grad = GradientCalculator(predictor, target='label', label_index=-1)
        trainer.extend(SaliencyReport(data, {'picky': ReportEntry(
            grad, Picky(comm, refuse=1))}, probe_size=6, comm=comm))
        trainer.run()

    def shard_as_probe():
        shard = chainermn.scatter_dataset(data if comm.rank == 0 else None,
                                          comm)
        predictor = MLP()
        SaliencyReport(shard, entries(predictor), probe_size=4,
                       comm=comm).setup(own + '/shard')

    def strict_nan_in_rank_1():
        trainer, predictor = train_iris(own + '/nan', comm, report=False)
        grad = GradientCalculator(
            predictor, target='label', label_index=-1,
            eval_fun=lambda x: predictor(x) * (x[:, :1] ** 0.5 - 1))
        probe = (numpy.array([[4, 1, 1, 1]] * 2 + [[-1, 1, 1, 1]] * 2,
                             numpy.float32), numpy.zeros(4, numpy.int32))
        trainer.extend(SaliencyReport(probe, {'nan': ReportEntry(
            grad, TableVisualizer())}, strict=True, group_size=2, comm=comm))
        trainer.run()

    return dict(picky=_outcome(failing_in_rank_1),
                shard=_outcome(shard_as_probe),
                nan=_outcome(strict_nan_in_rank_1))


# -- resume ---------------------------------------------------------------------

#: The resume styles tried: ChainerMN's checkpointer loads before training
#: starts; its multi-node snapshot loads in its ``initialize``, which runs
#: after the report's (the report decides at its first call).
RESUME_STYLES = ('checkpointer', 'multi_node_snapshot')


def scenario_resume(out, comm):
    """Trains 2 epochs leaving snapshots, then resumes to 4 epochs through
    each of ``RESUME_STYLES``."""
    import chainermn
    seen = {}
    for style in RESUME_STYLES:
        folder = os.path.join(out, style)

        def saver():
            if style == 'checkpointer':
                return chainermn.create_multi_node_checkpointer(
                    name='iris', comm=comm)
            return chainermn.extensions.multi_node_snapshot(
                comm, extensions.snapshot(
                    filename='snapshot_epoch_{.updater.epoch}',
                    autoload=True), [])

        first_saver = saver()
        first_saver.finalize = lambda: None  # stopped: its files are kept
        first, _ = train_iris(folder, comm, report=True, epochs=4, stop=2,
                              extend=[(first_saver, (2, 'epoch'))])
        first.run()
        second_saver = saver()
        second, _ = train_iris(folder, comm, report=True, epochs=4,
                               extend=[(second_saver, (2, 'epoch'))])
        if style == 'checkpointer':
            second_saver.maybe_load(second, second.updater.get_optimizer(
                'main'))
        second.run()
        seen[style] = second.updater.epoch
    return seen


# -- the replay -----------------------------------------------------------------

def replay_config():
    """``--config`` of the replay tests: the iris MLP, explained with and
    without noise and dropout."""
    predictor = MLP()
    grad = GradientCalculator(predictor, target='label', label_index=-1)
    return predictor, SaliencyReport(iris(), {
        'vanilla': ReportEntry(grad, TableVisualizer(), include_mean=True),
        'smoothgrad': ReportEntry(grad, TableVisualizer(), compute=dict(
            M=3, noise_sampler=GaussianNoiseSampler())),
        'bayesgrad': ReportEntry(grad, TableVisualizer(), scale='first',
                                 compute=dict(M=3, train=True)),
    }, probe_size=4, seed=1)


# -- helpers --------------------------------------------------------------------

def files_under(folder):
    return sorted(os.path.relpath(os.path.join(root, f), folder)
                  for root, _, files in os.walk(folder) for f in files)


def read_records(folder):
    return ReportLayout(os.path.join(folder, 'saliency')).records()


def main(name, out):
    import chainermn
    chainermn.global_except_hook.add_hook()  # an error stops every process
    comm = chainermn.create_communicator('naive')
    seen = globals()['scenario_' + name](out, comm)
    with open(os.path.join(out, 'rank{}.json'.format(comm.rank)), 'w') as f:
        json.dump(seen, f)


if __name__ == '__main__':
    main(*sys.argv[1:])
