"""Groups of map positions: specs, SMARTS matches, mass and AUROC."""
import numpy
import pytest
from sklearn.metrics import roc_auc_score

from saliency_ext.metrics import (Group, auroc, group_auroc, group_mass,
                                  match_smarts, parse_groups, real_positions)


@pytest.mark.parametrize('smiles,atoms', [
    ('OCC(=O)O', [0, 4]),        # an alcohol and an acid OH
    ('Oc1ccccc1', [0]),          # phenol
    ('CCOCC', []),               # an ether has no hydroxyl
    ('CC(=O)C', []),             # nor has a ketone
])
def test_hydroxyl_smarts_matches_atoms_in_smiles_order(smiles, atoms):
    assert match_smarts(smiles, '[OX2H]').tolist() == atoms


def test_a_smarts_group_is_resolved_per_molecule_over_padded_maps():
    group = Group('hydroxyl', '[OX2H]')
    shape = (6,)  # two molecules padded to 6 atoms
    first = group.mask(shape, {'smiles': 'OCCO'})
    second = group.mask(shape, {'smiles': 'CCC'})
    assert first.tolist() == [True, False, False, True, False, False]
    assert not second.any()
    assert real_positions(shape, {'smiles': 'CCC'}).tolist() == \
        [True] * 3 + [False] * 3
    assert real_positions((2, 2)).all()
    with pytest.raises(ValueError, match='more atoms than the map has'):
        real_positions((2,), {'smiles': 'CCC'})
    with pytest.raises(ValueError, match="item_kwargs with 'smiles'"):
        group.mask(shape, {})


def test_feature_groups_by_index_and_name():
    names = ['a', 'b', 'c', 'd']
    groups = parse_groups({'ab': ['b', 'a'], 'last': [3]},
                          feature_names=names)
    assert groups['ab'].mask((4,)).tolist() == [True, True, False, False]
    assert groups['last'].mask((4,)).tolist() == [False] * 3 + [True]
    with pytest.raises(ValueError, match=r"unknown features \['e'\]"):
        Group('e', ['e'], feature_names=names)
    with pytest.raises(ValueError, match='feature_names'):
        Group('ab', ['a'])
    with pytest.raises(ValueError, match='holds position 3, but the maps '
                                         'have 2'):
        groups['last'].mask((2,))


def test_a_mask_group_broadcasts_over_channels():
    corner = numpy.zeros((4, 4), bool)
    corner[:2, :2] = True
    mask = Group('corner', corner).mask((3, 4, 4))
    assert mask.shape == (3, 4, 4) and mask.sum() == 12
    with pytest.raises(ValueError, match=r'shaped \(4, 4\).*\(5, 5\)'):
        Group('corner', corner).mask((5, 5))


@pytest.mark.parametrize('name,spec,error,match', [
    ('bad name!', [0], ValueError, 'group names may hold'),
    (' alkyl chain', [0], ValueError, 'group names may hold'),
    ('x', 'C(', ValueError, "group 'x': 'C\\(' is not a valid SMARTS"),
    ('x', numpy.zeros(3, bool), ValueError, 'selects no position'),
    ('x', [0.5, 1.5], TypeError, 'boolean mask, feature indices'),
    ('x', [], TypeError, 'boolean mask, feature indices'),
    ('x', [-1], TypeError, 'boolean mask, feature indices'),
])
def test_bad_groups_are_refused_with_their_name(name, spec, error, match):
    with pytest.raises(error, match=match):
        Group(name, spec)


def test_mass_is_the_share_of_absolute_saliency_over_real_positions():
    saliency = numpy.array([[1., -3., 2., 100.], [0., 0., 0., 0.]])
    real = numpy.array([[True, True, True, False]] * 2)
    group = numpy.array([[False, True, False, True]] * 2)
    mass = group_mass(saliency, real, group)
    assert mass[0] == pytest.approx(3. / 6.)  # the padding's 100 is left out
    assert numpy.isnan(mass[1])


def test_auroc_agrees_with_scikit_learn_also_with_ties():
    rng = numpy.random.RandomState(0)
    for _ in range(5):
        scores = rng.randint(0, 4, size=30).astype(float)  # many ties
        labels = rng.rand(30) < 0.3
        assert auroc(scores, labels) == pytest.approx(
            roc_auc_score(labels, scores))
    assert numpy.isnan(auroc([1., 2.], [True, True]))
    saliency = numpy.array([[0.1, -5., 0.2, 9.], [1., 2., 3., 4.]])
    real = numpy.array([[True, True, True, False], [True] * 4])
    group = numpy.array([[False, True, False, False], [False] * 4])
    values = group_auroc(saliency, real, group)
    assert values[0] == 1.  # |-5| is the largest real position
    assert numpy.isnan(values[1])  # the item does not contain the group


def test_names_may_hold_inner_spaces():
    assert Group('alkyl chain', '[CH2X4,CH3X4;!R]').name == 'alkyl chain'
