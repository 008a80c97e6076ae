"""Occlusion (Zeiler and Fergus, 2014): how much the explained value drops
when a window of the target is replaced by a fill value."""
import itertools

import numpy
from chainer import backend

from saliency_ext.calculators.base import BaseCalculator
from saliency_ext.calculators.targets import PER_ITEM_HINT
from saliency_ext.validation import is_int


def _per_axis(value, n_axes, name):
    values = tuple(value) if isinstance(value, (tuple, list)) else \
        (value,) * n_axes
    if len(values) != n_axes or not all(is_int(v) and v >= 1
                                        for v in values):
        raise ValueError('{} must be an int >= 1 or one per slide axis ({} '
                         'axes), got {!r}'.format(name, n_axes, value))
    return values


def _starts(length, size, stride):
    """Window starts along one axis; the last window is aligned with the end
    so that every position is covered."""
    starts = list(range(0, length - size + 1, stride))
    if starts[-1] != length - size:
        starts.append(length - size)
    return starts


class OcclusionCalculator(BaseCalculator):
    """Occlusion saliency.

    Each window of ``size`` slides along ``slide_axis`` of the target (the
    other axes, channels for instance, are occluded whole). A window's score
    is ``f(x) - f(x with the window filled)``; a position's saliency is the
    mean score of the windows that cover it. Only forward passes are needed;
    all windows of all items are stacked into the batch axis.

    Args:
        model (chainer.Link): The model to explain.
        size (int or tuple of ints): Window size along each slide axis.
        slide_axis (int or tuple of ints): Axes of the batched target (axis 0
            is the batch) the window slides along; ``(2, 3)`` for the height
            and width of ``(N, C, H, W)`` images, ``1`` for tables.
        stride (int or tuple of ints): Step between windows; defaults to 1.
        fill (float): The value an occluded window is filled with.
        enable_backprop (bool): Record the graph in the forward passes
            (``chainer.config.enable_backprop``), for models that need it;
            occlusion itself takes no gradient.
        **kwargs: The options of
            :class:`~saliency_ext.calculators.base.BaseCalculator`.
    """

    needs_grad = False

    def __init__(self, model, *, size=1, slide_axis=(2, 3), stride=None,
                 fill=0., enable_backprop=False, **kwargs):
        super(OcclusionCalculator, self).__init__(model, **kwargs)
        self.enable_backprop = bool(enable_backprop)
        axes = tuple(slide_axis) if isinstance(slide_axis, (tuple, list)) \
            else (slide_axis,)
        if not axes or not all(is_int(a) and a >= 1 for a in axes) or \
                len(set(axes)) != len(axes):
            raise ValueError(
                'slide_axis must be distinct axes >= 1 of the batched target '
                '(axis 0 is the batch), got {!r}'.format(slide_axis))
        self.slide_axis = axes
        self.size = _per_axis(size, len(axes), 'size')
        self.stride = _per_axis(1 if stride is None else stride, len(axes),
                                'stride')
        self.fill = float(fill)

    def _check_compute_args(self, M, batchsize, converter, noise_sampler,
                            functions):
        super(OcclusionCalculator, self)._check_compute_args(
            M, batchsize, converter, noise_sampler, functions)
        if noise_sampler is not None:
            raise ValueError(
                'OcclusionCalculator takes no noise_sampler: the difference '
                'between two independently noised rows would measure the '
                'noise, not the window')

    def settings(self):
        settings = super(OcclusionCalculator, self).settings()
        settings.update(size=list(self.size), slide_axis=list(self.slide_axis),
                        stride=list(self.stride), fill=self.fill)
        return settings

    def n_windows(self, item_shape):
        """How many windows cover one item whose target is shaped
        ``item_shape`` (without the batch axis)."""
        return len(_OcclusionPlan(self, tuple(item_shape)).windows)

    def _plan(self, group, train):
        return _OcclusionPlan(self, self._item_shape(group, train))


class _OcclusionPlan(object):
    """The windows of one group; block 0 is the unoccluded reference."""

    def __init__(self, calculator, item_shape):
        self.fill = calculator.fill
        self.item_shape = item_shape
        axes = [a - 1 for a in calculator.slide_axis]  # axes of one item
        for axis, size in zip(calculator.slide_axis, calculator.size):
            if axis > len(item_shape):
                raise ValueError(
                    'slide_axis {} does not exist: the target is shaped {} '
                    'per item (plus the batch axis 0)'.format(
                        axis, item_shape))
            if size > item_shape[axis - 1]:
                raise ValueError(
                    'occlusion window size {} is larger than target axis {} '
                    '(length {})'.format(size, axis, item_shape[axis - 1]))
        per_axis = [
            [slice(s, s + size) for s in _starts(item_shape[a], size, stride)]
            for a, size, stride in zip(axes, calculator.size,
                                       calculator.stride)]
        self.windows = []
        for combo in itertools.product(*per_axis):
            index = [slice(None)] * len(item_shape)
            for axis, window in zip(axes, combo):
                index[axis] = window
            self.windows.append(tuple(index))
        self.coverage = numpy.zeros(item_shape, numpy.float32)
        for window in self.windows:
            self.coverage[window] += 1
        self.n_blocks = len(self.windows) + 1

    def _masks(self, windows, xp):
        masks = xp.zeros((len(windows),) + tuple(self.item_shape), bool)
        for i, w in enumerate(windows):
            masks[(i,) + self.windows[w]] = True
        return masks

    def transform(self, point, ks):
        xp = backend.get_array_module(point)
        windowed = numpy.flatnonzero(ks > 0)
        out = point.copy()
        if len(windowed):
            rows = xp.asarray(windowed)
            masks = self._masks(ks[windowed] - 1, xp)
            out[rows] = xp.where(masks[:, None], point.dtype.type(self.fill),
                                 point[rows])
        return out

    def contribution(self, point, ks, values, grads):
        # Reference blocks add f(x) everywhere, window blocks subtract their
        # value spread over the window: summed over all blocks of a sample
        # this is the mean of f(x) - f(occluded) over the covering windows.
        if values is None:
            raise ValueError('OcclusionCalculator needs one explained value '
                             'per item; eval_fun returned a scalar. ' +
                             PER_ITEM_HINT)
        xp = backend.get_array_module(point)
        weights = xp.asarray(numpy.where(ks == 0, 1., -1.), point.dtype)
        masks = xp.ones((len(ks),) + tuple(self.item_shape), point.dtype)
        windowed = numpy.flatnonzero(ks > 0)
        if len(windowed):
            masks[xp.asarray(windowed)] = self._masks(
                ks[windowed] - 1, xp) / xp.asarray(self.coverage, point.dtype)
        expand = (slice(None), slice(None)) + (None,) * len(self.item_shape)
        return (weights[:, None] * values)[expand] * masks[:, None]
