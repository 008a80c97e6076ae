"""One named line of a saliency report: calculator, options, visualizer."""
import numbers

import chainer
import numpy
from chainer.dataset import concat_examples

from saliency_ext.calculators.aggregation import check_method
from saliency_ext.calculators.base import BaseCalculator
from saliency_ext.calculators.data import as_dataset
from saliency_ext.metrics.groups import parse_groups
from saliency_ext.report.quality import (check_ground_truth, check_metrics,
                                         check_steps)
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


def finite_rows(saliency):
    """A bool per item of ``saliency`` ``(N, ...)``: whether its map is
    finite everywhere."""
    return numpy.isfinite(saliency.reshape(len(saliency), -1)).all(axis=1)


def _check_spread(visualizer, M):
    if not callable(getattr(visualizer, 'visualize_spread', None)):
        raise TypeError('show_std=True draws the spread beside each map, but '
                        '{} has no visualize_spread method (ImageVisualizer, '
                        'MolVisualizer and SmilesVisualizer have one)'.format(
                            type(visualizer).__name__))
    if not (is_int(M) and M > 1):
        raise ValueError('show_std=True draws the spread of the M samples of '
                         'each map; give compute=dict(M=...) with M > 1 '
                         '(SmoothGrad, BayesGrad), got M={!r}'.format(M))


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
        include_mean (bool): Also draw the mean map over the probe items
            whose maps are finite (a data-set level feature importance for
            tables), titled with how many items it averages when the
            visualizer takes a ``title``.
        allow_batch_dependence (bool): Skip the start-up check that item
            0's saliency is the same alone and beside a copy of itself. It
            stops the run when ``eval_fun`` returns a mean (a
            ``Classifier``'s loss), which divides the saliency by the rows
            per pass; opt out only when the dependence is intended.
        show_std (bool): With ``M > 1`` samples, draw beside each item's
            map a second panel of its spread, the standard deviation over
            the samples (``saliency_std`` in the arrays), in the units of
            the map's colour scale: a tile for images, rings for molecules.
            Needs a visualizer with ``visualize_spread``.
        metrics (tuple of str): How far the maps can be trusted, measured
            at every report (see :mod:`saliency_ext.report.quality`):
            ``'deletion'``, ``'insertion'`` (faithfulness, against a random
            ranking), ``'randomization'`` (model randomisation sanity
            check), ``'completeness'`` (Integrated Gradients, method
            ``'raw'``).
        groups (dict): Named groups of map positions, ``{'name': spec}``,
            each reported as ``mass/<name>``, the share of |saliency| on it:
            a boolean mask over one item's map (images), feature indices or
            names (tables, names from ``visualize['feature_names']``), or a
            SMARTS pattern matched on each item's molecule (its ``smiles``
            in ``item_kwargs``). For molecules each report's
            ``fragments.csv`` also ranks the SMARTS groups, with RDKit's
            functional groups, by their attribution.
        ground_truth (tuple of str): Groups that are known to matter, also
            reported as ``auroc/<name>``: the AUROC of |saliency| against
            the group, over the items that contain it.
        metric_steps (int): K, the steps of the deletion and insertion
            curves.
    """

    def __init__(self, calculator, visualizer, *, compute=None, method='raw',
                 ch_axis=None, visualize=None, item_kwargs=None, scale=None,
                 include_mean=False, allow_batch_dependence=False,
                 show_std=False, metrics=(), groups=None, ground_truth=(),
                 metric_steps=10):
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
        self.metrics = check_metrics(metrics, calculator, compute, method)
        self.groups = parse_groups(
            groups, feature_names=visualize.get('feature_names'))
        self.ground_truth = check_ground_truth(ground_truth, self.groups)
        self.metric_steps = check_steps(metric_steps)
        self.calculator = calculator
        self.visualizer = visualizer
        self.compute_options = compute
        self.method = method
        self.ch_axis = ch_axis
        self.visualize_options = visualize
        self.item_kwargs = item_kwargs
        if show_std:
            _check_spread(visualizer, compute.get('M', 1))
        self.scale = scale
        self.include_mean = bool(include_mean)
        self.allow_batch_dependence = bool(allow_batch_dependence)
        self.show_std = bool(show_std)

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

    def item_arguments(self, index, example):
        """The ``visualize`` keyword arguments of one probe item, from
        ``item_kwargs``: ``index`` is its dataset index."""
        if self.item_kwargs is None:
            return {}
        if callable(self.item_kwargs):
            return dict(self.item_kwargs(example))
        arguments = {}
        for key, values in self.item_kwargs.items():
            try:
                arguments[key] = values[index]
            except (IndexError, KeyError, TypeError) as error:
                raise ValueError(
                    'item_kwargs[{!r}] must hold one value per dataset item; '
                    'it has none for dataset index {} ({}: {})'.format(
                        key, index, type(error).__name__, error)) from error
        return arguments

    def saliency(self, data, converter=concat_examples, *, batchsize=None,
                 item_seeds=None):
        """The mean maps of :meth:`arrays`: ``(N, ...)``."""
        return self.arrays(data, converter, batchsize=batchsize,
                           item_seeds=item_seeds)['saliency']

    def arrays(self, data, converter=concat_examples, *, batchsize=None,
               item_seeds=None):
        """Computes and aggregates the maps of ``data`` (an array, a tuple
        of arrays or a list of items), in groups of ``batchsize`` items (all
        in one by default): ``'saliency'``, the mean over the samples
        ``(N, ...)``, and with ``M > 1`` ``'saliency_std'``, their standard
        deviation. ``item_seeds``: see ``calculator.compute``.

        What the model reports meanwhile (a ``Classifier``'s loss) goes to
        a reporter of its own and is dropped, so the trainer's observation
        stays as training made it."""
        with self._own_reporter():
            samples = self.calculator.compute(
                data, batchsize=batchsize or len(as_dataset(data)),
                converter=converter, item_seeds=item_seeds,
                **self.compute_options)
        arrays = dict(saliency=self.calculator.aggregate(
            samples, method=self.method, ch_axis=self.ch_axis))
        if len(samples) > 1:
            arrays['saliency_std'] = self.calculator.spread(
                samples, method=self.method, ch_axis=self.ch_axis)
        return arrays

    def explained(self, data, converter):
        """What the maps of ``data`` explain, for the pictures' labels: the
        calculator's :meth:`~saliency_ext.BaseCalculator.explain_outputs`,
        all in one group, with the model's own reports dropped as in
        :meth:`saliency`."""
        with self._own_reporter():
            return self.calculator.explain_outputs(
                data, len(as_dataset(data)), converter)

    def explained_key(self):
        """What :meth:`explained` depends on besides the data: entries with
        equal keys explain the same outputs (the same calculator class,
        model, evaluation, target and labels), which one pass finds."""
        c = self.calculator
        return (type(c).explain_outputs, id(c.model), id(c.eval_fun),
                id(c.target_extractor), id(c.output_extractor),
                repr(c.target), c.label_index, str(c.device))

    def _own_reporter(self):
        reporter = chainer.Reporter()
        reporter.add_observers('saliency', self.calculator.model.namedlinks())
        return reporter.scope({})

    def maps(self, saliency):
        """The maps drawn: one per item, named ``item_NN`` with as many
        digits as the probe's last item needs (at least two) so that names
        sort in item order, then, when asked for, the mean of the items
        whose maps are finite."""
        width = max(2, len(str(len(saliency) - 1)))
        maps = [('item_{:0{}d}'.format(i, width), s)
                for i, s in enumerate(saliency)]
        if self.include_mean:
            finite = finite_rows(saliency)
            maps.append(('mean', saliency[finite].mean(axis=0) if finite.any()
                         else numpy.full(saliency.shape[1:], numpy.nan)))
        return maps

    def mean_title(self, saliency):
        """The title of the mean picture: how many items it averages."""
        n, finite = len(saliency), int(finite_rows(saliency).sum())
        if finite == n:
            return 'mean of {} probe items'.format(n)
        return 'mean of {} of {} probe items ({} not finite)'.format(
            finite, n, n - finite)

    def limits(self, saliency):
        """The per-map ``(vmin, vmax)`` that shows these maps whole: what
        ``scale='first'`` keeps from the first report."""
        return numpy.array([limits_of(m) for _, m in self.maps(saliency)])

    def render(self, saliency, bound, limits=None, *, std=None,
               on_error=None):
        """Draws the maps. ``limits``, shaped ``(n_maps, 2)``, fixes each
        map's ``(vmin, vmax)``; without it each map is scaled by the
        visualizer's own scaler. With ``show_std``, each item's spread in
        ``std`` (shaped as ``saliency``) is drawn beside its map. Returns
        ``(name, rgb)`` pairs.

        A map that fails to draw raises, or, with ``on_error``, takes the
        picture ``on_error(position, name, error)`` returns, so that one
        item does not take the others' pictures with it.
        """
        maps = self.maps(saliency)
        names = [name for name, _ in maps]
        return list(zip(names, self.draw(
            [m for _, m in maps], bound, limits, std=std, on_error=None if
            on_error is None else lambda i, error: on_error(
                i, names[i], error))))

    def draw(self, maps, bound, limits=None, *, std=None, on_error=None,
             cell=None):
        """Draws ``maps`` with the per-map arguments ``bound`` (missing ones
        are empty: the mean) and the per-map ``(vmin, vmax)`` ``limits`` (or
        None for the visualizer's own scale); with ``show_std``, the spread
        ``std[i]`` of each of the first ``len(std)`` maps beside it; with
        ``cell``, a ``(width, height)``, as small as a tile of that size
        where the visualizer can draw small (``for_cell``). Returns the
        pictures; a map that fails to draw raises, or takes
        ``on_error(position, error)``.
        """
        from saliency_ext.visualizers import FixedScaler
        visualizer = self.visualizer
        if cell is not None and hasattr(visualizer, 'for_cell'):
            visualizer = visualizer.for_cell(*cell)
        pictures = []
        for i, item in enumerate(maps):
            kwargs = dict(self.visualize_options)
            kwargs.update(bound[i] if i < len(bound) else {})
            if limits is not None:
                kwargs['scaler'] = FixedScaler(*limits[i])
            try:
                rgb = visualizer.visualize(item, **kwargs)
                if self.show_std and std is not None and i < len(std):
                    rgb = self._beside_spread(visualizer, rgb, item, std[i],
                                              kwargs)
            except Exception as error:
                if on_error is None:
                    raise
                rgb = on_error(i, error)
            pictures.append(rgb)
        return pictures

    @property
    def own_scaler(self):
        """The scaler of ``visualize`` when the entry has no ``scale``: a
        :class:`~saliency_ext.visualizers.Scaler`, a function, or the
        visualizer's default (``abs_max_scaler``)."""
        from saliency_ext.visualizers import abs_max_scaler
        return self.visualize_options.get('scaler', abs_max_scaler)

    def scale_of(self, item, limits=None):
        """The colour scale a map is drawn on, for its legend: ``(limits,
        signed)``; ``limits`` is None when a scaler function decides. A map
        without negative values on a signed scale shows only its upper
        half, white to red, so its legend is ``(0, vmax)``, unsigned."""
        from saliency_ext.visualizers import Scaler
        finite = item[numpy.isfinite(item)]
        negative = bool(finite.size and finite.min() < 0)
        scaler = self.own_scaler
        if limits is None and not isinstance(scaler, Scaler):
            return None, negative
        lo, hi = (float(v) for v in (
            limits if limits is not None else scaler.limits(item)))
        if lo < 0 and not negative:  # magnitudes: only the upper half shows
            return (0., hi), False
        return (lo, hi), lo < 0

    @staticmethod
    def _beside_spread(visualizer, rgb, item, item_std, kwargs):
        """``rgb`` with the spread's panel on its right, on a scale whose
        top is the largest magnitude of the map's own colour scale."""
        from saliency_ext.visualizers import Scaler
        from saliency_ext.visualizers.base import side_by_side
        scaler = kwargs.pop('scaler', None)
        vmin, vmax = scaler.limits(item) if isinstance(scaler, Scaler) \
            else limits_of(item)
        panel = visualizer.visualize_spread(
            item_std, top=max(-vmin, vmax) or 1., **kwargs)
        return side_by_side(rgb, panel)

    @property
    def spread_note(self):
        """What the second panel of a picture with its spread shows, for the
        picture's legend."""
        return 'right: the std over the {} samples, full at the scale\'s ' \
            'end'.format(self.compute_options.get('M'))
