"""One entry's series of reports: what each report continues from the last.
The extension and the replay both keep one per entry."""
import typing

import numpy

from saliency_ext.metrics import mean_rank_correlation, molecule_of
from saliency_ext.report.entry import limits_of
from saliency_ext.report.errors import describe, wrap
from saliency_ext.report.history import History
from saliency_ext.report.placeholder import SIZE as PLACEHOLDER_SIZE
from saliency_ext.report.placeholder import placeholder
from saliency_ext.report.quality import EntryMetrics
from saliency_ext.sinks.layout import training_order


class Rendering(typing.NamedTuple):
    """The pictures of one report of an entry.

    Attributes:
        pictures (list): ``(name, rgb)`` pairs, one per map.
        failures (list): One dict per map that could not be drawn and was
            replaced by a placeholder: ``picture`` (its name), ``item`` and
            ``index`` (probe position and dataset index, None for the mean)
            and ``error`` (the error in words), as the index records them.
        errors (list): The exceptions of the failures, in their order.
    """

    pictures: list
    failures: list
    errors: list


class EntrySeries(object):
    """The reports of one entry over a run.

    It owns what carries from one report to the next: the per-item
    ``visualize`` arguments bound to the probe, the colour limits of the
    first report (``scale='first'``), the maps of the first report (for
    ``corr_to_init``), the maps of the last report with the step it was
    made at (for ``rank_corr``) and the entry's metrics bound to the probe
    (:attr:`metrics`). Its :meth:`state` is what
    a snapshot keeps; :meth:`resume` continues a series from a report
    folder.

    It also keeps the entry's :class:`~saliency_ext.report.history.History`
    (the frames of every report so far, drawn once each).

    Args:
        name (str): The entry's name.
        entry (ReportEntry): What is computed and drawn.
        indices (list of int): The probe items' dataset indices.
        examples (list): The probe items.
        history (History): The history's frames; ``None`` for the default.
    """

    def __init__(self, name, entry, indices, examples, *, history=None):
        self.name = name
        self.entry = entry
        self.indices = list(indices)
        self.history = History() if history is None else history
        self.item_kwargs = []
        self.metrics = EntryMetrics(entry)
        for position, (index, example) in enumerate(zip(indices, examples)):
            try:
                bound = entry.item_arguments(index, example)
            except Exception as error:
                raise wrap(error, 'cannot take the item_kwargs of {items}',
                           entry=name, items=[position],
                           indices=[index]) from error
            try:
                self.metrics.add_item(bound)
            except Exception as error:
                raise wrap(error, 'cannot find its groups in {items}',
                           entry=name, items=[position],
                           indices=[index]) from error
            self.item_kwargs.append(bound)
        self.first_limits = None
        self.first = None
        self.previous = None
        self.last = None  # (epoch, iteration, session) of self.previous

    def molecules(self):
        """The probe items' molecules when the entry draws molecules (every
        item has a ``smiles`` or ``mol`` visualizer argument), in the atom
        order of the maps; None for other entries.

        Raises:
            ValueError: If only some items have a molecule or a SMILES does
                not parse.
        """
        mols = []
        for item, kwargs in enumerate(self.item_kwargs):
            try:
                mols.append(molecule_of(kwargs))
            except (TypeError, ValueError) as error:
                raise ValueError('entry {!r}, probe item {}: {}'.format(
                    self.name, item, error))
        missing = [i for i, mol in enumerate(mols) if mol is None]
        if len(missing) == len(mols):
            return None
        if missing:
            raise ValueError("entry {!r}: probe items {} have no 'smiles' or "
                             "'mol', the others have".format(self.name,
                                                             missing))
        return mols

    # -- one report -------------------------------------------------------------

    def measure(self, saliency, data, converter, *, items=None):
        """Measures the entry's metrics on the maps of a new report (before
        :meth:`advance` takes them); ``items`` are the probe positions of
        the rows when they are not the whole probe. Returns ``(values,
        arrays)`` (see :meth:`EntryMetrics.measure
        <saliency_ext.report.quality.EntryMetrics.measure>`)."""
        return self.metrics.measure(
            saliency, data, converter, items=items,
            first=self.first if items is None else None)

    def advance(self, saliency, epoch, iteration, session):
        """Takes the maps of a new report; returns how far they moved since
        the previous report (mean rank correlation; None when there is no
        comparable previous report)."""
        moved = None
        if self.previous is not None and \
                self.previous.shape == saliency.shape:
            moved = mean_rank_correlation(self.previous, saliency)
        if self.entry.scale == 'first' and self.first_limits is None:
            self.first_limits = self.entry.limits(saliency)
        if self.first is None:
            self.first = saliency
        self.previous = saliency
        self.last = (int(epoch), int(iteration), int(session))
        return moved

    def limits(self, saliency):
        """The per-map ``(vmin, vmax)`` to draw ``saliency`` with, or None
        for the visualizer's own per-map scale."""
        scale = self.entry.scale
        if scale == 'first':
            return self.entry.limits(saliency) if self.first_limits is None \
                else self.first_limits
        if scale is not None:
            return numpy.array([scale] * len(self.entry.maps(saliency)))
        return None

    def shared_limits(self, saliencies):
        """One ``(vmin, vmax)`` per map for several reports' maps drawn
        side by side: the entry's fixed scale, else one that shows every
        report's maps whole."""
        if isinstance(self.entry.scale, tuple):
            return self.limits(saliencies[0])
        per_report = [[m for _, m in self.entry.maps(s)] for s in saliencies]
        return numpy.array([limits_of(numpy.stack(maps))
                            for maps in zip(*per_report)])

    def render(self, saliency, limits=None, items=None, *,
               placeholders=False, std=None):
        """Draws the maps of ``saliency`` with the series' limits (or the
        ``limits`` given); ``items`` are the probe positions of its rows
        when it holds only some; ``std``, the maps' spread over the samples
        (same rows), is drawn beside them when the entry shows it.

        A map that cannot be drawn raises, or, with ``placeholders``, is
        drawn as a placeholder that names the item and the error, the size
        of the other pictures. Returns a :class:`Rendering`.
        """
        items = list(range(len(saliency))) if items is None else list(items)
        bound = [self.item_kwargs[i] for i in items]
        if limits is None:
            limits = self.limits(saliency)
        failures, errors = [], []

        def failed(position, name, error):
            item = items[position] if position < len(items) else None
            errors.append(error)
            failures.append(dict(
                picture=name, item=item, error=describe(error),
                index=None if item is None else self.indices[item]))
            return None

        pictures = self.entry.render(saliency, bound, limits, std=std,
                                     on_error=failed if placeholders else None)
        drawn = [rgb for _, rgb in pictures if rgb is not None]
        size = (drawn[0].shape[1], drawn[0].shape[0]) if drawn else \
            PLACEHOLDER_SIZE
        texts = {f['picture']: _placeholder_text(f) for f in failures}
        pictures = [(name, placeholder(texts[name], size) if rgb is None
                     else rgb) for name, rgb in pictures]
        return Rendering(pictures, failures, errors)

    # -- across runs ----------------------------------------------------------

    def state(self):
        """What a snapshot keeps, JSON-serialisable."""
        return dict(first_limits=None if self.first_limits is None else
                    self.first_limits.tolist(), last=self.last)

    def load_state(self, state):
        """Takes what :meth:`state` returned; the maps are read back by
        :meth:`resume`."""
        limits = state.get('first_limits')
        self.first_limits = None if limits is None else numpy.array(limits)
        self.last = None if state.get('last') is None else \
            tuple(state['last'])
        self.previous = None

    @property
    def history_shared(self):
        """Whether the history's frames share one colour scale: not when a
        scaler function scales each map."""
        from saliency_ext.visualizers import Scaler
        return self.entry.scale is not None or isinstance(
            self.entry.own_scaler, Scaler)

    def history_maps(self, saliency):
        """What a history frame of ``saliency`` holds, the mean first:
        ``(name, map, visualize arguments)`` triples."""
        maps = [(name, m, kwargs) for (name, m), kwargs in zip(
            self.entry.maps(saliency), self.item_kwargs + [{}])]
        return maps[-1:] + maps[:-1] if self.entry.include_mean else maps

    def resume(self, layout, *, until=None, step='epoch'):
        """Continues the series from the reports in ``layout``.

        The previous maps become those of the report named by the loaded
        state (a resumed trainer: the last report before its snapshot), or,
        with ``until`` (an ``(epoch, iteration)`` step: the replay), those
        of the latest report made before that step, in memory or on disk.
        Without loaded first limits, ``scale='first'`` takes them from the
        series' first report on disk, and so does ``corr_to_init`` its
        first maps. An empty history takes the reports made before, so
        that it goes on showing the whole run.

        Args:
            layout (ReportLayout): The report folder.
            until (tuple): The step about to be reported, or None.
            step (str): What labels the history's frames, ``'epoch'`` or
                ``'iteration'``.
        """
        records = layout.latest_records(self.name)
        if self.previous is None and self.last is not None:
            self._load_exact(layout)
        if until is not None:
            self._load_latest_before(layout, records, until)
        if records and self.first is None:
            self.first = layout.read_arrays(records[0])['saliency']
        if self.entry.scale == 'first' and self.first_limits is None and \
                self.first is not None:
            self.first_limits = self.entry.limits(self.first)
        self._resume_history(layout, records, until, step)

    def _resume_history(self, layout, records, until, step):
        if self.history.count:
            return
        if until is not None:
            earlier = [r for r in records
                       if training_order(r) < training_order(until)]
        elif self.last is not None:
            earlier = [r for r in records if training_order(r) <=
                       training_order(self.last[:2])]
        else:
            earlier = []
        for record in earlier:  # drawn at the next report
            saliency = layout.read_arrays(record)['saliency']
            self.history.add('{} {}'.format(step, record[step]),
                             self.history_maps(saliency), None,
                             shared=self.history_shared)

    def _load_exact(self, layout):
        epoch, iteration, session = self.last
        for record in layout.records(self.name, session=session):
            if (record['epoch'], record['iteration']) == (epoch, iteration):
                arrays = layout.read_arrays(record)
                if arrays is not None:
                    self.previous = arrays['saliency']

    def _load_latest_before(self, layout, records, until):
        earlier = [r for r in records
                   if training_order(r) < training_order(until)]
        mine = self.last is not None and self.previous is not None and \
            training_order(self.last[:2]) < training_order(until)
        if earlier and not (mine and training_order(earlier[-1]) <=
                            training_order(self.last[:2])):
            record = earlier[-1]
            self.previous = layout.read_arrays(record)['saliency']
            self.last = (record['epoch'], record['iteration'],
                         record['session'])
        elif not mine:
            self.previous = self.last = None


def _placeholder_text(failure):
    """What a placeholder says: which picture, and why it is missing."""
    if failure['item'] is None:
        which = 'The {} picture'.format(failure['picture'])
    else:
        which = 'Probe item {} (dataset index {})'.format(
            failure['item'], failure['index'])
    return [which + ' could not be drawn:', failure['error']]
