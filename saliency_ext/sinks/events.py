"""TensorBoard event files written through, on the caller's thread.

tensorboardX's ``SummaryWriter`` hands events to a thread through a bounded queue: its
``flush`` does not wait for the queue, so a report listed in the index could lose its
pictures to a kill, and on a full disk the thread dies and the queue then blocks the
trainer for good. :class:`EventFile` has no thread and no queue: :meth:`EventFile.write`
puts a report's events into the file with one write and raises ``OSError`` at once when
that fails, after cutting the file back so that it ends with a whole record;
:meth:`EventFile.flush` makes them durable. Events are tensorboardX's protocol buffers,
framed as TFRecords (length, its masked CRC-32C, the data, its masked CRC-32C).
"""
import contextlib
import os
import socket
import struct
import time

from saliency_ext.optional import require
from saliency_ext.sinks.storage import naming, write_all

_HEADER = struct.Struct('<Q')
_CRC = struct.Struct('<I')
#: What every event file's name holds, so TensorBoard reads it.
PREFIX = 'events.out.tfevents.'


def _masked_crc(data):
    return require('tensorboardX.record_writer', 'TensorBoard output').masked_crc32c(data)


def frame(data):
    """One TFRecord: ``data`` with its length and checksums."""
    header = _HEADER.pack(len(data))
    return b''.join((header, _CRC.pack(_masked_crc(header)), data,
                     _CRC.pack(_masked_crc(data))))


def event_pb2():
    """tensorboardX's ``Event`` message module."""
    return require('tensorboardX.proto.event_pb2', 'TensorBoard output')


def whole_records(path):
    """Reads the records of an event file up to the last whole one.

    Returns:
        tuple: ``(records, end)``: the data of each whole record, and where the last one
        ends (the file's size unless a record was cut off).
    """
    records, end = [], 0
    with open(path, 'rb') as f:
        while True:
            head = f.read(_HEADER.size + _CRC.size)
            if len(head) < _HEADER.size + _CRC.size:
                break
            header = head[:_HEADER.size]
            if _CRC.unpack(head[_HEADER.size:])[0] != _masked_crc(header):
                break
            data = f.read(_HEADER.unpack(header)[0])
            check = f.read(_CRC.size)
            if len(check) < _CRC.size:
                break
            records.append(data)
            end = f.tell()
    return records, end


def read_events(path):
    """The whole events of an event file, as ``Event`` messages."""
    event = event_pb2().Event
    return [event.FromString(data) for data in whole_records(path)[0]]


def repair(path):
    """Cuts an event file back to its last whole record (a kill can leave one cut off).

    Returns:
        bool: Whether the file was cut.
    """
    end = whole_records(path)[1]
    if end == os.path.getsize(path):
        return False
    os.truncate(path, end)
    return True


class EventFile(object):
    """An event file of one writer, created on the first write.

    It is named ``events.out.tfevents.<seconds>.<host>.<name>``, with ``.1``, ``.2``...
    added if such a file exists, so that a writer opened again within the same second
    never overwrites an earlier file.

    Args:
        logdir (str): The TensorBoard log folder.
        name (str): The end of the file's name (the report folder's mark and session).
    """

    def __init__(self, logdir, name):
        self.logdir = os.fspath(logdir)
        self.name = name
        self.path = None
        self._fd = None
        self._size = 0

    def _open(self):
        os.makedirs(self.logdir, exist_ok=True)
        base = '{}{:010d}.{}.{}'.format(PREFIX, int(time.time()), socket.gethostname(),
                                        self.name)
        for attempt in range(1000):
            path = os.path.join(self.logdir, base + ('.{}'.format(attempt) if attempt
                                                     else ''))
            try:
                # O_APPEND: after a cut back, the next write goes to the new end
                self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT |
                                   os.O_EXCL | getattr(os, 'O_BINARY', 0), 0o666)
                break
            except FileExistsError:
                continue
        else:
            raise FileExistsError('no free event file name like {}'.format(base))
        self.path, self._size = path, 0
        version = event_pb2().Event(wall_time=time.time(), file_version='brain.Event:2')
        try:
            self._append(frame(version.SerializeToString()))
        except OSError:
            self.close()
            with contextlib.suppress(OSError):
                os.remove(path)
            raise

    def write(self, events):
        """Appends events (``Event`` messages) in one write.

        Raises:
            OSError: Naming the file, when they cannot be written; the file then ends
                with its last whole record, or, when even that fails, is left and the
                next write goes to a new file.
        """
        data = b''.join(frame(event.SerializeToString()) for event in events)
        try:
            if self._fd is None:
                self._open()
            self._append(data)
        except OSError as error:
            raise naming(error, self.path or self.logdir) from error

    def _append(self, data):
        try:
            write_all(self._fd, data)
        except OSError:
            try:
                os.ftruncate(self._fd, self._size)
            except OSError:
                self.close()  # a cut-off record stays: write on in a new file
            raise
        self._size += len(data)

    def flush(self):
        """Makes the events written so far durable (fsync)."""
        if self._fd is not None:
            try:
                os.fsync(self._fd)
            except OSError as error:
                raise naming(error, self.path) from error

    def close(self):
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
