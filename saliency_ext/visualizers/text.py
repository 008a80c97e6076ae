"""Text on pictures: DejaVu Sans (PIL's own font without matplotlib), drawn as
PIL draws it but from words and glyphs rendered once, since reports print the
same words and new numbers again and again."""
import functools
import importlib.util
import os

import numpy as np

from saliency_ext.optional import require
from saliency_ext.visualizers import colors


@functools.lru_cache(maxsize=None)
def default_font(size):
    """DejaVu Sans, the TrueType font matplotlib ships, at ``size`` pixels: it
    covers accented Latin, Greek and Cyrillic feature names. PIL's own font
    (Latin only) stands in where matplotlib is not installed."""
    image_font = require('PIL.ImageFont', 'drawing text')
    # found, not imported: importing matplotlib took 0.15 s of a drawing process's first report
    spec = importlib.util.find_spec('matplotlib')
    try:
        path = os.path.join(spec.submodule_search_locations[0], 'mpl-data', 'fonts',
                            'ttf', 'DejaVuSans.ttf')
        # the basic layout engine: several times faster than Raqm for these labels
        return image_font.truetype(path, size, layout_engine=image_font.Layout.BASIC)
    except (AttributeError, OSError):  # no matplotlib, or no font in it
        return image_font.load_default(size=size)


def _rendered(text, size, anchor):
    """``text`` rendered by PIL: its coverage mask (``uint8``) and the mask's offset from
    the anchor point."""
    font = default_font(size)
    left, top, right, bottom = font.getbbox(text, anchor=anchor)
    mask = require('PIL.Image', 'drawing text').new(
        'L', (max(1, right - left), max(1, bottom - top)), 0)
    require('PIL.ImageDraw', 'drawing text').Draw(mask).text(
        (-left, -top), text, fill=255, font=font, anchor=anchor)
    return np.asarray(mask), (left, top)


#: The characters of the numbers reports print (ticks, outputs, epochs).
_NUMERIC = frozenset('0123456789.-+e')


@functools.lru_cache(maxsize=8192)
def _word(word, size):
    """A word (no spaces) at its origin on the baseline: its coverage mask, the mask's
    offset, the word's advance and whether it has ink. A number is put together from its
    glyphs where the font allows (:func:`_numbers_from_glyphs`): reports print new numbers
    all the time."""
    if len(word) > 1 and _NUMERIC.issuperset(word) and _numbers_from_glyphs(size):
        glyphs = [_word(c, size) for c in word]
        origins = _origins(glyphs, 0)
        composed = _composed(glyphs, origins)
        if composed is not None:
            return composed + (origins[-1], True)
    mask, offset = _rendered(word, size, 'ls')
    return mask, offset, default_font(size).getlength(word), bool(mask.any())


@functools.lru_cache(maxsize=64)
def _numbers_from_glyphs(size):
    """Whether numbers drawn glyph by glyph come out as PIL renders them at ``size``: no
    two of their characters kern, each advances by whole pixels, and sample numbers match
    PIL's own rendering pixel for pixel (glyphs that overlap would not)."""
    font = default_font(size)
    if any(font.getlength(a + b) != font.getlength(a) + font.getlength(b) or
           font.getlength(a) != int(font.getlength(a)) for a in _NUMERIC for b in _NUMERIC):
        return False
    for sample in ('-0.0123456789', '9.87e-05', '4.5e+06', '1-1', '777', '.e+'):
        glyphs = [_word(c, size) for c in sample]
        mask, offset = _composed(glyphs, _origins(glyphs, 0))
        rendered, rendered_offset = _rendered(sample, size, 'ls')
        if offset != rendered_offset or not np.array_equal(mask, rendered):
            return False
    return True


def _origins(pieces, gap):
    """Where each of ``pieces`` (:func:`_word` results) starts, laid end to end ``gap``
    pixels apart, and where the last one ends."""
    origins, x = [], 0.
    for piece in pieces:
        origins.append(x)
        x += piece[2] + gap
    return origins + [x - gap]


def _composed(pieces, origins):
    """The coverage mask of ``pieces`` (:func:`_word` results) at ``origins`` and its offset
    from the first one's origin; None when ``origins`` are not whole pixels (PIL would
    render the pieces shifted) or no piece has ink."""
    if any(o != int(o) for o in origins):
        return None
    boxes = [(int(o) + left, top, mask)
             for o, (mask, (left, top), _, inked) in zip(origins, pieces) if inked]
    if not boxes:
        return None
    left = min(b[0] for b in boxes)
    top = min(b[1] for b in boxes)
    mask = np.zeros((max(b[1] + b[2].shape[0] for b in boxes) - top,
                     max(b[0] + b[2].shape[1] for b in boxes) - left), np.uint8)
    for x, y, piece in boxes:
        region = mask[y - top:y - top + piece.shape[0], x - left:x - left + piece.shape[1]]
        np.maximum(region, piece, out=region)
    return mask, (left, top)


@functools.lru_cache(maxsize=64)
def _anchor_drop(size, vertical):
    """How far below the anchor point the baseline lies, for a vertical anchor that does
    not depend on the glyphs (``a``, ``m``, ``s``, ``d``): the font's own metrics."""
    font = default_font(size)
    return font.getbbox('x', anchor='l' + vertical)[1] - font.getbbox('x', anchor='ls')[1]


@functools.lru_cache(maxsize=64)
def _space(size):
    """The advance of a space at ``size``."""
    return default_font(size).getlength(' ')


def text_length(text, size):
    """The advance width of ``text`` in pixels, as ``font.getlength`` gives it, summed from
    its words' (which are kept): a space has no kerning with its neighbours."""
    words = text.split(' ')
    return sum(_word(w, size)[2] for w in words) + (len(words) - 1) * _space(size)


@functools.lru_cache(maxsize=4096)
def _text_mask(text, size, anchor):
    """The coverage mask (``uint8``) of ``text`` and its offset from the anchor point.

    Put together from the text's words, each rendered once and kept: reports repeat the
    same words with new numbers between them, and PIL lays out and renders every glyph
    of a text at each call. PIL renders whole the texts whose words it would place off
    whole pixels (after a kerned pair), that start or end with a space (its box holds
    them) or whose anchor the glyphs set (``t``, ``b``)."""
    if anchor[0] not in 'lmr' or anchor[1] not in 'amsd' or text.strip(' ') != text:
        return _rendered(text, size, anchor)
    words = [_word(w, size) for w in text.split(' ')]
    origins = _origins(words, _space(size))
    composed = _composed(words, origins)
    if composed is None:
        return _rendered(text, size, anchor)
    (mask, (left, top)), width = composed, int(origins[-1])
    shift = {'l': 0, 'm': (width + 1) // 2, 'r': width}[anchor[0]]
    return mask, (left - shift, top + _anchor_drop(size, anchor[1]))


@functools.lru_cache(maxsize=64)
def _on_white(fill):
    """The colour of each coverage 0..255 of ``fill`` on white, ``uint8`` ``(256, 3)``."""
    table = np.full((256, 1, 3), 255, np.uint8)
    _blend(table, np.arange(256, dtype=np.uint16)[:, None, None], fill)
    return table[:, 0]


@functools.lru_cache(maxsize=1024)
def _text_patch(text, size, anchor, fill):
    """``text`` in ``fill`` on white, RGB ``uint8``: most text is drawn on white."""
    return _on_white(fill)[_text_mask(text, size, anchor)[0]]


def draw_text(canvas, xy, text, size, fill=(0, 0, 0), anchor='la'):
    """Draws ``text`` on ``canvas``, a PIL image or an RGB ``uint8`` array (drawn in place),
    as ``ImageDraw.text`` would, in the default font at ``size`` pixels, from words and
    glyphs rendered once and kept (:func:`_text_mask`): reports draw the same labels, ticks
    and captions again and again, with new numbers in them."""
    if not text:
        return
    mask, (left, top) = _text_mask(text, size, anchor)
    x, y = round(xy[0]) + left, round(xy[1]) + top
    if not isinstance(canvas, np.ndarray):
        canvas.paste(tuple(fill), (x, y), require('PIL.Image', 'drawing text').fromarray(mask))
        return
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + mask.shape[1], canvas.shape[1]), min(y + mask.shape[0], canvas.shape[0])
    if x1 <= x0 or y1 <= y0:
        return
    region, inside = canvas[y0:y1, x0:x1], np.s_[y0 - y:y1 - y, x0 - x:x1 - x]
    if region.min() == 255:  # on white: the text as drawn once
        region[...] = _text_patch(text, size, anchor, tuple(fill))[inside]
    else:
        _blend(region, mask[inside + (None,)].astype(np.uint16), fill)


def _blend(region, coverage, fill):
    """Blends ``fill`` into the array ``region`` in place by ``coverage`` (``uint16``
    ``(h, w, 1)``), as PIL pastes a colour through a mask: the same rounded division by
    255, so the pixels equal PIL's."""
    mixed = region * (255 - coverage)
    mixed += coverage * np.asarray(fill, np.uint16)
    region[...] = colors.divided_by_255(mixed)
