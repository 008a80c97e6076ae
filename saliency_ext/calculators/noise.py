"""Input noise for SmoothGrad."""
from chainer import backend


class GaussianNoiseSampler(object):
    """Draws Gaussian noise to add to the saliency target (SmoothGrad).

    Args:
        mode (str): ``'relative'`` scales the standard deviation by the range
            (max - min) of each item's target, ``'absolute'`` uses ``scale``
            as the standard deviation itself.
        scale (float): The noise level; 0.15 (15 % of the range) is the
            SmoothGrad paper's usual choice in relative mode.
    """

    def __init__(self, mode='relative', scale=0.15):
        if mode not in ('relative', 'absolute'):
            raise ValueError("mode must be 'relative' or 'absolute', got {!r}"
                             .format(mode))
        if not scale >= 0:
            raise ValueError('scale must be >= 0, got {!r}'.format(scale))
        self.mode = mode
        self.scale = float(scale)

    def settings(self):
        """The options that define the noise, JSON-serialisable."""
        return dict(mode=self.mode, scale=self.scale)

    def sample(self, target, rng=None):
        """Returns noise shaped like ``target``.

        Args:
            target (numpy.ndarray or cupy.ndarray): Target values shaped
                ``(R, ...)``, one row per item. In relative mode each row gets
                noise scaled by its own range, so items of different ranges
                are perturbed alike (a 1-D target uses the range of all rows).
            rng (numpy.random.Generator): Draw from this generator (on the
                CPU, then moved to the target's device) instead of the
                global random state of the target's array module.
        """
        xp = backend.get_array_module(target)
        sigma = self.scale
        if self.mode == 'relative':
            axes = tuple(range(1, target.ndim)) or None
            sigma = self.scale * (target.max(axis=axes, keepdims=True) -
                                  target.min(axis=axes, keepdims=True))
        if rng is None:
            noise = xp.random.standard_normal(target.shape)
        else:
            noise = xp.asarray(rng.standard_normal(target.shape))
        return noise.astype(target.dtype) * sigma
