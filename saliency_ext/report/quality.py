"""How far a report entry's maps can be trusted: the metrics an entry asks
for (``ReportEntry(metrics=..., groups=..., ground_truth=...)``), measured
on its probe at every report.

Names of the values (each reported as ``saliency/<entry>/<name>``):

- ``'deletion'``: ``deletion_auc`` and ``deletion_auc_random``;
  ``'insertion'``: ``insertion_auc`` and ``insertion_auc_random`` (see
  :mod:`saliency_ext.metrics.faithfulness`), with ``faithfulness_left_out``,
  the number of items left out;
- ``'randomization'``: ``corr_to_init`` (each item's map against its first
  report's) and ``corr_to_random_model`` (against the map of the model with
  re-initialised parameters, computed once per run);
- ``'completeness'`` (Integrated Gradients): ``completeness``;
- every group: ``mass/<group>``; groups in ``ground_truth``:
  ``auroc/<group>``.

Each is a mean over the probe items (NaN items left out); the per-item
values (and the curves) are kept with the maps as ``metrics/<name>``.
"""
import numpy

from saliency_ext.calculators.integrated_gradients import \
    IntegratedGradientsCalculator
from saliency_ext.metrics import (
    CURVES, RANDOM_MODEL_THRESHOLD, completeness_error,
    deletion_insertion, group_auroc, group_mass, nanmean, rank_correlations,
    randomized_parameters, real_positions)
from saliency_ext.validation import is_int

METRICS = CURVES + ('randomization', 'completeness')
#: The prefix of the per-item arrays kept with the maps.
ARRAYS = 'metrics/'


def check_metrics(metrics, calculator, compute, method):
    """Validates ``ReportEntry(metrics=...)``; returns the names as a
    tuple."""
    if isinstance(metrics, str) or not isinstance(metrics, (tuple, list)):
        raise TypeError('metrics must be a tuple of names from {}, got {!r}'
                        .format(METRICS, metrics))
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError('unknown metrics {}: choose from {}'.format(
            unknown, METRICS))
    if len(set(metrics)) != len(metrics):
        raise ValueError('metrics {!r} names one twice'.format(metrics))
    if 'completeness' in metrics:
        if not isinstance(calculator, IntegratedGradientsCalculator):
            raise ValueError(
                "metric 'completeness' checks that Integrated Gradients' "
                'attributions add up to f(x) - f(baseline); the entry\'s '
                'calculator is a {}'.format(type(calculator).__name__))
        if method != 'raw' or compute.get('noise_sampler') is not None or \
                compute.get('train'):
            raise ValueError(
                "metric 'completeness' needs the plain attributions: "
                "method='raw', no noise_sampler and train=False (got "
                'method={!r}, compute={!r})'.format(method, compute))
    return tuple(metrics)


def check_ground_truth(ground_truth, groups):
    """Validates ``ReportEntry(ground_truth=...)``: names of groups."""
    if isinstance(ground_truth, str) or not isinstance(ground_truth,
                                                       (tuple, list)):
        raise TypeError('ground_truth must be a tuple of group names, got '
                        '{!r}'.format(ground_truth))
    missing = [name for name in ground_truth if name not in groups]
    if missing:
        raise ValueError('ground_truth names {} that are not among the '
                         'groups {}'.format(missing, sorted(groups)))
    return tuple(ground_truth)


def check_steps(steps):
    if not is_int(steps) or steps < 1:
        raise ValueError('metric_steps must be an int >= 1, got {!r}'.format(
            steps))
    return int(steps)


class EntryMetrics(object):
    """Measures one entry's metrics over its probe.

    It keeps what the metrics carry over the run: each group resolved per
    probe item once (a SMARTS pattern matched on each molecule), and the
    randomised model's maps, computed at the first report of the run.

    Args:
        entry (ReportEntry): The entry.
    """

    def __init__(self, entry):
        self.entry = entry
        self.item_kwargs = []
        self.positions = {name: [] for name in entry.groups}
        self.random_saliency = None

    def add_item(self, item_kwargs):
        """Binds the next probe item, given its visualizer arguments (a
        molecule is read from its ``smiles`` or ``mol``): each group is
        resolved on it (a SMARTS pattern matched on its molecule)."""
        positions = {name: group.positions(item_kwargs)
                     for name, group in self.entry.groups.items()}
        for name, found in positions.items():
            self.positions[name].append(found)
        self.item_kwargs.append(item_kwargs)

    @property
    def enabled(self):
        """Whether the entry measures anything."""
        return bool(self.entry.metrics or self.entry.groups)

    def measure(self, saliency, data, converter, *, first=None, items=None):
        """Measures the metrics of one report.

        Args:
            saliency (numpy.ndarray): The report's maps ``(N, ...)``.
            data: The probe items they explain, as ``calculator.compute``
                takes them.
            converter (callable): Turns a list of items into model inputs.
            first (numpy.ndarray): The maps of the series' first report
                (``None``: this is the first).
            items (sequence of int): The probe positions of the maps when
                they are not the whole probe (the start-up check); the
                randomised model's maps are then not kept.

        Returns:
            tuple: ``(values, arrays)``: name -> mean over the items (float,
            NaN when no item has a value), and ``metrics/<name>`` -> the
            per-item values ``(N,)`` or curves ``(N, K + 1)``.
        """
        whole = items is None
        items = list(range(len(saliency))) if whole else list(items)
        real = numpy.stack([
            _for_item(i, lambda kw: real_positions(saliency.shape[1:], kw),
                      self.item_kwargs[i]) for i in items])
        per_item = {}
        names = self.entry.metrics
        if 'completeness' in names or any(c in names for c in CURVES):
            per_item.update(self._faithfulness(saliency, data, converter,
                                               real, items))
        if 'randomization' in names:
            per_item['corr_to_init'] = rank_correlations(
                saliency if first is None else first, saliency, real)
            per_item['corr_to_random_model'] = rank_correlations(
                self._random_saliency(data, converter, whole), saliency, real)
        per_item.update(self._groups(saliency, real, items))
        values, arrays = {}, {}
        for name, value in per_item.items():
            arrays[ARRAYS + name] = value
            if value.ndim == 1:
                values[name] = nanmean(value)
        if 'faithfulness_left_out' in per_item:
            values['faithfulness_left_out'] = int(
                per_item['faithfulness_left_out'].sum())
        return values, arrays

    def _faithfulness(self, saliency, data, converter, real, items):
        entry = self.entry
        result = deletion_insertion(
            entry.calculator, data, saliency, real,
            curves=tuple(c for c in CURVES if c in entry.metrics),
            steps=entry.metric_steps, items=items, ch_axis=entry.ch_axis,
            converter=converter)
        per_item = {'faithfulness_left_out': result.left_out.astype(float)}
        for name, auc in result.areas().items():
            per_item[_named(name, 'auc')] = auc
            per_item[_named(name, 'curve')] = result.curves[name]
        if 'completeness' in entry.metrics:
            per_item['completeness'] = completeness_error(result.span,
                                                          saliency, real)
        return per_item

    def _random_saliency(self, data, converter, keep):
        """The maps of the model with re-initialised parameters: computed
        once per run and kept (unless ``keep`` is False)."""
        if self.random_saliency is not None and keep:
            return self.random_saliency
        with randomized_parameters(self.entry.calculator.model):
            random_saliency = self.entry.saliency(data, converter)
        if keep:
            self.random_saliency = random_saliency
        return random_saliency

    def _groups(self, saliency, real, items):
        per_item = {}
        shape = saliency.shape[1:]
        for name, group in self.entry.groups.items():
            masks = numpy.stack([
                _for_item(i, lambda kw: group.mask(
                    shape, positions=self.positions[name][i]),
                    self.item_kwargs[i]) for i in items])
            per_item['mass/' + name] = group_mass(saliency, real, masks)
            if name in self.entry.ground_truth:
                per_item['auroc/' + name] = group_auroc(saliency, real,
                                                        masks)
        return per_item


def random_model_warning(values):
    """A warning when the maps are as close to the randomised model's as
    :data:`~saliency_ext.metrics.RANDOM_MODEL_THRESHOLD`, else None."""
    corr = values.get('corr_to_random_model')
    if corr is None or not corr >= RANDOM_MODEL_THRESHOLD:
        return None
    return ('the maps are as close to those of a randomly initialised model '
            'as model-independent maps would be (corr_to_random_model {:.2f} '
            '>= {}): they may show the input more than what the model '
            'learned'.format(corr, RANDOM_MODEL_THRESHOLD))


def _named(curve, what):
    """``'deletion_random'``, ``'auc'`` -> ``'deletion_auc_random'``."""
    kind, _, control = curve.partition('_')
    return '_'.join(part for part in (kind, what, control) if part)


def _for_item(index, resolve, item_kwargs):
    """``resolve(item_kwargs)``, with errors naming the probe item."""
    try:
        return resolve(item_kwargs)
    except (ValueError, TypeError) as error:
        raise type(error)('probe item {}: {}'.format(index, error)) from error
