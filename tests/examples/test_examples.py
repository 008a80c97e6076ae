"""The example training scripts, run for one epoch each: they train, report,
snapshot, write their findings from the report's own arrays, and their
``replay_config`` rebuilds the same report around the snapshot's model.

The scientific claims need the default epochs (minutes); here only the
pipeline that measures them is checked, except ESOL's fragment ranking,
which a run of a few epochs already shows.
"""
import contextlib
import csv
import io
import json
import math
import os

import chainer
import numpy
import pytest

from saliency_ext import SaliencyReport
from saliency_ext.sinks.layout import ReportLayout
from tests.examples.loading import load_example

#: example -> epochs, entries, the entries whose maps are deterministic
#: (no noise, no dropout), the shape of one probe item's map, and the
#: findings' keys.
EXAMPLES = {
    'iris': dict(
        epochs=1,
        entries={'vanilla_grad', 'smooth_grad', 'integrated_gradients'},
        deterministic=['vanilla_grad', 'integrated_gradients'],
        item_shape=(4,), mean_picture=True,
        keys={'features', 'random_forest', 'random_forest_top2', 'methods',
              'n_items', 'example'}),
    'digits': dict(
        epochs=1,
        entries={'vanilla_grad', 'smooth_grad', 'bayes_grad',
                 'integrated_gradients', 'occlusion', 'grad_cam'},
        deterministic=['vanilla_grad', 'integrated_gradients', 'occlusion',
                       'grad_cam'],
        item_shape=(16, 16), mean_picture=False,
        keys={'inked_threshold', 'blank_threshold', 'clear_ratio',
              'n_items', 'methods', 'example'}),
    'esol': dict(
        epochs=8,
        entries={'integrated_gradients', 'bayes_grad'},
        deterministic=['integrated_gradients'],
        item_shape=None, mean_picture=False,
        keys={'n_items', 'claim_method', 'methods', 'hydroxyl_O_positive',
              'chain_C_negative', 'showcase', 'reports', 'fragments',
              'hydroxyl_above_alkyl_chain', 'example'}),
}


class Run(object):
    def __init__(self, name, module, out, result, printed):
        self.name, self.module, self.out = name, module, out
        self.result, self.printed = result, printed
        self.layout = ReportLayout(os.path.join(out, 'saliency'))
        self.spec = EXAMPLES[name]
        self.epochs = self.spec['epochs']


@pytest.fixture(scope='module', params=sorted(EXAMPLES))
def run(request, tmp_path_factory, device):
    name = request.param
    module = load_example(name)
    out = str(tmp_path_factory.mktemp(name))
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        result = module.main(['--epochs', str(EXAMPLES[name]['epochs']),
                              '--out', out, '--device', str(device)])
    return Run(name, module, out, result, printed.getvalue())


def numbers_in(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from numbers_in(v)
    elif isinstance(value, list):
        for v in value:
            yield from numbers_in(v)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield value


def test_reports_files_and_index(run):
    indices, arrays = run.layout.read_probe()
    records = run.layout.records()
    assert {r['entry'] for r in records} == run.spec['entries']
    for entry in run.spec['entries']:
        mine = run.layout.records(entry)
        assert [r['epoch'] for r in mine] == [0] + \
            run.module.common.report_epochs(run.epochs)
        for record in mine:
            assert record['error'] is None
            for path in record['files']:
                assert os.path.isfile(os.path.join(run.layout.root, path))
            pictures = [f for f in record['files'] if f.endswith('.png')]
            assert len(pictures) == len(indices) + run.spec['mean_picture'] + 2
            saliency = run.layout.read_arrays(record)['saliency']
            assert len(saliency) == len(indices)
            assert numpy.isfinite(saliency).all()
            if run.spec['item_shape'] is not None:
                assert saliency.shape[1:] == run.spec['item_shape']
            else:  # one value per atom of the padded probe batch
                assert saliency.shape == arrays[0].shape
    assert any(f.startswith('events.out.tfevents') for f in os.listdir(
        os.path.join(run.out, 'tensorboard')))
    assert os.path.isfile(os.path.join(run.out, 'snapshot_epoch_{}'.format(
        run.epochs)))
    with open(os.path.join(run.out, 'args.json')) as f:
        assert json.load(f)['epochs'] == run.epochs


def test_findings_written_and_printed(run):
    with open(os.path.join(run.out, 'saliency', 'findings.json')) as f:
        written = json.load(f)
    assert set(written) == run.spec['keys']
    assert written['example'] == run.name
    assert json.loads(json.dumps(run.result)) == {
        k: v for k, v in written.items() if k != 'example'}
    values = list(numbers_in(written))
    assert values and all(math.isfinite(v) for v in values)
    assert set(written['methods']) == run.spec['entries']
    for method in written['methods'].values():
        assert method['epoch'] == run.epochs  # read from the last report
        assert method['label'] in run.printed
    assert 'findings written to' in run.printed


def test_specific_findings(run):
    found = run.result
    if run.name == 'iris':
        assert found['n_items'] == 150
        assert len(found['random_forest_top2']) == 2
        for method in found['methods'].values():
            assert sum(method['importance'].values()) == pytest.approx(1)
            assert isinstance(method['agrees_with_random_forest'], bool)
    elif run.name == 'digits':
        for method in found['methods'].values():
            assert method['ink_blank_ratio'] == pytest.approx(
                method['inked_mean_abs'] / method['blank_mean_abs'])
            assert method['first_epoch'] == 0
            assert isinstance(method['on_strokes'], bool)
            assert 'corr_to_random_model' in method['metrics']
        for name, method in found['methods'].items():
            if name != 'grad_cam':  # its target is the convolution's output
                assert {'deletion_auc', 'deletion_auc_random'} <= \
                    set(method['metrics'])
        assert 'completeness' in \
            found['methods']['integrated_gradients']['metrics']
        assert 'deletion AUC' in run.printed
    else:
        for method in found['methods'].values():
            kinds = method['mean_attribution']
            assert 'O (hydroxyl)' in kinds and 'C (long chain)' in kinds
            assert method['n_atoms']['O (hydroxyl)'] > 0
        assert isinstance(found['hydroxyl_O_positive'], bool)
        # mass/hydroxyl of every report, from the index
        records = run.layout.records('integrated_gradients')
        assert [r['epoch'] for r in found['reports']] == \
            [r['epoch'] for r in records] == \
            [0] + run.module.common.report_epochs(run.epochs)
        for report, record in zip(found['reports'], records):
            assert report['mass/hydroxyl'] == \
                record['metrics']['mass/hydroxyl']
            assert 0 < report['mass/hydroxyl'] < 1
        assert 'mass/hydroxyl' in run.printed
        esol_fragments_rank_hydroxyl_above_alkyl_chain(run)


def esol_fragments_rank_hydroxyl_above_alkyl_chain(run):
    """Issue 15: in every report after epoch 5, of both entries, hydroxyl
    ranks above alkyl chain in fragments.csv, read here with csv."""
    after = [r for r in run.layout.records() if r['epoch'] > 5]
    assert {r['entry'] for r in after} == run.spec['entries']
    for record in after:
        path = [p for p in record['files'] if p.endswith('fragments.csv')]
        with open(run.layout.path(path[0]), newline='') as f:
            groups = [row['group'] for row in csv.DictReader(f)]
        assert groups.index('hydroxyl') < groups.index('alkyl chain'), (
            record['entry'], record['epoch'], groups)
    ranked = run.result['hydroxyl_above_alkyl_chain']
    assert ranked == dict(after_epoch=5, reports=len(after), holds=True)


def test_replay_config_rebuilds_model_and_report(run, tmp_path):
    model, report = run.module.replay_config(run.out)
    assert isinstance(model, chainer.Link)
    assert isinstance(report, SaliencyReport)
    chainer.serializers.load_npz(
        os.path.join(run.out, 'snapshot_epoch_{}'.format(run.epochs)), model,
        path='updater/model:main/')
    last = run.layout.records()[-1]
    report.setup(str(tmp_path))
    report.run(last['epoch'], last['iteration'])
    report.finalize()
    replayed = ReportLayout(os.path.join(str(tmp_path), 'saliency'))
    assert numpy.array_equal(replayed.read_probe()[0],
                             run.layout.read_probe()[0])
    for entry in run.spec['deterministic']:
        trained = run.layout.read_arrays(run.layout.records(entry)[-1])
        again = replayed.read_arrays(replayed.records(entry)[-1])
        numpy.testing.assert_allclose(again['saliency'], trained['saliency'],
                                      rtol=1e-4, atol=1e-6, err_msg=entry)


def test_report_and_snapshot_schedules():
    common = load_example('iris').common
    assert common.report_epochs(1) == [1]
    assert common.report_epochs(15) == [1, 2, 5, 10, 15]
    assert common.report_epochs(60) == [1, 2, 5, 10, 20, 50, 60]


@pytest.mark.parametrize('smiles,expected', [
    # butan-1-ol: the two inner CH2 of a 4-carbon chain, a hydroxyl O
    ('CCCCO', ['C (other)', 'C (long chain)', 'C (long chain)', 'C (other)',
               'O (hydroxyl)']),
    # acetic acid: the OH of an acid counts, the carbonyl O does not
    ('CC(=O)O', ['C (other)', 'C (other)', 'O (other)', 'O (hydroxyl)']),
    # phenol
    ('Oc1ccccc1', ['O (hydroxyl)'] + ['C (aromatic)'] * 6),
    # diethyl ether: no hydroxyl, chains of 2 carbons only
    ('CCOCC', ['C (other)', 'C (other)', 'O (other)', 'C (other)',
               'C (other)']),
    # isobutane: 4 carbons, but branched: no CH2 link
    ('CC(C)C', ['C (other)'] * 4),
    # cyclohexane: ring carbons are not chains
    ('C1CCCCC1', ['C (other)'] * 6),
    ('ClCCN', ['halogen', 'C (other)', 'C (other)', 'N']),
])
def test_esol_atom_kinds(smiles, expected):
    assert load_example('esol').atom_kinds(smiles) == expected
