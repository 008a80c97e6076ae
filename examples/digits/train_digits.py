"""Digits: where does a small CNN look when it reads a handwritten digit?

A CNN with dropout learns scikit-learn's 8 x 8 digits (1,797 images, 80 % for
training, 20 % held out), upsampled bilinearly to 16 x 16 so that the maps are
finer than the digits' own pixels. While it trains, a ``SaliencyReport``
explains the top prediction for 48 held-out digits with six methods and draws
each map over its digit (black ink on white, 4 times larger):

- VanillaGrad: the gradient of the top class score;
- SmoothGrad: the gradient averaged over 30 noisy copies of the digit;
- BayesGrad: the gradient averaged over 30 dropout masks;
- Integrated Gradients: from a uniform grey image (the training set's mean
  intensity) to the digit, in 25 steps; a black baseline would give blank
  pixels zero attribution by construction;
- Occlusion: how much the score drops when a 4 x 4 window (2 x 2 pixels of
  the original digit) is blacked out, windows every 2 pixels;
- Grad-CAM: the 8 x 8 activations of the second convolution, each channel
  weighted by its spatially averaged gradient, resized to the input.

The gradient methods show magnitudes (mean absolute value over the samples),
Integrated Gradients and Occlusion signed attributions (red raises the score,
blue lowers it), Grad-CAM its non-negative class activation map. Every
report also says how far each method's maps can be trusted: the deletion
curve's area against a random ranking's (lower is more faithful) and the
rank correlation with the maps of a randomly re-initialised model
(``corr_to_random_model``: near 1 means the maps show the input, not the
model), and for Integrated Gradients the insertion curve and the
completeness error.

At the end the script measures, from the last report's saved arrays, how much
of the saliency falls on the strokes: the mean absolute saliency of inked
pixels (intensity >= 0.5) divided by that of blank ones (intensity 0), over
all probe digits, at the model's 16 x 16 input resolution; a ratio of at
least 1.5 counts as clearly higher. The same ratio for the first report (the
untrained model, epoch 0) is given for reference: part of a gradient map's
concentration near the ink comes from the architecture alone, which is why
the metrics matter. The figures are printed and written to
``<out>/saliency/findings.json``.

Usage::

    python examples/digits/train_digits.py [--epochs 15] \
        [--out result/digits] [--device -1]
"""
import os
import sys

import chainer
import chainer.functions as F
import chainer.links as L
import numpy

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
import common  # noqa: E402

from saliency_ext import (  # noqa: E402
    GaussianNoiseSampler, GradCAMCalculator, GradientCalculator,
    ImageVisualizer, IntegratedGradientsCalculator, OcclusionCalculator,
    ReportEntry, SaliencyReport, VariableMonitorLinkHook)

NAME = 'digits'
EPOCHS = 15
BATCHSIZE = 32
LR = 0.001
SNAPSHOT_EVERY = 5
PROBE_SIZE = 48
SIZE = 16  # side of the model's input, in pixels
PICTURE_SCALE = 4  # pixels of a picture per input pixel
INKED, BLANK = 0.5, 0.0  # intensity thresholds of the stroke measure
CLEARLY = 1.5  # an ink / blank ratio at least this large is "clearly higher"
#: The metrics of every entry; Integrated Gradients measures them all.
METRICS = ('deletion', 'randomization')
IG_METRICS = ('deletion', 'insertion', 'randomization', 'completeness')
#: The metrics printed in the findings.
SHOWN = ('deletion_auc', 'deletion_auc_random', 'corr_to_random_model')
#: Entry name -> how it is described in the findings.
METHODS = {'vanilla_grad': 'VanillaGrad',
           'smooth_grad': 'SmoothGrad',
           'bayes_grad': 'BayesGrad',
           'integrated_gradients': 'Integrated Gradients',
           'occlusion': 'Occlusion',
           'grad_cam': 'Grad-CAM'}


class CNN(chainer.Chain):
    """Two 3 x 3 convolutions, each followed by 2 x 2 max pooling, and two
    linear layers, with dropout before each linear layer."""

    def __init__(self, n_out=10):
        super(CNN, self).__init__()
        with self.init_scope():
            self.conv1 = L.Convolution2D(1, 16, 3, pad=1)
            self.conv2 = L.Convolution2D(16, 32, 3, pad=1)
            self.fc1 = L.Linear(32 * 4 * 4, 128)
            self.fc2 = L.Linear(128, n_out)

    def forward(self, x):
        h = F.max_pooling_2d(F.relu(self.conv1(x)), 2)
        h = F.max_pooling_2d(F.relu(self.conv2(h)), 2)
        h = F.dropout(F.relu(self.fc1(F.dropout(h, 0.25))), 0.5)
        return self.fc2(h)


def load_data():
    """The digits as ``(x, t)`` with ``x`` float32 ``(1, 16, 16)`` in
    [0, 1] (ink is 1): a fixed 80 / 20 split into training and held-out
    data."""
    import scipy.ndimage
    from sklearn.datasets import load_digits
    digits = load_digits()
    zoom = SIZE / digits.images.shape[1]
    x = scipy.ndimage.zoom(digits.images / 16., (1, zoom, zoom), order=1)
    x = numpy.clip(x, 0., 1.).astype(numpy.float32)[:, None]
    t = digits.target.astype(numpy.int32)
    order = numpy.random.RandomState(0).permutation(len(x))
    n_train = int(0.8 * len(x))
    train, test = order[:n_train], order[n_train:]
    return (chainer.datasets.TupleDataset(x[train], t[train]),
            chainer.datasets.TupleDataset(x[test], t[test]))


def build_model():
    """The link the trainer optimises: a classifier around the CNN."""
    return L.Classifier(CNN())


def picture(example):
    """The picture under a digit's map: black ink on white, ``PICTURE_SCALE``
    times larger (the map is resized to it)."""
    paper = 1. - example[0][0]
    block = numpy.ones((PICTURE_SCALE, PICTURE_SCALE), paper.dtype)
    return {'image': numpy.kron(paper, block)}


def integrated_gradients(predictor, train):
    """Integrated Gradients of the top class score from a uniform grey image
    (the training set's mean intensity), in 25 steps."""
    grey = numpy.float32(numpy.mean([x.mean() for x, _ in train]))
    return IntegratedGradientsCalculator(predictor, baseline=grey, steps=25,
                                         target='top', label_index=-1)


def make_report(predictor, train, test, epochs):
    """The report used in training and in the replay: 48 held-out digits,
    six methods, each explaining the top prediction."""
    options = dict(target='top', label_index=-1)
    grad = GradientCalculator(predictor, **options)
    ig = integrated_gradients(predictor, train)
    occlusion = OcclusionCalculator(predictor, size=4, stride=2,
                                    slide_axis=(2, 3), **options)
    cam = GradCAMCalculator(
        predictor, target_extractor=VariableMonitorLinkHook(predictor.conv2),
        **options)
    image = ImageVisualizer()
    common_options = dict(ch_axis=2, item_kwargs=picture,
                          visualize=dict(alpha=0.6), metrics=METRICS)
    entries = {
        'vanilla_grad': ReportEntry(grad, image, method='abs',
                                    **common_options),
        'smooth_grad': ReportEntry(
            grad, image, compute=dict(M=30,
                                      noise_sampler=GaussianNoiseSampler()),
            method='abs', **common_options),
        'bayes_grad': ReportEntry(grad, image, compute=dict(M=30, train=True),
                                  method='abs', **common_options),
        'integrated_gradients': ReportEntry(
            ig, image, method='raw', **dict(common_options,
                                            metrics=IG_METRICS)),
        'occlusion': ReportEntry(occlusion, image, method='raw',
                                 **common_options),
        # one map per item at the input's size, no channels to sum; the
        # deletion curve perturbs the target (here the convolution's
        # activations), whose positions the map does not share
        'grad_cam': ReportEntry(cam, image, method='raw', **dict(
            common_options, ch_axis=None, metrics=('randomization',))),
    }
    return SaliencyReport(test, entries, probe_size=PROBE_SIZE, seed=0,
                          trigger=common.report_epochs(epochs))


def replay_config(out=None):
    """``(model, report)`` for replaying the report over the snapshots of
    the run in ``out``: a fresh ``Classifier`` (the snapshot's
    ``updater/model:main/``) and the training run's report, whose
    calculators explain that model's predictor."""
    train, test = load_data()
    model = build_model()
    epochs = common.trained_epochs(out, EPOCHS)
    return model, make_report(model.predictor, train, test, epochs)


def stroke_ratio(saliency, intensity):
    """Mean absolute saliency of inked pixels, of blank pixels, and their
    ratio, over all pixels of all digits."""
    magnitude = numpy.abs(saliency)
    inked = magnitude[intensity >= INKED].mean()
    blank = magnitude[intensity <= BLANK].mean()
    return inked, blank, inked / blank


def findings(out):
    """How much more saliency the strokes get than the blank background,
    from the last report's maps of the probe digits (and, for reference,
    from the first report's, made before training)."""
    indices, (x, _) = common.read_probe(out)
    intensity = x[:, 0]  # (N, 16, 16): the probe digits, in probe order
    result = dict(inked_threshold=INKED, blank_threshold=BLANK,
                  clear_ratio=CLEARLY, n_items=len(indices), methods={})
    for entry, label in METHODS.items():
        record, saliency = common.read_report(out, entry)
        first, first_saliency = common.read_report(out, entry, 0)
        inked, blank, ratio = stroke_ratio(saliency, intensity)
        result['methods'][entry] = dict(
            label=label, epoch=record['epoch'],
            inked_mean_abs=common.finite(inked),
            blank_mean_abs=common.finite(blank),
            ink_blank_ratio=common.finite(ratio),
            on_strokes=bool(ratio >= CLEARLY),
            first_epoch=first['epoch'],
            first_ink_blank_ratio=common.finite(
                stroke_ratio(first_saliency, intensity)[2]),
            metrics=record['metrics'],
            first_metrics=first['metrics'])
    return result


def print_findings(result):
    methods = result['methods']
    first = next(iter(methods.values()))
    print('\nDigits: mean |saliency| on inked (>= {}) and blank (<= {}) '
          'pixels of the {} probe digits, epoch {} report (ratio at epoch {} '
          'for reference):'.format(
              result['inked_threshold'], result['blank_threshold'],
              result['n_items'], first['epoch'], first['first_epoch']))
    rows = {m['label']: {'inked': m['inked_mean_abs'],
                         'blank': m['blank_mean_abs'],
                         'ratio': m['ink_blank_ratio'],
                         '>= {}'.format(result['clear_ratio']):
                         'yes' if m['on_strokes'] else 'NO',
                         'ratio, epoch {}'.format(m['first_epoch']):
                         m['first_ink_blank_ratio']}
            for m in methods.values()}
    common.print_table('method', rows, [
        'inked', 'blank', 'ratio', '>= {}'.format(result['clear_ratio']),
        'ratio, epoch {}'.format(first['first_epoch'])], fmt='{:.4g}')
    print('\nHow far the maps can be trusted, epoch {} report (epoch {} in '
          'brackets): deletion AUC (lower: the score falls faster when the '
          'most salient pixels go grey or black) against a random ranking, '
          'and the rank correlation with the maps of a re-initialised model:'
          .format(first['epoch'], first['first_epoch']))
    rows = {m['label']: {name: '{} ({})'.format(
        common.show(m['metrics'].get(name)),
        common.show(m['first_metrics'].get(name))) for name in SHOWN}
        for m in methods.values()}
    common.print_table('method', rows, list(SHOWN))


def main(argv=None):
    args, device = common.start(__doc__.splitlines()[0], name=NAME,
                                epochs=EPOCHS, argv=argv)

    train, test = load_data()
    model = build_model()
    model.to_device(device)
    trainer = common.make_trainer(
        model, train, args, device, batchsize=BATCHSIZE, lr=LR,
        snapshot_every=SNAPSHOT_EVERY, valid=test,
        print_keys=('main/loss', 'main/accuracy'))
    trainer.extend(make_report(model.predictor, train, test, args.epochs))
    trainer.run()

    return common.conclude(args.out, NAME, findings(args.out),
                           print_findings)


if __name__ == '__main__':
    main()
