"""One named line of a saliency report: calculator, options, visualizer."""
import numbers

import numpy

from saliency_ext.calculators.aggregation import check_method
from saliency_ext.calculators.base import BaseCalculator
from saliency_ext.validation import is_int

COMPUTE_OPTIONS = ('M', 'train', 'noise_sampler')


def _check_scale(scale):
    if scale is None or scale == 'first':
        return scale
    if isinstance(scale, (tuple, list)) and len(scale) == 2 and all(
            isinstance(v, numbers.Real) and not isinstance(v, bool)
            for v in scale) and scale[0] < scale[1]:
        return tuple(float(v) for v in scale)
    raise ValueError("scale must be None (each map on its own scale), "
                     "'first' (each item keeps the scale of its first "
                     "report) or (vmin, vmax) with vmin < vmax, got {!r}"
                     .format(scale))


def _check_dict(name, value):
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TypeError('{} must be a dict of keyword arguments, got {!r}'
                        .format(name, value))
    return dict(value)


def _check_ch_axis(ch_axis):
    axes = ch_axis if isinstance(ch_axis, (tuple, list)) else (ch_axis,)
    if ch_axis is not None and not (axes and all(
            is_int(a) and (a >= 2 or a < 0) for a in axes)):
        raise ValueError(
            'ch_axis must be None or axes of the samples (M, N, ...) after '
            'the item axis: 2 for the channels of (N, C, H, W) images, 3 for '
            'the units of a graph embedding (N, atoms, units); got {!r}'
            .format(ch_axis))


def limits_of(saliency):
    """The colour scale that shows ``saliency`` whole: symmetric around zero
    for signed maps, ``(0, max)`` for non-negative ones."""
    finite = saliency[numpy.isfinite(saliency)]
    top = float(numpy.abs(finite).max()) if finite.size else 0.
    top = top if top > 0 else 1.
    return (0., top) if finite.size and finite.min() >= 0 else (-top, top)


class ReportEntry(object):
    """What a report computes and draws for one named entry.

    Args:
        calculator (BaseCalculator): The saliency calculator.
        visualizer: A visualizer (``TableVisualizer``, ``ImageVisualizer``,
            ``MolVisualizer``, ``SmilesVisualizer`` or anything with a
            ``visualize(saliency, ..., scaler=...)`` returning RGB uint8).
        compute (dict): Options of ``calculator.compute``: ``M``, ``train``
            (BayesGrad), ``noise_sampler`` (SmoothGrad).
        method (str): Aggregation method, ``'raw'``, ``'abs'`` or
            ``'square'``.
        ch_axis (int or tuple): Aggregation channel axes (counting the sample
            axis 0: 2 for image channels, 3 for embedding units of graphs).
        visualize (dict): Keyword arguments for every ``visualize`` call,
            such as ``feature_names`` or ``clip_percentile``.
        item_kwargs: Per-item keyword arguments for ``visualize``: a dict of
            sequences aligned with the probe dataset (``{'smiles': smiles}``)
            or a callable taking one probe example and returning a dict
            (``lambda example: {'image': example[0]}``).
        scale: ``None`` scales each map on its own; ``(vmin, vmax)`` fixes
            one scale for all; ``'first'`` gives each probe item the scale of
            its first report, so its maps compare across epochs.
        include_mean (bool): Also draw the mean map over the probe (a
            data-set level feature importance for tables).
    """

    def __init__(self, calculator, visualizer, *, compute=None, method='raw',
                 ch_axis=None, visualize=None, item_kwargs=None, scale=None,
                 include_mean=False):
        if not isinstance(calculator, BaseCalculator):
            raise TypeError('calculator must be a saliency calculator, got '
                            '{!r}'.format(type(calculator).__name__))
        if not callable(getattr(visualizer, 'visualize', None)):
            raise TypeError('visualizer must have a visualize method, got '
                            '{!r}'.format(type(visualizer).__name__))
        compute = _check_dict('compute', compute)
        unknown = sorted(set(compute) - set(COMPUTE_OPTIONS))
        if unknown:
            raise ValueError('unknown compute options {}: a report entry '
                             'takes {}'.format(unknown, COMPUTE_OPTIONS))
        # compute's own checks run on a real batch at the trainer's start
        check_method(method)
        _check_ch_axis(ch_axis)
        visualize = _check_dict('visualize', visualize)
        if not (item_kwargs is None or callable(item_kwargs) or
                isinstance(item_kwargs, dict)):
            raise TypeError('item_kwargs must be a dict of sequences or a '
                            'callable, got {!r}'.format(item_kwargs))
        scale = _check_scale(scale)
        if scale is not None and 'scaler' in visualize:
            raise ValueError(
                "give either scale={!r} or visualize={{'scaler': ...}}, not "
                "both: the entry's scale sets the scaler of every picture"
                .format(scale))
        self.calculator = calculator
        self.visualizer = visualizer
        self.compute_options = compute
        self.method = method
        self.ch_axis = ch_axis
        self.visualize_options = visualize
        self.item_kwargs = item_kwargs
        self.scale = scale
        self.include_mean = bool(include_mean)

    def settings(self):
        """A JSON-serialisable description of what makes the maps, saved
        with every report: the calculator's own :meth:`settings`, the
        compute options, the aggregation and the visualizer."""
        compute = dict(self.compute_options)
        sampler = compute.get('noise_sampler')
        if sampler is not None:
            described = getattr(sampler, 'settings', dict)()
            compute['noise_sampler'] = dict(type=type(sampler).__name__,
                                            **described)
        return dict(calculator=type(self.calculator).__name__,
                    options=self.calculator.settings(), compute=compute,
                    method=self.method, ch_axis=self.ch_axis,
                    visualizer=type(self.visualizer).__name__)

    def bind(self, indices, examples):
        """Resolves ``item_kwargs`` for the probe: one dict per item."""
        if self.item_kwargs is None:
            return [{} for _ in indices]
        if callable(self.item_kwargs):
            return [dict(self.item_kwargs(example)) for example in examples]
        bound = []
        for index in indices:
            try:
                bound.append({key: values[index] for key, values in
                              self.item_kwargs.items()})
            except (IndexError, KeyError, TypeError) as error:
                raise ValueError(
                    'item_kwargs must hold one value per probe dataset item; '
                    'item {} is missing ({})'.format(index, error))
        return bound

    def saliency(self, data, converter):
        """Computes and aggregates the maps of ``data``: ``(N, ...)``."""
        samples = self.calculator.compute(
            data, batchsize=len(data), converter=converter,
            **self.compute_options)
        return self.calculator.aggregate(samples, method=self.method,
                                         ch_axis=self.ch_axis)

    def maps(self, saliency):
        """The maps drawn: one per item, then the mean when asked for."""
        maps = [('item_{:02d}'.format(i), s) for i, s in enumerate(saliency)]
        if self.include_mean:
            maps.append(('mean', saliency.mean(axis=0)))
        return maps

    def limits(self, saliency):
        """The per-map ``(vmin, vmax)`` that shows these maps whole: what
        ``scale='first'`` keeps from the first report."""
        return numpy.array([limits_of(m) for _, m in self.maps(saliency)])

    def render(self, saliency, bound, limits=None):
        """Draws the maps. ``limits``, shaped ``(n_maps, 2)``, fixes each
        map's ``(vmin, vmax)``; without it each map is scaled by the
        visualizer's own scaler. Returns ``(name, rgb)`` pairs."""
        from saliency_ext.visualizers import FixedScaler
        pictures = []
        for i, (name, item) in enumerate(self.maps(saliency)):
            kwargs = dict(self.visualize_options)
            kwargs.update(bound[i] if i < len(bound) else {})
            if limits is not None:
                kwargs['scaler'] = FixedScaler(*limits[i])
            pictures.append((name, self.visualizer.visualize(item, **kwargs)))
        return pictures
