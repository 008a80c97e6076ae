"""The shortcut example: the watermark's mass passes 0.3 before the training
accuracy passes 95 %, stays below 0.05 without the watermark, and the
trigger saves a snapshot at the crossing."""
import contextlib
import io
import json
import os

import numpy
from tensorboard.backend.event_processing.event_accumulator import \
    EventAccumulator

from saliency_ext import ReportLayout
from saliency_ext.sinks.tensorboard import scalar_tag
from tests.examples.loading import load_example

EPOCHS = 5


def test_the_shortcut_is_caught_before_accuracy_looks_good(tmp_path):
    shortcut = load_example('shortcut')
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        found = shortcut.main(['--epochs', str(EPOCHS), '--out',
                               str(tmp_path)])
    assert found['mass_first'] and found['clean_below_limit'] and \
        found['trigger_at_crossing']
    assert 'findings written to' in printed.getvalue()
    with open(tmp_path / 'findings.json') as f:
        assert json.load(f)['example'] == 'shortcut'

    # the claims, read again from the runs' own files
    marked = ReportLayout(tmp_path / 'watermark' / 'saliency')
    mass = [(r['iteration'], r['metrics']['mass/watermark'])
            for r in marked.records('integrated_gradients')]
    crossing = next(i for i, m in mass if m > 0.3)
    with open(tmp_path / 'watermark' / 'log') as f:
        accuracy = [(row['iteration'], row['main/accuracy'])
                    for row in json.load(f)]
    assert crossing <= next(i for i, a in accuracy if a > 0.95)
    snapshot = tmp_path / 'watermark' / 'shortcut_iter_{}'.format(crossing)
    with numpy.load(snapshot) as saved:  # the trainer at the crossing
        assert int(saved['updater/iteration']) == crossing
    clean = ReportLayout(tmp_path / 'clean' / 'saliency')
    clean_mass = [r['metrics']['mass/watermark']
                  for r in clean.records('integrated_gradients')]
    assert len(clean_mass) == len(mass) and max(clean_mass) < 0.05
    assert not [n for n in os.listdir(tmp_path / 'clean')
                if n.startswith('shortcut_iter_')]

    events = EventAccumulator(str(tmp_path / 'watermark' / 'tensorboard'),
                              size_guidance={'scalars': 0})
    events.Reload()
    curve = events.Scalars(scalar_tag('integrated_gradients',
                                      'mass/watermark'))
    assert [(e.step, round(e.value, 5)) for e in curve] == \
        [(i, round(m, 5)) for i, m in mass]
