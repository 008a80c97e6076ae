import json
import os

import chainer
import numpy
import pytest
from tensorboard.backend.event_processing.event_accumulator import \
    EventAccumulator

from saliency_ext import (GradientCalculator, ReportEntry, ReportSink,
                          SaliencyReport, SaliencyReportError,
                          TableVisualizer)
from saliency_ext.metrics import mean_rank_correlation
from saliency_ext.sinks.storage import safe_name
from saliency_ext.sinks.layout import ReportLayout
from tests.report.training import entries, iris, make_trainer


def params(link):
    return {name: p.array.copy() for name, p in link.namedparams()}


def read_log(out):
    with open(os.path.join(str(out), 'log')) as f:
        return [row['main/loss'] for row in json.load(f)]


def test_training_is_neutral(tmp_path):
    plain, plain_model = make_trainer(tmp_path / 'plain', report=False)
    plain.run()
    reported, reported_model = make_trainer(tmp_path / 'reported')
    reported.run()
    for name, value in params(plain_model).items():
        numpy.testing.assert_array_equal(params(reported_model)[name], value,
                                         err_msg=name)
    assert read_log(tmp_path / 'plain') == read_log(tmp_path / 'reported')
    assert chainer.config.train is True
    assert not any(link.local_link_hooks for link in reported_model.links())


def test_events_files_and_index_agree(tmp_path):
    trainer, _ = make_trainer(tmp_path, epochs=3)
    trainer.run()
    layout = ReportLayout(tmp_path / 'saliency')
    records = layout.records()
    names = ['vanilla', 'smooth bayes', 'ig']
    assert [(r['entry'], r['epoch']) for r in records] == [
        (n, e) for e in range(4) for n in names]
    for record in records:
        assert record['error'] is None
        for path in record['files']:
            assert os.path.isfile(tmp_path / 'saliency' / path), path
        pictures = [f for f in record['files'] if f.endswith('.png')]
        # the items, the mean (vanilla), the overview and the history
        assert len(pictures) == 6 + (record['entry'] == 'vanilla') + 2
    arrays = layout.read_arrays(records[-1])
    assert arrays['saliency'].shape == (6, 4)
    assert int(arrays['epoch']) == 3
    assert json.loads(str(arrays['settings']))['calculator'] == \
        'IntegratedGradientsCalculator'

    events = EventAccumulator(str(tmp_path / 'tensorboard'),
                              size_guidance={'images': 0, 'scalars': 0})
    events.Reload()
    expected = {'saliency.{}.items/item_{:02d}'.format(safe_name(n), i)
                for n in names for i in range(6)} | {
                    'saliency.{}/{}'.format(safe_name(n), picture)
                    for n in names for picture in ('overview', 'history')} | {
                        'saliency.vanilla.items/all_items_mean'}
    assert set(events.Tags()['images']) == expected
    for tag in expected:
        assert [e.step for e in events.Images(tag)] == [0, 1, 2, 3]
    assert [e.step for e in events.Scalars('saliency.ig/rank_corr')] == \
        [1, 2, 3]

    log = json.load(open(tmp_path / 'log'))
    assert all('saliency/vanilla/rank_corr' in row and
               'saliency/ig/seconds' in row for row in log)


def test_spread_is_saved_beside_the_mean_with_several_samples(tmp_path):
    class Recording(ReportSink):
        def __init__(self):
            self.arrays = {}

        def write(self, record, pictures, arrays):
            self.arrays[record['entry'], record['epoch']] = arrays

    sink = Recording()
    trainer, _ = make_trainer(tmp_path, epochs=1, sinks=[sink])
    trainer.run()
    layout = ReportLayout(tmp_path / 'saliency')
    for record in layout.records():
        arrays = layout.read_arrays(record)
        assert set(arrays) - {'epoch', 'iteration', 'settings'} == set(
            sink.arrays[record['entry'], record['epoch']])
        if record['entry'] == 'smooth bayes':  # M=5 samples
            std = arrays['saliency_std']
            assert std.shape == arrays['saliency'].shape == (6, 4)
            assert (std >= 0).all() and (std > 0).any()
        else:
            assert 'saliency_std' not in arrays


def test_rank_correlation_is_measured_against_the_previous_report(tmp_path):
    trainer, _ = make_trainer(tmp_path, epochs=2)
    trainer.run()
    layout = ReportLayout(tmp_path / 'saliency')
    first, second = [layout.read_arrays(r)['saliency']
                     for r in layout.records('vanilla')[1:]]
    assert layout.records('vanilla')[2]['rank_corr'] == pytest.approx(
        mean_rank_correlation(first, second))


def test_list_trigger_and_no_initial_report(tmp_path):
    trainer, _ = make_trainer(tmp_path, epochs=4, trigger=[1, 3],
                              initial=False, tensorboard=False)
    trainer.run()
    epochs = [r['epoch'] for r in ReportLayout(
        tmp_path / 'saliency').records('ig')]
    assert epochs == [1, 3]
    assert not os.path.exists(tmp_path / 'tensorboard')


def test_first_scale_is_kept_across_epochs(tmp_path):
    trainer, _ = make_trainer(tmp_path, epochs=2)
    report = trainer.get_extension('SaliencyReport')
    trainer.run()
    layout = ReportLayout(tmp_path / 'saliency')
    first = layout.read_arrays(layout.records('ig')[0])['saliency']
    expected = [(-numpy.abs(m).max(), numpy.abs(m).max()) for m in first]
    numpy.testing.assert_allclose(report.series['ig'].first_limits,
                                  expected, rtol=1e-6)


def test_bad_entry_fails_at_start_and_names_it(tmp_path):
    predictor = make_trainer(tmp_path, report=False)[1]
    bad = ReportEntry(GradientCalculator(predictor, label_index=-1),
                      TableVisualizer())  # no target: 3 scores per item
    trainer, _ = make_trainer(tmp_path, entries=entries(predictor,
                                                        broken=bad))
    with pytest.raises(SaliencyReportError,
                       match="entry 'broken' failed at start on probe item 0 "
                             r"\(dataset index \d+\): ValueError: .*one value "
                             "per item") as caught:
        trainer.run()
    assert isinstance(caught.value.__cause__, ValueError)
    assert caught.value.entry == 'broken' and caught.value.items == [0]
    assert trainer.updater.iteration == 0


class FlakyVisualizer(TableVisualizer):
    """Fails its next ``fail_next`` calls: an extension sets one at epoch 1,
    just before the report, whose first picture is probe item 0 (so the
    report must draw in the training thread)."""

    fail_next = 0

    def visualize(self, *args, **kwargs):
        if self.fail_next:
            self.fail_next -= 1
            raise RuntimeError('disk on fire')
        return super(FlakyVisualizer, self).visualize(*args, **kwargs)


def add_flaky_report(trainer, predictor, **kwargs):
    grad = GradientCalculator(predictor, target='label', label_index=-1)
    visualizer = FlakyVisualizer()
    trainer.extend(lambda t: setattr(visualizer, 'fail_next',
                                     int(t.updater.epoch == 1)),
                   trigger=(1, 'epoch'),
                   priority=SaliencyReport.priority + 1, name='flaky')
    report = SaliencyReport(iris(), {'flaky': ReportEntry(grad, visualizer)},
                            probe_size=6, background=False, **kwargs)
    trainer.extend(report)
    return report


def test_failure_during_training_is_recorded_not_fatal(tmp_path):
    trainer, predictor = make_trainer(tmp_path, epochs=2, report=False)
    report = add_flaky_report(trainer, predictor)
    with pytest.warns(UserWarning, match='disk on fire'):
        trainer.run()
    records = ReportLayout(tmp_path / 'saliency').records()
    index = report.probe_indices[0]
    assert [r['error'] for r in records] == [
        None, 'could not draw probe item 0 (dataset index {}): '
        'RuntimeError: disk on fire'.format(index), None]
    assert records[1]['failed_items'] == [dict(
        picture='item_00', item=0, index=index,
        error='RuntimeError: disk on fire')]
    assert trainer.updater.epoch == 2


def test_strict_mode_raises(tmp_path):
    trainer, predictor = make_trainer(tmp_path, epochs=2, report=False)
    add_flaky_report(trainer, predictor, strict=True)
    with pytest.raises(SaliencyReportError,
                       match="entry 'flaky' at epoch 1: could not draw probe "
                             r"item 0 \(dataset index \d+\): "
                             'RuntimeError: disk on fire') as caught:
        trainer.run()
    assert isinstance(caught.value.__cause__, RuntimeError)


def test_nan_saliency_is_recorded_with_the_items(tmp_path):
    trainer, predictor = make_trainer(tmp_path, epochs=1, report=False)
    grad = GradientCalculator(predictor, target='label', label_index=-1,
                              eval_fun=lambda x: predictor(x) * (
                                  x[:, :1] ** 0.5 - 1))  # NaN for x0 < 1
    trainer.extend(SaliencyReport(
        (numpy.array([[4, 1, 1, 1], [-1, 1, 1, 1]], numpy.float32),
         numpy.array([0, 1], numpy.int32)),
        {'nan': ReportEntry(grad, TableVisualizer())}))
    with pytest.warns(UserWarning, match="entry 'nan' at epoch 0: saliency "
                                         r'holds NaN in probe item 1 '
                                         r'\(dataset index 1\)'):
        trainer.run()
    errors = [r['error'] for r in ReportLayout(
        tmp_path / 'saliency').records()]
    assert all(e.startswith('saliency holds NaN in probe item 1 (dataset '
                            'index 1)') for e in errors)


def test_entry_names_cannot_escape(tmp_path):
    trainer, predictor = make_trainer(tmp_path / 'run', epochs=1,
                                      report=False)
    grad = GradientCalculator(predictor, target='label', label_index=-1)
    trainer.extend(SaliencyReport(iris(), {
        '../../escaped': ReportEntry(grad, TableVisualizer())},
        probe_size=2, tensorboard=False))
    trainer.run()
    inside = {os.path.relpath(os.path.join(root, f), tmp_path)
              for root, _, files in os.walk(tmp_path) for f in files}
    assert all(p.startswith('run' + os.sep) for p in inside)
    assert any(p.endswith('item_01.png') for p in inside)


@pytest.mark.parametrize('kwargs, message', [
    (dict(entries={}), 'at least one entry'),
    (dict(entries={'': None}), 'non-empty'),
    (dict(trigger=[1, -2]), 'epochs'),
    (dict(step='batch'), 'step'),
    (dict(probe_indices=[0, 500]), r'\[500\]'),
])
def test_bad_configuration(kwargs, message):
    config = dict(entries=entries(make_trainer('.', report=False)[1]))
    config.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=message):
        SaliencyReport(iris(), **config)


def test_a_second_run_into_the_same_folder_keeps_the_first(tmp_path):
    make_trainer(tmp_path, epochs=1)[0].run()
    first = ReportLayout(tmp_path / 'saliency').records()
    stamps = {f: os.stat(tmp_path / 'saliency' / f).st_mtime_ns
              for r in first for f in r['files']}
    make_trainer(tmp_path, epochs=1)[0].run()
    records = ReportLayout(tmp_path / 'saliency').records()
    assert records[:len(first)] == first
    assert {r['session'] for r in records[len(first):]} == {1}
    assert all('-s1' in f for r in records[len(first):] for f in r['files'])
    for f, stamp in stamps.items():
        assert os.stat(tmp_path / 'saliency' / f).st_mtime_ns == stamp
