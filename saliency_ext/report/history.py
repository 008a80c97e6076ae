"""The history of one entry: every report so far in one picture, so that the
newest TensorBoard step shows how the explanation evolved even when
TensorBoard keeps only a sample of the steps."""
import dataclasses
import math

import numpy

from saliency_ext.visualizers import compose

#: Default number of frames (reports) a history shows; past it the reports
#: are thinned evenly, always keeping the first and the newest.
FRAMES = 12
#: Default number of maps in each frame: the mean first (when the entry
#: draws it), then the first probe items.
ITEMS = 4
CELL = (160, 160)
LABEL_WIDTH = 110


#: The round values a history's scale takes (times a power of ten): the colours
#: use at least 80 % of the scale.
ROUND = (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10)
#: How much the scale grows at least when it must: the kept frames are redrawn
#: then, so rarely.
GROWTH = 1.5


def round_up(value):
    """The smallest of :data:`ROUND` x 10^k at least ``value`` (> 0)."""
    unit = 10.0 ** math.floor(math.log10(value))
    return next(round(m * unit, 12) for m in ROUND if m * unit >= value * (1 - 1e-9))


@dataclasses.dataclass
class Frame(object):
    number: int  # the report's position in the run, from 0
    label: str
    maps: list  # (name, map, ...) tuples
    row: numpy.ndarray = None  # drawn on the current scale, or None


class History(object):
    """The frames of an entry's history, kept and drawn incrementally.

    Report ``n`` (counting from 0) stays while ``n`` is a multiple of the
    stride, which doubles whenever more than ``frames`` frames would be
    shown; the newest report is always shown too. So at most ``frames``
    frames are kept, evenly spread, the first always among them, and a
    report draws only its own frame, unless the colour scale must grow:
    then the kept frames are redrawn (at most ``frames``, and rarely: the
    scale grows to a round value at least :data:`GROWTH` times the old one).

    Args:
        frames (int): The most frames shown (at least 2).
        items (int): The maps per frame.
    """

    def __init__(self, frames=FRAMES, items=ITEMS):
        self.frames = frames
        self.items = items
        self.count = 0
        self.stride = 1
        self.kept = []
        self.limits = None

    def add(self, label, maps, draw, *, shared=True):
        """Adds a report's maps and draws what is new.

        Args:
            label (str): The frame's label ("epoch 12").
            maps (list): Tuples ``(name, map, ...)`` of this report, the
                map second; the first ``items`` are kept.
            draw (callable): ``draw(maps, limits)`` returns the pictures of
                ``maps`` drawn on the scale ``limits`` (None: each on the
                visualizer's own scale); None leaves the new rows to the
                next call.
            shared (bool): Whether the frames share one colour scale.
        """
        frame = Frame(self.count, label, list(maps[:self.items]))
        self.count += 1
        if shared:
            self._grow(frame.maps)
        self.kept = [f for f in self.kept if f.number % self.stride == 0]
        self.kept.append(frame)
        while len(self.kept) > self.frames:
            self.stride *= 2
            self.kept = [f for f in self.kept
                         if f.number % self.stride == 0 or f is frame]
        for kept in self.kept if draw is not None else ():
            if kept.row is None:
                kept.row = compose.side_by_side(
                    [compose.text_band([kept.label], LABEL_WIDTH)] +
                    [compose.fit(p, *CELL)
                     for p in draw(kept.maps, self.limits)])

    def _grow(self, maps):
        values = numpy.concatenate([numpy.ravel(m[1]) for m in maps])
        values = values[numpy.isfinite(values)]
        signed = bool(values.size and values.min() < 0)
        values = numpy.abs(values)
        top = float(values.max()) if values.size and values.max() > 0 else 1.
        if self.limits is not None:
            old_signed, old_top = self.limits[0] < 0, self.limits[1]
            if top <= old_top and (old_signed or not signed):
                return
            top = max(top, GROWTH * old_top)
            signed = signed or old_signed
        top = round_up(top)
        self.limits = (-top, top) if signed else (0., top)
        for frame in self.kept:
            frame.row = None

    def picture(self, caption, names, signed):
        """The history as one picture: the ``caption`` lines, a row per
        frame (oldest on top, labelled) and the colour legend.

        Args:
            caption (list of str): What the picture shows.
            names (list of str): The maps' names (the columns).
            signed (bool): Whether the maps are signed, for the legend when
                the frames do not share a scale.
        """
        body = compose.stack([f.row for f in self.kept], gap=compose.PAD,
                             align='left')
        shown = len(self.kept)
        caption = list(caption) + ['{} report{} so far{}; columns: {}'.format(
            self.count, 's' * (self.count != 1),
            '' if shown == self.count else ', {} shown, evenly spread'
            .format(shown), ', '.join(names[:self.items]))]
        signed = signed if self.limits is None else self.limits[0] < 0
        return compose.framed(body, caption, compose.legend(
            max(body.shape[1], 320), self.limits, signed,
            note='one scale for every frame' if self.limits else None))
