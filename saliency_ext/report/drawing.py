"""Where a report's pictures are drawn: in a child process where the
platform can fork, else on the writer thread.

Drawing (captions, legends, molecule highlights, the overview and the
history) is Python code that holds the interpreter lock. On the writer
thread it made the training thread wait for the lock after each array
operation, and training slowed by far more than the drawing's own time. A
child process, forked when the report starts, owns the entries' drawing
state from then on (the history's frames, the molecule depictions) and
returns each report's pictures with their PNG files; the writer thread
still writes them, in order, so what is durable and when does not change.

The child is forked from the training thread before training starts: a
fork while another thread is inside OpenBLAS leaves OpenBLAS's threads
stopped for good in the parent.
"""
import concurrent.futures
import ctypes
import multiprocessing
import os
import pickle
import threading
import time
import warnings
from concurrent.futures.process import BrokenProcessPool


from saliency_ext.report.pictures import ReportPictures
from saliency_ext.report.series import Rendering
from saliency_ext.sinks.layout import ReportLayout
from saliency_ext.sinks.storage import EncodedPictures, Picture

#: What each drawing process being forked takes, by key; the child keeps
#: its series in ``_SERIES``.
_FORKING = {}
_SERIES = {}


def draw_here(series, stamp, texts, saliency, limits, std):
    """Draws one report of one entry in this process: its pictures (name ->
    :class:`~saliency_ext.sinks.storage.Picture`) and its
    :class:`~saliency_ext.report.series.Rendering`."""
    drawn, rendering = ReportPictures(series, stamp, texts).draw(
        saliency, limits, std=std)
    return {name: Picture.of(rgb) for name, rgb in drawn.items()}, rendering


def can_fork():
    """bool: Whether pictures can be drawn in a forked child process."""
    return 'fork' in multiprocessing.get_all_start_methods()


class ThreadDrawing(object):
    """Draws on the calling thread.

    Args:
        series (dict): Entry name -> its
            :class:`~saliency_ext.report.series.EntrySeries`.
    """

    def __init__(self, series):
        self.series = series

    def draw(self, name, stamp, texts, saliency, limits, std):
        """Draws one report of entry ``name``; returns the pictures and the
        rendering, as :func:`draw_here`."""
        return draw_here(self.series[name], stamp, texts, saliency, limits,
                         std)

    def resume(self, name, until, step):
        """Has the drawing state of entry ``name`` go on from the reports in
        the folder (its series in this process already did)."""

    def close(self):
        """Stops drawing (nothing to stop here)."""


class ProcessDrawing(ThreadDrawing):
    """Draws in one child process, forked by :meth:`start`, which then
    holds the series' drawing state; :meth:`draw` and :meth:`resume` must
    be called in report order (from the writer thread). Warnings raised
    while drawing are raised again here. If the child dies, a warning says
    so and the pictures are drawn in this process from then on.

    Args:
        series (dict): As for :class:`ThreadDrawing`.
        root (str): The report folder, which :meth:`resume` reads.
        close_fds (list of int): Descriptors the child closes at once (the
            report folder's lock, which must end with this process).
    """

    def __init__(self, series, root, close_fds=()):
        super(ProcessDrawing, self).__init__(series)
        self.root = root
        self._close_fds = list(close_fds)
        self._executor = None

    def start(self):
        """Forks the child now and waits until it runs."""
        key = id(self)
        _FORKING[key] = (self.series, self._close_fds, os.getpid())
        try:
            self._executor = concurrent.futures.ProcessPoolExecutor(
                1, mp_context=multiprocessing.get_context('fork'),
                initializer=_adopt, initargs=(key,))
            self._executor.submit(os.getpid).result()  # forks in submit
        finally:
            del _FORKING[key]

    def draw(self, name, stamp, texts, saliency, limits, std):
        drawn = self._call(_draw, name, stamp, texts, saliency, limits, std)
        if drawn is None:
            return super(ProcessDrawing, self).draw(
                name, stamp, texts, saliency, limits, std)
        pictures, failures, errors, caught = drawn
        for message, category in caught:
            warnings.warn(message, category)
        return (EncodedPictures(pictures),
                Rendering([], failures, errors))

    def resume(self, name, until, step):
        self._call(_resume, name, self.root, until, step)

    def _call(self, function, *args):
        """``function(*args)`` in the child; None once it died."""
        if self._executor is None:
            return None
        try:
            return self._executor.submit(function, *args).result()
        except BrokenProcessPool as error:
            warnings.warn('SaliencyReport: the process drawing the pictures '
                          'ended ({}); they are drawn on the writer thread '
                          'from now on'.format(error))
            self.close()
            return None

    def close(self):
        if self._executor is not None:
            self._executor.shutdown()
            self._executor = None


def _adopt(key):
    """In the child: takes its series, lets go of what must end with the
    parent, and ends when the parent ends."""
    series, close_fds, parent = _FORKING.pop(key)
    _FORKING.clear()
    _SERIES.update(series)
    for fd in close_fds:
        try:
            os.close(fd)
        except OSError:
            pass
    threading.Thread(target=_end_with, args=(parent,), daemon=True).start()
    _keep_freed_memory()


#: glibc's ``mallopt`` parameters, and the values the drawing process gives them.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_KEPT_BYTES = 64 << 20


def _keep_freed_memory():
    """In the child: has glibc keep the memory of freed pictures for the next ones.
    By default it maps each block over 128 KiB (a canvas, a PNG's rows) afresh and
    returns it when freed, so every picture paid again for the kernel's fresh, zeroed
    pages: a tenth of the drawing time. Blocks up to 64 MiB now come from the heap, which keeps
    up to twice that free; the process's memory stays at its peak, a few reports'
    pictures. Elsewhere than glibc, nothing changes."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_MMAP_THRESHOLD, _KEPT_BYTES)
    mallopt(_M_TRIM_THRESHOLD, 2 * _KEPT_BYTES)


def _end_with(parent):
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def _draw(name, stamp, texts, saliency, limits, std):
    """In the child: draws, encodes, and returns what pickles."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        pictures, rendering = draw_here(_SERIES[name], stamp, texts,
                                        saliency, limits, std)
    # the PNG files only: pickling and piping the pixels cost more than
    # drawing them, and the built-in sinks write the files as they are
    return ({key: picture.png for key, picture in pictures.items()},
            rendering.failures,
            [_picklable(error) for error in rendering.errors],
            [(str(w.message), _picklable(w.category, UserWarning))
             for w in caught])


def _resume(name, root, until, step):
    """In the child: the series of ``name`` goes on from the folder."""
    _SERIES[name].resume(ReportLayout(root), until=until, step=step)


def _picklable(value, default=None):
    """``value`` if it survives pickling, else ``default`` (by default a
    RuntimeError that names the exception ``value``)."""
    try:
        pickle.loads(pickle.dumps(value))
        return value
    except Exception:
        return RuntimeError('{}: {}'.format(type(value).__name__, value)) \
            if default is None else default
