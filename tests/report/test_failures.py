"""Write failures during training, injected where the operating system raises
them (``os.write`` failing with ENOSPC for the test's files): recorded in the
index with what failed and which path, kept in memory while the index cannot
be written, warned in the record's words, raised with ``strict=True``, and
never leaving a partial report folder or a cut-off event record."""
import os
import warnings

import pytest
from chainer.training.triggers import ManualScheduleTrigger
from tensorboard.backend.event_processing.event_accumulator import \
    EventAccumulator

from saliency_ext import ReportLayout, SaliencyReportError
from saliency_ext.sinks.events import whole_records
from tests.faults.disk import FullDisk
from tests.report.test_resume import fingerprints, unchanged
from tests.report.training import make_trainer

NAMES = ['vanilla', 'smooth bayes', 'ig']


def full_at(trainer, disk, epoch, room=0):
    """Fills the disk just before the report of ``epoch`` and frees it just
    after (the report writes in the trainer's thread: background=False)."""
    trainer.extend(lambda t: setattr(disk, 'room', room), name='fill',
                   trigger=ManualScheduleTrigger([epoch], 'epoch'),
                   priority=400)
    trainer.extend(lambda t: setattr(disk, 'room', None), name='free',
                   trigger=ManualScheduleTrigger([epoch], 'epoch'),
                   priority=200)


def run_warned(trainer):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        trainer.run()
    return [str(w.message) for w in caught]


def image_steps(logdir, tag):
    events = EventAccumulator(str(logdir), size_guidance={'images': 0})
    events.Reload()
    return [e.step for e in events.Images(tag)]


def test_a_report_whose_files_fail_is_recorded_and_leaves_no_folder(
        tmp_path, monkeypatch):
    trainer, _ = make_trainer(tmp_path, epochs=2, background=False)
    disk = FullDisk(monkeypatch, tmp_path / 'saliency', room=None,
                    only='epoch_0001')
    full_at(trainer, disk, 1, room=4000)  # a few pictures land, then full
    said = run_warned(trainer)
    layout = ReportLayout(tmp_path / 'saliency')
    failed = [r for r in layout.records() if r['epoch'] == 1]
    assert sorted(r['entry'] for r in failed) == sorted(NAMES)
    for record in failed:
        assert record['files'] == []
        [failure] = record['failed']
        assert failure['what'] == 'files'
        assert failure['path'].startswith(str(layout.path(
            record['folder'], 'epoch_0001-iter_00000005')))
        assert 'No space left on device' in failure['error']
        assert record['error'] == 'could not write the files: ' + \
            failure['error']
        # warned in the same words, naming the entry and the epoch
        assert any(m == 'SaliencyReport entry {!r} at epoch 1: {}'.format(
            record['entry'], record['error']) for m in said)
        assert not os.path.exists(layout.path(record['folder'],
                                              'epoch_0001-iter_00000005'))
    # the other reports are whole, in the files and in TensorBoard
    for record in layout.records():
        if record['epoch'] != 1:
            assert record['failed'] == [] and record['files']
            assert all(os.path.isfile(layout.path(f))
                       for f in record['files'])
    assert image_steps(tmp_path / 'tensorboard', 'saliency.ig.items/item_00') == \
        [0, 1, 2]


def test_failed_tensorboard_events_are_recorded_and_cut_back(tmp_path,
                                                             monkeypatch):
    trainer, _ = make_trainer(tmp_path, epochs=2, background=False)
    disk = FullDisk(monkeypatch, tmp_path / 'tensorboard', room=None)
    full_at(trainer, disk, 1, room=30000)  # part of the events lands
    run_warned(trainer)
    records = ReportLayout(tmp_path / 'saliency').records()
    [events] = os.listdir(tmp_path / 'tensorboard')
    path = str(tmp_path / 'tensorboard' / events)
    for record in records:
        if record['epoch'] == 1:
            assert [f['what'] for f in record['failed']] == ['tensorboard']
            assert record['failed'][0]['path'] == path
            assert record['files']  # the files are there
        else:
            assert record['failed'] == []
    assert whole_records(path)[1] == os.path.getsize(path)  # no cut record
    assert image_steps(tmp_path / 'tensorboard', 'saliency.ig.items/item_00') == \
        [0, 2]


def test_records_wait_in_memory_until_the_index_can_be_written(
        tmp_path, monkeypatch):
    trainer, _ = make_trainer(tmp_path, epochs=3, background=False)
    disk = FullDisk(monkeypatch, tmp_path / 'saliency', room=None,
                    only='index.jsonl')
    full_at(trainer, disk, 1, room=100)
    said = run_warned(trainer)
    records = ReportLayout(tmp_path / 'saliency').records()
    assert [(r['epoch'], r['entry']) for r in records] == [
        (e, n) for e in range(4) for n in NAMES]
    assert all(r['failed'] == [] for r in records)
    assert sum('could not write the index' in m for m in said) == 3


def test_strict_raises_a_background_failure_at_the_next_trigger(
        tmp_path, monkeypatch):
    trainer, _ = make_trainer(tmp_path, epochs=4, strict=True,
                              tensorboard=False)
    FullDisk(monkeypatch, tmp_path / 'saliency', only='epoch_0001')
    with pytest.raises(SaliencyReportError, match=r"entry '(vanilla|smooth "
                       r"bayes|ig)' at epoch 1: could not write the files: "
                       r"\[Errno 28\] No space left on device") as raised:
        trainer.run()
    assert raised.value.entry in NAMES
    assert isinstance(raised.value.__cause__, OSError)
    assert trainer.updater.epoch == 2  # raised at the next trigger
    records = ReportLayout(tmp_path / 'saliency').records()
    assert [r['failed'][0]['what'] for r in records if r['epoch'] == 1] == \
        ['files'] * 3


def test_strict_raises_at_finalize_and_leaves_earlier_files_alone(
        tmp_path, monkeypatch):
    make_trainer(tmp_path, epochs=1, tensorboard=False)[0].run()
    before = fingerprints(tmp_path)
    trainer, _ = make_trainer(tmp_path, epochs=1, strict=True,
                              tensorboard=False)
    disk = FullDisk(monkeypatch, tmp_path, only='epoch_0001')
    # the last report fails on the writer thread: finalize raises it
    with pytest.raises(SaliencyReportError, match='at epoch 1'):
        trainer.run()
    assert trainer.updater.epoch == 1
    assert unchanged(before, fingerprints(tmp_path)) == []
    assert disk.failures and all('-s1' in p for p in disk.failures)


def test_a_disk_full_for_good_never_stops_training(tmp_path, monkeypatch):
    trainer, _ = make_trainer(tmp_path, epochs=3, log=False)
    disk = FullDisk(monkeypatch, tmp_path, room=None)
    trainer.extend(lambda t: setattr(disk, 'room', 0), name='fill',
                   trigger=ManualScheduleTrigger([1], 'epoch'), priority=400)
    said = run_warned(trainer)
    assert trainer.updater.epoch == 3
    assert any('index record(s) could not be written and are lost' in m
               for m in said)
    layout = ReportLayout(tmp_path / 'saliency')
    records = layout.records()
    assert {r['epoch'] for r in records} <= {0}
    # what the index lists is whole; no other report folder stays
    listed = {os.path.dirname(f) for r in records for f in r['files']}
    for record in records:
        assert all(os.path.isfile(layout.path(f)) for f in record['files'])
    on_disk = {os.path.join(name, step) for name in os.listdir(layout.root)
               if os.path.isdir(layout.path(name))
               for step in os.listdir(layout.path(name))}
    assert on_disk == listed
