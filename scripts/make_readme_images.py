"""Regenerates the README's pictures in ``docs/images/`` from example runs.

Each RUN is the output folder of one of ``examples/*/train_*.py`` (its
``saliency/findings.json`` says which); the pictures are made from the last
report's own files:

- ``iris_importance.png``: the random forest's feature importances next to the
  mean bars (over all 150 flowers) of VanillaGrad, SmoothGrad and Integrated
  Gradients;
- ``digits_methods.png``: three held-out digits (columns) under the six
  methods (rows);
- ``esol_molecules.png``: two held-out molecules with a hydroxyl group and a
  long alkyl chain (the longest chain of the probe and the shortest), under
  Integrated Gradients and BayesGrad;
- ``shortcut_curves.png``: the watermark's mass beside the training accuracy,
  for the watermarked run and the clean control, with the thresholds and
  the report where the trigger fired; ``shortcut_maps.png``: six probe
  digits' Integrated Gradients at the last report of both runs.

The report's own pictures are used as they are, each with its caption and
colour legend.

Every picture is written as a palette PNG of at most 100 KB.

Usage::

    python scripts/make_readme_images.py [RUN ...] [--dest docs/images]

    (RUN defaults to result/iris result/digits result/esol result/shortcut,
    the folders of ``python examples/run_all.py``)
"""
import argparse
import io
import json
import os

import numpy
from PIL import Image, ImageDraw

from saliency_ext import TableVisualizer
from saliency_ext.sinks.layout import ReportLayout
from saliency_ext.visualizers import compose
from saliency_ext.visualizers.text import default_font

MAX_BYTES = 100 * 1000
FONT_SIZE = 14
GAP = 6
WHITE = (255, 255, 255)


def read_run(run):
    """The findings of an example run (in its report folder, or at its top
    for an example of several runs) and its report folder."""
    path = os.path.join(run, 'saliency', 'findings.json')
    if not os.path.isfile(path):
        path = os.path.join(run, 'findings.json')
    with open(path) as f:
        findings = json.load(f)
    return findings, ReportLayout(os.path.join(run, 'saliency'))


def last_picture(layout, entry, name):
    """The picture ``name`` (``item_NN`` or ``mean``) of the last report of
    ``entry``."""
    record = [r for r in layout.records(entry) if r.get('error') is None][-1]
    for path in record['files']:
        if os.path.basename(path) == name + '.png':
            return Image.open(layout.path(path)).convert('RGB')
    raise FileNotFoundError('no {}.png in the last report of {!r} in {}'
                            .format(name, entry, layout.root))


def font():
    return default_font(FONT_SIZE)


def titled(picture, title):
    """``picture`` with ``title`` above it."""
    height = FONT_SIZE + 2 * GAP
    out = Image.new('RGB', (picture.width, picture.height + height), WHITE)
    ImageDraw.Draw(out).text((picture.width // 2, height // 2), title,
                             fill=(0, 0, 0), font=font(), anchor='mm')
    out.paste(picture, (0, height))
    return out


def grid(rows, row_labels=None, columns=None):
    """Pastes a list of rows of pictures into one, with a label left of
    each row; ``columns`` wraps a single row of pictures."""
    if columns:
        flat = rows[0]
        rows = [flat[i:i + columns] for i in range(0, len(flat), columns)]
    label_width = 0
    if row_labels:
        label_width = int(max(font().getlength(t) for t in row_labels)) + \
            2 * GAP
    cell_w = max(p.width for row in rows for p in row)
    cell_h = max(p.height for row in rows for p in row)
    width = label_width + len(max(rows, key=len)) * (cell_w + GAP) + GAP
    height = len(rows) * (cell_h + GAP) + GAP
    out = Image.new('RGB', (width, height), WHITE)
    draw = ImageDraw.Draw(out)
    for r, row in enumerate(rows):
        y = GAP + r * (cell_h + GAP)
        if row_labels:
            draw.text((label_width - GAP, y + cell_h // 2), row_labels[r],
                      fill=(0, 0, 0), font=font(), anchor='rm')
        for c, picture in enumerate(row):
            out.paste(picture, (label_width + GAP + c * (cell_w + GAP), y))
    return out


def save_small(picture, path):
    """Saves ``picture`` as an optimised palette PNG under ``MAX_BYTES``."""
    # Median cut leaves a few pixels of smooth maps far off their colour;
    # maximum coverage and octree keep every pixel within a few levels.
    for method, colors in ((Image.Quantize.MAXCOVERAGE, 256),
                           (Image.Quantize.FASTOCTREE, 256),
                           (Image.Quantize.FASTOCTREE, 64)):
        data = io.BytesIO()
        picture.quantize(colors=colors, method=method,
                         dither=Image.Dither.NONE).save(data, 'PNG',
                                                        optimize=True)
        if data.tell() <= MAX_BYTES:
            break
    else:
        raise ValueError('{} stays over {} bytes'.format(path, MAX_BYTES))
    with open(path, 'wb') as f:
        f.write(data.getvalue())
    print('{} ({:.0f} KB, {}x{})'.format(path, data.tell() / 1000,
                                         *picture.size))


def iris(findings, layout, dest):
    names = findings['features']
    forest = numpy.array([findings['random_forest'][n] for n in names])
    sample = last_picture(layout, next(iter(findings['methods'])), 'mean')
    bars = TableVisualizer(width=sample.width, bar_height=22).visualize(
        forest / forest.sum(), feature_names=names, scaler=None)
    panels = [Image.fromarray(compose.framed(bars, [
        'random forest', 'feature importances (share of the total)']))]
    for entry, method in findings['methods'].items():
        panels.append(titled(last_picture(layout, entry, 'mean'),
                             method['label']))
    save_small(grid([panels], columns=2),
               os.path.join(dest, 'iris_importance.png'))


def digits(findings, layout, dest, n_items=3):
    rows, labels = [], []
    for entry, method in findings['methods'].items():
        labels.append(method['label'])
        rows.append([last_picture(layout, entry, 'item_{:02d}'.format(i))
                     for i in range(n_items)])
    save_small(grid(rows, labels), os.path.join(dest, 'digits_methods.png'))


def esol(findings, layout, dest):
    """The showcase molecules with the longest chain and the shortest."""
    showcase = findings['showcase']
    items = [showcase[0]['item'], showcase[-1]['item']]
    rows, labels = [], []
    for entry, method in findings['methods'].items():
        labels.append(method['label'].split(' (')[0])
        rows.append([last_picture(layout, entry, 'item_{:02d}'.format(i))
                     for i in items])
    save_small(grid(rows, labels), os.path.join(dest, 'esol_molecules.png'))


def figure_picture(figure):
    """A matplotlib figure as a PIL picture."""
    data = io.BytesIO()
    figure.savefig(data, format='png', dpi=100)
    return Image.open(data).convert('RGB')


def shortcut(findings, layout, dest, n_items=6):
    from matplotlib.figure import Figure  # no pyplot: no display needed
    runs = findings['runs']
    styles = {'watermark': dict(color='tab:red', label='watermark in '
                                'training'),
              'clean': dict(color='tab:blue', linestyle='--',
                            label='clean control')}
    figure = Figure(figsize=(10, 3.6))
    mass_axes, accuracy_axes = figure.subplots(1, 2)
    for run, style in styles.items():
        mass_axes.plot(*zip(*runs[run]['mass']), marker='.', **style)
        accuracy_axes.plot(*zip(*runs[run]['accuracy']), **style)
    crossing = runs['watermark']['snapshot_iterations'][:1]
    for axes, key, title in (
            (mass_axes, 'mass_threshold', 'mass/watermark: share of '
             '|Integrated Gradients| on the 2 x 2 corner'),
            (accuracy_axes, 'accuracy_threshold', 'training accuracy '
             '(half the labels random)')):
        axes.axhline(findings[key], color='grey', linewidth=0.8)
        for iteration in crossing:
            axes.axvline(iteration, color='tab:red', linewidth=0.8,
                         linestyle=':')
        axes.set_title(title, fontsize=10)
        axes.set_xlabel('iteration')
        axes.set_ylim(0, 1)
        axes.grid(alpha=0.3)
    mass_axes.legend(loc='upper left', fontsize=9)
    if crossing:
        mass_axes.annotate('ExplanationShiftTrigger: snapshot',
                           (crossing[0], findings['mass_threshold']),
                           xytext=(8, 40), textcoords='offset points',
                           fontsize=9, color='tab:red',
                           arrowprops=dict(arrowstyle='->', color='tab:red'))
    figure.tight_layout()
    save_small(figure_picture(figure),
               os.path.join(dest, 'shortcut_curves.png'))
    root = os.path.dirname(layout.root)
    rows, labels = [], []
    for run, style in styles.items():
        run_layout = ReportLayout(os.path.join(root, run, 'saliency'))
        labels.append(style['label'])
        rows.append([last_picture(run_layout, 'integrated_gradients',
                                  'item_{:02d}'.format(i))
                     for i in range(n_items)])
    save_small(grid(rows, labels), os.path.join(dest, 'shortcut_maps.png'))


MAKERS = {'iris': iris, 'digits': digits, 'esol': esol, 'shortcut': shortcut}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('runs', nargs='*', metavar='RUN',
                        default=[os.path.join('result', n) for n in MAKERS],
                        help='output folders of example runs')
    parser.add_argument('--dest', default=os.path.join('docs', 'images'),
                        help='where to write the pictures (default: '
                        '%(default)s)')
    args = parser.parse_args(argv)
    os.makedirs(args.dest, exist_ok=True)
    for run in args.runs:
        findings, layout = read_run(run)
        MAKERS[findings['example']](findings, layout, args.dest)


if __name__ == '__main__':
    main()
