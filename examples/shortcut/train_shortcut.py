"""Shortcut: catching a model that reads a watermark instead of the digit.

The digits of the digits example (8 x 8 scans upsampled to 16 x 16, the same
CNN) are labelled in a hurry: half of the training labels are redrawn at
random. Every training image also carries a 2 x 2 watermark in its top-left
corner that a labelling tool stamped from the label as written: the four
pixels are the bits of ``label + 1``. The watermark agrees with every training
label, the digit with about 55 % of them, so the model can only fit the
labels by reading the corner: a shortcut. Its training accuracy looks
excellent all the same.

While it trains, a ``SaliencyReport`` explains 16 held-out digits, each
stamped with the watermark of its true label, with Integrated Gradients (from
a black image, 25 steps) every 15 iterations, and reports
``saliency/integrated_gradients/mass/watermark``: the share of |attribution|
on the four corner pixels (``ReportEntry(groups={'watermark': mask})``). An
``ExplanationShiftTrigger`` on it saves a snapshot the moment the mass passes
0.3 (``shortcut_iter_<iteration>``).

The script trains twice, into ``<out>/watermark`` and into ``<out>/clean``: the
control run has the same noisy labels and no watermark in training. At the
end it reads both runs' reports and logs and prints (and writes to
``<out>/findings.json``):

- when the training accuracy (logged every 15 iterations) first passed 95 %,
  and when the watermark's mass first passed 0.3: with the watermark, the mass
  passes 0.3 first;
- the largest mass of the clean control run (below 0.05);
- where the trigger fired (at the report where the mass crossed).

In TensorBoard the two runs' ``mass/watermark`` curves share one chart
(``saliency.integrated_gradients/mass/watermark``).

Usage::

    python examples/shortcut/train_shortcut.py [--epochs 6] \
        [--out result/shortcut] [--device -1]
"""
import argparse
import json
import os
import sys

import chainer
import numpy
from chainer.training import extensions

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
import common  # noqa: E402
from digits import train_digits as digits  # noqa: E402

from saliency_ext import (  # noqa: E402
    ExplanationShiftTrigger, ImageVisualizer, IntegratedGradientsCalculator,
    ReportEntry, ReportLayout, SaliencyReport)

NAME = 'shortcut'
EPOCHS = 6
BATCHSIZE = 32
LR = 0.003
EVERY = 15  # iterations between reports and log lines
PROBE_SIZE = 16
LABEL_NOISE = 0.5  # the share of training labels redrawn at random
#: The watermark's pixels, one bit of ``label + 1`` each.
BITS = ((0, 0), (0, 1), (1, 0), (1, 1))
ENTRY = 'integrated_gradients'
MASS = 'mass/watermark'
KEY = 'saliency/{}/{}'.format(ENTRY, MASS)
MASS_THRESHOLD = 0.3
ACCURACY_THRESHOLD = 0.95
CLEAN_LIMIT = 0.05  # the control run's mass stays below this
RUNS = ('watermark', 'clean')


def watermark_mask():
    """The watermark's positions in the model's 16 x 16 input."""
    mask = numpy.zeros((digits.SIZE, digits.SIZE), bool)
    for row, col in BITS:
        mask[row, col] = True
    return mask


def stamp(x, labels):
    """Images ``(N, 1, H, W)`` with each label's watermark in the corner."""
    x = numpy.array(x, copy=True)
    code = numpy.asarray(labels) + 1
    for bit, (row, col) in enumerate(BITS):
        x[:, 0, row, col] = (code >> bit) & 1
    return x


def split(dataset):
    images = numpy.stack([x for x, _ in dataset])
    labels = numpy.array([t for _, t in dataset], numpy.int32)
    return images, labels


def load_data(watermark):
    """The training set with half its labels redrawn (and, with
    ``watermark``, stamped from those labels) and the probe: held-out digits
    stamped from their true labels."""
    train, test = digits.load_data()
    x, t = split(train)
    random = numpy.random.RandomState(1)
    redrawn = random.rand(len(t)) < LABEL_NOISE
    t = t.copy()
    t[redrawn] = random.randint(0, 10, int(redrawn.sum()))
    if watermark:
        x = stamp(x, t)
    probe_x, probe_t = split(test)
    return (chainer.datasets.TupleDataset(x, t),
            chainer.datasets.TupleDataset(stamp(probe_x, probe_t), probe_t))


def make_report(predictor, probe):
    """Integrated Gradients of the top class from a black image, with the
    watermark's mass, every ``EVERY`` iterations."""
    ig = IntegratedGradientsCalculator(predictor, steps=25, target='top',
                                       label_index=-1)
    entry = ReportEntry(ig, ImageVisualizer(), ch_axis=2,
                        item_kwargs=digits.picture,
                        visualize=dict(alpha=0.6),
                        groups={'watermark': watermark_mask()})
    return SaliencyReport(probe, {ENTRY: entry}, probe_size=PROBE_SIZE,
                          seed=0, trigger=(EVERY, 'iteration'),
                          step='iteration')


def train(args, device, run):
    """Trains one run into ``<out>/<run>``; returns the trigger."""
    out = os.path.join(args.out, run)
    common.seed_everything(args.seed, device)
    train_set, probe = load_data(watermark=run == 'watermark')
    model = digits.build_model()
    model.to_device(device)
    run_args = argparse.Namespace(**dict(vars(args), out=out))
    trainer = common.make_trainer(
        model, train_set, run_args, device, batchsize=BATCHSIZE, lr=LR,
        snapshot_every=args.epochs, print_keys=('main/loss', 'main/accuracy'),
        log_trigger=(EVERY, 'iteration'))
    trainer.extend(make_report(model.predictor, probe))
    trigger = ExplanationShiftTrigger(KEY, MASS_THRESHOLD)
    trainer.extend(extensions.snapshot(
        filename='shortcut_iter_{.updater.iteration}'), trigger=trigger,
        name='shortcut_snapshot')
    print('\n--- {} run: {}'.format(run, out), flush=True)
    trainer.run()
    return trigger


def first(pairs, threshold):
    """The first ``(iteration, value)`` whose value exceeds ``threshold``."""
    for iteration, value in pairs:
        if value is not None and value > threshold:
            return iteration
    return None


def run_findings(out):
    """The mass and accuracy curves of one run, from its index and log."""
    layout = ReportLayout(os.path.join(out, common.REPORT_DIR))
    records = layout.records(ENTRY, session=layout.last_session())
    mass = [(r['iteration'], r['metrics'][MASS]) for r in records
            if r['metrics'].get(MASS) is not None]
    with open(os.path.join(out, 'log')) as f:
        accuracy = [(row['iteration'], row['main/accuracy'])
                    for row in json.load(f)]
    snapshots = sorted(int(name.rsplit('_', 1)[1]) for name in os.listdir(out)
                       if name.startswith('shortcut_iter_'))
    return dict(mass=mass, accuracy=accuracy,
                mass_crossing=first(mass, MASS_THRESHOLD),
                accuracy_crossing=first(accuracy, ACCURACY_THRESHOLD),
                max_mass=common.finite(max(m for _, m in mass)),
                snapshot_iterations=snapshots)


def findings(out):
    """Both runs' curves and the claims read from them."""
    runs = {run: run_findings(os.path.join(out, run)) for run in RUNS}
    marked, clean = runs['watermark'], runs['clean']
    crossing, passed = marked['mass_crossing'], marked['accuracy_crossing']
    return dict(
        runs=runs, label_noise=LABEL_NOISE, mass_threshold=MASS_THRESHOLD,
        accuracy_threshold=ACCURACY_THRESHOLD, clean_limit=CLEAN_LIMIT,
        report_every=EVERY,
        mass_first=bool(crossing is not None and passed is not None and
                        crossing <= passed),
        clean_below_limit=bool(clean['max_mass'] < CLEAN_LIMIT),
        trigger_at_crossing=bool(crossing is not None and
                                 marked['snapshot_iterations'][:1] ==
                                 [crossing]))


def print_findings(result):
    marked, clean = result['runs']['watermark'], result['runs']['clean']
    print('\nShortcut: share of |Integrated Gradients| on the 2 x 2 watermark '
          '(mass/watermark) of {} held-out digits, reported every {} '
          'iterations:'.format(PROBE_SIZE, result['report_every']))
    print('  with the watermark: training accuracy first above {} at '
          'iteration {}; mass first above {} at iteration {} ({}); snapshot '
          'by the trigger at iteration {}; largest mass {:.2f}'.format(
              result['accuracy_threshold'], marked['accuracy_crossing'],
              result['mass_threshold'], marked['mass_crossing'],
              'first' if result['mass_first'] else 'NOT first',
              (marked['snapshot_iterations'] or [None])[0],
              marked['max_mass']))
    print('  clean control: largest mass {:.3f} ({} {}), training accuracy '
          'first above {} at iteration {}'.format(
              clean['max_mass'],
              'below' if result['clean_below_limit'] else 'NOT below',
              result['clean_limit'], result['accuracy_threshold'],
              clean['accuracy_crossing']))


def main(argv=None):
    args, device = common.start(__doc__.splitlines()[0], name=NAME,
                                epochs=EPOCHS, argv=argv)
    for run in RUNS:
        train(args, device, run)
    return common.conclude(args.out, NAME, findings(args.out),
                           print_findings, folder='')


if __name__ == '__main__':
    main()
