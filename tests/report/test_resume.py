"""Resuming a run with serializers.load_npz, snapshot(autoload=True) or
ChainerMN's multi-node snapshot (whose autoload runs after the report's
initialize): the series goes on in a new session, never with a report of the
untrained model, and no earlier file is rewritten."""
import hashlib
import os

import pytest
from chainer.training.triggers import ManualScheduleTrigger

from saliency_ext import ReportLayout, SaliencyReport
from tests.report.training import (add_resume, assert_series_continues,
                                   entries, iris, make_trainer)

NAMES = ['vanilla', 'smooth bayes', 'ig']


def fingerprints(out):
    """Every file the report wrote (contents, inode, mtime) but the index and
    the lock, which change by design."""
    found = {}
    for folder in ('saliency', 'tensorboard'):
        for root, _, files in os.walk(os.path.join(out, folder)):
            for name in files:
                path = os.path.join(root, name)
                if name in ('index.jsonl', '.lock'):
                    continue
                with open(path, 'rb') as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
                stat = os.stat(path)
                found[os.path.relpath(path, out)] = (digest, stat.st_ino,
                                                     stat.st_mtime_ns)
    return found


def unchanged(before, after):
    return [path for path, print_ in before.items()
            if after.get(path) != print_]


@pytest.mark.parametrize('style', ['load_npz', 'autoload',
                                   'chainermn_snapshot'])
def test_a_resumed_run_goes_on_and_rewrites_nothing(tmp_path, style):
    # reports at epochs 0-4, the one snapshot at epoch 2: as a run killed
    # after epoch 4's report, its last snapshot taken at epoch 2
    first, _ = make_trainer(tmp_path, epochs=4)
    add_resume(first, style, ManualScheduleTrigger([2], 'epoch'))
    first.run()
    layout = ReportLayout(tmp_path / 'saliency')
    assert sorted({r['epoch'] for r in layout.records()}) == [0, 1, 2, 3, 4]
    before = fingerprints(tmp_path)
    index = (tmp_path / 'saliency' / 'index.jsonl').read_bytes()

    resumed, _ = make_trainer(tmp_path, epochs=5, seed=5)
    add_resume(resumed, style, ManualScheduleTrigger([2], 'epoch'))
    resumed.run()
    assert (tmp_path / 'saliency' / 'index.jsonl').read_bytes().startswith(
        index)
    new = layout.records(session=1)
    # no report of the untrained model, no epoch reported twice in session 1
    assert sorted((r['entry'], r['epoch']) for r in new) == sorted(
        (n, e) for n in NAMES for e in (3, 4, 5))
    assert unchanged(before, fingerprints(tmp_path)) == []
    # the series continues from epoch 2, the last report before the snapshot
    assert_series_continues(layout, new)
    assert all(r['probe'] == 'probe-s1.npz' for r in new)


def test_called_before_training_the_first_report_is_written_once(tmp_path):
    trainer, predictor = make_trainer(tmp_path, epochs=1, report=False)
    trainer.extend(SaliencyReport(iris(), entries(predictor), probe_size=3),
                   call_before_training=True)
    trainer.run()
    epochs = [r['epoch'] for r in ReportLayout(
        tmp_path / 'saliency').records('ig')]
    assert epochs == [0, 1]


def test_a_run_that_stops_before_its_first_call_still_lists_epoch_0(
        tmp_path):
    trainer, _ = make_trainer(tmp_path, epochs=1, trigger=(5, 'epoch'))
    trainer.run()
    records = ReportLayout(tmp_path / 'saliency').records()
    assert sorted({r['epoch'] for r in records}) == [0]
    assert all(os.path.isfile(tmp_path / 'saliency' / f)
               for r in records for f in r['files'])
