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
:func:`main`; the pieces are public for use from Python::

    model, report = replay_config()
    snapshots, problems = order_snapshots(find_snapshots(['result'])[0])
    summary = replay(model, report, snapshots, 'replay')
"""
import argparse
import ast
import contextlib
import dataclasses
import hashlib
import importlib
import importlib.util
import json
import os
import re
import shutil
import sys
import time
import warnings

import chainer
import numpy

from saliency_ext.entry import limits_of
from saliency_ext.snapshots import (
    DEFAULT_PATTERNS, TRAINER_EPOCH, TRAINER_ITERATION, TRAINER_MODEL,
    Snapshot, SnapshotError, find_snapshots, load_model_params, model_keys,
    open_snapshot, order_snapshots, read_snapshot, steps_from_name)
from saliency_ext.writers.files import (resolve_inside, safe_name,
                                        write_json, write_png)
from saliency_ext.writers.layout import (ARRAYS, INDEX, PROBE,
                                         ReportLayout)

__all__ = [
    'DEFAULT_PATTERNS', 'TRAINER_EPOCH', 'TRAINER_ITERATION', 'TRAINER_MODEL',
    'ReplayError', 'ReplaySummary', 'Snapshot', 'SnapshotError',
    'build_parser', 'find_snapshots', 'load_config', 'load_model_params',
    'main', 'model_keys', 'open_snapshot', 'order_snapshots', 'read_snapshot',
    'replay', 'side_by_side', 'steps_from_name', 'write_evolution']

#: The replay's own record, next to the report's index.
MANIFEST = 'replay.json'
EVOLUTION = 'evolution'
_LABEL_HEIGHT = 20
_GAP = 6


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

def _latest_records(layout, name):
    """An entry's records with arrays, the last one of each step, in
    training order."""
    latest = {}
    for record in layout.records(name):
        if any(os.path.basename(f) == ARRAYS for f in record['files']):
            latest[(record['iteration'], record['epoch'])] = record
    return [latest[k] for k in sorted(latest)]


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
                               for r in _latest_records(layout, name)}
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


# -- evolution strips ---------------------------------------------------------

def _label(rgb, text):
    """The picture with ``text`` in a white band above it."""
    from PIL import Image, ImageDraw
    from saliency_ext.visualizers.base import default_font
    height, width = rgb.shape[:2]
    canvas = Image.new('RGB', (width, height + _LABEL_HEIGHT), 'white')
    canvas.paste(Image.fromarray(numpy.ascontiguousarray(rgb)),
                 (0, _LABEL_HEIGHT))
    draw = ImageDraw.Draw(canvas)
    font = default_font(14)
    left, _, right, _ = draw.textbbox((0, 0), text, font=font)
    draw.text((max(0, (width - (right - left)) // 2), 2), text, fill='black',
              font=font)
    return numpy.asarray(canvas)


def side_by_side(pictures, gap=_GAP):
    """Joins RGB pictures left to right, on white, tops aligned."""
    height = max(p.shape[0] for p in pictures)
    width = sum(p.shape[1] for p in pictures) + gap * (len(pictures) - 1)
    strip = numpy.full((height, width, 3), 255, numpy.uint8)
    left = 0
    for picture in pictures:
        strip[:picture.shape[0], left:left + picture.shape[1]] = picture
        left += picture.shape[1] + gap
    return strip


def _spread(records, max_frames):
    if not max_frames or len(records) <= max_frames:
        return records
    keep = numpy.unique(numpy.linspace(0, len(records) - 1, max_frames)
                        .round().astype(int))
    return [records[i] for i in keep]


def write_evolution(report, *, max_frames=None):
    """Draws, for each entry and probe item, the item's maps over the
    reports in the report's folder, side by side, on one shared colour scale
    (the entry's own fixed ``scale`` when it has one). Written to
    ``<entry>/evolution/item_NN.png`` (and ``mean.png``).

    Args:
        report (SaliencyReport): A report that has been set up.
        max_frames (int): At most this many reports per strip.

    Returns:
        tuple: ``(paths, problems)``: the files written and a message for
        each entry that could not be drawn.
    """
    from saliency_ext.visualizers import FixedScaler
    report = _check_report(report)
    layout = report.layout
    paths, problems = [], []
    for name, entry in report.entries.items():
        records = _spread(_latest_records(layout, name), max_frames)
        maps = [(r, layout.read_arrays(r)['saliency']) for r in records]
        shapes = {m.shape for _, m in maps}
        if not maps:
            continue
        if len(shapes) > 1:
            problems.append('entry {!r}: no evolution strip, its maps have '
                            'different shapes {}'.format(name, sorted(shapes)))
            continue
        bound = report.item_kwargs(name)
        try:
            per_report = [entry.maps(m) for _, m in maps]
            for j, (picture, _) in enumerate(per_report[0]):
                values = [drawn[j][1] for drawn in per_report]
                scale = entry.scale if isinstance(entry.scale, tuple) else \
                    limits_of(numpy.stack(values))
                kwargs = dict(entry.visualize_options)
                kwargs.update(bound[j] if j < len(bound) else {})
                kwargs['scaler'] = FixedScaler(*scale)
                frames = [_label(entry.visualizer.visualize(v, **kwargs),
                                 _frame_label(r, report.step))
                          for (r, _), v in zip(maps, values)]
                path = resolve_inside(layout.root, safe_name(name), EVOLUTION,
                                      safe_name(picture) + '.png')
                write_png(path, side_by_side(frames))
                paths.append(path)
        except Exception as error:
            problems.append('entry {!r}: could not draw its evolution strip '
                            '({}: {})'.format(name, type(error).__name__,
                                              error))
    return paths, problems


def _frame_label(record, step):
    if step == 'iteration':
        return 'iteration {}'.format(record['iteration'])
    return 'epoch {}'.format(record['epoch'])


# -- configuration ------------------------------------------------------------

def load_config(spec, **kwargs):
    """Builds the model and the report from ``FILE.py:FUNCTION`` or
    ``package.module:FUNCTION``: the function, called with ``kwargs``,
    returns ``(model, report)``."""
    target, sep, function = spec.rpartition(':')
    if not sep or not target or not function:
        raise ReplayError('--config must be FILE.py:FUNCTION or '
                          'package.module:FUNCTION, got {!r}'.format(spec))
    if target.endswith('.py') or os.sep in target or '/' in target:
        path = os.path.abspath(target)
        if not os.path.isfile(path):
            raise ReplayError('--config {!r}: no such file {}'.format(spec,
                                                                      path))
        name = '_saliency_replay_config_' + hashlib.sha1(
            path.encode('utf-8', 'surrogatepass')).hexdigest()[:12]
        module_spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(module_spec)
        folder = os.path.dirname(path)
        if folder not in sys.path:  # so it can import its neighbours
            sys.path.insert(0, folder)
        sys.modules[name] = module
        module_spec.loader.exec_module(module)
    else:
        if os.getcwd() not in sys.path and '' not in sys.path:
            sys.path.insert(0, os.getcwd())
        try:
            module = importlib.import_module(target)
        except ImportError as error:
            raise ReplayError('--config {!r}: cannot import {!r}: {}'.format(
                spec, target, error)) from error
    make = getattr(module, function, None)
    if not callable(make):
        raise ReplayError('--config {!r}: {} has no function {!r}'.format(
            spec, target, function))
    made = make(**kwargs)
    from saliency_ext.report import SaliencyReport
    if not (isinstance(made, tuple) and len(made) == 2 and
            isinstance(made[0], chainer.Link) and
            isinstance(made[1], SaliencyReport)):
        raise ReplayError('--config {!r} must return (model, report): a '
                          'chainer.Link and a SaliencyReport, got {!r}'.format(
                              spec, made))
    return made


def _config_arg(text):
    key, sep, value = text.partition('=')
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError('expected KEY=VALUE, got {!r}'.format(
            text))
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key, value


def _name_pattern(text):
    try:
        pattern = re.compile(text)
    except re.error as error:
        raise argparse.ArgumentTypeError('not a regular expression: {}'.format(
            error))
    if not {'epoch', 'iteration'} & set(pattern.groupindex):
        raise argparse.ArgumentTypeError(
            'needs a group (?P<epoch>...) and/or (?P<iteration>...), got '
            '{!r}'.format(text))
    return text


def _positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError('must be >= 1, got {}'.format(value))
    return value


def _device(text):
    try:
        return int(text)
    except ValueError:
        return text


def build_parser():
    parser = argparse.ArgumentParser(
        prog='saliency-replay',
        description='Replays a SaliencyReport over the snapshots of a '
        'training run: for each snapshot, in training order, loads the '
        "model's parameters, explains the report's probe and writes the "
        'files and TensorBoard images the report writes during training, '
        "stamped with the snapshot's epoch and iteration; then draws an "
        'evolution strip per entry and probe item.',
        epilog='Exit status: 0 when every snapshot was replayed, 1 when some '
        'could not be (they are named), 2 for a bad configuration or output '
        'folder, 130 when interrupted (finish with --resume).')
    parser.add_argument(
        'snapshots', nargs='+', metavar='SNAPSHOT',
        help='snapshot files, or folders holding them: trainer snapshots '
        '(extensions.snapshot) or model-only ones (snapshot_object)')
    parser.add_argument(
        '--config', required=True, metavar='FILE.py:FUNC|MODULE:FUNC',
        help='a function returning (model, report): the chainer.Link the '
        "report's calculators explain and a configured SaliencyReport")
    parser.add_argument(
        '--config-arg', action='append', default=[], type=_config_arg,
        metavar='KEY=VALUE', help='a keyword argument for the config '
        'function (a Python literal, else a string); repeatable')
    parser.add_argument('-o', '--out', required=True, metavar='DIR',
                        help="output folder, as the trainer's out: files go "
                        "to DIR/<the report's out_dir>/")
    board = parser.add_mutually_exclusive_group()
    board.add_argument('--tensorboard', metavar='DIR',
                       help='TensorBoard log directory (default: '
                       'OUT/tensorboard)')
    board.add_argument('--no-tensorboard', action='store_true',
                       help='write no TensorBoard events')
    again = parser.add_mutually_exclusive_group()
    again.add_argument('--overwrite', action='store_true',
                       help='replace a replay already in OUT (its files and '
                       'the event files it wrote are deleted first)')
    again.add_argument('--resume', action='store_true',
                       help='finish a replay already in OUT: skip the '
                       'snapshots it has done, add entries it lacks')
    parser.add_argument('--device', type=_device, metavar='DEVICE',
                        help='replay on this device: 0 or @cupy:0 for a GPU '
                        '(default: the CPU)')
    parser.add_argument('--pattern', action='append', metavar='GLOB',
                        help='names of snapshot files in folders (default: '
                        '{}); repeatable'.format(' and '.join(
                            DEFAULT_PATTERNS)))
    parser.add_argument('--prefix', metavar='PATH',
                        help="the model's path in the snapshots (default: "
                        'found: updater/model:main/ or a link below it for '
                        'trainer snapshots, the root for model-only ones)')
    parser.add_argument('--steps-from-name', type=_name_pattern,
                        metavar='REGEX',
                        help='for model-only snapshots: a regular expression '
                        'on the file name with groups (?P<epoch>...) and/or '
                        '(?P<iteration>...) (default: understands '
                        'model_epoch_5_iter_1200-like names)')
    parser.add_argument('--iterations-per-epoch', type=_positive,
                        metavar='N', help='for model-only snapshots whose '
                        'name gives only the epoch or the iteration')
    parser.add_argument('--evolution-frames', type=_positive, metavar='N',
                        help='at most N snapshots per evolution strip, '
                        'evenly spread (default: all)')
    parser.add_argument('--no-evolution', action='store_true',
                        help='draw no evolution strips')
    parser.add_argument('--no-progress', action='store_true',
                        help='no progress bar')
    return parser


class _Progress(object):
    """A tqdm progress bar, shown from the first snapshot on; plain lines
    where tqdm is missing."""

    def __init__(self, total, enabled):
        self.total = total
        self.enabled = enabled
        self.bar = None

    def _start(self):
        if self.enabled and self.bar is None:
            try:
                from tqdm import tqdm
            except ImportError:
                self.enabled = False
                return
            self.bar = tqdm(total=self.total, unit='snapshot',
                            desc='saliency-replay', file=sys.stderr)

    def say(self, message):
        if self.bar is not None:
            self.bar.write(message, file=sys.stderr)
        else:
            print(message, file=sys.stderr)

    def __call__(self, snapshot, status, error):
        self._start()
        if error is not None:
            self.say('saliency-replay: skipped {}'.format(error))
        if self.bar is not None:
            self.bar.set_postfix_str('epoch {} {}'.format(
                snapshot.epoch, status), refresh=False)
            self.bar.update(1)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def main(argv=None):
    """The ``saliency-replay`` command; returns its exit status."""
    args = build_parser().parse_args(argv)
    start = time.perf_counter()
    try:
        model, report = load_config(args.config, **dict(args.config_arg))
    except ReplayError as error:
        print('saliency-replay: error: {}'.format(error), file=sys.stderr)
        return 2
    if args.device is not None:
        try:
            device = chainer.get_device(args.device)
            device.use()
        except Exception as error:
            print('saliency-replay: error: --device {!r}: {}'.format(
                args.device, error), file=sys.stderr)
            return 2
        model.to_device(device)
    paths, failed = find_snapshots(args.snapshots,
                                   tuple(args.pattern or DEFAULT_PATTERNS))
    snapshots, unreadable = order_snapshots(
        paths, name_pattern=args.steps_from_name,
        iterations_per_epoch=args.iterations_per_epoch)
    failed += unreadable
    for error in failed:
        print('saliency-replay: skipped {}'.format(error), file=sys.stderr)
    if not snapshots:
        print('saliency-replay: error: no snapshot to replay', file=sys.stderr)
        return 1
    tensorboard = False if args.no_tensorboard else args.tensorboard
    progress = _Progress(len(snapshots), not args.no_progress)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('default')
            summary = replay(
                model, report, snapshots, args.out, tensorboard=tensorboard,
                overwrite=args.overwrite, resume=args.resume,
                prefix=args.prefix, evolution=not args.no_evolution,
                max_frames=args.evolution_frames, callback=progress)
    except ReplayError as error:
        progress.close()
        print('saliency-replay: error: {}'.format(error), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        progress.close()
        print('saliency-replay: interrupted; run it again with --resume to '
              'finish', file=sys.stderr)
        return 130
    progress.close()
    summary.failed[:0] = failed
    for problem in summary.problems:
        print('saliency-replay: {}'.format(problem), file=sys.stderr)
    print('saliency-replay: {} snapshot{} replayed, {} skipped (already '
          'done), {} failed, in {:.1f} s; files in {}'.format(
              len(summary.done), '' if len(summary.done) == 1 else 's',
              len(summary.skipped), len(summary.failed),
              time.perf_counter() - start,
              os.path.join(args.out, _check_report(report).out_dir)))
    for error in summary.failed:
        print('  failed: {}'.format(error))
    return 0 if summary.ok else 1


if __name__ == '__main__':
    sys.exit(main())
