"""Metrics in a report: where their values go, what they cost, and that they
leave training alone."""
import json
import os
import warnings

import chainer
import numpy
import pytest
from tensorboard.backend.event_processing.event_accumulator import \
    EventAccumulator

from saliency_ext import (GaussianNoiseSampler, GradientCalculator,
                          IntegratedGradientsCalculator, ReportEntry,
                          ReportLayout, SaliencyReport, SaliencyReportError,
                          TableVisualizer)
from saliency_ext.metrics import mean_rank_correlation, rank_correlations
from saliency_ext.sinks.base import scalars
from saliency_ext.sinks.tensorboard import scalar_tag
from tests.metrics.explanations import EdgeFilterCalculator
from tests.report.training import iris, make_trainer

FEATURES = ['sepal length', 'sepal width', 'petal length', 'petal width']
ALL = ('deletion', 'insertion', 'randomization', 'completeness')
VALUES = ['faithfulness_left_out', 'deletion_auc', 'deletion_auc_random',
          'insertion_auc', 'insertion_auc_random', 'completeness',
          'corr_to_init', 'corr_to_random_model', 'mass/petal',
          'auroc/petal']


def measured(predictor):
    ig = IntegratedGradientsCalculator(predictor, target='label',
                                       label_index=-1, steps=10)
    return {'ig': ReportEntry(
        ig, TableVisualizer(), visualize=dict(feature_names=FEATURES),
        metrics=ALL, groups={'petal': ['petal length', 'petal width']},
        ground_truth=('petal',))}


def params(link):
    return {name: p.array.copy() for name, p in link.namedparams()}


def test_values_reach_the_log_tensorboard_and_the_index(tmp_path):
    trainer, _ = make_trainer(tmp_path, epochs=2, entries=measured)
    trainer.run()
    layout = ReportLayout(tmp_path / 'saliency')
    records = layout.records('ig')
    assert [r['epoch'] for r in records] == [0, 1, 2]
    for record in records:
        assert sorted(record['metrics']) == sorted(VALUES)
        assert record['metrics_seconds'] > 0
        arrays = layout.read_arrays(record)
        for name in VALUES[1:]:  # each value is the mean of its items
            per_item = arrays['metrics/' + name]
            assert per_item.shape == (6,)
            assert record['metrics'][name] == pytest.approx(
                numpy.nanmean(per_item))
        assert arrays['metrics/deletion_curve'].shape == (6, 11)
    assert records[0]['metrics']['corr_to_init'] == 1.
    maps = [layout.read_arrays(r)['saliency'] for r in records]
    assert records[2]['metrics']['corr_to_init'] == pytest.approx(
        mean_rank_correlation(maps[0], maps[2]))

    log = json.load(open(tmp_path / 'log'))
    assert [row['epoch'] for row in log] == [1, 2]
    for row, record in zip(log, records[1:]):
        for name in VALUES:
            assert row['saliency/ig/' + name] == pytest.approx(
                record['metrics'][name])
        assert 'saliency/ig/metrics_seconds' in row

    events = EventAccumulator(str(tmp_path / 'tensorboard'),
                              size_guidance={'scalars': 0})
    events.Reload()
    for name in VALUES:  # the initial report (step 0) is there too
        scalars = events.Scalars(scalar_tag('ig', name))
        assert [s.step for s in scalars] == [0, 1, 2]
        assert [s.value for s in scalars] == pytest.approx(
            [r['metrics'][name] for r in records], rel=1e-6)


def test_training_is_neutral_with_every_metric(tmp_path):
    plain, plain_model = make_trainer(tmp_path / 'plain', report=False)
    plain.run()
    reported, reported_model = make_trainer(
        tmp_path / 'reported', entries=lambda p: dict(
            measured(p), smooth=ReportEntry(
                GradientCalculator(p, target='label', label_index=-1),
                TableVisualizer(), metrics=('deletion', 'randomization'),
                compute=dict(M=3, train=True,
                             noise_sampler=GaussianNoiseSampler()))))
    reported.run()
    for name, value in params(plain_model).items():
        numpy.testing.assert_array_equal(params(reported_model)[name], value,
                                         err_msg=name)
    assert not any(link.local_link_hooks for link in reported_model.links())


class CountingModel(chainer.Chain):
    """Counts the rows the report evaluates."""

    def __init__(self, predictor):
        super(CountingModel, self).__init__()
        with self.init_scope():
            self.predictor = predictor
        self.rows = 0

    def forward(self, x):
        self.rows += len(x)
        return self.predictor(x)


def counted(metrics):
    def make(predictor):
        counter = CountingModel(predictor)
        grad = GradientCalculator(counter, target='label', label_index=-1)
        return {'vanilla': ReportEntry(grad, TableVisualizer(),
                                       metrics=metrics)}
    return make


def run_counting(tmp_path, metrics):
    trainer, _ = make_trainer(tmp_path, epochs=2, tensorboard=False,
                              entries=counted(metrics))
    report = trainer.get_extension('SaliencyReport')
    counter = report.entries['vanilla'].calculator.model
    rows = []
    trainer.extend(lambda t: rows.append(counter.rows), name='count',
                   trigger=(1, 'epoch'), priority=-1)
    trainer.run()
    return rows, ReportLayout(tmp_path / 'saliency').records()


#: Rows of the start-up check: item 0 explained, then alone and twice in one
#: pass (the batch-dependence check).
STARTUP = 1 + 1 + 2
#: Rows of a report without metrics: the 6 maps, and the 6 outputs that
#: label the pictures.
REPORT = 6 + 6


def test_no_metrics_change_nothing(tmp_path):
    rows, records = run_counting(tmp_path, ())
    # the start-up check, the initial report, then one report per epoch
    assert rows == [STARTUP + 2 * REPORT, STARTUP + 3 * REPORT]
    assert all(r['metrics'] == {} and r['metrics_seconds'] is None and
               r['warnings'] == [] for r in records)
    arrays = ReportLayout(tmp_path / 'saliency').read_arrays(records[-1])
    assert list(arrays) == ['epoch', 'iteration', 'settings', 'saliency']


def test_the_random_model_is_explained_once_per_run(tmp_path):
    rows, records = run_counting(tmp_path, ('randomization',))
    # the start-up check explains item 0 with the random model too; the
    # initial report the whole probe; later reports explain only the model
    assert rows == [(STARTUP + 1) + (REPORT + 6) + REPORT,
                    (STARTUP + 1) + (REPORT + 6) + 2 * REPORT]
    assert all(-1 <= r['metrics']['corr_to_random_model'] <= 1
               for r in records)


def test_maps_that_ignore_the_model_are_warned_about(tmp_path):
    def edge(predictor):
        return {'edges': ReportEntry(
            EdgeFilterCalculator(predictor, target='label', label_index=-1),
            TableVisualizer(), metrics=('randomization',))}
    trainer, _ = make_trainer(tmp_path, epochs=1, entries=edge)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        trainer.run()
    records = ReportLayout(tmp_path / 'saliency').records()
    assert [r['metrics']['corr_to_random_model'] for r in records] == \
        pytest.approx([1., 1.])
    assert records[0]['warnings'] == []  # the untrained model is random
    assert 'corr_to_random_model 1.00 >= 0.5' in records[1]['warnings'][0]
    assert any("entry 'edges' at epoch 1" in str(w.message) and
               'randomly initialised model' in str(w.message)
               for w in caught)


def test_corr_to_init_compares_with_the_first_report_after_resume(tmp_path):
    make_trainer(tmp_path, epochs=3, snapshot=2, entries=measured)[0].run()
    layout = ReportLayout(tmp_path / 'saliency')
    first = layout.read_arrays(layout.records('ig')[0])['saliency']
    resumed, _ = make_trainer(tmp_path, epochs=3, entries=measured)
    chainer.serializers.load_npz(str(tmp_path / 'snapshot_epoch_2'), resumed)
    resumed.run()
    last = layout.records('ig')[-1]
    assert last['session'] == 1 and last['epoch'] == 3
    maps = layout.read_arrays(last)['saliency']
    assert last['metrics']['corr_to_init'] == pytest.approx(
        numpy.nanmean(rank_correlations(first, maps)))


def test_a_metric_that_cannot_run_stops_the_trainer_at_start(tmp_path):
    def summed(predictor):  # maps need no value per item; deletion does
        grad = GradientCalculator(predictor, label_index=-1, eval_fun=lambda
                                  x: chainer.functions.sum(predictor(x)))
        return {'summed': ReportEntry(grad, TableVisualizer(),
                                      metrics=('deletion',))}
    trainer, _ = make_trainer(tmp_path, entries=summed)
    with pytest.raises(SaliencyReportError, match="entry 'summed' failed at "
                       "start on probe item 0.*one explained value per item"):
        trainer.run()
    assert trainer.updater.iteration == 0


def test_a_smarts_group_needs_molecules(tmp_path):
    predictor = make_trainer(tmp_path, report=False)[1]
    entry = ReportEntry(GradientCalculator(predictor, target='label',
                                           label_index=-1),
                        TableVisualizer(), groups={'hydroxyl': '[OX2H]'})
    with pytest.raises(SaliencyReportError, match="entry 'g' cannot find "
                       "its groups in probe item 0 .*: ValueError: group "
                       "'hydroxyl' is a SMARTS pattern"):
        SaliencyReport(iris(), {'g': entry})


@pytest.mark.parametrize('kwargs,error,match', [
    (dict(metrics='deletion'), TypeError, 'tuple of names'),
    (dict(metrics=('faithfulness',)), ValueError, 'unknown metrics'),
    (dict(metrics=('deletion', 'deletion')), ValueError, 'names one twice'),
    (dict(metrics=('completeness',)), ValueError, 'a GradientCalculator'),
    (dict(ground_truth=('petal',)), ValueError, 'not among the groups'),
    (dict(metric_steps=0), ValueError, 'metric_steps must be an int >= 1'),
])
def test_metric_options_are_checked_when_the_entry_is_made(kwargs, error,
                                                           match):
    predictor = make_trainer('unused', report=False)[1]
    grad = GradientCalculator(predictor, target='label', label_index=-1)
    with pytest.raises(error, match=match):
        ReportEntry(grad, TableVisualizer(), **kwargs)


@pytest.mark.parametrize('method,compute', [
    ('abs', {}), ('raw', dict(M=4, noise_sampler=GaussianNoiseSampler()))])
def test_completeness_needs_plain_integrated_gradients(method, compute):
    predictor = make_trainer('unused', report=False)[1]
    ig = IntegratedGradientsCalculator(predictor, target='label',
                                       label_index=-1)
    with pytest.raises(ValueError, match="needs the plain attributions"):
        ReportEntry(ig, TableVisualizer(), method=method, compute=compute,
                    metrics=('completeness',))


def test_per_item_values_are_saved_beside_the_maps(tmp_path):
    trainer, _ = make_trainer(tmp_path, epochs=1, entries=measured,
                              tensorboard=False)
    trainer.run()
    folder = ReportLayout(tmp_path / 'saliency')
    record = folder.records('ig')[-1]
    path = os.path.join(folder.root, folder.arrays_file(record))
    with numpy.load(path) as saved:
        assert 'metrics/mass/petal' in saved.files
        assert saved['metrics/insertion_curve_random'].shape == (6, 11)


def test_a_records_scalars_include_its_finite_metrics():
    record = dict(seconds=0.5, rank_corr=None, metrics_seconds=0.25,
                  metrics={'deletion_auc': 0.2, 'mass/petal': None,
                           'completeness': float('nan')})
    assert scalars(record) == {'seconds': 0.5, 'metrics_seconds': 0.25,
                               'deletion_auc': 0.2}
    assert scalars(dict(seconds=1.)) == {'seconds': 1.}
