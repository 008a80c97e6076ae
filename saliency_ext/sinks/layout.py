"""The on-disk layout of saliency reports: the one place that names their
files, written by ``SaliencyReport`` during training and by the replay, and
the public way to read a report folder back::

    <root>/index.jsonl                one record per (report, entry), appended
    <root>/probe[-sS].npz             probe indices and converted arrays, per session
    <root>/.lock                      held by the one process writing the folder
    <root>/<entry>/epoch_EEEE-iter_IIIIIIII[-sS]/
        item_00.png ...               one picture per probe item
        mean.png                      the probe's mean map (if asked for)
        saliency.npz                  the aggregated maps and what made them
        fragments.csv                 molecule entries: attribution per group
        molecules.sdf                 molecule entries: per-atom attributions
    <root>/<entry>/evolution/item_00.png ...
                                      the replay's strips over the snapshots
    <root>/replay.json                the replay's own record

``S`` is the session: a trainer resumed from a snapshot, or a new run into
a folder that holds reports, continues in a new session, so a report
repeated at an iteration already on disk never overwrites the earlier one.
Session 0 has no ``-sS`` suffix.
"""
import contextlib
import csv
import hashlib
import json
import os
import re
import shutil

from saliency_ext.sinks.storage import (TEMPORARY, ReportIndex,
                                        atomic_write_bytes, png_files,
                                        read_npz, resolve_inside, safe_name,
                                        write_npz)

INDEX = 'index.jsonl'
PROBE = 'probe.npz'
ARRAYS = 'saliency.npz'
FRAGMENTS = 'fragments.csv'
MOLECULES = 'molecules.sdf'
EVOLUTION = 'evolution'
MANIFEST = 'replay.json'
LOCK = '.lock'
#: The files of the root, which no entry folder may be named like.
ROOT_FILES = re.compile(r'index\.jsonl|probe(-s\d+)?\.npz|replay\.json')
_STEP_DIR = re.compile(r'epoch_\d{4,}-iter_\d{8,}(?:-s(\d+))?')
_PROBE_FILE = re.compile(r'probe(?:-s(\d+))?\.npz')


def _session_of(match):
    return int(match.group(1) or 0)


def training_order(record):
    """Sort key of a record (or an ``(epoch, iteration)`` pair) in the order
    training made them."""
    if isinstance(record, dict):
        return record['iteration'], record['epoch']
    epoch, iteration = record
    return iteration, epoch


class ReportLayout(object):
    """Names, writes and reads the files of reports under one root folder.

    Args:
        root (str): The report folder, usually ``<trainer.out>/saliency``.
    """

    def __init__(self, root):
        self.root = os.fspath(root)
        self.index = ReportIndex(os.path.join(self.root, INDEX))

    # -- names ----------------------------------------------------------------

    def path(self, *parts):
        """The absolute path of a file named relative to the root; never
        outside it."""
        return resolve_inside(self.root, *parts)

    @staticmethod
    def probe_file(session=0):
        """The probe file of a session, relative to the root."""
        stem, ext = os.path.splitext(PROBE)
        return PROBE if not session else '{}-s{}{}'.format(stem, session, ext)

    def probe_files(self):
        """The probe files on disk, relative to the root, by session."""
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            found = [(_session_of(m), m.group(0)) for m in map(
                _PROBE_FILE.fullmatch, os.listdir(self.root)) if m]
            return [name for _, name in sorted(found)]
        return []

    @property
    def mark(self):
        """str: A short name of this folder (``saliency-`` and a hash of its
        real path) that names its files kept elsewhere, such as its
        TensorBoard event files."""
        real = os.path.realpath(self.root).encode('utf-8', 'surrogatepass')
        return 'saliency-' + hashlib.sha256(real).hexdigest()[:8]

    @property
    def lock_path(self):
        """str: The lock file of the one process writing the folder."""
        return self.path(LOCK)

    @property
    def manifest_path(self):
        """str: The replay's record of what it did."""
        return self.path(MANIFEST)

    @staticmethod
    def entry_dir(entry):
        """The folder of an entry's reports, relative to the root: the name made
        file-system safe, and never one of the root's own files."""
        return safe_name(entry, reserved=ROOT_FILES)

    @staticmethod
    def step_dir(epoch, iteration, session=0):
        """The folder name of one report of an entry."""
        name = 'epoch_{:04d}-iter_{:08d}'.format(epoch, iteration)
        return name if not session else '{}-s{}'.format(name, session)

    def report_dir(self, entry, epoch, iteration, session):
        """The folder of one report of an entry, relative to the root."""
        return os.path.join(self.entry_dir(entry),
                            self.step_dir(epoch, iteration, session))

    def report_files(self, entry, epoch, iteration, session, pictures,
                     arrays):
        """The files of one report, relative to the root: a PNG per name in
        ``pictures``, then the arrays file when there are ``arrays``."""
        folder = self.report_dir(entry, epoch, iteration, session)
        files = [os.path.join(folder, safe_name(name) + '.png')
                 for name in pictures]
        if arrays:
            files.append(os.path.join(folder, ARRAYS))
        return files

    def export_files(self, entry, epoch, iteration, session):
        """The exports of one report of a molecule entry, relative to the
        root: its fragments table and its SD file."""
        folder = self.report_dir(entry, epoch, iteration, session)
        return [os.path.join(folder, FRAGMENTS),
                os.path.join(folder, MOLECULES)]

    def evolution_path(self, entry, picture):
        """Where the replay draws the evolution strip of one picture."""
        return self.path(self.entry_dir(entry), EVOLUTION,
                         safe_name(picture) + '.png')

    # -- writing ----------------------------------------------------------------

    def write_probe(self, indices, arrays, session=0):
        """Saves the probe's dataset indices and converted arrays as the
        probe of ``session``."""
        write_npz(self.path(self.probe_file(session)), indices=indices,
                  **{'input_{}'.format(i): a for i, a in enumerate(arrays)})

    def write_report(self, record, pictures, arrays):
        """Writes one report's files, where :meth:`report_files` names
        them: ``pictures`` (name -> RGB uint8), then ``arrays`` with the
        record's epoch, iteration and settings."""
        folder = self.report_dir(record['entry'], record['epoch'],
                                 record['iteration'], record['session'])
        for name, png in png_files(pictures):
            # not fsynced: pictures can be redrawn from the arrays
            atomic_write_bytes(self.path(folder, safe_name(name) + '.png'), png,
                               durable=False)
        if arrays:
            write_npz(self.path(folder, ARRAYS), epoch=record['epoch'],
                      iteration=record['iteration'],
                      settings=json.dumps(record['settings'], sort_keys=True),
                      **arrays)

    def append(self, record):
        """Adds a record to the index: the report is then listed. When the
        index cannot be written the record waits in memory (see
        :class:`~saliency_ext.sinks.storage.ReportIndex`)."""
        self.index.append(record)

    def remove_report(self, record):
        """Removes the folder of one report (the partial files of a report
        that failed): never a folder another record names."""
        folder = self.path(self.report_dir(record['entry'], record['epoch'],
                                           record['iteration'],
                                           record['session']))
        shutil.rmtree(folder, ignore_errors=True)

    # -- a new session, and what a killed one left ---------------------------

    def _step_dirs(self):
        """The report folders on disk, relative to the root: ``(path,
        session)`` pairs."""
        found = []
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            for entry in os.scandir(self.root):
                if not entry.is_dir(follow_symlinks=False):
                    continue
                for step in os.scandir(entry.path):
                    match = _STEP_DIR.fullmatch(step.name)
                    if match and step.is_dir(follow_symlinks=False):
                        found.append((os.path.join(entry.name, step.name),
                                      _session_of(match)))
        return found

    def next_session(self, *, previous=None):
        """The first session that has written nothing into the folder: not
        in the index, in no report folder or probe file on disk, and not
        ``previous`` (the session of the lock's last holder)."""
        used = set(self.sessions()) | {s for _, s in self._step_dirs()}
        used |= {_session_of(_PROBE_FILE.fullmatch(f))
                 for f in self.probe_files()}
        if previous is not None:
            used.add(previous)
        return 1 + max(used) if used else 0

    def recover(self, *, session=None):
        """Clears what an unfinished writer left: its temporary files, and
        the report folders of ``session`` (the lock's last holder) that no
        record names, which are the partial files of a report it did not
        finish. Report folders of other sessions without a record are left
        as they are. Call it holding the folder's lock.

        Returns:
            tuple: ``(removed, unlisted)``: the paths removed and the report
            folders without a record that were left, relative to the root.
        """
        removed = []
        for folder, _, files in os.walk(self.root):
            for name in files:
                if TEMPORARY.fullmatch(name):
                    os.remove(os.path.join(folder, name))
                    removed.append(os.path.relpath(os.path.join(folder, name),
                                                   self.root))
        listed = set()
        for record in self.records():
            listed.add(self.report_dir(record['entry'], record['epoch'],
                                       record['iteration'], record['session']))
            listed |= {os.path.dirname(f) for f in record['files']}
        unlisted = []
        for path, step_session in self._step_dirs():
            if path in listed:
                continue
            if step_session == session:
                shutil.rmtree(self.path(path))
                removed.append(path)
            else:
                unlisted.append(path)
        return removed, unlisted

    # -- reading ----------------------------------------------------------------

    def records(self, entry=None, *, session=None):
        """The index records, oldest first, of one entry or of all, of one
        session or of all."""
        return [r for r in self.index.records()
                if (entry is None or r['entry'] == entry) and
                (session is None or r['session'] == session)]

    def sessions(self):
        """The sessions that wrote records, in increasing order."""
        return sorted({r['session'] for r in self.index.records()})

    def last_session(self):
        """The newest session, or None for an empty folder."""
        sessions = self.sessions()
        return sessions[-1] if sessions else None

    def latest_records(self, entry):
        """An entry's records that saved arrays, the last one of each
        ``(epoch, iteration)``, in training order."""
        latest = {}
        for record in self.records(entry):
            if self.arrays_file(record) is not None:
                latest[training_order(record)] = record
        return [latest[k] for k in sorted(latest)]

    @staticmethod
    def arrays_file(record):
        """The arrays file of a record, relative to the root, or None."""
        for path in record['files']:
            if os.path.basename(path) == ARRAYS:
                return path
        return None

    def read_fragments(self, record):
        """The rows of a record's ``fragments.csv`` as dicts of strings
        (columns ``group``, ``source``, ``smarts``, ``occurrences``,
        ``molecules``, ``mean``, ``std``), best ranked first; ``None`` if
        it wrote none."""
        for path in record['files']:
            if os.path.basename(path) == FRAGMENTS:
                with open(self.path(path), newline='') as f:
                    return list(csv.DictReader(f))
        return None

    def read_arrays(self, record):
        """The arrays saved with a record (``None`` if it saved none)."""
        path = self.arrays_file(record)
        return None if path is None else read_npz(self.path(path))

    def read_probe(self, session=None):
        """Returns the probe's dataset indices and its converted arrays, as
        ``session`` saved them (by default the last session's)."""
        if session is None:
            session = self.last_session() or 0
        stored = read_npz(self.path(self.probe_file(session)))
        arrays = [stored['input_{}'.format(i)]
                  for i in range(len(stored) - 1)]
        return stored['indices'], arrays
