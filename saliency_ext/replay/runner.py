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
    layout = ReportLayout(os.path.join(out, report.out_dir))
    if tensorboard is None:
        tensorboard = os.path.join(out, 'tensorboard')
    done, manifest = _prepare_output(layout, report, overwrite, resume)
    manifest_path = layout.manifest_path
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
            for name in missing:  # go on from the reports made before
                report.series[name].resume(report.layout, until=step)
            report.run(snapshot.epoch, snapshot.iteration, entries=missing)
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
