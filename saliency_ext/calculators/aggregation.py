"""Reduction of saliency samples ``(M, N, ...)`` to one map per item."""
from chainer import backend

from saliency_ext.validation import is_int

METHODS = ('raw', 'abs', 'square')


def check_method(method):
    """Raises ValueError unless ``method`` is a known aggregation method."""
    if method not in METHODS:
        raise ValueError('unknown aggregation method {!r}: use one of {}'
                         .format(method, ', '.join(map(repr, METHODS))))


def channel_axes(ch_axis, ndim):
    """The channel axes ``ch_axis`` of samples with ``ndim`` axes, as
    non-negative ints; raises for axes that do not exist or name the sample
    or batch axis."""
    axes = ch_axis if isinstance(ch_axis, (tuple, list)) else (ch_axis,)
    normalized = []
    for axis in axes:
        if not is_int(axis):
            raise TypeError('ch_axis must be an int or a tuple of ints, '
                            'got {!r}'.format(ch_axis))
        if not -ndim <= axis < ndim:
            raise ValueError('ch_axis {} is out of range for samples with {} '
                             'axes'.format(axis, ndim))
        axis = int(axis) % ndim
        if axis < 2:
            raise ValueError(
                'ch_axis {!r} names the sample axis (0) or the batch axis '
                '(1): samples are shaped (M, N, ...), so the channel axis of '
                'an (N, C, H, W) image batch is 2'.format(ch_axis))
        normalized.append(axis)
    return tuple(normalized)


def aggregate(samples, method='raw', ch_axis=None):
    """Averages saliency samples over the sample axis.

    Args:
        samples (numpy.ndarray or cupy.ndarray): Samples shaped
            ``(M, N, ...)``, as returned by a calculator's ``compute``.
        method (str): ``'raw'`` averages the samples, ``'abs'`` their
            absolute values, ``'square'`` their squares.
        ch_axis (int or tuple of ints): Axes of ``samples`` (counting the
            sample axis 0) summed over after the method is applied, such as
            the channel axis 2 of image samples ``(M, N, C, H, W)``.

    Returns:
        An array shaped ``(N, ...)`` without the ``ch_axis`` axes.
    """
    return _per_sample(samples, method, ch_axis).mean(axis=0)


def spread(samples, method='raw', ch_axis=None):
    """The population standard deviation over the sample axis of what
    :func:`aggregate` averages: how much the M samples of SmoothGrad or
    BayesGrad disagree about each position. Same arguments and shape; zero
    for a single sample."""
    return _per_sample(samples, method, ch_axis).std(axis=0)


def _per_sample(samples, method, ch_axis):
    """Each sample's map: the method applied, the channels summed."""
    check_method(method)
    if samples.ndim < 2:
        raise ValueError('samples must be shaped (M, N, ...), got shape {}'
                         .format(samples.shape))
    xp = backend.get_array_module(samples)
    h = {'raw': lambda s: s, 'abs': xp.abs, 'square': xp.square}[method](
        samples)
    if ch_axis is not None:
        h = h.sum(axis=channel_axes(ch_axis, samples.ndim))
    return h
