"""SaliencyReport: a training extension that explains a fixed probe batch at
chosen epochs and hands the pictures to its sinks (files, TensorBoard)."""
import hashlib
import json
import math
import os
import time
import warnings

import chainer
import numpy
from chainer.dataset import concat_examples
from chainer.training import extension
from chainer.training import trigger as trigger_module
from chainer.training.triggers import ManualScheduleTrigger

from saliency_ext.random_state import preserved_random_state
from saliency_ext.report.background import BackgroundWriter
from saliency_ext.report.entry import ReportEntry, finite_rows
from saliency_ext.report.errors import (SaliencyReportError, describe,
                                        describe_nonfinite, nonfinite_items,
                                        subject, wrap)
from saliency_ext.report.explained import Explained, join
from saliency_ext.report.history import FRAMES, ITEMS, History
from saliency_ext.report.pictures import ReportPictures, item_texts
from saliency_ext.report.probe import Probe, choose_probe
from saliency_ext.report.quality import random_model_warning
from saliency_ext.report.ranks import Ranks
from saliency_ext.report.series import EntrySeries
from saliency_ext.report.startup import check_start
from saliency_ext.sinks.base import ReportSink
from saliency_ext.sinks.files import FilesSink
from saliency_ext.sinks.layout import ReportLayout
from saliency_ext.sinks.storage import Picture, safe_name
from saliency_ext.sinks.tensorboard import TensorBoardSink
from saliency_ext.validation import is_int

STEPS = ('epoch', 'iteration')
#: The key of the report's state in a snapshot (one JSON string).
STATE_KEY = 'state'


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


def _sinks(sinks):
    sinks = list(sinks)
    for sink in sinks:
        if not isinstance(sink, ReportSink):
            raise TypeError('sinks must be ReportSink objects, got {!r}'
                            .format(type(sink).__name__))
    return sinks


def _positive_int(name, value, least=1):
    if not is_int(value) or value < least:
        raise ValueError('{} must be an int >= {}, got {!r}'.format(
            name, least, value))
    return int(value)


def _finite_or_none(value):
    return None if value is None or not math.isfinite(value) else \
        float(value)


class SaliencyReport(extension.Extension):
    """Explains a fixed probe batch while the model trains.

    At every trigger, and once before training starts, each entry computes
    the saliency of the probe items and draws, each with its caption and
    colour legend, one picture per item (and the mean), an ``overview`` of
    every item on one colour scale, and a ``history`` of every report so
    far; then it hands the report to its sinks:

    - the files under ``<trainer.out>/<out_dir>/`` (see
      :mod:`saliency_ext.sinks.layout`): pictures, the raw maps with the
      epoch, iteration and settings, and an index record per report;
    - TensorBoard: per entry, the card group ``saliency.<entry>`` with the
      overview, the history and the scalars, and ``saliency.<entry>.items``
      with each map (see :func:`saliency_ext.sinks.picture_tag`);
    - the sinks given in ``sinks``.

    It reports ``saliency/<entry>/rank_corr`` (mean Spearman correlation of
    each item's map with the previous report's: 1 means the explanation did
    not move) and ``saliency/<entry>/seconds`` to ``chainer.reporter``, for
    ``LogReport`` and ``PrintReport``, with the values of the metrics the
    entry asks for (``saliency/<entry>/deletion_auc``, ``.../mass/<group>``
    and so on, see :mod:`saliency_ext.report.quality`); the metrics also go
    into the index and to TensorBoard, those of the initial report too.

    Only the saliency computation blocks training; drawing and writing run
    on a background thread, in order, at most ``max_pending`` reports
    behind: past that training waits (with one warning naming the entry)
    rather than memory growing. The report is training-neutral: the
    random state, ``chainer.config``, parameter gradients and link hooks
    are as they were after it ran.

    SmoothGrad's noise and BayesGrad's dropout masks are drawn per probe
    item from a seed made of ``seed``, the item's dataset index and the
    epoch, so a map does not depend on which items, or how many processes,
    computed it.

    Data-parallel training (ChainerMN): every process builds the report
    with the same probe (the full probe data, not its scattered shard) and
    ``comm``; each computes its share of the probe's groups of items, the
    maps are gathered to rank 0, which alone draws, writes and reports the
    scalars. Other ranks create no file. As the probe is converted once and
    computed in the same groups whatever the number of processes, the maps
    are the same, bit for bit, with one process or several.

    Args:
        probe: The items to explain: an array, a tuple of arrays or a
            dataset. A fixed subset is drawn once when it is larger than
            ``probe_size``.
        entries (dict): Entry name -> :class:`~saliency_ext.ReportEntry`.
        probe_size (int): How many items to draw from ``probe``.
        seed (int): Seed of that draw and, with each item's dataset index
            and the epoch, of its noise and dropout masks.
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
        sinks (list of ReportSink): More destinations, beside the files and
            TensorBoard: each receives every report's record, pictures and
            arrays.
        comm: A ChainerMN communicator when training data-parallel: the
            probe's groups are split across its processes. Every process
            must extend its trainer with the same report at the same
            trigger.
        group_size (int): Probe items computed together, in one group of
            batched passes (all samples, steps and windows of its items):
            the unit of work a process takes. Up to ``probe_size /
            group_size`` processes share a report.
        max_pending (int): The most reports waiting to be drawn and
            written; past it the training thread waits.
        history_frames (int): The most reports the history picture shows;
            past it they are thinned evenly, keeping the first and the
            newest.
        history_items (int): The maps in each frame of the history: the
            mean (when drawn) first, then the first probe items.
    """

    trigger = 1, 'epoch'
    priority = extension.PRIORITY_WRITER

    def __init__(self, probe, entries, *, probe_size=16, seed=0,
                 probe_indices=None, converter=concat_examples,
                 trigger=(1, 'epoch'), initial=True, out_dir='saliency',
                 tensorboard=None, step='epoch', strict=False,
                 background=True, sinks=(), comm=None, group_size=8,
                 max_pending=2, history_frames=FRAMES, history_items=ITEMS):
        entries = _entries(entries)
        self._ranks = Ranks(comm)
        if not is_int(seed) or seed < 0:
            raise ValueError('seed must be an int >= 0, got {!r}'.format(seed))
        if not is_int(group_size) or group_size < 1:
            raise ValueError('group_size must be an int >= 1, got {!r}'
                             .format(group_size))
        self._seed = int(seed)
        self._group_size = int(group_size)
        _, indices, examples = choose_probe(
            probe, size=probe_size, seed=seed, indices=probe_indices)
        self._probe = Probe(indices, examples, converter)
        self._max_pending = _positive_int('max_pending', max_pending)
        history_frames = _positive_int('history_frames', history_frames, 2)
        history_items = _positive_int('history_items', history_items)
        self._series = {name: EntrySeries(
            name, entry, indices, examples,
            history=History(history_frames, history_items))
            for name, entry in entries.items()}
        self._warned_behind = False
        self._unlabelled = set()
        if step not in STEPS:
            raise ValueError("step must be 'epoch' or 'iteration', got {!r}"
                             .format(step))
        if not isinstance(out_dir, str) or not out_dir:
            raise ValueError('out_dir must be a non-empty folder name, got '
                             '{!r}'.format(out_dir))
        self.trigger = _trigger(trigger)
        self._initial = initial
        self._out_dir = out_dir
        self._tensorboard = tensorboard
        self._step = step
        self._strict = strict
        self._background = background
        self._user_sinks = _sinks(sinks)
        # what a snapshot keeps
        self._last_epoch = -1
        self._last_iteration = -1
        self._session = 0
        self._resumed = False
        # set up in setup()
        self._layout = self._writer = None
        self._sinks = []

    # -- what the replay script and users may read ---------------------------

    @property
    def entries(self):
        """dict: Entry name -> :class:`~saliency_ext.ReportEntry`."""
        return {name: s.entry for name, s in self._series.items()}

    @property
    def series(self):
        """dict: Entry name -> its :class:`~saliency_ext.EntrySeries`."""
        return dict(self._series)

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
        return list(self._probe.indices)

    @property
    def probe_examples(self):
        """list: The probe items, as the dataset holds them."""
        return list(self._probe.examples)

    @property
    def converter(self):
        """callable: What turns a list of probe items into model inputs."""
        return self._probe.converter

    @property
    def layout(self):
        """ReportLayout: The files of the reports (after :meth:`setup`; None
        in processes other than rank 0)."""
        return self._layout

    @property
    def is_writer(self):
        """bool: Whether this process draws and writes (rank 0, or the only
        process)."""
        return self._ranks.is_root

    # -- Extension interface ------------------------------------------------

    def initialize(self, trainer):
        self.setup(trainer.out)
        if self.is_writer:
            records = self._layout.records()
            if self._resumed:
                for series in self._series.values():
                    series.resume(self._layout, step=self._step)
            # A resumed run, or a new run into a folder that holds reports,
            # continues as a new session: earlier files are never
            # overwritten.
            if records:
                self._session = 1 + max([self._session] +
                                        [r['session'] for r in records])
        initial = self._initial and not self._resumed and \
            trainer.updater.iteration == 0
        if self._ranks.agree(initial):  # rank 0 decides for every rank
            self.run(trainer.updater.epoch, trainer.updater.iteration)

    def setup(self, out, *, tensorboard=None):
        """Runs the start-up check (:func:`~saliency_ext.report.startup.
        check_start`: the whole probe converted, every item's visualizer
        arguments checked, every entry tried on the first probe item), then
        opens the sinks under the folder ``out`` (the trainer's ``out``).
        Called by ``initialize``; the replay script calls it directly.
        With several processes every one runs the check, a failure in one
        stops them all, and only rank 0 opens sinks.

        Args:
            out (str): The folder the report folder goes in.
            tensorboard: Replaces the constructor's ``tensorboard`` when
                given.
        """
        if tensorboard is not None:
            self._tensorboard = tensorboard
        self._check_start()
        self._check_same_probe()
        if not self.is_writer:
            return
        self._layout = ReportLayout(os.path.join(out, self._out_dir))
        self._writer = BackgroundWriter(
            self._background,
            max_pending=self._max_pending * len(self._series),
            on_wait=self._behind)
        self._sinks = [FilesSink(self._layout)]
        if self._tensorboard is not False:
            self._sinks.append(TensorBoardSink(self._tensorboard))
        self._sinks += self._user_sinks
        for sink in self._sinks:
            sink.open(out)
        self._layout.write_probe(numpy.asarray(self._probe.indices),
                                 self._probe.arrays)

    def __call__(self, trainer):
        updater = trainer.updater
        if updater.iteration == self._last_iteration:
            return  # already reported at this iteration (initial report)
        self.run(updater.epoch, updater.iteration)

    def serialize(self, serializer):
        if isinstance(serializer, chainer.serializer.Serializer):
            self._raise_or_warn(self._writer.drain() if self._writer else [])
            serializer(STATE_KEY, json.dumps(self._state()))
        else:
            self._load_state(json.loads(str(serializer(STATE_KEY, ''))))

    def finalize(self):
        if self._writer is not None:
            for error in self._writer.close():
                warnings.warn('SaliencyReport: {}'.format(error))
        for sink in self._sinks:
            sink.close()

    # -- what a snapshot keeps ----------------------------------------------

    def _state(self):
        return dict(last_epoch=self._last_epoch,
                    last_iteration=self._last_iteration,
                    session=self._session,
                    entries={name: series.state()
                             for name, series in self._series.items()})

    def _load_state(self, state):
        self._resumed = True
        self._last_epoch = state['last_epoch']
        self._last_iteration = state['last_iteration']
        self._session = state['session']
        saved = state['entries']
        for name in sorted(set(saved) - set(self._series)):
            warnings.warn('SaliencyReport: entry {!r} is in the snapshot but '
                          'not in this report: its series ends'.format(name))
        for name, series in self._series.items():
            if name in saved:
                series.load_state(saved[name])
            else:
                warnings.warn('SaliencyReport: entry {!r} is new since the '
                              'snapshot: its series starts at the next '
                              'report'.format(name))

    # -- the work -------------------------------------------------------------

    def _check_start(self):
        """The start-up check, in every process; a failure in one stops
        every one, naming the entry and the process."""
        error = None
        try:
            check_start(self._series, self._probe, strict=self._strict)
        except Exception as e:
            error = e
        messages = self._ranks.allgather(None if error is None else
                                         str(error))
        if error is not None:
            raise error
        for rank, message in enumerate(messages):
            if message is not None:  # another process failed: stop too
                raise SaliencyReportError('{}\n(in the process of rank {})'
                                          .format(message, rank))

    def _check_same_probe(self):
        """With several processes: stops every one of them unless all
        built the report with the same entries and probe."""
        if self._ranks.size == 1:
            return
        digest = hashlib.sha1(json.dumps(
            [sorted(self._series), self._probe.indices]).encode())
        for array in self._probe.arrays:
            digest.update(numpy.ascontiguousarray(array).tobytes())
        digests = self._ranks.allgather(digest.hexdigest())
        differ = [rank for rank, d in enumerate(digests) if d != digests[0]]
        if differ:
            raise SaliencyReportError(
                'SaliencyReport: the processes of rank {} have other entries '
                'or another probe than rank 0: every process must build the '
                'report with the same entries and the same, full probe data '
                '(not its scatter_dataset shard)'.format(differ))

    def _share(self):
        """The probe items this process computes: its share of the groups
        of ``group_size`` consecutive items."""
        n, size = len(self._probe), self._group_size
        groups = self._ranks.share(-(-n // size))
        return range(min(n, groups.start * size), min(n, groups.stop * size))

    def _explain_items(self, name, items, epoch):
        """One entry's maps of the consecutive probe items ``items``, which
        start a group; the items' seeds are the report's seed, their
        dataset indices and the epoch."""
        if not len(items):
            return Explained()
        if self._probe.arrays is None:  # a replay's process other than 0
            self._probe.convert()
        data, converter = self._probe.data(list(items))
        seeds = [(self._seed, self._probe.indices[i], int(epoch))
                 for i in items]
        start = time.perf_counter()
        try:
            saliency = self._series[name].entry.saliency(
                data, converter, batchsize=self._group_size,
                item_seeds=seeds)
        except Exception as error:
            return Explained.failed(error, time.perf_counter() - start)
        seconds = time.perf_counter() - start
        return Explained(saliency, None, seconds,
                         outputs=self._explained(name, data, converter, epoch))

    def explain(self, epoch, *, entries=None):
        """Computes this process's share of the probe for each entry (all
        of it in a single process), with the item seeds of ``epoch``.

        Returns:
            dict: Entry name -> :class:`~saliency_ext.report.explained.
            Explained`, in entry order.
        """
        items = self._share()
        with preserved_random_state():
            return {name: self._explain_items(name, items, epoch)
                    for name in self._series
                    if entries is None or name in entries}

    def run(self, epoch, iteration, *, entries=None):
        """Makes one report, stamped with ``epoch`` and ``iteration``, of
        every entry or of the entries named in ``entries``. With several
        processes every one must call it; each computes its share."""
        start = time.perf_counter()
        shares = self.explain(epoch, entries=entries)
        gathered = self._ranks.gather(
            {name: share.portable() for name, share in shares.items()})
        failure = None
        if self.is_writer:
            gathered[0] = shares  # its own failures keep their exception
            explained = {name: join([g[name] for g in gathered],
                                    ranked=self._ranks.size > 1)
                         for name in shares}
            failure = self.publish(epoch, iteration, explained, start=start)
        self._last_epoch, self._last_iteration = epoch, iteration
        if self._strict:
            message = self._ranks.agree(
                None if failure is None else str(failure))
            if failure is not None:
                raise failure
            if message is not None:
                raise SaliencyReportError('{}\n(stopped in the process of '
                                          'rank 0)'.format(message))

    def publish(self, epoch, iteration, explained, *, start=None):
        """Hands a report's maps to the series and the sinks (rank 0 only):
        checks them, draws and writes them on the writer thread, and reports
        the scalars to ``chainer.reporter``.

        Args:
            epoch (int): The report's epoch.
            iteration (int): The report's iteration.
            explained (dict): Entry name -> :class:`~saliency_ext.report.
                explained.Explained` of the whole probe.
            start (float): When the report began (``time.perf_counter()``),
                for ``saliency/seconds``; default: now.

        Returns:
            SaliencyReportError: With ``strict=True``, the first failure
            (nothing is then written), raised from the original error; else
            None, failures being warned about and recorded.
        """
        start = time.perf_counter() if start is None else start
        failures = [f for f in map(self._write_failure,
                                   self._writer.collect()) if f is not None]
        observation, jobs = {}, []
        for name, result in explained.items():
            job, scalars, failure = self._entry_report(
                self._series[name], result, epoch, iteration)
            jobs.append(job)
            observation.update(scalars)
            if failure is not None:
                failures.append(failure)
        if self._strict and failures:
            return failures[0]
        # drawing starts once all computing is done: on the writer thread it
        # would otherwise compete for the interpreter with the next entry
        for series, record, arrays, limits, texts in jobs:
            saliency = arrays.get('saliency')
            pictures = 0 if saliency is None else \
                len(series.entry.maps(saliency)) + 2  # overview, history
            self._writer.submit(self._write, series, record, arrays, limits,
                                texts, label=series.name, pictures=pictures)
        observation['saliency/seconds'] = time.perf_counter() - start
        chainer.reporter.report(observation)
        return None

    def _entry_report(self, series, result, epoch, iteration):
        """Checks one entry's maps, measures its metrics and makes its
        record; returns the writer job, the scalars and, with
        ``strict=True``, the failure."""
        name, saliency = series.name, result.saliency
        error, failure = result.error, None
        if error is not None:
            cause = result.exception or RuntimeError(error)
            failure = _raised_from(wrap(cause, 'failed at epoch {}'.format(
                epoch), entry=name), cause)
        else:
            error, failure = self._check_finite(name, epoch, saliency)
        values, arrays, metric_seconds = {}, {}, None
        if error is None and series.metrics.enabled:
            values, arrays, metric_seconds, error, failure = self._measure(
                series, saliency, epoch)
        if error is not None and not self._strict:
            warnings.warn('{} at epoch {}: {}'.format(subject(name), epoch,
                                                      error))
        moved, limits, texts = None, None, None
        if saliency is not None:
            moved = series.advance(saliency, epoch, iteration, self._session)
            limits = series.limits(saliency)
            texts = item_texts(self._probe.indices, result.outputs)
            arrays = dict(saliency=saliency, **arrays)
        notes = [random_model_warning(values)] if iteration > 0 else []
        record = dict(entry=name, epoch=int(epoch), iteration=int(iteration),
                      session=self._session, step=self._step,
                      settings=series.entry.settings(),
                      seconds=result.seconds, rank_corr=_finite_or_none(moved),
                      error=error, failed_items=[],
                      metrics={k: _finite_or_none(v)
                               for k, v in values.items()},
                      metrics_seconds=metric_seconds,
                      warnings=[n for n in notes if n])
        if saliency is not None and series.entry.include_mean:
            record['mean_items'] = int(finite_rows(saliency).sum())
        for note in record['warnings']:
            warnings.warn('{} at epoch {}: {}'.format(subject(name), epoch,
                                                      note))
        scalars = dict(values, seconds=result.seconds, rank_corr=moved,
                       metrics_seconds=metric_seconds)
        observation = {'saliency/{}/{}'.format(name, key): value
                       for key, value in scalars.items()
                       if _finite_or_none(value) is not None}
        return (series, record, arrays, limits, texts), observation, \
            failure if self._strict else None

    def _measure(self, series, saliency, epoch):
        """Measures the entry's metrics on its new maps over the whole
        probe (rank 0 holds it); returns ``(values, arrays, seconds, error,
        failure)``, the error in words for the index and the failure a
        strict report raises."""
        start = time.perf_counter()
        try:
            with preserved_random_state():
                values, arrays = series.measure(saliency,
                                                *self._probe.data())
        except Exception as cause:
            failure = _raised_from(wrap(cause, 'could not measure its '
                                        'metrics at epoch {}'.format(epoch),
                                        entry=series.name), cause)
            return {}, {}, time.perf_counter() - start, describe(cause), \
                failure
        return values, arrays, time.perf_counter() - start, None, None

    def _check_finite(self, name, epoch, saliency):
        """Names the probe items whose saliency holds NaN or infinite
        values: returns the message for the index and the error a strict
        report raises, or ``(None, None)`` when every map is finite."""
        nan, inf = nonfinite_items(saliency)
        if not (nan or inf):
            return None, None
        indices = self._probe.indices
        message = 'saliency holds {}: check the model for diverging ' \
            'outputs and the probe for non-finite inputs'.format(
                describe_nonfinite(nan, inf, indices))
        items = sorted(set(nan + inf))
        return message, SaliencyReportError(
            '{} at epoch {}: {}'.format(subject(name), epoch, message),
            entry=name, items=items, indices=[indices[i] for i in items])

    def _explained(self, name, data, converter, epoch):
        """What an entry's maps of ``data`` explain, from the model that
        made them, for the pictures' labels; None (and a warning, once per
        entry) when it cannot be had."""
        try:
            return self._series[name].entry.explained(data, converter)
        except Exception as error:
            if name not in self._unlabelled:
                self._unlabelled.add(name)
                warnings.warn('SaliencyReport entry {!r} at epoch {}: the '
                              'pictures are not labelled with the explained '
                              'outputs ({}: {})'.format(
                                  name, epoch, type(error).__name__, error))
            return None

    def _behind(self, name):
        """Called when the training thread waits for the writer."""
        if not self._warned_behind:
            self._warned_behind = True
            warnings.warn(
                'SaliencyReport: drawing entry {!r} falls behind training ({} '
                'reports waiting); training waits for it. Report less often '
                '(a longer trigger, such as (5, \'epoch\')) or draw fewer '
                'probe items'.format(name, self._max_pending))

    def _stamp(self, record):
        return '{} {}'.format(self._step, record[self._step])

    def _write(self, series, record, arrays, limits, texts):
        """Runs on the background thread: draws the pictures, hands the
        report to every sink, flushes them, then lists it in the index."""
        saliency = arrays.get('saliency')
        pictures = {}
        if saliency is not None:
            drawn, rendering = ReportPictures(
                series, self._stamp(record), texts).draw(saliency, limits)
            pictures = {name: Picture.of(rgb) for name, rgb in drawn.items()}
            if rendering.failures:
                self._drawing_failed(record, rendering)
        record['files'] = self._layout.report_files(
            record['entry'], record['epoch'], record['iteration'],
            record['session'], pictures, arrays)
        record['time'] = time.time()
        for sink in self._sinks:
            sink.write(record, pictures, arrays)
        for sink in self._sinks:
            sink.flush()
        self._layout.append(record)

    def _drawing_failed(self, record, rendering):
        """Pictures that could not be drawn: raised, wrapped, when strict;
        else recorded (they are placeholders) and warned about."""
        failures = rendering.failures
        if self._strict:
            first = failures[0]
            items = [] if first['item'] is None else [first['item']]
            raise wrap(rendering.errors[0], 'could not draw {} at epoch '
                       '{}'.format('{items}' if items else 'the {} picture'
                                   .format(first['picture']), record['epoch']),
                       entry=record['entry'], items=items,
                       indices=[first['index']] if items else []
                       ) from rendering.errors[0]
        record['failed_items'] = failures
        message = 'could not draw {}'.format('; '.join(
            '{} ({})'.format(f['picture'], f['error']) if f['item'] is None
            else 'probe item {} (dataset index {}): {}'.format(
                f['item'], f['index'], f['error']) for f in failures))
        record['error'] = record['error'] or message
        warnings.warn('{} at epoch {}: {}; drawn as placeholders'.format(
            subject(record['entry']), record['epoch'], message))

    def _raise_or_warn(self, errors):
        for error in errors:
            failure = self._write_failure(error)
            if failure is not None:
                raise failure

    def _write_failure(self, error):
        """A failure of the writer thread: the error a strict report raises,
        else warned about (None)."""
        if not self._strict:
            warnings.warn('SaliencyReport could not write a report: {}'
                          .format(error))
            return None
        if isinstance(error, SaliencyReportError):
            return error
        return _raised_from(wrap(error, 'could not write a report'), error)


def _raised_from(error, cause):
    """``error`` as ``raise error from cause`` leaves it, to raise later."""
    error.__cause__ = cause
    return error
