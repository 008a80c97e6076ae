"""The cost of listing a report in the index as the index grows.

Usage: python scripts/benchmark_index.py [--reports N] [--folder DIR]

Appends N records shaped like a report's (about 1 KB of JSON each) to a fresh
``ReportIndex`` and prints the median milliseconds per append over the first
and the last 100 appends, with, as the baseline measured in the same run, the
same records listed by rewriting the whole file atomically at every report
(how the index was written before it was append-only). The append-only index
must stay flat: its last 100 appends may cost at most 1.5 times its first 100;
exits with status 1 otherwise. Both make each report durable (fsync).
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

from saliency_ext.sinks.storage import ReportIndex, atomic_write_bytes

WINDOW = 100


def record(number):
    folder = 'ig/epoch_{:04d}-iter_{:08d}'.format(number, 5 * number)
    return dict(entry='ig', epoch=number, iteration=5 * number, session=0,
                step='epoch', folder='ig', tag='saliency/ig', probe='probe.npz',
                settings=dict(calculator='IntegratedGradientsCalculator',
                              options=dict(target='label', label_index=-1,
                                           steps=25, baseline='zeros'),
                              compute={}, method='raw', ch_axis=None,
                              visualizer='TableVisualizer'),
                seconds=0.0123, rank_corr=0.97, error=None, failed=[],
                files=['{}/item_{:02d}.png'.format(folder, i) for i in range(16)]
                + [folder + '/saliency.npz'], time=time.time())


def rewriting(path):
    """The baseline: the whole file rewritten (atomically) per report."""
    def append(item):
        try:
            with open(path, 'rb') as f:
                old = f.read()
        except FileNotFoundError:
            old = b''
        atomic_write_bytes(path, old + (json.dumps(item) + '\n').encode())
    return append


def timings(append, reports):
    times = []
    for number in range(reports):
        item = record(number)
        start = time.perf_counter()
        append(item)
        times.append(time.perf_counter() - start)
    return times


def ms(times):
    return 1000 * statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--reports', type=int, default=1000)
    parser.add_argument('--folder', help='where to write (default: a temporary '
                        'folder); the disk decides what an fsync costs')
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.folder) as folder:
        appended = timings(ReportIndex(os.path.join(folder, 'a.jsonl')).append,
                           args.reports)
        rewritten = timings(rewriting(os.path.join(folder, 'b.jsonl')),
                            args.reports)
        size = os.path.getsize(os.path.join(folder, 'a.jsonl'))
    print('index of {} reports ({:.1f} MB), median ms per report'.format(
        args.reports, size / 1e6))
    print('{:<28} {:>10} {:>10} {:>8}'.format(
        '', 'first {}'.format(WINDOW), 'last {}'.format(WINDOW), 'ratio'))
    ok = True
    for name, times in (('appended (ReportIndex)', appended),
                        ('rewritten (baseline)', rewritten)):
        first, last = ms(times[:WINDOW]), ms(times[-WINDOW:])
        print('{:<28} {:>10.2f} {:>10.2f} {:>8.2f}'.format(name, first, last,
                                                           last / first))
        if times is appended:
            ok = last <= 1.5 * first
    print('flat (last <= 1.5 x first): {}'.format('PASS' if ok else 'FAIL'))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
