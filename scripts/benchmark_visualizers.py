"""Time per picture of the visualizers, against the targets of issue #3.

Usage: python scripts/benchmark_visualizers.py [--runs N]

Prints one row per picture kind: the median milliseconds over N runs (after a warm-up),
the target and PASS/FAIL; exits with status 1 when a target is missed.
"""

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time

import numpy as np

from saliency_ext.visualizers import ImageVisualizer, MolVisualizer, TableVisualizer

# A drug-like molecule with 32 heavy atoms.
SMILES = 'CC(C)Cc1ccc(cc1)C(C)C(=O)NCc1ccc(OC)c(OC)c1OCCN(C)C'
_WARM_UP = 3


def _median_ms(draw, runs):
    for _ in range(_WARM_UP):
        draw()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        draw()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def _cases(out):
    """``(name, target ms or None, draw)`` for each picture kind."""
    from rdkit import Chem

    rng = np.random.RandomState(0)
    rows, cols = np.mgrid[:224, :224]
    saliency = np.sin(rows / 20.0) * np.cos(cols / 30.0) + 0.1 * rng.randn(224, 224)
    image = rng.rand(3, 224, 224).astype(np.float32)
    mol = Chem.MolFromSmiles(SMILES)
    atom_saliency = rng.randn(mol.GetNumAtoms())
    features = rng.randn(20)
    names = [f'feature {i}' for i in range(20)]
    images, mols, tables = ImageVisualizer(), MolVisualizer(), TableVisualizer()
    return [
        ('overlay 224x224, no colorbar', 10,
         lambda: images.visualize(saliency, image)),
        ('overlay 224x224, no colorbar, PNG file', None,
         lambda: images.visualize(saliency, image, os.path.join(out, 'image.png'))),
        ('overlay 224x224 with colorbar', None,
         lambda: images.visualize(saliency, image, show_colorbar=True)),
        (f'molecule, {mol.GetNumAtoms()} atoms, first drawing (depiction made)', None,
         lambda: mols.visualize(atom_saliency, Chem.Mol(mol))),
        (f'molecule, {mol.GetNumAtoms()} atoms (PNG drawing, depiction kept)', 20,
         lambda: mols.visualize(atom_saliency, mol)),
        (f'molecule, {mol.GetNumAtoms()} atoms, PNG file', 20,
         lambda: mols.visualize(atom_saliency, mol, os.path.join(out, 'mol.png'))),
        (f'molecule, {mol.GetNumAtoms()} atoms, SVG file', None,
         lambda: mols.visualize(atom_saliency, mol, os.path.join(out, 'mol.svg'))),
        ('bar chart, 20 features', 100,
         lambda: tables.visualize(features, feature_names=names)),
        ('bar chart, 20 features, SVG file', None,
         lambda: tables.visualize(features, feature_names=names,
                                  save_filepath=os.path.join(out, 'bars.svg'))),
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=50, help='timed runs per picture kind')
    args = parser.parse_args(argv)
    print(f'python {platform.python_version()}, numpy {np.__version__}, '
          f'{os.cpu_count()} CPUs; median of {args.runs} runs after {_WARM_UP} warm-up runs')
    print(f'{"picture":<44} {"ms/picture":>10} {"target":>7}  result')
    failed = False
    with tempfile.TemporaryDirectory() as out:
        for name, target, draw in _cases(out):
            ms = _median_ms(draw, args.runs)
            if target is None:
                verdict, target_text = '-', '-'
            else:
                verdict, target_text = ('PASS' if ms < target else 'FAIL'), f'{target}'
                failed |= ms >= target
            print(f'{name:<44} {ms:>10.2f} {target_text:>7}  {verdict}')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
