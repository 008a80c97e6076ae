"""Measures what SaliencyReport costs a real training run.

A gated graph network regresses ESOL solubility. The same training runs
without the report, with it every epoch and every 5 epochs; the report
explains 16 probe molecules with Integrated Gradients (25 steps) and
SmoothGrad (M=30) at the embedding, draws molecule pictures and writes
TensorBoard events. Printed per trigger:

- blocking: seconds the report holds the training thread per report;
- floor: one forward+backward pass over the probe x samples
  (16 x (25 + 30) = 880 stacked molecules), timed in the same run just
  before each report (and left out of the training time);
- overhead: extra wall time of the whole training, writing included
  (the background writer is drained before the clock stops);
- compute: the sum of ``saliency/<entry>/seconds`` over the run (the
  saliency computation, what the report must cost); ``overhead / compute``
  is the target (at most 1.5 with a report every epoch);
- the writer thread's time per report: draw (the pictures, captions and
  legends: the wait for the drawing process, which also encodes them),
  encode (PNG, where the writer thread encodes: with ``background='thread'``)
  and write (files, TensorBoard events and the index, encoding excluded).
  ``--background thread`` draws on the writer thread, as before the drawing
  process, for comparison.

A plain run of this 2-core machine moves by up to 40 % from round to round,
which swamps what the report costs. So besides the fastest round and each
round against its own plain run, the benchmark cuts every training into
pieces (start to the end of epoch 1, each later epoch, the wait at the end),
takes each piece's least time over the rounds, and compares the sums: an
episode that slows one round is left out wherever it falls. The computing
time is summed the same way, report by report.

Then the metrics: the forward rows that deletion and insertion (K = 10
steps, each with its random control) evaluate per probe item, counted at
the model, and what all four metrics on the IG entry (deletion, insertion,
randomization, completeness) add to the report's blocking time: a run with
them every epoch against the run without them, medians per report. The
randomised model's maps are made once per run, at the first report: their
cost is timed on its own.

``--device 0`` trains and explains on GPU 0 (timings synchronise the GPU).

Usage: python scripts/benchmark_report.py [--epochs 10] [--rounds 2] [--out DIR]
       [--background thread] [--device -1]
"""
import argparse
import collections
import statistics
import tempfile
import time

import chainer
import chainer.functions as F
import chainer.links as L
import numpy
from chainer import training

from saliency_ext import (GaussianNoiseSampler, GradientCalculator,
                          IntegratedGradientsCalculator, ReportEntry,
                          SaliencyReport, SmilesVisualizer,
                          VariableMonitorLinkHook)
from saliency_ext.datasets import concat_mols, load_esol
from saliency_ext.metrics import randomized_parameters
from saliency_ext.models import GraphRegressor
from saliency_ext.report import drawing
from saliency_ext.report import pictures as pictures_module
from saliency_ext.sinks import storage
from saliency_ext.sinks import FilesSink, ReportLayout, TensorBoardSink

# a sibling script (scripts/ is on the path of a script run from it)
from benchmark_calculators import device_of, synchronize

PROBE = 16
STEPS, M = 25, 30
METRICS = ('deletion', 'insertion', 'randomization', 'completeness')
K = 10  # the default metric_steps


SECONDS = collections.Counter()  # the writer thread's time by stage


def timed(stage, function):
    """``function``, adding its time to ``SECONDS[stage]``."""
    def run(*args, **kwargs):
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            SECONDS[stage] += time.perf_counter() - start
    return run


# the stages of the writer thread, timed where the report calls them (the
# drawing process's own time counts as the writer's wait for it)
pictures_module.ReportPictures.draw = timed(
    'draw', pictures_module.ReportPictures.draw)
drawing.ProcessDrawing.draw = timed('draw', drawing.ProcessDrawing.draw)
storage.encode_png = timed('encode', storage.encode_png)


# files, TensorBoard and the index: writing (the PNGs they encode counted
# under encode)
for cls, names in ((FilesSink, ('write',)),
                   (TensorBoardSink, ('write', 'flush')),
                   (ReportLayout, ('append',))):
    for name in names:
        setattr(cls, name, timed('write', getattr(cls, name)))


class TimedReport(SaliencyReport):
    """Records how long each call holds the training thread, the computing
    time of its entries and the writer's backlog."""

    def __init__(self, *args, **kwargs):
        super(TimedReport, self).__init__(*args, **kwargs)
        self.blocking, self.computes = [], []

    def __call__(self, trainer):
        start = time.perf_counter()
        observed = {}
        with chainer.reporter.report_scope(observed):
            super(TimedReport, self).__call__(trainer)
        self.blocking.append(time.perf_counter() - start)
        self.computes.append(sum(v for k, v in observed.items()
                                 if k.endswith('/seconds') and
                                 k != 'saliency/seconds'))

    @property
    def compute(self):
        return sum(self.computes)


def make_report(predictor, esol, trigger, out, comm=None, metrics=(),
                eval_fun=None, background=True):
    hook = VariableMonitorLinkHook(predictor.graph.embed)
    common = dict(eval_fun=eval_fun or (
        lambda atoms, adjs: predictor(atoms, adjs)[:, 0]),
        target_extractor=hook, label_index=-1)
    visualize = dict(item_kwargs={'smiles': esol.smiles}, method='raw',
                     ch_axis=3)
    return TimedReport(esol.dataset, {
        'ig': ReportEntry(IntegratedGradientsCalculator(
            predictor, steps=STEPS, **common), SmilesVisualizer(),
            metrics=metrics, **visualize),
        'smoothgrad': ReportEntry(GradientCalculator(predictor, **common),
                                  SmilesVisualizer(), compute=dict(
                                      M=M, noise_sampler=GaussianNoiseSampler()),
                                  **visualize),
    }, probe_size=PROBE, converter=concat_mols, trigger=trigger, out_dir=out,
        initial=False, comm=comm, background=background)


class EpochClock(object):
    """Notes when each epoch's extensions are done (it runs after them)."""

    priority = -1

    def __init__(self):
        self.times = []

    def __call__(self, trainer):
        self.times.append(time.perf_counter())


def train(esol, epochs, trigger, out, metrics=(), background=True,
          device='@numpy'):
    """One training; returns its wall and CPU seconds, the report, the
    floor probe and the seconds of each of its pieces: from the start to
    the end of the first epoch (the report's start-up included), each later
    epoch, and the wait at the end (the floor probe's time left out)."""
    numpy.random.seed(0)
    predictor = GraphRegressor()
    predictor.to_device(device)
    model = L.Classifier(predictor, lossfun=F.mean_squared_error)
    model.compute_accuracy = False
    optimizer = chainer.optimizers.Adam()
    optimizer.setup(model)
    iterator = chainer.iterators.SerialIterator(esol.dataset, 32)
    updater = training.StandardUpdater(iterator, optimizer,
                                       converter=concat_mols, device=device)
    trainer = training.Trainer(updater, (epochs, 'epoch'), out=out)
    report = floor = None
    if trigger is not None:
        report = make_report(predictor, esol, trigger, 'saliency',
                             metrics=metrics, background=background)
        floor = FloorProbe(predictor, report)
        trainer.extend(report)
        trainer.extend(floor, trigger=trigger, name='floor')
    clock = EpochClock()
    trainer.extend(clock, trigger=(1, 'epoch'), name='clock')
    start, cpu = time.perf_counter(), time.process_time()
    trainer.run()  # finalize drains the background writer
    synchronize()
    end = time.perf_counter()
    cpu = time.process_time() - cpu  # every thread of the process
    pieces = numpy.diff([start] + clock.times + [end])
    if floor is not None:  # the probe's own time is not the report's
        numpy.subtract.at(pieces, numpy.array(floor.epochs) - 1, floor.seconds)
        cpu -= sum(floor.seconds)
    return pieces.sum(), cpu, report, floor, pieces


def least(runs):
    """The sum of each piece's least seconds over the rounds (see
    :func:`train`) and the sum of each report's least computing time: what
    a training costs where nothing else slows it down (another tenant of the
    machine, OpenBLAS's threads waiting on each other)."""
    pieces = numpy.min([r[4] for r in runs], axis=0).sum()
    computes = [r[2].computes for r in runs if r[2] is not None]
    return pieces, numpy.min(computes, axis=0).sum() if computes else 0.


def metric_rows(esol):
    """Forward rows per probe item that deletion and insertion evaluate,
    counted at the model, for each choice of curves."""
    numpy.random.seed(0)
    predictor = GraphRegressor()
    counted = []

    def eval_fun(atoms, adjs):
        counted.append(len(atoms))
        return predictor(atoms, adjs)[:, 0]

    rows = {}
    for metrics in (('deletion',), ('insertion',), ('deletion', 'insertion'),
                    ('deletion', 'insertion', 'completeness')):
        report = make_report(predictor, esol, (1, 'epoch'), 'unused',
                             metrics=metrics, eval_fun=eval_fun)
        series = report.series['ig']
        saliency = series.entry.saliency(report.probe_examples,
                                         report.converter)
        del counted[:]
        series.measure(saliency, report.probe_examples, report.converter)
        rows[' + '.join(metrics)] = (sum(counted) / PROBE, len(counted))
    return rows


def random_model_seconds(report):
    """What the randomised model's maps cost (once per run)."""
    entry = report.entries['ig']
    start = time.perf_counter()
    with randomized_parameters(entry.calculator.model):
        entry.saliency(report.probe_examples, report.converter)
    return time.perf_counter() - start


class FloorProbe(object):
    """An extension on the report's trigger that times, just before each
    report, one forward+backward pass over every stacked probe row."""

    priority = SaliencyReport.priority + 1

    def __init__(self, predictor, report):
        atoms, adjs, _ = concat_mols(report.probe_examples,
                                     predictor.device)
        rows = predictor.xp.tile(predictor.xp.arange(len(atoms)), STEPS + M)
        self.atoms, self.adjs = atoms[rows], adjs[rows]
        self.hook = VariableMonitorLinkHook(predictor.graph.embed)
        self.hook.process = lambda v: v.unchain()
        self.predictor = predictor
        self.seconds, self.epochs = [], []

    def __call__(self, trainer):
        start = time.perf_counter()
        with chainer.using_config('train', False), self.hook:
            out = self.predictor(self.atoms, self.adjs)
        chainer.grad([F.sum(out)], [self.hook.variable])
        synchronize()
        self.seconds.append(time.perf_counter() - start)
        self.epochs.append(trainer.updater.epoch)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--epochs', type=int, default=10)
    parser.add_argument('--rounds', type=int, default=2,
                        help='runs of each training, interleaved; the '
                        'fastest counts (default: %(default)s)')
    parser.add_argument('--out', default=None)
    parser.add_argument('--device', default='-1',
                        help='-1 for CPU, a GPU id, or a Chainer device name')
    parser.add_argument('--background', default=True, type=lambda v: v,
                        choices=[True, 'thread'],
                        help="'thread' draws on the writer thread")
    args = parser.parse_args()
    device = device_of(args.device)
    out = args.out or tempfile.mkdtemp(prefix='saliency-bench-')
    esol = load_esol()
    rows = metric_rows(esol)
    runs = collections.defaultdict(list)
    for k in range(args.rounds):
        for interval, metrics in ((None, ()), (1, ()), (5, ()),
                                  (1, METRICS)):
            SECONDS.clear()
            trigger = None if interval is None else (interval, 'epoch')
            result = train(esol, args.epochs, trigger, '{}/{}{}-{}'.format(
                out, interval, '-metrics' * bool(metrics), k), metrics,
                background=args.background, device=device)
            runs[interval, metrics].append(result + (dict(SECONDS),))
    base = min(r[0] for r in runs[None, ()])
    base_cpu = min(r[1] for r in runs[None, ()])
    print('device:', device)
    print('ESOL GGNN, {} epochs of {} molecules (batch 32): {:.1f} s without '
          'the report ({:.2f} s/epoch), {:.1f} s of CPU; fastest of {} '
          'rounds'.format(args.epochs, len(esol.dataset), base,
                          base / args.epochs, base_cpu, args.rounds))
    print('{:<15} {:>7} {:>8} {:>7} {:>7} {:>8} {:>8} {:>9} {:>8} {:>6} '
          '{:>6} {:>6}'.format('trigger', 'reports', 'blocking', 'floor',
                               'x floor', 'compute', 'overhead', 'x compute',
                               'CPU', 'draw', 'encode', 'write'))
    for interval in (1, 5):
        total, cpu, report, floor, _, seconds = min(runs[interval, ()],
                                                    key=lambda r: r[0])
        n = len(report.blocking)
        if not n:  # fewer epochs than the interval
            continue
        blocking = statistics.median(report.blocking)
        floor = statistics.median(floor.seconds)
        extra = total - base
        print('{:<15} {:>7} {:>7.3f}s {:>6.3f}s {:>7.2f} {:>7.2f}s '
              '{:>7.2f}s {:>9.2f} {:>+7.1f}s {:>4.0f}ms {:>4.0f}ms '
              '{:>4.0f}ms'.format(
                  'every {} epoch{}'.format(interval, 's' * (interval > 1)),
                  n, blocking, floor, blocking / floor, report.compute,
                  extra, extra / report.compute, cpu - base_cpu,
                  1000 * seconds.get('draw', 0) / n,
                  1000 * seconds.get('encode', 0) / n,
                  1000 * (seconds.get('write', 0) -
                          seconds.get('encode', 0)) / n))
    plain = [r[0] for r in runs[None, ()]]
    print('without the report, {} rounds: {:.1f} to {:.1f} s: one run moves by '
          'up to {:.1f} s (the noise)'.format(len(plain), min(plain),
                                              max(plain), max(plain) - min(plain)))
    for interval in (1, 5):
        paired = [(r[0] - p[0]) / r[2].compute for r, p in
                  zip(runs[interval, ()], runs[None, ()]) if r[2].blocking]
        if paired:
            print('every {} epoch{}: x compute, each round against its own run '
                  'without the report: median {:.2f} (from {:.2f} to {:.2f})'
                  .format(interval, 's' * (interval > 1),
                          statistics.median(paired), min(paired), max(paired)))
    plain = least(runs[None, ()])[0]
    for interval in (1, 5):
        total, compute = least(runs[interval, ()])
        if compute:
            print('every {} epoch{}, the least of each epoch over the rounds: '
                  '{:.2f} s more than without the report ({:.2f} s) for {:.2f} '
                  's of computing: {:.2f} x compute'.format(
                      interval, 's' * (interval > 1), total - plain, plain,
                      compute, (total - plain) / compute))
    print('blocking: median seconds a report holds training; floor: one '
          'forward+backward pass\nover the stacked probe; compute: the sum '
          'of saliency/<entry>/seconds; overhead:\nextra wall time of the '
          'whole training (x compute: the target is at most 1.5);\nCPU: '
          'extra CPU time of all threads; draw, encode, write: the writer '
          'thread per\nreport')
    print('\nMetrics on the ig entry, K = {} steps, {} probe molecules:'
          .format(K, PROBE))
    for metrics, (per_item, passes) in rows.items():
        curves = metrics.count('deletion') + metrics.count('insertion')
        print('  {:<36} {:>4.1f} forward rows per item in {} pass{} (limit '
              '2 x (K + 1) x {} = {})'.format(
                  metrics, per_item, passes, 'es' * (passes > 1), curves,
                  2 * (K + 1) * curves))
    # medians after the first report, which makes the randomised model's
    # maps; the fastest round of each
    blocking = {metrics: min(statistics.median(r[2].blocking[1:] or
                                               r[2].blocking)
                             for r in runs[1, metrics])
                for metrics in ((), METRICS)}
    added = blocking[METRICS] / blocking[()] - 1
    print('  {}, every epoch: blocking {:.3f} s per report against {:.3f} s '
          'without: {:+.0f} % (target: at most +35 %)'.format(
              ', '.join(METRICS), blocking[METRICS], blocking[()],
              100 * added))
    report = runs[1, METRICS][-1][2]
    print('  the randomised model\'s maps, once per run: {:.3f} s'.format(
        random_model_seconds(report)))
    print('outputs under', out)


if __name__ == '__main__':
    main()
