"""CPU time of drawing a report's pictures, without training beside it.

The report of ``benchmark_report.py`` (16 ESOL probe molecules, IG with 25
steps and SmoothGrad with M=30, molecule pictures) is computed after each of
``--reports`` short trainings of a gated graph network, so the maps, their
scales and the outputs in the captions change as in a run; then every report
is drawn in order, in this process, as the drawing process does it (with its
memory setting): the pictures of both entries with their PNG files. The
sequence is drawn ``--repeat`` times, each time by a new report (its history
empty, the molecule depictions kept from the first time). Prints the CPU
seconds of the first report of the first time (it makes the depictions) and,
for the later reports, the mean of every time and the least of each report
over the times, summed (a 2-core machine shared with others moves single
figures by a third; the least is what drawing costs). With ``--profile N``:
the N costliest functions (cumulative) of the later reports of the first
time.

Usage: python scripts/benchmark_drawing.py [--reports 10] [--repeat 5]
       [--profile 25]
"""
import argparse
import cProfile
import os
import pstats
import sys
import time

import chainer
import chainer.functions as F
import chainer.links as L
import numpy
from chainer import training

from saliency_ext.datasets import concat_mols, load_esol
from saliency_ext.models import GraphRegressor
from saliency_ext.report.drawing import _keep_freed_memory, draw_here
from saliency_ext.report.pictures import item_texts

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchmark_report import make_report  # noqa: E402 (the same report)


def explained_reports(reports, iterations):
    """What a report explains after each of ``reports`` trainings of
    ``iterations`` updates (a list of entry name -> Explained), and a
    function that makes a new report of the trained model."""
    numpy.random.seed(0)
    esol = load_esol()
    predictor = GraphRegressor()
    model = L.Classifier(predictor, lossfun=F.mean_squared_error)
    model.compute_accuracy = False
    optimizer = chainer.optimizers.Adam()
    optimizer.setup(model)
    updater = training.StandardUpdater(
        chainer.iterators.SerialIterator(esol.dataset, 32), optimizer,
        converter=concat_mols)

    def new_report():
        return make_report(predictor, esol, (1, 'epoch'), 'unused')
    report = new_report()
    explained = []
    for epoch in range(reports):
        for _ in range(iterations):
            updater.update()
        explained.append(report.explain(epoch))
    return explained, new_report


def draw_report(report, epoch, explained):
    """Draws one report of every entry and encodes its PNG files."""
    for name, result in explained.items():
        series = report.series[name]
        series.advance(result.saliency, epoch, 0, 0)
        pictures, _ = draw_here(
            series, 'epoch {}'.format(epoch),
            item_texts(report.probe_indices, result.outputs),
            result.saliency, series.limits(result.saliency), result.spread)
        for picture in pictures.values():
            picture.png


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--reports', type=int, default=10)
    parser.add_argument('--iterations', type=int, default=10,
                        help='updates between reports (default: '
                        '%(default)s)')
    parser.add_argument('--repeat', type=int, default=5,
                        help='times the reports are drawn (default: '
                        '%(default)s)')
    parser.add_argument('--profile', type=int, default=0, metavar='N',
                        help='print the N costliest functions')
    args = parser.parse_args()
    explained, new_report = explained_reports(args.reports, args.iterations)
    _keep_freed_memory()
    profile = cProfile.Profile() if args.profile else None
    times = []  # the CPU seconds of each report, each time
    first = None
    for time_number in range(args.repeat):
        report, seconds = new_report(), []
        for epoch, shares in enumerate(explained):
            if profile is not None and (time_number, epoch) == (0, 1):
                profile.enable()
            start = time.process_time()
            draw_report(report, epoch, shares)
            seconds.append(time.process_time() - start)
            if profile is not None and time_number == 0 and \
                    epoch == len(explained) - 1:
                profile.disable()
        first = seconds[0] if first is None else first
        times.append(seconds[1:] or seconds)
    mean = sum(map(sum, times)) / sum(map(len, times))
    least = sum(map(min, zip(*times))) / len(times[0])
    print('drawing {} reports of {} entries, {} times: the first report {:.3f} '
          's of CPU; then per report {:.3f} s (mean), {:.3f} s (the least of '
          'each report)'.format(len(explained), len(explained[0]),
                                args.repeat, first, mean, least))
    if profile is not None:
        pstats.Stats(profile).sort_stats('cumulative').print_stats(
            args.profile)


if __name__ == '__main__':
    main()
