"""Replays a :class:`~saliency_ext.SaliencyReport` over the snapshots of a
training run, after the fact.

A run trained without the report, or one that should be explained by another
method, saved snapshots with ``chainer.training.extensions.snapshot`` (the
whole trainer) or ``snapshot_object`` (the model alone). For each snapshot, in
training order, the replay loads the model's parameters, runs the report's
entries on its probe and writes exactly what the report writes during
training (files under ``<out>/<out_dir>/``, the index, TensorBoard images),
stamped with the snapshot's epoch and iteration. Then it draws an evolution
strip per entry and probe item: the item's maps across the snapshots, side by
side, on one colour scale (``<out>/<out_dir>/<entry>/evolution/item_NN.png``).

Snapshots are read by :mod:`saliency_ext.snapshots` (its names are public
here too) with ``numpy.load(..., allow_pickle=False)``: no pickled code runs.
A snapshot that is missing, corrupt or does not fit the model is reported by
name and skipped; the others are still replayed.

Under ``mpiexec -n N`` (``comm``) the snapshots are split across the
processes: each explains its share, rank 0 takes the maps in training order
and alone writes, so the output is that of a one-process replay.

The command line (``saliency-replay``, ``scripts/saliency_replay.py``) is
:func:`saliency_ext.replay.cli.main`; the pieces are public for use from
Python::

    model, report = replay_config()
    snapshots, problems = order_snapshots(find_snapshots(['result'])[0])
    summary = replay(model, report, snapshots, 'replay')
"""
import contextlib
import dataclasses
import itertools
import json
import os
import shutil
import time

import chainer
import numpy

from saliency_ext.replay.evolution import write_evolution
from saliency_ext.replay.snapshots import SnapshotError, load_model_params
from saliency_ext.report import SaliencyReport
from saliency_ext.report.ranks import Ranks
from saliency_ext.sinks.events import PREFIX
from saliency_ext.sinks.layout import ReportLayout
from saliency_ext.sinks.lock import FolderInUseError, FolderLock
from saliency_ext.sinks.storage import write_json


class ReplayError(Exception):
    """A replay that cannot start: a bad configuration or output folder."""


@dataclasses.dataclass
class ReplaySummary(object):
    """What a replay did."""
    done: list = dataclasses.field(default_factory=list)
    skipped: list = dataclasses.field(default_factory=list)  # already done
    failed: list = dataclasses.field(default_factory=list)  # SnapshotError
    # another snapshot of a step already replayed (SnapshotError)
    duplicates: list = dataclasses.field(default_factory=list)
    problems: list = dataclasses.field(default_factory=list)  # str
    evolution: list = dataclasses.field(default_factory=list)  # paths
    explained_by: list = dataclasses.field(default_factory=list)  # per done
    seconds: float = 0.

    @property
    def ok(self):
        return not self.failed and not self.problems


# -- the report's internals, in one place ----------------------------------

def _check_report(report):
    if not isinstance(report, SaliencyReport):
        raise TypeError('report must be a SaliencyReport, got {!r}'.format(
            type(report).__name__))
    return report


def _check_model(model, report):
    if not isinstance(model, chainer.Link):
        raise ReplayError('the model must be a chainer.Link, got {!r}'.format(
            type(model).__name__))
    links = {id(link) for link in model.links()}
    for name, entry in report.entries.items():
        if id(entry.calculator.model) not in links:
            raise ReplayError(
                'entry {!r} explains a {} that is not the model given (a {}) '
                'nor one of its links: the replay loads the snapshots into '
                'the model, so build the entries on it'.format(
                    name, type(entry.calculator.model).__name__,
                    type(model).__name__))


# -- the output folder --------------------------------------------------------

def _event_files(logdir):
    try:
        return sorted(n for n in os.listdir(logdir) if n.startswith(PREFIX))
    except OSError:
        return []


def _read_manifest(layout):
    try:
        with open(layout.manifest_path, encoding='utf-8') as f:
            return json.load(f)
    except FileNotFoundError:
        return None
    except ValueError as error:
        raise ReplayError('{} is damaged ({}); replay into another folder or '
                          'delete it'.format(layout.manifest_path, error))


def _remove_replay(layout, manifest, names):
    """Deletes what a replay wrote: its files in the report folder (the
    index, the probes, the manifest and the folders of its entries, ``names``
    and those in the index) and the event files it added to its TensorBoard
    folders (named with the report folder's mark). Anything else, such as
    events written there by others, is kept."""
    lock = FolderLock(layout.lock_path, 'saliency-replay --overwrite')
    try:
        lock.acquire()
    except FolderInUseError as error:
        raise ReplayError(str(error)) from None
    try:
        names = set(names) | {r['entry'] for r in layout.records()}
        for name in names:
            folder = layout.path(layout.entry_dir(name))
            if os.path.isdir(folder):
                shutil.rmtree(folder)
        for path in [layout.index.path, layout.manifest_path] + [
                layout.path(f) for f in layout.probe_files()]:
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
        for board in manifest.get('tensorboard', []):
            logdir = board['logdir']
            for name in _event_files(logdir):
                if '.{}.s'.format(board['mark']) in name:
                    os.remove(os.path.join(logdir, name))
            with contextlib.suppress(OSError):
                os.rmdir(logdir)
    finally:
        lock.release()


def _plain(value):
    if isinstance(value, (numpy.generic, numpy.ndarray)):
        return value.tolist()
    return str(value)


def _normalised(settings):
    """Settings as the index stores them (JSON: tuples become lists)."""
    return json.loads(json.dumps(settings, default=_plain))


def _prepare_output(layout, report, overwrite, resume):
    """Checks the output folder; returns the records of the replay being
    resumed and the manifest to keep."""
    manifest = _read_manifest(layout)
    if manifest is None and os.path.isfile(layout.index.path):
        raise ReplayError(
            '{} holds a report written during training, not a replay: give '
            'another output folder'.format(layout.root))
    if manifest is not None and not (overwrite or resume):
        raise ReplayError('{} already holds a replay: pass --overwrite to '
                          'replace it or --resume to finish it'.format(
                              layout.root))
    if manifest is not None and overwrite:
        _remove_replay(layout, manifest, report.entries)
        manifest = None
    if manifest is None:
        return [], dict(version=2, created=time.time(), tensorboard=[],
                        runs=[])
    if layout.probe_files():
        indices = [int(i) for i in layout.read_probe()[0]]
        if indices != report.probe_indices:
            raise ReplayError(
                'the replay in {} explains the probe items {}, this '
                'configuration {}: resume with the same probe or pass '
                '--overwrite'.format(layout.root, indices,
                                     report.probe_indices))
    records = layout.records()
    for record in records:
        name = record['entry']
        if name in report.entries and record.get('settings') != \
                _normalised(report.entries[name].settings()):
            raise ReplayError(
                'entry {!r} was replayed into {} with other settings '
                '({}): give the entry another name, or pass --overwrite'
                .format(name, layout.root, record.get('settings')))
    return records, manifest


def _done_steps(report, records):
    """The steps already replayed, ``{(epoch, iteration): {entry names}}``:
    an entry's step is done when it was recorded without error and every
    sink holds it (its files are there, its pictures in TensorBoard)."""
    whole = [r for r in records
             if r['entry'] in report.entries and r['error'] is None]
    lost = {id(r) for sink in report.sinks for r in sink.missing(whole)}
    done = {}
    for record in whole:
        if id(record) not in lost:
            done.setdefault((record['epoch'], record['iteration']),
                            set()).add(record['entry'])
    return done


def _board(tensorboard, out, manifest, layout):
    """The TensorBoard destination, noted in the manifest (before anything
    is written) so that an overwrite can delete its event files."""
    if tensorboard is False:
        return False
    if tensorboard is None:
        tensorboard = os.path.join(out, 'tensorboard')
    logdir = tensorboard if isinstance(tensorboard, (str, os.PathLike)) \
        else getattr(tensorboard, 'logdir', None)
    if logdir is not None:
        manifest['tensorboard'].append(dict(logdir=os.path.abspath(logdir),
                                            mark=layout.mark))
    return tensorboard


# -- the replay ---------------------------------------------------------------

def replay(model, report, snapshots, out, *, tensorboard=None,
           overwrite=False, resume=False, prefix=None, evolution=True,
           max_frames=None, callback=None, comm=None):
    """Replays ``report`` over ``snapshots`` of a training run of ``model``.

    Args:
        model (chainer.Link): The model the report's calculators explain (or
            a link holding it); each snapshot's parameters are loaded into it.
        report (SaliencyReport): The report, not yet set up.
        snapshots: :class:`Snapshot` objects in training order
            (:func:`order_snapshots`); of several taken at one step, the
            first that loads into the model is replayed.
        out (str): The output folder, as the trainer's ``out``: the files go
            to ``<out>/<report out_dir>/``.
        tensorboard: The TensorBoard log directory (``None``:
            ``<out>/tensorboard``), a SummaryWriter, or ``False``.
        overwrite (bool): Replace a replay already in ``out``: its folder and
            the event files it wrote are deleted first.
        resume (bool): Finish a replay already in ``out``: steps with whole
            reports of every entry (recorded without error, their files and
            TensorBoard pictures all there) are skipped; the others are made
            again, and entries new to it are added.
        prefix (str): Where the model is in the snapshots (see
            :func:`load_model_params`).
        evolution (bool): Draw the evolution strips at the end.
        max_frames (int): At most this many snapshots per strip, evenly
            spread (first and last kept); ``None`` for all.
        callback (callable): Called as ``callback(snapshot, status, error)``
            after each snapshot, ``status`` being ``'done'``, ``'skipped'``,
            ``'failed'`` or ``'duplicate'`` (another snapshot of its step was
            replayed), on rank 0 only.
        comm: A ChainerMN communicator: every process calls ``replay``
            alike, each explains its share of the snapshots, and rank 0
            writes (its summary tells what was done; the others' are empty).

    Returns:
        ReplaySummary: What was done, skipped and failed.

    Raises:
        ReplayError: When the configuration or the output folder is not
            usable; nothing has been replayed then.
    """
    if overwrite and resume:
        raise ReplayError('give at most one of overwrite and resume')
    start = time.perf_counter()
    report = _check_report(report)
    _check_model(model, report)
    ranks = Ranks(comm)
    snapshots = ranks.agree(list(snapshots))
    out = os.fspath(out)
    opened, error = None, None
    if ranks.is_root:
        try:
            opened = _Output(report, out, tensorboard, overwrite, resume)
        except ReplayError as e:
            error = e
    message = ranks.agree(None if error is None else str(error))
    if error is not None:
        raise error
    if message is not None:
        raise ReplayError(message)
    done = ranks.agree(opened.done if opened else None)
    summary = ReplaySummary()
    try:
        _replay_snapshots(model, report, snapshots, done, prefix, ranks,
                          summary, callback or (lambda *args: None))
    finally:
        if opened is not None:
            opened.close(report)
    if opened is None:
        return summary
    if evolution:
        summary.evolution, problems = write_evolution(
            report, max_frames=max_frames)
        summary.problems.extend(problems)
    summary.seconds = time.perf_counter() - start
    opened.record(summary, ranks.size)
    return summary


class _Output(object):
    """Rank 0's side of a replay: the output folder and its manifest, and
    the report set up to write into them (and into TensorBoard)."""

    def __init__(self, report, out, tensorboard, overwrite, resume):
        layout = ReportLayout(os.path.join(out, report.out_dir))
        records, self.manifest = _prepare_output(layout, report, overwrite,
                                                 resume)
        tensorboard = _board(tensorboard, out, self.manifest, layout)
        self.manifest_path = layout.manifest_path
        write_json(self.manifest_path, self.manifest)
        try:
            report.setup(out, tensorboard=tensorboard)
        except Exception as error:
            raise ReplayError('the report could not start: {}'.format(
                error)) from error
        self.done = _done_steps(report, records)

    def close(self, report):
        report.finalize()

    def record(self, summary, processes):
        """Adds this run to the manifest."""
        self.manifest['runs'].append(dict(
            time=time.time(),
            done=[os.path.abspath(s.path) for s in summary.done],
            explained_by=summary.explained_by, processes=processes,
            skipped=[os.path.abspath(s.path) for s in summary.skipped],
            failed=[dict(path=os.path.abspath(e.path), reason=e.reason)
                    for e in summary.failed],
            duplicates=[os.path.abspath(e.path) for e in summary.duplicates],
            seconds=summary.seconds))
        write_json(self.manifest_path, self.manifest)


def _explain_step(model, report, group, missing, prefix):
    """Explains one step with the first of its snapshots (``group``) that
    loads into the model; returns ``(position, failures, explained)``: the
    position in ``group`` of the snapshot replayed (None if none loads), the
    ``(position, reason)`` of those that did not load before it, and the
    entries' ``Explained`` maps (None if none loads)."""
    failures = []
    for position, snapshot in enumerate(group):
        try:
            load_model_params(model, snapshot.path, prefix=prefix)
        except SnapshotError as error:
            failures.append((position, error.reason))
            continue
        return position, failures, report.explain(snapshot.epoch,
                                                  entries=missing)
    return None, failures, None


def _portable(result):
    """What one process sends of a step's result to rank 0."""
    position, failures, explained = result
    return position, failures, None if explained is None else {
        name: e.portable() for name, e in explained.items()}


def _replay_snapshots(model, report, snapshots, done, prefix, ranks, summary,
                      callback):
    """Explains the steps not done yet, ``ranks.size`` at a time (one per
    process); rank 0 writes each round in training order while the next is
    computed."""
    todo = []
    for step, group in itertools.groupby(
            snapshots, key=lambda s: (s.epoch, s.iteration)):
        group = list(group)
        missing = set(report.entries) - done.get(step, set())
        if missing:
            todo.append((group, missing))
        elif ranks.is_root:
            for snapshot in group:
                summary.skipped.append(snapshot)
                callback(snapshot, 'skipped', None)
    for first in range(0, len(todo), ranks.size):
        batch = todo[first:first + ranks.size]
        mine = None
        if ranks.rank < len(batch):
            mine = _explain_step(model, report, *batch[ranks.rank], prefix)
        results = ranks.gather(None if mine is None else _portable(mine))
        failure = None
        if ranks.is_root:
            results[0] = mine  # its own failures keep their exception
            for rank, ((group, missing), result) in enumerate(
                    zip(batch, results)):
                failure = failure or _write_step(
                    report, group, missing, result, rank, summary, callback)
        message = ranks.agree(None if failure is None else str(failure))
        if failure is not None:
            raise failure
        if message is not None:
            raise ReplayError('the replay stopped in the process of rank 0: '
                              '{}'.format(message))


def _write_step(report, group, missing, result, rank, summary, callback):
    """Rank 0: writes one step's maps, explained by the process of ``rank``,
    names the snapshots that did not load and notes the duplicates; returns
    the failure that stops a strict report, if any."""
    position, failures, explained = result
    for failed, reason in failures:
        error = SnapshotError(group[failed].path, reason)
        summary.failed.append(error)
        callback(group[failed], 'failed', error)
    if position is None:
        return None
    snapshot = group[position]
    step = (snapshot.epoch, snapshot.iteration)
    for name in missing:  # go on from the reports made before
        report.resume_series(name, until=step)
    failure = report.publish(snapshot.epoch, snapshot.iteration, explained)
    if failure is not None:
        return failure
    summary.done.append(snapshot)
    summary.explained_by.append(rank)
    callback(snapshot, 'done', None)
    for other in group[position + 1:]:
        note = SnapshotError(other.path, 'taken at the same epoch {} and '
                             'iteration {} as {}, which was replayed'.format(
                                 step[0], step[1], snapshot.path))
        summary.duplicates.append(note)
        callback(other, 'duplicate', note)
    return None
