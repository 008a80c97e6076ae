"""Named groups of a map's positions, the ground truth an explanation can be
checked against: a region of an image (a watermark), features of a table, or
the atoms a SMARTS pattern matches in each molecule. And how much of a map
falls on them: its mass (share of |saliency|) and AUROC.

A group is parsed once from its spec (:func:`parse_group`) and resolved per
probe item (:meth:`Group.positions`, :meth:`Group.mask`), because a SMARTS
pattern matches different atoms in every molecule; :func:`occurrences`
resolves it match by match, as the fragments table of a report counts them,
for the entry's groups and for RDKit's functional-group catalogue
(:func:`functional_groups`). Atoms a pattern writes as a bare ``*`` are
attachment points: they place a group (every pattern of the catalogue
starts with one, the atom the group hangs on) but are not part of it. Molecules come from an
item's visualizer arguments, ``smiles`` (a SMILES string, atoms in its order,
as ``SmilesVisualizer`` and the graph converters use them) or ``mol`` (an
RDKit molecule). The real positions of a molecule's map are its atoms: the
rest of a padded batch is padding and never counts.
"""
import functools
import os
import re
import typing

import numpy

from saliency_ext.optional import require
from saliency_ext.validation import is_int

#: What a group may be called: it ends up in scalar names and tags (where
#: TensorBoard shows a space as ``_``), and in ``fragments.csv``.
NAME = re.compile(r'[A-Za-z0-9_](?:[A-Za-z0-9_. -]*[A-Za-z0-9_.-])?')


def _chem():
    return require('rdkit.Chem', 'SMARTS groups')


def molecule_of(item_kwargs):
    """The molecule of a probe item, from its visualizer arguments: an RDKit
    molecule, or None when the item has no ``smiles`` or ``mol``.

    Raises:
        ValueError: If its SMILES cannot be parsed.
    """
    item_kwargs = item_kwargs or {}
    if item_kwargs.get('mol') is not None:
        return item_kwargs['mol']
    smiles = item_kwargs.get('smiles')
    if smiles is None:
        return None
    mol = _chem().MolFromSmiles(smiles)
    if mol is None:
        raise ValueError('cannot parse the SMILES {!r}'.format(smiles))
    return mol


def match_smarts(molecule, pattern):
    """The atoms of ``molecule`` that ``pattern`` matches, in any match.

    Args:
        molecule: A SMILES string or an RDKit molecule.
        pattern: A SMARTS string or a molecule made by ``MolFromSmarts``.

    Returns:
        numpy.ndarray: The sorted atom indices (ints), in the molecule's
        atom order.
    """
    mol = molecule_of({'smiles': molecule}) if isinstance(molecule, str) \
        else molecule
    query = _parse_smarts(pattern) if isinstance(pattern, str) else pattern
    atoms = {a for found in occurrences(mol, query) for a in found}
    return numpy.array(sorted(atoms), dtype=numpy.int64)


#: How a SMARTS pattern writes an attachment point.
ATTACHMENT = '*'


def occurrences(mol, query, taken=None):
    """Where a SMARTS pattern occurs in a molecule, match by match.

    Args:
        mol (rdkit.Chem.Mol): The molecule.
        query (rdkit.Chem.Mol): The pattern, from ``MolFromSmarts``.
        taken (set): Atoms that belong to patterns matched before: a match
            holding one of them is skipped, and the atoms of the matches
            found are added. None matches on its own.

    Returns:
        list of tuple: The atom indices of each occurrence, attachment
        points left out, in the order RDKit finds them; matches that differ
        only in their attachment points are one occurrence.
    """
    members = [atom.GetIdx() for atom in query.GetAtoms()
               if atom.GetSmarts() != ATTACHMENT]
    found, seen = [], set()
    for match in mol.GetSubstructMatches(query):
        atoms = tuple(match[i] for i in members)
        key = frozenset(atoms)
        if not atoms or key in seen or (taken is not None and
                                        not key.isdisjoint(taken)):
            continue
        seen.add(key)
        found.append(atoms)
        if taken is not None:
            taken.update(atoms)
    return found


class CatalogueGroup(typing.NamedTuple):
    """A group of RDKit's functional-group catalogue.

    Attributes:
        name (str): Its label in the catalogue, such as ``'-C(=O)O'``.
        spec (str): Its SMARTS pattern, the attachment point first.
        smarts (rdkit.Chem.Mol): The parsed pattern.
    """

    name: str
    spec: str
    smarts: object


@functools.lru_cache(maxsize=1)
def functional_groups():
    """RDKit's functional-group catalogue (``FunctionalGroups.txt`` of its
    data folder, as its ``FragmentCatalog`` reads it), in the file's order,
    as :class:`CatalogueGroup`, such as ``'-C(=O)O'`` (carboxylic acid) or
    ``'-O'`` (side-chain hydroxyl). The file lists larger groups before
    smaller ones on the same core atom: match them in this order with one
    ``taken`` set per molecule (:func:`occurrences`) so that each atom
    belongs to one catalogue group at most."""
    purpose = 'the functional-group catalogue'
    catalog = require('rdkit.Chem.FragmentCatalog', purpose)
    config = require('rdkit.RDConfig', purpose)
    params = catalog.FragCatParams(1, 6, os.path.join(
        config.RDDataDir, 'FunctionalGroups.txt'))
    # The catalogue's molecules live only as long as params: parse the text.
    found = [params.GetFuncGroup(i) for i in range(params.GetNumFuncGroups())]
    return tuple(CatalogueGroup(g.GetProp('_Name'), g.GetProp('_fragSMARTS'),
                                _parse_smarts(g.GetProp('_fragSMARTS')))
                 for g in found)


def _parse_smarts(pattern):
    query = _chem().MolFromSmarts(pattern)
    if query is None:
        raise ValueError('{!r} is not a valid SMARTS pattern'.format(pattern))
    return query


def real_positions(item_shape, item_kwargs=None):
    """The positions of a map that belong to its item: for a molecule, its
    atoms along the first axis (the rest is padding), otherwise all.

    Args:
        item_shape (tuple): The shape of one item's map.
        item_kwargs (dict): The item's visualizer arguments.

    Returns:
        numpy.ndarray: A boolean mask shaped ``item_shape``.
    """
    mask = numpy.zeros(item_shape, bool)
    mol = molecule_of(item_kwargs)
    if mol is None:
        mask[...] = True
        return mask
    _check_atoms(mol.GetNumAtoms() - 1, item_shape, 'the molecule')
    mask[:mol.GetNumAtoms()] = True
    return mask


def _check_atoms(last, item_shape, what):
    if not item_shape or last >= item_shape[0]:
        raise ValueError(
            '{} has more atoms than the map has positions along its first '
            'axis (map shape {} per item): explain the molecule per atom, '
            'with ch_axis summing the embedding units'.format(what,
                                                              item_shape))


class Group(object):
    """One named group of map positions, parsed from its spec.

    Args:
        name (str): The group's name (letters, digits, ``_``, ``.``, ``-``
            and spaces between them, as in ``'alkyl chain'``).
        spec: What the group holds:

            - a boolean array: a mask over one item's map positions
              (broadcast to the map's shape), for images;
            - a sequence of ints or of feature names: positions along the
              map's first axis, for tables (names need ``feature_names``);
            - a str: a SMARTS pattern, matched on each item's molecule.
        feature_names (sequence of str): The names of a table's features.
    """

    def __init__(self, name, spec, *, feature_names=None):
        if not isinstance(name, str) or not NAME.fullmatch(name):
            raise ValueError(
                'group names may hold letters, digits, _, . and -, and '
                'spaces between them (they name scalars such as '
                'mass/<name>), got {!r}'.format(name))
        self.name = name
        self.smarts = self.mask_spec = self.indices = None
        if isinstance(spec, str):
            try:
                self.smarts = _parse_smarts(spec)
            except ValueError as error:
                raise ValueError('group {!r}: {}'.format(name, error))
            self.kind, self.spec = 'smarts', spec
            return
        array = numpy.asarray(spec)
        if array.dtype == bool:
            if not array.any():
                raise ValueError('group {!r}: the mask selects no position'
                                 .format(name))
            self.kind, self.mask_spec = 'mask', array
        elif array.ndim == 1 and array.size and all(is_int(i) and i >= 0
                                                    for i in array):
            self.kind, self.indices = 'indices', numpy.unique(array)
        elif array.ndim == 1 and array.size and all(
                isinstance(n, str) for n in spec):
            self.kind = 'indices'
            self.indices = self._feature_indices(spec, feature_names)
        else:
            raise TypeError(
                'group {!r} must be a boolean mask, feature indices (ints '
                '>= 0), feature names or a SMARTS string, got {!r}'.format(
                    name, spec))
        self.spec = spec

    def _feature_indices(self, names, feature_names):
        if feature_names is None:
            raise ValueError(
                'group {!r} names features {}: give the entry '
                'visualize=dict(feature_names=...) or use feature indices'
                .format(self.name, list(names)))
        known = list(feature_names)
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ValueError('group {!r}: unknown features {}; the features '
                             'are {}'.format(self.name, unknown, known))
        return numpy.unique([known.index(n) for n in names])

    def describe(self):
        """The spec in words (JSON-serialisable)."""
        if self.kind == 'mask':
            return 'mask {} of {} positions'.format(
                list(self.mask_spec.shape), int(self.mask_spec.sum()))
        if self.kind == 'smarts':
            return 'SMARTS {}'.format(self.spec)
        return 'positions {}'.format(self.indices.tolist())

    def positions(self, item_kwargs=None):
        """The group's positions in one item: a boolean mask (image
        groups) or indices along the map's first axis (features, or the
        atoms a SMARTS pattern matches in the item's molecule).

        Raises:
            ValueError: For a SMARTS group, if the item has no molecule.
        """
        if self.kind == 'mask':
            return self.mask_spec
        if self.kind == 'indices':
            return self.indices
        mol = molecule_of(item_kwargs)
        if mol is None:
            raise ValueError(
                'group {!r} is a SMARTS pattern, matched on each probe '
                "item's molecule: give the entry item_kwargs with 'smiles' "
                "(or 'mol') for every item".format(self.name))
        return match_smarts(mol, self.smarts)

    def mask(self, item_shape, item_kwargs=None, positions=None):
        """The group as a boolean mask over one item's map.

        Args:
            item_shape (tuple): The shape of one item's map.
            item_kwargs (dict): The item's visualizer arguments.
            positions: What :meth:`positions` returned for the item, to
                resolve a SMARTS pattern only once.
        """
        if positions is None:
            positions = self.positions(item_kwargs)
        if positions.dtype == bool:
            try:
                return numpy.broadcast_to(positions, item_shape).copy()
            except ValueError:
                raise ValueError(
                    'group {!r} is a mask shaped {}, which does not fit the '
                    'maps, shaped {} per item'.format(
                        self.name, positions.shape, tuple(item_shape)))
        mask = numpy.zeros(item_shape, bool)
        if positions.size:
            if self.kind == 'smarts':
                _check_atoms(int(positions[-1]), item_shape,
                             'group {!r}: the molecule'.format(self.name))
            elif not item_shape or positions[-1] >= item_shape[0]:
                raise ValueError(
                    'group {!r} holds position {}, but the maps have {} '
                    'positions along their first axis'.format(
                        self.name, int(positions[-1]),
                        item_shape[0] if item_shape else 0))
            mask[positions] = True
        return mask


def parse_groups(groups, *, feature_names=None):
    """Parses ``{'name': spec}`` into ``{'name': Group}`` (see
    :class:`Group`); ``None`` gives no groups."""
    if groups is None:
        return {}
    if not isinstance(groups, dict):
        raise TypeError("groups must be a dict {{'name': spec}}, got {!r}"
                        .format(groups))
    return {name: Group(name, spec, feature_names=feature_names)
            for name, spec in groups.items()}


def group_mass(saliency, real, group):
    """Each item's share of |saliency| that falls on the group.

    Args:
        saliency (numpy.ndarray): Maps ``(N, ...)``.
        real (numpy.ndarray): Booleans ``(N, ...)``: the positions that
            count (padding is left out).
        group (numpy.ndarray): Booleans ``(N, ...)``: the group.

    Returns:
        numpy.ndarray: ``(N,)`` in [0, 1]; NaN for a map that is zero.
    """
    magnitude = numpy.abs(saliency) * real
    axes = tuple(range(1, saliency.ndim))
    total = magnitude.sum(axis=axes)
    on_group = (magnitude * group).sum(axis=axes)
    with numpy.errstate(invalid='ignore', divide='ignore'):
        return numpy.where(total > 0, on_group / total, numpy.nan)


def auroc(scores, labels):
    """The area under the ROC curve of ``scores`` against boolean
    ``labels``: the chance that a random positive scores above a random
    negative (ties count half). NaN without both classes."""
    scores = numpy.ravel(scores)
    labels = numpy.ravel(labels).astype(bool)
    n_pos = int(labels.sum())
    n_neg = labels.size - n_pos
    if not n_pos or not n_neg:
        return float('nan')
    _, inverse, counts = numpy.unique(scores, return_inverse=True,
                                      return_counts=True)
    ends = numpy.cumsum(counts)
    ranks = ((ends - counts + 1 + ends) / 2.)[inverse]  # average ranks
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2.) /
                 (n_pos * n_neg))


def group_auroc(saliency, real, group):
    """Each item's AUROC of |saliency| against the group over its real
    positions: ``(N,)``, NaN for items that do not contain the group (or
    are all group)."""
    return numpy.array([auroc(numpy.abs(s)[r], g[r])
                        for s, r, g in zip(saliency, real, group)])
