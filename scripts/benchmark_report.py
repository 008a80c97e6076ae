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
  (the background writer is drained before the clock stops).

Usage: python scripts/benchmark_report.py [--epochs 10] [--out DIR]
"""
import argparse
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
from saliency_ext.models import GraphRegressor

PROBE = 16
STEPS, M = 25, 30


class TimedReport(SaliencyReport):
    """Records how long each call holds the training thread."""

    def __init__(self, *args, **kwargs):
        super(TimedReport, self).__init__(*args, **kwargs)
        self.blocking = []

    def __call__(self, trainer):
        start = time.perf_counter()
        super(TimedReport, self).__call__(trainer)
        self.blocking.append(time.perf_counter() - start)


def make_report(predictor, esol, trigger, out, comm=None):
    hook = VariableMonitorLinkHook(predictor.graph.embed)
    common = dict(eval_fun=lambda atoms, adjs: predictor(atoms, adjs)[:, 0],
                  target_extractor=hook, label_index=-1)
    visualize = dict(item_kwargs={'smiles': esol.smiles}, method='raw',
                     ch_axis=3)
    return TimedReport(esol.dataset, {
        'ig': ReportEntry(IntegratedGradientsCalculator(
            predictor, steps=STEPS, **common), SmilesVisualizer(),
            **visualize),
        'smoothgrad': ReportEntry(GradientCalculator(predictor, **common),
                                  SmilesVisualizer(), compute=dict(
                                      M=M, noise_sampler=GaussianNoiseSampler()),
                                  **visualize),
    }, probe_size=PROBE, converter=concat_mols, trigger=trigger, out_dir=out,
        initial=False, comm=comm)


def train(esol, epochs, trigger, out):
    numpy.random.seed(0)
    predictor = GraphRegressor()
    model = L.Classifier(predictor, lossfun=F.mean_squared_error)
    model.compute_accuracy = False
    optimizer = chainer.optimizers.Adam()
    optimizer.setup(model)
    iterator = chainer.iterators.SerialIterator(esol.dataset, 32)
    updater = training.StandardUpdater(iterator, optimizer,
                                       converter=concat_mols)
    trainer = training.Trainer(updater, (epochs, 'epoch'), out=out)
    report = floor = None
    if trigger is not None:
        report = make_report(predictor, esol, trigger, 'saliency')
        floor = FloorProbe(predictor, report)
        trainer.extend(report)
        trainer.extend(floor, trigger=trigger, name='floor')
    start = time.perf_counter()
    trainer.run()  # finalize drains the background writer
    elapsed = time.perf_counter() - start
    if floor is not None:  # the probe's own time is not the report's
        elapsed -= sum(floor.seconds)
    return elapsed, report, floor


class FloorProbe(object):
    """An extension on the report's trigger that times, just before each
    report, one forward+backward pass over every stacked probe row."""

    priority = SaliencyReport.priority + 1

    def __init__(self, predictor, report):
        atoms, adjs, _ = concat_mols(report.probe_examples)
        rows = numpy.tile(numpy.arange(len(atoms)), STEPS + M)
        self.atoms, self.adjs = atoms[rows], adjs[rows]
        self.hook = VariableMonitorLinkHook(predictor.graph.embed)
        self.hook.process = lambda v: v.unchain()
        self.predictor = predictor
        self.seconds = []

    def __call__(self, trainer):
        start = time.perf_counter()
        with chainer.using_config('train', False), self.hook:
            out = self.predictor(self.atoms, self.adjs)
        chainer.grad([F.sum(out)], [self.hook.variable])
        self.seconds.append(time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--epochs', type=int, default=10)
    parser.add_argument('--out', default=None)
    args = parser.parse_args()
    out = args.out or tempfile.mkdtemp(prefix='saliency-bench-')
    esol = load_esol()
    base, _, _ = train(esol, args.epochs, None, out + '/plain')
    print('ESOL GGNN, {} epochs of {} molecules (batch 32): {:.1f} s without '
          'the report ({:.2f} s/epoch)'.format(
              args.epochs, len(esol.dataset), base, base / args.epochs))
    print('{:<16} {:>8} {:>12} {:>9} {:>10} {:>10}'.format(
        'trigger', 'reports', 'blocking s', 'floor s', 'x floor',
        'overhead'))
    for interval in (1, 5):
        total, report, floor = train(esol, args.epochs, (interval, 'epoch'),
                                     '{}/every{}'.format(out, interval))
        blocking = statistics.median(report.blocking)
        floor = statistics.median(floor.seconds)
        print('{:<16} {:>8} {:>12.3f} {:>9.3f} {:>10.2f} {:>9.0f}%'.format(
            'every {} epoch{}'.format(interval, 's' * (interval > 1)),
            len(report.blocking), blocking, floor, blocking / floor,
            100 * (total - base) / base))
    print('outputs under', out)


if __name__ == '__main__':
    main()
