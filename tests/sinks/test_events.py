"""Event files written through: a cut-off record of a killed writer is cut
back by the next session, and only that report folder's files are touched."""
import os

from tensorboard.backend.event_processing.event_accumulator import \
    EventAccumulator

from saliency_ext.sinks.events import EventFile, event_pb2, whole_records
from saliency_ext.sinks.tensorboard import TensorBoardSink, TensorBoardWriter
from tests.faults.disk import FullDisk


def scalar_file(logdir, name, steps):
    with TensorBoardWriter(logdir, name=name) as writer:
        for step in steps:
            writer.add_scalar('x', float(step), step)
    [path] = [os.path.join(logdir, n) for n in os.listdir(logdir)
              if n.endswith(name)]
    return path


def test_a_cut_off_record_of_an_earlier_session_is_cut_back(tmp_path):
    killed = scalar_file(tmp_path, 'mark.s0', [0, 1])
    other = scalar_file(tmp_path, 'elsewhere.s0', [0])
    whole = os.path.getsize(killed)
    with open(killed, 'ab') as f:  # what a kill mid-write leaves
        f.write(b'\x40\x00\x00\x00\x00\x00\x00\x00partial')
    with open(other, 'ab') as f:
        f.write(b'\x01')
    assert whole_records(killed)[1] == whole
    TensorBoardSink(str(tmp_path), mark='mark', session=1).open(str(tmp_path))
    assert os.path.getsize(killed) == whole
    assert os.path.getsize(other) == whole_records(other)[1] + 1  # not ours
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    assert sorted(e.step for e in events.Scalars('x')) == [0, 0, 1]


def test_a_failed_write_leaves_whole_records_and_the_next_one_lands(
        tmp_path, monkeypatch):
    file = EventFile(str(tmp_path), 'mark.s0')
    event = event_pb2().Event
    file.write([event(step=1, wall_time=1.0)])
    disk = FullDisk(monkeypatch, tmp_path, room=7)
    try:
        file.write([event(step=2, wall_time=2.0, file_version='x' * 100)])
    except OSError as error:
        assert error.filename == file.path
    else:
        raise AssertionError('the full disk did not raise')
    disk.room = None
    file.write([event(step=3, wall_time=3.0)])
    file.close()
    steps = [event.FromString(r).step for r in whole_records(file.path)[0]]
    assert steps == [0, 1, 3]  # the file's version record, then the events
    assert whole_records(file.path)[1] == os.path.getsize(file.path)
    assert len(os.listdir(tmp_path)) == 1
