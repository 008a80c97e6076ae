"""Reading training snapshots without running pickled code: finding them,
telling when each was taken, and loading a model's parameters from them.

Two kinds are understood: trainer snapshots written by
``chainer.training.extensions.snapshot``, which hold the updater's model under
``updater/model:<name>/``, its iteration and its iterator's epoch; and
model-only snapshots written by ``snapshot_object`` or ``save_npz``, whose step
is read from the file name. Everything is read with
``numpy.load(..., allow_pickle=False)``; a file that cannot be used raises
:class:`SnapshotError`, whose message names the file and what is wrong.
"""
import contextlib
import dataclasses
import fnmatch
import os
import re
import stat
import zipfile
import zlib

import chainer
import numpy
from chainer.serializers import NpzDeserializer

#: File names taken from a snapshot folder unless ``patterns`` says otherwise.
DEFAULT_PATTERNS = ('snapshot*', '*.npz')
#: Where a trainer snapshot keeps the updater's model, iteration and epoch.
TRAINER_MODEL = 'updater/model:main/'
TRAINER_ITERATION = 'updater/iteration'
TRAINER_EPOCH = 'updater/iterator:main/epoch'

_EPOCH_IN_NAME = re.compile(r'(?<![A-Za-z])epoch[_.-]?(\d+)', re.IGNORECASE)
_ITERATION_IN_NAME = re.compile(r'(?<![A-Za-z])iter(?:ation)?s?[_.-]?(\d+)',
                                re.IGNORECASE)
_READ_ERRORS = (OSError, EOFError, ValueError, KeyError, TypeError,
                zipfile.BadZipFile, zlib.error)


class SnapshotError(Exception):
    """A snapshot that cannot be replayed: the message names the file and
    what is wrong with it."""

    def __init__(self, path, reason):
        super(SnapshotError, self).__init__('{}: {}'.format(path, reason))
        self.path = path
        self.reason = reason


@dataclasses.dataclass(frozen=True)
class Snapshot(object):
    """A snapshot file and the step of training it was taken at."""
    path: str
    epoch: int
    iteration: int
    trainer: bool  # a whole-trainer snapshot, or the model alone


# -- finding and ordering snapshots ---------------------------------------

def _kind(path):
    """What a path that is not a regular file is, or None for a regular
    file (links followed)."""
    mode = os.stat(path).st_mode
    for test, kind in ((stat.S_ISREG, None), (stat.S_ISDIR, 'a folder'),
                       (stat.S_ISFIFO, 'a named pipe (FIFO)'),
                       (stat.S_ISSOCK, 'a socket'),
                       (stat.S_ISCHR, 'a device'), (stat.S_ISBLK, 'a device')):
        if test(mode):
            return kind
    return 'not a regular file'


def find_snapshots(sources, patterns=DEFAULT_PATTERNS):
    """Lists the snapshot files of ``sources``.

    Args:
        sources: Files and folders. A file is taken as it is; a folder gives
            its files (not those of its sub-folders) whose names match one of
            ``patterns``, hidden files excepted.
        patterns (sequence of str): Shell patterns for names in folders.

    Returns:
        tuple: ``(paths, errors)``: the regular files, each once, and a
        :class:`SnapshotError` for each source that is missing, a folder
        with no snapshot, or named like a snapshot but not a regular file
        (a named pipe, a device or a folder: never opened, so never waited
        on).
    """
    paths, errors, seen = [], [], set()
    for source in sources:
        source = os.fspath(source)
        try:
            kind = _kind(source)
        except OSError as error:
            errors.append(SnapshotError(source, 'no such file or folder'
                                        if isinstance(error, FileNotFoundError)
                                        else 'cannot be read ({})'.format(
                                            error)))
            continue
        if kind == 'a folder':
            found, named = [], len(errors)
            for name in sorted(os.listdir(source)):
                path = os.path.join(source, name)
                if name.startswith('.') or not any(
                        fnmatch.fnmatch(name, p) for p in patterns):
                    continue
                try:
                    kind = _kind(path)
                except OSError as error:  # a dangling link
                    kind = 'cannot be read ({})'.format(error)
                if kind is None:
                    found.append(path)
                else:
                    errors.append(SnapshotError(path, 'named like a snapshot '
                                                'but {}'.format(kind)))
            if not found and len(errors) == named:
                errors.append(SnapshotError(source, 'a folder with no file '
                                            'named like {}'.format(
                                                ' or '.join(patterns))))
        elif kind is None:
            found = [source]
        else:
            errors.append(SnapshotError(source, '{}, not a snapshot file'
                                        .format(kind)))
            found = []
        for path in found:
            if os.path.realpath(path) not in seen:
                seen.add(os.path.realpath(path))
                paths.append(path)
    return paths, errors


@contextlib.contextmanager
def open_snapshot(path):
    """Opens a snapshot as an ``NpzFile`` without unpickling anything;
    raises :class:`SnapshotError` when it cannot be read or is not a
    regular file (checked on the opened file, which a named pipe does not
    block)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, 'O_NONBLOCK', 0) |
                     getattr(os, 'O_BINARY', 0))
    except FileNotFoundError:
        raise SnapshotError(path, 'no such file') from None
    except OSError as error:
        raise SnapshotError(path, 'cannot be opened ({})'.format(
            error)) from error
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise SnapshotError(path, 'not a regular file')
    with os.fdopen(fd, 'rb') as file:  # closed here even if numpy.load fails
        try:
            npz = numpy.load(file, allow_pickle=False)
        except _READ_ERRORS as error:
            raise SnapshotError(path, 'not a readable snapshot, truncated or '
                                'corrupt ({}: {})'.format(
                                    type(error).__name__, error)) from error
        if not isinstance(npz, numpy.lib.npyio.NpzFile):
            raise SnapshotError(path, 'a single .npy array, not an .npz '
                                'snapshot')
        try:
            yield npz
        finally:
            npz.close()


def _read_value(npz, path, key):
    try:
        return npz[key]
    except _READ_ERRORS as error:
        raise SnapshotError(path, 'cannot read {!r}, the file is corrupt '
                            '({}: {})'.format(key, type(error).__name__,
                                              error)) from error


def _read_int(npz, path, key):
    value = _read_value(npz, path, key)
    if value.shape != () or value.dtype.kind not in 'iu':
        raise SnapshotError(path, '{!r} is not an integer: {!r}'.format(
            key, value))
    return int(value)


def steps_from_name(path, pattern=None, iterations_per_epoch=None):
    """Reads the epoch and iteration of a model-only snapshot from its file
    name.

    Args:
        path (str): The file.
        pattern (str): A regular expression searched in the file name, with
            named groups ``epoch`` and/or ``iteration``. By default names like
            ``model_epoch_5``, ``snapshot_iter_1200`` or
            ``model_epoch_5_iter_1200`` are understood.
        iterations_per_epoch (int): Fills in the step the name lacks:
            ``iteration = epoch * n`` or ``epoch = iteration // n``.

    Returns:
        tuple: ``(epoch, iteration)``.

    Raises:
        SnapshotError: When the name does not tell both.
    """
    name = os.path.basename(path)
    if pattern is not None:
        match = re.search(pattern, name)
        if match is None:
            raise SnapshotError(path, 'a model-only snapshot whose name does '
                                'not match the pattern {!r}'.format(pattern))
        groups = match.groupdict()
        epoch, iteration = groups.get('epoch'), groups.get('iteration')
    else:
        epoch, iteration = [m.group(1) if m else None for m in (
            _EPOCH_IN_NAME.search(name), _ITERATION_IN_NAME.search(name))]
    epoch = None if epoch is None else int(epoch)
    iteration = None if iteration is None else int(iteration)
    if iterations_per_epoch:
        if iteration is None and epoch is not None:
            iteration = epoch * iterations_per_epoch
        elif epoch is None and iteration is not None:
            epoch = iteration // iterations_per_epoch
    if epoch is None or iteration is None:
        missing = ' and '.join(n for n, v in (('epoch', epoch),
                                              ('iteration', iteration))
                               if v is None)
        raise SnapshotError(
            path, 'a model-only snapshot carries no step and its name does '
            'not tell the {}: name the files like model_epoch_E_iter_I '
            '(snapshot_object(model, "model_epoch_{{0.updater.epoch}}_iter_'
            '{{0.updater.iteration}}")), or pass --steps-from-name with '
            '(?P<epoch>...) and (?P<iteration>...) groups, or '
            '--iterations-per-epoch'.format(missing))
    return epoch, iteration


def read_snapshot(path, *, name_pattern=None, iterations_per_epoch=None):
    """Reads when a snapshot was taken.

    A trainer snapshot holds its iteration (``updater/iteration``) and the
    epoch of its main iterator (``updater/iterator:main/epoch``); a
    model-only snapshot holds neither, so they are read from its name (see
    :func:`steps_from_name`).

    Returns:
        Snapshot: the file and its step.

    Raises:
        SnapshotError: When the file cannot be read or its step is unknown.
    """
    path = os.fspath(path)
    with open_snapshot(path) as npz:
        files = set(npz.files)
        if TRAINER_ITERATION in files:
            iteration = _read_int(npz, path, TRAINER_ITERATION)
            epoch_keys = [TRAINER_EPOCH] if TRAINER_EPOCH in files else sorted(
                k for k in files if re.fullmatch(
                    r'updater/iterator:[^/]+/epoch', k))
            if not epoch_keys:
                raise SnapshotError(path, 'a trainer snapshot without the '
                                    'epoch of its iterator ({!r})'.format(
                                        TRAINER_EPOCH))
            epoch = _read_int(npz, path, epoch_keys[0])
            return Snapshot(path, epoch, iteration, True)
    epoch, iteration = steps_from_name(path, name_pattern,
                                       iterations_per_epoch)
    return Snapshot(path, epoch, iteration, False)


def order_snapshots(paths, *, name_pattern=None, iterations_per_epoch=None):
    """Reads the step of each file and puts them in training order.

    Snapshots of one step all stay, trainer snapshots first: the replay
    keeps the first of them that loads into the model.

    Returns:
        tuple: ``(snapshots, errors)``: the :class:`Snapshot` objects sorted
        by iteration, then epoch; a :class:`SnapshotError` for each file
        that cannot be read.
    """
    snapshots, errors = [], []
    for path in paths:
        try:
            snapshots.append(read_snapshot(
                path, name_pattern=name_pattern,
                iterations_per_epoch=iterations_per_epoch))
        except SnapshotError as error:
            errors.append(error)
    snapshots.sort(key=lambda s: (s.iteration, s.epoch, not s.trainer,
                                  s.path))
    return snapshots, errors


# -- loading a model's parameters --------------------------------------------

class _KeyCollector(chainer.serializer.Serializer):
    """Lists the keys and current values a link serializes, changing
    nothing."""

    def __init__(self, path='', found=None):
        self.path = path
        self.found = [] if found is None else found

    def __getitem__(self, key):
        return _KeyCollector(self.path + key.strip('/') + '/', self.found)

    def __call__(self, key, value):
        self.found.append((self.path + key.lstrip('/'), value))
        return value


def model_keys(model):
    """The ``(key, value)`` pairs of a link's parameters and persistent
    values, keyed as ``save_npz`` writes them (``'l1/W'``)."""
    collector = _KeyCollector()
    model.serialize(collector)
    return sorted(collector.found, key=lambda found: found[0])


class _NamingDeserializer(NpzDeserializer):
    """``NpzDeserializer`` whose errors name the file and the key."""

    def __init__(self, npz, path='', *, source):
        super(_NamingDeserializer, self).__init__(npz, path, strict=True)
        self.source = source

    def __getitem__(self, key):
        return _NamingDeserializer(self.npz, self.path + key.strip('/') + '/',
                                   source=self.source)

    def __call__(self, key, value):
        try:
            return super(_NamingDeserializer, self).__call__(key, value)
        except _READ_ERRORS as error:
            raise SnapshotError(self.source, 'cannot load {!r} into the '
                                'model ({}: {})'.format(
                                    self.path + key.lstrip('/'),
                                    type(error).__name__, error)) from error


def _npy_header(npz, path, key):
    """Shape and dtype of one array, from its header only."""
    try:
        with npz.zip.open(key + '.npy') as f:
            version = numpy.lib.format.read_magic(f)
            read = (numpy.lib.format.read_array_header_1_0 if version == (1, 0)
                    else numpy.lib.format.read_array_header_2_0)
            shape, _, dtype = read(f)
    except _READ_ERRORS as error:
        raise SnapshotError(path, 'cannot read {!r}, the file is corrupt '
                            '({}: {})'.format(key, type(error).__name__,
                                              error)) from error
    return shape, dtype


def _fits(npz, path, prefix, keys):
    for key, value in keys:
        if value is not None and numpy.ndim(value) != 0 and tuple(
                _npy_header(npz, path, prefix + key)[0]) != value.shape:
            return False
    return True


def _choose_prefix(npz, keys, path):
    """Where the model's keys are in the snapshot: ``updater/model:main/``
    (or a link below it) in a trainer snapshot, ``''`` in a model-only one;
    the one place that holds every key, in the model's shapes."""
    files = set(npz.files)
    first = keys[0][0]
    candidates = sorted({name[:len(name) - len(first)] for name in files
                         if name == first or name.endswith('/' + first)})
    present = [c for c in candidates if all(c + k in files for k, _ in keys)]
    fitting = [c for c in present if _fits(npz, path, c, keys)]
    for pool in (fitting, present):
        for tier in ([c for c in pool if c in (TRAINER_MODEL, '')],
                     [c for c in pool if c.startswith(TRAINER_MODEL)], pool):
            if len(tier) > 1 and pool is fitting:
                raise SnapshotError(
                    path, "the model's parameters are found under several "
                    'prefixes {}: choose one with --prefix'.format(tier))
            if tier:  # when none fits: the likeliest, to name what does not
                return tier[0]
    # nothing fits: check against the usual place, to name a missing key
    return TRAINER_MODEL if TRAINER_ITERATION in files else ''


def _stored_model_keys(files, prefix, limit=6):
    names = sorted(k for k in files if k.startswith(prefix) and (
        prefix or not k.startswith(('updater/', 'extensions/'))))
    shown = ', '.join(repr(k) for k in names[:limit])
    return shown + (', ...' if len(names) > limit else '') or 'none'


def load_model_params(model, path, *, prefix=None):
    """Loads a snapshot's parameters into ``model``, reading no pickles.

    Args:
        model (chainer.Link): The model; its parameters and persistent values
            are overwritten.
        path (str): A trainer snapshot (``extensions.snapshot``) or a
            model-only one (``snapshot_object`` or ``save_npz``).
        prefix (str): The model's path in the file. By default the one place
            that holds all of the model's keys: ``updater/model:main/``, or
            a link below it such as ``updater/model:main/predictor/`` when
            the model is the predictor of a ``Classifier``; ``''`` for a
            model-only snapshot.

    Returns:
        str: The prefix used.

    Raises:
        SnapshotError: Naming the file and the key that is missing, has
            another shape or cannot be read; the model is left unchanged by
            a missing or misshapen key.
    """
    path = os.fspath(path)
    keys = model_keys(model)
    if not keys:
        raise ValueError('the model has no parameters to load')
    with open_snapshot(path) as npz:
        files = set(npz.files)
        if prefix is None:
            prefix = _choose_prefix(npz, keys, path)
        for key, value in keys:
            stored = prefix + key
            if stored not in files:
                raise SnapshotError(
                    path, "has no {!r} for the model's parameter {!r}: the "
                    'snapshot is of another model or the model is found '
                    'elsewhere in it (give --prefix); it holds {}'.format(
                        stored, key, _stored_model_keys(
                            files, prefix if prefix in (TRAINER_MODEL, '')
                            else TRAINER_MODEL)))
            shape, dtype = _npy_header(npz, path, stored)
            if value is not None and numpy.ndim(value) != 0 and \
                    tuple(shape) != tuple(value.shape):
                raise SnapshotError(
                    path, "parameter {!r} ({!r}) has shape {} in the snapshot "
                    "but {} in the model".format(key, stored, tuple(shape),
                                                 tuple(value.shape)))
            if dtype.hasobject:
                raise SnapshotError(path, '{!r} holds pickled objects, which '
                                    'are not read'.format(stored))
        _NamingDeserializer(npz, prefix, source=path).load(model)
    return prefix
