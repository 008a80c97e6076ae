"""Measures that a report's memory stays flat when drawing falls behind.

A small CNN trains on 16 x 16 images and a ``SaliencyReport`` explains a
32-item image probe at every iteration (far more often than drawing can
keep up with): the writer's queue is bounded, so the training thread waits
instead of memory growing. Printed: the resident memory (VmRSS) of the
training process and of the drawing process (its child) after 50, 100, ...
reports, and the warning the report gave.

Usage: python scripts/benchmark_memory.py [--reports 300] [--out DIR]
"""
import argparse
import os
import tempfile
import warnings

import chainer
import chainer.functions as F
import chainer.links as L
import numpy
from chainer import training

from saliency_ext import (GradientCalculator, ImageVisualizer, ReportEntry,
                          SaliencyReport)

PROBE = 32


class CNN(chainer.Chain):
    def __init__(self):
        super(CNN, self).__init__()
        with self.init_scope():
            self.conv = L.Convolution2D(1, 8, 3, pad=1)
            self.fc = L.Linear(8 * 8 * 8, 10)

    def forward(self, x):
        return self.fc(F.max_pooling_2d(F.relu(self.conv(x)), 2))


def rss_mib(pid='self'):
    with open('/proc/{}/status'.format(pid)) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024.


def children_rss_mib():
    """The resident memory of this process's children (the drawing
    process)."""
    pids = []
    for task in os.listdir('/proc/self/task'):
        with open('/proc/self/task/{}/children'.format(task)) as f:
            pids += f.read().split()
    return sum(rss_mib(pid) for pid in pids)


class MemoryProbe(object):
    """After the first report and every 50th: the resident memory of the
    training and the drawing process."""

    priority = SaliencyReport.priority - 1  # just after the report

    def __init__(self):
        self.rows = []
        self.reports = 0

    def __call__(self, trainer):
        self.reports += 1
        if self.reports == 1 or self.reports % 50 == 0:
            self.rows.append((self.reports, rss_mib(), children_rss_mib()))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--reports', type=int, default=300)
    parser.add_argument('--out', default=None)
    args = parser.parse_args()
    out = args.out or tempfile.mkdtemp(prefix='saliency-memory-')
    rng = numpy.random.RandomState(0)
    x = rng.rand(320, 1, 16, 16).astype(numpy.float32)
    t = rng.randint(0, 10, 320).astype(numpy.int32)
    dataset = chainer.datasets.TupleDataset(x, t)
    predictor = CNN()
    model = L.Classifier(predictor)
    optimizer = chainer.optimizers.Adam()
    optimizer.setup(model)
    updater = training.StandardUpdater(
        chainer.iterators.SerialIterator(dataset, 32), optimizer)
    trainer = training.Trainer(updater, (args.reports, 'iteration'), out=out)
    grad = GradientCalculator(predictor, target='top', label_index=-1)
    report = SaliencyReport(dataset, {'grad': ReportEntry(
        grad, ImageVisualizer(), method='abs', ch_axis=2,
        item_kwargs=lambda example: {'image': example[0]})},
        probe_size=PROBE, trigger=(1, 'iteration'), initial=False)
    probe = MemoryProbe()
    trainer.extend(report)
    trainer.extend(probe, trigger=(1, 'iteration'), name='memory')
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter('always')
        trainer.run()
    print('{} reports of a {}-item image probe, one every iteration:'.format(
        args.reports, PROBE))
    line = '{:>8} {:>9} {:>13}'
    print(line.format('reports', 'RSS MiB', 'drawing MiB'))
    for reports, rss, drawing in probe.rows:
        print(line.format(reports, '{:.1f}'.format(rss),
                          '{:.1f}'.format(drawing)))
    behind = [str(w.message) for w in warned if 'falls behind' in
              str(w.message)]
    print('warned {} time(s): {}'.format(len(behind),
                                         behind[0] if behind else '-'))
    print('outputs under', out)


if __name__ == '__main__':
    main()
