import numpy
import pytest
from rdkit import Chem

from saliency_ext.datasets import (
    ATOM_SYMBOLS, EDGE_TYPES, N_EDGE_TYPES, OTHER_ID, PAD_ID, atom_id, concat_mols,
    graphs_from_smiles, load_esol, mol_to_graph, smiles_to_graph)

SINGLE, DOUBLE, TRIPLE, AROMATIC = (EDGE_TYPES.index(t)
                                    for t in ('SINGLE', 'DOUBLE', 'TRIPLE', 'AROMATIC'))


@pytest.fixture(scope='module')
def esol():
    return load_esol()


def bonds(adjs, edge_type):
    i, j = numpy.nonzero(numpy.triu(adjs[edge_type]))
    return set(zip(i.tolist(), j.tolist()))


def test_esol_has_every_molecule_with_float_labels(esol):
    assert len(esol.dataset) == len(esol.smiles) == 1128
    assert esol.label_name == 'measured log solubility in mols per litre'
    atoms, adjs, label = esol.dataset[0]
    assert atoms.dtype == numpy.int32 and adjs.dtype == numpy.float32
    assert label.dtype == numpy.float32 and label.shape == (1,)
    assert label[0] == pytest.approx(-0.77)


def test_esol_graphs_match_rdkit(esol):
    assert max(len(atoms) for atoms, _, _ in esol.dataset) == 55
    for smiles, (atoms, adjs, _) in zip(esol.smiles, esol.dataset):
        mol = Chem.MolFromSmiles(smiles)
        assert adjs.shape == (N_EDGE_TYPES, len(atoms), len(atoms))
        assert len(atoms) == mol.GetNumAtoms()
        assert (adjs == adjs.transpose(0, 2, 1)).all()
        assert adjs.sum() == 2 * mol.GetNumBonds()
        assert PAD_ID not in atoms


def test_benzene_is_a_ring_of_aromatic_carbons():
    atoms, adjs = smiles_to_graph('c1ccccc1')
    assert [ATOM_SYMBOLS[a] for a in atoms] == ['C'] * 6
    assert bonds(adjs, AROMATIC) == {(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (0, 5)}
    assert adjs.sum() == 12


def test_ethanol_has_single_bonds_only():
    atoms, adjs = smiles_to_graph('CCO')
    assert [ATOM_SYMBOLS[a] for a in atoms] == ['C', 'C', 'O']
    assert bonds(adjs, SINGLE) == {(0, 1), (1, 2)}
    assert adjs.sum() == 4


@pytest.mark.parametrize('smiles, edge_type', [('C=O', DOUBLE), ('C#N', TRIPLE)])
def test_multiple_bonds(smiles, edge_type):
    _, adjs = smiles_to_graph(smiles)
    assert bonds(adjs, edge_type) == {(0, 1)} and adjs.sum() == 2


def test_rare_elements_share_the_other_id():
    atoms, adjs = smiles_to_graph('[Na+].[Cl-]')
    assert atoms.tolist() == [OTHER_ID, atom_id('Cl')]
    assert ATOM_SYMBOLS[OTHER_ID] == '<other>' and ATOM_SYMBOLS[PAD_ID] == '<pad>'
    assert adjs.sum() == 0


def test_unparsable_smiles_is_quoted():
    with pytest.raises(ValueError, match='C1CC'):
        smiles_to_graph('C1CC')
    with pytest.raises(ValueError, match=r"molecule #1: .*'xyz'"):
        graphs_from_smiles(['CCO', 'xyz'])


def test_bad_arguments_are_quoted():
    with pytest.raises(TypeError, match='CCO'):
        mol_to_graph('CCO')
    with pytest.raises(ValueError, match='no atoms'):
        smiles_to_graph('')
    with pytest.raises(ValueError, match=r'\(2,\)'):
        graphs_from_smiles(['C', 'CC'], labels=[1.0, 2.0, 3.0])


def test_graphs_from_smiles_with_and_without_labels():
    assert [len(example) for example in graphs_from_smiles(['C', 'CC'])] == [2, 2]
    dataset = graphs_from_smiles(['C', 'CC'], labels=[[1, 2], [3, 4]])
    assert dataset[1][2].tolist() == [3, 4] and dataset[1][2].dtype == numpy.float32


def test_concat_mols_pads_with_zeros():
    dataset = graphs_from_smiles(['CCO', 'C'], labels=[1.0, 2.0])
    atoms, adjs, labels = concat_mols(dataset)
    assert atoms.tolist() == [dataset[0][0].tolist(), [atom_id('C'), PAD_ID, PAD_ID]]
    assert adjs.shape == (2, N_EDGE_TYPES, 3, 3) and adjs[1].sum() == 0
    assert labels.shape == (2, 1)


def test_load_esol_names_bad_rows(tmp_path):
    path = tmp_path / 'bad.csv'
    path.write_text('smiles,measured log solubility in mols per litre\nCCO,-0.5\nCC,n/a\n')
    with pytest.raises(ValueError, match="line 3.*'n/a'"):
        load_esol(path)
    path.write_text('smiles,y\nCCO,1\nC1CC,2\n')
    with pytest.raises(ValueError, match='lacks column'):
        load_esol(path)
    with pytest.raises(ValueError, match=r"molecule #1: .*'C1CC'"):
        load_esol(path, label_name='y')
