"""SaliencyReport: a training extension that explains a fixed probe batch at
chosen epochs and hands the pictures to its sinks (files, TensorBoard)."""
import hashlib
import json
import math
import os
import sys
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
from saliency_ext.report.drawing import ProcessDrawing, ThreadDrawing, can_fork
from saliency_ext.report.entry import ReportEntry, finite_rows
from saliency_ext.report.errors import (SaliencyReportError, describe,
                                        describe_nonfinite, nonfinite_items,
                                        subject, wrap)
from saliency_ext.report.explained import Explained, join
from saliency_ext.report.history import FRAMES, ITEMS, History
from saliency_ext.report.pictures import item_texts
from saliency_ext.report.probe import Probe, choose_probe
from saliency_ext.report.quality import random_model_warning
from saliency_ext.report.ranks import Ranks
from saliency_ext.report.series import EntrySeries
from saliency_ext.report.startup import check_start
from saliency_ext.sinks.base import ReportSink
from saliency_ext.sinks.files import FilesSink
from saliency_ext.sinks.layout import ReportLayout
from saliency_ext.sinks.lock import FolderLock
from saliency_ext.sinks.molecules import MoleculeExportSink, ProbeMolecules
from saliency_ext.sinks.tensorboard import TensorBoardSink, entry_group
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
        try:
            name.encode('utf-8')
        except UnicodeEncodeError:
            raise ValueError('entry name {!r} is not valid Unicode (it holds a '
                             'lone surrogate) and cannot be written to the '
                             'index: give the entry another name'.format(
                                 name)) from None
        if not isinstance(entry, ReportEntry):
            raise TypeError('entry {!r} must be a ReportEntry, got {!r}'
                            .format(name, type(entry).__name__))
        folder = ReportLayout.entry_dir(name)
        if folder in seen:
            raise ValueError('entry names {!r} and {!r} collide'.format(
                seen[folder], name))
        seen[folder] = name
    return dict(items)


def _out_dir(out_dir):
    """The report folder's path below ``trainer.out``, normalised; refuses
    anything that could lead outside it."""
    if not isinstance(out_dir, str) or not out_dir or '\0' in out_dir:
        raise ValueError('out_dir must be a non-empty folder name, got '
                         '{!r}'.format(out_dir))
    parts = out_dir.replace('\\', '/').split('/')
    if os.path.isabs(out_dir) or os.path.splitdrive(out_dir)[0] or \
            '..' in parts:
        raise ValueError('out_dir {!r} must be a folder inside the trainer\'s '
                         'out: a relative path without ".." (for example '
                         "'saliency')".format(out_dir))
    normal = os.path.normpath(out_dir)
    if normal == '.':
        raise ValueError('out_dir {!r} must name a folder below the trainer\'s '
                         'out, not the out folder itself'.format(out_dir))
    return normal


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


def _sink_names(sink):
    """What the index calls a sink, and what the messages call it."""
    known = {FilesSink: ('files', 'the files'),
             MoleculeExportSink: ('molecules', 'the molecule exports'),
             TensorBoardSink: ('tensorboard', 'the TensorBoard events')}
    name = type(sink).__name__
    return known.get(type(sink), (name, 'the sink ' + name))


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
    - TensorBoard: per entry, the card group ``<out_dir>.<entry>`` with the
      overview, the history and the scalars, and ``<out_dir>.<entry>.items``
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
    in the background, in order, at most ``max_pending`` reports behind:
    past that training waits (with one warning naming the entry) rather
    than memory growing. The pictures are drawn in a child process (where
    the platform can fork), which keeps drawing from slowing the training
    thread down; a background thread writes them. The report is
    training-neutral: the random state, ``chainer.config``, parameter
    gradients and link hooks are as they were after it ran.

    Nothing is lost or overwritten. Each report is made durable in order:
    its files, then its TensorBoard events written through to disk, then its
    index record, so whatever the index lists survives a kill. Every run
    writes a new session (its own report folders, probe file and event
    file); earlier files are never rewritten. Whether a run is resumed (by
    ``serializers.load_npz`` before ``run``, by
    ``extensions.snapshot(autoload=True)`` or ChainerMN's snapshot and
    checkpointer, which load after this extension's ``initialize``) is
    decided once every extension has initialized: the report of the
    untrained model is computed at ``initialize`` but written (just before
    the first update) only if no snapshot was loaded. The report folder is locked while it
    runs: a second process, or a second report of the same trainer with the
    same ``out_dir``, gets an error at start naming the folder and who holds
    it; the lock of a killed run is taken over, and the partial files that
    run left are removed.

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
        out_dir (str): Folder under ``trainer.out`` for the files: a
            relative path without ``..``. Its name also begins the
            TensorBoard tags, so two reports of one trainer, which need two
            folders, never share a tag.
        tensorboard: A ``tensorboardX.SummaryWriter`` (left open), a log
            directory, ``None`` for ``<trainer.out>/tensorboard``, or
            ``False`` for no TensorBoard output.

        step (str): TensorBoard step: ``'epoch'`` or ``'iteration'``.
        strict (bool): Raise on any failure (a computation error, NaN
            saliency, a visualizer error, a failed write) instead of only
            warning. Drawing and write failures are recorded in the index
            either way, and raised at the next trigger, a snapshot or
            ``finalize`` at the latest.
        background (bool or str): ``True``: draw in a child process and
            write on a background thread (draw on that thread where the
            platform cannot fork); ``'thread'``: draw and write on the
            background thread; ``False``: draw and write in the training
            thread, in the call.
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
        self.trigger = _trigger(trigger)
        self._initial = initial
        self._out_dir = _out_dir(out_dir)
        self._tensorboard = tensorboard
        self._step = step
        self._strict = strict
        if background not in (True, False, 'thread'):
            raise ValueError("background must be True, False or 'thread', "
                             'got {!r}'.format(background))
        self._background = background
        self._user_sinks = _sinks(sinks)
        # what a snapshot keeps
        self._last_epoch = -1
        self._last_iteration = -1
        self._resumed = False
        # set up in setup()
        self._session = None
        self._layout = self._writer = self._lock = None
        self._sinks = []
        # the untrained model's report, computed at initialize and written
        # before the first update unless a snapshot was loaded meanwhile
        self._undecided = False
        self._initial_report = None

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
        """str: The report folder's path under the trainer's ``out``."""
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
    def session(self):
        """int: The session this run writes (after :meth:`setup`, rank 0)."""
        return self._session

    @property
    def sinks(self):
        """list of ReportSink: Where reports go, files first (after
        :meth:`setup`, rank 0)."""
        return list(self._sinks)

    @property
    def is_writer(self):
        """bool: Whether this process draws and writes (rank 0, or the only
        process)."""
        return self._ranks.is_root

    # -- Extension interface ------------------------------------------------

    def initialize(self, trainer):
        self.setup(trainer.out)
        updater = trainer.updater
        self._undecided = True
        initial = self._initial and not self._resumed and \
            updater.iteration == 0
        if self._ranks.agree(initial):  # rank 0 decides for every rank
            self._initial_report = self._compute(updater.epoch,
                                                 updater.iteration)
            # The trainer calls extensions entered with call_before_training
            # once every extension has initialized (a snapshot's autoload
            # included) and before the first update: the moment to write the
            # untrained model's report. Without that entry (another trainer
            # class), it is written at the first call.
            entry = getattr(trainer, '_extensions', {}).get(self.name)
            if entry is not None and hasattr(entry, 'call_before_training'):
                entry.call_before_training = True

    def setup(self, out, *, tensorboard=None):
        """Runs the start-up check (:func:`~saliency_ext.report.startup.
        check_start`: the whole probe converted, every item's visualizer
        arguments checked, every entry tried on the first probe item), then
        locks the report folder ``<out>/<out_dir>``, clears what a killed
        run left there, starts a new session (saving its probe) and opens
        the sinks. Called by ``initialize``; the replay script calls it
        directly. With several processes every one runs the check, a
        failure in one stops them all, and only rank 0 does the rest.

        Args:
            out (str): The folder the report folder goes in (the trainer's
                ``out``).
            tensorboard: Replaces the constructor's ``tensorboard`` when
                given.

        Raises:
            FolderInUseError: When another process, or another report of
                this process, writes into the report folder.
        """
        if tensorboard is not None:
            self._tensorboard = tensorboard
        self._check_start()
        self._check_same_probe()
        molecules = self._molecule_probes()  # in every process: same errors
        if not self.is_writer:
            return
        layout = ReportLayout(os.path.join(out, self._out_dir))
        lock = FolderLock(layout.lock_path, 'the SaliencyReport {!r}'.format(
            self.name or self.default_name))
        previous = lock.acquire()
        try:
            self._session = self._recover(layout, previous)
            lock.update(session=self._session)
            self._sinks = [FilesSink(layout)]
            if molecules:
                self._sinks.append(MoleculeExportSink(layout, molecules))
            if self._tensorboard is not False:
                self._sinks.append(TensorBoardSink(
                    self._tensorboard, mark=layout.mark,
                    session=self._session))
            self._sinks += self._user_sinks
            layout.write_probe(numpy.asarray(self._probe.indices),
                               self._probe.arrays, session=self._session)
            for sink in self._sinks:
                sink.open(out)
            self._drawing = self._start_drawing(layout.root, lock)
        except BaseException:
            lock.release()
            raise
        self._layout, self._lock = layout, lock
        self._writer = BackgroundWriter(
            self._background,
            max_pending=self._max_pending * len(self._series),
            on_wait=self._behind)

    def _start_drawing(self, root, lock):
        """Where the pictures are drawn: a child process forked now, from
        the thread that starts the report, before training (see
        :mod:`saliency_ext.report.drawing`), or the writer thread."""
        if self._background is not True or not can_fork():
            return ThreadDrawing(self._series)
        drawing = ProcessDrawing(self._series, root,
                                 close_fds=[lock.fileno()])
        drawing.start()
        return drawing

    def _recover(self, layout, previous):
        """Clears what the folder's last writer left unfinished, warns about
        it, and returns the new session."""
        last = previous.get('session')
        removed, unlisted = layout.recover(session=last)
        if previous and not previous.get('released'):
            warnings.warn(
                'SaliencyReport: the last run into {} (process {}{}) ended '
                'without finishing; {} unfinished file(s) and report '
                'folder(s) it left were removed{}'.format(
                    layout.root, previous.get('pid', '?'),
                    '' if last is None else ', session {}'.format(last),
                    len(removed), ': ' + ', '.join(removed[:5]) +
                    (', ...' if len(removed) > 5 else '') if removed else ''))
        if unlisted:
            warnings.warn(
                'SaliencyReport: {} report folder(s) in {} have no index '
                'record and were left as they are: {}{}'.format(
                    len(unlisted), layout.root, ', '.join(unlisted[:5]),
                    ', ...' if len(unlisted) > 5 else ''))
        return layout.next_session(previous=last)

    def __call__(self, trainer):
        self._decide(together=True)
        updater = trainer.updater
        if updater.iteration == self._last_iteration:
            return  # already reported at this iteration (initial report)
        self.run(updater.epoch, updater.iteration)

    def serialize(self, serializer):
        if isinstance(serializer, chainer.serializer.Serializer):
            if self._ranks.size == 1:
                # Several processes decide together at the first call: a
                # save before it (ChainerMN's multi-node snapshot sends what
                # it loaded to the other ranks) keeps the state as loaded.
                self._decide()
            self._raise_or_warn(self._writer.drain() if self._writer else [])
            serializer(STATE_KEY, json.dumps(self._state()))
        else:
            self._load_state(json.loads(str(serializer(STATE_KEY, ''))))

    def finalize(self):
        if self._writer is None:
            return  # never set up, or a process other than rank 0
        errors = []
        try:
            self._decide()
        finally:
            errors += self._writer.close()
            errors += self._close()
        self._raise_or_warn(errors)

    def _close(self):
        """Stops the drawing process, writes the index records still
        pending, closes the sinks and lets the folder's lock go; returns what
        failed."""
        self._drawing.close()
        errors = []
        index = self._layout.index
        try:
            index.write_pending()
        except OSError as error:
            lost = [json.loads(line) for line in index.pending]
            errors.append(SaliencyReportError(
                'SaliencyReport: {} index record(s) could not be written and '
                'are lost ({}): {}'.format(len(lost), error, ', '.join(
                    'entry {!r} at epoch {}'.format(r['entry'], r['epoch'])
                    for r in lost))))
        for sink in self._sinks:
            try:
                sink.close()
            except Exception as error:
                errors.append(SaliencyReportError(
                    'SaliencyReport: could not close {}: {}'.format(
                        _sink_names(sink)[1], error)))
        self._lock.release()
        return errors

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

    def resume_series(self, name, *, until=None):
        """Has entry ``name``'s series go on from the reports in the folder
        made before the report at ``until`` (``(epoch, iteration)``; None:
        all of them), where it draws too (in report order)."""
        self._series[name].resume(self._layout, until=until, step=self._step)
        self._writer.submit(self._drawing.resume, name, until, self._step,
                            label=name, pictures=0)

    def _decide(self, *, together=False):
        """Once every extension has initialized: a resumed run continues its
        series from the report folder; a fresh one writes the untrained
        model's report computed at ``initialize``. ``together``: every
        process calls it at once (rank 0 then decides for all)."""
        if not self._undecided:
            return
        self._undecided = False
        initial, self._initial_report = self._initial_report, None
        resumed = self._ranks.agree(self._resumed) if together else \
            self._resumed
        if resumed:
            if self.is_writer:
                for name in self._series:
                    self.resume_series(name)
        elif initial is not None:
            self._finish(initial, together=together)

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

    def _explain_items(self, name, items, epoch, explained):
        """One entry's maps of the consecutive probe items ``items``, which
        start a group; the items' seeds are the report's seed, their
        dataset indices and the epoch. ``explained``: what the report's
        entries explain so far (see :meth:`_explained`)."""
        if not len(items):
            return Explained()
        if self._probe.arrays is None:  # a replay's process other than 0
            self._probe.convert()
        data, converter = self._probe.data(list(items))
        seeds = [(self._seed, self._probe.indices[i], int(epoch))
                 for i in items]
        start = time.perf_counter()
        try:
            arrays = self._series[name].entry.arrays(
                data, converter, batchsize=self._group_size,
                item_seeds=seeds)
        except Exception as error:
            return Explained.failed(error, time.perf_counter() - start)
        seconds = time.perf_counter() - start
        return Explained(arrays['saliency'], None, seconds,
                         outputs=self._explained(name, data, converter, epoch,
                                                 explained),
                         spread=arrays.get('saliency_std'))

    def explain(self, epoch, *, entries=None):
        """Computes this process's share of the probe for each entry (all
        of it in a single process), with the item seeds of ``epoch``.

        Returns:
            dict: Entry name -> :class:`~saliency_ext.report.explained.
            Explained`, in entry order.
        """
        items, explained = self._share(), {}
        with preserved_random_state():
            return {name: self._explain_items(name, items, epoch, explained)
                    for name in self._series
                    if entries is None or name in entries}

    def _molecule_probes(self):
        """The molecule entries' probe molecules, prepared for the exports
        (``fragments.csv``, ``molecules.sdf``)."""
        probes = {}
        for name, series in self._series.items():
            mols = series.molecules()
            if mols is not None:
                probes[name] = ProbeMolecules(mols, self._probe.indices,
                                              series.entry.groups)
        return probes

    def run(self, epoch, iteration, *, entries=None):
        """Makes one report, stamped with ``epoch`` and ``iteration``, of
        every entry or of the entries named in ``entries``. With several
        processes every one must call it; each computes its share."""
        self._finish(self._compute(epoch, iteration, entries))

    def _compute(self, epoch, iteration, entries=None):
        """Computes a report, each process its share, gathered on rank 0;
        nothing is written or advanced yet."""
        start = time.perf_counter()
        shares = self.explain(epoch, entries=entries)
        gathered = self._ranks.gather(
            {name: share.portable() for name, share in shares.items()})
        explained = None
        if self.is_writer:
            gathered[0] = shares  # its own failures keep their exception
            explained = {name: join([g[name] for g in gathered],
                                    ranked=self._ranks.size > 1)
                         for name in shares}
        return dict(epoch=epoch, iteration=iteration, explained=explained,
                    seconds=time.perf_counter() - start)

    def _finish(self, report, *, together=True):
        """Publishes a computed report on rank 0. With ``strict=True`` a
        failure stops every process (``together``: a collective) or this
        one."""
        failure = None
        if self.is_writer:
            failure = self.publish(
                report['epoch'], report['iteration'], report['explained'],
                start=time.perf_counter() - report['seconds'])
        self._last_epoch = report['epoch']
        self._last_iteration = report['iteration']
        if self._strict:
            message = self._ranks.agree(None if failure is None else
                                        str(failure)) if together else None
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
        # strict: the previous report's failures are raised now at the latest
        done = self._writer.drain() if self._strict else \
            self._writer.collect()
        failures = [f for f in map(self._write_failure, done)
                    if f is not None]
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
            if result.spread is not None:
                arrays['saliency_std'] = result.spread
        notes = [random_model_warning(values)] if iteration > 0 else []
        record = self._record(name, epoch, iteration, result.seconds, moved,
                              error, saliency)
        record.update(metrics={k: _finite_or_none(v)
                               for k, v in values.items()},
                      metrics_seconds=metric_seconds,
                      warnings=[n for n in notes if n])
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

    def _record(self, name, epoch, iteration, seconds, moved, error,
                saliency):
        folder = self._layout.entry_dir(name)
        entry = self._series[name].entry
        record = dict(entry=name, epoch=int(epoch), iteration=int(iteration),
                      session=self._session, step=self._step, folder=folder,
                      tag=entry_group(name, self._out_dir),
                      probe=self._layout.probe_file(self._session),
                      settings=entry.settings(), seconds=seconds,
                      rank_corr=_finite_or_none(moved), error=error,
                      failed_items=[], failed=[])
        if saliency is not None and entry.include_mean:
            record['mean_items'] = int(finite_rows(saliency).sum())
        return record

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

    def _explained(self, name, data, converter, epoch, known):
        """What an entry's maps of ``data`` explain, from the model that
        made them, for the pictures' labels; None (and a warning, once per
        entry) when it cannot be had. ``known``: the values found for the
        other entries of the report, by :meth:`~saliency_ext.ReportEntry.
        explained_key`: entries that explain the same outputs share one
        pass."""
        entry = self._series[name].entry
        key = entry.explained_key()
        if key not in known:
            try:
                known[key] = entry.explained(data, converter)
            except Exception as error:
                known[key] = error
        found = known[key]
        if not isinstance(found, Exception):
            return found
        if name not in self._unlabelled:
            self._unlabelled.add(name)
            warnings.warn('SaliencyReport entry {!r} at epoch {}: the '
                          'pictures are not labelled with the explained '
                          'outputs ({}: {})'.format(
                              name, epoch, type(found).__name__, found))
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
        """Runs on the background thread: draws the pictures (an item that
        cannot be drawn as a placeholder), hands the report to every sink,
        flushes them, then lists it in the index. Raises
        :class:`SaliencyReportError` for what failed, once the record is
        listed."""
        problems, causes, items = [], [], []
        saliency = arrays.get('saliency')
        pictures = {}
        if saliency is not None:
            pictures, rendering = self._drawing.draw(
                series.name, self._stamp(record), texts, saliency, limits,
                arrays.get('saliency_std'))
            if rendering.failures:
                problems.append(self._drawing_failed(record, rendering) +
                                '; drawn as placeholders')
                causes += rendering.errors
                items = [f['item'] for f in rendering.failures
                         if f['item'] is not None]
        listed = [sink.files(record, pictures, arrays) for sink in self._sinks]
        record['files'] = [path for paths in listed for path in paths]
        record['time'] = time.time()
        for stage in ('write', 'flush'):
            for sink, files in zip(self._sinks, listed):
                try:
                    getattr(sink, stage)(*(
                        (record, pictures, arrays) if stage == 'write' else ()))
                except Exception as e:
                    problems.append(self._sink_failed(record, sink, files, e))
                    causes.append(e)
        try:
            self._layout.append(record)
        except OSError as e:
            problems.append('could not write the index ({}); its record and '
                            'any earlier unwritten ones ({} in all) are kept '
                            'in memory until it can be written'.format(
                                e, len(self._layout.index.pending)))
            causes.append(e)
        if problems:
            raise SaliencyReportError(
                '{} at epoch {}: {}'.format(subject(record['entry']),
                                            record['epoch'],
                                            '; '.join(problems)),
                entry=record['entry'], items=items,
                indices=[self._probe.indices[i] for i in items]
            ) from causes[0]

    @staticmethod
    def _drawing_failed(record, rendering):
        """Records the pictures that could not be drawn; returns the
        words."""
        record['failed_items'] = rendering.failures
        words = 'could not draw {}'.format('; '.join(
            '{} ({})'.format(f['picture'], f['error']) if f['item'] is None
            else 'probe item {} (dataset index {}): {}'.format(
                f['item'], f['index'], f['error'])
            for f in rendering.failures))
        record['error'] = record['error'] or words
        return words

    @staticmethod
    def _sink_failed(record, sink, files, error):
        """Records in ``record`` that ``sink`` failed (the ``files`` it
        named are not listed: a failing sink removes them); returns the
        words."""
        what, called = _sink_names(sink)
        record['files'] = [f for f in record['files'] if f not in files]
        words = 'could not write {}: {}'.format(called, error)
        record['failed'].append(dict(what=what, path=getattr(
            error, 'filename', None), error=str(error)))
        record['error'] = words if record['error'] is None else \
            '{}; {}'.format(record['error'], words)
        return words

    def _raise_or_warn(self, errors):
        """Raises the first failure of the writer thread with ``strict=True``
        (unless an exception is already on its way), else warns."""
        failing = sys.exc_info()[0] is not None
        for error in errors:
            failure = self._write_failure(error)
            if failure is not None:
                if not failing:
                    raise failure
                warnings.warn(str(failure))

    def _write_failure(self, error):
        """A failure of the writer thread: the error a strict report raises,
        else warned about, in the words of its index record (None)."""
        known = isinstance(error, SaliencyReportError)
        if not self._strict:
            warnings.warn(str(error) if known else
                          'SaliencyReport could not write a report: {}'.format(
                              error))
            return None
        if known:
            return error
        return _raised_from(wrap(error, 'could not write a report'), error)


def _raised_from(error, cause):
    """``error`` as ``raise error from cause`` leaves it, to raise later."""
    error.__cause__ = cause
    return error
