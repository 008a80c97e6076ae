"""MolVisualizer and SmilesVisualizer: atoms of a molecule coloured by their saliency."""

import collections
import copy
import functools
import io
import math
import numbers
import threading
import typing

import numpy as np

from saliency_ext.optional import require
from saliency_ext.datasets.molecules import smiles_to_mol
from saliency_ext.visualizers import colors, scalers
from saliency_ext.visualizers.base import BaseVisualizer, fitted_size, to_numpy


#: Blank margin around the molecule, a fraction of the picture, so that highlights never
#: touch the border.
PADDING = 0.12
#: Molecule depictions kept (an LRU cache): a report draws the same probe molecules again
#: and again.
DEPICTIONS = 512


class Depiction(typing.NamedTuple):
    """A molecule drawn once without highlights, and where its atoms are.

    Attributes:
        mol: the molecule (kept, so that its ``id`` is not reused while cached).
        skeleton (numpy.ndarray): the drawing, RGB ``uint8``.
        atoms (numpy.ndarray): ``(n_atoms, 2)`` pixel centres ``(x, y)`` of the atoms.
        pixels_per_angstrom (float): the drawing's scale.
        bonds (numpy.ndarray): ``(n_bonds, 2)`` the atoms of each bond, in bond order.
        ink (numpy.ndarray): where the drawing is not white, as indices into
            ``skeleton.reshape(-1)``.
        ink_values (numpy.ndarray): the drawing there, ``uint16``.
    """

    mol: object
    skeleton: np.ndarray
    atoms: np.ndarray
    pixels_per_angstrom: float
    bonds: np.ndarray
    ink: np.ndarray
    ink_values: np.ndarray


_depictions = collections.OrderedDict()
_depictions_lock = threading.Lock()


def _depiction(mol, size, legend):
    """The cached :class:`Depiction` of ``mol`` at ``size`` with ``legend``: 2-D
    coordinates, drawing options and the drawing itself are made once per molecule."""
    key = (id(mol), size, legend)
    with _depictions_lock:
        found = _depictions.get(key)
        if found is not None and found.mol is mol:
            _depictions.move_to_end(key)
            return found
    draw = require('rdkit.Chem.Draw.rdMolDraw2D', 'MolVisualizer')
    geometry = require('rdkit.Geometry', 'MolVisualizer')
    drawer = draw.MolDraw2DCairo(*size)
    _options(drawer)
    drawer.DrawMolecule(mol, legend=legend)
    drawer.FinishDrawing()
    image = require('PIL.Image', 'MolVisualizer')
    skeleton = np.asarray(image.open(io.BytesIO(drawer.GetDrawingText())).convert('RGB'))
    atoms = np.array([[p.x, p.y] for p in (drawer.GetDrawCoords(i)
                                           for i in range(mol.GetNumAtoms()))])
    origin, unit = (drawer.GetDrawCoords(geometry.Point2D(x, 0.0)) for x in (0.0, 1.0))
    bonds = [(b.GetBeginAtomIdx(), b.GetEndAtomIdx()) for b in mol.GetBonds()]
    ink = np.flatnonzero(skeleton.reshape(-1) != 255)
    found = Depiction(mol, skeleton, atoms.reshape(-1, 2),
                      math.hypot(unit.x - origin.x, unit.y - origin.y),
                      np.array(bonds, dtype=np.intp).reshape(-1, 2),
                      ink, skeleton.reshape(-1)[ink].astype(np.uint16))
    with _depictions_lock:
        _depictions[key] = found
        while len(_depictions) > DEPICTIONS:
            _depictions.popitem(last=False)
    return found


def _options(drawer):
    options = drawer.drawOptions()
    options.useBWAtomPalette()
    options.padding = PADDING


def _shown_atoms(scaled, visualize_ratio):
    """Atoms to colour, a bool per atom: the top ``visualize_ratio`` by magnitude, and every
    missing one."""
    finite = np.flatnonzero(~scaled.missing)
    count = math.ceil(visualize_ratio * finite.size)
    by_magnitude = finite[np.argsort(-np.abs(scaled.values[finite]), kind='stable')]
    shown = scaled.missing.copy()
    shown[by_magnitude[:count]] = True
    return shown


def _colours(color_fn, values):
    """``color_fn`` of each value, RGB (or RGBA) rows in ``[0, 1]``;
    :func:`~colors.red_blue` (the default) colours them all in one call, any other
    function one by one."""
    if color_fn is colors.red_blue:
        return color_fn(values)
    rows = [color_fn(v) for v in values.tolist()]
    return np.array(rows, dtype=np.float64) if rows else np.zeros((0, 3))


class Highlights(typing.NamedTuple):
    """What to colour: atoms and bonds, and their colours.

    Attributes:
        atoms (numpy.ndarray): the coloured atoms.
        bonds (numpy.ndarray): the coloured bonds, as indices into the molecule's bonds.
        colours (numpy.ndarray): their RGB (or RGBA) colours in ``[0, 1]``, one row per atom
            and then one per bond.
    """

    atoms: np.ndarray
    bonds: np.ndarray
    colours: np.ndarray

    def rdkit(self):
        """The colours as RDKit takes them: ``({atom: rgb}, {bond: rgb})``."""
        rows = [tuple(c) for c in self.colours.tolist()]
        return (dict(zip(self.atoms.tolist(), rows)),
                dict(zip(self.bonds.tolist(), rows[len(self.atoms):])))


def _highlights(bonds, scaled, shown, color_fn, color_bonds):
    """The :class:`Highlights` of the ``(n_bonds, 2)`` atoms of the bonds and the ``shown``
    atoms (a bool per atom): missing atoms grey.

    A bond is coloured when both its atoms are shown and not missing, with the colour of the
    mean of their scaled values.
    """
    values, missing = scaled.values, scaled.missing
    atoms = np.flatnonzero(shown)
    coloured = np.flatnonzero((shown & ~missing)[bonds].all(axis=1)) if color_bonds else \
        np.zeros(0, np.intp)
    ends = values[bonds[coloured]].reshape(-1, 2)
    colours = _colours(color_fn, np.concatenate([values[atoms], (ends[:, 0] + ends[:, 1]) / 2]))
    grey = np.flatnonzero(missing[atoms])
    colours[grey, :3] = colors.MISSING
    colours[grey, 3:] = 1.0
    return Highlights(atoms, coloured, colours)


def _painted(depiction, paint):
    """The drawing multiplied with a layer that ``paint(pen)`` colours (white elsewhere),
    so its lines and labels stay black over the colours. Where the drawing is white the
    product is the layer itself: only the drawing's ink, a few percent of its pixels, is
    multiplied."""
    height, width = depiction.skeleton.shape[:2]
    layer = require('PIL.Image', 'MolVisualizer').new('RGB', (width, height), 'white')
    paint(require('PIL.ImageDraw', 'MolVisualizer').Draw(layer))
    painted = np.array(layer)
    flat = painted.reshape(-1)
    flat[depiction.ink] = colors.divided_by_255(depiction.ink_values * flat[depiction.ink])
    return painted


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
        depiction = _depiction(mol, self.size, legend)
        highlights = _highlights(depiction.bonds, scaled, _shown_atoms(scaled, visualize_ratio),
                                 color_fn, color_bonds)
        rgb = self._highlighted(depiction, highlights)
        draw = require('rdkit.Chem.Draw.rdMolDraw2D', 'MolVisualizer')
        return self._write(rgb, save_filepath, svg=lambda: self._draw(
            draw.MolDraw2DSVG(*self.size), mol, highlights, legend))

    def for_cell(self, width, height):
        """This visualizer at the largest size that fits ``width`` x ``height`` pixels (its
        own size when that fits): a molecule drawn small has labels that can be read, where
        a large drawing shrunk has them blurred, and costs half as much."""
        size = fitted_size(self.size, width, height)
        if size is None:
            return self
        tile = copy.copy(self)
        tile.size = size
        return tile

    def check_arguments(self, **kwargs):
        """Check :meth:`visualize`'s arguments other than the saliency, without drawing:
        ``mol`` must be an RDKit molecule."""
        super().check_arguments(**kwargs)
        chem = require('rdkit.Chem', type(self).__name__)
        if 'mol' in kwargs and not isinstance(kwargs['mol'], chem.Mol):
            mol = kwargs['mol']
            raise TypeError(f'mol must be an rdkit.Chem.Mol, got {type(mol).__name__}: {mol!r}')

    def _highlighted(self, depiction, highlights):
        """The cached drawing of the molecule over its highlights: discs at the atoms and
        thick lines along the bonds, drawn with PIL and multiplied with the drawing, so
        lines and labels stay black. Much faster than RDKit drawing the molecule anew."""
        radius = self.highlight_radius * depiction.pixels_per_angstrom
        width = round(1.2 * radius)  # the bonds' lines stay within their atoms' discs
        fills = [tuple(c) for c in colors.to_uint8(highlights.colours[:, :3]).tolist()]
        ends = depiction.atoms[depiction.bonds[highlights.bonds]].tolist()
        centres = depiction.atoms[highlights.atoms].tolist()

        def paint(pen):
            for (start, end), fill in zip(ends, fills[len(centres):]):
                pen.line([tuple(start), tuple(end)], fill=fill, width=width)
            for (x, y), fill in zip(centres, fills):
                pen.ellipse((x - radius, y - radius, x + radius, y + radius), fill=fill)
        return _painted(depiction, paint)

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

    def visualize_spread(self, spread, mol, save_filepath=None, *, top, title=None,
                         legend='', **visualize_options):
        """Draw ``mol`` with a ring around each atom whose width shows how much the samples
        of its saliency disagree (the standard deviation over the samples).

        The molecule is drawn in the layout of :meth:`visualize` (the same depiction), its
        lines and labels over the rings; each ring starts half a ``highlight_radius`` from
        its atom's centre and its width grows linearly with the spread, from none at zero to
        ``highlight_radius`` at ``top`` and beyond. Atoms of zero or non-finite spread get
        no ring. A report draws this panel beside the mean's, with
        ``top`` the largest magnitude of the mean's colour scale, so that the widest ring
        means a spread as large as the strongest colour.

        Args:
            spread (numpy.ndarray or cupy.ndarray): 1-D, one value per atom, as the
                saliency of :meth:`visualize`.
            mol (rdkit.Chem.Mol): the molecule.
            save_filepath (str or None): a ``.png`` or ``.svg`` file to write the picture to.
            top (float): the spread drawn as the widest ring, > 0.
            title (str): text drawn under the molecule; by default ``legend``, so that the
                molecule sits as in the picture of :meth:`visualize` with that legend.
            legend (str): as for :meth:`visualize`.
            **visualize_options: the other options of :meth:`visualize` (colours, scaler),
                accepted so that one set of arguments draws both panels; unused.

        Returns:
            numpy.ndarray: the picture, ``uint8`` ``(height, width, 3)``.
        """
        self._output_extension(save_filepath)
        chem = require('rdkit.Chem', 'MolVisualizer')
        if not isinstance(mol, chem.Mol):
            raise TypeError(f'mol must be an rdkit.Chem.Mol, got {type(mol).__name__}: {mol!r}')
        if not (isinstance(top, numbers.Real) and top > 0):
            raise ValueError(f'top must be a positive number, got {top!r}')
        spread = self._atom_saliency(spread, mol.GetNumAtoms())
        fraction = np.where(np.isfinite(spread), np.clip(spread / top, 0, 1), 0)
        title = legend if title is None else title
        depiction = _depiction(mol, self.size, title)
        radius = self.highlight_radius * depiction.pixels_per_angstrom
        rings = [(*depiction.atoms[atom], radius, float(fraction[atom]) * radius)
                 for atom in np.flatnonzero(fraction > 0)]
        draw = require('rdkit.Chem.Draw.rdMolDraw2D', 'MolVisualizer')
        return self._write(self._ringed(depiction, rings), save_filepath, svg=lambda: (
            self._draw_rings(draw.MolDraw2DSVG(*self.size), mol, rings, title)))

    def _ringed(self, depiction, rings):
        """The cached drawing of the molecule over its rings, drawn with PIL and multiplied
        with the drawing (as :meth:`_highlighted` does), so lines and labels stay black. A
        ring ``(x, y, radius, width)`` starts half a radius from the atom's centre."""
        ring = tuple(colors.to_uint8(colors.SPREAD_RING).tolist())
        rings = np.reshape(rings, (-1, 4))
        outer = rings[:, 2] / 2 + rings[:, 3]

        def paint(pen):
            for (x, y), reach, width in zip(rings[:, :2].tolist(), outer.tolist(),
                                            rings[:, 3].tolist()):
                pen.ellipse((x - reach, y - reach, x + reach, y + reach), outline=ring,
                            width=max(1, round(width)))
        return _painted(depiction, paint)

    @staticmethod
    def _draw_rings(drawer, mol, rings, title):
        """Draw the rings with an RDKit ``MolDraw2D``, then the molecule over them, with
        the drawer's own line width; returns its output (SVG text)."""
        geometry = require('rdkit.Geometry', 'MolVisualizer')
        _options(drawer)
        drawer.ClearDrawing()
        drawer.drawOptions().clearBackground = False
        line_width = drawer.LineWidth()
        drawer.SetFillPolys(False)
        drawer.SetColour(tuple(colors.SPREAD_RING.tolist()))
        for x, y, radius, width in rings:
            drawer.SetLineWidth(max(1, round(width)))
            drawer.DrawArc(geometry.Point2D(x, y), (radius + width) / 2, 0., 360.,
                           rawCoords=True)
        drawer.SetLineWidth(line_width)
        drawer.DrawMolecule(mol, legend=title)
        drawer.FinishDrawing()
        return drawer.GetDrawingText()

    def _draw(self, drawer, mol, highlights, legend):
        """Draw with an RDKit ``MolDraw2D`` and return its output (PNG bytes or SVG text)."""
        atom_colors, bond_colors = highlights.rdkit()
        _options(drawer)
        # RDKit draws an atom highlight of one colour as a 360-point polygon, which Cairo fills
        # slowly (about 0.25 ms an atom); one of several colours is drawn as arcs, three
        # times faster. Giving each atom its colour twice draws the same circle the fast way.
        drawer.DrawMoleculeWithHighlights(
            mol, legend, {i: [c, c] for i, c in atom_colors.items()},
            {i: [c] for i, c in bond_colors.items()},
            {i: self.highlight_radius for i in atom_colors}, {})
        drawer.FinishDrawing()
        return drawer.GetDrawingText()


@functools.lru_cache(maxsize=DEPICTIONS)
def _parsed(smiles, add_hs, canonical):
    """The molecule of a SMILES string, parsed once: the same object each time, so that
    its depiction is cached too."""
    mol = smiles_to_mol(smiles)
    chem = require('rdkit.Chem', 'SmilesVisualizer')
    if canonical:
        mol = chem.MolFromSmiles(chem.MolToSmiles(mol))
    if add_hs:
        mol = chem.AddHs(mol)
    return mol


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
        mol = _parsed(smiles, bool(add_Hs), bool(use_canonical_smiles))
        return super().visualize(saliency, mol, save_filepath, visualize_ratio, color_fn, scaler,
                                 legend, color_bonds=color_bonds)

    def visualize_spread(self, spread, smiles, save_filepath=None, *, top, title=None,
                         add_Hs=False, use_canonical_smiles=False, **visualize_options):
        """Parse ``smiles`` as :meth:`visualize` does and draw the spread's rings as
        :meth:`MolVisualizer.visualize_spread` does."""
        mol = _parsed(smiles, bool(add_Hs), bool(use_canonical_smiles))
        return super().visualize_spread(spread, mol, save_filepath, top=top, title=title,
                                        **visualize_options)
