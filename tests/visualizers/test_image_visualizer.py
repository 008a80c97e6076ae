import matplotlib
import numpy as np
import pytest

from saliency_ext.visualizers import FixedScaler, ImageVisualizer, min_max_scaler
from saliency_ext.visualizers.colors import MISSING, red_blue


def _peak(shape, center, width=3.0):
    """A Gaussian bump of height 1 at ``center`` (row, column)."""
    rows, cols = np.mgrid[:shape[0], :shape[1]]
    return np.exp(-((rows - center[0]) ** 2 + (cols - center[1]) ** 2) / (2 * width ** 2))


def _gray(shape, level=0.5):
    return np.full(shape, level, dtype=np.float32)


# The map always peaks in its top-right quadrant; the images have other sizes (including
# other aspect ratios) and layouts, so the map must be resized and the channels found.
@pytest.mark.parametrize('map_shape, image_shape', [
    ((32, 32), (3, 32, 32)), ((32, 32), (32, 32, 3)), ((32, 32), (64, 64)),
    ((32, 32), (1, 64, 64)), ((32, 32), (96, 96, 1)), ((24, 48), (3, 48, 96)),
    ((48, 24), (96, 48, 3))])
def test_reddest_region_is_where_the_saliency_peaks(red, map_shape, image_shape):
    height, width = map_shape
    saliency = _peak(map_shape, center=(height / 4, 3 * width / 4))
    rgb = ImageVisualizer().visualize(saliency, _gray(image_shape))
    size = image_shape[1:] if image_shape[0] in (1, 3) else image_shape[:2]
    assert rgb.shape == tuple(size) + (3,) and rgb.dtype == np.uint8
    rows, cols = np.nonzero(red(rgb))
    assert rows.size > 0
    assert rows.mean() < size[0] / 2 and cols.mean() >= size[1] / 2  # top-right quadrant
    redness = rgb[..., 0].astype(int) - rgb[..., 1:].mean(axis=-1)
    row, col = np.unravel_index(np.argmax(redness), redness.shape)
    scale = size[0] / height
    assert abs(row - size[0] / 4) <= 2 * scale and abs(col - 3 * size[1] / 4) <= 2 * scale


def test_negative_saliency_is_blue_and_positive_red(red, blue):
    saliency = _peak((40, 40), (10, 10)) - _peak((40, 40), (30, 30))
    rgb = ImageVisualizer().visualize(saliency, _gray((40, 40)))
    assert red(rgb[10, 10]) and not blue(rgb[10, 10])
    assert blue(rgb[30, 30]) and not red(rgb[30, 30])
    assert not red(rgb[10, 30]) and not blue(rgb[10, 30])  # zero saliency stays neutral


def test_fixed_scale_gives_the_same_colour_to_the_same_value():
    visualizer = ImageVisualizer()
    first, second = np.full((8, 8), 0.5), np.full((8, 8), 0.5)
    first[0, 0], second[0, 0] = 1.0, 4.0  # different maxima elsewhere in the maps
    image = _gray((8, 8))
    fixed = [visualizer.visualize(s, image, scaler=FixedScaler(-4, 4)) for s in (first, second)]
    np.testing.assert_array_equal(fixed[0][4:, 4:], fixed[1][4:, 4:])
    assert fixed[0][4, 4, 0] > fixed[0][4, 4, 2]  # 0.5 of 4 is visibly red
    own = [visualizer.visualize(s, image) for s in (first, second)]
    assert not np.array_equal(own[0][4:, 4:], own[1][4:, 4:])


def test_alpha_blends_map_and_image():
    saliency = _peak((16, 16), (8, 8))
    image = np.random.RandomState(0).randint(0, 256, (16, 16, 3)).astype(np.uint8)
    visualizer = ImageVisualizer()
    np.testing.assert_array_equal(visualizer.visualize(saliency, image, alpha=0.0), image)
    np.testing.assert_array_equal(visualizer.visualize(saliency, image, alpha=1.0),
                                  visualizer.visualize(saliency))
    half = visualizer.visualize(saliency, image, alpha=0.5).astype(int)
    expected = (image.astype(int) + visualizer.visualize(saliency)) / 2
    assert np.abs(half - expected).max() <= 1


def test_unsigned_scale_uses_the_same_colours_white_to_red():
    saliency = _peak((16, 16), (8, 8))
    rgb = ImageVisualizer().visualize(saliency, scaler=min_max_scaler)
    np.testing.assert_allclose(rgb[8, 8], red_blue(1.0) * 255, atol=1)
    np.testing.assert_array_equal(rgb[0, 0], [255, 255, 255])


def test_named_colour_map():
    saliency = _peak((16, 16), (8, 8))
    rgb = ImageVisualizer().visualize(saliency, scaler=min_max_scaler, cmap='gray')
    assert tuple(rgb[8, 8]) == (255, 255, 255) and tuple(rgb[0, 0]) == (0, 0, 0)
    with pytest.raises(ValueError, match='nope'):
        ImageVisualizer().visualize(saliency, cmap='nope')


def test_clip_percentile_keeps_an_outlier_from_washing_out_the_map(red):
    saliency = np.ones((20, 20))
    saliency[0, 0] = 1000.0
    visualizer = ImageVisualizer()
    assert not red(visualizer.visualize(saliency)[10:, 10:]).any()
    assert red(visualizer.visualize(saliency, clip_percentile=99)[10:, 10:]).all()


def test_nan_and_inf_are_drawn_missing_with_a_warning(red):
    saliency = _peak((20, 20), (5, 5))
    saliency[12:, 12:] = np.nan
    saliency[12, 0] = np.inf
    with pytest.warns(RuntimeWarning, match='NaN or infinite'):
        rgb = ImageVisualizer().visualize(saliency, _gray((20, 20)))
    grey = np.round((MISSING * 255 + 127.5) / 2)
    np.testing.assert_allclose(rgb[15, 15], grey, atol=1)
    np.testing.assert_allclose(rgb[12, 0], grey, atol=1)
    assert red(rgb[5, 5])  # the finite part is still drawn, on its own scale


def test_all_missing_map_still_gives_a_picture():
    with pytest.warns(RuntimeWarning, match='100 of 100'):
        rgb = ImageVisualizer().visualize(np.full((10, 10), np.nan))
    np.testing.assert_allclose(rgb, np.broadcast_to(MISSING * 255, (10, 10, 3)), atol=1)


def test_colorbar_draws_a_larger_figure_with_both_colours(red, blue):
    saliency = _peak((32, 32), (8, 8)) - _peak((32, 32), (24, 24))
    rgb = ImageVisualizer().visualize(saliency, _gray((32, 32)), show_colorbar=True,
                                      title='epoch 3')
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[1] > rgb.shape[0]
    right = rgb[:, -rgb.shape[1] // 5:]  # the colorbar sits at the right
    assert red(right).any() and blue(right).any()


def test_without_colorbar_no_matplotlib_figure_is_made(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError('a matplotlib Figure was made')

    monkeypatch.setattr(matplotlib.figure.Figure, '__init__', refuse)
    saliency, image = _peak((32, 32), (8, 8)), _gray((3, 32, 32))
    ImageVisualizer().visualize(saliency, image)
    ImageVisualizer().visualize(saliency, image, title='epoch 3')
    with pytest.raises(AssertionError, match='Figure'):
        ImageVisualizer().visualize(saliency, image, show_colorbar=True)


def test_title_goes_in_a_band_above_the_picture():
    saliency, image = _peak((32, 64), (8, 48)), _gray((32, 64))
    plain = ImageVisualizer().visualize(saliency, image)
    titled = ImageVisualizer().visualize(saliency, image, title='epoch 3')
    band = titled.shape[0] - plain.shape[0]
    assert band > 10 and titled.shape[1] == plain.shape[1]
    np.testing.assert_array_equal(titled[band:], plain)
    assert (titled[:band] < 100).all(axis=-1).sum() > 20  # dark text on white


def test_saves_the_returned_picture_as_png(tmp_path, read_png):
    path = tmp_path / 'map.png'
    rgb = ImageVisualizer().visualize(_peak((16, 16), (8, 8)), _gray((16, 16)),
                                      save_filepath=str(path))
    np.testing.assert_array_equal(read_png(path), rgb)


def test_integer_and_out_of_range_float_images():
    saliency = np.zeros((4, 4))
    visualizer = ImageVisualizer()
    as_int = visualizer.visualize(saliency, np.full((4, 4), 200, dtype=np.int64), alpha=0)
    assert np.all(as_int == 200)
    stretched = visualizer.visualize(saliency, np.array([[-3.0, 5.0]] * 2), alpha=0)
    assert stretched[0, 0, 0] == 0 and stretched[0, 1, 0] == 255


@pytest.mark.parametrize('saliency, image, kwargs, message', [
    (np.zeros((3, 8, 8)), None, {}, 'ch_axis'),
    (np.zeros(8), None, {}, r'shape \(8,\)'),
    (np.zeros((8, 8)), np.zeros((5, 8, 8)), {}, r'shape \(5, 8, 8\)'),
    (np.zeros((8, 8)), np.zeros((2, 3, 8, 8)), {}, '1 to 4 channels'),
    (np.zeros((16, 8)), np.zeros((3, 8, 16)), {}, 'aspect ratios differ'),
    (np.zeros((8, 8)), None, {'alpha': 1.5}, '1.5'),
    (np.zeros((8, 8)), None, {'clip_percentile': 0}, 'percentile'),
    (np.zeros((8, 8)), None, {'save_filepath': 'map.jpg'}, r"'map.jpg'.*\.png"),
])
def test_bad_input_gets_a_clear_message(saliency, image, kwargs, message):
    with pytest.raises(ValueError, match=message):
        ImageVisualizer().visualize(saliency, image, **kwargs)


def test_constructor_validates_dpi():
    with pytest.raises(ValueError, match='-1'):
        ImageVisualizer(dpi=-1)
