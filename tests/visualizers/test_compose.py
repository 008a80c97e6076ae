"""Captions, legends and tiles: what is kept between pictures changes no pixel."""
import numpy as np
import pytest

from saliency_ext.visualizers import compose


def fresh_legend(*args, **kwargs):
    compose._legend_without_ticks.cache_clear()
    return compose.legend(*args, **kwargs)


def test_a_legend_drawn_from_the_kept_strip_equals_a_fresh_one():
    first = compose.legend(360, (-2.5, 2.5), True)
    kept = compose._legend_without_ticks.cache_info()
    other = compose.legend(360, (-0.125, 0.125), True)
    assert compose._legend_without_ticks.cache_info().hits == kept.hits + 1
    again = compose.legend(360, (-2.5, 2.5), True)
    np.testing.assert_array_equal(again, first)  # the other's ticks did not stay
    np.testing.assert_array_equal(other, fresh_legend(360, (-0.125, 0.125), True))
    assert (other != first).any()


@pytest.mark.parametrize('limits, signed, note', [
    ((0., 3.), False, None), (None, True, 'one scale for every tile'),
    ((-1., 1.), True, 'right: the std over the 30 samples')])
def test_legends_of_every_kind_equal_fresh_ones(limits, signed, note):
    compose.legend(400, limits, signed, note=note)  # keeps its strip
    kept = compose.legend(400, limits, signed, note=note)
    np.testing.assert_array_equal(kept, fresh_legend(400, limits, signed, note=note))
    assert kept.shape[1] == 400 and kept.dtype == np.uint8
    ticks = kept[compose.PAD + compose.BAR_HEIGHT + 1:compose.PAD + compose.BAR_HEIGHT + 3]
    assert (ticks == 0).any() == (limits is not None)  # black tick marks


@pytest.mark.parametrize('background', ['white', 'noise'])
def test_text_on_an_array_equals_text_on_a_pil_image(background):
    from PIL import Image
    from saliency_ext.visualizers.text import draw_text
    array = np.full((40, 90, 3), 255, np.uint8) if background == 'white' else \
        np.random.RandomState(0).randint(0, 256, (40, 90, 3)).astype(np.uint8)
    image = Image.fromarray(array)
    # inside, over two borders, then over the first text (on white: drawn, then blended)
    for xy, anchor, fill in (((45, 20), 'mm', (200, 30, 10)), ((-8, 3), 'la', (0, 0, 0)),
                             ((80, 35), 'lm', (90, 90, 90)), ((47, 23), 'mm', (20, 90, 200))):
        before = array.copy()
        draw_text(array, xy, 'Wq -0.0123', 13, fill, anchor=anchor)
        draw_text(image, xy, 'Wq -0.0123', 13, fill, anchor=anchor)
        assert (array != before).any()
        np.testing.assert_array_equal(array, np.asarray(image))


def test_tiles_drawn_on_one_canvas_equal_tiles_stacked():
    rng = np.random.RandomState(1)
    pictures = [rng.randint(0, 256, shape).astype(np.uint8) for shape in (
        (300, 300, 3), (120, 60, 3), (250, 400, 3), (90, 90, 3), (300, 200, 3))]
    labels = [['item 00 · index 7', 'label 1.5 · output 0.25'], ['item 01'],
              ['a label much too long to be held by a tile of this width'], [], ['x', 'y']]
    tiles = [compose.stack([compose.text_band(label, 150, size=11), compose.fit(p, 150, 120)])
             for p, label in zip(pictures, labels)]
    rows = [compose.side_by_side(tiles[i:i + 3]) for i in (0, 3)]
    expected = compose.stack(rows, gap=compose.PAD, align='left')
    got = compose.tiled(pictures, labels, columns=3, cell=(150, 120))
    np.testing.assert_array_equal(got, expected)
