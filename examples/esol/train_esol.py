"""ESOL: which atoms make a molecule more or less soluble in water?

A gated graph neural network (``saliency_ext.models.GraphRegressor``) learns
the measured log solubility (log mol/L) of the 1,128 molecules of ESOL (Delaney
2004, the copy packaged with saliency_ext; 80 % for training, 20 % held out).
While it trains, a ``SaliencyReport`` explains the predicted solubility of 64
held-out molecules per atom and draws each molecule with its atoms coloured,
red for atoms that raise the prediction and blue for those that lower it.

Atom ids are integers, so the saliency target is the output of the embedding
link ``predictor.graph.embed``, reached with a ``VariableMonitorLinkHook``;
an atom's attribution is the sum over its embedding units:

- Integrated Gradients from an all-zero embedding, in 25 steps: the
  attributions of a molecule add up to its prediction minus the prediction of
  the zero embedding;
- BayesGrad: gradient x embedding, averaged over 30 dropout masks of the
  regression head.

Both entries declare two substructures, matched in each probe molecule,
``hydroxyl`` (``[OX2H]``) and ``alkyl chain`` (``[CH2X4,CH3X4;!R]``, the
acyclic CH2 and CH3 carbons): every report tracks the share of |attribution|
on each (``mass/hydroxyl``, ``mass/alkyl chain``), and its
``fragments.csv`` ranks them, with RDKit's functional groups, by the mean
attribution of an occurrence; its ``molecules.sdf`` holds the attributions
per atom. Every report also measures how far the Integrated Gradients maps
can be trusted (deletion and insertion against a random ranking, model
randomisation, completeness) and their AUROC against the hydroxyl oxygens
(``auroc/hydroxyl``). BayesGrad's pictures show, beside each molecule, a
ring around every atom whose width is the standard deviation of its
attribution over the 30 masks.

At the end the script reads the last report's Integrated Gradients and
averages the attributions per kind of atom (see :func:`atom_kind`). As the
article found, oxygen atoms of hydroxyl groups push the predicted solubility
up and carbon atoms of long alkyl chains push it down; in ``fragments.csv``
hydroxyl ranks above alkyl chain. The figures, with the hydroxyl mass of
every report, are printed and written to
``<out>/saliency/findings.json``.

Usage::

    python examples/esol/train_esol.py [--epochs 40] [--out result/esol] \
        [--device -1]

Data-parallel, with ChainerMN over 2 processes (each trains on half the
molecules and explains half of the probe; rank 0 writes)::

    mpiexec -n 2 .venv/bin/python examples/esol/train_esol.py \
        --communicator naive
"""
import os
import sys

import chainer.functions as F
import chainer.links as L
import numpy

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
import common  # noqa: E402

from saliency_ext import (GradientCalculator,  # noqa: E402
                          IntegratedGradientsCalculator, ReportEntry,
                          SaliencyReport, SmilesVisualizer,
                          VariableMonitorLinkHook)
from saliency_ext.datasets import concat_mols, load_esol  # noqa: E402
from saliency_ext.models import GraphRegressor  # noqa: E402

NAME = 'esol'
EPOCHS = 40
BATCHSIZE = 32
LR = 0.001
SNAPSHOT_EVERY = 10
PROBE_SIZE = 64
CHAIN_LENGTH = 4  # carbons of an acyclic chain that counts as long
#: Entry name -> how it is described in the findings.
METHODS = {'integrated_gradients': 'Integrated Gradients',
           'bayes_grad': 'BayesGrad (gradient x embedding)'}
#: The entry the claims are read from.
CLAIM_METHOD = 'integrated_gradients'
#: Hydroxyl oxygens, matched in each probe molecule.
HYDROXYL_SMARTS = '[OX2H]'
METRICS = ('deletion', 'insertion', 'randomization', 'completeness')
#: The substructures both entries track (mass/<name>) and every report ranks
#: in its fragments.csv.
GROUPS = {'hydroxyl': HYDROXYL_SMARTS, 'alkyl chain': '[CH2X4,CH3X4;!R]'}
#: Hydroxyl ranks above alkyl chain in every report after this epoch.
RANKED_AFTER = 5
HYDROXYL_O, CHAIN_C = 'O (hydroxyl)', 'C (long chain)'
KINDS = (HYDROXYL_O, 'O (other)', CHAIN_C, 'C (aromatic)', 'C (other)',
         'N', 'halogen', 'other')


# -- the data and the atom kinds ----------------------------------------------

def load_data():
    """ESOL split once, 80 / 20, into training and held-out molecules:
    ``(train, test, test_smiles)``, examples ``(atoms, adjs, label)``."""
    esol = load_esol()
    order = numpy.random.RandomState(0).permutation(len(esol.dataset))
    n_train = int(0.8 * len(order))
    train = [esol.dataset[i] for i in order[:n_train]]
    test = [esol.dataset[i] for i in order[n_train:]]
    return train, test, [esol.smiles[i] for i in order[n_train:]]


def _long_chain_carbons(mol):
    """Indices of the atoms that are sp3 carbons outside rings in a
    connected group of such carbons of at least ``CHAIN_LENGTH`` atoms."""
    from rdkit import Chem
    alkyl = {a.GetIdx() for a in mol.GetAtoms()
             if a.GetSymbol() == 'C' and not a.IsInRing()
             and a.GetHybridization() == Chem.HybridizationType.SP3}
    long_chains, seen = set(), set()
    for start in sorted(alkyl):
        if start in seen:
            continue
        group, stack = {start}, [start]
        while stack:
            for n in mol.GetAtomWithIdx(stack.pop()).GetNeighbors():
                if n.GetIdx() in alkyl and n.GetIdx() not in group:
                    group.add(n.GetIdx())
                    stack.append(n.GetIdx())
        seen |= group
        if len(group) >= CHAIN_LENGTH:
            long_chains |= group
    return long_chains


def atom_kinds(smiles):
    """The kind of each atom of a molecule, in RDKit's order (the order of
    the graph's atoms):

    - ``'O (hydroxyl)'``: an oxygen with one heavy neighbour, a carbon it is
      singly bonded to, and at least one hydrogen (alcohols, phenols and the
      OH of acids);
    - ``'C (long chain)'``: an sp3 carbon outside rings with exactly two heavy
      neighbours, both carbons, in an acyclic chain of at least
      ``CHAIN_LENGTH`` sp3 carbons (the ``CH2`` links of an alkyl chain);
    - ``'O (other)'``, ``'C (aromatic)'``, ``'C (other)'``, ``'N'``,
      ``'halogen'`` (F, Cl, Br, I) and ``'other'`` for the rest.
    """
    from rdkit import Chem
    mol = Chem.MolFromSmiles(smiles)
    chains = _long_chain_carbons(mol)
    kinds = []
    for atom in mol.GetAtoms():
        symbol, neighbours = atom.GetSymbol(), atom.GetNeighbors()
        if symbol == 'O':
            hydroxyl = (len(neighbours) == 1 and atom.GetTotalNumHs() > 0
                        and neighbours[0].GetSymbol() == 'C'
                        and atom.GetBonds()[0].GetBondType() ==
                        Chem.BondType.SINGLE)
            kinds.append(HYDROXYL_O if hydroxyl else 'O (other)')
        elif symbol == 'C':
            if atom.GetIdx() in chains and len(neighbours) == 2 and all(
                    n.GetSymbol() == 'C' for n in neighbours):
                kinds.append(CHAIN_C)
            else:
                kinds.append('C (aromatic)' if atom.GetIsAromatic()
                             else 'C (other)')
        elif symbol == 'N':
            kinds.append('N')
        elif symbol in ('F', 'Cl', 'Br', 'I'):
            kinds.append('halogen')
        else:
            kinds.append('other')
    return kinds


def probe_indices(smiles):
    """Positions of the ``PROBE_SIZE`` probe molecules among ``smiles``,
    drawn with a fixed seed: up to half from the molecules with a long-chain
    carbon, then from those with a hydroxyl oxygen, then from the others."""
    kinds = [set(atom_kinds(s)) for s in smiles]
    random = numpy.random.RandomState(0)
    chosen = []
    for wanted, count in ((CHAIN_C, PROBE_SIZE // 2), (HYDROXYL_O, None),
                          (None, None)):
        having = [i for i, k in enumerate(kinds) if i not in chosen
                  and (wanted is None or wanted in k)]
        count = min(PROBE_SIZE - len(chosen) if count is None else count,
                    len(having))
        chosen += random.choice(having, count, replace=False).tolist()
    return sorted(chosen)


# -- the model and the report -------------------------------------------------

def build_model():
    """The link the trainer optimises: the graph regressor with a mean
    squared error loss (a ``Classifier`` without accuracy)."""
    model = L.Classifier(GraphRegressor(hidden_dim=32, n_layers=3,
                                        dropout_ratio=0.2),
                         lossfun=F.mean_squared_error)
    model.compute_accuracy = False
    return model


def make_report(predictor, test, test_smiles, epochs, comm=None):
    """The report used in training and in the replay: 64 held-out
    molecules, explained per atom at the embedding (split across the
    processes of ``comm``)."""
    def predicted_solubility(atoms, adjs):
        return predictor(atoms, adjs)[:, 0]  # one value per molecule

    options = dict(eval_fun=predicted_solubility, label_index=-1)
    ig = IntegratedGradientsCalculator(
        predictor, steps=25,
        target_extractor=VariableMonitorLinkHook(predictor.graph.embed),
        **options)
    grad = GradientCalculator(
        predictor, multiply_target=True,
        target_extractor=VariableMonitorLinkHook(predictor.graph.embed),
        **options)
    legends = ['measured logS {:.2f}'.format(float(label[0]))
               for _, _, label in test]
    molecules = dict(method='raw', ch_axis=3, groups=GROUPS, item_kwargs={
        'smiles': test_smiles, 'legend': legends})
    visualizer = SmilesVisualizer(size=(320, 280))
    entries = {
        'integrated_gradients': ReportEntry(
            ig, visualizer, metrics=METRICS, ground_truth=('hydroxyl',),
            **molecules),
        'bayes_grad': ReportEntry(grad, visualizer,
                                  compute=dict(M=30, train=True),
                                  show_std=True, **molecules),
    }
    return SaliencyReport(test, entries, converter=concat_mols,
                          probe_indices=probe_indices(test_smiles),
                          trigger=common.report_epochs(epochs), comm=comm)


def replay_config(out=None):
    """``(model, report)`` for replaying the report over the snapshots of
    the run in ``out``: a fresh regressor (the snapshot's
    ``updater/model:main/``) and the training run's report, whose
    calculators explain that model's predictor."""
    _, test, test_smiles = load_data()
    model = build_model()
    epochs = common.trained_epochs(out, EPOCHS)
    return model, make_report(model.predictor, test, test_smiles, epochs)


# -- findings -----------------------------------------------------------------

def findings(out):
    """Mean attribution per atom kind over the probe molecules, from the
    last report of each entry; ``showcase`` lists the probe items with both
    a hydroxyl oxygen and a long-chain carbon, longest chains first."""
    _, _, test_smiles = load_data()
    indices, _ = common.read_probe(out)
    kinds = [atom_kinds(test_smiles[i]) for i in indices]
    result = dict(n_items=len(indices), claim_method=CLAIM_METHOD,
                  methods={})
    for entry, label in METHODS.items():
        record, saliency = common.read_report(out, entry)
        per_kind = {kind: [] for kind in KINDS}
        for item, item_kinds in enumerate(kinds):
            for atom, kind in enumerate(item_kinds):
                per_kind[kind].append(saliency[item, atom])
        result['methods'][entry] = dict(
            label=label, epoch=record['epoch'],
            mean_attribution={k: common.finite(numpy.mean(v))
                              for k, v in per_kind.items() if v},
            n_atoms={k: len(v) for k, v in per_kind.items() if v},
            positive_fraction={k: common.finite(numpy.mean(
                numpy.asarray(v) > 0)) for k, v in per_kind.items() if v})
    both = [item for item, k in enumerate(kinds)
            if HYDROXYL_O in k and CHAIN_C in k]
    both.sort(key=lambda item: -kinds[item].count(CHAIN_C))
    result['showcase'] = [dict(item=item, smiles=test_smiles[indices[item]])
                          for item in both]
    claims = result['methods'][CLAIM_METHOD]['mean_attribution']
    result['hydroxyl_O_positive'] = claims[HYDROXYL_O] > 0
    result['chain_C_negative'] = claims[CHAIN_C] < 0
    result['reports'] = [dict(epoch=r['epoch'], **r['metrics'])
                         for r in common.read_records(out, CLAIM_METHOD)]
    result.update(fragment_findings(out))
    return result


def fragment_findings(out):
    """Where the declared groups rank in the reports' ``fragments.csv``:
    per entry, the last report's rank (1 is the largest mean attribution)
    and mean of each group, and whether hydroxyl ranks above alkyl chain in
    every report of every entry after epoch ``RANKED_AFTER``."""
    def ranks(rows):
        return {row['group']: rank for rank, row in enumerate(rows, 1)}

    fragments, checked, holds = {}, 0, True
    for entry in METHODS:
        reports = common.read_fragments(out, entry)
        for record, rows in reports:
            if record['epoch'] > RANKED_AFTER:
                checked += 1
                holds &= ranks(rows)['hydroxyl'] < ranks(rows)['alkyl chain']
        record, rows = reports[-1]
        fragments[entry] = dict(
            epoch=record['epoch'],
            ranks={g: ranks(rows)[g] for g in GROUPS},
            mean={row['group']: common.finite(row['mean'])
                  for row in rows if row['group'] in GROUPS})
    return dict(fragments=fragments, hydroxyl_above_alkyl_chain=dict(
        after_epoch=RANKED_AFTER, reports=checked, holds=bool(holds)))


def print_findings(result):
    methods = result['methods']
    first = next(iter(methods.values()))
    print('\nESOL: mean attribution to the predicted log solubility per atom '
          'kind, {} probe molecules, epoch {} report:'.format(
              result['n_items'], first['epoch']))
    rows = {m['label']: m['mean_attribution'] for m in methods.values()}
    rows['atoms'] = first['n_atoms']
    kinds = [k for k in KINDS if k in first['n_atoms']]
    common.print_table('method', rows, kinds)
    print('{}: hydroxyl O mean > 0: {}; long-chain C mean < 0: {}'.format(
        methods[result['claim_method']]['label'],
        'yes' if result['hydroxyl_O_positive'] else 'NO',
        'yes' if result['chain_C_negative'] else 'NO'))
    print('\n{} per report (mass/hydroxyl: share of |attribution| on {} '
          'atoms):'.format(methods[result['claim_method']]['label'],
                           HYDROXYL_SMARTS))
    common.print_metrics(result['reports'], [
        'mass/hydroxyl', 'auroc/hydroxyl', 'deletion_auc',
        'deletion_auc_random', 'insertion_auc', 'insertion_auc_random',
        'corr_to_random_model', 'completeness'])
    print('\nfragments.csv, epoch {} report: rank (mean attribution of an '
          'occurrence) of the declared groups:'.format(first['epoch']))
    for entry, found in result['fragments'].items():
        print('  {}: {}'.format(methods[entry]['label'], ', '.join(
            '{} {} ({:+.3f})'.format(group, found['ranks'][group],
                                     found['mean'][group])
            for group in GROUPS)))
    ranked = result['hydroxyl_above_alkyl_chain']
    print('hydroxyl ranks above alkyl chain in every report after epoch {}: '
          '{} ({} reports)'.format(ranked['after_epoch'],
                                   'yes' if ranked['holds'] else 'NO',
                                   ranked['reports']))


def main(argv=None):
    args, device, comm = common.start_data_parallel(
        __doc__.splitlines()[0], name=NAME, epochs=EPOCHS, argv=argv)

    train, test, test_smiles = load_data()
    model = build_model()
    model.to_device(device)
    trainer = common.make_trainer(
        model, train, args, device, batchsize=BATCHSIZE, lr=LR,
        snapshot_every=SNAPSHOT_EVERY, valid=test, converter=concat_mols,
        print_keys=('main/loss',), comm=comm)
    trainer.extend(make_report(model.predictor, test, test_smiles,
                               args.epochs, comm))
    trainer.run()

    if comm is not None and comm.rank != 0:
        return None  # rank 0 wrote the report
    return common.conclude(args.out, NAME, findings(args.out),
                           print_findings)


if __name__ == '__main__':
    main()
