"""Putting pictures together so they read on their own: captions, a colour
legend, tiles and strips (numpy and PIL, DejaVu Sans text).

A saliency picture cannot be read without its legend: which colour means
what, and on which scale. :func:`legend` draws that strip; :func:`framed`
puts a caption above a picture and the legend under it; :func:`tiled` lays
out many labelled pictures under one legend.
"""
import functools
import math

import numpy as np

from saliency_ext.optional import require
from saliency_ext.visualizers import colors
from saliency_ext.visualizers.base import fitted_size
from saliency_ext.visualizers.text import default_font, draw_text, text_length

WHITE = (255, 255, 255)
BLACK = (0, 0, 0)
GREY = (90, 90, 90)
PAD = 6
FONT_SIZE = 13
SMALL_FONT_SIZE = 11
BAR_HEIGHT = 12
#: What the colours say, for signed maps and for magnitudes.
SIGNED_MEANING = 'red: raises the explained output, blue: lowers it'
UNSIGNED_MEANING = 'white to red: no to the largest influence (sign dropped)'


def _pil():
    return (require('PIL.Image', 'drawing pictures'),
            require('PIL.ImageDraw', 'drawing pictures'))


def text_width(text, size=FONT_SIZE):
    """Width in pixels of ``text`` in the default font."""
    return math.ceil(text_length(text, size))


@functools.lru_cache(maxsize=4096)
def fit_text(text, width, size=FONT_SIZE):
    """``text`` shortened with an ellipsis to at most ``width`` pixels (kept: every picture
    of a report repeats its header, and every report the legends' lines and the items'
    names)."""
    if text_length(text, size) <= width:
        return text
    font = default_font(size)  # the shortened texts are measured, not drawn
    while len(text) > 1 and font.getlength(text) > width:
        text = text[:-2] + '\u2026'
    return text


def _band_height(lines, size):
    """The height of a band of ``lines`` lines of text."""
    return PAD + round(1.35 * size) * lines


def _white(height, width):
    """A white RGB ``uint8`` canvas."""
    return np.full((height, width, 3), 255, np.uint8)


def _write_lines(canvas, corner, lines, width, size, align='left'):
    """Writes ``lines`` on the array ``canvas`` as a band ``width`` wide at ``corner``
    (x, y) holds them (the band's background is the canvas's)."""
    line_height = round(1.35 * size)
    x = corner[0] + (PAD if align == 'left' else width // 2)
    for k, line in enumerate(lines):
        draw_text(canvas, (x, corner[1] + PAD // 2 + k * line_height + line_height // 2),
                  fit_text(line, width - 2 * PAD, size), size,
                  anchor='lm' if align == 'left' else 'mm')


def text_band(lines, width, *, size=FONT_SIZE, align='left'):
    """White band holding ``lines`` of text, one under the other."""
    band = _white(_band_height(len(lines), size), width)
    _write_lines(band, (0, 0), lines, width, size, align)
    return band


def format_value(value):
    """A tick label: three significant digits, no needless zeros."""
    return '0' if value == 0 else '{:.3g}'.format(value)


def legend(width, limits, signed, *, note=None, size=SMALL_FONT_SIZE):
    """The colour legend of a picture: the colour bar with its value range
    and what the colours mean.

    Args:
        width (int): Width in pixels.
        limits (tuple): ``(vmin, vmax)``, the raw values at the two ends of
            the colours; ``None`` when every picture has its own scale.
        signed (bool): Whether the colours run from blue through white to
            red (signed values) or from white to red (magnitudes).
        note (str): A last line, such as what the scale is shared by.

    Returns:
        numpy.ndarray: RGB ``uint8`` ``(H, width, 3)``.
    """
    strip = _legend_without_ticks(width, signed, note, limits is None, size).copy()
    if limits is not None:
        left, right, y = _tick_places(width, size)
        ticks = [(left, limits[0]), (right, limits[1])]
        if signed:
            ticks.append(((left + right) // 2, 0.0))
        for x, value in ticks:
            strip[PAD + BAR_HEIGHT:PAD + BAR_HEIGHT + 4, x] = BLACK
            draw_text(strip, (x, y), format_value(value), size, anchor='mm')
    return strip


def _tick_places(width, size):
    """The x of the colour bar's two ends in a legend ``width`` wide, and the y of the
    tick labels."""
    left = PAD + text_width('-0.000', size) // 2
    return left, width - left, PAD + BAR_HEIGHT + round(1.35 * size) // 2 + 2


@functools.lru_cache(maxsize=64)
def _legend_without_ticks(width, signed, note, own_scales, size):
    """A legend but its ticks and their values, which change with every picture's scale:
    drawn once, copied for each picture (read-only)."""
    image, draw = _pil()
    line = round(1.35 * size)
    lines = [SIGNED_MEANING if signed else UNSIGNED_MEANING]
    if note:
        lines.append(note)
    if own_scales:
        lines.append('each picture on its own scale')
    height = PAD + BAR_HEIGHT + line * (1 + len(lines)) + PAD // 2
    strip = image.new('RGB', (width, height), WHITE)
    left, right, y = _tick_places(width, size)
    strip.paste(_colour_bar(max(right - left, 2), signed), (left, PAD))
    draw.Draw(strip).rectangle((left - 1, PAD - 1, right, PAD + BAR_HEIGHT), outline=GREY)
    for k, text in enumerate(lines):
        draw_text(strip, (width // 2, y + (k + 1) * line),
                  fit_text(text, width - 2 * PAD, size), size, GREY, anchor='mm')
    strip = np.asarray(strip)
    strip.flags.writeable = False
    return strip


@functools.lru_cache(maxsize=64)
def _colour_bar(width, signed):
    """The colours from the low end of the scale to the high end, as a PIL image."""
    positions = np.linspace(-1.0 if signed else 0.0, 1.0, width)
    bar = colors.to_uint8(colors.red_blue(positions))
    return _pil()[0].fromarray(np.ascontiguousarray(np.broadcast_to(
        bar, (BAR_HEIGHT,) + bar.shape)))


def _join(pictures, axis, gap, centred):
    """Pictures one after the other along ``axis`` (0: down, 1: right) on
    white, ``gap`` pixels apart, centred across it or at its start."""
    across = 1 - axis
    size = [0, 0]
    size[axis] = sum(p.shape[axis] for p in pictures) + gap * (len(pictures) - 1)
    size[across] = max(p.shape[across] for p in pictures)
    out = _white(*size)
    start = 0
    for picture in pictures:
        offset = (size[across] - picture.shape[across]) // 2 if centred else 0
        corner = [0, 0]
        corner[axis], corner[across] = start, offset
        out[corner[0]:corner[0] + picture.shape[0],
            corner[1]:corner[1] + picture.shape[1]] = picture
        start += picture.shape[axis] + gap
    return out


def stack(pictures, *, gap=0, align='center'):
    """Pictures one under the other on white, centred (or left-aligned)."""
    return _join(pictures, 0, gap, align == 'center')


def side_by_side(pictures, *, gap=PAD):
    """Pictures left to right on white, tops aligned."""
    return _join(pictures, 1, gap, False)


def framed(picture, caption=(), legend_strip=None):
    """``picture`` under the ``caption`` lines and over its legend."""
    parts = [picture] if legend_strip is None else [picture, legend_strip]
    width = max(p.shape[1] for p in parts)
    if caption:
        parts.insert(0, text_band(list(caption), max(width, 1)))
    return stack(parts)


def enlarge(picture, min_size):
    """``picture`` enlarged nearest-neighbour by the least whole factor that
    gives its shorter side at least ``min_size`` pixels (unchanged when it
    has them): an 8 x 8 map becomes sharp squares, not a few blocks."""
    factor = -(-min_size // min(picture.shape[:2]))
    if factor <= 1:
        return picture
    return np.repeat(np.repeat(picture, factor, axis=0), factor, axis=1)


def fit(picture, width, height):
    """``picture`` shrunk (never enlarged) to fit ``width`` x ``height``,
    keeping its aspect ratio."""
    size = fitted_size(picture.shape[1::-1], width, height)
    if size is None:
        return picture
    image, _ = _pil()
    return np.asarray(image.fromarray(np.ascontiguousarray(picture)).resize(
        size, image.Resampling.BOX))


def tiled(pictures, labels, *, columns, cell, size=SMALL_FONT_SIZE):
    """A grid of pictures, each shrunk to fit ``cell`` (width, height) and
    labelled above with its lines of ``labels``: tiles ``cell`` wide, ``PAD``
    apart, each picture centred under its label; a row as high as its highest
    tile. Drawn on one canvas: a report's overview tiles every probe item."""
    cell_w, cell_h = cell
    shrunk = [fit(p, cell_w, cell_h) for p in pictures]
    bands = [_band_height(len(label), size) for label in labels]
    starts = range(0, len(pictures), columns)
    heights = [max(b + s.shape[0] for b, s in zip(bands[i:i + columns], shrunk[i:i + columns]))
               for i in starts]
    canvas = _white(sum(heights) + PAD * (len(heights) - 1),
                    min(columns, len(pictures)) * (cell_w + PAD) - PAD)
    top = 0
    for start, height in zip(starts, heights):
        for k in range(start, min(start + columns, len(pictures))):
            left = (k - start) * (cell_w + PAD)
            _write_lines(canvas, (left, top), labels[k], cell_w, size)
            (h, w), x = shrunk[k].shape[:2], left + (cell_w - shrunk[k].shape[1]) // 2
            canvas[top + bands[k]:top + bands[k] + h, x:x + w] = shrunk[k]
        top += height + PAD
    return canvas


def grid_shape(n, cell, max_width):
    """Columns of a grid of ``n`` cells of ``cell`` (width, height) that is
    about as wide as high, at most ``max_width`` pixels wide."""
    cell_w, cell_h = cell
    columns = max(1, round(math.sqrt(n * cell_h / cell_w)))
    return max(1, min(n, columns, max_width // (cell_w + PAD)))
