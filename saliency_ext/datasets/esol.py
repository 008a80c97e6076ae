"""The ESOL aqueous-solubility data set (Delaney 2004) as molecular graphs."""

import collections
import csv
import os

from saliency_ext.datasets.molecules import graphs_from_smiles

ESOL_PATH = os.path.join(os.path.dirname(__file__), 'data', 'esol.csv')
ESOL_LABEL = 'measured log solubility in mols per litre'
ESOL_SMILES = 'smiles'

ESOL = collections.namedtuple('ESOL', ['dataset', 'smiles', 'label_name'])
ESOL.__doc__ = """The ESOL data set.

Attributes:
    dataset (list): ``(atoms, adjs, label)`` per molecule; ``label`` is float32 ``(1,)``.
    smiles (list of str): the molecules, in the order of ``dataset``.
    label_name (str): the CSV column the labels come from.
"""


def _read_rows(path, label_name):
    with open(path, newline='', encoding='utf-8') as f:
        reader = csv.DictReader(f)
        missing = {ESOL_SMILES, label_name} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f'{path!r} lacks column(s) {sorted(missing)}; '
                             f'it has {reader.fieldnames}')
        smiles, labels = [], []
        for row in reader:
            try:
                labels.append(float(row[label_name]))
            except ValueError as e:
                raise ValueError(f'{path!r} line {reader.line_num}: {label_name!r} is '
                                 f'{row[label_name]!r}, not a number') from e
            smiles.append(row[ESOL_SMILES])
    return smiles, labels


def load_esol(path=None, *, label_name=ESOL_LABEL):
    """Read the ESOL CSV and convert every molecule to a graph.

    Args:
        path (str or None): CSV file with a ``smiles`` column and the label column;
            ``None`` reads the copy packaged with saliency_ext (1,128 molecules).
        label_name (str): the column to use as the regression target.

    Returns:
        ESOL: a named tuple ``(dataset, smiles, label_name)``.

    Raises:
        ValueError: if a column is missing, a label is not a number or a SMILES cannot be
            parsed; the message names the file and the row.
    """
    path = ESOL_PATH if path is None else os.fspath(path)
    smiles, labels = _read_rows(path, label_name)
    try:
        dataset = graphs_from_smiles(smiles, labels)
    except ValueError as e:
        raise ValueError(f'{path!r}: {e}') from e
    return ESOL(dataset, smiles, label_name)
