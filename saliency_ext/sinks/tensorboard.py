"""TensorBoard output: the sink of reports, over a thin adapter of tensorboardX that only
accepts prepared data.

tensorboardX does not clip float images, cannot take cupy arrays and imports torch for
lists, so images are checked to be uint8 ``(H, W, 3)`` arrays, moved to the CPU and handed
over with an explicit ``dataformats``.
"""

import numbers
import operator
import os

import numpy as np
from chainer import backend

from saliency_ext.optional import require
from saliency_ext.sinks.base import HISTORY, MEAN, OVERVIEW, ReportSink, scalars
from saliency_ext.sinks.storage import Picture, check_rgb, safe_name

_WRITER_METHODS = ('add_image', 'add_scalar', 'flush', 'close')


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


class TensorBoardWriter:
    """Writes saliency pictures and scalars to TensorBoard through tensorboardX.

    Usable as a context manager, which calls :meth:`close` on exit.

    Args:
        target (tensorboardX.SummaryWriter or str or os.PathLike): Either a writer the
            caller owns (any object with tensorboardX's ``add_image``, ``add_scalar``,
            ``flush`` and ``close``), which :meth:`close` only flushes; or a log directory,
            for which this object creates its own writer on first use and closes it in
            :meth:`close`.
        logdir (str or os.PathLike): The log directory, as a keyword alternative to
            ``target``. Give exactly one of ``target`` and ``logdir``.

    Raises:
        ValueError: If both or neither of ``target`` and ``logdir`` are given.
        TypeError: If ``target`` is neither a path nor a writer.
        ImportError: If a log directory is given and tensorboardX is not installed.
    """

    def __init__(self, target=None, *, logdir=None):
        if (target is None) == (logdir is None):
            raise ValueError('give exactly one of target (a SummaryWriter or a log '
                             'directory) and logdir')
        target = logdir if target is None else target
        self._writer = None
        self._logdir = None
        if isinstance(target, (str, os.PathLike)):
            _import_tensorboardx()  # Fail at set-up, not at the first report.
            self._logdir = os.fspath(target)
        elif logdir is None and all(callable(getattr(target, name, None))
                                    for name in _WRITER_METHODS):
            self._writer = target
        else:
            raise TypeError(f'expected a tensorboardX.SummaryWriter or a log directory '
                            f'path, got {type(target).__name__}')

    @property
    def owns_writer(self):
        """bool: Whether this object created its SummaryWriter and so closes it."""
        return self._logdir is not None

    def _summary_writer(self):
        # Created lazily: no empty event file for a report that never writes.
        if self._writer is None:
            self._writer = _import_tensorboardx().SummaryWriter(logdir=self._logdir)
        return self._writer

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
        writer = self._summary_writer()
        file_writer = getattr(writer, '_get_file_writer', None)
        if isinstance(rgb, Picture) and file_writer is not None:
            # the PNG the files sink wrote too: encoded once, not again by tensorboardX
            summary = _import_tensorboardx().proto.summary_pb2.Summary
            image = summary.Image(height=rgb.shape[0], width=rgb.shape[1], colorspace=3,
                                  encoded_image_string=rgb.png)
            file_writer().add_summary(summary(value=[summary.Value(tag=tag, image=image)]),
                                      step)
        else:
            writer.add_image(tag, rgb, global_step=step, dataformats='HWC')

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
        self._summary_writer().add_scalar(tag, value, global_step=step)

    def flush(self):
        """Writes pending events to disk."""
        if self._writer is not None:
            self._writer.flush()

    def close(self):
        """Closes an owned writer (a later write opens a new one); flushes a borrowed one."""
        if self._writer is None:
            return
        if self.owns_writer:
            self._writer.close()
            self._writer = None
        else:
            self._writer.flush()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        self.close()


def entry_group(entry):
    """The Time Series card group of an entry: ``saliency.<entry>``, the
    entry's name made safe as for its folder."""
    return 'saliency.{}'.format(safe_name(entry))


def picture_tag(entry, name):
    """The tag of a picture: the overview and the history in the entry's
    group, each map in the group ``saliency.<entry>.items``, the mean first
    (``all_items_mean`` sorts before ``item_000``)."""
    group = entry_group(entry)
    if name in (OVERVIEW, HISTORY):
        return '{}/{}'.format(group, name)
    return '{}.items/{}'.format(group, 'all_items_mean' if name == MEAN else name)


def scalar_tag(entry, name):
    """The tag of a scalar (``rank_corr``, ``seconds``, ...): in the entry's
    group, beside its overview and history."""
    return '{}/{}'.format(entry_group(entry), name)


class TensorBoardSink(ReportSink):
    """The built-in sink that writes each report's pictures and scalars to
    TensorBoard, at the record's epoch or iteration (its ``step``), under
    the tags of :func:`picture_tag` and :func:`scalar_tag`: one Time Series
    card group per entry with its overview, history and scalars, and one
    with its maps.

    Args:
        target: A ``tensorboardX.SummaryWriter`` (left open), a log
            directory, or ``None`` for ``<trainer.out>/tensorboard``.
    """

    def __init__(self, target=None):
        self._target = target
        self._writer = None
        if target is not None:
            self._writer = TensorBoardWriter(target)  # checks it now

    def open(self, out):
        if self._writer is None:
            self._writer = TensorBoardWriter(os.path.join(out, 'tensorboard'))

    def write(self, record, pictures, arrays):
        step, entry = record[record['step']], record['entry']
        for name, value in scalars(record).items():
            self._writer.add_scalar(scalar_tag(entry, name), value, step)
        for name, rgb in pictures.items():
            self._writer.add_image(picture_tag(entry, name), rgb, step)

    def flush(self):
        self._writer.flush()

    def close(self):
        if self._writer is not None:
            self._writer.close()
