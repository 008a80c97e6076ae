"""On digits, the metrics tell a trained model's Integrated Gradients from
the random ranking and from a map that ignores the model."""
import chainer
import numpy
import pytest
from chainer import training

from saliency_ext import ImageVisualizer, ReportEntry, ReportLayout, \
    SaliencyReport
from tests.examples.loading import load_example
from tests.metrics.explanations import EdgeFilterCalculator

EPOCHS = 3


def test_trained_maps_beat_the_random_ranking_and_follow_the_model(tmp_path):
    digits = load_example('digits')
    digits.common.seed_everything(0)
    train, test = digits.load_data()
    model = digits.build_model()
    optimizer = chainer.optimizers.Adam(alpha=digits.LR)
    optimizer.setup(model)
    updater = training.StandardUpdater(chainer.iterators.SerialIterator(
        train, digits.BATCHSIZE), optimizer)
    trainer = training.Trainer(updater, (EPOCHS, 'epoch'), out=str(tmp_path))
    predictor = model.predictor
    edges = EdgeFilterCalculator(predictor, n_axes=2, target='top',
                                 label_index=-1)
    trainer.extend(SaliencyReport(test, {
        'ig': ReportEntry(digits.integrated_gradients(predictor, train),
                          ImageVisualizer(), ch_axis=2,
                          metrics=('deletion', 'randomization')),
        'edges': ReportEntry(edges, ImageVisualizer(), ch_axis=2,
                             metrics=('randomization',)),
    }, probe_size=16, trigger=(EPOCHS, 'epoch'), tensorboard=False))
    trainer.run()

    layout = ReportLayout(tmp_path / 'saliency')
    ig, edge = layout.records('ig')[-1], layout.records('edges')[-1]
    assert ig['epoch'] == EPOCHS
    arrays = layout.read_arrays(ig)
    below = arrays['metrics/deletion_auc'] < \
        arrays['metrics/deletion_auc_random']
    assert below.sum() >= 14, below
    assert ig['metrics']['corr_to_random_model'] < \
        edge['metrics']['corr_to_random_model']
    assert edge['metrics']['corr_to_random_model'] == pytest.approx(1.)
    assert numpy.isfinite(ig['metrics']['corr_to_random_model'])
