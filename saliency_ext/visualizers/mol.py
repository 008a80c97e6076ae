"""MolVisualizer and SmilesVisualizer: atoms of a molecule coloured by their saliency."""

import io
import math
import numbers

import numpy as np

from saliency_ext.optional import require
from saliency_ext.datasets.molecules import smiles_to_mol
from saliency_ext.visualizers import colors, scalers
from saliency_ext.visualizers.base import BaseVisualizer, to_numpy


def _shown_atoms(scaled, visualize_ratio):
    """Atoms to colour: the top ``visualize_ratio`` by magnitude, and every missing one."""
    finite = np.flatnonzero(~scaled.missing)
    count = math.ceil(visualize_ratio * finite.size)
    by_magnitude = finite[np.argsort(-np.abs(scaled.values[finite]), kind='stable')]
    return set(by_magnitude[:count].tolist() + np.flatnonzero(scaled.missing).tolist())


def _highlights(mol, scaled, shown, color_fn, color_bonds):
    """Highlight colours as RDKit takes them: ``({atom: rgb}, {bond: rgb})``.

    A bond is coloured when both its atoms are shown and not missing, with the colour of the
    mean of their scaled values.
    """
    values = scaled.values.tolist()
    missing = scaled.missing.tolist()

    def rgb(value):
        return tuple(float(c) for c in color_fn(value))

    atoms = {i: tuple(colors.MISSING.tolist()) if missing[i] else rgb(values[i])
             for i in shown}
    bonds = {}
    for bond in mol.GetBonds() if color_bonds else ():
        i, j = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        if i in shown and j in shown and not (missing[i] or missing[j]):
            bonds[bond.GetIdx()] = rgb((values[i] + values[j]) / 2)
    return atoms, bonds


class MolVisualizer(BaseVisualizer):
    """Draw an RDKit molecule with its atoms (and bonds) coloured by saliency.

    With the default colours an atom of positive saliency is red, one of negative saliency blue,
    with an intensity that grows with the magnitude; atoms with NaN or infinite saliency are
    grey. Drawing is RDKit's own (``MolDraw2DCairo`` for the returned picture and PNG files,
    ``MolDraw2DSVG`` for SVG files); atom labels are black so that they stay readable on the
    colours.

    Args:
        size (tuple): ``(width, height)`` of the picture in pixels.
        highlight_radius (float): radius of the atom highlights, in Angstrom (a bond is
            about 1.5).

    Raises:
        ValueError: if ``size`` is not two positive ints or the radius is not positive.
    """

    extensions = ('.png', '.svg')

    def __init__(self, *, size=(300, 300), highlight_radius=0.4):
        if len(size) != 2 or not all(isinstance(s, numbers.Integral) and s > 0 for s in size):
            raise ValueError(f'size must be two positive ints (width, height), got {size!r}')
        if not isinstance(highlight_radius, numbers.Real) or not highlight_radius > 0:
            raise ValueError(f'highlight_radius must be a positive number, '
                             f'got {highlight_radius!r}')
        self.size = tuple(int(s) for s in size)
        self.highlight_radius = float(highlight_radius)

    def visualize(self, saliency, mol, save_filepath=None, visualize_ratio=1.0,
                  color_fn=colors.red_blue, scaler=scalers.abs_max_scaler, legend='', *,
                  color_bonds=True):
        """Draw ``mol`` with its atoms coloured by ``saliency``.

        Args:
            saliency (numpy.ndarray or cupy.ndarray): 1-D, one value per atom in RDKit's atom
                order; entries beyond the molecule's atoms (padding of a batch of graphs) are
                ignored. NaN and infinite values are drawn grey, with a warning.
            mol (rdkit.Chem.Mol): the molecule.
            save_filepath (str or None): a ``.png`` or ``.svg`` file to write the picture to.
            visualize_ratio (float): the fraction of atoms to colour, in ``(0, 1]``: those of
                largest magnitude.
            color_fn (callable): maps one scaled value to an RGB tuple in ``[0, 1]``.
            scaler: a scaler from :mod:`saliency_ext.visualizers.scalers` (signed ones keep
                negative saliency blue), a function or ``None``; see
                :func:`~saliency_ext.visualizers.scalers.apply_scaler`.
            legend (str): text drawn under the molecule.
            color_bonds (bool): also colour each bond between two coloured atoms, with the
                colour of the mean of their scaled values.

        Returns:
            numpy.ndarray: the picture, ``uint8`` ``(height, width, 3)``.

        Raises:
            TypeError: if ``mol`` is not an RDKit molecule or ``color_fn`` is not callable.
            ValueError: if ``saliency`` is not 1-D or has fewer entries than ``mol`` has atoms,
                ``visualize_ratio`` is outside ``(0, 1]`` or the file extension is unknown.
        """
        self._output_extension(save_filepath)
        chem = require('rdkit.Chem', 'MolVisualizer')
        if not isinstance(mol, chem.Mol):
            raise TypeError(f'mol must be an rdkit.Chem.Mol, got {type(mol).__name__}: {mol!r}')
        if not (isinstance(visualize_ratio, numbers.Real) and 0 < visualize_ratio <= 1):
            raise ValueError(f'visualize_ratio must be a number in (0, 1], '
                             f'got {visualize_ratio!r}')
        if not callable(color_fn):
            raise TypeError(f'color_fn must be callable, got {color_fn!r}')
        saliency = self._atom_saliency(saliency, mol.GetNumAtoms())
        scaled = self._scale(saliency, scaler)
        highlights = _highlights(mol, scaled, _shown_atoms(scaled, visualize_ratio), color_fn,
                                 color_bonds)
        draw = require('rdkit.Chem.Draw.rdMolDraw2D', 'MolVisualizer')
        png = self._draw(draw.MolDraw2DCairo(*self.size), mol, highlights, legend)
        image = require('PIL.Image', 'MolVisualizer')
        rgb = np.asarray(image.open(io.BytesIO(png)).convert('RGB'))
        return self._write(rgb, save_filepath, png=png, svg=lambda: self._draw(
            draw.MolDraw2DSVG(*self.size), mol, highlights, legend))

    def check_arguments(self, **kwargs):
        """Check :meth:`visualize`'s arguments other than the saliency, without drawing:
        ``mol`` must be an RDKit molecule."""
        super().check_arguments(**kwargs)
        chem = require('rdkit.Chem', type(self).__name__)
        if 'mol' in kwargs and not isinstance(kwargs['mol'], chem.Mol):
            mol = kwargs['mol']
            raise TypeError(f'mol must be an rdkit.Chem.Mol, got {type(mol).__name__}: {mol!r}')

    @staticmethod
    def _atom_saliency(saliency, n_atoms):
        """The saliency of the molecule's atoms, without the padding that may follow."""
        saliency = to_numpy(saliency)
        if saliency.ndim != 1:
            raise ValueError(f'saliency for a molecule must be 1-D, one value per atom, got '
                             f'shape {saliency.shape}; aggregate the feature channels first: '
                             'calculator.aggregate(samples, ch_axis=<feature axis>)')
        if saliency.size < n_atoms:
            raise ValueError(f'saliency has {saliency.size} values but the molecule has '
                             f'{n_atoms} atoms; was it computed for another molecule?')
        return saliency[:n_atoms]

    def _draw(self, drawer, mol, highlights, legend):
        """Draw with an RDKit ``MolDraw2D`` and return its output (PNG bytes or SVG text)."""
        atom_colors, bond_colors = highlights
        drawer.drawOptions().useBWAtomPalette()
        # RDKit draws an atom highlight of one colour as a 360-point polygon, which Cairo fills
        # slowly (about 0.25 ms an atom); one of several colours is drawn as arcs, three
        # times faster. Giving each atom its colour twice draws the same circle the fast way.
        drawer.DrawMoleculeWithHighlights(
            mol, legend, {i: [c, c] for i, c in atom_colors.items()},
            {i: [c] for i, c in bond_colors.items()},
            {i: self.highlight_radius for i in atom_colors}, {})
        drawer.FinishDrawing()
        return drawer.GetDrawingText()


class SmilesVisualizer(MolVisualizer):
    """Draw the molecule of a SMILES string with its atoms coloured by saliency.

    The constructor's arguments are those of :class:`MolVisualizer`.
    """

    def check_arguments(self, **kwargs):
        """Check :meth:`visualize`'s arguments other than the saliency, without drawing:
        RDKit must parse ``smiles``."""
        super().check_arguments(**kwargs)
        if 'smiles' in kwargs:
            smiles_to_mol(kwargs['smiles'])

    def visualize(self, saliency, smiles, save_filepath=None, visualize_ratio=1.0,
                  color_fn=colors.red_blue, scaler=scalers.abs_max_scaler, legend='',
                  add_Hs=False, use_canonical_smiles=False, *, color_bonds=True):
        """Parse ``smiles`` and draw it as :meth:`MolVisualizer.visualize` does.

        The atoms must be in the order the saliency was computed in: that of
        ``Chem.MolFromSmiles(smiles)``, as saliency_ext's own molecule data sets use, unless
        ``use_canonical_smiles`` or ``add_Hs`` say otherwise.

        Args:
            saliency, save_filepath, visualize_ratio, color_fn, scaler, legend, color_bonds:
                as for :meth:`MolVisualizer.visualize`.
            smiles (str): the molecule.
            add_Hs (bool): add explicit hydrogens (after the heavy atoms) before drawing.
            use_canonical_smiles (bool): renumber the atoms in RDKit's canonical order, for
                saliency computed on molecules parsed from canonical SMILES (Chainer
                Chemistry's preprocessors do so; its default here was ``True``).

        Returns:
            numpy.ndarray: the picture, ``uint8`` ``(height, width, 3)``.

        Raises:
            TypeError: if ``smiles`` is not a string.
            ValueError: if RDKit cannot parse ``smiles`` (the message quotes it), and as for
                :meth:`MolVisualizer.visualize`.
        """
        mol = smiles_to_mol(smiles)
        chem = require('rdkit.Chem', 'SmilesVisualizer')
        if use_canonical_smiles:
            mol = chem.MolFromSmiles(chem.MolToSmiles(mol))
        if add_Hs:
            mol = chem.AddHs(mol)
        return super().visualize(saliency, mol, save_filepath, visualize_ratio, color_fn, scaler,
                                 legend, color_bonds=color_bonds)
