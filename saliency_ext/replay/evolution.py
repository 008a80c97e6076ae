"""Evolution strips: each probe item's maps over a run's reports, side by
side on one colour scale, so that how an explanation changed reads at a
glance (``<report folder>/<entry>/evolution/item_NN.png``)."""
import numpy

from saliency_ext.optional import require
from saliency_ext.sinks.storage import write_png
from saliency_ext.visualizers.base import default_font

LABEL_HEIGHT = 20
GAP = 6


def _label(rgb, text):
    """The picture with ``text`` in a white band above it."""
    image_module = require('PIL.Image', 'evolution strips')
    image_draw = require('PIL.ImageDraw', 'evolution strips')
    height, width = rgb.shape[:2]
    canvas = image_module.new('RGB', (width, height + LABEL_HEIGHT), 'white')
    canvas.paste(image_module.fromarray(numpy.ascontiguousarray(rgb)),
                 (0, LABEL_HEIGHT))
    draw = image_draw.Draw(canvas)
    font = default_font(14)
    left, _, right, _ = draw.textbbox((0, 0), text, font=font)
    draw.text((max(0, (width - (right - left)) // 2), 2), text, fill='black',
              font=font)
    return numpy.asarray(canvas)


def side_by_side(pictures, gap=GAP):
    """Joins RGB pictures left to right, on white, tops aligned."""
    height = max(p.shape[0] for p in pictures)
    width = sum(p.shape[1] for p in pictures) + gap * (len(pictures) - 1)
    strip = numpy.full((height, width, 3), 255, numpy.uint8)
    left = 0
    for picture in pictures:
        strip[:picture.shape[0], left:left + picture.shape[1]] = picture
        left += picture.shape[1] + gap
    return strip


def _spread(records, max_frames):
    if not max_frames or len(records) <= max_frames:
        return records
    keep = numpy.unique(numpy.linspace(0, len(records) - 1, max_frames)
                        .round().astype(int))
    return [records[i] for i in keep]


def _frame_label(record, step):
    if step == 'iteration':
        return 'iteration {}'.format(record['iteration'])
    return 'epoch {}'.format(record['epoch'])


def write_evolution(report, *, max_frames=None):
    """Draws, for each entry and probe item of a set-up ``report``, the
    item's maps over the reports in its folder, side by side, on one shared
    colour scale. Written to ``<entry>/evolution/item_NN.png`` (and
    ``mean.png``).

    Args:
        report (SaliencyReport): A report that has been set up.
        max_frames (int): At most this many reports per strip, evenly spread.

    Returns:
        tuple: ``(paths, problems)``: the files written and a message for
        each entry that could not be drawn.
    """
    layout = report.layout
    paths, problems = [], []
    for name, series in report.series.items():
        records = _spread(layout.latest_records(name), max_frames)
        saliencies = [layout.read_arrays(r)['saliency'] for r in records]
        shapes = {s.shape for s in saliencies}
        if len(shapes) > 1:
            problems.append('entry {!r}: no evolution strip, its maps have '
                            'different shapes {}'.format(name, sorted(shapes)))
            continue
        if not saliencies:
            continue
        try:
            limits = series.shared_limits(saliencies)
            frames = [[_label(rgb, _frame_label(record, report.step))
                       for _, rgb in series.render(
                           s, limits, placeholders=True).pictures]
                      for record, s in zip(records, saliencies)]
            for (picture, _), strip in zip(series.entry.maps(saliencies[0]),
                                           zip(*frames)):
                path = layout.evolution_path(name, picture)
                write_png(path, side_by_side(strip))
                paths.append(path)
        except Exception as error:
            problems.append('entry {!r}: could not draw its evolution strip '
                            '({}: {})'.format(name, type(error).__name__,
                                              error))
    return paths, problems
