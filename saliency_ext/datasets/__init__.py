"""Data sets and molecule preprocessing for examples, tests and benchmarks."""

from saliency_ext.datasets.esol import ESOL, load_esol  # NOQA
from saliency_ext.datasets.molecules import (  # NOQA
    ATOM_SYMBOLS, EDGE_TYPES, N_ATOM_TYPES, N_EDGE_TYPES, OTHER_ID, PAD_ID, atom_id,
    concat_mols, graphs_from_smiles, mol_to_graph, smiles_to_graph, smiles_to_mol)
