"""The replay of a SaliencyReport over the snapshots of a short real training
run on iris (saliency_ext/replay.py, scripts/saliency_replay.py)."""
import os
import pickle
import shutil
import signal
import subprocess
import sys

import chainer
import chainer.links as L
import numpy
import pytest
from chainer import training
from chainer.training import extensions
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import \
    EventAccumulator

import saliency_ext.replay.runner as replay_module
from saliency_ext.replay import evolution
from saliency_ext import (GradientCalculator, IntegratedGradientsCalculator,
                          ReportEntry, SaliencyReport, TableVisualizer)
from saliency_ext.metrics import mean_rank_correlation
from saliency_ext.replay.cli import main
from saliency_ext.replay import (SnapshotError, load_model_params,
                                 order_snapshots, replay, steps_from_name)
from saliency_ext.sinks.events import event_pb2, frame, whole_records
from saliency_ext.sinks.layout import ReportLayout
from tests.report.training import MLP, iris

Event = event_pb2().Event

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
CONFIG = '{}:replay_config'.format(os.path.abspath(__file__))
ENTRIES = ('vanilla', 'ig')
EPOCHS = 3


def make_report(predictor, **kwargs):
    grad = GradientCalculator(predictor, target='label', label_index=-1)
    ig = IntegratedGradientsCalculator(predictor, target='label',
                                       label_index=-1, steps=8)
    entries = {'vanilla': ReportEntry(grad, TableVisualizer(),
                                      include_mean=True),
               'ig': ReportEntry(ig, TableVisualizer(), scale='first')}
    return SaliencyReport(iris(), entries, probe_size=4, seed=1, **kwargs)


def replay_config():
    """What ``--config`` names: (the model the calculators explain, the
    report), as the examples' ``replay_config``."""
    predictor = MLP()
    return predictor, make_report(predictor)


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """A 3-epoch run with trainer and model-only snapshots at every epoch
    and the report in training; returns its out folder."""
    out = tmp_path_factory.mktemp('train')
    numpy.random.seed(0)
    predictor = MLP()
    model = L.Classifier(predictor)
    optimizer = chainer.optimizers.Adam()
    optimizer.setup(model)
    iterator = chainer.iterators.SerialIterator(iris(), 32)
    trainer = training.Trainer(training.StandardUpdater(iterator, optimizer),
                               (EPOCHS, 'epoch'), out=str(out))
    trainer.extend(extensions.snapshot(
        filename='snapshot_epoch_{.updater.epoch}'), trigger=(1, 'epoch'))
    trainer.extend(extensions.snapshot_object(
        predictor, 'model_epoch_{0.updater.epoch}_iter_{0.updater.iteration}'),
        trigger=(1, 'epoch'))
    trainer.extend(make_report(predictor, tensorboard=False))
    trainer.run()
    return out


class Planted(object):
    """A pickle that makes a folder when it is unpickled."""

    def __init__(self, folder):
        self.folder = str(folder)

    def __reduce__(self):
        return os.mkdir, (self.folder,)


def run(*args):
    return main([str(a) for a in args] + ['--config', CONFIG,
                                          '--no-progress'])


def steps(layout, name):
    return [(r['epoch'], r['iteration']) for r in layout.records(name)]


def size(path):
    with Image.open(path) as image:
        return image.size


def image_steps(logdir):
    events = EventAccumulator(str(logdir), size_guidance={'images': 0})
    events.Reload()
    return {tag: [e.step for e in events.Images(tag)]
            for tag in events.Tags()['images']}


def test_replay_writes_what_the_report_wrote_in_training(trained, tmp_path,
                                                         capsys):
    assert run(trained, '--out', tmp_path) == 0
    assert '3 snapshots replayed, 0 skipped (already done), 0 failed' in \
        capsys.readouterr().out
    training_layout = ReportLayout(trained / 'saliency')
    layout = ReportLayout(tmp_path / 'saliency')
    numpy.testing.assert_array_equal(layout.read_probe()[0],
                                     training_layout.read_probe()[0])
    for name in ENTRIES:
        in_training = [r for r in training_layout.records(name)
                       if r['epoch'] > 0]
        replayed = layout.records(name)
        assert steps(layout, name) == [(e, r['iteration']) for e, r in zip(
            range(1, EPOCHS + 1), in_training)]
        for ours, theirs in zip(replayed, in_training):
            assert ours['files'] == theirs['files']  # the same layout
            assert ours['settings'] == theirs['settings']
            assert ours['error'] is None
            # deterministic methods: the same maps as in training
            numpy.testing.assert_allclose(
                layout.read_arrays(ours)['saliency'],
                training_layout.read_arrays(theirs)['saliency'],
                rtol=1e-6, atol=1e-9)

    # TensorBoard: a series over training, at the snapshots' epochs
    tags = image_steps(tmp_path / 'tensorboard')
    assert set(tags) == {'saliency.{}.items/item_{:02d}'.format(n, i)
                         for n in ENTRIES for i in range(4)} | {
                             'saliency.{}/{}'.format(n, picture)
                             for n in ENTRIES
                             for picture in ('overview', 'history')} | {
                             'saliency.vanilla.items/all_items_mean'}
    assert all(s == [1, 2, 3] for s in tags.values())

    # evolution strips: three frames side by side, labelled above, under a
    # caption and over a colour legend
    for name in ENTRIES:
        for picture in ['item_{:02d}'.format(i) for i in range(4)]:
            folder = tmp_path / 'saliency' / os.path.dirname(
                layout.records(name)[0]['files'][0])
            strip = size(tmp_path / 'saliency' / name / 'evolution' /
                         (picture + '.png'))
            frame = size(folder / (picture + '.png'))  # the same width
            assert strip[0] == 3 * frame[0] + 2 * evolution.GAP
            assert strip[1] > frame[1]
    assert os.path.isfile(tmp_path / 'saliency' / 'vanilla' / 'evolution' /
                          'mean.png')


def test_model_only_snapshots_take_their_steps_from_the_name(trained,
                                                             tmp_path):
    assert run(trained, '--pattern', 'model_*', '--out', tmp_path,
               '--no-tensorboard', '--no-evolution', '--device', '@numpy') == 0
    training_layout = ReportLayout(trained / 'saliency')
    layout = ReportLayout(tmp_path / 'saliency')
    assert steps(layout, 'ig') == steps(training_layout, 'ig')[1:]
    numpy.testing.assert_allclose(
        layout.read_arrays(layout.records('ig')[-1])['saliency'],
        training_layout.read_arrays(training_layout.records('ig')[-1])[
            'saliency'], rtol=1e-6, atol=1e-9)
    assert not os.path.exists(tmp_path / 'tensorboard')


def test_bad_snapshots_are_named_and_the_others_replayed(trained, tmp_path,
                                                         capsys):
    snapshots = tmp_path / 'snapshots'
    snapshots.mkdir()
    for epoch in range(1, EPOCHS + 1):
        shutil.copy(trained / 'snapshot_epoch_{}'.format(epoch), snapshots)
    good = (trained / 'snapshot_epoch_2').read_bytes()
    (snapshots / 'snapshot_truncated').write_bytes(good[:len(good) // 2])
    (snapshots / 'snapshot_random').write_bytes(
        numpy.random.RandomState(0).bytes(4096))
    planted = tmp_path / 'planted'
    (snapshots / 'snapshot_pickle').write_bytes(pickle.dumps(Planted(planted)))
    with numpy.load(trained / 'snapshot_epoch_3') as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays['updater/iteration'] = numpy.array(99)
    arrays['updater/iterator:main/epoch'] = numpy.array(20)
    arrays['updater/model:main/predictor/l1/W'] = numpy.zeros((16, 5),
                                                              numpy.float32)
    with open(snapshots / 'snapshot_wrong_shape', 'wb') as f:
        numpy.savez(f, **arrays)

    status = run(snapshots, tmp_path / 'snapshot_gone', '--out',
                 tmp_path / 'out')
    assert status == 1
    captured = capsys.readouterr()
    said = captured.out + captured.err
    assert 'snapshot_truncated: not a readable snapshot' in said
    assert 'snapshot_random: not a readable snapshot' in said
    assert 'snapshot_gone: no such file' in said
    assert "snapshot_wrong_shape: parameter 'l1/W'" in said
    assert 'shape (16, 5) in the snapshot but (16, 4) in the model' in said
    assert 'snapshot_pickle: not a readable snapshot' in said
    assert not planted.exists()  # no pickled code ran
    assert '3 snapshots replayed, 0 skipped (already done), 5 failed' in said
    layout = ReportLayout(tmp_path / 'out' / 'saliency')
    for name in ENTRIES:
        assert [e for e, _ in steps(layout, name)] == [1, 2, 3]


def test_an_interrupted_replay_is_resumed(trained, tmp_path, monkeypatch,
                                          capsys):
    calls = []

    def interrupted(*args, **kwargs):
        calls.append(args)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return load_model_params(*args, **kwargs)

    monkeypatch.setattr(replay_module, 'load_model_params', interrupted)
    assert run(trained, '--out', tmp_path) == 130
    monkeypatch.undo()
    layout = ReportLayout(tmp_path / 'saliency')
    for name in ENTRIES:
        assert [e for e, _ in steps(layout, name)] == [1, 2]
    capsys.readouterr()

    # a replay is there: refused unless asked to resume or overwrite
    assert run(trained, '--out', tmp_path) == 2
    assert 'already holds a replay: pass --overwrite' in \
        capsys.readouterr().err

    assert run(trained, '--out', tmp_path, '--resume') == 0
    assert '1 snapshot replayed, 2 skipped (already done)' in \
        capsys.readouterr().out
    for name in ENTRIES:  # done once each, none repeated
        assert [e for e, _ in steps(layout, name)] == [1, 2, 3]
    # the series goes on: epoch 3 moved since epoch 2 of the first run
    records = layout.records('ig')
    maps = [layout.read_arrays(r)['saliency'] for r in records]
    assert records[2]['rank_corr'] == pytest.approx(
        mean_rank_correlation(maps[1], maps[2]))
    assert all(s == [1, 2, 3] for s in image_steps(
        tmp_path / 'tensorboard').values())

    # overwrite: the old replay and its events are gone, a fresh one made
    assert run(trained, '--out', tmp_path, '--overwrite') == 0
    for name in ENTRIES:
        assert [e for e, _ in steps(layout, name)] == [1, 2, 3]
    assert len(os.listdir(tmp_path / 'tensorboard')) == 1
    assert all(s == [1, 2, 3] for s in image_steps(
        tmp_path / 'tensorboard').values())


def test_resume_takes_an_entry_whose_calculator_keeps_run_state(
        trained, tmp_path):
    predictor = MLP()

    def report():
        ig = IntegratedGradientsCalculator(predictor, target='label',
                                           label_index=-1, steps=4,
                                           record_delta=True)
        return SaliencyReport(iris(), {'ig': ReportEntry(
            ig, TableVisualizer())}, probe_size=4, seed=1)

    snapshots, _ = order_snapshots(
        [str(trained / 'snapshot_epoch_{}'.format(e)) for e in (1, 2, 3)])
    assert replay(predictor, report(), snapshots[:2], tmp_path,
                  tensorboard=False, evolution=False).ok
    summary = replay(predictor, report(), snapshots, tmp_path,
                     tensorboard=False, evolution=False, resume=True)
    assert summary.ok and len(summary.done) == 1
    assert len(summary.skipped) == 2
    layout = ReportLayout(tmp_path / 'saliency')
    assert [r['epoch'] for r in layout.records('ig')] == [1, 2, 3]


def test_a_resumed_replay_measures_against_its_first_snapshot(trained,
                                                              tmp_path):
    predictor = MLP()

    def report():
        ig = IntegratedGradientsCalculator(predictor, target='label',
                                           label_index=-1, steps=4)
        return SaliencyReport(iris(), {'ig': ReportEntry(
            ig, TableVisualizer(), metrics=('deletion', 'randomization'))},
            probe_size=4, seed=1)

    snapshots, _ = order_snapshots(
        [str(trained / 'snapshot_epoch_{}'.format(e)) for e in (1, 2, 3)])
    assert replay(predictor, report(), snapshots[:1], tmp_path,
                  tensorboard=False, evolution=False).ok
    assert replay(predictor, report(), snapshots, tmp_path,
                  tensorboard=False, evolution=False, resume=True).ok
    layout = ReportLayout(tmp_path / 'saliency')
    records = layout.records('ig')
    maps = [layout.read_arrays(r)['saliency'] for r in records]
    assert [r['metrics']['corr_to_init'] for r in records] == pytest.approx(
        [1.] + [mean_rank_correlation(maps[0], m) for m in maps[1:]])
    assert all(r['metrics']['deletion_auc'] is not None for r in records)


def test_a_report_written_in_training_is_never_replaced(trained, capsys):
    index = (trained / 'saliency' / 'index.jsonl').read_bytes()
    assert run(trained, '--out', trained, '--overwrite') == 2
    assert 'written during training, not a replay' in capsys.readouterr().err
    assert (trained / 'saliency' / 'index.jsonl').read_bytes() == index


def test_snapshot_steps_and_model_prefix(trained, tmp_path):
    paths = [str(trained / n) for n in ('snapshot_epoch_3', 'model_epoch_1_'
                                        'iter_5', 'snapshot_epoch_2')]
    snapshots, errors = order_snapshots(paths)
    assert not errors
    assert [(s.epoch, s.iteration, s.trainer) for s in snapshots] == [
        (1, 5, False), (2, 10, True), (3, 15, True)]
    assert steps_from_name('snapshot_iter_1200', iterations_per_epoch=100) \
        == (12, 1200)
    assert steps_from_name('m-7-300', pattern=r'(?P<epoch>\d+)-'
                           r'(?P<iteration>\d+)') == (7, 300)
    with pytest.raises(SnapshotError, match='model_final.*iteration'):
        steps_from_name('out/model_final_epoch_3')

    # the prefix is found: the predictor, or the whole Classifier
    classifier = L.Classifier(MLP())
    assert load_model_params(classifier.predictor, paths[0]) == \
        'updater/model:main/predictor/'
    assert load_model_params(classifier, paths[0]) == 'updater/model:main/'
    with numpy.load(paths[0]) as npz:
        numpy.testing.assert_array_equal(
            classifier.predictor.l2.b.array,
            npz['updater/model:main/predictor/l2/b'])
    with pytest.raises(SnapshotError, match="model_epoch_1_iter_5: parameter "
                       r"'W' \('l1/W'\) has shape \(16, 4\) in the snapshot "
                       r"but \(16, 5\) in the model"):
        load_model_params(L.Linear(5, 16), paths[1])
    other = chainer.Sequential(L.Linear(4, 3))
    with pytest.raises(SnapshotError, match="model_epoch_1_iter_5: has no "
                       "'0/W' for the model's parameter '0/W'.*'l1/W'"):
        load_model_params(other, paths[1])


def test_the_script_runs(tmp_path):
    done = subprocess.run(
        [sys.executable, os.path.join(ROOT, 'scripts', 'saliency_replay.py'),
         '--help'], capture_output=True, text=True, cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert '--resume' in done.stdout and '--device' in done.stdout


@pytest.fixture
def alarm():
    """Fails the test instead of hanging for good."""
    def timeout(*args):
        raise TimeoutError('the replay hung')
    previous = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(120)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def test_only_regular_files_are_read_each_bad_one_named_once(
        trained, tmp_path, capsys, alarm):
    snapshots = tmp_path / 'snapshots'
    snapshots.mkdir()
    for epoch in range(1, EPOCHS + 1):
        shutil.copy(trained / 'snapshot_epoch_{}'.format(epoch), snapshots)
    os.mkfifo(snapshots / 'snapshot_fifo')
    (snapshots / 'snapshot_folder').mkdir()
    os.mkfifo(tmp_path / 'named_fifo')
    (snapshots / 'snapshot_broken').write_bytes(b'not a snapshot')
    status = run(snapshots, tmp_path / 'named_fifo', '/dev/null', '--out',
                 tmp_path / 'out', '--no-tensorboard', '--no-evolution')
    captured = capsys.readouterr()
    said = captured.out + captured.err
    assert status == 1
    assert 'snapshot_fifo: named like a snapshot but a named pipe (FIFO)' \
        in said
    assert 'snapshot_folder: named like a snapshot but a folder' in said
    assert 'named_fifo: a named pipe (FIFO), not a snapshot file' in said
    assert '/dev/null: a device, not a snapshot file' in said
    for name in ('snapshot_fifo', 'snapshot_folder', 'named_fifo',
                 '/dev/null', 'snapshot_broken'):
        assert said.count(name) == 1, name
    assert '3 snapshots replayed, 0 skipped (already done), 5 failed' in said


def test_of_two_snapshots_of_one_step_the_one_that_loads_is_kept(
        trained, tmp_path, capsys):
    snapshots = tmp_path / 'snapshots'
    snapshots.mkdir()
    for step in ('epoch_1_iter_5', 'epoch_2_iter_10', 'epoch_3_iter_15'):
        shutil.copy(trained / ('model_' + step),
                    snapshots / 'model_{}.npz'.format(step))
    # another model's snapshot of step 2 that sorts first and cannot load
    other = str(snapshots / 'a_model_epoch_2_iter_10.npz')
    chainer.serializers.save_npz(other, L.Linear(5, 3))
    # and a trainer snapshot of step 3, which is preferred and loads
    shutil.copy(trained / 'snapshot_epoch_3', snapshots)
    status = run(snapshots, '--out', tmp_path / 'out', '--no-tensorboard',
                 '--no-evolution')
    captured = capsys.readouterr()
    said = captured.out + captured.err
    assert status == 1  # the file that does not load is a failure
    assert said.count('a_model_epoch_2_iter_10.npz') == 1
    assert "a_model_epoch_2_iter_10.npz: has no 'l1/W'" in said
    assert said.count('model_epoch_3_iter_15.npz') == 1
    assert ('model_epoch_3_iter_15.npz: taken at the same epoch 3 and '
            'iteration 15 as ') in said
    assert '3 snapshots replayed, 0 skipped (already done), 1 failed' in said
    layout = ReportLayout(tmp_path / 'out' / 'saliency')
    for name in ENTRIES:
        assert steps(layout, name) == [(1, 5), (2, 10), (3, 15)]


def test_resume_makes_again_the_steps_whose_pictures_are_missing(
        trained, tmp_path, capsys):
    assert run(trained, '--out', tmp_path) == 0
    board = tmp_path / 'tensorboard'
    [events] = os.listdir(board)
    # a kill before the events were written through: step 3's are gone
    records = whole_records(str(board / events))[0]
    steps_of = [Event.FromString(r).step for r in records]
    kept = b''.join(frame(r) for r, s in zip(records, steps_of) if s != 3)
    (board / events).write_bytes(kept)
    capsys.readouterr()
    assert run(trained, '--out', tmp_path, '--resume') == 0
    assert '1 snapshot replayed, 2 skipped (already done)' in \
        capsys.readouterr().out
    assert all(s == [1, 2, 3] for s in image_steps(board).values())
    layout = ReportLayout(tmp_path / 'saliency')
    assert [(r['epoch'], r['session']) for r in layout.records('ig')] == [
        (1, 0), (2, 0), (3, 0), (3, 1)]
