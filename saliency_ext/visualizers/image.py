"""ImageVisualizer: a saliency map laid over its input image."""

import numbers
import sys

import numpy as np

from saliency_ext.optional import require
from saliency_ext.visualizers import colors, scalers
from saliency_ext.visualizers.base import BaseVisualizer, add_title, \
    check_bbox_inches, to_numpy

# How far the aspect ratios of map and image may differ: coarse maps (occlusion windows)
# round their sides, a transposed map or a CHW/HWC mix-up differs by far more.
_MAX_ASPECT_MISMATCH = 1.5
_FIGURE_HEIGHT = 4.0  # inches, for the figure drawn with a colorbar
_TITLE_SIZE = 13  # pixels, title font without a colorbar
# PIL modes with more than 8 bits of grey, read as numbers and stretched like float images.
_WIDE_GREY_MODES = ('I', 'I;16', 'I;16B', 'I;16L', 'F')
_CHANNELS = (1, 2, 3, 4)


def _as_map(saliency):
    """Saliency as a 2-D float map ``(h, w)``; a channel axis of size 1 is dropped."""
    saliency = to_numpy(saliency)
    if saliency.ndim == 3 and saliency.shape[0] == 1:
        saliency = saliency[0]
    elif saliency.ndim == 3 and saliency.shape[-1] == 1:
        saliency = saliency[..., 0]
    if saliency.ndim != 2:
        raise ValueError(f'saliency must be a 2-D map (H, W), got shape {saliency.shape}; sum '
                         'the channels first: calculator.aggregate(samples, ch_axis=2)')
    return saliency


def _to_uint8(array):
    """Pixel values as ``uint8``: integers are 0..255, floats in ``[0, 1]`` are fractions,
    other floats are stretched from their minimum to their maximum."""
    if array.dtype == np.uint8:
        return array
    if np.issubdtype(array.dtype, np.integer):
        return np.clip(array, 0, 255).astype(np.uint8)
    lo, hi = float(array.min()), float(array.max())
    if lo >= 0 and hi <= 1:
        lo, hi = 0.0, 1.0
    unit = (array - lo) / (hi - lo) if hi > lo else np.zeros(array.shape)
    return np.rint(unit * 255).astype(np.uint8)


def _pil_pixels(image):
    """A PIL image's pixels: ``(H, W)``, ``(H, W, 3)`` or, with transparency, ``(H, W, 4)``."""
    if image.mode in _WIDE_GREY_MODES:
        return np.asarray(image, dtype=np.float32)
    if image.mode in ('L', 'RGB', 'RGBA'):
        return np.asarray(image)
    transparent = 'A' in image.getbands() or 'transparency' in image.info
    return np.asarray(image.convert('RGBA' if transparent else 'RGB'))


def _over_white(array):
    """``uint8`` pixels ``(H, W, 1 or 3)``; a last channel of alpha (2 or 4 channels) is
    composited over white."""
    if array.shape[-1] in (1, 3):
        return _to_uint8(array)
    colour = _to_uint8(array[..., :-1]).astype(np.uint16)
    alpha = _to_uint8(array[..., -1:]).astype(np.uint16)
    return ((colour * alpha + 255 * (255 - alpha) + 127) // 255).astype(np.uint8)


def image_pixels(image):
    """The input image as ``uint8`` ``(H, W, 1 or 3)``.

    Takes PIL images of any mode and numpy or cupy arrays. 2-D arrays are grayscale. A 3-D
    array is CHW when its first axis has 1 to 4 entries and its last does not, otherwise HWC;
    2 or 4 channels end with alpha, which is composited over white, as are transparent PIL
    images.
    """
    pil = sys.modules.get('PIL.Image')  # an image cannot be PIL's unless PIL is imported
    if pil is not None and isinstance(image, pil.Image):
        array = _pil_pixels(image)
    else:
        array = to_numpy(image, dtype=None)
    if array.ndim == 3 and array.shape[0] in _CHANNELS and array.shape[-1] not in _CHANNELS:
        array = array.transpose(1, 2, 0)
    elif array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[-1] not in _CHANNELS:
        raise ValueError(f'image must be a PIL image or an array (H, W), (C, H, W) or '
                         f'(H, W, C) with 1 to 4 channels (2 and 4 with alpha), got shape '
                         f'{array.shape}')
    return _over_white(array)


def _background(image, map_shape):
    """The input image as ``uint8`` ``(H, W, 3)``, checked against the map's shape."""
    array = image_pixels(image)
    mismatch = (map_shape[0] / map_shape[1]) / (array.shape[0] / array.shape[1])
    if not 1 / _MAX_ASPECT_MISMATCH <= mismatch <= _MAX_ASPECT_MISMATCH:
        raise ValueError(f'a saliency map of shape {map_shape} cannot be laid over an image of '
                         f'shape {array.shape[:2]} (H, W): their aspect ratios differ; is one '
                         'of them transposed, or the image CHW read as HWC?')
    return np.broadcast_to(array, array.shape[:2] + (3,))


def _blend(background, layer, alpha):
    """``background * (1 - alpha) + layer * alpha`` for ``uint8`` pictures, rounded.

    Fixed point with 8 fractional bits: several times faster than floats on a whole picture.
    """
    weight = np.uint16(round(alpha * 256))
    total = background.astype(np.uint16) * (256 - weight) + layer.astype(np.uint16) * weight
    return ((total + 128) >> 8).astype(np.uint8)


def _resize(scaled, shape):
    """Resize scaled saliency (values bilinearly, missing mask by nearest) to ``(H, W)``."""
    if scaled.values.shape == shape:
        return scaled
    image = require('PIL.Image', 'ImageVisualizer')
    size = (shape[1], shape[0])
    values = image.fromarray(scaled.values.astype(np.float32)).resize(size, image.BILINEAR)
    missing = image.fromarray(scaled.missing).resize(size, image.NEAREST)
    return scaled._replace(values=np.asarray(values, dtype=np.float64),
                           missing=np.asarray(missing, dtype=bool))


class ImageVisualizer(BaseVisualizer):
    """Draw an image saliency map, alone or alpha-blended over the input image.

    Without a colorbar the picture is computed with numpy and PIL only, at the image's own size
    (the map's size when there is no image), plus a band for the title if there is one. A
    colorbar draws the picture into a matplotlib figure instead.

    Args:
        dpi (float): pixels per inch of the figure drawn for a colorbar.

    Raises:
        ValueError: if ``dpi`` is not a positive number.
    """

    def __init__(self, *, dpi=100):
        if not isinstance(dpi, numbers.Real) or not dpi > 0:
            raise ValueError(f'dpi must be a positive number, got {dpi!r}')
        self.dpi = dpi

    def visualize(self, saliency, image=None, save_filepath=None, scaler=scalers.abs_max_scaler,
                  title=None, cmap=None, alpha=0.5, show_colorbar=False, bbox_inches=None, *,
                  clip_percentile=None):
        """Draw ``saliency`` over ``image``.

        Args:
            saliency (numpy.ndarray or cupy.ndarray): the map, ``(H, W)`` or with one channel
                axis of size 1 (``(1, H, W)`` or ``(H, W, 1)``); NaN and infinite entries are
                drawn grey, with a warning.
            image (PIL.Image.Image, numpy.ndarray or cupy.ndarray): the input image of any
                size (the map is resized to it): a PIL image of any mode, or an array
                ``(H, W)`` grayscale or ``(C, H, W)`` / ``(H, W, C)`` with 1 or 3 channels, or
                2 or 4 whose last is alpha. Transparent images are composited over white.
                Float images in ``[0, 1]``, integer images in ``0..255``, other float images
                are stretched. ``None`` draws the map alone.
            save_filepath (str or None): a ``.png`` file to write the picture to.
            scaler: a scaler from :mod:`saliency_ext.visualizers.scalers` (for example
                ``FixedScaler(vmin, vmax)`` to share one colour scale between pictures), a
                function, or ``None``; see :func:`~saliency_ext.visualizers.scalers.apply_scaler`.
            title (str or None): a title above the picture.
            cmap: colour map: ``None`` for the one colour map of every picture (white at
                zero, red for positive values and magnitudes, blue for negative ones), or a
                matplotlib colour map or its name.
            alpha (float): opacity of the map over the image, in ``[0, 1]``.
            show_colorbar (bool): add a colorbar labelled in raw saliency units (drawn with
                matplotlib).
            bbox_inches: Chainer Chemistry's ``savefig`` option: ``'tight'`` and ``None`` are
                taken (the picture has no margin to trim); anything else is refused.
            clip_percentile (float or None): clip magnitudes above this percentile of the
                magnitudes before scaling, for example 99 for SmoothGrad; ``None`` keeps all.

        Returns:
            numpy.ndarray: the picture, ``uint8`` ``(H, W, 3)``.

        Raises:
            ValueError: for a map that is not 2-D, an image whose shape cannot match the map,
                ``alpha`` outside ``[0, 1]``, a bad ``clip_percentile`` or ``cmap``, or a
                ``save_filepath`` that is not ``.png``.
        """
        self._output_extension(save_filepath)
        check_bbox_inches(bbox_inches)
        if not (isinstance(alpha, numbers.Real) and 0 <= alpha <= 1):
            raise ValueError(f'alpha must be a number in [0, 1], got {alpha!r}')
        saliency = _as_map(saliency)
        if clip_percentile is not None:
            saliency = scalers.clip_percentile(saliency, clip_percentile)
        background = None if image is None else _background(image, saliency.shape)
        scaled = self._scale(saliency, scaler)
        lut = colors.lookup_table(cmap, scaled.signed)
        if background is None:
            rgb = colors.apply_lookup_table(scaled, lut)
        else:
            layer = colors.apply_lookup_table(_resize(scaled, background.shape[:2]), lut)
            rgb = _blend(background, layer, alpha)
        if show_colorbar:
            rgb = self._figure(rgb, lut, scaled.limits, title)
        elif title:
            rgb = add_title(rgb, title, _TITLE_SIZE)
        return self._write(rgb, save_filepath)

    def check_arguments(self, **kwargs):
        """Check :meth:`visualize`'s arguments other than the saliency, without drawing:
        the image is converted (a PIL image, an array of 1 to 4 channels)."""
        super().check_arguments(**kwargs)
        if kwargs.get('image') is not None:
            image_pixels(kwargs['image'])
        check_bbox_inches(kwargs.get('bbox_inches'))

    def visualize_spread(self, spread, image=None, save_filepath=None, *, top, title=None,
                         cmap=colors.spread_ramp, **options):
        """Draw how much the samples of a map disagree: ``spread`` (the standard deviation of
        each pixel over the samples) over ``image``, on the unsigned scale ``[0, top]``, by
        default from white at zero (the image shows through) to teal.

        A report draws this tile beside the mean map, with ``top`` the largest magnitude of
        the mean's colour scale, so the two tiles read in the same units.

        Args:
            spread (numpy.ndarray or cupy.ndarray): the map of standard deviations, shaped
                as for :meth:`visualize`.
            image, save_filepath: as for :meth:`visualize`.
            top (float): the spread drawn in the full colour; larger values saturate.
            title (str or None): a title above the tile.
            cmap: the colour map, as for :meth:`visualize`.
            **options: the other options of :meth:`visualize` (``alpha``, ``show_colorbar``,
                ``clip_percentile``), but not ``scaler``.

        Returns:
            numpy.ndarray: the picture, ``uint8`` ``(H, W, 3)``.
        """
        return self.visualize(spread, image, save_filepath, scaler=scalers.FixedScaler(0., top),
                              title=title, cmap=cmap, **options)

    def _figure(self, rgb, lut, limits, title):
        """Redraw ``rgb`` in a matplotlib figure with a colorbar in raw units, and a title."""
        purpose = 'ImageVisualizer (colorbar)'
        figure = require('matplotlib.figure', purpose)
        agg = require('matplotlib.backends.backend_agg', purpose)
        mpl_colors = require('matplotlib.colors', purpose)
        cm = require('matplotlib.cm', purpose)
        height, width = rgb.shape[:2]
        figsize = (_FIGURE_HEIGHT * width / height + 1.2, _FIGURE_HEIGHT + (0.4 if title else 0))
        # A Figure with its own Agg canvas: off screen, none of pyplot's global state.
        fig = figure.Figure(figsize=figsize, dpi=self.dpi, layout='constrained')
        canvas = agg.FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        ax.imshow(rgb)
        ax.set_axis_off()
        if title:
            ax.set_title(title)
        mappable = cm.ScalarMappable(norm=mpl_colors.Normalize(*limits),
                                     cmap=mpl_colors.ListedColormap(lut / 255.0))
        fig.colorbar(mappable, ax=ax, fraction=0.05, pad=0.03)
        canvas.draw()
        return np.array(canvas.buffer_rgba())[..., :3]
