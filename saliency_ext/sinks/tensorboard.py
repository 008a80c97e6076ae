"""TensorBoard output: the sink of reports, over a writer that only accepts prepared data
and writes its events through (see :mod:`saliency_ext.sinks.events`).

tensorboardX does not clip float images, cannot take cupy arrays and imports torch for
lists, so images are checked to be uint8 ``(H, W, 3)`` arrays, moved to the CPU and handed
over with an explicit ``dataformats``.
"""

import numbers
import operator
import os
import re
import time

import numpy as np
from chainer import backend

from saliency_ext.optional import require
from saliency_ext.sinks.base import HISTORY, MEAN, OVERVIEW, ReportSink, scalars
from saliency_ext.sinks.events import PREFIX, EventFile, event_pb2, read_events, repair
from saliency_ext.sinks.layout import ReportLayout
from saliency_ext.sinks.storage import Picture, check_rgb, png_files, png_size


def _import_tensorboardx():
    return require('tensorboardX', 'TensorBoard output')


def _check_tag(tag):
    if not isinstance(tag, str):
        raise TypeError(f'tag must be a str, got {type(tag).__name__} {tag!r}')
    if not tag:
        raise ValueError('tag must not be empty')
    return tag


def _check_step(step):
    try:
        return operator.index(step)
    except TypeError:
        raise TypeError(f'step must be an int, got {type(step).__name__} {step!r}') from None


def _to_cpu(value):
    """Moves a cupy (or numpy) array or scalar to a numpy array."""
    return backend.CpuDevice().send(value)


def _to_float(tag, value):
    value = _to_cpu(value)
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if not isinstance(value, numbers.Real):
        raise TypeError(f'scalar {tag!r} must be a real number or a 0-d array, got '
                        f'{type(value).__name__} {value!r}')
    return float(value)


def _logdir_of(target):
    """The log directory of a path or of a SummaryWriter (tensorboardX's ``logdir``,
    torch's ``get_logdir()``), or None."""
    if isinstance(target, (str, os.PathLike)):
        return os.fspath(target)
    if callable(getattr(target, 'get_logdir', None)):
        return os.fspath(target.get_logdir())
    logdir = getattr(target, 'logdir', None)
    return os.fspath(logdir) if isinstance(logdir, (str, os.PathLike)) else None


class TensorBoardWriter:
    """Writes saliency pictures and scalars to a TensorBoard event file of its own.

    Pictures and scalars are kept until :meth:`flush`, which writes them with one write
    and makes them durable: when it returns they are on disk, and when it fails it raises
    at once (nothing waits on a queue). Usable as a context manager, which calls
    :meth:`close` on exit.

    Args:
        target (str or os.PathLike or tensorboardX.SummaryWriter): The log directory, or a
            writer the caller owns (with a ``logdir`` or ``get_logdir()``), whose log directory is
            used: the events go into a file of their own there, the same run in
            TensorBoard, and the caller's writer is left as it is (never flushed or
            closed).
        logdir (str or os.PathLike): The log directory, as a keyword alternative to
            ``target``. Give exactly one of ``target`` and ``logdir``.
        name (str): The end of the event file's name.

    Raises:
        ValueError: If both or neither of ``target`` and ``logdir`` are given.
        TypeError: If ``target`` is neither a path nor a writer.
        ImportError: If tensorboardX is not installed.
    """

    def __init__(self, target=None, *, logdir=None, name='saliency'):
        if (target is None) == (logdir is None):
            raise ValueError('give exactly one of target (a SummaryWriter or a log '
                             'directory) and logdir')
        target = logdir if target is None else target
        logdir = _logdir_of(target)
        if logdir is None:
            raise TypeError(f'expected a tensorboardX.SummaryWriter or a log directory '
                            f'path, got {type(target).__name__}')
        self._summary = _import_tensorboardx().summary  # Fail at set-up, not later.
        self.file = EventFile(logdir, name)
        self._pending = []

    @property
    def logdir(self):
        """str: The log directory."""
        return self.file.logdir

    def _add(self, summary, step):
        self._pending.append(event_pb2().Event(wall_time=time.time(), step=step,
                                               summary=summary))

    def add_image(self, tag, rgb, step):
        """Adds an RGB picture.

        Args:
            tag (str): The TensorBoard tag, for example ``'saliency/gradient/0'``.
            rgb (numpy.ndarray or cupy.ndarray): A uint8 array of shape ``(H, W, 3)``.
            step (int): The global step, for example the trainer's iteration.

        Raises:
            TypeError: If ``rgb`` is not a uint8 array, ``tag`` not a str or ``step`` not
                an int.
            ValueError: If ``rgb`` is not shaped ``(H, W, 3)`` or ``tag`` is empty.
        """
        tag, step = _check_tag(tag), _check_step(step)
        rgb = check_rgb(_to_cpu(rgb))
        if isinstance(rgb, Picture):  # the PNG the files sink wrote too
            self.add_png(tag, rgb.png, step)
        else:
            self._add(self._summary.image(tag, rgb, dataformats='HWC'), step)

    def add_png(self, tag, png, step):
        """Adds an RGB picture already encoded as a PNG file (as it is: encoded once for
        every sink).

        Args:
            tag (str): The TensorBoard tag.
            png (bytes): The PNG file of an RGB picture.
            step (int): The global step.
        """
        tag, step = _check_tag(tag), _check_step(step)
        height, width = png_size(png)
        summary = self._summary.Summary
        image = summary.Image(height=height, width=width, colorspace=3,
                              encoded_image_string=png)
        self._add(summary(value=[summary.Value(tag=tag, image=image)]), step)

    def add_scalar(self, tag, value, step):
        """Adds a scalar.

        Args:
            tag (str): The TensorBoard tag.
            value (float or numpy/cupy scalar or 0-d array): The value.
            step (int): The global step.

        Raises:
            TypeError: If ``value`` is not a real number, ``tag`` not a str or ``step`` not
                an int.
            ValueError: If ``tag`` is empty.
        """
        tag, step = _check_tag(tag), _check_step(step)
        value = _to_float(tag, value)
        self._add(self._summary.scalar(tag, value), step)

    def flush(self):
        """Writes what was added since the last flush and makes it durable.

        Raises:
            OSError: Naming the event file, when it cannot be written; what was added is
                dropped and the file ends with its last whole record.
        """
        pending, self._pending = self._pending, []
        if pending:
            self.file.write(pending)
            self.file.flush()

    def close(self):
        """Writes what is pending and closes the event file (a later write opens a new
        one)."""
        try:
            self.flush()
        finally:
            self.file.close()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        self.close()


def entry_group(entry, out_dir='saliency'):
    """The Time Series card group of an entry: the report folder's path
    (``out_dir``, dotted), then the entry's name made safe as for its folder
    (``saliency.ig``), so that two reports of one run never share a tag."""
    return '.'.join(os.path.normpath(out_dir).split(os.sep) +
                    [ReportLayout.entry_dir(entry)])


def _picture_tag(group, name):
    if name in (OVERVIEW, HISTORY):
        return '{}/{}'.format(group, name)
    return '{}.items/{}'.format(group, 'all_items_mean' if name == MEAN else name)


def picture_tag(entry, name, out_dir='saliency'):
    """The tag of a picture: the overview and the history in the entry's
    group, each map in the group ``<group>.items``, the mean first
    (``all_items_mean`` sorts before ``item_000``)."""
    return _picture_tag(entry_group(entry, out_dir), name)


def scalar_tag(entry, name, out_dir='saliency'):
    """The tag of a scalar (``rank_corr``, ``seconds``, ...): in the entry's
    group, beside its overview and history."""
    return '{}/{}'.format(entry_group(entry, out_dir), name)


def picture_tags(record):
    """The tags of the pictures a record lists, at its step; its ``tag`` is
    its entry's group."""
    names = [os.path.splitext(os.path.basename(f))[0]
             for f in record['files'] if f.endswith('.png')]
    return {(_picture_tag(record['tag'], name), record[record['step']])
            for name in names}


class TensorBoardSink(ReportSink):
    """The built-in sink that writes each report's pictures and scalars to
    TensorBoard, at the record's epoch or iteration (its ``step``), under
    the tags of :func:`picture_tag` and :func:`scalar_tag` in the record's
    group (its ``tag``): one Time Series card group per entry with its
    overview, history and scalars, and one with its maps. They are written
    through before the record is listed in the index.

    Its event file is named ``...<mark>.s<session>``. When it opens, the
    files of the folder's earlier sessions, whose writers have ended (the
    report folder's lock says so), are cut back to their last whole record
    (a kill can leave one cut off).

    Args:
        target: A ``tensorboardX.SummaryWriter`` (its log directory is used,
            the writer left as it is), a log directory, or ``None`` for
            ``<trainer.out>/tensorboard``.
        mark (str): What names the report folder's event files.
        session (int): The session writing.
    """

    def __init__(self, target=None, *, mark='saliency', session=0):
        self._target = target
        self._mark = mark
        self._session = session
        self._writer = None
        if target is not None:
            self._writer = self._open_writer(target)  # checks it now

    def _open_writer(self, target):
        name = '{}.s{}'.format(self._mark, self._session)
        return TensorBoardWriter(target, name=name)

    @property
    def logdir(self):
        """str: The log directory (after :meth:`open`)."""
        return self._writer.logdir

    def open(self, out):
        if self._writer is None:
            self._writer = self._open_writer(os.path.join(out, 'tensorboard'))
        earlier = re.compile(r'.*\.{}\.s(\d+)(\.\d+)?'.format(re.escape(self._mark)))
        for name in _event_files(self.logdir):
            match = earlier.fullmatch(name)
            if match and int(match.group(1)) < self._session:
                repair(os.path.join(self.logdir, name))

    def write(self, record, pictures, arrays):
        step, group = record[record['step']], record['tag']
        for name, value in scalars(record).items():
            self._writer.add_scalar('{}/{}'.format(group, name), value, step)
        for name, png in png_files(pictures):
            self._writer.add_png(_picture_tag(group, name), png, step)
        self._writer.flush()

    def missing(self, records):
        """The records whose pictures are not all in the log directory's
        event files."""
        shown = set()
        for name in _event_files(self.logdir):
            for event in read_events(os.path.join(self.logdir, name)):
                shown |= {(value.tag, event.step) for value in
                          event.summary.value if value.HasField('image')}
        return [r for r in records
                if not r['files'] or not picture_tags(r) <= shown]

    def close(self):
        if self._writer is not None:
            self._writer.close()


def _event_files(logdir):
    try:
        return sorted(n for n in os.listdir(logdir) if n.startswith(PREFIX))
    except FileNotFoundError:
        return []
