"""Scalers: map raw saliency onto the colour range of a picture (pure numpy).

A scaler is called on a saliency array and returns the scaled array, so
``abs_max_scaler(saliency)`` works as in Chainer Chemistry. Each scaler here is also a
:class:`Scaler`, which tells the visualizers which raw values the ends of the colour range
stand for (:meth:`Scaler.limits`), so that colorbars are labelled in raw units.

The data-driven scalers (:data:`abs_max_scaler`, :data:`min_max_scaler`,
:data:`normalize_scaler`) fit each map on its own: handy for one picture, but two maps drawn
with them cannot be compared. :class:`FixedScaler` keeps one scale for every map, across probe
items and epochs. NaN and infinite entries are ignored when a scale is fitted.
"""

import numbers

import numpy as np


def _finite(saliency):
    """The finite entries of ``saliency``, flattened."""
    saliency = np.asarray(saliency, dtype=np.float64)
    return saliency[np.isfinite(saliency)]


class Scaler:
    """A linear map from raw saliency to the colour range.

    A signed scaler maps ``[-a, a]`` onto ``[-1, 1]`` so that zero stays at the neutral middle
    of a diverging colour map; an unsigned one maps ``[lo, hi]`` onto ``[0, 1]``. Subclasses
    define :meth:`limits`. Values beyond the limits map beyond the range.

    Attributes:
        signed (bool): whether the colour range is ``[-1, 1]`` (signed) or ``[0, 1]``.
    """

    signed = True

    def limits(self, saliency):
        """Raw values at the two ends of the colour range, ``(lo, hi)`` with ``lo < hi``.

        Args:
            saliency (numpy.ndarray): the map to scale; NaN and infinite entries are ignored.

        Returns:
            tuple: two floats; a signed scaler returns ``(-a, a)``.
        """
        raise NotImplementedError

    def __call__(self, saliency):
        """Return ``saliency`` scaled onto the colour range, as a float64 array."""
        saliency = np.asarray(saliency, dtype=np.float64)
        return self._rescale(saliency, self.limits(saliency))

    def _rescale(self, saliency, limits):
        lo, hi = limits
        unit = (saliency - lo) / (hi - lo)
        return 2.0 * unit - 1.0 if self.signed else unit


def _positive_or_one(value):
    # A map of zeros has no scale of its own; any positive width draws it as zeros.
    return float(value) if value > 0 else 1.0


class AbsMaxScaler(Scaler):
    """Divide by the largest magnitude: the result lies in ``[-1, 1]``, signs kept."""

    def limits(self, saliency):
        finite = _finite(saliency)
        a = _positive_or_one(np.abs(finite).max(initial=0.0))
        return -a, a


class MinMaxScaler(Scaler):
    """Map the smallest value to 0 and the largest to 1 (unsigned)."""

    signed = False

    def limits(self, saliency):
        finite = _finite(saliency)
        if finite.size == 0:
            return 0.0, 1.0
        lo = float(finite.min())
        return lo, lo + _positive_or_one(finite.max() - lo)


class NormalizeScaler(Scaler):
    """Divide by the sum of magnitudes: magnitudes then sum to 1, signs kept."""

    def limits(self, saliency):
        a = _positive_or_one(np.abs(_finite(saliency)).sum())
        return -a, a


class FixedScaler(Scaler):
    """One fixed scale for every map, so that colours compare across items and epochs.

    With ``vmin >= 0`` the scale is unsigned and maps ``[vmin, vmax]`` onto ``[0, 1]``. With
    ``vmin < 0`` it is signed and symmetric around zero: it maps ``[-a, a]`` onto
    ``[-1, 1]`` with ``a = max(-vmin, vmax)``, so that zero stays neutral and equal
    magnitudes get equal intensity in red and blue. Values outside the scale are drawn in
    the colour of its nearest end.

    Args:
        vmin (float): the smallest value of the scale.
        vmax (float): the largest value of the scale, greater than ``vmin``.

    Raises:
        TypeError: if either bound is not a real number.
        ValueError: if either bound is not finite or ``vmin >= vmax``.
    """

    def __init__(self, vmin, vmax):
        for name, value in (('vmin', vmin), ('vmax', vmax)):
            if not isinstance(value, numbers.Real) or isinstance(value, bool):
                raise TypeError(f'{name} must be a real number, got {value!r}')
            if not np.isfinite(value):
                raise ValueError(f'{name} must be finite, got {value!r}')
        if vmin >= vmax:
            raise ValueError(f'vmin must be less than vmax, got vmin={vmin!r}, vmax={vmax!r}')
        self.signed = vmin < 0
        a = max(-vmin, vmax)
        self._limits = (-float(a), float(a)) if self.signed else (float(vmin), float(vmax))

    def limits(self, saliency):
        return self._limits

    def __repr__(self):
        return f'FixedScaler(vmin={self._limits[0]!r}, vmax={self._limits[1]!r})'


abs_max_scaler = AbsMaxScaler()
min_max_scaler = MinMaxScaler()
normalize_scaler = NormalizeScaler()


def apply_scaler(saliency, scaler):
    """Scale ``saliency`` and describe the colour scale used.

    Args:
        saliency (numpy.ndarray): float saliency; NaN entries stay NaN (a scaler function
            sees zeros there).
        scaler: a :class:`Scaler`; or any function of an array returning the scaled array of
            the same shape (as in Chainer Chemistry), whose output is read as already in the
            colour range: ``[-1, 1]`` when it has a negative value, ``[0, 1]`` otherwise; or
            ``None``, the same with the values as they are.

    Returns:
        tuple: ``(values, limits, signed)``: the scaled float64 array, the raw values at the
        ends of the colour range and whether the range is signed.

    Raises:
        TypeError: if ``scaler`` is neither ``None`` nor callable.
        ValueError: if a scaler function changes the shape of the array.
    """
    if isinstance(scaler, Scaler):
        limits = scaler.limits(saliency)
        return scaler._rescale(saliency, limits), limits, scaler.signed
    if scaler is None:
        values = saliency
    elif callable(scaler):
        # A plain function is not NaN-aware (one NaN would spoil its maximum): give it zeros.
        values = np.asarray(scaler(np.where(np.isfinite(saliency), saliency, 0.0)),
                            dtype=np.float64)
    else:
        raise TypeError(f'scaler must be a Scaler, a function or None, got {scaler!r}')
    if values.shape != saliency.shape:
        raise ValueError(f'scaler {scaler!r} returned shape {values.shape} for saliency of '
                         f'shape {saliency.shape}; it must keep the shape')
    signed = bool((_finite(values) < 0).any())
    return values, ((-1.0, 1.0) if signed else (0.0, 1.0)), signed


def clip_percentile(saliency, percentile):
    """Clip outliers: limit magnitudes to the given percentile of the magnitudes, keeping signs.

    SmoothGrad maps are usually clipped at the 99th percentile, so that a few extreme pixels
    do not wash out the rest of the map.

    Args:
        saliency (numpy.ndarray): float saliency; NaN and infinite entries are ignored when the
            percentile is taken and are returned unchanged.
        percentile (float): in ``(0, 100]``.

    Returns:
        numpy.ndarray: the clipped float64 array.

    Raises:
        ValueError: if ``percentile`` is outside ``(0, 100]``.
    """
    if not (isinstance(percentile, numbers.Real) and 0 < percentile <= 100):
        raise ValueError(f'percentile must be a number in (0, 100], got {percentile!r}')
    saliency = np.asarray(saliency, dtype=np.float64)
    finite = _finite(saliency)
    if finite.size == 0:
        return saliency
    bound = np.percentile(np.abs(finite), percentile)
    clipped = np.clip(saliency, -bound, bound)
    # np.clip would turn +-inf into the bound; they stay missing instead.
    return np.where(np.isfinite(saliency), clipped, saliency)
