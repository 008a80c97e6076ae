"""Molecule exports: substructure occurrences, the fragments table against a
hand count, and a report's files read back with RDKit and ``csv``."""
import csv
import os

import numpy
import pytest

Chem = pytest.importorskip('rdkit.Chem')

from saliency_ext import (GradientCalculator, ReportEntry,  # NOQA: E402
                          SaliencyReport, SaliencyReportError,
                          SmilesVisualizer, VariableMonitorLinkHook)
from saliency_ext.datasets import concat_mols, smiles_to_graph  # NOQA: E402
from saliency_ext.models import GraphRegressor  # NOQA: E402
from saliency_ext.sinks.layout import ReportLayout  # NOQA: E402
from saliency_ext.sinks.molecules import (  # NOQA: E402
    FRAGMENT_COLUMNS, ProbeMolecules, atom_property)
from saliency_ext.metrics import (  # NOQA: E402
    functional_groups, match_smarts, occurrences, parse_groups)

GROUPS = {'hydroxyl': '[OX2H]', 'alkyl chain': '[CH2X4,CH3X4;!R]'}


def query(smarts):
    return Chem.MolFromSmarts(smarts)


def test_occurrences_leave_attachment_points_out():
    acid = [g for g in functional_groups() if g.name == '-C(=O)O'][0]
    # acetic acid CC(=O)O: the methyl carbon 0 is the attachment point
    assert occurrences(Chem.MolFromSmiles('CC(=O)O'), acid.smarts) == [
        (1, 2, 3)]
    hydroxyl, chain = (g.smarts for g in parse_groups(GROUPS).values())
    assert occurrences(Chem.MolFromSmiles('OCCO'), hydroxyl) == [(0,), (3,)]
    assert occurrences(Chem.MolFromSmiles('CCCCO'), chain) == [
        (0,), (1,), (2,), (3,)]
    assert occurrences(Chem.MolFromSmiles('C1CCCCC1'), chain) == []
    # a user's own * is an attachment point too, also for the group's mass
    ester = query('*C(=O)[OX2][#6]')
    assert occurrences(Chem.MolFromSmiles('CC(=O)OC'), ester) == [
        (1, 2, 3, 4)]
    assert match_smarts('CC(=O)OC', ester).tolist() == [1, 2, 3, 4]


def test_catalogue_groups_take_atoms_in_the_files_order():
    acetic = Chem.MolFromSmiles('CC(=O)O')
    by_name = {g.name: g for g in functional_groups()}
    taken = set()
    assert occurrences(acetic, by_name['-C(=O)O'].smarts, taken) == [
        (1, 2, 3)]
    assert taken == {1, 2, 3}
    assert occurrences(acetic, by_name['-O'].smarts, taken) == []
    assert occurrences(acetic, by_name['-O'].smarts) == [(3,)]


def test_the_catalogue_is_rdkits():
    groups = functional_groups()
    assert len(groups) == 39
    assert {'-C(=O)O', '-O', '=O', '-X', '-C#N', '-NO2'} <= {
        g.name for g in groups}
    assert all(g.spec.startswith('*') and
               g.smarts.GetAtomWithIdx(0).GetSmarts() == '*' for g in groups)


def test_fragments_table_by_hand():
    mols = [Chem.MolFromSmiles(s) for s in ('OCCO', 'CC(=O)O')]
    saliency = numpy.array([[0.5, -0.1, -0.3, 0.25],
                            [-0.2, 0.1, 0.4, 0.3]])
    table = ProbeMolecules(mols, [7, 3], parse_groups(GROUPS)).fragments(
        saliency)
    rows = list(csv.DictReader(table.splitlines()))
    assert tuple(rows[0]) == FRAGMENT_COLUMNS

    def stats(sums):
        return pytest.approx(numpy.mean(sums), abs=1e-9), pytest.approx(
            numpy.std(sums), abs=1e-9)
    expected = {  # group -> occurrences, molecules, summed attributions
        'hydroxyl': (3, 2, [0.5, 0.25, 0.3]),
        'alkyl chain': (3, 2, [-0.1, -0.3, -0.2]),
        # the catalogue: the acid's atoms are taken by -C(=O)O, listed
        # before -O (side-chain hydroxyl) and =O
        '-O': (2, 1, [0.5, 0.25]),
        '-C(=O)O': (1, 1, [0.1 + 0.4 + 0.3]),
    }
    assert {r['group'] for r in rows} == set(expected)
    for row in rows:
        count, molecules, sums = expected[row['group']]
        assert (int(row['occurrences']), int(row['molecules'])) == (
            count, molecules)
        assert (float(row['mean']), float(row['std'])) == stats(sums)
        assert row['source'] == ('entry' if row['group'] in GROUPS
                                 else 'catalogue')
    means = [float(r['mean']) for r in rows]
    assert means == sorted(means, reverse=True)
    assert rows[0]['group'] == '-C(=O)O' and rows[-1]['group'] == \
        'alkyl chain'


def test_entry_groups_are_listed_even_when_absent():
    rows = list(csv.DictReader(ProbeMolecules(
        [Chem.MolFromSmiles('c1ccccc1')], [0], parse_groups(GROUPS))
        .fragments(numpy.ones((1, 6))).splitlines()))
    assert [(r['group'], r['occurrences'], r['mean']) for r in rows] == [
        ('hydroxyl', '0', ''), ('alkyl chain', '0', '')]


# -- through a report ------------------------------------------------------

SMILES = ['CCCCO', 'OCC(O)CO', 'c1ccccc1O', 'CC(=O)O', 'CCCCCCCl']


def report(groups=GROUPS, drawn=SMILES, **entry_kwargs):
    numpy.random.seed(0)
    model = GraphRegressor(hidden_dim=8, n_layers=2)
    data = [smiles_to_graph(s) + (numpy.zeros(1, numpy.float32),)
            for s in SMILES]
    calc = GradientCalculator(
        model, multiply_target=True, label_index=-1,
        eval_fun=lambda atoms, adjs: model(atoms, adjs)[:, 0],
        target_extractor=VariableMonitorLinkHook(model.graph.embed))
    entry = ReportEntry(calc, SmilesVisualizer(size=(120, 120)), ch_axis=3,
                        item_kwargs={'smiles': drawn}, groups=groups,
                        **entry_kwargs)
    return SaliencyReport(data, {'bayes grad': entry}, converter=concat_mols,
                          tensorboard=False)


@pytest.fixture(scope='module')
def reported(tmp_path_factory):
    out = str(tmp_path_factory.mktemp('molecules'))
    made = report(compute=dict(M=4, train=True), show_std=True)
    made.setup(out)
    made.run(3, 30)
    made.finalize()
    layout = ReportLayout(os.path.join(out, 'saliency'))
    record, = layout.records()
    return layout, record


def test_report_lists_and_writes_the_exports(reported):
    layout, record = reported
    folder = 'bayes grad'
    folder = layout.report_dir(folder, 3, 30, 0)
    assert os.path.join(folder, 'fragments.csv') in record['files']
    assert os.path.join(folder, 'molecules.sdf') in record['files']
    for path in record['files']:
        assert os.path.isfile(layout.path(path))


def test_item_pictures_show_the_spread_as_rings_beside_the_molecule(reported):
    from PIL import Image
    from saliency_ext.visualizers import colors
    layout, record = reported
    path = [p for p in record['files'] if p.endswith('item_00.png')][0]
    rgb = numpy.asarray(Image.open(layout.path(path)).convert('RGB'))
    assert rgb.shape[1] >= 2 * 120  # two molecule panels of 120 pixels
    ring = colors.to_uint8(colors.SPREAD_RING).astype(int)
    teal = (numpy.abs(rgb.astype(int) - ring).max(axis=-1) <= 3)
    columns = numpy.flatnonzero(teal.any(axis=0))
    assert len(columns) and columns.min() > rgb.shape[1] // 2  # right panel


def test_sd_file_holds_the_saved_attributions(reported):
    layout, record = reported
    arrays = layout.read_arrays(record)
    path = [p for p in record['files'] if p.endswith('.sdf')][0]
    mols = list(Chem.SDMolSupplier(layout.path(path)))
    assert [Chem.MolToSmiles(m) for m in mols] == [
        Chem.MolToSmiles(Chem.MolFromSmiles(s)) for s in SMILES]
    name, std_name = atom_property('bayes grad'), atom_property(
        'bayes grad', std=True)
    assert name.startswith('saliency_') and std_name.startswith(
        'saliency_std_')
    for item, mol in enumerate(mols):
        assert mol.GetProp('_Name') == 'item_{:02d}'.format(item)
        assert int(mol.GetProp('dataset_index')) == item
        assert int(mol.GetProp('epoch')) == 3
        n = mol.GetNumAtoms()
        for prop, key in ((name, 'saliency'), (std_name, 'saliency_std')):
            read = [a.GetDoubleProp(prop) for a in mol.GetAtoms()]
            numpy.testing.assert_allclose(read, arrays[key][item, :n],
                                          rtol=0, atol=1e-6)
            assert numpy.abs(read).sum() > 0


def test_fragments_file_agrees_with_rdkit_matches(reported):
    """Each group's sums recounted from ``saliency.npz`` with RDKit's own
    matching, the attachment atom of catalogue patterns dropped."""
    layout, record = reported
    saliency = layout.read_arrays(record)['saliency']
    rows = {r['group']: r for r in layout.read_fragments(record)}
    patterns = dict(GROUPS, **{'-C(=O)O': '*-C(=O)[O;D1]',
                               '-X': '*-[#9,#17,#35,#53]'})
    for group, smarts in patterns.items():
        query = Chem.MolFromSmarts(smarts)
        skip = 1 if smarts.startswith('*') else 0
        sums = [saliency[item, list(match[skip:])].sum()
                for item, s in enumerate(SMILES)
                for match in Chem.MolFromSmiles(s).GetSubstructMatches(query)]
        assert int(rows[group]['occurrences']) == len(sums) > 0
        assert float(rows[group]['mean']) == pytest.approx(
            numpy.mean(sums), rel=1e-6, abs=1e-9)
        assert float(rows[group]['std']) == pytest.approx(
            numpy.std(sums), rel=1e-6, abs=1e-9)


def test_entries_without_molecules_write_no_exports(tmp_path):
    from tests.report.training import MLP, iris
    from saliency_ext import TableVisualizer
    calc = GradientCalculator(MLP(), target='label', label_index=-1)
    made = SaliencyReport(iris(), {'bars': ReportEntry(
        calc, TableVisualizer())}, probe_size=3, tensorboard=False)
    made.setup(str(tmp_path))
    made.run(0, 0)
    made.finalize()
    record, = ReportLayout(tmp_path / 'saliency').records()
    assert not any(p.endswith(('.csv', '.sdf')) for p in record['files'])


def test_unparsable_smiles_is_named_when_the_report_is_made():
    """The entry's groups are resolved on every probe molecule as the
    report is made, before any training."""
    with pytest.raises(SaliencyReportError,
                       match="probe item 2.*cannot parse the SMILES 'C1CC'"):
        report(drawn=SMILES[:2] + ['C1CC'] + SMILES[3:])
