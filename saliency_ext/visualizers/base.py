"""What the visualizers share: input conversion, scaling with missing values,
the output contract."""

import inspect
import os
import typing
import warnings

import numpy as np
from chainer import backend

from saliency_ext.optional import require
from saliency_ext.visualizers import scalers
from saliency_ext.visualizers.text import default_font


def to_numpy(array, dtype=np.float64):
    """Bring a numpy or cupy array (or a nested list) to the host as a numpy array.

    Args:
        array: the array, on any Chainer device.
        dtype: the dtype of the result; ``None`` keeps the array's own.

    Returns:
        numpy.ndarray: a host copy (or the array itself when it already fits).
    """
    return np.asarray(backend.CpuDevice().send(array), dtype=dtype)


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
