"""The on-disk layout of saliency reports, written by ``SaliencyReport``
during training and reproduced by the replay script::

    <root>/index.jsonl                one record per (report, entry)
    <root>/probe.npz                  probe indices and converted arrays
    <root>/<entry>/epoch_EEEE-iter_IIIIIIII[-sS]/
        item_00.png ...               one picture per probe item
        mean.png                      the probe's mean map (if asked for)
        saliency.npz                  the aggregated maps and what made them

``S`` is the session: a trainer resumed from a snapshot continues in a new
session, so a report repeated at an iteration already on disk never
overwrites the earlier one.
"""
import json
import os
import time

from saliency_ext.writers.files import (ReportIndex, read_npz, resolve_inside,
                                        safe_name, write_npz, write_png)

INDEX = 'index.jsonl'
PROBE = 'probe.npz'
ARRAYS = 'saliency.npz'


class ReportLayout(object):
    """Writes and reads the files of reports under one root folder.

    Args:
        root (str): The report folder, usually ``<trainer.out>/saliency``.
    """

    def __init__(self, root):
        self.root = os.fspath(root)
        self.index = ReportIndex(os.path.join(self.root, INDEX))

    @staticmethod
    def step_dir(epoch, iteration, session=0):
        name = 'epoch_{:04d}-iter_{:08d}'.format(epoch, iteration)
        return name if not session else '{}-s{}'.format(name, session)

    def write_probe(self, indices, arrays):
        write_npz(resolve_inside(self.root, PROBE), indices=indices,
                  **{'input_{}'.format(i): a for i, a in enumerate(arrays)})

    def read_probe(self):
        """Returns the probe's dataset indices and its converted arrays."""
        stored = read_npz(resolve_inside(self.root, PROBE))
        arrays = [stored['input_{}'.format(i)]
                  for i in range(len(stored) - 1)]
        return stored['indices'], arrays

    def write_report(self, entry, epoch, iteration, session, pictures,
                     arrays, settings, **fields):
        """Writes one entry's report and appends its index record.

        Args:
            entry (str): The entry's name (made safe for the file system).
            epoch, iteration (int): When the report was made.
            session (int): The training session (0, then 1 after a resume).
            pictures (list): ``(name, rgb uint8 (H, W, 3))`` pairs.
            arrays (dict): Arrays saved in ``saliency.npz``.
            settings (dict): JSON-serialisable settings that made the maps.
            **fields: More JSON-serialisable fields for the index record
                (seconds taken, an error message).

        Returns:
            dict: The index record.
        """
        folder = os.path.join(safe_name(entry),
                              self.step_dir(epoch, iteration, session))
        files = []
        for name, rgb in pictures:
            files.append(os.path.join(folder, safe_name(name) + '.png'))
            write_png(resolve_inside(self.root, files[-1]), rgb)
        if arrays:
            files.append(os.path.join(folder, ARRAYS))
            write_npz(resolve_inside(self.root, files[-1]), epoch=epoch,
                      iteration=iteration,
                      settings=json.dumps(settings, sort_keys=True), **arrays)
        record = dict(entry=entry, epoch=int(epoch), iteration=int(iteration),
                      session=int(session), files=files, time=time.time(),
                      settings=settings, **fields)
        self.index.append(record)
        return record

    def records(self, entry=None):
        """The index records, oldest first, of one entry or of all."""
        return [r for r in self.index.records()
                if entry is None or r['entry'] == entry]

    def latest_records(self, entry):
        """An entry's records that saved arrays, the last one of each
        ``(epoch, iteration)``, in training order."""
        latest = {}
        for record in self.records(entry):
            if any(os.path.basename(f) == ARRAYS for f in record['files']):
                latest[(record['iteration'], record['epoch'])] = record
        return [latest[k] for k in sorted(latest)]

    def read_arrays(self, record):
        """The arrays saved with a record (``None`` if it saved none)."""
        for path in record['files']:
            if os.path.basename(path) == ARRAYS:
                return read_npz(resolve_inside(self.root, path))
        return None
