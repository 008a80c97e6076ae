"""SaliencyReport: a training extension that explains a fixed probe batch at
chosen epochs and writes the pictures to TensorBoard and the output folder."""
import os
import time
import warnings

import chainer
import numpy
from chainer import backend
from chainer.dataset import concat_examples
from chainer.training import extension
from chainer.training import trigger as trigger_module
from chainer.training.triggers import ManualScheduleTrigger

from saliency_ext.entry import ReportEntry
from saliency_ext.metrics import mean_rank_correlation
from saliency_ext.probe import choose_probe
from saliency_ext.random_state import preserved_random_state
from saliency_ext.writers.background import BackgroundWriter
from saliency_ext.writers.files import safe_name
from saliency_ext.writers.layout import ReportLayout

STEPS = ('epoch', 'iteration')


def _trigger(trigger):
    if isinstance(trigger, list):
        if not trigger or not all(isinstance(e, int) and e >= 0
                                  for e in trigger):
            raise ValueError('a list trigger names epochs (ints >= 0), got '
                             '{!r}'.format(trigger))
        return ManualScheduleTrigger(sorted(trigger), 'epoch')
    return trigger_module.get_trigger(trigger)


def _entries(entries):
    items = list(entries.items()) if isinstance(entries, dict) else \
        list(entries)
    if not items:
        raise ValueError('a SaliencyReport needs at least one entry')
    seen = {}
    for item in items:
        if not (isinstance(item, tuple) and len(item) == 2):
            raise TypeError('entries must be a dict or (name, ReportEntry) '
                            'pairs, got {!r}'.format(item))
        name, entry = item
        if not isinstance(name, str) or not name:
            raise ValueError('entry names must be non-empty strings, got '
                             '{!r}'.format(name))
        if not isinstance(entry, ReportEntry):
            raise TypeError('entry {!r} must be a ReportEntry, got {!r}'
                            .format(name, type(entry).__name__))
        if safe_name(name) in seen:
            raise ValueError('entry names {!r} and {!r} collide'.format(
                seen[safe_name(name)], name))
        seen[safe_name(name)] = name
    return dict(items)


def _finite_or_none(value):
    return None if value is None or value != value else float(value)


class SaliencyReport(extension.Extension):
    """Explains a fixed probe batch while the model trains.

    At every trigger, and once before training starts, each entry computes
    the saliency of the probe items, draws one picture per item and writes:

    - files under ``<trainer.out>/<out_dir>/`` (see
      :mod:`saliency_ext.writers.layout`): pictures, the raw maps with the
      epoch, iteration and settings, and an index record per report;
    - TensorBoard images ``saliency/<entry>/item_NN`` and scalars, with the
      entry's name made safe as for its folder;
    - the scalars ``saliency/<entry>/rank_corr`` (mean Spearman correlation
      of each item's map with the previous report's: 1 means the
      explanation did not move) and ``saliency/<entry>/seconds`` to
      ``chainer.reporter``, for ``LogReport`` and ``PrintReport``.

    Only the saliency computation blocks training; drawing and writing run
    on a background thread, in order. The report is training-neutral: the
    random state, ``chainer.config``, parameter gradients and link hooks
    are as they were after it ran.

    Args:
        probe: The items to explain: an array, a tuple of arrays or a
            dataset. A fixed subset is drawn once when it is larger than
            ``probe_size``.
        entries (dict): Entry name -> :class:`~saliency_ext.ReportEntry`.
        probe_size (int): How many items to draw from ``probe``.
        seed (int): Seed of that draw.
        probe_indices (sequence of int): Explicit positions in ``probe``.
        converter (callable): Turns a list of probe items into model
            inputs (``concat_mols`` for molecules).
        trigger: When to report: ``(n, 'epoch')``, ``(n, 'iteration')``, a
            trigger object such as ``ManualScheduleTrigger``, or a list of
            epochs.
        initial (bool): Also report before the first iteration, so the
            untrained model is the first frame.
        out_dir (str): Folder under ``trainer.out`` for the files.
        tensorboard: A ``tensorboardX.SummaryWriter`` (left open), a log
            directory, ``None`` for ``<trainer.out>/tensorboard``, or
            ``False`` for no TensorBoard output.
        step (str): TensorBoard step: ``'epoch'`` or ``'iteration'``.
        strict (bool): Raise on any failure (a computation error, NaN
            saliency, a visualizer error, a failed write) instead of
            warning and recording it in the index.
        background (bool): Draw and write on a background thread.
    """

    trigger = 1, 'epoch'
    priority = extension.PRIORITY_WRITER

    def __init__(self, probe, entries, *, probe_size=16, seed=0,
                 probe_indices=None, converter=concat_examples,
                 trigger=(1, 'epoch'), initial=True, out_dir='saliency',
                 tensorboard=None, step='epoch', strict=False,
                 background=True):
        self._entries = _entries(entries)
        _, self._indices, self._examples = choose_probe(
            probe, size=probe_size, seed=seed, indices=probe_indices)
        self._bound = {name: entry.bind(self._indices, self._examples)
                       for name, entry in self._entries.items()}
        if not callable(converter):
            raise TypeError('converter must be callable, got {!r}'.format(
                converter))
        if step not in STEPS:
            raise ValueError("step must be 'epoch' or 'iteration', got {!r}"
                             .format(step))
        if not isinstance(out_dir, str) or not out_dir:
            raise ValueError('out_dir must be a non-empty folder name, got '
                             '{!r}'.format(out_dir))
        self.trigger = _trigger(trigger)
        self._converter = converter
        self._initial = initial
        self._out_dir = out_dir
        self._tensorboard = tensorboard
        self._step = step
        self._strict = strict
        self._background = background
        # what a snapshot keeps
        self._last_epoch = -1
        self._last_iteration = -1
        self._session = 0
        self._limits = {name: self._unknown_limits(name)
                        for name in self._entries}
        self._resumed = False
        # set up in initialize
        self._layout = self._tb = self._writer = None
        self._previous = {}

    # -- what the replay script and users may read ---------------------------

    @property
    def entries(self):
        """dict: Entry name -> :class:`~saliency_ext.ReportEntry`."""
        return dict(self._entries)

    @property
    def out_dir(self):
        """str: The report folder's name under the trainer's ``out``."""
        return self._out_dir

    @property
    def step(self):
        """str: The TensorBoard step, ``'epoch'`` or ``'iteration'``."""
        return self._step

    @property
    def probe_indices(self):
        """list of int: The probe items' positions in the probe data."""
        return list(self._indices)

    @property
    def layout(self):
        """ReportLayout: The files of the reports (after :meth:`setup`)."""
        return self._layout

    def item_kwargs(self, name):
        """The per-item ``visualize`` arguments of entry ``name``."""
        return self._bound[name]

    def restore(self, previous=None, limits=None):
        """Seeds what earlier reports left: ``previous`` maps (entry ->
        ``(N, ...)``) that the next "moved since previous" compares with,
        and ``limits`` (entry -> ``(n_maps, 2)``) of ``scale='first'``."""
        self._previous.update(previous or {})
        for name, value in (limits or {}).items():
            self._limits[name][...] = value

    # -- Extension interface ------------------------------------------------

    def initialize(self, trainer):
        self.setup(trainer.out)
        records = self._layout.records()
        if self._resumed:
            self._previous = self._load_previous(records, self._session)
        # A resumed run, or a new run into a folder that holds reports,
        # continues as a new session: earlier files are never overwritten.
        if records:
            self._session = 1 + max([self._session] +
                                    [r['session'] for r in records])
        if self._initial and not self._resumed and \
                trainer.updater.iteration == 0:
            self.run(trainer.updater.epoch, trainer.updater.iteration)

    def setup(self, out, *, tensorboard=None):
        """Opens the outputs under the folder ``out`` (the trainer's
        ``out``) and tries every entry on the first probe item. Called by
        ``initialize``; the replay script calls it directly.

        Args:
            out (str): The folder the report folder goes in.
            tensorboard: Replaces the constructor's ``tensorboard`` when
                given.
        """
        from saliency_ext.writers.tensorboard import TensorBoardWriter
        if tensorboard is not None:
            self._tensorboard = tensorboard
        self._layout = ReportLayout(os.path.join(out, self._out_dir))
        self._writer = BackgroundWriter(self._background)
        if self._tensorboard is not False:
            self._tb = TensorBoardWriter(
                self._tensorboard if self._tensorboard is not None else
                os.path.join(out, 'tensorboard'))
        self._check_entries()
        self._write_probe()

    def __call__(self, trainer):
        updater = trainer.updater
        if updater.iteration == self._last_iteration:
            return  # already reported at this iteration (initial report)
        self.run(updater.epoch, updater.iteration)

    def serialize(self, serializer):
        if isinstance(serializer, chainer.serializer.Serializer):
            self._raise_or_warn(self._writer.drain() if self._writer else [])
        else:
            self._resumed = True
        self._last_epoch = serializer('last_epoch', self._last_epoch)
        self._last_iteration = serializer('last_iteration',
                                          self._last_iteration)
        self._session = serializer('session', self._session)
        for name in self._entries:
            serializer('limits_' + safe_name(name), self._limits[name])

    def finalize(self):
        if self._writer is not None:
            for error in self._writer.close():
                warnings.warn('SaliencyReport: {}'.format(error))
        if self._tb is not None:
            self._tb.close()

    # -- the work -------------------------------------------------------------

    def _check_entries(self):
        """Fail fast: every entry runs on the first probe item at the start,
        so a bad configuration stops the run now, not at the first
        trigger."""
        with preserved_random_state():
            for name, entry in self._entries.items():
                try:
                    saliency = entry.saliency(self._examples[:1],
                                              self._converter)
                    entry.render(saliency, self._bound[name][:1],
                                 entry.limits(saliency)
                                 if entry.scale == 'first' else None)
                except Exception as error:
                    raise type(error)(
                        'SaliencyReport entry {!r} failed on probe item 0 '
                        '(dataset index {}): {}'.format(
                            name, self._indices[0], error)) from error

    def _write_probe(self):
        converted = self._converter(self._examples, None)
        arrays = converted if isinstance(converted, tuple) else (converted,)
        self._layout.write_probe(
            numpy.asarray(self._indices),
            [backend.CpuDevice().send(a) for a in arrays])

    def run(self, epoch, iteration, *, entries=None):
        """Makes one report, stamped with ``epoch`` and ``iteration``, of
        every entry or of the entries named in ``entries``."""
        self._raise_or_warn(self._writer.collect())
        observation = {}
        start = time.perf_counter()
        jobs = []
        with preserved_random_state():
            for name, entry in self._entries.items():
                if entries is not None and name not in entries:
                    continue
                job, scalars = self._run_entry(name, entry, epoch, iteration)
                jobs.append(job)
                observation.update(scalars)
        # drawing starts once all computing is done: on the writer thread it
        # would otherwise compete for the interpreter with the next entry
        for job in jobs:
            self._writer.submit(self._write, *job)
        observation['saliency/seconds'] = time.perf_counter() - start
        self._last_epoch, self._last_iteration = epoch, iteration
        chainer.reporter.report(observation)

    def _run_entry(self, name, entry, epoch, iteration):
        start = time.perf_counter()
        saliency, error = None, None
        try:
            saliency = entry.saliency(self._examples, self._converter)
        except Exception as e:
            error = self._failure(name, epoch, e)
        seconds = time.perf_counter() - start
        if saliency is not None and not numpy.isfinite(saliency).all():
            bad = numpy.flatnonzero(~numpy.isfinite(saliency).reshape(
                len(saliency), -1).all(axis=1))
            error = self._failure(name, epoch, FloatingPointError(
                'NaN or infinite saliency for probe items {} (dataset indices '
                '{}): check the model for diverging outputs'.format(
                    bad.tolist(), [self._indices[i] for i in bad])))
        moved = None
        if saliency is not None:
            previous = self._previous.get(name)
            if previous is not None and previous.shape == saliency.shape:
                moved = mean_rank_correlation(previous, saliency)
            self._previous[name] = saliency
            self._set_first_limits(name, entry, saliency)
        limits = self._limits[name] if entry.scale == 'first' else None
        job = (name, entry, saliency, limits, epoch, iteration, self._session,
               seconds, moved, error)
        observation = {'saliency/{}/seconds'.format(name): seconds}
        if moved is not None:
            observation['saliency/{}/rank_corr'.format(name)] = moved
        return job, observation

    def _write(self, name, entry, saliency, limits, epoch, iteration,
               session, seconds, moved, error):
        """Runs on the background thread: draw, write files, index, TB."""
        pictures = []
        if saliency is not None:
            try:
                pictures = entry.render(saliency, self._bound[name], limits)
            except Exception as e:
                error = error or '{}: {}'.format(type(e).__name__, e)
                if self._strict:
                    raise
                warnings.warn('SaliencyReport entry {!r} at epoch {}: could '
                              'not draw: {}'.format(name, epoch, error))
        arrays = {} if saliency is None else {'saliency': saliency}
        self._layout.write_report(
            name, epoch, iteration, session, pictures, arrays,
            entry.settings(), step=self._step,
            seconds=seconds, rank_corr=_finite_or_none(moved), error=error)
        if self._tb is not None:
            step = epoch if self._step == 'epoch' else iteration
            tag = 'saliency/{}/'.format(safe_name(name))  # as the folder
            for picture, rgb in pictures:
                self._tb.add_image(tag + picture, rgb, step)
            self._tb.add_scalar(tag + 'seconds', seconds, step)
            if _finite_or_none(moved) is not None:
                self._tb.add_scalar(tag + 'rank_corr', moved, step)
            self._tb.flush()

    def _failure(self, name, epoch, error):
        if self._strict:
            raise error
        message = '{}: {}'.format(type(error).__name__, error)
        warnings.warn('SaliencyReport entry {!r} at epoch {}: {}'.format(
            name, epoch, message))
        return message

    def _raise_or_warn(self, errors):
        for error in errors:
            if self._strict:
                raise error
            warnings.warn('SaliencyReport could not write a report: {}'
                          .format(error))

    # -- colour scales and resume ------------------------------------------

    def _unknown_limits(self, name):
        n_maps = len(self._indices) + self._entries[name].include_mean
        return numpy.full((n_maps, 2), numpy.nan)

    def _set_first_limits(self, name, entry, saliency):
        if entry.scale == 'first' and numpy.isnan(self._limits[name]).all():
            self._limits[name][...] = entry.limits(saliency)

    def _load_previous(self, records, session):
        """The maps of the last report before the snapshot (made in
        ``session``), for the first "moved since previous" after a resume."""
        previous = {}
        for record in records:
            if record['iteration'] == self._last_iteration and \
                    record['session'] == session:
                arrays = self._layout.read_arrays(record)
                if arrays is not None:
                    previous[record['entry']] = arrays['saliency']
        return previous
