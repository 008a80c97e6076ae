"""Molecules as graphs: a fixed atom vocabulary, RDKit conversion and a padding converter.

A molecule becomes a pair ``(atoms, adjs)``:

- ``atoms``: int32 array ``(n,)`` of atom ids (see :data:`ATOM_SYMBOLS`), in the order of the
  RDKit molecule's atoms, so that saliency per atom can be drawn on that molecule;
- ``adjs``: float32 array ``(N_EDGE_TYPES, n, n)``, one symmetric 0/1 adjacency matrix per
  bond type in :data:`EDGE_TYPES`.

Batches of molecules of different sizes are padded with zeros by :func:`concat_mols`; atom id
0 is reserved for that padding, so models can tell padding from atoms.
"""

import numpy
from chainer.dataset import concat_examples

from saliency_ext.optional import require

PAD_ID = 0
# Elements of common organic molecules; anything else shares the last id.
_ELEMENTS = ('C', 'N', 'O', 'F', 'P', 'S', 'Cl', 'Br', 'I', 'B', 'Si', 'Se', 'H')
ATOM_SYMBOLS = ('<pad>',) + _ELEMENTS + ('<other>',)
"""Atom id -> name: ``ATOM_SYMBOLS[atoms[i]]`` names atom ``i`` of a graph."""
OTHER_ID = len(ATOM_SYMBOLS) - 1
N_ATOM_TYPES = len(ATOM_SYMBOLS)

# RDKit BondType names, matched by name so that this module imports without RDKit.
EDGE_TYPES = ('SINGLE', 'DOUBLE', 'TRIPLE', 'AROMATIC')
N_EDGE_TYPES = len(EDGE_TYPES)

_SYMBOL_TO_ID = {symbol: i for i, symbol in enumerate(ATOM_SYMBOLS) if i not in (PAD_ID, OTHER_ID)}
_EDGE_TO_ID = {name: i for i, name in enumerate(EDGE_TYPES)}


def _require_chem():
    return require('rdkit.Chem', 'molecule support')


def atom_id(symbol):
    """Return the atom id of an element.

    Args:
        symbol (str): element symbol as RDKit writes it, for example ``'C'`` or ``'Cl'``.

    Returns:
        int: its id in :data:`ATOM_SYMBOLS`, or :data:`OTHER_ID` for an element outside the
        vocabulary.
    """
    return _SYMBOL_TO_ID.get(symbol, OTHER_ID)


def mol_to_graph(mol):
    """Convert an RDKit molecule to atom ids and bond-type adjacency matrices.

    The graph holds the molecule's atoms in RDKit's order. Molecules from
    ``Chem.MolFromSmiles`` carry heavy atoms only; pass ``Chem.RemoveHs(mol)`` for a molecule
    with explicit hydrogens (any hydrogen atom left is kept, with id ``atom_id('H')``).

    Args:
        mol (rdkit.Chem.Mol): the molecule; it must have at least one atom.

    Returns:
        tuple: ``(atoms, adjs)``, ``atoms`` int32 of shape ``(n,)`` and ``adjs`` float32 of
        shape ``(N_EDGE_TYPES, n, n)``, symmetric, 1 where a bond of that type joins two atoms.

    Raises:
        TypeError: if ``mol`` is not an RDKit molecule.
        ValueError: if it has no atoms or a bond type outside :data:`EDGE_TYPES`.
    """
    Chem = _require_chem()
    if not isinstance(mol, Chem.Mol):
        raise TypeError(f'mol must be an rdkit.Chem.Mol, got {type(mol).__name__}: {mol!r}')
    n = mol.GetNumAtoms()
    if n == 0:
        raise ValueError('mol has no atoms; a graph needs at least one')
    atoms = numpy.array([atom_id(a.GetSymbol()) for a in mol.GetAtoms()], dtype=numpy.int32)
    adjs = numpy.zeros((N_EDGE_TYPES, n, n), dtype=numpy.float32)
    for bond in mol.GetBonds():
        name = str(bond.GetBondType())
        if name not in _EDGE_TO_ID:
            raise ValueError(
                f'bond {bond.GetIdx()} of {Chem.MolToSmiles(mol)!r} has type {name}; '
                f'supported bond types are {EDGE_TYPES}')
        i, j = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        adjs[_EDGE_TO_ID[name], i, j] = adjs[_EDGE_TO_ID[name], j, i] = 1
    return atoms, adjs


def smiles_to_mol(smiles):
    """Parse a SMILES string with RDKit.

    Args:
        smiles (str): the molecule as SMILES.

    Returns:
        rdkit.Chem.Mol: the sanitized molecule, heavy atoms only.

    Raises:
        TypeError: if ``smiles`` is not a string.
        ValueError: if RDKit cannot parse it, quoting the string.
    """
    if not isinstance(smiles, str):
        raise TypeError(f'smiles must be a str, got {type(smiles).__name__}: {smiles!r}')
    mol = _require_chem().MolFromSmiles(smiles)
    if mol is None:
        raise ValueError(f'RDKit cannot parse SMILES {smiles!r}')
    return mol


def smiles_to_graph(smiles):
    """Parse a SMILES string and convert it with :func:`mol_to_graph`.

    Args:
        smiles (str): the molecule as SMILES.

    Returns:
        tuple: ``(atoms, adjs)`` as returned by :func:`mol_to_graph`.

    Raises:
        ValueError: if RDKit cannot parse ``smiles`` or it has no atoms, quoting the string.
    """
    mol = smiles_to_mol(smiles)
    if mol.GetNumAtoms() == 0:
        raise ValueError(f'SMILES {smiles!r} has no atoms')
    return mol_to_graph(mol)


def _label_rows(labels, n):
    rows = numpy.asarray(labels, dtype=numpy.float32)
    if rows.ndim == 1:
        rows = rows[:, None]
    if rows.ndim != 2 or len(rows) != n:
        raise ValueError(
            f'labels must have shape ({n},) or ({n}, k) to match {n} SMILES, '
            f'got shape {rows.shape}')
    return rows


def graphs_from_smiles(smiles_list, labels=None):
    """Build a Chainer dataset of molecular graphs from SMILES strings.

    Args:
        smiles_list (sequence of str): the molecules.
        labels (array-like or None): targets, shape ``(n,)`` or ``(n, k)`` for ``n`` SMILES;
            ``None`` builds an unlabelled dataset.

    Returns:
        list: one tuple per molecule, ``(atoms, adjs)`` or, with labels,
        ``(atoms, adjs, label)`` where ``label`` is float32 of shape ``(1,)`` or ``(k,)``.

    Raises:
        ValueError: if a SMILES cannot be parsed (naming its index and the string) or the
            labels do not match the SMILES in number.
    """
    smiles_list = list(smiles_list)
    label_rows = None if labels is None else _label_rows(labels, len(smiles_list))
    dataset = []
    for i, smiles in enumerate(smiles_list):
        try:
            graph = smiles_to_graph(smiles)
        except (TypeError, ValueError) as e:
            raise ValueError(f'molecule #{i}: {e}') from e
        dataset.append(graph if label_rows is None else graph + (label_rows[i],))
    return dataset


def concat_mols(batch, device=None):
    """Stack molecular graphs of different sizes into a padded batch.

    Pass it as ``converter=`` to updaters, evaluators and saliency calculators. Smaller
    molecules are padded with zeros: padding atoms get id :data:`PAD_ID` and no bonds.

    Args:
        batch (list): examples ``(atoms, adjs[, label, ...])`` such as those of
            :func:`graphs_from_smiles`.
        device: where to put the arrays, anything ``chainer.get_device`` accepts
            (``None`` keeps them where they are).

    Returns:
        tuple: ``(atoms (B, N), adjs (B, N_EDGE_TYPES, N, N)[, labels (B, k), ...])`` with
        ``N`` the size of the largest molecule in the batch.
    """
    return concat_examples(batch, device=device, padding=PAD_ID)
