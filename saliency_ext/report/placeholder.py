"""The picture that stands in for one that could not be drawn: it says which
item it is and why, so the other items' pictures stay as they are."""
import textwrap

import numpy

from saliency_ext.optional import require
from saliency_ext.visualizers.text import default_font

SIZE = (320, 240)  # (width, height) when there is no other picture to match
# Font size in pixels: a thirtieth of the width, so that the text stays readable where
# TensorBoard shrinks a wide picture into a card, and no smaller than the visualizers' text.
FONT_SCALE = 1 / 30
MIN_FONT_SIZE = 13
_BACKGROUND = (236, 236, 236)
_BORDER = (200, 40, 40)
_TEXT = (0, 0, 0)
_MARGIN = 10


def placeholder(lines, size=SIZE):
    """A grey picture with a red border and ``lines`` of text, wrapped to
    its width and cut to its height.

    Args:
        lines (list of str): The text, one paragraph per line.
        size (tuple): ``(width, height)`` in pixels.

    Returns:
        numpy.ndarray: RGB ``uint8`` ``(height, width, 3)``.
    """
    image_module = require('PIL.Image', 'placeholder pictures')
    image_draw = require('PIL.ImageDraw', 'placeholder pictures')
    width, height = max(int(size[0]), 120), max(int(size[1]), 80)
    picture = image_module.new('RGB', (width, height), _BACKGROUND)
    draw = image_draw.Draw(picture)
    draw.rectangle((0, 0, width - 1, height - 1), outline=_BORDER, width=3)
    size = max(MIN_FONT_SIZE, round(width * FONT_SCALE))
    font = default_font(size)
    columns = max(10, int((width - 2 * _MARGIN) / (0.55 * size)))
    wrapped = [part for line in lines
               for part in textwrap.wrap(line, columns) or ['']]
    step = round(1.35 * size)
    fits = max(1, (height - 2 * _MARGIN) // step)
    if len(wrapped) > fits:
        wrapped = wrapped[:fits - 1] + ['\u2026']
    for k, text in enumerate(wrapped):
        draw.text((_MARGIN, _MARGIN + k * step), text, fill=_TEXT, font=font)
    return numpy.asarray(picture)
