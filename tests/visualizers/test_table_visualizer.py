import subprocess
import sys
import xml.etree.ElementTree as ElementTree

import numpy as np
import pytest

from saliency_ext.visualizers import FixedScaler, TableVisualizer, normalize_scaler
from saliency_ext.visualizers.colors import BLUE, RED, to_uint8


def _bars(rgb, red, blue):
    """The bars of a chart from top to bottom: ``(sign, first column, last column)``."""
    is_red, is_blue = red(rgb), blue(rgb)
    bars, previous = [], None
    for row in range(rgb.shape[0]):
        sign = '+' if is_red[row].any() else '-' if is_blue[row].any() else None
        if sign and sign != previous:
            columns = np.flatnonzero(is_red[row] if sign == '+' else is_blue[row])
            bars.append((sign, columns[0], columns[-1]))
        previous = sign
    return bars


def _lengths(bars):
    return np.array([last - first + 1 for _, first, last in bars])


def test_bars_come_in_order_of_magnitude_with_their_signs(red, blue):
    rgb = TableVisualizer().visualize(np.array([0.1, -0.5, 0.3, -0.05]))
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3
    bars = _bars(rgb, red, blue)
    assert [sign for sign, _, _ in bars] == ['-', '+', '+', '-']
    np.testing.assert_allclose(_lengths(bars) / _lengths(bars)[0], [1, 0.6, 0.2, 0.1],
                               atol=0.02)
    zero = bars[1][1]  # positive bars start at zero, negative ones end there
    assert all(abs((first if sign == '+' else last) - zero) <= 2
               for sign, first, last in bars)


@pytest.mark.parametrize('sort, signs, magnitudes', [
    ('ascending', '++-', [0.2, 0.5, 0.9]), ('none', '-++', [0.9, 0.2, 0.5])])
def test_other_sort_orders(red, blue, sort, signs, magnitudes):
    rgb = TableVisualizer().visualize(np.array([-0.9, 0.2, 0.5]), sort=sort)
    bars = _bars(rgb, red, blue)
    assert ''.join(sign for sign, _, _ in bars) == signs
    np.testing.assert_allclose(_lengths(bars) / _lengths(bars).max(),
                               np.array(magnitudes) / 0.9, atol=0.02)


def test_num_visualize_keeps_the_largest(red, blue):
    saliency = np.array([0.1, -0.5, 0.3, -0.05])
    visualizer = TableVisualizer()
    assert len(_bars(visualizer.visualize(saliency, num_visualize=2), red, blue)) == 2
    assert len(_bars(visualizer.visualize(saliency, num_visualize=-1), red, blue)) == 4
    assert len(_bars(visualizer.visualize(saliency, num_visualize=10), red, blue)) == 4


def test_fixed_scale_gives_the_same_bar_to_the_same_value(red, blue):
    visualizer = TableVisualizer()
    first = visualizer.visualize(np.array([0.5, 1.0]), scaler=FixedScaler(-2, 2))
    second = visualizer.visualize(np.array([0.5, -2.0]), scaler=FixedScaler(-2, 2))
    assert _bars(first, red, blue)[1] == _bars(second, red, blue)[1]
    own = [_bars(visualizer.visualize(np.array([0.5, m])), red, blue)[1] for m in (1.0, -2.0)]
    assert own[0] != own[1]


def test_function_scaler_fits_the_axis_to_the_bars(red, blue):
    rgb = TableVisualizer().visualize(np.array([3e-4, 1e-4]), scaler=None)
    lengths = _lengths(_bars(rgb, red, blue))
    assert lengths[0] > 0.7 * rgb.shape[1] * 0.5  # not squashed against a [-1, 1] axis
    assert lengths[1] / lengths[0] == pytest.approx(1 / 3, abs=0.02)


def test_normalize_scaler_shows_shares(red, blue):
    rgb = TableVisualizer().visualize(np.array([3.0, -1.0]), scaler=normalize_scaler)
    lengths = _lengths(_bars(rgb, red, blue))
    assert lengths[1] / lengths[0] == pytest.approx(1 / 3, abs=0.02)


def test_missing_values_get_no_bar_and_a_warning(red, blue):
    with pytest.warns(RuntimeWarning, match='1 of 4'):
        rgb = TableVisualizer().visualize(np.array([0.1, np.nan, -0.5, 0.3]))
    assert [sign for sign, _, _ in _bars(rgb, red, blue)] == ['-', '+', '+']


def test_svg_output_parses_and_holds_the_bars_and_names(tmp_path):
    path = tmp_path / 'bars.svg'
    TableVisualizer().visualize(np.array([0.5, -0.25]), feature_names=['a<b', 'c&d'],
                                save_filepath=str(path))
    root = ElementTree.parse(path).getroot()
    namespace = '{http://www.w3.org/2000/svg}'
    assert root.tag == namespace + 'svg'
    texts = [t.text for t in root.iter(namespace + 'text')]
    assert 'a<b' in texts and 'c&d' in texts
    fills = [r.get('fill') for r in root.iter(namespace + 'rect')]
    for colour in (RED, BLUE):
        assert fills.count('#' + bytes(to_uint8(colour)).hex()) == 1


def test_png_output_is_the_returned_picture(tmp_path, read_png):
    path = tmp_path / 'bars.png'
    rgb = TableVisualizer().visualize(np.array([0.5, -0.25]), save_filepath=str(path))
    np.testing.assert_array_equal(read_png(path), rgb)


def test_long_names_are_shortened_to_leave_room_for_bars(red, blue):
    visualizer = TableVisualizer(width=400)
    rgb = visualizer.visualize(np.array([1.0, -1.0]), feature_names=['x' * 300, 'y'])
    first, last = _bars(rgb, red, blue)[0][1:], _bars(rgb, red, blue)[1][1:]
    assert last[1] - last[0] > 80 and first[1] - first[0] > 80


@pytest.mark.parametrize('kwargs, message', [
    ({'feature_names': ['a', 'b']}, '2 names for 3 features'),
    ({'num_visualize': 0}, 'num_visualize'),
    ({'num_visualize': 1.5}, 'num_visualize'),
    ({'sort': 'random'}, "'random'"),
    ({'save_filepath': 'bars.jpg'}, r"'bars.jpg'.*\.png, \.svg"),
])
def test_bad_arguments_get_a_clear_message(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TableVisualizer().visualize(np.array([1.0, 2.0, 3.0]), **kwargs)


def test_saliency_must_be_one_dimensional():
    with pytest.raises(ValueError, match=r'shape \(2, 3\)'):
        TableVisualizer().visualize(np.zeros((2, 3)))


def test_constructor_validates_sizes():
    with pytest.raises(ValueError, match='bar_height'):
        TableVisualizer(bar_height=0)


def test_magnitude_map_fills_the_chart(red, blue):
    # 'abs' or 'square' maps are non-negative: no empty negative half
    positive = _lengths(_bars(TableVisualizer().visualize(np.array([1.0, 0.5])),
                              red, blue))
    signed = _lengths(_bars(TableVisualizer().visualize(np.array([1.0, -0.5])),
                            red, blue))
    assert positive[0] > 1.4 * signed[0]
    assert positive[1] / positive[0] == pytest.approx(0.5, abs=0.02)


@pytest.mark.parametrize('scaler, ticks, label', [
    (None, ['0', '0.0002', '0.0004'], 'saliency'),  # raw units
    (normalize_scaler, ['0', '0.25', '0.5', '0.75'],  # 0.82 and 0.18
     'share of the total |saliency|')])
def test_ticks_read_in_raw_units_or_shares_and_are_not_clipped(tmp_path, scaler, ticks, label):
    path = str(tmp_path / 'bars.svg')
    kwargs = {} if scaler is None else {'scaler': scaler}
    rgb = TableVisualizer(width=420).visualize(np.array([4.82e-4, 1e-4]),
                                               save_filepath=path, **kwargs)
    texts = [e.text for e in ElementTree.parse(path).getroot().iter()
             if e.tag.endswith('text')]
    assert texts[2:] == ticks + [label]
    assert (rgb[:, -4:] == 255).all()  # nothing drawn at the right edge


def test_the_font_is_found_without_importing_matplotlib():
    # importing matplotlib took 0.15 s of a drawing process's first report
    code = ('import sys; from saliency_ext.visualizers.text import default_font; '
            'font = default_font(13); print(font.getname()[0], "matplotlib" in sys.modules)')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         check=True).stdout
    assert out.split() == ['DejaVu', 'Sans', 'False']


def test_without_matplotlib_the_font_is_pils_own(monkeypatch):
    from saliency_ext.visualizers import text
    find_spec = text.importlib.util.find_spec
    monkeypatch.setattr(text.importlib.util, 'find_spec', lambda name, *args: None if
                        name == 'matplotlib' else find_spec(name, *args))
    text.default_font.cache_clear()
    try:
        font = text.default_font(13)
        assert font.getname()[0] != 'DejaVu Sans'
        assert font.getbbox('feature')[2] > 0  # it draws
    finally:
        text.default_font.cache_clear()


def test_accented_and_greek_names_are_drawn_with_a_truetype_font():
    from saliency_ext.visualizers.text import default_font
    font = default_font(13)
    assert font.getname()[0] == 'DejaVu Sans'
    # a glyph of its own, not the empty box of a missing one
    assert font.getmask('\u03b2').getbbox() != font.getmask('\u4e00').getbbox()
