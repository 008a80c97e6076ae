"""CPU time of drawing a report's pictures, without training beside it.

The report of ``benchmark_report.py`` (16 ESOL probe molecules, IG with 25
steps and SmoothGrad with M=30, molecule pictures) is computed after each of
``--reports`` short trainings of a gated graph network, so the maps, their
scales and the outputs in the captions change as in a run; then every report
is drawn in order, in this process, as the drawing process does it: the
pictures of both entries with their PNG files. Prints the CPU seconds per
report (the first one apart: it makes the molecule depictions) and, with
``--profile N``, the N costliest functions (cumulative) of the later reports.

Usage: python scripts/benchmark_drawing.py [--reports 10] [--profile 25]
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
from saliency_ext.report.drawing import draw_here
from saliency_ext.report.pictures import item_texts

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchmark_report import make_report  # noqa: E402 (the same report)


def explained_reports(reports, iterations):
    """The report and what it explains after each of ``reports`` trainings
    of ``iterations`` updates: a list of (entry name -> Explained)."""
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
    report = make_report(predictor, esol, (1, 'epoch'), 'unused')
    explained = []
    for epoch in range(reports):
        for _ in range(iterations):
            updater.update()
        explained.append(report.explain(epoch))
    return report, explained


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
    parser.add_argument('--profile', type=int, default=0, metavar='N',
                        help='print the N costliest functions')
    args = parser.parse_args()
    report, explained = explained_reports(args.reports, args.iterations)
    profile = cProfile.Profile() if args.profile else None
    seconds = []
    for epoch, shares in enumerate(explained):
        if profile is not None and epoch == 1:
            profile.enable()
        start = time.process_time()
        draw_report(report, epoch, shares)
        seconds.append(time.process_time() - start)
    if profile is not None:
        profile.disable()
    later = seconds[1:] or seconds
    print('drawing {} reports of {} entries: first {:.3f} s of CPU, then '
          '{:.3f} s per report (min {:.3f}, max {:.3f})'.format(
              len(seconds), len(report.series), seconds[0],
              sum(later) / len(later), min(later), max(later)))
    if profile is not None:
        pstats.Stats(profile).sort_stats('cumulative').print_stats(
            args.profile)


if __name__ == '__main__':
    main()
