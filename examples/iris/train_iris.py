"""Iris: which measurements does an MLP use to tell the species apart?

An MLP with dropout learns scikit-learn's copy of the iris data set (150
flowers, 4 measurements, 3 species; all of it is training data, as in the
article). While it trains, a ``SaliencyReport`` explains the class score of
every flower's label with VanillaGrad, SmoothGrad and Integrated Gradients and
draws one bar chart per flower and one for the mean over all 150: a neural
network's "feature importance".

At the end the script compares that importance, read from the last report's
saved arrays, with the feature importances of a random forest fitted to the
same data: both rank petal length and petal width first. The figures are
printed and written to ``<out>/saliency/findings.json``.

The measurements are standardised (zero mean, unit variance), so that
gradients of different features are in comparable units and the zero baseline
of Integrated Gradients is the average flower.

Usage::

    python examples/iris/train_iris.py [--epochs 60] [--out result/iris] \
        [--device -1]
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
    GaussianNoiseSampler, GradientCalculator, IntegratedGradientsCalculator,
    ReportEntry, SaliencyReport, TableVisualizer)

NAME = 'iris'
EPOCHS = 60
BATCHSIZE = 16
LR = 0.01
SNAPSHOT_EVERY = 10
#: Entry name -> how it is described in the findings.
METHODS = {'vanilla_grad': 'VanillaGrad (mean square)',
           'smooth_grad': 'SmoothGrad (mean square)',
           'integrated_gradients': 'Integrated Gradients (mean abs)'}
PETALS = ('petal length', 'petal width')


class MLP(chainer.Chain):
    """Two hidden layers of ReLU units, each followed by dropout."""

    def __init__(self, n_in=4, n_hidden=48, n_out=3, dropout=0.5):
        super(MLP, self).__init__()
        self.dropout = dropout
        with self.init_scope():
            self.l1 = L.Linear(n_in, n_hidden)
            self.l2 = L.Linear(n_hidden, n_hidden)
            self.l3 = L.Linear(n_hidden, n_out)

    def forward(self, x):
        h = F.dropout(F.relu(self.l1(x)), self.dropout)
        h = F.dropout(F.relu(self.l2(h)), self.dropout)
        return self.l3(h)


def load_data():
    """Returns the standardised data set ``(x, t)``, the feature names and
    the raw measurements and labels (for the random forest)."""
    from sklearn.datasets import load_iris
    iris = load_iris()
    raw = iris.data.astype(numpy.float32)
    x = (raw - raw.mean(axis=0)) / raw.std(axis=0)
    t = iris.target.astype(numpy.int32)
    names = [n.replace(' (cm)', '') for n in iris.feature_names]
    return chainer.datasets.TupleDataset(x, t), names, raw, t


def build_model():
    """The link the trainer optimises: a classifier around the MLP."""
    return L.Classifier(MLP())


def shares(saliency):
    """Bar lengths: each feature's share of the total magnitude (the
    article's ``normalize_scaler``); the axis fits the bars."""
    return saliency / max(float(numpy.abs(saliency).sum()), 1e-30)


def make_report(predictor, dataset, feature_names, epochs):
    """The report used in training and in the replay: the whole data set
    as the probe, one bar chart per flower plus the mean over all."""
    grad = GradientCalculator(predictor, target='label', label_index=-1)
    ig = IntegratedGradientsCalculator(predictor, target='label',
                                       label_index=-1, steps=25)
    table = TableVisualizer(width=420, bar_height=22)
    options = dict(visualize=dict(feature_names=feature_names,
                                  scaler=shares),
                   include_mean=True)
    entries = {
        'vanilla_grad': ReportEntry(grad, table, method='square', **options),
        'smooth_grad': ReportEntry(
            grad, table, compute=dict(M=30,
                                      noise_sampler=GaussianNoiseSampler()),
            method='square', **options),
        'integrated_gradients': ReportEntry(ig, table, method='abs',
                                            **options),
    }
    return SaliencyReport(dataset, entries, probe_size=len(dataset),
                          trigger=common.report_epochs(epochs))


def replay_config(out=None):
    """``(model, report)`` for replaying the report over the snapshots of
    the run in ``out``: a fresh ``Classifier`` (the snapshot's
    ``updater/model:main/``) and the training run's report, whose
    calculators explain that model's predictor."""
    dataset, names, _, _ = load_data()
    model = build_model()
    epochs = common.trained_epochs(out, EPOCHS)
    return model, make_report(model.predictor, dataset, names, epochs)


def findings(out, seed=0):
    """Feature importance from the last report's arrays, next to a random
    forest's: the share of each feature in the mean saliency over the
    probe (all 150 flowers)."""
    from sklearn.ensemble import RandomForestClassifier
    _, names, raw, t = load_data()
    forest = RandomForestClassifier(n_estimators=500, random_state=seed)
    forest.fit(raw, t)
    rf = forest.feature_importances_
    rf_top2 = sorted(numpy.argsort(-rf)[:2].tolist())
    result = dict(
        features=names,
        random_forest={n: common.finite(v) for n, v in zip(names, rf)},
        random_forest_top2=[names[i] for i in rf_top2],
        n_items=len(common.read_probe(out)[0]), methods={})
    for entry, label in METHODS.items():
        record, saliency = common.read_report(out, entry)
        importance = numpy.abs(saliency).mean(axis=0)
        share = importance / importance.sum()
        top2 = sorted(numpy.argsort(-share)[:2].tolist())
        result['methods'][entry] = dict(
            label=label, epoch=record['epoch'],
            importance={n: common.finite(v) for n, v in zip(names, share)},
            top2=[names[i] for i in top2],
            agrees_with_random_forest=top2 == rf_top2,
            petal_top2={names[i] for i in top2} == set(PETALS))
    return result


def print_findings(result):
    rows = {'random forest': result['random_forest']}
    for m in result['methods'].values():
        rows[m['label']] = m['importance']
    epoch = next(iter(result['methods'].values()))['epoch']
    print('\nIris feature importance (share of the mean over the {} flowers, '
          'epoch {} report):'.format(result['n_items'], epoch))
    common.print_table('method', rows, result['features'], fmt='{:.3f}')
    print('random forest top 2: {}'.format(
        ', '.join(result['random_forest_top2'])))
    for m in result['methods'].values():
        print('{} top 2: {}  (agrees with the random forest: {})'.format(
            m['label'], ', '.join(m['top2']),
            'yes' if m['agrees_with_random_forest'] else 'NO'))


def main(argv=None):
    args, device = common.start(__doc__.splitlines()[0], name=NAME,
                                epochs=EPOCHS, argv=argv)

    dataset, names, _, _ = load_data()
    model = build_model()
    model.to_device(device)
    trainer = common.make_trainer(
        model, dataset, args, device, batchsize=BATCHSIZE, lr=LR,
        snapshot_every=SNAPSHOT_EVERY,
        print_keys=('main/loss', 'main/accuracy'))
    trainer.extend(make_report(model.predictor, dataset, names, args.epochs))
    trainer.run()

    return common.conclude(args.out, NAME, findings(args.out, seed=args.seed),
                           print_findings)


if __name__ == '__main__':
    main()
