"""The on-disk layout of saliency reports: the one place that names their
files, written by ``SaliencyReport`` during training and by the replay, and
the public way to read a report folder back::

    <root>/index.jsonl                one record per (report, entry)
    <root>/probe.npz                  probe indices and converted arrays
    <root>/<entry>/epoch_EEEE-iter_IIIIIIII[-sS]/
        item_00.png ...               one picture per probe item
        mean.png                      the probe's mean map (if asked for)
        saliency.npz                  the aggregated maps and what made them
    <root>/<entry>/evolution/item_00.png ...
                                      the replay's strips over the snapshots
    <root>/replay.json                the replay's own record

``S`` is the session: a trainer resumed from a snapshot, or a new run into
a folder that holds reports, continues in a new session, so a report
repeated at an iteration already on disk never overwrites the earlier one.
"""
import json
import os

from saliency_ext.sinks.storage import (ReportIndex, read_npz, resolve_inside,
                                        safe_name, write_npz, write_png)

INDEX = 'index.jsonl'
PROBE = 'probe.npz'
ARRAYS = 'saliency.npz'
EVOLUTION = 'evolution'
MANIFEST = 'replay.json'


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

    @property
    def probe_path(self):
        """str: The probe file."""
        return self.path(PROBE)

    @property
    def manifest_path(self):
        """str: The replay's record of what it did."""
        return self.path(MANIFEST)

    @staticmethod
    def entry_dir(entry):
        """The folder of an entry's reports, relative to the root."""
        return safe_name(entry)

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

    def evolution_path(self, entry, picture):
        """Where the replay draws the evolution strip of one picture."""
        return self.path(self.entry_dir(entry), EVOLUTION,
                         safe_name(picture) + '.png')

    # -- writing ----------------------------------------------------------------

    def write_probe(self, indices, arrays):
        """Saves the probe's dataset indices and converted arrays."""
        write_npz(self.probe_path, indices=indices,
                  **{'input_{}'.format(i): a for i, a in enumerate(arrays)})

    def write_report(self, record, pictures, arrays):
        """Writes one report's files, where :meth:`report_files` names
        them: ``pictures`` (name -> RGB uint8), then ``arrays`` with the
        record's epoch, iteration and settings."""
        folder = self.report_dir(record['entry'], record['epoch'],
                                 record['iteration'], record['session'])
        for name, rgb in pictures.items():
            write_png(self.path(folder, safe_name(name) + '.png'), rgb)
        if arrays:
            write_npz(self.path(folder, ARRAYS), epoch=record['epoch'],
                      iteration=record['iteration'],
                      settings=json.dumps(record['settings'], sort_keys=True),
                      **arrays)

    def append(self, record):
        """Adds a record to the index: the report is then listed."""
        self.index.append(record)

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

    def read_arrays(self, record):
        """The arrays saved with a record (``None`` if it saved none)."""
        path = self.arrays_file(record)
        return None if path is None else read_npz(self.path(path))

    def read_probe(self):
        """Returns the probe's dataset indices and its converted arrays."""
        stored = read_npz(self.probe_path)
        arrays = [stored['input_{}'.format(i)]
                  for i in range(len(stored) - 1)]
        return stored['indices'], arrays
