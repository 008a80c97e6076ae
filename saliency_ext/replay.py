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

The command line (``saliency-replay``, ``scripts/saliency_replay.py``) is
:func:`saliency_ext.replay_cli.main`; the pieces are public for use from
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

from saliency_ext.evolution import write_evolution
from saliency_ext.snapshots import (
    DEFAULT_PATTERNS, TRAINER_EPOCH, TRAINER_ITERATION, TRAINER_MODEL,
    Snapshot, SnapshotError, find_snapshots, load_model_params, model_keys,
    open_snapshot, order_snapshots, read_snapshot, steps_from_name)
from saliency_ext.writers.files import safe_name, write_json
from saliency_ext.writers.layout import INDEX, PROBE, ReportLayout

__all__ = [
    'DEFAULT_PATTERNS', 'TRAINER_EPOCH', 'TRAINER_ITERATION', 'TRAINER_MODEL',
    'ReplayError', 'ReplaySummary', 'Snapshot', 'SnapshotError',
    'find_snapshots', 'load_model_params', 'model_keys', 'open_snapshot',
    'order_snapshots', 'read_snapshot', 'replay', 'steps_from_name',
    'write_evolution']

#: The replay's own record, next to the report's index.
MANIFEST = 'replay.json'


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
    seconds: float = 0.

    @property
    def ok(self):
        return not self.failed and not self.problems


# -- the report's internals, in one place ----------------------------------

def _check_report(report):
    from saliency_ext.report import SaliencyReport
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


def _read_manifest(root):
    try:
        with open(os.path.join(root, MANIFEST), encoding='utf-8') as f:
            return json.load(f)
    except FileNotFoundError:
        return None
    except ValueError as error:
        raise ReplayError('{} is damaged ({}); replay into another folder or '
                          'delete it'.format(os.path.join(root, MANIFEST),
                                             error))


def _remove_replay(root, manifest, names):
    """Deletes what a replay wrote: its files in ``root`` (the index, the
    probe, the manifest and the folders of its entries, ``names`` and those
    in the index) and the event files it added to its TensorBoard folders.
    Anything else, such as events written there by others, is kept."""
    layout = ReportLayout(root)
    names = set(names) | {r['entry'] for r in layout.records()}
    for name in names:
        folder = os.path.join(root, safe_name(name))
        if os.path.isdir(folder):
            shutil.rmtree(folder)
    for name in (INDEX, PROBE, MANIFEST):
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(root, name))
    with contextlib.suppress(OSError):
        os.rmdir(root)  # only when nothing else is left in it
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


def _prepare_output(root, report, overwrite, resume):
    """Checks the output folder; returns the steps already replayed,
    ``{(epoch, iteration): {entry names}}``, and the manifest to keep."""
    manifest = _read_manifest(root)
    has_index = os.path.isfile(os.path.join(root, INDEX))
    if manifest is None and has_index:
        raise ReplayError(
            '{} holds a report written during training, not a replay: give '
            'another output folder'.format(root))
    if manifest is not None and not (overwrite or resume):
        raise ReplayError('{} already holds a replay: pass --overwrite to '
                          'replace it or --resume to finish it'.format(root))
    if manifest is not None and overwrite:
        _remove_replay(root, manifest, report.entries)
        manifest = None
    done = {}
    if manifest is not None:  # resume
        layout = ReportLayout(root)
        if os.path.isfile(os.path.join(root, PROBE)):
            indices = [int(i) for i in layout.read_probe()[0]]
            if indices != report.probe_indices:
                raise ReplayError(
                    'the replay in {} explains the probe items {}, this '
                    'configuration {}: resume with the same probe or pass '
                    '--overwrite'.format(root, indices, report.probe_indices))
        for record in layout.records():
            name = record['entry']
            if name in report.entries and record.get('settings') != \
                    _normalised(report.entries[name].settings()):
                raise ReplayError(
                    'entry {!r} was replayed into {} with other settings '
                    '({}): give the entry another name, or pass --overwrite'
                    .format(name, root, record.get('settings')))
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
        import tensorboardX
    except ImportError as error:
        raise ReplayError('TensorBoard output needs tensorboardX: pip install '
                          'tensorboardX, or pass --no-tensorboard') from error
    # in time order even within one second: TensorBoard reads the files of
    # a folder in name order, and the time in their names is in seconds
    suffix = '.saliency-replay.{:d}'.format(time.time_ns())
    manifest['tensorboard'].append(dict(logdir=os.path.abspath(logdir),
                                        suffix=suffix))
    write_json(manifest_path, manifest)
    return tensorboardX.SummaryWriter(logdir=os.fspath(logdir),
                                      filename_suffix=suffix)


# -- the replay ---------------------------------------------------------------

def _order(step):
    """Training order of an ``(epoch, iteration)`` step."""
    return step[1], step[0]


class _Continuity(object):
    """Lets a resumed replay go on from the reports of the earlier one, as a
    resumed trainer does: each entry's "moved since" is measured against its
    latest report before, and ``scale='first'`` keeps its first scale."""

    def __init__(self, report):
        self.report = report
        layout = report.layout
        self.earlier = {name: {(r['epoch'], r['iteration']): r
                               for r in layout.latest_records(name)}
                        for name in report.entries}
        self.ran = {name: set() for name in report.entries}
        limits = {}
        for name, entry in report.entries.items():
            if entry.scale == 'first' and self.earlier[name]:
                first = self.earlier[name][min(self.earlier[name],
                                               key=_order)]
                limits[name] = entry.limits(
                    layout.read_arrays(first)['saliency'])
        report.restore(limits=limits)

    def before(self, step, names):
        previous = {}
        for name in names:
            steps = [s for s in set(self.earlier[name]) | self.ran[name]
                     if _order(s) < _order(step)]
            if not steps:
                continue
            latest = max(steps, key=_order)
            if latest not in self.ran[name]:
                previous[name] = self.report.layout.read_arrays(
                    self.earlier[name][latest])['saliency']
        self.report.restore(previous=previous)

    def after(self, step, names):
        for name in names:
            self.ran[name].add(step)


def replay(model, report, snapshots, out, *, tensorboard=None,
           overwrite=False, resume=False, prefix=None, evolution=True,
           max_frames=None, callback=None):
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
            or ``'failed'``.

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
    out = os.fspath(out)
    root = os.path.join(out, report.out_dir)
    if tensorboard is None:
        tensorboard = os.path.join(out, 'tensorboard')
    done, manifest = _prepare_output(root, report, overwrite, resume)
    manifest_path = os.path.join(root, MANIFEST)
    write_json(manifest_path, manifest)
    writer = None
    if isinstance(tensorboard, (str, os.PathLike)):
        writer = tensorboard = _summary_writer(tensorboard, manifest,
                                               manifest_path)
    try:
        report.setup(out, tensorboard=tensorboard)
    except Exception as error:
        if writer is not None:
            writer.close()
        raise ReplayError('the report could not start: {}'.format(
            error)) from error
    continuity = _Continuity(report)
    summary = ReplaySummary()
    callback = callback or (lambda *args: None)
    try:
        for snapshot in snapshots:
            step = (snapshot.epoch, snapshot.iteration)
            missing = set(report.entries) - done.get(step, set())
            if not missing:
                summary.skipped.append(snapshot)
                callback(snapshot, 'skipped', None)
                continue
            try:
                load_model_params(model, snapshot.path, prefix=prefix)
            except SnapshotError as error:
                summary.failed.append(error)
                callback(snapshot, 'failed', error)
                continue
            continuity.before(step, missing)
            report.run(snapshot.epoch, snapshot.iteration, entries=missing)
            continuity.after(step, missing)
            summary.done.append(snapshot)
            callback(snapshot, 'done', None)
    finally:
        report.finalize()
        if writer is not None:
            writer.close()
    if evolution:
        summary.evolution, problems = write_evolution(
            report, max_frames=max_frames)
        summary.problems.extend(problems)
    summary.seconds = time.perf_counter() - start
    manifest['runs'].append(dict(
        time=time.time(),
        done=[os.path.abspath(s.path) for s in summary.done],
        skipped=[os.path.abspath(s.path) for s in summary.skipped],
        failed=[dict(path=os.path.abspath(e.path), reason=e.reason)
                for e in summary.failed],
        seconds=summary.seconds))
    write_json(manifest_path, manifest)
    return summary


