"""A model-independent "explanation" for the sanity tests: an edge filter
of the input, the kind of map the model-randomisation check must flag."""
from chainer import backend

from saliency_ext import BaseCalculator


class EdgeFilterCalculator(BaseCalculator):
    """Saliency = the magnitude of the target's finite differences along
    its last ``n_axes`` axes, whatever the model does.

    Args:
        model (chainer.Link): Only evaluated, never consulted.
        n_axes (int): 1 for tables, 2 for images.
    """

    needs_grad = False
    n_blocks = 1

    def __init__(self, model, *, n_axes=1, **kwargs):
        super(EdgeFilterCalculator, self).__init__(model, **kwargs)
        self.n_axes = n_axes

    def _plan(self, group, train):
        return self

    def transform(self, point, ks):
        return point

    def contribution(self, point, ks, values, grads):
        xp = backend.get_array_module(point)
        edges = xp.zeros_like(point)
        for axis in range(point.ndim - self.n_axes, point.ndim):
            step = xp.abs(xp.diff(point, axis=axis))
            pad = [(0, 0)] * point.ndim
            pad[axis] = (0, 1)
            edges += xp.pad(step, pad)
        return edges
