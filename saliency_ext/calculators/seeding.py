"""Per-item random streams for SmoothGrad's noise and BayesGrad's dropout.

With ``compute(..., item_seeds=...)`` every item draws its noise and its
dropout masks from generators seeded by its own seed, never from the global
random state: an item's samples are then the same whichever items it is
computed with, in one group or another, in one process or split across
several. The passes stay batched: only the random numbers are drawn per item.
"""
import inspect
import numbers

import chainer
import numpy
from chainer import backend
from chainer.functions.noise.dropout import Dropout

NOISE, DROPOUT = 0, 1  # the streams of one item's seed


def check_item_seeds(item_seeds, n_items):
    """Validates ``item_seeds``: one seed per item, an int >= 0 or a tuple of
    them (what ``numpy.random.SeedSequence`` takes); returns them as a list
    of tuples."""
    if isinstance(item_seeds, (str, bytes)) or not hasattr(
            item_seeds, '__len__'):
        raise TypeError('item_seeds must be a sequence with one seed per '
                        'item, got {!r}'.format(item_seeds))
    if len(item_seeds) != n_items:
        raise ValueError('item_seeds holds {} seeds for {} items: give one '
                         'per item'.format(len(item_seeds), n_items))
    seeds = []
    for i, seed in enumerate(item_seeds):
        entropy = tuple(seed) if isinstance(seed, (tuple, list)) else (seed,)
        if not entropy or not all(
                isinstance(v, numbers.Integral) and not isinstance(v, bool) and
                v >= 0 for v in entropy):
            raise ValueError('item_seeds[{}] must be an int >= 0 or a tuple '
                             'of them, got {!r}'.format(i, seed))
        seeds.append(tuple(int(v) for v in entropy))
    return seeds


def generator(seed, stream, *key):
    """The generator of one stream of an item's seed (``key`` tells apart
    the dropout functions of a pass)."""
    return numpy.random.default_rng(numpy.random.SeedSequence(
        list(seed), spawn_key=(stream,) + key))


def check_sampler(noise_sampler):
    """Raises unless ``noise_sampler.sample`` takes the ``rng`` a seeded
    computation draws each item's noise from."""
    try:
        parameters = inspect.signature(noise_sampler.sample).parameters
    except (TypeError, ValueError):  # a builtin: let the call tell
        return
    if 'rng' not in parameters and not any(
            p.kind == p.VAR_KEYWORD for p in parameters.values()):
        raise TypeError(
            'noise_sampler {} has sample(target) without rng=: with '
            'item_seeds (as in a SaliencyReport) each item draws its noise '
            'from its own numpy Generator, passed as sample(target, rng=rng); '
            'accept it and draw from it'.format(type(noise_sampler).__name__))


def item_noise(noise_sampler, items, M, seeds):
    """Noise ``(M, B, ...)`` for the items ``(B, ...)``: each item's M
    samples come from its own noise stream."""
    xp = backend.get_array_module(items)
    noise = [noise_sampler.sample(xp.broadcast_to(item, (M,) + item.shape),
                                  rng=generator(seed, NOISE))
             for item, seed in zip(items, seeds)]
    return xp.stack([xp.asarray(n, dtype=items.dtype) for n in noise], axis=1)


class ItemDropout(chainer.FunctionHook):
    """Gives every ``Dropout`` of a pass the masks of its rows' items.

    A pass evaluates ``len(ms)`` blocks of the group's B items, row
    ``j * B + b`` being item ``b`` in sample ``ms[j]``. The k-th dropout
    function of the pass gets, for each row, the mask of that item, sample
    and k, drawn once per group from the item's dropout stream; Chainer's
    ``Dropout`` then uses it instead of drawing one (and skips cuDNN's own
    dropout). Every block of one sample sees the same network. Entered with
    ``with hook.pass_of(ms):`` around one pass only.

    Args:
        seeds (list): The group's item seeds.
        M (int): Samples per item.
    """

    name = 'saliency_ext.ItemDropout'

    def __init__(self, seeds, M):
        self.seeds = seeds
        self.M = M
        self.uniforms = {}  # k -> (M, B, features) uniform numbers
        self.ms = None
        self.calls = 0

    def pass_of(self, ms):
        self.ms, self.calls = ms, 0
        return self

    def forward_preprocess(self, function, in_data):
        if not isinstance(function, Dropout) or function.mask is not None:
            return  # another function, or a mask the model gave itself
        k, self.calls = self.calls, self.calls + 1
        x = in_data[0]
        rows = len(self.ms) * len(self.seeds)
        if x.ndim == 0 or x.shape[0] % rows:
            raise ValueError(
                'dropout function {} of the pass gets an input shaped {}, '
                'whose first axis is not the {} rows of the pass: per-item '
                'dropout masks need the batch axis first'.format(
                    k, x.shape, rows))
        uniform = self._uniform(k, x.size // rows)[self.ms]
        keep = uniform.reshape(x.shape) >= function.dropout_ratio
        scale = 1. / (1. - function.dropout_ratio)
        xp = backend.get_array_module(x)
        function.mask = xp.asarray(keep * scale, dtype=x.dtype)

    def _uniform(self, k, features):
        drawn = self.uniforms.get(k)
        if drawn is None:
            shape = (self.M, features)
            drawn = numpy.stack([
                generator(seed, DROPOUT, k).random(shape, numpy.float32)
                for seed in self.seeds], axis=1)
            self.uniforms[k] = drawn
        if drawn.shape[2] != features:
            raise ValueError(
                'dropout function {} of the pass gets {} features per row, '
                'an earlier pass gave it {}: the model must apply its '
                'dropouts alike in every pass'.format(k, features,
                                                      drawn.shape[2]))
        return drawn
