"""TableVisualizer: horizontal bars of per-feature saliency.

The chart is laid out once as a list of rectangles, lines and texts, which PIL rasterises
for the returned picture and which is written out directly as SVG. matplotlib would take
over 100 ms a chart, nearly all of it laying out text.
"""

import math
import numbers
import typing
from xml.sax.saxutils import escape

import numpy as np

from saliency_ext.optional import require
from saliency_ext.visualizers import colors, compose, scalers
from saliency_ext.visualizers.base import BaseVisualizer, check_bbox_inches, to_numpy
from saliency_ext.visualizers.text import draw_text, text_length

SORTS = ('descending', 'ascending', 'none')
_PAD = 8  # pixels around the chart and between the labels and the bars
_TICK = 4  # pixels, length of a tick mark
_BAR_FILL = 0.7  # fraction of a row that its bar fills
_LABEL_SHARE = 0.4  # the most of the width that feature names may take
_BLACK = (0, 0, 0)
_ANCHORS = {'end': 'rm', 'middle': 'mm'}  # SVG text-anchor -> PIL anchor, centred vertically


class _Chart(typing.NamedTuple):
    """A chart as primitives, in pixels, that the PNG and the SVG renderers draw alike.

    Attributes:
        size (tuple): ``(width, height)``.
        rects (list): ``(x0, y0, x1, y1, rgb)`` filled rectangles, ``rgb`` in ``0..255``.
        lines (list): ``(x0, y0, x1, y1)`` black lines one pixel wide.
        texts (list): ``(x, y, text, anchor, rgb)``; ``y`` is the text's vertical centre and
            ``anchor`` (``'end'`` or ``'middle'``) says where ``x`` is.
    """

    size: tuple
    rects: list
    lines: list
    texts: list


class _Style(typing.NamedTuple):
    """What the caller chose about the chart's look: a title, one colour for every bar
    (``None``: red or blue by sign) as ``uint8`` RGB, and the value axis label."""

    title: typing.Optional[str]
    color: typing.Optional[tuple]
    xlabel: typing.Optional[str]


def _bar_colour(color):
    """A matplotlib colour (``'b'``, ``'tab:blue'``, ``'#1f77b4'``, an RGB tuple) as ``uint8``
    RGB; ``None`` stays ``None``."""
    if color is None:
        return None
    to_rgb = require('matplotlib.colors', 'TableVisualizer (color)').to_rgb
    try:
        return tuple(colors.to_uint8(to_rgb(color)).tolist())
    except ValueError as error:
        raise ValueError(f'color must be a matplotlib colour such as \'b\' or \'#1f77b4\', '
                         f'or None for red and blue by sign; got {color!r}') from error


def _order(scaled, sort):
    """Indices of the features in drawing order (top first); missing ones come last."""
    if sort == 'none':
        return np.arange(scaled.values.size)
    magnitude = np.abs(scaled.values)
    key = -magnitude if sort == 'descending' else magnitude
    # A stable sort keeps the features' order among equal magnitudes.
    return np.argsort(np.where(scaled.missing, np.inf, key), kind='stable')


def _value_range(scaled, fixed):
    """The value axis: the whole colour range on a fixed scale, so that bars compare
    across charts; else fitted to the bars (a magnitude map fills the chart); always
    including zero and every bar."""
    values = scaled.values[~scaled.missing]
    lo, hi = ((-1.0 if scaled.signed else 0.0), 1.0) if fixed else (0.0, 0.0)
    lo, hi = min(lo, values.min(initial=0.0)), max(hi, values.max(initial=0.0))
    return (lo, hi) if hi > lo else (0.0, 1.0)


def _ticks(lo, hi):
    """About five round values from ``lo`` to ``hi``: multiples of 1, 2, 2.5 or 5 x 10^k."""
    target = (hi - lo) / 4
    unit = 10.0 ** math.floor(math.log10(target))
    step = next(m * unit for m in (1, 2, 2.5, 5, 10) if m * unit >= target * (1 - 1e-9))
    first, last = math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9)
    return [k * step for k in range(first, last + 1)]


def _axis(scaled, scaler):
    """The value axis: its label, and the maps from the bars' scaled values to the values
    its ticks show and back. A linear :class:`~saliency_ext.visualizers.scalers.Scaler`'s
    ticks are in raw saliency units, :data:`normalize_scaler`'s in shares of the total."""
    if isinstance(scaler, scalers.NormalizeScaler):
        return 'share of the total |saliency|', _same, _same
    if not isinstance(scaler, scalers.Scaler):
        return 'saliency' if scaler is None else 'saliency, as scaled', _same, _same
    lo, hi = scaled.limits
    if scaled.signed:
        return 'saliency', lambda v: v * hi, lambda v: v / hi
    return 'saliency', lambda v: lo + v * (hi - lo), lambda v: (v - lo) / (hi - lo)


def _same(value):
    return value


def _svg(chart, font_size):
    """The chart as an SVG document."""
    width, height = chart.size
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="Aileron, Helvetica, Arial, '
             f'sans-serif" font-size="{font_size}">',
             f'<rect width="{width}" height="{height}" fill="#ffffff"/>']
    parts += [f'<rect x="{x0:.1f}" y="{y0:.1f}" width="{x1 - x0:.1f}" height="{y1 - y0:.1f}" '
              f'fill="#{bytes(rgb).hex()}"/>' for x0, y0, x1, y1, rgb in chart.rects]
    parts += [f'<line x1="{x0:.1f}" y1="{y0:.1f}" x2="{x1:.1f}" y2="{y1:.1f}" '
              'stroke="#000000"/>' for x0, y0, x1, y1 in chart.lines]
    parts += [f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" dominant-baseline="central" '
              f'fill="#{bytes(rgb).hex()}">{escape(text)}</text>'
              for x, y, text, anchor, rgb in chart.texts]
    return '\n'.join(parts + ['</svg>\n'])


def _rasterize(chart, font_size):
    """The chart as an RGB ``uint8`` array, drawn with PIL."""
    image_module = require('PIL.Image', 'TableVisualizer')
    image_draw = require('PIL.ImageDraw', 'TableVisualizer')
    image = image_module.new('RGB', chart.size, 'white')
    draw = image_draw.Draw(image)
    for x0, y0, x1, y1, rgb in chart.rects:
        draw.rectangle((x0, y0, x1, y1), fill=rgb)
    for line in chart.lines:
        draw.line(line, fill=_BLACK)
    for x, y, text, anchor, rgb in chart.texts:
        draw_text(image, (x, y), text, font_size, rgb, anchor=_ANCHORS[anchor])
    return np.asarray(image)


class TableVisualizer(BaseVisualizer):
    """Draw one horizontal bar per feature, red for positive and blue for negative saliency.

    On a scale from a :class:`~saliency_ext.visualizers.scalers.Scaler` the value axis spans
    at least the whole colour range (``[-1, 1]`` or ``[0, 1]``), so that charts drawn with one
    ``FixedScaler`` compare bar for bar; with a scaler function or ``None`` it fits the bars.

    Args:
        width (int): width of the chart in pixels.
        bar_height (int): pixels per bar; the chart grows with the number of bars.
        font_size (int): size of the text in pixels.

    Raises:
        ValueError: if a size is not a positive int.
    """

    extensions = ('.png', '.svg')

    def __init__(self, *, width=640, bar_height=24, font_size=13):
        for name, value in (('width', width), ('bar_height', bar_height),
                            ('font_size', font_size)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f'{name} must be a positive int, got {value!r}')
        self.width = int(width)
        self.bar_height = int(bar_height)
        self.font_size = int(font_size)

    def visualize(self, saliency, feature_names=None, save_filepath=None, num_visualize=-1,
                  scaler=scalers.abs_max_scaler, sort='descending', title=None, color=None,
                  xlabel=None, bbox_inches=None):
        """Draw the saliency of each feature as a bar.

        The arguments are Chainer Chemistry's, in its order.

        Args:
            saliency (numpy.ndarray or cupy.ndarray): 1-D, one value per feature. NaN and
                infinite values get no bar and a grey "(missing)" label, with a warning.
            feature_names (sequence of str or None): one name per feature; ``None`` names
                them ``x0``, ``x1``, ... Long names are shortened with an ellipsis.
            save_filepath (str or None): a ``.png`` or ``.svg`` file to write the chart to.
            num_visualize (int): how many bars to draw, the first ones in drawing order;
                ``-1`` draws all.
            scaler: a scaler from :mod:`saliency_ext.visualizers.scalers`, a function or
                ``None``; see :func:`~saliency_ext.visualizers.scalers.apply_scaler`.
            sort (str): ``'descending'`` puts the largest magnitude on top, ``'ascending'``
                the smallest, ``'none'`` keeps the features' order.
            title (str or None): a title above the chart.
            color: one matplotlib colour for every bar (``'b'``, ``'#1f77b4'``); ``None``
                draws positive bars red and negative ones blue.
            xlabel (str or None): the value axis label; ``None`` says how the values were
                scaled.
            bbox_inches: Chainer Chemistry's ``savefig`` option: ``'tight'`` and ``None`` are
                taken (the chart has no margin to trim); anything else is refused.

        Returns:
            numpy.ndarray: the chart, ``uint8`` ``(H, W, 3)``.

        Raises:
            ValueError: if ``saliency`` is not 1-D, ``feature_names`` has the wrong length,
                ``num_visualize`` or ``sort`` is not valid, or the file extension is unknown.
        """
        self._output_extension(save_filepath)
        check_bbox_inches(bbox_inches)
        style = _Style(title, _bar_colour(color), xlabel)
        saliency = to_numpy(saliency)
        if saliency.ndim != 1:
            raise ValueError(f'saliency must be 1-D (one value per feature), got shape '
                             f'{saliency.shape}')
        names = self._names(feature_names, saliency.size)
        if isinstance(num_visualize, bool) or not isinstance(num_visualize, numbers.Integral) \
                or not (num_visualize == -1 or num_visualize >= 1):
            raise ValueError(f'num_visualize must be -1 (all) or a positive int, '
                             f'got {num_visualize!r}')
        if sort not in SORTS:
            raise ValueError(f'sort must be one of {SORTS}, got {sort!r}')
        scaled = self._scale(saliency, scaler)
        order = _order(scaled, sort)
        if num_visualize != -1:
            order = order[:num_visualize]
        chart = self._layout(scaled, names, order, scaler, style)
        rgb = _rasterize(chart, self.font_size)
        return self._write(rgb, save_filepath, svg=lambda: _svg(chart, self.font_size))

    @staticmethod
    def _names(feature_names, n):
        if feature_names is None:
            return [f'x{i}' for i in range(n)]
        names = [str(name) for name in feature_names]
        if len(names) != n:
            raise ValueError(f'feature_names has {len(names)} names for {n} features: '
                             f'{names!r}')
        return names

    def check_arguments(self, **kwargs):
        """Check :meth:`visualize`'s arguments other than the saliency, without drawing."""
        super().check_arguments(**kwargs)
        check_bbox_inches(kwargs.get('bbox_inches'))
        _bar_colour(kwargs.get('color'))

    def _layout(self, scaled, names, order, scaler, style):
        """Place the title, the bars, the feature names and the value axis."""
        size, row = self.font_size, self.bar_height
        top = _PAD + (round(1.8 * size) if style.title else 0)
        grey = tuple(colors.to_uint8(colors.MISSING).tolist())
        labels = [(f'{names[i]} (missing)', grey) if scaled.missing[i] else (names[i], _BLACK)
                  for i in order]
        label_width = min(max((text_length(t, size) for t, _ in labels), default=0.0),
                          _LABEL_SHARE * self.width)
        # room on the right for half of the widest tick label
        left, right = 2 * _PAD + label_width, self.width - _PAD - 2.2 * size
        lo, hi = _value_range(scaled, isinstance(scaler, scalers.FixedScaler))

        def x(value):
            return left + (value - lo) / (hi - lo) * (right - left)

        axis_y = top + len(order) * row
        rects, texts = [], []
        if style.title:
            texts.append((self.width / 2, _PAD + 0.9 * size,
                          compose.fit_text(style.title, self.width - 2 * _PAD, size),
                          'middle', _BLACK))
        for k, (i, (label, rgb)) in enumerate(zip(order, labels)):
            middle = top + (k + 0.5) * row
            texts.append((left - _PAD, middle, compose.fit_text(label, label_width, size),
                          'end', rgb))
            if not scaled.missing[i]:
                end = colors.RED if scaled.values[i] >= 0 else colors.BLUE
                x0, x1 = sorted((x(0.0), x(scaled.values[i])))
                half = _BAR_FILL * row / 2
                rects.append((x0, middle - half, x1, middle + half,
                              style.color or tuple(colors.to_uint8(end).tolist())))
        lines = [(x(0.0), top, x(0.0), axis_y), (left, axis_y, right, axis_y)]
        label, raw, back = _axis(scaled, scaler)
        for tick in _ticks(raw(lo), raw(hi)):
            lines.append((x(back(tick)), axis_y, x(back(tick)), axis_y + _TICK))
            texts.append((x(back(tick)), axis_y + _TICK + 0.8 * size, f'{tick:.3g}',
                          'middle', _BLACK))
        if style.xlabel is not None:
            label = style.xlabel
        texts.append(((left + right) / 2, axis_y + _TICK + 2.3 * size, label, 'middle',
                      _BLACK))
        height = math.ceil(axis_y + _TICK + 3.0 * size + _PAD)
        return _Chart((self.width, height), rects, lines, texts)
