"""Text put together from kept words and glyphs must be PIL's own rendering, pixel for
pixel, whatever the words, the anchor and the font."""
import functools

import numpy as np
import pytest

from saliency_ext.visualizers import text as base

PIL = pytest.importorskip('PIL')
from PIL import Image, ImageDraw, ImageFont  # noqa: E402

TEXTS = [
    'item 03 \u00b7 index 512 \u00b7 label -2.13 \u00b7 output -1.93',
    'class 7 score 9.87e-05', 'ig \u00b7 epoch 12', '-0.0361', '4.5e+06', '0',
    'scaled to [-1, 1] from [-2.41e+04, 2.41e+04]',
    'red: raises the explained output, blue: lowers it',
    '\u00c5ngstr\u00f6m \u03bc \u03c3 \u03bb d\u00e9j\u00e0 vu',
    'AV Te To Ty',  # kerned pairs inside words
    'T. V. W. Y.',  # kerned: the words after them fall off whole pixels
    'two  spaces', ' leading', 'trailing ', 'ffi fj from', '-1-1 e+e',
]
ANCHORS = ['la', 'lm', 'mm', 'rm', 'ls', 'md', 'ra', 'lt', 'mb']


@pytest.fixture(params=['DejaVu Sans', "PIL's own"])
def font(request, monkeypatch):
    """Each text cache emptied, with the font a report uses or the one it falls back to
    without matplotlib."""
    caches = [base.default_font, base._word, base._text_mask, base._text_patch, base._space,
              base._anchor_drop, base._numbers_from_glyphs]
    for cache in caches:
        cache.cache_clear()
    if request.param != 'DejaVu Sans':
        monkeypatch.setattr(base, 'default_font', functools.lru_cache(maxsize=None)(
            lambda size: ImageFont.load_default(size=size)))
    yield request.param
    for cache in caches:
        cache.cache_clear()


@pytest.mark.parametrize('size', [9, 11, 13, 20])
def test_text_equals_pils_rendering(font, size):
    for anchor in ANCHORS:
        for text in TEXTS:
            ours = np.full((60, 520, 3), 255, np.uint8)
            base.draw_text(ours, (260, 30), text, size, (200, 30, 10), anchor=anchor)
            theirs = Image.new('RGB', (520, 60), 'white')
            ImageDraw.Draw(theirs).text((260, 30), text, fill=(200, 30, 10),
                                        font=base.default_font(size), anchor=anchor)
            assert np.array_equal(ours, np.asarray(theirs)), (text, size, anchor)


def test_text_length_equals_pils(font):
    for size in (9, 13):
        for text in TEXTS:
            assert base.text_length(text, size) == base.default_font(size).getlength(text)


def test_a_new_number_is_put_together_from_kept_glyphs(monkeypatch):
    rendered = []
    render = base._rendered
    monkeypatch.setattr(base, '_rendered', lambda text, size, anchor: rendered.append(text)
                        or render(text, size, anchor))
    canvas = np.full((30, 200, 3), 255, np.uint8)
    base.draw_text(canvas, (10, 15), 'output -1.2345', 13, anchor='lm')
    rendered.clear()
    base.draw_text(canvas, (10, 15), 'output -5.4321', 13, anchor='lm')
    assert rendered == []  # the caption's words and the digits were kept
