"""Faithfulness: does the model's output follow the map? The deletion and
insertion curves (Petsiuk et al., 2018), with a random ranking as control.

An item's D real positions (the map's positions after aggregation: features,
pixels, atoms; padding never counts) are ranked by the map's value, largest
first, in the direction of the item's change ``f(x) - f(b)``: for an item
whose explained value lies below the baseline's (a regression target that
the input lowers), the most negative value comes first, since that is what
moved it. At step k = 0..K the first ceil(k D / K) positions are set to the
baseline (deletion) or taken from the input into an all-baseline target
(insertion). Positions are perturbed at the saliency target itself: a model
input, or the output of a hooked link, so a graph's atoms are removed at its
embedding, as occlusion removes them; the baseline is the calculator's own
(:meth:`~saliency_ext.BaseCalculator.baseline_like`: zeros, or Integrated
Gradients' baseline). The curve is ``(f(x_k) - f(b)) / (f(x) - f(b))`` with
``f`` the explained value, ``x`` the input and ``b`` the all-baseline target;
its area by the trapezoid rule over [0, 1] is low for a faithful map under
deletion and high under insertion. The same curves for a seeded random
ranking of the positions are the control a map has to beat.

Items whose explained value hardly moves between the input and the baseline
have no meaningful normalised curve (dividing by a small ``f(x) - f(b)``
turns small wiggles into huge values): those with ``|f(x) - f(b)| <=
TOLERANCE * median |f(x) - f(b)|`` over the probe's items are left out (NaN)
and counted.

All steps of all items and curves go through the calculator's batched
forward passes (:meth:`~saliency_ext.BaseCalculator.evaluate`): first the
input and the all-baseline target (2 rows per item, shared by every curve,
they set the direction of the ranking), then the K - 1 inner steps of each
curve. Deletion or insertion with its random control costs 2 K rows per
item, both 4 K - 2.
"""
import numpy
from chainer import backend
from chainer.dataset import concat_examples

from saliency_ext.calculators.aggregation import channel_axes

CURVES = ('deletion', 'insertion')
#: An item whose ``|f(x) - f(b)|`` is at most this share of the probe's
#: median is left out.
TOLERANCE = 0.1
#: The ranking of each curve: by the map, and the random control.
RANKINGS = ('', '_random')


def rankings(saliency, real, *, items=None, seed=0):
    """The rank of every real position of each item's map (0 for the first
    to be perturbed), by the map's value (largest first; ties keep their
    order) and by a random permutation seeded by ``seed`` and the item's
    probe position, so that an item keeps its random ranking across reports.
    Padding ranks after every real position.

    Args:
        saliency (numpy.ndarray): Maps ``(N, ...)``.
        real (numpy.ndarray): Booleans ``(N, ...)``, the real positions.
        items (sequence of int): The probe positions of the maps (default
            ``0..N-1``).
        seed (int): Seed of the random ranking.

    Returns:
        numpy.ndarray: Ranks ``(2, N, ...)``: by the map, then random.
    """
    n = len(saliency)
    items = range(n) if items is None else items
    flat, flat_real = saliency.reshape(n, -1), real.reshape(n, -1)
    ranks = numpy.full((2,) + flat.shape, flat.shape[1], numpy.int64)
    for i, item in enumerate(items):
        positions = numpy.flatnonzero(flat_real[i])
        by_map = positions[numpy.argsort(-flat[i, positions], kind='stable')]
        by_chance = numpy.random.RandomState([seed, int(item)]).permutation(
            positions)
        for r, order in enumerate((by_map, by_chance)):
            ranks[r, i, order] = numpy.arange(len(order))
    return ranks.reshape((2,) + saliency.shape)


class Steps(object):
    """The perturbed targets of the curves, as blocks of the calculator's
    passes: block 0 is the input, block 1 the all-baseline target, then the
    K - 1 inner steps of each curve in turn; with ``inner`` only the inner
    steps (block 0 is the first inner step).

    Args:
        calculator (BaseCalculator): Evaluates the blocks; its
            ``baseline_like`` gives the baseline.
        ranks (numpy.ndarray): :func:`rankings` of the items.
        real (numpy.ndarray): Booleans ``(N, ...)``, the real positions.
        curves (list): ``(kind, ranking)`` pairs: ``'deletion'`` or
            ``'insertion'``, 0 (by the map) or 1 (random).
        steps (int): K.
        ch_axis: The entry's aggregation channel axes: the target's axes
            that a map position spans whole.
        inner (bool): Only the inner steps.
    """

    def __init__(self, calculator, ranks, real, curves, steps, ch_axis, *,
                 inner=False):
        self.calculator = calculator
        self.ranks = ranks
        self.real = real
        self.sizes = real.reshape(len(real), -1).sum(axis=1)
        self.curves = list(curves)
        self.steps = steps
        self.ch_axis = ch_axis
        self.offset = 2 if inner else 0
        self.n_blocks = 2 - self.offset + len(self.curves) * (steps - 1)

    def keep(self, ks, items):
        """Booleans ``(n, B, ...)`` over the map positions of blocks ``ks``
        of ``items``: where the input's value is kept."""
        real = self.real[items]
        expand = (-1,) + (1,) * (real.ndim - 1)
        keep = numpy.empty((len(ks),) + real.shape, bool)
        for row, k in enumerate(ks + self.offset):
            if k < 2:
                keep[row] = True if k == 0 else ~real
                continue
            curve, step = divmod(int(k) - 2, self.steps - 1)
            kind, ranking = self.curves[curve]
            count = -(-(step + 1) * self.sizes[items] // self.steps)  # ceil
            first = self.ranks[ranking][items] < count.reshape(expand)
            keep[row] = ~first if kind == 'deletion' else first | ~real
        return keep

    def transform(self, point, ks, items):
        xp = backend.get_array_module(point)
        keep = xp.asarray(self._fit(self.keep(ks, items), point))
        return xp.where(keep, point, self.calculator.baseline_like(point))

    def _fit(self, keep, point):
        """Lays the map-shaped mask over the target ``point`` ``(n, B,
        ...)``: the channel axes are spanned whole, and a group padded to
        fewer positions than the whole probe takes the leading ones."""
        channels = () if self.ch_axis is None else channel_axes(
            self.ch_axis, point.ndim)
        spatial = [point.shape[a] for a in range(2, point.ndim)
                   if a not in channels]
        if keep.ndim - 2 != len(spatial) or any(
                m < t for m, t in zip(keep.shape[2:], spatial)):
            raise ValueError(
                'deletion and insertion perturb the saliency target position '
                'by position, so the maps must be shaped like the target '
                'without its channel axes; the maps are shaped {} per item, '
                'the target {} (ch_axis={!r})'.format(
                    keep.shape[2:], point.shape[2:], self.ch_axis))
        keep = keep[(slice(None),) * 2 + tuple(slice(0, t) for t in spatial)]
        for axis in sorted(channels):
            keep = numpy.expand_dims(keep, axis)
        return keep


class Curves(object):
    """The deletion and insertion curves of a probe.

    Attributes:
        explained (numpy.ndarray): ``f(x)`` of each item, ``(N,)``.
        baseline (numpy.ndarray): ``f(b)``, the all-baseline target's value.
        left_out (numpy.ndarray): Booleans ``(N,)``: items without a
            meaningful curve (see :data:`TOLERANCE`); their curves are NaN.
        curves (dict): ``'deletion'``, ``'deletion_random'``,
            ``'insertion'``, ``'insertion_random'`` (those asked for) ->
            ``(N, K + 1)`` normalised curves.
    """

    def __init__(self, explained, baseline, curves):
        self.explained, self.baseline = explained, baseline
        change = numpy.abs(explained - baseline)
        self.left_out = change <= TOLERANCE * numpy.median(change)
        self.curves = curves

    @property
    def span(self):
        """``f(x) - f(b)``, NaN for the items left out."""
        return numpy.where(self.left_out, numpy.nan,
                           self.explained - self.baseline)

    @property
    def direction(self):
        """+1 where ``f(x) >= f(b)``, else -1: the sign that makes the map's
        values that moved the item largest."""
        return numpy.where(self.explained >= self.baseline, 1., -1.)

    def areas(self):
        """Name -> the area under each item's curve, ``(N,)``."""
        return {name: area(curve) for name, curve in self.curves.items()}


def area(curves):
    """The area under curves ``(N, K + 1)`` sampled evenly over [0, 1], by
    the trapezoid rule: ``(N,)``."""
    steps = curves.shape[1] - 1
    return (curves[:, :-1] + curves[:, 1:]).sum(axis=1) / (2. * steps)


def deletion_insertion(calculator, data, saliency, real, *, curves=CURVES,
                       steps=10, items=None, seed=0, ch_axis=None,
                       converter=concat_examples):
    """Measures the deletion and insertion curves of ``saliency``, each
    with its random control.

    Args:
        calculator (BaseCalculator): The calculator that made the maps: its
            explained value, target and baseline are used.
        data: The items the maps explain, as for ``calculator.compute``.
        saliency (numpy.ndarray): The aggregated maps ``(N, ...)``.
        real (numpy.ndarray): Booleans ``(N, ...)``: the positions that
            belong to each item (see
            :func:`saliency_ext.metrics.groups.real_positions`).
        curves (tuple): Which of ``'deletion'`` and ``'insertion'``; empty
            for the two ends only (``f(x)`` and ``f(b)``).
        steps (int): K, the steps of a curve.
        items (sequence of int): The probe positions of the items, which
            seed their random rankings (default ``0..N-1``).
        seed (int): Seed of the random rankings.
        ch_axis: The aggregation channel axes of the maps.
        converter (callable): Turns a list of items into model inputs.

    Returns:
        Curves: The values at both ends and the normalised curves.
    """
    def evaluate(blocks):
        return calculator.evaluate(data, blocks, batchsize=len(saliency),
                                   converter=converter)

    explained, baseline = evaluate(Steps(calculator, None, real, (), steps,
                                         ch_axis))
    result = Curves(explained, baseline, {})
    pairs = [(kind, r) for kind in curves for r in range(len(RANKINGS))]
    if not pairs:
        return result
    toward = result.direction.reshape((-1,) + (1,) * (saliency.ndim - 1))
    ranks = rankings(saliency * toward, real, items=items, seed=seed)
    values = evaluate(Steps(calculator, ranks, real, pairs, steps, ch_axis,
                            inner=True))
    span = result.span[:, None]
    inner = steps - 1
    for c, (kind, r) in enumerate(pairs):
        ends = (explained, baseline) if kind == 'deletion' else \
            (baseline, explained)
        raw = numpy.concatenate([ends[0][None],
                                 values[c * inner:(c + 1) * inner],
                                 ends[1][None]]).T
        result.curves[kind + RANKINGS[r]] = (raw - baseline[:, None]) / span
    return result
