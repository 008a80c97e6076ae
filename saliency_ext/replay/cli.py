"""The command line of the replay: ``saliency-replay`` and
``scripts/saliency_replay.py``. See :mod:`saliency_ext.replay.runner`."""
import argparse
import ast
import hashlib
import importlib
import importlib.util
import os
import re
import sys
import time
import warnings

import chainer
from tqdm import tqdm

from saliency_ext.replay.runner import ReplayError, replay
from saliency_ext.replay.snapshots import (DEFAULT_PATTERNS, find_snapshots,
                                           order_snapshots)
from saliency_ext.report import SaliencyReport
from saliency_ext.report.ranks import Ranks, world_communicator


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
        epilog='Started by mpiexec -n N (N > 1), the N processes split the '
        'snapshots and rank 0 writes: the output is that of one process. '
        'Exit status: 0 when every snapshot was replayed, 1 when some '
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
    """A tqdm progress bar, shown from the first snapshot on."""

    def __init__(self, total, enabled):
        self.total = total
        self.enabled = enabled
        self.bar = None

    def _start(self):
        if self.enabled and self.bar is None:
            self.bar = tqdm(total=self.total, unit='snapshot',
                            desc='saliency-replay', file=sys.stderr)

    def say(self, message):
        if self.bar is not None:
            self.bar.write(message, file=sys.stderr)
        else:
            print(message, file=sys.stderr)

    def __call__(self, snapshot, status, error):
        self._start()
        if error is not None:  # each file is named once, here
            self.say('saliency-replay: {}: {}'.format(
                'not replayed' if status == 'duplicate' else 'failed', error))
        if self.bar is not None:
            self.bar.set_postfix_str('epoch {} {}'.format(
                snapshot.epoch, status), refresh=False)
            self.bar.update(1)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _configure(args):
    """Builds the model and the report and moves the model to
    ``--device``; returns ``(model, report, None)``, or an error message
    for a bad configuration."""
    try:
        model, report = load_config(args.config, **dict(args.config_arg))
    except ReplayError as error:
        return None, None, str(error)
    if args.device is not None:
        try:
            device = chainer.get_device(args.device)
            device.use()
        except Exception as error:
            return None, None, '--device {!r}: {}'.format(args.device, error)
        model.to_device(device)
    return model, report, None


def main(argv=None):
    """The ``saliency-replay`` command; returns its exit status. Started by
    ``mpiexec -n N``, every process runs it and all return rank 0's
    status."""
    args = build_parser().parse_args(argv)
    start = time.perf_counter()
    ranks = Ranks(world_communicator())
    model, report, error = _configure(args)
    errors = [e for e in ranks.allgather(error) if e is not None]
    if errors:  # a process that cannot replay stops every process
        if ranks.is_root:
            print('saliency-replay: error: {}'.format(errors[0]),
                  file=sys.stderr)
        return 2
    found = _find(args) if ranks.is_root else None
    snapshots = ranks.agree(None if found is None else found[0])
    if not snapshots:
        return 1
    tensorboard = False if args.no_tensorboard else args.tensorboard
    progress = _Progress(len(snapshots),
                         ranks.is_root and not args.no_progress)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('default')
            summary = replay(
                model, report, snapshots, args.out, tensorboard=tensorboard,
                overwrite=args.overwrite, resume=args.resume,
                prefix=args.prefix, evolution=not args.no_evolution,
                max_frames=args.evolution_frames, callback=progress,
                comm=ranks.comm)
    except ReplayError as error:
        progress.close()
        if ranks.is_root:
            print('saliency-replay: error: {}'.format(error), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        progress.close()
        print('saliency-replay: interrupted; run it again with --resume to '
              'finish', file=sys.stderr)
        return 130
    progress.close()
    status = None
    if ranks.is_root:
        summary.failed[:0] = found[1]
        status = _conclude(summary, args, report, start)
    return ranks.agree(status)


def _find(args):
    """Rank 0: finds and orders the snapshots, naming those skipped;
    returns them and the ``SnapshotError`` of each file left out."""
    paths, failed = find_snapshots(args.snapshots,
                                   tuple(args.pattern or DEFAULT_PATTERNS))
    snapshots, unreadable = order_snapshots(
        paths, name_pattern=args.steps_from_name,
        iterations_per_epoch=args.iterations_per_epoch)
    failed += unreadable
    for error in failed:
        print('saliency-replay: failed: {}'.format(error), file=sys.stderr)
    if not snapshots:
        print('saliency-replay: error: no snapshot to replay', file=sys.stderr)
    return snapshots, failed


def _conclude(summary, args, report, start):
    """Rank 0: prints what was done; returns the exit status."""
    for problem in summary.problems:
        print('saliency-replay: {}'.format(problem), file=sys.stderr)
    print('saliency-replay: {} snapshot{} replayed, {} skipped (already '
          'done), {} failed{}, in {:.1f} s; files in {}'.format(
              len(summary.done), '' if len(summary.done) == 1 else 's',
              len(summary.skipped), len(summary.failed),
              ' (named above)' if summary.failed else '',
              time.perf_counter() - start,
              os.path.join(args.out, report.out_dir)))
    return 0 if summary.ok else 1


if __name__ == '__main__':
    sys.exit(main())
