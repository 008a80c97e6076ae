"""Hostile names: an out_dir that would lead outside the trainer's out, entry
names that would take the report's own files, that cannot be encoded, that
hold separators, dots, controls or any script. Nothing is written outside
``trainer.out``, no record is lost, and every record names its entry's folder
and TensorBoard tag."""
import os

import pytest
from tensorboard.backend.event_processing.event_accumulator import \
    EventAccumulator

from saliency_ext import (GradientCalculator, ReportEntry, ReportLayout,
                          SaliencyReport, TableVisualizer)
from tests.report.training import iris, make_trainer

OUTSIDE = ['../x', '/etc/x', 'a/../../x', '..', 'a/..', '.', './', '',
           'x\0y', '..\\x']
ROOT_FILES = ['index.jsonl', 'INDEX.JSONL', 'probe.npz', 'probe-s1.npz',
              'replay.json']
NASTY = ['../../escaped', 'a/b', '/etc/passwd', '.', '..', '.hidden',
         'x' * 300, 'Sättigung', '日本語', 'tab\tand\nline', 'nul\0name',
         'IG (25 steps)']


def report(predictor, names, **kwargs):
    grad = GradientCalculator(predictor, target='label', label_index=-1)
    return SaliencyReport(iris(), {n: ReportEntry(grad, TableVisualizer())
                                   for n in names}, probe_size=2, **kwargs)


def files_under(folder):
    return {os.path.join(root, f) for root, _, files in os.walk(folder)
            for f in files}


@pytest.mark.parametrize('out_dir', OUTSIDE)
def test_an_out_dir_outside_the_trainers_out_is_refused(out_dir):
    predictor = make_trainer('.', report=False)[1]
    with pytest.raises(ValueError, match='out_dir'):
        report(predictor, ['a'], out_dir=out_dir)


def test_an_entry_name_that_cannot_be_encoded_is_refused():
    predictor = make_trainer('.', report=False)[1]
    with pytest.raises(ValueError, match=r"'\\udc80' is not valid Unicode"):
        report(predictor, ['\udc80'])


def test_names_of_the_reports_own_files_and_nasty_names(tmp_path):
    out = tmp_path / 'run'
    names = ROOT_FILES[:1] + ROOT_FILES[2:] + NASTY  # INDEX.JSONL: below
    for run in range(2):  # session 1 writes probe-s1.npz
        trainer, predictor = make_trainer(out, epochs=1, report=False)
        trainer.extend(report(predictor, names, out_dir='nested/report'))
        trainer.run()
    # nothing outside the trainer's out
    assert all(p.startswith(str(out) + os.sep) for p in files_under(tmp_path))
    layout = ReportLayout(out / 'nested' / 'report')
    records = layout.records()
    assert sorted((r['entry'], r['session']) for r in records if
                  r['epoch'] == 1) == sorted((n, s) for n in names
                                             for s in (0, 1))
    for record in records:
        assert record['folder'] == layout.entry_dir(record['entry'])
        assert record['tag'] == 'nested.report.' + record['folder']
        assert record['folder'] not in ROOT_FILES
        assert all(os.path.isfile(layout.path(f)) for f in record['files'])
    assert len({r['folder'] for r in records}) == len(names)
    assert layout.probe_files() == ['probe.npz', 'probe-s1.npz']
    assert list(layout.read_probe(0)[0]) == list(layout.read_probe(1)[0])
    events = EventAccumulator(str(out / 'tensorboard'),
                              size_guidance={'images': 0})
    events.Reload()
    assert {tag.split('/')[0].replace('.items', '')
            for tag in events.Tags()['images']} == {r['tag'] for r in records}


def test_names_equal_but_for_case_get_two_folders(tmp_path):
    trainer, predictor = make_trainer(tmp_path, epochs=1, report=False)
    trainer.extend(report(predictor, ['index.jsonl', 'INDEX.JSONL', 'A',
                                      'a'], tensorboard=False))
    trainer.run()
    layout = ReportLayout(tmp_path / 'saliency')
    folders = {r['entry']: r['folder'] for r in layout.records()}
    assert folders['A'] == 'A' and folders['a'] == 'a'
    assert 'index.jsonl' not in folders.values()
    assert 'INDEX.JSONL' not in folders.values()
