"""Colours shared by the visualizers: one red/blue diverging map and colour lookup tables."""

import numpy as np

from saliency_ext.optional import require

#: RGB in [0, 1] of the strongest positive saliency.
RED = np.array([0.86, 0.08, 0.08])
#: RGB in [0, 1] of the strongest negative saliency.
BLUE = np.array([0.10, 0.30, 0.86])
#: RGB in [0, 1] of NaN or infinite saliency: a grey unlike any colour of the maps.
MISSING = np.array([0.55, 0.55, 0.55])
#: RGB in [0, 1] of the largest spread of the samples of a map: a teal that neither the
#: red/blue of the maps nor a greyscale image under them has.
SPREAD = np.array([0.0, 0.45, 0.38])
#: RGB in [0, 1] of the rings that show the spread on molecules: the spread's colour,
#: lightened so that black atom labels stay readable over it.
SPREAD_RING = 1.0 - 0.55 * (1.0 - SPREAD)

_WHITE = np.ones(3)
_LUT_SIZE = 256


def divided_by_255(products):
    """``products / 255`` rounded, in place: ``uint16`` sums of products of ``uint8`` values
    that stay within ``255 * 255`` (a colour through a mask, a colour under a drawing).
    Shifts divide by 255 exactly in that range, several times faster than a division.

    Returns:
        numpy.ndarray: ``products``, now within ``[0, 255]``.
    """
    products += 128
    products += products >> 8
    products >>= 8
    return products


def to_uint8(rgb):
    """RGB in ``[0, 1]`` (any shape ending in 3) as ``uint8`` in ``0..255``."""
    return np.round(np.asarray(rgb) * 255).astype(np.uint8)


def red_blue(value):
    """Diverging red/blue colour of scaled saliency.

    Zero is white; the colour goes towards :data:`RED` as the value rises to 1 and towards
    :data:`BLUE` as it falls to -1. Values outside ``[-1, 1]`` are clipped.

    Args:
        value (float or numpy.ndarray): scaled saliency.

    Returns:
        numpy.ndarray: RGB in ``[0, 1]``, shape ``numpy.shape(value) + (3,)``.
    """
    value = np.clip(np.asarray(value, dtype=np.float64), -1.0, 1.0)[..., None]
    end = np.where(value >= 0, RED, BLUE)
    return _WHITE + np.abs(value) * (end - _WHITE)


#: Chainer Chemistry's name of :func:`red_blue`, the default ``color_fn`` of molecules.
red_blue_cmap = red_blue


def spread_ramp(positions):
    """Colour map of a spread on ``[0, 1]``: white at zero (the image shows through), towards
    :data:`SPREAD` as it grows.

    Args:
        positions (numpy.ndarray): values in ``[0, 1]``.

    Returns:
        numpy.ndarray: RGB in ``[0, 1]``, shape ``positions.shape + (3,)``.
    """
    return _WHITE + np.asarray(positions, dtype=np.float64)[..., None] * (SPREAD - _WHITE)


def lookup_table(cmap, signed):
    """Sample a colour map into a table of 256 RGB ``uint8`` colours.

    Args:
        cmap: ``None`` for :func:`red_blue`: white to blue and red on a signed scale,
            white to red on an unsigned one (magnitudes), so that zero is white whatever
            the scale; a matplotlib colour map name; or a matplotlib ``Colormap`` (any
            callable that maps floats in ``[0, 1]`` to RGB or RGBA rows).
        signed (bool): whether the table spans ``[-1, 1]`` (else ``[0, 1]``); it only
            matters for ``cmap=None``.

    Returns:
        numpy.ndarray: ``uint8`` array ``(256, 3)``; row 0 is the low end of the range.

    Raises:
        ValueError: if ``cmap`` names no matplotlib colour map.
        TypeError: if ``cmap`` is neither a name nor callable.
    """
    positions = np.linspace(0.0, 1.0, _LUT_SIZE)
    if cmap is None:
        rgb = red_blue(2.0 * positions - 1.0 if signed else positions)
    else:
        if isinstance(cmap, str):
            colormaps = require('matplotlib', f'the colour map {cmap!r}').colormaps
            if cmap not in colormaps:
                raise ValueError(f'cmap {cmap!r} is not a matplotlib colour map name')
            cmap = colormaps[cmap]
        if not callable(cmap):
            raise TypeError(f'cmap must be None, a colour map name or a Colormap, got {cmap!r}')
        rgb = np.asarray(cmap(positions), dtype=np.float64)[:, :3]
    return to_uint8(rgb)


def apply_lookup_table(scaled, lut):
    """Colour scaled saliency with a table from :func:`lookup_table`.

    Args:
        scaled (ScaledSaliency): values, missing mask and whether the scale is signed.
        lut (numpy.ndarray): ``uint8`` ``(256, 3)`` table.

    Returns:
        numpy.ndarray: ``uint8`` RGB, shape ``scaled.values.shape + (3,)``; missing entries
        are :data:`MISSING` and values beyond the range take the colour of its nearest end.
    """
    unit = (scaled.values + 1.0) / 2.0 if scaled.signed else scaled.values
    index = np.clip(np.rint(unit * (_LUT_SIZE - 1)), 0, _LUT_SIZE - 1).astype(np.intp)
    rgb = np.take(lut, index, axis=0)
    rgb[scaled.missing] = to_uint8(MISSING)
    return rgb
