"""Report folders: a probe per session, two reports in one trainer."""
import gc
import os
import re

import numpy
import pytest
from tensorboard.backend.event_processing.event_accumulator import \
    EventAccumulator

from saliency_ext import FolderInUseError, ReportLayout, SaliencyReport
from saliency_ext.sinks import entry_group
from tests.report.training import entries, iris, make_trainer


def test_every_saved_map_names_the_probe_it_explains(tmp_path):
    probes = []
    for probe in ([0, 50, 100], [10, 20, 30, 40]):  # two runs, two probes
        trainer, _ = make_trainer(tmp_path, epochs=1, probe_indices=probe,
                                  tensorboard=False)
        trainer.run()
        probes.append(probe)
    layout = ReportLayout(tmp_path / 'saliency')
    for record in layout.records():
        session = record['session']
        assert record['probe'] == layout.probe_file(session)
        indices, (x, _) = layout.read_probe(session)
        assert list(indices) == probes[session]
        numpy.testing.assert_array_equal(x, iris()._datasets[0][indices])
        assert len(layout.read_arrays(record)['saliency']) == len(indices)
    assert layout.probe_files() == ['probe.npz', 'probe-s1.npz']


def test_two_reports_of_one_trainer_need_two_folders(tmp_path):
    trainer, predictor = make_trainer(tmp_path, epochs=1)
    trainer.extend(SaliencyReport(iris(), entries(predictor), probe_size=2))
    with pytest.raises(FolderInUseError, match='{} is already written by the '
                       "SaliencyReport 'SaliencyReport' of this process: give "
                       'each SaliencyReport of a trainer its own out_dir'
                       .format(tmp_path / 'saliency')):
        trainer.run()
    assert trainer.updater.iteration == 0
    del trainer
    gc.collect()  # the failed trainer's report lets its folder go

    trainer, predictor = make_trainer(tmp_path, epochs=1)
    trainer.extend(SaliencyReport(iris(), entries(predictor), probe_size=2,
                                  out_dir='saliency_b'))
    with pytest.warns(UserWarning, match='the last run into {} .* ended '
                      'without finishing'.format(re.escape(str(
                          tmp_path / 'saliency')))):
        trainer.run()
    tags = set()
    for out_dir in ('saliency', 'saliency_b'):
        layout = ReportLayout(tmp_path / out_dir)
        records = layout.records(session=layout.last_session())
        assert sorted({r['epoch'] for r in records}) == [0, 1]
        assert all(os.path.isfile(layout.path(f))
                   for r in records for f in r['files'])
        tags |= {r['tag'] for r in records}
    assert tags == {entry_group(n, d) for d in ('saliency', 'saliency_b')
                    for n in entries(predictor)}
    assert entry_group('smooth bayes', 'saliency_b') == \
        'saliency_b.' + ReportLayout.entry_dir('smooth bayes')
    events = EventAccumulator(str(tmp_path / 'tensorboard'),
                              size_guidance={'images': 0})
    events.Reload()
    assert {t.split('/')[0].replace('.items', '')
            for t in events.Tags()['images']} == tags
