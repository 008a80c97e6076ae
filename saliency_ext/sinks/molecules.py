"""Attributions of molecule entries in files chemists load into their own
tools: per report, ``fragments.csv`` (the attribution of each functional
group, ranked) and ``molecules.sdf`` (the probe molecules with per-atom
attributions). The layout names both paths
(:meth:`~saliency_ext.ReportLayout.export_files`)."""
import contextlib
import csv
import io
import os

import numpy

from saliency_ext.optional import require
from saliency_ext.sinks.base import ReportSink
from saliency_ext.sinks.storage import atomic_write_bytes, safe_name
from saliency_ext.metrics.groups import functional_groups, occurrences

#: The columns of ``fragments.csv``.
FRAGMENT_COLUMNS = ('group', 'source', 'smarts', 'occurrences', 'molecules',
                    'mean', 'std')


def atom_property(entry, std=False):
    """The atom property that ``molecules.sdf`` gives an entry's
    attributions (``saliency_<entry>``) or, with ``std``, their spread over
    the samples (``saliency_std_<entry>``); the entry's name made safe as
    for its folder."""
    return '{}_{}'.format('saliency_std' if std else 'saliency',
                          safe_name(entry))


#: Where a group of ``fragments.csv`` comes from: the entry's own groups,
#: or RDKit's functional-group catalogue.
ENTRY, CATALOGUE = 'entry', 'catalogue'


class _Occurrences(object):
    """Where one group occurs in the probe, as flat indices: for each
    matched atom its item, its atom and its occurrence.

    Args:
        group: The group (its ``name``, its SMARTS ``spec``).
        source (str): ``'entry'`` or ``'catalogue'``.
        found (list): ``(item, atoms)`` per occurrence.
    """

    def __init__(self, group, source, found):
        self.group, self.source = group, source
        self.count = len(found)
        self.molecules = len({item for item, _ in found})
        self.items = numpy.array([item for item, atoms in found
                                  for _ in atoms], numpy.int64)
        self.atoms = numpy.array([a for _, atoms in found for a in atoms],
                                 numpy.int64)
        self.numbers = numpy.repeat(numpy.arange(self.count), [
            len(atoms) for _, atoms in found]).astype(numpy.int64)

    def row(self, saliency):
        """The group's ``fragments.csv`` row for the maps ``(N, atoms)``."""
        mean = std = ''
        if self.count:
            sums = numpy.bincount(self.numbers, minlength=self.count,
                                  weights=saliency[self.items, self.atoms])
            mean, std = '{:.9g}'.format(sums.mean()), '{:.9g}'.format(
                sums.std())
        return dict(group=self.group.name, source=self.source,
                    smarts=self.group.spec, occurrences=self.count,
                    molecules=self.molecules, mean=mean, std=std)


class ProbeMolecules(object):
    """The molecules of one entry's probe, prepared once for every report:
    2-D coordinates for the SD file and where each group occurs.

    Args:
        mols (list of rdkit.Chem.Mol): The probe items' molecules, atoms in
            the order of the maps.
        indices (list of int): The items' dataset indices.
        groups (dict): The entry's groups (``ReportEntry.groups``): its
            SMARTS groups count, each matched on its own; RDKit's
            functional-group catalogue is added after them, matched in its
            order so that each atom belongs to one catalogue group at most.
    """

    def __init__(self, mols, indices, groups=None):
        depictor = require('rdkit.Chem.rdDepictor', 'molecules.sdf')
        chem = require('rdkit.Chem', 'molecules.sdf')
        self.mols = []
        for mol in mols:
            mol = chem.Mol(mol)
            if not mol.GetNumConformers():
                depictor.Compute2DCoords(mol)
            self.mols.append(mol)
        self.indices = [int(i) for i in indices]
        own = [g for g in (groups or {}).values() if g.kind == 'smarts']
        catalogue = functional_groups()
        found = {id(g): [] for g in own + list(catalogue)}
        for item, mol in enumerate(self.mols):
            for group in own:
                found[id(group)] += [(item, a) for a in occurrences(
                    mol, group.smarts)]
            taken = set()
            for group in catalogue:
                found[id(group)] += [(item, a) for a in occurrences(
                    mol, group.smarts, taken)]
        self.groups = [_Occurrences(g, ENTRY, found[id(g)]) for g in own] + \
            [_Occurrences(g, CATALOGUE, found[id(g)]) for g in catalogue]

    def fragments(self, saliency):
        """``fragments.csv`` for the maps ``(N, atoms)``: one row per SMARTS
        group of the entry, then per catalogue group that occurs in the
        probe, ranked by the mean summed attribution of an occurrence,
        largest first (groups that do not occur last)."""
        rows = [g.row(saliency) for g in self.groups
                if g.count or g.source != CATALOGUE]
        rows.sort(key=lambda r: (r['mean'] == '', -float(r['mean'] or 0)))
        text = io.StringIO()
        writer = csv.DictWriter(text, FRAGMENT_COLUMNS, lineterminator='\n')
        writer.writeheader()
        writer.writerows(rows)
        return text.getvalue()

    def sdf(self, record, saliency, std=None):
        """``molecules.sdf``: every probe molecule with its attributions
        (and their spread) as atom properties, written at full precision."""
        chem = require('rdkit.Chem', 'molecules.sdf')
        text = io.StringIO()
        writer = chem.SDWriter(text)
        for item, mol in enumerate(self.mols):
            mol = chem.Mol(mol)
            mol.SetProp('_Name', 'item_{:02d}'.format(item))
            values = dict(probe_item=item, dataset_index=self.indices[item],
                          entry=record['entry'], epoch=record['epoch'],
                          iteration=record['iteration'])
            for key, value in values.items():
                mol.SetProp(key, str(value))
            n = mol.GetNumAtoms()
            for array, is_std in ((saliency, False), (std, True)):
                if array is not None:
                    mol.SetProp('atom.dprop.' + atom_property(
                        record['entry'], is_std), ' '.join(
                            repr(float(v)) for v in array[item, :n]))
            writer.write(mol)
        writer.close()
        return text.getvalue()


class MoleculeExportSink(ReportSink):
    """Writes ``fragments.csv`` and ``molecules.sdf`` into each report
    folder of the molecule entries it is given.

    Args:
        layout (ReportLayout): The report folder.
        probes (dict): Entry name -> its :class:`ProbeMolecules`.
    """

    def __init__(self, layout, probes):
        self.layout = layout
        self.probes = dict(probes)

    def files(self, record, pictures, arrays):
        if record['entry'] not in self.probes or not arrays:
            return []
        return self.layout.export_files(record['entry'], record['epoch'],
                                        record['iteration'],
                                        record['session'])

    def write(self, record, pictures, arrays):
        paths = self.files(record, pictures, arrays)
        if not paths:
            return
        probe = self.probes[record['entry']]
        saliency = arrays['saliency']
        if saliency.ndim != 2:
            raise ValueError(
                'entry {!r} draws molecules, but its maps are shaped {} per '
                'item: molecules need one value per atom (sum the embedding '
                'units with ch_axis)'.format(record['entry'],
                                             saliency.shape[1:]))
        texts = (probe.fragments(saliency),
                 probe.sdf(record, saliency, arrays.get('saliency_std')))
        try:
            for path, text in zip(paths, texts):  # remade from saliency.npz
                atomic_write_bytes(self.layout.path(path),
                                   text.encode('utf-8'), durable=False)
        except OSError:
            for path in paths:  # none of a failed report's exports stays
                with contextlib.suppress(OSError):
                    os.remove(self.layout.path(path))
            raise
