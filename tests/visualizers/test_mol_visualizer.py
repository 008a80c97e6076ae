import re
import xml.etree.ElementTree as ElementTree

import numpy as np
import pytest

Chem = pytest.importorskip('rdkit.Chem')
rdMolDraw2D = pytest.importorskip('rdkit.Chem.Draw.rdMolDraw2D')

from saliency_ext.visualizers import FixedScaler, MolVisualizer, SmilesVisualizer  # NOQA: E402
from saliency_ext.visualizers import colors  # NOQA: E402
from saliency_ext.visualizers.colors import MISSING  # NOQA: E402

_RADIUS = 10  # pixels around an atom's centre to look at


@pytest.fixture
def last_drawer(monkeypatch):
    """Records the Cairo drawers the visualizer makes; returns the list."""
    drawers = []
    cairo = rdMolDraw2D.MolDraw2DCairo

    def recording(*args):
        drawers.append(cairo(*args))
        return drawers[-1]

    monkeypatch.setattr(rdMolDraw2D, 'MolDraw2DCairo', recording)
    return drawers


@pytest.fixture
def atom_pixels(last_drawer):
    """``atom_pixels(rgb, i)`` returns the pixels within ``_RADIUS`` of atom ``i`` in the last
    drawing."""
    drawers = last_drawer

    def pixels(rgb, i):
        point = drawers[-1].GetDrawCoords(i)
        rows, cols = np.mgrid[:rgb.shape[0], :rgb.shape[1]]
        return rgb[(rows - point.y) ** 2 + (cols - point.x) ** 2 <= _RADIUS ** 2]
    return pixels


def _mol(smiles):
    return Chem.MolFromSmiles(smiles)


def test_positive_atom_is_red_and_negative_blue(atom_pixels, red, blue):
    rgb = MolVisualizer().visualize(np.array([-1.0, 0.0, 1.0]), _mol('CCO'))
    assert rgb.shape == (300, 300, 3) and rgb.dtype == np.uint8
    negative, neutral, positive = (atom_pixels(rgb, i) for i in range(3))
    assert blue(negative).mean() > 0.5 and not red(negative).any()
    assert red(positive).mean() > 0.5 and not blue(positive).any()
    assert not red(neutral).any() and not blue(neutral).any()


def test_intensity_grows_with_magnitude(atom_pixels):
    rgb = MolVisualizer().visualize(np.array([0.3, 0.0, 1.0]), _mol('CCO'))
    weak, strong = (np.median(atom_pixels(rgb, i).astype(int), axis=0) for i in (0, 2))
    assert weak[0] >= strong[0] - 40 and weak[1] - strong[1] > 100  # both red, one paler


def test_smiles_visualizer_draws_the_parsed_molecule():
    saliency = np.array([-1.0, 0.0, 1.0])
    np.testing.assert_array_equal(SmilesVisualizer().visualize(saliency, 'CCO'),
                                  MolVisualizer().visualize(saliency, _mol('CCO')))


def test_canonical_smiles_renumbers_atoms():
    saliency = np.array([1.0, 0.0, -1.0])
    canonical = SmilesVisualizer().visualize(saliency, 'OCC', use_canonical_smiles=True)
    np.testing.assert_array_equal(canonical, MolVisualizer().visualize(saliency, _mol('CCO')))


def test_add_hs_adds_hydrogen_atoms():
    with pytest.raises(ValueError, match='5 atoms'):
        SmilesVisualizer().visualize(np.ones(1), 'C', add_Hs=True)
    assert SmilesVisualizer().visualize(np.ones(5), 'C', add_Hs=True).shape == (300, 300, 3)


def test_padding_beyond_the_atoms_is_ignored():
    visualizer = MolVisualizer()
    np.testing.assert_array_equal(
        visualizer.visualize(np.array([-1.0, 0.0, 1.0, 50.0, -80.0]), _mol('CCO')),
        visualizer.visualize(np.array([-1.0, 0.0, 1.0]), _mol('CCO')))


def test_fixed_scale_gives_the_same_colour_to_the_same_value(atom_pixels):
    visualizer = MolVisualizer()

    def atom0(saliency, **kwargs):
        rgb = visualizer.visualize(np.array(saliency), _mol('CCO'), color_bonds=False,
                                   **kwargs)
        return np.median(atom_pixels(rgb, 0), axis=0)

    scale = FixedScaler(-2, 2)
    np.testing.assert_array_equal(atom0([0.5, 0.0, 1.0], scaler=scale),
                                  atom0([0.5, 0.0, 2.0], scaler=scale))
    assert not np.array_equal(atom0([0.5, 0.0, 1.0]), atom0([0.5, 0.0, 2.0]))


def test_bonds_take_the_colour_of_their_atoms(red):
    mol = _mol('CC')
    coloured = MolVisualizer().visualize(np.array([1.0, 1.0]), mol)
    plain = MolVisualizer().visualize(np.array([1.0, 1.0]), mol, color_bonds=False)
    assert red(coloured).sum() > red(plain).sum() + 500


def test_visualize_ratio_colours_only_the_strongest_atoms(atom_pixels, red, blue):
    saliency = np.array([1.0, 0.6, -0.6, -1.0])
    half = MolVisualizer().visualize(saliency, _mol('CCCC'), visualize_ratio=0.5,
                                     color_bonds=False)
    assert red(atom_pixels(half, 0)).any() and blue(atom_pixels(half, 3)).any()
    assert not red(atom_pixels(half, 1)).any() and not blue(atom_pixels(half, 2)).any()
    full = MolVisualizer().visualize(saliency, _mol('CCCC'), color_bonds=False)
    assert red(atom_pixels(full, 1)).any() and blue(atom_pixels(full, 2)).any()


def test_a_colour_function_of_one_value_may_return_rgba(atom_pixels):
    seen = []

    def green(value):  # called once per atom and per coloured bond
        seen.append(value)
        return 0.0, 1.0, 0.0, 1.0
    rgb = MolVisualizer().visualize(np.array([1.0, 0.5, -1.0]), _mol('CCO'), color_fn=green)
    assert sorted(seen) == [-1.0, -0.25, 0.5, 0.75, 1.0]
    for i in range(3):
        pixels = atom_pixels(rgb, i).astype(int)
        assert ((pixels[:, 1] > 200) & (pixels[:, 0] < 60)).mean() > 0.5


def test_missing_atom_is_grey_with_a_warning(atom_pixels, red):
    with pytest.warns(RuntimeWarning, match='1 of 3'):
        rgb = MolVisualizer().visualize(np.array([np.nan, 0.0, 1.0]), _mol('CCO'))
    grey = np.all(np.abs(atom_pixels(rgb, 0).astype(int) - MISSING * 255) <= 2, axis=-1)
    assert grey.mean() > 0.5
    assert red(atom_pixels(rgb, 2)).mean() > 0.5


def test_svg_output_parses_with_the_colours_and_legend(tmp_path, red, blue):
    path = tmp_path / 'mol.svg'
    MolVisualizer().visualize(np.array([-1.0, 0.0, 1.0]), _mol('CCO'), save_filepath=str(path),
                              legend='ethanol')
    root = ElementTree.parse(path).getroot()
    assert root.tag == '{http://www.w3.org/2000/svg}svg'

    def fills(css_class):
        """Fill colours of the elements of a class, from ``fill`` or ``style``."""
        found = [re.search(r'#([0-9A-Fa-f]{6})', e.get('fill') or e.get('style') or '')
                 for e in root.iter() if e.get('class') == css_class]
        return np.array([list(bytes.fromhex(m.group(1))) for m in found if m])

    assert red(fills('atom-2')).any() and blue(fills('atom-0')).any()
    assert len(fills('legend')) == len('ethanol')  # RDKit draws one path a glyph


def test_png_output_is_the_returned_picture(tmp_path, read_png):
    path = tmp_path / 'mol.png'
    rgb = MolVisualizer().visualize(np.array([-1.0, 0.0, 1.0]), _mol('CCO'),
                                    save_filepath=str(path), legend='ethanol')
    np.testing.assert_array_equal(read_png(path), rgb)


def test_size_sets_the_picture_shape():
    rgb = MolVisualizer(size=(400, 200)).visualize(np.zeros(3), _mol('CCO'))
    assert rgb.shape == (200, 400, 3)


def test_unparsable_smiles_is_quoted():
    with pytest.raises(ValueError, match="'C1CC'"):
        SmilesVisualizer().visualize(np.zeros(3), 'C1CC')


@pytest.mark.parametrize('saliency, kwargs, message', [
    (np.zeros(2), {}, '2 values but the molecule has 3 atoms'),
    (np.zeros((3, 16)), {}, 'ch_axis'),
    (np.zeros(3), {'visualize_ratio': 0}, 'visualize_ratio'),
    (np.zeros(3), {'save_filepath': 'mol.jpg'}, r"'mol.jpg'.*\.png, \.svg"),
])
def test_bad_input_gets_a_clear_message(saliency, kwargs, message):
    with pytest.raises(ValueError, match=message):
        MolVisualizer().visualize(saliency, _mol('CCO'), **kwargs)


def test_bad_types_get_a_clear_message():
    with pytest.raises(TypeError, match="'CCO'"):
        MolVisualizer().visualize(np.zeros(3), 'CCO')
    with pytest.raises(TypeError, match='color_fn'):
        MolVisualizer().visualize(np.zeros(3), _mol('CCO'), color_fn='red')
    with pytest.raises(TypeError, match='smiles'):
        SmilesVisualizer().visualize(np.zeros(3), None)


def test_constructor_validates_size():
    with pytest.raises(ValueError, match=r'\(0, 300\)'):
        MolVisualizer(size=(0, 300))


def test_a_molecule_is_depicted_once_and_redrawn_fast(monkeypatch):
    made = []
    cairo = rdMolDraw2D.MolDraw2DCairo
    monkeypatch.setattr(rdMolDraw2D, 'MolDraw2DCairo',
                        lambda *args: made.append(args) or cairo(*args))
    visualizer = SmilesVisualizer()
    pictures = [visualizer.visualize(np.array([s, 0.0, -1.0, s]), 'OCCCl')
                for s in (1.0, 0.5, 0.2)]
    assert len(made) == 1  # coordinates and drawing made for the first only
    assert not np.array_equal(pictures[0], pictures[1])


def test_highlights_keep_a_margin_from_the_border(red, blue):
    rgb = MolVisualizer(size=(200, 200)).visualize(np.ones(6), _mol('CCCCCC'))
    border = np.concatenate([rgb[:8].reshape(-1, 3), rgb[-8:].reshape(-1, 3),
                             rgb[:, :8].reshape(-1, 3), rgb[:, -8:].reshape(-1, 3)])
    assert red(rgb).any() and not red(border).any()


# -- the spread panel: rings whose width shows the standard deviation ---------

def test_spread_rings_sit_on_their_atoms_and_widen_with_the_spread(last_drawer):
    mol = _mol('CCCC')
    visualizer = MolVisualizer(size=(400, 300))
    plain = visualizer.visualize_spread(np.zeros(4), mol, top=2.)
    areas = []
    for value in (0.5, 1.0, 2.0, 4.0):
        rgb = visualizer.visualize_spread(np.array([0., 0., value, 0.]), mol, top=2.)
        ring = np.argwhere((rgb != plain).any(axis=-1))
        centre = last_drawer[-1].GetDrawCoords(2)
        np.testing.assert_allclose(ring.mean(axis=0), (centre.y, centre.x), atol=1.5)
        # the ring leaves the atom's centre free
        distance = np.hypot(ring[:, 0] - centre.y, ring[:, 1] - centre.x)
        assert distance.min() > 5
        areas.append(len(ring))
    assert areas[0] < areas[1] < areas[2]
    assert areas[3] == areas[2]  # a spread beyond top saturates


def test_spread_panel_as_svg_and_from_smiles(tmp_path):
    path = tmp_path / 'spread.svg'
    rgb = SmilesVisualizer().visualize_spread(np.array([0.5, 1., 0.]), 'CCO', top=1.,
                                              title='std', save_filepath=str(path),
                                              legend='ignored')
    np.testing.assert_array_equal(
        rgb, MolVisualizer().visualize_spread(np.array([0.5, 1., 0.]), _mol('CCO'), top=1.,
                                              title='std'))
    root = ElementTree.parse(path).getroot()
    strokes = [re.search(r'stroke:#([0-9A-Fa-f]{6})', e.get('style') or '')
               for e in root.iter()]
    ring = colors.to_uint8(colors.SPREAD_RING)
    rings = [m for m in strokes
             if m and np.abs(np.array(list(bytes.fromhex(m.group(1)))) - ring).max() <= 2]
    assert len(rings) == 2  # one per atom with a spread
    assert len([e for e in root.iter() if e.get('class') == 'legend']) == len('std')


def test_spread_needs_a_positive_top():
    with pytest.raises(ValueError, match='top must be a positive number'):
        MolVisualizer().visualize_spread(np.zeros(3), _mol('CCO'), top=0.)


def test_multiplying_the_ink_alone_equals_multiplying_every_pixel(monkeypatch):
    from PIL import Image, ImageDraw
    from saliency_ext.visualizers import mol as mol_module

    def whole(depiction, paint):  # every pixel of the drawing times the layer
        skeleton = depiction.skeleton
        layer = Image.new('RGB', skeleton.shape[1::-1], 'white')
        paint(ImageDraw.Draw(layer))
        product = skeleton.astype(np.uint16) * np.asarray(layer, np.uint16)
        return ((product + 127) // 255).astype(np.uint8)

    rng = np.random.RandomState(0)
    visualizer = SmilesVisualizer(size=(320, 280))
    molecules = ['CC(C)Cc1ccc(cc1)C(C)C(=O)NCc1ccc(OC)c(OC)c1OCCN(C)C', 'CC(C)(C)Cc1ccccc1']

    def draw():
        pictures = []
        for smiles in molecules:
            n = _mol(smiles).GetNumAtoms()
            saliency, spread = rng.randn(n), rng.rand(n)
            pictures += [visualizer.visualize(saliency, smiles),
                         visualizer.visualize(saliency, smiles, visualize_ratio=0.3),
                         visualizer.visualize_spread(spread, smiles, top=0.5)]
        return pictures
    inked = draw()
    rng.seed(0)
    monkeypatch.setattr(mol_module, '_painted', whole)
    for got, expected in zip(inked, draw()):
        assert (np.ptp(got, axis=-1) > 60).any()  # coloured pixels
        np.testing.assert_array_equal(got, expected)


def test_a_tile_is_drawn_at_its_size_not_shrunk():
    visualizer = SmilesVisualizer(size=(300, 200), highlight_radius=0.5)
    saliency = np.array([1.0, -0.5, 0.25, 0.0])
    tile = visualizer.for_cell(150, 150)
    assert tile.size == (150, 100) and tile.highlight_radius == 0.5
    assert visualizer.size == (300, 200)  # the visualizer itself is unchanged
    np.testing.assert_array_equal(
        tile.visualize(saliency, 'CC(=O)O'),
        SmilesVisualizer(size=(150, 100), highlight_radius=0.5).visualize(saliency, 'CC(=O)O'))
    assert visualizer.for_cell(300, 400) is visualizer  # fits as it is


def test_visualizers_without_a_size_of_their_own_are_shrunk_by_the_report():
    from saliency_ext.visualizers import ImageVisualizer, TableVisualizer
    for visualizer in (ImageVisualizer(), TableVisualizer()):
        assert visualizer.for_cell(10, 10) is visualizer
