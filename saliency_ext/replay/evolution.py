"""Evolution strips: each probe item's maps over a run's reports, side by
side on one colour scale, so that how an explanation changed reads at a
glance (``<report folder>/<entry>/evolution/item_NN.png``)."""
import numpy

from saliency_ext.sinks.storage import write_png
from saliency_ext.visualizers import compose

GAP = compose.PAD


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
            frames = [[compose.stack([compose.text_band(
                [_frame_label(record, report.step)], rgb.shape[1],
                align='center'), rgb]) for _, rgb in series.render(
                    s, limits, placeholders=True).pictures]
                for record, s in zip(records, saliencies)]
            for k, ((picture, item), strip) in enumerate(zip(
                    series.entry.maps(saliencies[0]), zip(*frames))):
                scale, signed = series.entry.scale_of(item, limits[k])
                body = compose.side_by_side(strip, gap=GAP)
                path = layout.evolution_path(name, picture)
                write_png(path, compose.framed(body, [
                    '{} \u00b7 {} across {} reports'.format(
                        name, picture, len(records))], compose.legend(
                            body.shape[1], scale, signed,
                            note='one scale for every frame')))
                paths.append(path)
        except Exception as error:
            problems.append('entry {!r}: could not draw its evolution strip '
                            '({}: {})'.format(name, type(error).__name__,
                                              error))
    return paths, problems
