import io
import os
import sys

import numpy as np
import pytest
from PIL import Image

tensorboardX = pytest.importorskip('tensorboardX')
event_accumulator = pytest.importorskip(
    'tensorboard.backend.event_processing.event_accumulator')

from saliency_ext.sinks.tensorboard import TensorBoardWriter  # NOQA: E402

STEPS = [0, 1, 3]
TAGS = ['saliency/gradient', 'saliency/occlusion']


def _image(seed, shape=(6, 4, 3)):
    return np.random.RandomState(seed).randint(0, 256, size=shape).astype(np.uint8)


def _events(logdir):
    accumulator = event_accumulator.EventAccumulator(
        str(logdir), size_guidance={'images': 0, 'scalars': 0})
    accumulator.Reload()
    return accumulator


class CountingWriter(tensorboardX.SummaryWriter):
    """A user-owned writer that records how often it was flushed and closed."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls = []

    def flush(self):
        self.calls.append('flush')
        super().flush()

    def close(self):
        self.calls.append('close')
        super().close()


def test_images_and_scalars_reach_the_event_file(tmp_path):
    images = {(tag, step): _image(10 * i + step)
              for i, tag in enumerate(TAGS) for step in STEPS}
    with TensorBoardWriter(tmp_path) as writer:
        for (tag, step), rgb in images.items():
            writer.add_image(tag, rgb, step)
        for step in STEPS:
            writer.add_scalar('saliency/max', np.float32(step / 4), step)

    events = _events(tmp_path)
    assert sorted(events.Tags()['images']) == TAGS
    assert events.Tags()['scalars'] == ['saliency/max']
    for tag in TAGS:
        assert [event.step for event in events.Images(tag)] == STEPS
    assert [(e.step, e.value) for e in events.Scalars('saliency/max')] == [
        (0, 0.0), (1, 0.25), (3, 0.75)]

    event = events.Images(TAGS[1])[2]
    with Image.open(io.BytesIO(event.encoded_image_string)) as png:
        decoded = np.asarray(png.convert('RGB'))
    np.testing.assert_array_equal(decoded, images[TAGS[1], 3])
    assert (event.height, event.width) == (6, 4)


@pytest.mark.parametrize('rgb, error, quoted', [
    (np.full((4, 4, 3), 0.5, np.float32), TypeError, 'float32'),
    (np.zeros((3, 4, 4), np.uint8), ValueError, r'\(3, 4, 4\)'),
    (np.zeros((4, 4), np.uint8), ValueError, r'\(4, 4\)'),
    ([[[0, 0, 0]]], TypeError, 'list'),
])
def test_bad_images_are_refused_before_anything_is_written(tmp_path, rgb, error, quoted):
    writer = TensorBoardWriter(logdir=tmp_path / 'tb')
    with pytest.raises(error, match=quoted):
        writer.add_image('saliency/x', rgb, 0)
    writer.close()
    assert not (tmp_path / 'tb').exists()


@pytest.mark.parametrize('tag, value, step, error', [
    ('x', 'high', 0, TypeError),
    ('x', np.zeros(2), 0, TypeError),
    ('x', 1.0, 1.5, TypeError),
    ('', 1.0, 0, ValueError),
    (None, 1.0, 0, TypeError),
])
def test_bad_scalars_are_refused(tmp_path, tag, value, step, error):
    with pytest.raises(error):
        TensorBoardWriter(tmp_path).add_scalar(tag, value, step)


def test_a_user_writer_is_left_alone_and_its_run_gets_the_pictures(tmp_path):
    summary_writer = CountingWriter(logdir=str(tmp_path))
    with TensorBoardWriter(summary_writer) as writer:
        assert writer.logdir == str(tmp_path)
        writer.add_image('saliency/gradient', _image(0), 0)
    assert summary_writer.calls == []  # neither flushed nor closed
    summary_writer.add_scalar('after', 1.0, global_step=0)  # Still usable by its owner.
    summary_writer.close()
    events = _events(tmp_path)
    assert events.Tags()['images'] == ['saliency/gradient']
    assert events.Tags()['scalars'] == ['after']


def test_flush_writes_through_without_close(tmp_path):
    """What flush returned is in the file, for any reader, while the writer is open."""
    writer = TensorBoardWriter(tmp_path, name='run.s0')
    writer.add_image('saliency/a', _image(1), 3)
    writer.add_scalar('saliency/b', 0.5, 3)
    writer.flush()
    assert os.path.basename(writer.file.path).endswith('.run.s0')
    events = _events(tmp_path)
    assert [e.step for e in events.Images('saliency/a')] == [3]
    assert [e.value for e in events.Scalars('saliency/b')] == [0.5]
    writer.close()


def test_a_writer_opened_again_in_the_same_second_keeps_the_first_file(tmp_path):
    for step in range(3):
        with TensorBoardWriter(tmp_path, name='run.s0') as writer:
            writer.add_scalar('x', float(step), step)
    assert len(os.listdir(tmp_path)) == 3
    assert [e.step for e in _events(tmp_path).Scalars('x')] == [0, 1, 2]


@pytest.mark.parametrize('kwargs', [{}, {'target': 'a', 'logdir': 'b'}])
def test_exactly_one_destination_is_required(kwargs):
    with pytest.raises(ValueError, match='exactly one'):
        TensorBoardWriter(**kwargs)


def test_other_targets_are_refused():
    with pytest.raises(TypeError, match='int'):
        TensorBoardWriter(3)


def test_missing_tensorboardx_gives_install_hint(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, 'tensorboardX', None)  # import fails
    with pytest.raises(ImportError, match='pip install tensorboardX'):
        TensorBoardWriter(tmp_path)


def test_cupy_images_are_moved_to_the_cpu(tmp_path):
    cupy = pytest.importorskip('cupy')
    rgb = _image(0)
    with TensorBoardWriter(tmp_path) as writer:
        writer.add_image('saliency/gpu', cupy.asarray(rgb), 0)
        writer.add_scalar('saliency/gpu_max', cupy.asarray(rgb).max(), 0)
    events = _events(tmp_path)
    with Image.open(io.BytesIO(events.Images('saliency/gpu')[0].encoded_image_string)) as png:
        np.testing.assert_array_equal(np.asarray(png.convert('RGB')), rgb)
    assert events.Scalars('saliency/gpu_max')[0].value == rgb.max()
