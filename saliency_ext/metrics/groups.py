"""Named groups of a map's positions, the ground truth an explanation can be
checked against: a region of an image (a watermark), features of a table, or
the atoms a SMARTS pattern matches in each molecule. And how much of a map
falls on them: its mass (share of |saliency|) and AUROC.

A group is parsed once from its spec (:func:`parse_group`) and resolved per
probe item (:meth:`Group.positions`, :meth:`Group.mask`), because a SMARTS
pattern matches different atoms in every molecule. Molecules come from an
item's visualizer arguments, ``smiles`` (a SMILES string, atoms in its order,
as ``SmilesVisualizer`` and the graph converters use them) or ``mol`` (an
RDKit molecule). The real positions of a molecule's map are its atoms: the
rest of a padded batch is padding and never counts.
"""
import re

import numpy

from saliency_ext.optional import require
from saliency_ext.validation import is_int

#: What a group may be called: it ends up in scalar names and tags.
NAME = re.compile(r'[A-Za-z0-9_][A-Za-z0-9_.-]*')


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
    atoms = {a for match in mol.GetSubstructMatches(query) for a in match}
    return numpy.array(sorted(atoms), dtype=numpy.int64)


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
        name (str): The group's name (letters, digits, ``_``, ``.``, ``-``).
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
                'group names may hold letters, digits, _, . and - (they name '
                'scalars such as mass/<name>), got {!r}'.format(name))
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
