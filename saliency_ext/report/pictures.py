"""What one report of an entry draws: a picture per map (each probe item,
and the mean), an overview of all of them and the history of every report
so far, each captioned with the entry, the step and the item, and carrying
its colour legend."""
import numpy

from saliency_ext.report import history as history_module
from saliency_ext.report.entry import limits_of
from saliency_ext.report.errors import describe
from saliency_ext.report.placeholder import placeholder
from saliency_ext.sinks.base import HISTORY, OVERVIEW
from saliency_ext.visualizers import compose

MIN_WIDTH = 360  # pixels: room for the caption and the legend
MIN_TILE = 96  # pixels: the least shorter side of a map's picture
OVERVIEW_CELL = (220, 220)
LABEL_WIDTH = 170  # the least width of a tile, for its label
OVERVIEW_WIDTH = 1600


def _number(value):
    value = numpy.asarray(value)
    if value.size != 1:
        return None
    value = value.reshape(())[()]
    return str(value) if numpy.issubdtype(value.dtype, numpy.integer) else \
        compose.format_value(float(value))


def item_texts(indices, outputs):
    """One line per probe item: its position in the probe, its dataset
    index, its label and the value its saliency explains (from
    ``calculator.explain_outputs``; None leaves the last two out)."""
    outputs = outputs or {}
    labels, values, classes = (outputs.get(k) for k in
                               ('labels', 'values', 'classes'))
    width = max(2, len(str(len(indices) - 1)))
    texts = []
    for i, index in enumerate(indices):
        parts = ['item {:0{}d}'.format(i, width), 'index {}'.format(index)]
        label = None if labels is None else _number(labels[i])
        if label is not None:
            parts.append('label ' + label)
        if values is not None and classes is not None:
            parts.append('class {} score {}'.format(
                int(classes[i]), compose.format_value(float(values[i]))))
        elif values is not None:
            parts.append('output ' + compose.format_value(float(values[i])))
        texts.append(' \u00b7 '.join(parts))
    return texts


def shared_limits(series, maps, limits):
    """One colour scale for every map of a report, for its overview: the
    entry's fixed scale, the widest of its first report's scales
    (``scale='first'``), or one that shows every map whole; None when a
    scaler function scales each map."""
    from saliency_ext.visualizers import Scaler
    scale = series.entry.scale
    if isinstance(scale, tuple):
        return scale
    if scale == 'first' and limits is not None:
        return float(limits[:, 0].min()), float(limits[:, 1].max())
    if not isinstance(series.entry.own_scaler, Scaler):
        return None
    return limits_of(numpy.stack([m for _, m in maps]))


def _placeholder(shape):
    """What ``ReportEntry.draw`` puts for a map that cannot be drawn: a
    placeholder naming the error, of the size ``shape`` of the others (the
    map's own picture names its item and is recorded)."""
    return lambda position, error: placeholder(
        ['could not draw', describe(error)], (shape[1], shape[0]))


def _two_lines(text):
    """An item's line split after its position and index, for a tile."""
    parts = text.split(' \u00b7 ')
    return [' \u00b7 '.join(parts[:2]), ' \u00b7 '.join(parts[2:])]


class ReportPictures(object):
    """Draws the pictures of one report of one entry.

    Args:
        series (EntrySeries): The entry's series (visualizer, probe
            arguments, history).
        stamp (str): The report's step in words ("epoch 3").
        texts (list of str): One line per probe item (:func:`item_texts`).
    """

    def __init__(self, series, stamp, texts):
        self.series = series
        self.entry = series.entry
        self.stamp = stamp
        self.texts = list(texts)

    def draw(self, saliency, limits=None, *, std=None):
        """Returns the pictures, name -> RGB (a picture per map, ``item_NN``
        and ``mean``, then ``overview`` and ``history``), and the
        :class:`~saliency_ext.report.series.Rendering` of the maps: a map
        that cannot be drawn is a placeholder everywhere, named in its
        failures. With ``std`` (the maps' spread) and an entry that shows
        it, each item's picture holds its spread beside its map; the
        overview and the history show the maps alone."""
        maps = self.entry.maps(saliency)
        rendering = self.series.render(saliency, limits=limits,
                                       placeholders=True, std=std)
        panels = [compose.enlarge(rgb, MIN_TILE)
                  for _, rgb in rendering.pictures]
        texts = self.texts + [self.entry.mean_title(saliency)]
        header = '{} \u00b7 {}'.format(self.series.name, self.stamp)
        pictures = {}
        spread = std is not None and self.entry.show_std
        for i, ((name, item), panel) in enumerate(zip(maps, panels)):
            scale, signed = self.entry.scale_of(
                item, None if limits is None else limits[i])
            note = self.entry.spread_note if spread and i < len(std) \
                else None
            pictures[name] = compose.framed(
                panel, [header, texts[i]], compose.legend(
                    max(panel.shape[1], MIN_WIDTH), scale, signed,
                    note=note))
        shared = shared_limits(self.series, maps, limits)
        pictures[OVERVIEW] = self._overview(maps, panels, texts, limits,
                                            shared, header)
        pictures[HISTORY] = self._history(saliency, maps, panels[0].shape)
        return pictures, rendering

    def _signed(self, maps):
        return any(self.entry.scale_of(m)[1] for _, m in maps)

    def _mean_first(self, sequence):
        if not self.entry.include_mean:
            return list(sequence)
        return [sequence[-1]] + list(sequence[:-1])

    def _overview(self, maps, panels, texts, limits, shared, header):
        cell = tuple(min(c, max(s, 96)) for c, s in zip(
            OVERVIEW_CELL, (max(p.shape[1] for p in panels),
                            max(p.shape[0] for p in panels))))
        cell = (max(cell[0], LABEL_WIDTH), cell[1])
        if shared is not None and not (limits is not None and numpy.all(
                numpy.asarray(limits) == numpy.asarray(shared))):
            panels = [compose.enlarge(rgb, MIN_TILE) for rgb in self.entry.draw(
                [m for _, m in maps], self.series.item_kwargs,
                [shared] * len(maps), on_error=_placeholder(cell[::-1]),
                cell=cell)]
        panels, texts = self._mean_first(panels), self._mean_first(texts)
        columns = compose.grid_shape(len(panels), cell, OVERVIEW_WIDTH)
        body = compose.tiled(panels, [_two_lines(t) for t in texts],
                             columns=columns, cell=cell)
        signed = shared[0] < 0 if shared is not None else \
            self._signed(maps)
        caption = [header, 'every probe item{}'.format(
            ', the mean first' if self.entry.include_mean else '')]
        return compose.framed(body, caption, compose.legend(
            max(body.shape[1], MIN_WIDTH), shared, signed,
            note='one scale for every tile' if shared else None))

    def _history(self, saliency, maps, shape):
        history = self.series.history
        ordered = self.series.history_maps(saliency)

        def draw(chosen, scale):
            return [compose.enlarge(rgb, MIN_TILE) for rgb in self.entry.draw(
                [m for _, m, _ in chosen], [k for _, _, k in chosen],
                None if scale is None else [scale] * len(chosen),
                on_error=_placeholder(shape), cell=history_module.CELL)]
        history.add(self.stamp, ordered, draw,
                    shared=self.series.history_shared)
        return history.picture(
            ['{} \u00b7 history up to {}'.format(self.series.name,
                                                 self.stamp)],
            [name for name, _, _ in ordered], self._signed(maps))
