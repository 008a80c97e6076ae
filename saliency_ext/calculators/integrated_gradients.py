"""Integrated Gradients (Sundararajan et al., 2017)."""
import hashlib

import numpy
from chainer import backend
from chainer.dataset import concat_examples

from saliency_ext.calculators.base import BaseCalculator
from saliency_ext.calculators.targets import PER_ITEM_HINT
from saliency_ext.validation import is_int


class IntegratedGradientsCalculator(BaseCalculator):
    """Integrated Gradients: ``(x - baseline)`` times the gradient averaged
    along the straight path from the baseline to ``x``.

    The path integral is a midpoint Riemann sum over ``steps`` points
    ``baseline + (k + 0.5) / steps * (x - baseline)``; all steps of all
    items are stacked into the batch axis.

    Args:
        model (chainer.Link): The model to explain.
        baseline: ``None`` for zeros, an array broadcastable to one item's
            target shape, or a callable that takes the targets ``(N, ...)``
            and returns baselines of the same shape.
        steps (int): Points on the path.
        record_delta (bool): After each ``compute``, also keep its
            completeness error (see ``compute(return_delta=True)``) in
            ``last_delta``, a convenience for interactive use; it is never
            part of :meth:`settings`.
        **kwargs: The options of
            :class:`~saliency_ext.calculators.base.BaseCalculator`.
    """

    def __init__(self, model, *, baseline=None, steps=25, record_delta=False,
                 **kwargs):
        super(IntegratedGradientsCalculator, self).__init__(model, **kwargs)
        if not is_int(steps) or steps < 1:
            raise ValueError('steps must be an int >= 1, got {!r}'.format(
                steps))
        if not (baseline is None or callable(baseline) or
                hasattr(baseline, 'shape')):
            raise TypeError('baseline must be None, an array or a callable, '
                            'got {!r}'.format(type(baseline).__name__))
        self.baseline = baseline
        self.steps = int(steps)
        self.n_blocks = self.steps
        self.record_delta = bool(record_delta)
        self.last_delta = None
        self._alphas = (numpy.arange(self.steps) + 0.5) / self.steps

    def compute(self, data, M=1, batchsize=16, converter=concat_examples,
                retain_inputs=False, preprocess_fn=None, postprocess_fn=None,
                train=False, noise_sampler=None, show_progress=False,
                return_delta=False, *, item_seeds=None):
        """Computes saliency samples, as
        :meth:`BaseCalculator.compute <saliency_ext.BaseCalculator.compute>`.

        Args:
            return_delta (bool): Also return the completeness error
                ``f(x) - f(baseline) - sum(attributions)`` of every sample
                and item, shaped ``(M, N)`` (Captum's
                ``return_convergence_delta``), at the cost of one forward
                pass over the path's two ends. Needs an explained value per
                item (not a scalar).

        Returns:
            The samples, or ``(samples, delta)`` with ``return_delta``.
        """
        want = return_delta or self.record_delta
        samples, deltas = self._compute(
            data, M, batchsize, converter, retain_inputs, preprocess_fn,
            postprocess_fn, train, noise_sampler, show_progress, item_seeds,
            finish=self._delta if want else None)
        delta = numpy.concatenate(deltas, axis=1) if want else None
        if self.record_delta:
            self.last_delta = delta
        return (samples, delta) if return_delta else samples

    def settings(self):
        settings = super(IntegratedGradientsCalculator, self).settings()
        settings.update(steps=self.steps,
                        baseline=describe_baseline(self.baseline))
        return settings

    def _plan(self, group, train):
        return self

    def transform(self, point, ks):
        return self._interpolate(point, self._alphas[ks])

    def contribution(self, point, ks, values, grads):
        return (point - self.baseline_like(point)) * (grads / self.steps)

    def _interpolate(self, point, alphas):
        base = self.baseline_like(point)
        xp = backend.get_array_module(point)
        alphas = xp.asarray(alphas, dtype=point.dtype).reshape(
            (-1,) + (1,) * (point.ndim - 1))
        return base + alphas * (point - base)

    def baseline_like(self, point):
        """The baseline for targets shaped ``(n, B, ...)``, same shape."""
        xp = backend.get_array_module(point)
        if self.baseline is None:
            return xp.zeros_like(point)
        if callable(self.baseline):
            flat = point.reshape((-1,) + point.shape[2:])
            base = xp.asarray(self.baseline(flat))
            if base.shape != flat.shape:
                raise ValueError(
                    'the baseline callable returned shape {} for targets '
                    'shaped {}; it must return the same shape'.format(
                        base.shape, flat.shape))
            return base.reshape(point.shape).astype(point.dtype, copy=False)
        base = xp.asarray(self.baseline, dtype=point.dtype)
        try:
            return xp.broadcast_to(base, point.shape)
        except ValueError:
            raise ValueError(
                'baseline of shape {} does not fit one item\'s target of '
                'shape {}: give an array broadcastable to that shape'.format(
                    base.shape, point.shape[2:]))

    def _delta(self, group, samples, train):
        """The group's completeness error, ``(M, B)`` on the CPU."""
        ends = []  # f(baseline) and f(x) of every sample, path ends 0 and 1
        for blocks in self._block_slices(group, 2 * group.M):
            _, values, _ = self._evaluate(
                group, blocks // 2,
                lambda p, a=blocks % 2: self._interpolate(p, a), train, False)
            if values is None:
                raise ValueError('record_delta needs an explained value per '
                                 'item; eval_fun returned a scalar. ' +
                                 PER_ITEM_HINT)
            ends.append(values)
        ends = group.xp.concatenate(ends).reshape(group.M, 2, group.size)
        total = samples.reshape(samples.shape[:2] + (-1,)).sum(axis=2)
        return backend.CpuDevice().send(ends[:, 1] - ends[:, 0] - total)


def describe_baseline(baseline):
    """A baseline in words for the settings: ``'zeros'``, the callable's
    name, or an array's shape and a digest of its values."""
    if baseline is None:
        return 'zeros'
    if callable(baseline):
        return 'callable {}'.format(getattr(baseline, '__qualname__',
                                            type(baseline).__name__))
    array = numpy.ascontiguousarray(backend.CpuDevice().send(baseline))
    return 'array {} {}'.format(list(array.shape), hashlib.sha1(
        array.tobytes()).hexdigest()[:12])
