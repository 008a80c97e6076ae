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
import json
import os
import shutil
import time

import chainer
import numpy

from saliency_ext.optional import require
from saliency_ext.replay.evolution import write_evolution
from saliency_ext.replay.snapshots import SnapshotError, load_model_params
from saliency_ext.report import SaliencyReport
from saliency_ext.report.ranks import Ranks
from saliency_ext.sinks.layout import ReportLayout
from saliency_ext.sinks.storage import write_json


class ReplayError(Exception):
    """A replay that cannot start: a bad configuration or output folder."""


@dataclasses.dataclass
class ReplaySummary(object):
    """What a replay did."""
    done: list = dataclasses.field(default_factory=list)
    skipped: list = dataclasses.field(default_factory=list)  # already done
    failed: list = dataclasses.field(default_factory=list)  # SnapshotError
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
        return sorted(n for n in os.listdir(logdir)
                      if n.startswith('events.out.tfevents.'))
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
    index, the probe, the manifest and the folders of its entries, ``names``
    and those in the index) and the event files it added to its TensorBoard
    folders. Anything else, such as events written there by others, is
    kept."""
    names = set(names) | {r['entry'] for r in layout.records()}
    for name in names:
        folder = layout.path(layout.entry_dir(name))
        if os.path.isdir(folder):
            shutil.rmtree(folder)
    for path in (layout.index.path, layout.probe_path, layout.manifest_path):
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)
    with contextlib.suppress(OSError):
        os.rmdir(layout.root)  # only when nothing else is left in it
    for board in manifest.get('tensorboard', []):
        logdir = board['logdir']
        for name in _event_files(logdir):
            if name.endswith(board['suffix']):
                os.remove(os.path.join(logdir, name))
        with contextlib.suppress(OSError):
            os.rmdir(logdir)


def _plain(value):
    if isinstance(value, (numpy.generic, numpy.ndarray)):
        return value.tolist()
    return str(value)


def _normalised(settings):
    """Settings as the index stores them (JSON: tuples become lists)."""
    return json.loads(json.dumps(settings, default=_plain))


def _prepare_output(layout, report, overwrite, resume):
    """Checks the output folder; returns the steps already replayed,
    ``{(epoch, iteration): {entry names}}``, and the manifest to keep."""
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
    done = {}
    if manifest is not None:  # resume
        if os.path.isfile(layout.probe_path):
            indices = [int(i) for i in layout.read_probe()[0]]
            if indices != report.probe_indices:
                raise ReplayError(
                    'the replay in {} explains the probe items {}, this '
                    'configuration {}: resume with the same probe or pass '
                    '--overwrite'.format(layout.root, indices,
                                         report.probe_indices))
        for record in layout.records():
            name = record['entry']
            if name in report.entries and record.get('settings') != \
                    _normalised(report.entries[name].settings()):
                raise ReplayError(
                    'entry {!r} was replayed into {} with other settings '
                    '({}): give the entry another name, or pass --overwrite'
                    .format(name, layout.root, record.get('settings')))
            done.setdefault((record['epoch'], record['iteration']),
                            set()).add(name)
    else:
        manifest = dict(version=1, created=time.time(), tensorboard=[],
                        runs=[])
    return done, manifest


def _summary_writer(logdir, manifest, manifest_path):
    """A SummaryWriter whose event file is known to be this replay's: its
    name ends with a suffix recorded in the manifest before it exists (an
    overwrite deletes exactly those files; two runs within one second do
    not share a file name, and are read in the order they ran)."""
    try:
        tensorboardX = require('tensorboardX', 'TensorBoard output')
    except ImportError as error:
        raise ReplayError('{}, or pass --no-tensorboard'.format(
            error)) from error
    # in time order even within one second: TensorBoard reads the files of
    # a folder in name order, and the time in their names is in seconds
    suffix = '.saliency-replay.{:d}'.format(time.time_ns())
    manifest['tensorboard'].append(dict(logdir=os.path.abspath(logdir),
                                        suffix=suffix))
    write_json(manifest_path, manifest)
    return tensorboardX.SummaryWriter(logdir=os.fspath(logdir),
                                      filename_suffix=suffix)


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
            (:func:`order_snapshots`).
        out (str): The output folder, as the trainer's ``out``: the files go
            to ``<out>/<report out_dir>/``.
        tensorboard: The TensorBoard log directory (``None``:
            ``<out>/tensorboard``), a SummaryWriter, or ``False``.
        overwrite (bool): Replace a replay already in ``out``: its folder and
            the event files it wrote are deleted first.
        resume (bool): Finish a replay already in ``out``: steps with records
            of every entry are skipped; entries new to it are added.
        prefix (str): Where the model is in the snapshots (see
            :func:`load_model_params`).
        evolution (bool): Draw the evolution strips at the end.
        max_frames (int): At most this many snapshots per strip, evenly
            spread (first and last kept); ``None`` for all.
        callback (callable): Called as ``callback(snapshot, status, error)``
            after each snapshot, ``status`` being ``'done'``, ``'skipped'``
            or ``'failed'`` (on rank 0 only).
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
    """Rank 0's side of a replay: the output folder, its manifest and its
    TensorBoard writer, and the report set up to write into them."""

    def __init__(self, report, out, tensorboard, overwrite, resume):
        layout = ReportLayout(os.path.join(out, report.out_dir))
        if tensorboard is None:
            tensorboard = os.path.join(out, 'tensorboard')
        self.done, self.manifest = _prepare_output(layout, report, overwrite,
                                                   resume)
        self.manifest_path = layout.manifest_path
        write_json(self.manifest_path, self.manifest)
        self.writer = None
        if isinstance(tensorboard, (str, os.PathLike)):
            self.writer = tensorboard = _summary_writer(
                tensorboard, self.manifest, self.manifest_path)
        try:
            report.setup(out, tensorboard=tensorboard)
        except Exception as error:
            if self.writer is not None:
                self.writer.close()
            raise ReplayError('the report could not start: {}'.format(
                error)) from error

    def close(self, report):
        report.finalize()
        if self.writer is not None:
            self.writer.close()

    def record(self, summary, processes):
        """Adds this run to the manifest."""
        self.manifest['runs'].append(dict(
            time=time.time(),
            done=[os.path.abspath(s.path) for s in summary.done],
            explained_by=summary.explained_by, processes=processes,
            skipped=[os.path.abspath(s.path) for s in summary.skipped],
            failed=[dict(path=os.path.abspath(e.path), reason=e.reason)
                    for e in summary.failed],
            seconds=summary.seconds))
        write_json(self.manifest_path, self.manifest)


def _explain_snapshot(model, report, snapshot, missing, prefix):
    """Loads a snapshot and explains the probe with the entries
    ``missing``; returns the entries' ``Explained`` maps, or a
    ``SnapshotError`` when it cannot be loaded."""
    try:
        load_model_params(model, snapshot.path, prefix=prefix)
    except SnapshotError as error:
        return error
    return report.explain(snapshot.epoch, entries=missing)


def _portable(result):
    """What one process sends of a snapshot's result to rank 0."""
    if isinstance(result, SnapshotError):
        return result.reason
    return {name: e.portable() for name, e in result.items()}


def _replay_snapshots(model, report, snapshots, done, prefix, ranks, summary,
                      callback):
    """Explains the snapshots not done yet, ``ranks.size`` at a time (one
    per process); rank 0 writes each round in training order while the
    next is computed."""
    todo = []
    for snapshot in snapshots:
        missing = set(report.entries) - done.get(
            (snapshot.epoch, snapshot.iteration), set())
        if missing:
            todo.append((snapshot, missing))
        elif ranks.is_root:
            summary.skipped.append(snapshot)
            callback(snapshot, 'skipped', None)
    for first in range(0, len(todo), ranks.size):
        batch = todo[first:first + ranks.size]
        mine = None
        if ranks.rank < len(batch):
            mine = _explain_snapshot(model, report, *batch[ranks.rank],
                                     prefix)
        results = ranks.gather(None if mine is None else _portable(mine))
        failure = None
        if ranks.is_root:
            results[0] = mine  # its own failures keep their exception
            for rank, ((snapshot, missing), result) in enumerate(
                    zip(batch, results)):
                failure = failure or _write_snapshot(
                    report, snapshot, missing, result, rank, summary,
                    callback)
        message = ranks.agree(None if failure is None else str(failure))
        if failure is not None:
            raise failure
        if message is not None:
            raise ReplayError('the replay stopped in the process of rank 0: '
                              '{}'.format(message))


def _write_snapshot(report, snapshot, missing, result, rank, summary,
                    callback):
    """Rank 0: writes one snapshot's maps, explained by the process of
    ``rank``; returns the failure that stops a strict report, if any."""
    if not isinstance(result, dict):
        error = result if isinstance(result, SnapshotError) else \
            SnapshotError(snapshot.path, result)
        summary.failed.append(error)
        callback(snapshot, 'failed', error)
        return None
    step = (snapshot.epoch, snapshot.iteration)
    for name in missing:  # go on from the reports made before
        report.series[name].resume(report.layout, until=step,
                                   step=report.step)
    failure = report.publish(snapshot.epoch, snapshot.iteration, result)
    if failure is None:
        summary.done.append(snapshot)
        summary.explained_by.append(rank)
        callback(snapshot, 'done', None)
    return failure
