"""What the visualizers share: input conversion, a font, scaling with
missing values, the output contract."""

import functools
import importlib
import importlib.util
import inspect
import os
import typing
import warnings

import numpy as np
from chainer import backend

from saliency_ext.optional import require
from saliency_ext.visualizers import colors, scalers


def to_numpy(array, dtype=np.float64):
    """Bring a numpy or cupy array (or a nested list) to the host as a numpy array.

    Args:
        array: the array, on any Chainer device.
        dtype: the dtype of the result; ``None`` keeps the array's own.

    Returns:
        numpy.ndarray: a host copy (or the array itself when it already fits).
    """
    return np.asarray(backend.CpuDevice().send(array), dtype=dtype)


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
    words = [_word(w, size) for w in text.split(' ')]
    origins = _origins(words, _space(size))
    composed = None
    if anchor[0] in 'lmr' and anchor[1] in 'amsd' and text.strip(' ') == text:
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
    as ``ImageDraw.text`` would, in the default font at ``size`` pixels, with the glyphs
    rendered once per text and kept: reports draw the same labels, ticks and captions again
    and again, and rendering is most of the cost."""
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


class ScaledSaliency(typing.NamedTuple):
    """Saliency mapped onto the colour range by a scaler.

    Attributes:
        values (numpy.ndarray): scaled values, 0 where ``missing``; in ``[-1, 1]`` for a signed
            scale and ``[0, 1]`` otherwise (values outside a fixed scale go beyond).
        missing (numpy.ndarray): bool mask of the entries that were NaN or infinite.
        limits (tuple): the raw values drawn at the two ends of the colour range.
        signed (bool): whether the scale is signed (diverging colours) or not (sequential).
    """

    values: np.ndarray
    missing: np.ndarray
    limits: tuple
    signed: bool


def check_bbox_inches(bbox_inches):
    """Accept Chainer Chemistry's ``bbox_inches`` where it changes nothing here.

    Pictures are drawn to their content, with no figure margin to trim, so ``'tight'`` (its
    default) and ``None`` are taken; anything else cannot be honoured.
    """
    if bbox_inches not in (None, 'tight'):
        raise ValueError(f"bbox_inches={bbox_inches!r} cannot be honoured: pictures are drawn "
                         "to their content without a figure margin, so only 'tight' or None "
                         "are taken; crop the returned array (rgb[top:bottom, left:right]) "
                         "to keep part of it")


def add_title(rgb, title, size):
    """``rgb`` under a white band with ``title`` centred in it, drawn with PIL.

    Args:
        rgb (numpy.ndarray): the picture, ``uint8`` ``(H, W, 3)``.
        title (str): the text.
        size (int): font size in pixels; the band is 1.8 times as high.
    """
    image_module = require('PIL.Image', 'drawing a title')
    image_draw = require('PIL.ImageDraw', 'drawing a title')
    band = round(1.8 * size)
    height, width = rgb.shape[:2]
    picture = image_module.new('RGB', (width, height + band), 'white')
    picture.paste(image_module.fromarray(np.ascontiguousarray(rgb)), (0, band))
    image_draw.Draw(picture).text((width / 2, band / 2), title, fill=(0, 0, 0),
                                  font=default_font(size), anchor='mm')
    return np.asarray(picture)


def fitted_size(size, width, height):
    """The ``(width, height)`` of a picture of ``size`` (width, height) shrunk to fit
    ``width`` x ``height``, keeping its aspect ratio; None when it fits as it is."""
    factor = min(width / size[0], height / size[1])
    if factor >= 1:
        return None
    return max(1, round(size[0] * factor)), max(1, round(size[1] * factor))


class BaseVisualizer:
    """A visualizer turns one saliency array into an RGB picture and optionally a file.

    Subclasses implement ``visualize(saliency, ..., save_filepath=None)``, which returns the
    picture as a ``uint8`` array ``(H, W, 3)`` and writes it when ``save_filepath`` is given,
    in the format its extension names (one of :attr:`extensions`).
    """

    #: File extensions that ``save_filepath`` may end with, lower case.
    extensions = ('.png',)

    def visualize(self, saliency, *args, **kwargs):
        """Draw ``saliency``; see the subclass for the arguments."""
        raise NotImplementedError

    def for_cell(self, width, height):
        """A visualizer that draws as this one does but fits ``width`` x ``height`` pixels,
        for the small tiles of a report's overview and history: this one where it draws
        only at the size of its input (the report then shrinks the picture); subclasses
        with a size of their own draw small tiles directly, at a fraction of the cost."""
        return self

    def check_arguments(self, **kwargs):
        """Check keyword arguments of :meth:`visualize`, other than the saliency, without
        drawing: a report checks each probe item's arguments when training starts.

        Raises:
            TypeError: for an argument ``visualize`` does not take, or a missing one.
            ValueError: as ``visualize`` would for a value it cannot draw (subclasses check
                what they can without the saliency).
        """
        inspect.signature(self.visualize).bind(None, **kwargs)

    def _output_extension(self, save_filepath):
        """Check ``save_filepath`` before any drawing; return its extension or ``None``."""
        if save_filepath is None:
            return None
        extension = os.path.splitext(os.fspath(save_filepath))[1].lower()
        if extension not in self.extensions:
            raise ValueError(f'{type(self).__name__} cannot write {save_filepath!r}: the file '
                             f'name must end with one of {", ".join(self.extensions)}')
        return extension

    def _write(self, rgb, save_filepath, svg=None, png=None):
        """Write the picture in the format of ``save_filepath``'s extension; return ``rgb``.

        Args:
            rgb (numpy.ndarray): the picture, ``uint8`` ``(H, W, 3)``.
            save_filepath (str or None): where to write; ``None`` writes nothing.
            svg (callable): returns the picture as SVG text; called only for an SVG path.
            png (bytes): the picture already encoded as PNG, written as it is; ``None``
                encodes ``rgb``.
        """
        extension = self._output_extension(save_filepath)
        if extension == '.svg':
            with open(save_filepath, 'w', encoding='utf-8') as f:
                f.write(svg())
        elif extension == '.png' and png is not None:
            with open(save_filepath, 'wb') as f:
                f.write(png)
        elif extension == '.png':
            image = require('PIL.Image', f'{type(self).__name__} (writing PNG)')
            image.fromarray(rgb).save(save_filepath, format='PNG')
        return rgb

    def _scale(self, saliency, scaler):
        """Scale ``saliency`` for drawing, marking NaN or infinite entries as missing.

        Args:
            saliency (numpy.ndarray): float saliency, already shaped for this visualizer.
            scaler: a :class:`~saliency_ext.visualizers.scalers.Scaler`, a function of an
                array that returns the scaled array, or ``None`` to draw values as they are.

        Returns:
            ScaledSaliency: the scaled values, the missing mask and the colour scale.
        """
        missing = ~np.isfinite(saliency)
        if missing.any():
            warnings.warn(f'{type(self).__name__}: {missing.sum()} of {missing.size} saliency '
                          'values are NaN or infinite; they are drawn as missing (grey)',
                          RuntimeWarning, stacklevel=3)
            saliency = np.where(missing, np.nan, saliency)
        values, limits, signed = scalers.apply_scaler(saliency, scaler)
        missing |= ~np.isfinite(values)
        return ScaledSaliency(np.where(missing, 0.0, values), missing, limits, signed)


def side_by_side(left, right, gap=8):
    """Two RGB ``uint8`` pictures as one, ``right`` beside ``left`` with a
    white ``gap`` (pixels) between them; the shorter one gets a white band
    on top, so that pictures with and without a title line up at the
    bottom."""
    height = max(left.shape[0], right.shape[0])

    def padded(rgb):
        top = np.full((height - rgb.shape[0],) + rgb.shape[1:], 255, np.uint8)
        return np.concatenate([top, rgb])
    space = np.full((height, gap, 3), 255, np.uint8)
    return np.concatenate([padded(left), space, padded(right)], axis=1)
