"""An entry's series across reports, snapshots and resumed runs."""
import json
import warnings

import chainer
import numpy
import pytest

from saliency_ext import (EntrySeries, GradientCalculator, ReportEntry,
                          ReportLayout, SaliencyReport, TableVisualizer)
from tests.report.training import (assert_series_continues, entries, iris,
                                   make_trainer)

STATE = 'extensions/SaliencyReport/state'


def test_a_snapshot_keeps_the_report_state_as_one_key(tmp_path):
    make_trainer(tmp_path, epochs=2, snapshot=2)[0].run()
    with numpy.load(tmp_path / 'snapshot_epoch_2') as snapshot:
        keys = [k for k in snapshot.files
                if k.startswith('extensions/SaliencyReport/')]
        state = json.loads(str(snapshot[STATE]))
    assert keys == [STATE]
    assert sorted(state['entries']) == ['ig', 'smooth bayes', 'vanilla']
    assert state['last_epoch'] == 2
    assert state['entries']['vanilla']['last'][:1] == [2]
    # scale='first' keeps the first report's limits; the others have none
    first = ReportLayout(tmp_path / 'saliency').records('ig')[0]
    maps = ReportLayout(tmp_path / 'saliency').read_arrays(first)['saliency']
    numpy.testing.assert_allclose(
        state['entries']['ig']['first_limits'],
        [(-numpy.abs(m).max(), numpy.abs(m).max()) for m in maps], rtol=1e-6)
    assert state['entries']['vanilla']['first_limits'] is None


def test_resume_with_entries_added_and_removed(tmp_path):
    make_trainer(tmp_path, epochs=4, snapshot=2)[0].run()
    resumed, predictor = make_trainer(tmp_path, epochs=4, report=False)
    grad = GradientCalculator(predictor, target='label', label_index=-1)
    kept = entries(predictor)
    chosen = {'vanilla': kept['vanilla'], 'ig': kept['ig'],
              'added': ReportEntry(grad, TableVisualizer())}
    resumed.extend(SaliencyReport(iris(), chosen, probe_size=6, seed=1))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        chainer.serializers.load_npz(str(tmp_path / 'snapshot_epoch_2'),
                                     resumed)
    said = [str(w.message) for w in caught]
    assert any("'smooth bayes' is in the snapshot but not in this report"
               in m for m in said)
    assert any("'added' is new since the snapshot" in m for m in said)
    resumed.run()

    layout = ReportLayout(tmp_path / 'saliency')
    new = [r for r in layout.records() if r['session'] == 1]
    assert sorted((r['entry'], r['epoch']) for r in new) == sorted(
        (n, e) for n in chosen for e in (3, 4))
    added = [r for r in new if r['entry'] == 'added']
    assert added[0]['rank_corr'] is None  # a new series starts
    assert added[1]['rank_corr'] is not None
    # a kept series goes on from epoch 2, the last report before the
    # snapshot; its first scale is the one of session 0
    assert_series_continues(layout, new)
    report = resumed.get_extension('SaliencyReport')
    first = layout.read_arrays(layout.records('ig', session=0)[0])
    numpy.testing.assert_allclose(
        report.series['ig'].first_limits,
        [(-numpy.abs(m).max(), numpy.abs(m).max())
         for m in first['saliency']], rtol=1e-6)


def test_the_series_draws_with_the_entry_scale():
    predictor = make_trainer('.', report=False)[1]
    grad = GradientCalculator(predictor, target='label', label_index=-1)
    maps = numpy.array([[1., -2.], [0.5, 0.25]])
    fixed = EntrySeries('f', ReportEntry(grad, TableVisualizer(),
                                         scale=(-3, 3)), [0, 1], [None] * 2)
    numpy.testing.assert_array_equal(fixed.limits(maps), [[-3, 3], [-3, 3]])
    first = EntrySeries('f', ReportEntry(grad, TableVisualizer(),
                                         scale='first'), [0, 1], [None] * 2)
    assert first.advance(maps, 0, 0, 0) is None
    assert first.advance(maps * 10, 1, 5, 0) == pytest.approx(1.0)
    numpy.testing.assert_array_equal(first.limits(maps * 10),
                                     [[-2, 2], [0, 0.5]])
    own = EntrySeries('o', ReportEntry(grad, TableVisualizer()), [0, 1],
                      [None] * 2)
    assert own.limits(maps) is None
    numpy.testing.assert_array_equal(
        own.shared_limits([maps, maps * 2]), [[-4, 4], [0, 1]])
