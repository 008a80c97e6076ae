"""The start-up check: what a report verifies when the trainer starts, so a
mistake stops the run in seconds with the entry and the item named, not at
the first trigger or, worse, silently.

:func:`check_start` is the one entry point; it runs before any sink opens.
"""
import inspect
import warnings

import numpy

from saliency_ext.calculators.targets import PER_ITEM_HINT
from saliency_ext.random_state import preserved_random_state
from saliency_ext.report.errors import (SaliencyReportError,
                                        describe_nonfinite, nonfinite_items,
                                        subject, wrap)

#: How far item 0's saliency beside a copy of itself may be scaled from its
#: saliency alone (a mean over two rows halves it), and how far its pattern
#: may move (relative L2 distance). Passes of different sizes round
#: differently, and where max pooling or ReLU ties that changes gradients
#: locally (Integrated Gradients from a constant baseline moves by up to 7 %
#: in L2 on the digits CNN, its scale by under 1 %).
BATCH_SCALE_TOLERANCE = 0.05
BATCH_PATTERN_TOLERANCE = 0.5


def check_start(series, probe, *, strict=False):
    """Checks a report before training starts.

    1. The whole probe is converted once (``probe.convert()``): a converter
       that cannot (molecules without ``concat_mols``) is named, with the
       items it fails on.
    2. Probe items with NaN or infinite inputs are named: a warning, or an
       error with ``strict``.
    3. For every entry, every probe item's ``visualize`` arguments are
       bound and checked (an unparsable SMILES, a missing value); item 0 is
       explained and drawn, and its metrics measured; and, unless the entry
       allows it, item 0 is
       explained alone and twice in one pass: saliency that changes with
       the rows of a pass (a mean loss) stops the run.

    Args:
        series (dict): Entry name -> :class:`~saliency_ext.EntrySeries`.
        probe (Probe): The probe, not yet converted.
        strict (bool): Raise instead of warning about non-finite inputs.

    Raises:
        SaliencyReportError: Naming the entry, the probe items and what to
            change, raised from the original error where there is one.
    """
    probe.convert()
    check_inputs(probe, strict=strict)
    with preserved_random_state():
        for one in series.values():
            check_item_arguments(one, probe)
            check_first_item(one, probe)
            if not one.entry.allow_batch_dependence:
                check_batch_independence(one, probe)


def check_inputs(probe, *, strict=False):
    """Warns about (with ``strict``, refuses) probe items whose converted
    inputs hold NaN or infinite values."""
    problems, items = [], set()
    for position, array in enumerate(probe.arrays):
        nan, inf = nonfinite_items(array)
        if nan or inf:
            problems.append('converted array {} has {}'.format(
                position, describe_nonfinite(nan, inf, probe.indices)))
            items.update(nan + inf)
    if not problems:
        return
    items = sorted(items)
    message = (
        'SaliencyReport: the probe has non-finite inputs: {}. Their saliency '
        'means nothing (through ReLU a NaN input gives an all-zero map): '
        'fix the data, or leave the items out with probe_indices='.format(
            '; '.join(problems)))
    if strict:
        raise SaliencyReportError(message, items=items,
                                  indices=[probe.indices[i] for i in items])
    warnings.warn(message)


def check_item_arguments(series, probe):
    """Binds every probe item's ``visualize`` arguments to the visualizer
    and lets it check them (``check_arguments``) without drawing."""
    entry = series.entry
    check = getattr(entry.visualizer, 'check_arguments', None)
    signature = _signature(entry.visualizer.visualize)
    for position, bound in enumerate(series.item_kwargs):
        arguments = dict(entry.visualize_options, **bound)
        try:
            if signature is not None:
                signature.bind(None, **arguments)
            if check is not None:
                check(**arguments)
        except Exception as error:
            raise wrap(error, 'cannot draw {items}', entry=series.name,
                       items=[position], indices=[probe.indices[position]],
                       fix='Check the entry\'s item_kwargs and visualize '
                       'options.') from error


def check_first_item(series, probe):
    """Explains and draws probe item 0 (with its spread, when shown), and
    measures the entry's metrics on it."""
    data, converter = probe.data([0])
    try:
        arrays = series.entry.arrays(data, converter)
        saliency = arrays['saliency']
        series.render(saliency, items=[0], std=arrays.get('saliency_std'))
        if series.metrics.enabled:
            series.measure(saliency, data, converter, items=[0])
    except Exception as error:
        raise wrap(error, 'failed at start on {items}', entry=series.name,
                   items=[0], indices=probe.indices[:1]) from error


def check_batch_independence(series, probe):
    """Stops the run when item 0's saliency alone differs from its saliency
    beside a copy of itself in one pass (one sample, no noise, evaluation
    mode): the explained value then depends on the other rows of a pass."""
    calculator = series.entry.calculator

    def explain(items):
        data, converter = probe.data(items)
        return calculator.compute(data, batchsize=len(items),
                                  converter=converter)[0]

    try:
        alone, pair = explain([0])[0], explain([0, 0])
    except Exception as error:
        raise wrap(error, 'failed at start on {items} (explained twice in '
                   'one pass)', entry=series.name, items=[0],
                   indices=probe.indices[:1]) from error
    norm = numpy.sqrt(2 * (alone * alone).sum())  # of [alone, alone]
    if not (numpy.isfinite(norm) and norm > 0 and numpy.isfinite(pair).all()):
        return  # nothing to compare
    ratio = float((pair * alone).sum() / (2 * (alone * alone).sum()))
    moved = numpy.sqrt(((pair - ratio * alone) ** 2).sum()) / (ratio * norm) \
        if ratio > 0 else numpy.inf
    if abs(ratio - 1) <= BATCH_SCALE_TOLERANCE and \
            moved <= BATCH_PATTERN_TOLERANCE:
        return
    mean = ', as when eval_fun returns a mean over the rows (the loss of ' \
        'a Classifier or of F.softmax_cross_entropy)' \
        if abs(ratio - 0.5) < 0.05 else ''
    raise SaliencyReportError(
        '{}: the saliency of {} changes when it is explained beside a copy '
        'of itself in one pass: it becomes {:.3g} times its value alone{}{}. '
        'Saliency would then depend on how many rows share a pass. {} If '
        'the dependence is intended, pass ReportEntry(..., '
        'allow_batch_dependence=True).'.format(
            subject(series.name), probe.describe([0]), ratio,
            ' and its pattern moves by {:.0%}'.format(moved)
            if moved > BATCH_PATTERN_TOLERANCE else '', mean,
            PER_ITEM_HINT),
        entry=series.name, items=[0], indices=probe.indices[:1])


def _signature(function):
    try:
        return inspect.signature(function)
    except (TypeError, ValueError):  # builtins: nothing to bind
        return None
