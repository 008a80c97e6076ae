"""What a user watching the report sees in TensorBoard, read back with
TensorBoard's own EventAccumulator, and what drawing costs."""
import io
import ctypes
import os
import platform
import signal
import time

import chainer
import numpy
import pytest
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import \
    EventAccumulator

from saliency_ext import (GradientCalculator, ReportEntry, ReportLayout,
                          SaliencyReport, TableVisualizer)
from saliency_ext.report.background import BackgroundWriter
from saliency_ext.report.pictures import item_texts
from saliency_ext.sinks import storage
from saliency_ext.visualizers import compose
from tests.report.training import entries, iris, make_trainer


def events(out):
    accumulator = EventAccumulator(str(out / 'tensorboard'), size_guidance={
        'images': 0, 'scalars': 0})
    accumulator.Reload()
    return accumulator


def decoded(event):
    with Image.open(io.BytesIO(event.encoded_image_string)) as png:
        return numpy.asarray(png.convert('RGB'))


@pytest.fixture(scope='module')
def watched(tmp_path_factory):
    """Five reports of three entries over 12 probe items, the history
    showing at most 3 frames."""
    out = tmp_path_factory.mktemp('watched')
    trainer, _ = make_trainer(out, epochs=4, probe_size=12,
                              history_frames=3)
    trainer.run()
    return out, events(out), ReportLayout(out / 'saliency'), \
        trainer.get_extension('SaliencyReport')


def test_one_card_group_per_entry_with_its_scalars(watched):
    _, accumulator, _, _ = watched
    tags = accumulator.Tags()
    groups = {tag.split('/')[0] for tag in tags['images'] + tags['scalars']}
    names = ['vanilla', storage.safe_name('smooth bayes'), 'ig']
    assert groups == {'saliency.' + n for n in names} | {
        'saliency.{}.items'.format(n) for n in names}
    ig = sorted(t for t in tags['images'] + tags['scalars']
                if t.startswith('saliency.ig/'))
    assert ig == ['saliency.ig/history', 'saliency.ig/overview',
                  'saliency.ig/rank_corr', 'saliency.ig/seconds']
    assert [e.step for e in accumulator.Scalars('saliency.ig/seconds')] == \
        [0, 1, 2, 3, 4]


def test_item_cards_sort_in_item_order_the_mean_first(watched):
    _, accumulator, _, _ = watched
    items = sorted(t.split('/')[1] for t in accumulator.Tags()['images']
                   if t.startswith('saliency.vanilla.items/'))
    assert items == ['all_items_mean'] + [
        'item_{:02d}'.format(i) for i in range(12)]


def test_history_at_the_last_step_shows_every_report(watched):
    out, accumulator, layout, _ = watched
    history = accumulator.Images('saliency.ig/history')
    assert [e.step for e in history] == [0, 1, 2, 3, 4]
    heights = [e.height for e in history]
    # one frame more per report until 3 frames, then thinned: 0, 2, 4
    assert heights[1] - heights[0] == heights[2] - heights[1] > 0
    assert heights[3] == heights[2] and heights[4] == heights[2]
    # the same picture as the last report's file
    last = layout.records('ig')[-1]
    path = [f for f in last['files'] if f.endswith('history.png')][0]
    with Image.open(layout.path(path)) as png:
        numpy.testing.assert_array_equal(numpy.asarray(png.convert('RGB')),
                                         decoded(history[-1]))


def test_every_picture_carries_its_caption_and_legend(watched):
    out, accumulator, layout, report = watched
    record = layout.records('vanilla')[-1]
    texts = ['vanilla \u00b7 epoch 4']
    # the model is as it was at the last report, after the last epoch
    item = item_texts(report.probe_indices, report.entries[
        'vanilla'].calculator.explain_outputs(report.probe_examples, 12))[3]
    assert item.startswith('item 03 \u00b7 index {} \u00b7 label {} \u00b7 '
                           'class {} score '.format(
                               report.probe_indices[3],
                               report.probe_examples[3][1],
                               report.probe_examples[3][1]))
    picture = decoded(accumulator.Images('saliency.vanilla.items/item_03')[-1])
    caption = compose.text_band(texts + [item], picture.shape[1])
    numpy.testing.assert_array_equal(picture[:caption.shape[0]], caption)
    legend_rows = picture[-60:]
    red = (legend_rows[..., 0] > 200) & (legend_rows[..., 1] < 80)
    blue = (legend_rows[..., 2] > 200) & (legend_rows[..., 0] < 80)
    assert red.any() and blue.any()  # the colour bar, both ends
    assert record['error'] is None
    for name, header in (('overview', texts[0]),
                         ('history', 'vanilla \u00b7 history up to epoch 4')):
        image = decoded(accumulator.Images('saliency.vanilla/' + name)[-1])
        top = compose.text_band([header], image.shape[1])
        numpy.testing.assert_array_equal(image[:top.shape[0] - 3],
                                         top[:-3])


def test_labels_give_the_item_its_label_and_the_explained_score(tmp_path):
    trainer, predictor = make_trainer(tmp_path, epochs=1, probe_size=3,
                                      tensorboard=False)
    report = trainer.get_extension('SaliencyReport')
    outputs = report.entries['vanilla'].calculator.explain_outputs(
        report.probe_examples, 3)
    x = numpy.stack([x for x, _ in report.probe_examples])
    t = numpy.array([t for _, t in report.probe_examples])
    with chainer.using_config('train', False):  # no dropout
        scores = predictor(x).array
    numpy.testing.assert_allclose(outputs['values'],
                                  scores[numpy.arange(3), t], rtol=1e-5)
    numpy.testing.assert_array_equal(outputs['labels'], t)
    numpy.testing.assert_array_equal(outputs['classes'], t)


def test_entries_that_explain_the_same_outputs_share_one_pass(
        tmp_path, monkeypatch):
    from saliency_ext import BaseCalculator

    def other_class(predictor):  # explains the predicted class instead
        made = entries(predictor)
        made['predicted'] = ReportEntry(GradientCalculator(
            predictor, target='top', label_index=-1), TableVisualizer())
        return made
    trainer, _ = make_trainer(tmp_path, epochs=1, probe_size=4,
                              tensorboard=False, entries=other_class)
    report = trainer.get_extension('SaliencyReport')
    passes = []
    original = BaseCalculator.explain_outputs

    def counted(self, *args, **kwargs):
        passes.append(self)
        return original(self, *args, **kwargs)
    monkeypatch.setattr(BaseCalculator, 'explain_outputs', counted)
    explained = report.explain(0)
    # vanilla, smooth bayes and ig explain the label's score: one pass
    assert len(passes) == 2
    for name, result in explained.items():
        alone = original(report.entries[name].calculator,
                         report.probe_examples, 4)
        for key in ('values', 'classes', 'labels'):
            numpy.testing.assert_array_equal(result.outputs[key], alone[key])
    assert not numpy.array_equal(explained['vanilla'].outputs['classes'],
                                 explained['predicted'].outputs['classes'])


@pytest.mark.parametrize('background', [True, 'thread'])
def test_each_picture_is_encoded_once_and_the_same_bytes_go_everywhere(
        tmp_path, monkeypatch, background):
    encoded = []
    original = storage.encode_png

    def counting(rgb):
        encoded.append(rgb.shape)
        return original(rgb)
    monkeypatch.setattr(storage, 'encode_png', counting)
    trainer, _ = make_trainer(tmp_path, epochs=1, probe_size=4,
                              background=background)
    trainer.run()
    layout = ReportLayout(tmp_path / 'saliency')
    records = layout.records()
    files = [f for r in records for f in r['files'] if f.endswith('.png')]
    # drawn in a child process, the pictures come with their PNG files
    # (encoded there, once); on the thread, once each, not again for
    # TensorBoard
    assert len(encoded) == (0 if background is True else len(files))
    accumulator = events(tmp_path)
    record = layout.records('ig')[-1]
    for path in record['files']:
        if path.endswith('.png'):
            name = os.path.basename(path)[:-4]
            tag = 'saliency.ig/' + name if name in ('overview', 'history') \
                else 'saliency.ig.items/' + name
            with open(layout.path(path), 'rb') as f:
                assert f.read() == accumulator.Images(tag)[-1] \
                    .encoded_image_string


def test_only_arrays_and_the_index_are_fsynced(tmp_path, monkeypatch):
    synced = []
    real = os.fsync
    monkeypatch.setattr(os, 'fsync', lambda fd: synced.append(fd) or
                        real(fd))

    def fsyncs(probe_size, out):
        del synced[:]
        make_trainer(out, epochs=1, probe_size=probe_size,
                     tensorboard=False)[0].run()
        return len(synced)
    # as many for 2 items as for 12: none per picture
    assert fsyncs(2, tmp_path / 'a') == fsyncs(12, tmp_path / 'b')


def slow_entries(predictor, seconds):
    class Slow(TableVisualizer):
        def visualize(self, *args, **kwargs):
            time.sleep(seconds)
            return super(Slow, self).visualize(*args, **kwargs)
    grad = GradientCalculator(predictor, target='label', label_index=-1)
    return {'slow': ReportEntry(grad, Slow())}


def test_when_drawing_falls_behind_training_waits_and_is_told_once(
        tmp_path):
    trainer, predictor = make_trainer(tmp_path, epochs=2, report=False)
    report = SaliencyReport(iris(), slow_entries(predictor, 0.02),
                            probe_size=3, trigger=(1, 'iteration'),
                            tensorboard=False)
    trainer.extend(report)
    with pytest.warns(UserWarning) as warned:
        trainer.run()
    behind = [str(w.message) for w in warned
              if 'falls behind' in str(w.message)]
    assert len(behind) == 1 and "entry 'slow'" in behind[0] and \
        'trigger' in behind[0]
    assert len(ReportLayout(tmp_path / 'saliency').records()) == 11


def test_the_writer_queue_is_bounded():
    writer, most = BackgroundWriter(max_pending=2, on_wait=lambda n: None), 0
    for k in range(8):
        writer.submit(time.sleep, 0.01, label=k)
        most = max(most, writer.pending)
    assert most <= 2
    assert writer.close() == []


def test_a_long_wait_shows_the_pictures_left(monkeypatch, capsys):
    from saliency_ext.report import background
    monkeypatch.setattr(background, 'PROGRESS_AFTER', 0.05)
    writer = BackgroundWriter()
    for _ in range(3):
        writer.submit(time.sleep, 0.1, pictures=7)
    writer.drain()
    assert 'pictures left' in capsys.readouterr().err


def resumed_history(out, background):
    """Trains 2 of 4 epochs, resumes from the snapshot; returns the resumed
    report and the bytes of its last history picture."""
    options = dict(epochs=4, tensorboard=False, background=background)
    make_trainer(out, snapshot=2, **options)[0].run()
    resumed, _ = make_trainer(out, seed=5, **options)
    chainer.serializers.load_npz(str(out / 'snapshot_epoch_2'), resumed)
    resumed.run()
    layout = ReportLayout(out / 'saliency')
    last = [f for f in layout.records('ig')[-1]['files']
            if f.endswith('history.png')][0]
    return resumed.get_extension('SaliencyReport'), \
        open(layout.path(last), 'rb').read()


def test_a_resumed_run_continues_the_history(tmp_path):
    report, on_thread = resumed_history(tmp_path / 'thread', 'thread')
    history = report.series['ig'].history
    # epochs 0-2 from before the snapshot, then 3 and 4 of the resumed run
    assert [f.label for f in history.kept] == [
        'epoch {}'.format(e) for e in range(5)]
    assert all(f.row is not None for f in history.kept)
    # drawn in a child process, the history is the same picture
    assert resumed_history(tmp_path / 'process', True)[1] == on_thread


def test_a_drawing_process_that_dies_is_told_and_drawing_goes_on(tmp_path):
    trainer, _ = make_trainer(tmp_path, epochs=1, tensorboard=False,
                              entries=('ig',))
    report = trainer.get_extension('SaliencyReport')
    report.setup(str(tmp_path))
    report.run(1, 5)
    assert report._writer.drain() == []
    for process in report._drawing._executor._processes.values():
        os.kill(process.pid, signal.SIGKILL)
        process.join()
    with pytest.warns(UserWarning, match='the process drawing the pictures '
                                         'ended'):
        report.run(2, 10)
        assert report._writer.drain() == []
    report.finalize()
    layout = ReportLayout(tmp_path / 'saliency')
    records = layout.records()
    assert [(r['epoch'], r['error']) for r in records] == [
        (1, None), (2, None)]
    assert all(os.path.isfile(layout.path(f)) for r in records
               for f in r['files'])


class _MallocInfo(ctypes.Structure):
    """glibc's ``struct mallinfo2``."""
    _fields_ = [(name, ctypes.c_size_t) for name in (
        'arena', 'ordblks', 'smblks', 'hblks', 'hblkhd', 'usmblks', 'fsmblks',
        'uordblks', 'fordblks', 'keepcost')]


def _where_a_big_block_goes():
    """Whether a 40 MiB block (over the 32 MiB up to which glibc learns to
    keep blocks) is mapped afresh, and whether its memory stays in the heap
    once freed."""
    info = ctypes.CDLL(None).mallinfo2
    info.restype = _MallocInfo
    block = numpy.empty(40 << 20, numpy.uint8)
    mapped = info().hblkhd >= block.nbytes
    del block
    return mapped, info().fordblks >= 40 << 20


@pytest.mark.skipif(platform.libc_ver()[0] != 'glibc', reason='glibc only')
def test_the_drawing_process_keeps_freed_memory_for_the_next_pictures(
        tmp_path):
    trainer, _ = make_trainer(tmp_path, epochs=1, tensorboard=False,
                              entries=('ig',))
    report = trainer.get_extension('SaliencyReport')
    report.setup(str(tmp_path))
    try:
        there = report._drawing._executor.submit(
            _where_a_big_block_goes).result()
    finally:
        report.finalize()
    assert _where_a_big_block_goes()[0]  # glibc's default: mapped afresh
    assert there == (False, True)
